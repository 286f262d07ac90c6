"""A small async Kubernetes client for the operator's own writes and reads.

kopf watches; this client applies children (server-side apply, field manager `landlord`),
patches status, adds and removes finalizers and posts Events. It logs in with the same
credentials kopf found (`kopf.ConnectionInfo`) and counts reads and writes, which tests and
benchmarks read (a reconcile with nothing to do must make zero writes).
"""

from __future__ import annotations

import base64
import builtins
import json
import ssl
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import yaml

from .kinds import KINDS, Kind, kind_of
from .redaction import redact

FIELD_MANAGER = "landlord"
__all__ = ["FIELD_MANAGER", "KINDS", "Kind", "KubeClient", "KubeError", "kind_of"]


def login_default(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a pod: its service account; elsewhere: the kubeconfig ($KUBECONFIG or ~/.kube/config).
    None when neither is there. `kwargs`: kopf's login arguments (logger, settings)."""
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    return info


WATCH_SILENCE = 30  # seconds past a watch's own timeout with nothing read: the connection is dead


class Listed:
    """What a paginated list reports besides its objects: the resourceVersion it was served at."""

    resource_version: str = ""


def _decoded(text: str) -> Any:
    """An answer's body: its JSON (a Status, an object), or the text when it is not JSON."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


class KubeError(Exception):
    """An error answered by the API server (a Status), with its code and reason."""

    def __init__(self, status: int, body: Any, what: str) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {"message": str(body)}
        self.reason = self.body.get("reason", "")
        super().__init__(redact(f"{what}: {status} {self.reason}: {self.body.get('message', '')}"))


class KubeClient:
    def __init__(self, info: kopf.ConnectionInfo, user_agent: str = "landlord") -> None:
        self.server = info.server.rstrip("/")
        self.counts: Counter[str] = Counter()
        self._user_agent = user_agent
        self._headers: dict[str, str] = {"User-Agent": user_agent, "Accept": "application/json"}
        if info.token:
            self._headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
        elif info.username and info.password:
            basic = base64.b64encode(f"{info.username}:{info.password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {basic}"
        self._ssl: ssl.SSLContext | bool = self._ssl_context(info)
        self._session: aiohttp.ClientSession | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def from_kubeconfig(cls, path: str | Path, user_agent: str = "landlord") -> KubeClient:
        """For tools and tests: reads a kubeconfig's current context (token or no auth)."""
        config = yaml.safe_load(Path(path).read_text())
        context_name = config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user: dict[str, Any] = next(
            (u["user"] for u in config.get("users", []) if u["name"] == context.get("user")), {}
        )
        ca_data = cluster.get("certificate-authority-data")
        info = kopf.ConnectionInfo(
            server=cluster["server"],
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
            ca_path=cluster.get("certificate-authority"),
            ca_data=base64.b64decode(ca_data) if ca_data else None,
            token=user.get("token"),
            certificate_path=user.get("client-certificate"),
            certificate_data=base64.b64decode(user["client-certificate-data"])
            if user.get("client-certificate-data")
            else None,
            private_key_path=user.get("client-key"),
            private_key_data=base64.b64decode(user["client-key-data"]) if user.get("client-key-data") else None,
            username=user.get("username"),
            password=user.get("password"),
        )
        return cls(info, user_agent)

    def _ssl_context(self, info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
        if not self.server.startswith("https"):
            return False
        context = ssl.create_default_context()
        if info.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if info.ca_path:
            context.load_verify_locations(cafile=info.ca_path)
        if info.ca_data:
            context.load_verify_locations(cadata=_pem(info.ca_data))
        cert_path, key_path = info.certificate_path, info.private_key_path
        if info.certificate_data or info.private_key_data:
            self._tmp = tempfile.TemporaryDirectory(prefix="landlord-")
            directory = Path(self._tmp.name)
            if info.certificate_data:
                cert_path = str(directory / "client.crt")
                Path(cert_path).write_text(_pem(info.certificate_data))
            if info.private_key_data:
                key_path = str(directory / "client.key")
                Path(key_path).write_text(_pem(info.private_key_data))
                Path(key_path).chmod(0o600)
        if cert_path:
            context.load_cert_chain(cert_path, key_path)
        return context

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        session = self._opened()
        self.counts["writes" if method in ("POST", "PUT", "PATCH", "DELETE") else "reads"] += 1
        self.counts[method] += 1
        data = None
        if body is not None:
            data = body if isinstance(body, str) else json.dumps(body)
        async with session.request(
            method,
            self.server + path,
            data=data,
            params=params,
            ssl=self._ssl,
            headers={"Content-Type": content_type},
        ) as response:
            return response.status, _decoded(await response.text())

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def _checked(
        self,
        what: str,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> Any:
        status, payload = await self.request(method, path, body, content_type, params)
        if status >= 400:
            raise KubeError(status, payload, what)
        return payload

    # -- verbs ------------------------------------------------------------------------------
    async def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        status, payload = await self.request("GET", KINDS[kind].path(namespace, name))
        if status == 404:
            return None
        if status >= 400:
            raise KubeError(status, payload, f"get {kind} {name}")
        result: dict[str, Any] = payload
        return result

    async def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        page_size: int = 500,
        most: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every object of a kind (in a namespace), read in pages of `page_size` (`limit` and
        `continue`), so that no single answer holds a whole cluster; `most`: stop after that many."""
        items: list[dict[str, Any]] = []
        async for page in self.pages(
            kind, namespace, label_selector, page_size if most is None else min(page_size, most)
        ):
            items.extend(page)
            if most is not None and len(items) >= most:
                break
        return items

    async def pages(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        page_size: int = 500,
        listed: Listed | None = None,
    ) -> AsyncIterator[builtins.list[dict[str, Any]]]:
        """The objects of a kind a page at a time: a caller that keeps less than the objects (an index
        of slim copies) never holds more than one page of them. `listed` gets the list's
        resourceVersion (a watch from it misses nothing)."""
        params = {"limit": str(page_size)}
        if label_selector:
            params["labelSelector"] = label_selector
        while True:
            payload = await self._checked(f"list {kind}", "GET", KINDS[kind].path(namespace), params=params)
            if listed is not None:
                listed.resource_version = str((payload.get("metadata") or {}).get("resourceVersion") or "")
            yield payload.get("items") or []
            token = (payload.get("metadata") or {}).get("continue")
            if not token:
                return
            params = {**params, "continue": token}

    async def watch(
        self, kind: str, resource_version: str, label_selector: str | None = None, timeout_seconds: int = 300
    ) -> AsyncIterator[dict[str, Any]]:
        """One watch request of a kind (every namespace) from `resource_version`, with bookmarks:
        its events as the server sends them, until the server ends the stream (`timeout_seconds`).
        An event is read whole however long its line (an object can be up to 1.5 MiB)."""
        session = self._opened()
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        self.counts["watches"] += 1
        # No total timeout: the stream lasts `timeout_seconds`; silence for longer than that is a dead connection.
        timeout = aiohttp.ClientTimeout(total=None, sock_read=timeout_seconds + WATCH_SILENCE)
        async with session.get(
            self.server + KINDS[kind].path(), params=params, ssl=self._ssl, timeout=timeout
        ) as response:
            if response.status >= 400:
                raise KubeError(response.status, _decoded(await response.text()), f"watch {kind}")
            line = bytearray()  # each chunk is scanned once, however many a line takes
            async for chunk in response.content.iter_any():
                start = 0
                while (end := chunk.find(b"\n", start)) >= 0:
                    line += chunk[start:end]
                    if line.strip():
                        yield json.loads(line)
                    line.clear()
                    start = end + 1
                line += chunk[start:]
            if line.strip():
                yield json.loads(line)

    async def apply(self, obj: dict[str, Any], force: bool = True) -> dict[str, Any]:
        meta = obj["metadata"]
        path = kind_of(obj).path(meta.get("namespace"), meta["name"])
        params = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        result: dict[str, Any] = await self._checked(
            f"apply {obj['kind']} {meta['name']}",
            "PATCH",
            path,
            json.dumps(obj),
            "application/apply-patch+yaml",
            params,
        )
        return result

    async def create(self, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Creates `obj`; with `dry_run` the server validates and admits it and stores nothing."""
        meta = obj["metadata"]
        params = {"fieldManager": FIELD_MANAGER, **({"dryRun": "All"} if dry_run else {})}
        result: dict[str, Any] = await self._checked(
            f"create {obj['kind']} {meta.get('name', meta.get('generateName'))}",
            "POST",
            kind_of(obj).path(meta.get("namespace")),
            obj,
            params=params,
        )
        return result

    async def patch(
        self,
        kind: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        subresource: str = "",
        patch_type: str = "merge",
    ) -> dict[str, Any]:
        path = KINDS[kind].path(namespace, name) + (f"/{subresource}" if subresource else "")
        content_type = "application/merge-patch+json" if patch_type == "merge" else "application/json-patch+json"
        result: dict[str, Any] = await self._checked(
            f"patch {kind} {name}", "PATCH", path, patch, content_type, {"fieldManager": FIELD_MANAGER}
        )
        return result

    async def delete(self, kind: str, name: str, namespace: str | None = None, propagation: str = "Background") -> bool:
        status, payload = await self.request(
            "DELETE", KINDS[kind].path(namespace, name), {"propagationPolicy": propagation}
        )
        if status == 404:
            return False
        if status >= 400:
            raise KubeError(status, payload, f"delete {kind} {name}")
        return True

    async def event(self, involved: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Posts a core/v1 Event about an object (cluster-scoped ones in `default`)."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta["name"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
                **({"namespace": meta["namespace"]} if meta.get("namespace") else {}),
            },
            "reason": reason,
            "message": redact(message)[:1024],
            "type": type_,
            "source": {"component": "landlord"},
            "reportingComponent": "landlord",
            "reportingInstance": "landlord",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        await self._checked(f"post event {reason}", "POST", KINDS["Event"].path(namespace), event)


def _text(data: bytes | str) -> str:
    return data.decode() if isinstance(data, bytes) else data


def _pem(data: bytes | str) -> str:
    """PEM text, whether given as PEM or, as kopf's kubeconfig login passes `*-data` fields on, as
    the kubeconfig's base64 of it."""
    text = _text(data).strip()
    if "-----BEGIN" in text:
        return text
    return base64.b64decode(text).decode()
