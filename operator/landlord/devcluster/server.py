"""The HTTP face of the emulator: Kubernetes REST paths, discovery, OpenAPI, watch streams.

Every request is authenticated (bearer token, impersonation headers) and authorized by RBAC
before it is routed; see `authentication` and `authorization`.

`DevCluster` runs it in-process (an async context manager giving the URL), over HTTP or
HTTPS, and `landlord devcluster` serves it until interrupted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from . import errors, identity, protobuf, reviews, tls
from .authentication import ADMIN_TOKEN, Authenticator
from .authorization import RBAC_GROUP, RBAC_KINDS, Authorizer, request_attributes
from .cluster import Cluster
from .errors import ApiError
from .identity import UserInfo
from .openapi import digest, group_version_key, v2_document, v3_document
from .rbac import REVIEW_KINDS
from .resources import SCHEMA_VERSION, ResourceType
from .scale import SCALE_GROUP, SCALE_VERSION
from .selectors import make_filter
from .tables import to_table
from .tls import Certificates
from .writes import WriteResult

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""kube-apiserver's limit on a write's request body (`MaxRequestBodyBytes`): 413 above it."""


ENCODED_EVENTS_KEPT = 256  # the latest watch events' encodings (an event reaches its watchers at once)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _error(exc: ApiError) -> web.Response:
    return _json(exc.status(), exc.code)


def _wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    first = accept.split(",")[0]
    return "as=Table" in first


def _manager(request: web.Request) -> str:
    explicit = request.query.get("fieldManager")
    if explicit:
        if len(explicit) > 128:
            raise errors.bad_request("fieldManager: Too long: may not be more than 128 bytes")
        return explicit
    agent = request.headers.get("User-Agent", "unknown")
    return agent.split("/")[0][:128] or "unknown"


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def load_yaml(raw: bytes) -> Any:
    """A YAML body. Clients send JSON (server-side apply from client-go and kopf, `kubectl apply`):
    JSON is YAML, and the real API server reads it as JSON, so it is parsed as JSON (pure-Python
    PyYAML took a third of the emulator's time under load); any other YAML by libyaml when built in."""
    if raw.lstrip()[:1] == b"{":
        try:
            return json.loads(raw, parse_constant=_not_json)
        except ValueError:
            pass  # YAML flow style, say `{a: 1}` (or `NaN`, which JSON does not have: a string in YAML)
    return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class Api:
    """Routes requests to the Cluster; keeps request counters for tests and benchmarks."""

    def __init__(
        self, cluster: Cluster, bookmark_interval: float = 60.0, authenticator: Authenticator | None = None
    ) -> None:
        self.cluster = cluster
        self.authenticator = authenticator or Authenticator()
        self.authorizer = Authorizer(cluster.objects)
        self.bookmark_interval = bookmark_interval
        self.max_request_bytes = MAX_REQUEST_BYTES  # tests may lower it
        self.requests: Counter[str] = Counter()
        self._openapi_cache: dict[tuple[str, int], dict[str, Any]] = {}
        self._encoded_events: dict[tuple[int, str, str], tuple[dict[str, Any], bytes]] = {}

    # -- entry --------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Counts, authenticates (401), impersonates and authorizes (403) a request, then serves it
        as that user (`identity.current()` for admission)."""
        parts = [p for p in request.path.split("/") if p]
        verb = request.method
        self.requests[verb] += 1
        if verb in WRITE_METHODS:
            self.requests["writes"] += 1
        try:
            user = self._user(request)
        except ApiError as exc:
            return _error(exc)
        with identity.acting_as(user):
            return await self._route(request, parts)

    def _user(self, request: web.Request) -> UserInfo:
        """Who the request acts as, once RBAC allows it (system:masters skips the rule walk)."""
        authenticated = self.authenticator.authenticate(request.headers.get("Authorization"))
        user = self.authenticator.impersonate(authenticated, request.headers.items(), self.authorizer)
        if not user.is_admin:
            self.authorizer.check(user, request_attributes(request.method, request.path, request.query))
        return user

    async def _route(self, request: web.Request, parts: list[str]) -> web.StreamResponse:
        try:
            if not parts:
                return _json({"paths": sorted({"/api", "/apis", "/version", "/openapi/v2", "/openapi/v3"})})
            if parts[0] in ("healthz", "readyz", "livez"):
                return web.Response(text="ok")
            if parts == ["metrics"]:
                return web.Response(text=self._metrics(), content_type="text/plain")
            if parts == ["version"]:
                return _json(self._version())
            if parts[0] == "openapi":
                return self._openapi(parts[1:], request)
            if parts[0] == "api":
                if len(parts) == 1:
                    return _json(
                        {
                            "kind": "APIVersions",
                            "versions": ["v1"],
                            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}],
                        }
                    )
                if len(parts) == 2:
                    return self._resource_list("", parts[1])
                return await self._resource(request, "", parts[1], parts[2:])
            if parts[0] == "apis":
                if len(parts) == 1:
                    return _json(self._group_list())
                if len(parts) == 2:
                    group = self._group(parts[1])
                    if group is None:
                        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
                    return _json(group)
                if len(parts) == 3:
                    return self._resource_list(parts[1], parts[2])
                return await self._resource(request, parts[1], parts[2], parts[3:])
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        except ApiError as exc:
            return _error(exc)

    def _metrics(self) -> str:
        """Request counters in the Prometheus text format (benchmarks read them)."""
        lines = [
            "# HELP landlord_devcluster_requests_total HTTP requests served, by method.",
            "# TYPE landlord_devcluster_requests_total counter",
        ]
        for method in sorted(k for k in self.requests if k != "writes"):
            lines.append(f'landlord_devcluster_requests_total{{method="{method}"}} {self.requests[method]}')
        lines += [
            "# HELP landlord_devcluster_write_requests_total POST, PUT, PATCH and DELETE requests served.",
            "# TYPE landlord_devcluster_write_requests_total counter",
            f"landlord_devcluster_write_requests_total {self.requests['writes']}",
            "# HELP landlord_devcluster_stored_changes_total Changes stored (resourceVersion bumps).",
            "# TYPE landlord_devcluster_stored_changes_total counter",
            f"landlord_devcluster_stored_changes_total {self.cluster.writes}",
        ]
        return "\n".join(lines) + "\n"

    # -- discovery ----------------------------------------------------------------------------
    def _version(self) -> dict[str, Any]:
        major, minor, _ = SCHEMA_VERSION.split(".")
        return {
            "major": major,
            "minor": minor,
            "gitVersion": f"v{SCHEMA_VERSION}-landlord-devcluster",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "python",
            "compiler": "python",
            "platform": "linux/amd64",
        }

    def _group(self, group: str) -> dict[str, Any] | None:
        versions = self.cluster.groups().get(group)
        if not versions or not group:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def _group_list(self) -> dict[str, Any]:
        groups = [self._group(g) for g in self.cluster.groups() if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g]}

    def _resource_list(self, group: str, version: str) -> web.Response:
        types = [rt for (g, v, _), rt in self.cluster.types.items() if g == group and v == version]
        if not types:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        resources: list[dict[str, Any]] = []
        for rt in types:
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                entry["shortNames"] = rt.short_names
            if rt.categories:
                entry["categories"] = rt.categories
            resources.append(entry)
            if rt.has_status:
                resources.append(
                    {
                        "name": f"{rt.plural}/status",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
            if rt.has_scale:
                resources.append(
                    {
                        "name": f"{rt.plural}/scale",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "group": SCALE_GROUP,
                        "version": SCALE_VERSION,
                        "kind": "Scale",
                        "verbs": ["get", "patch", "update"],
                    }
                )
            if rt.kind == "Namespace":
                resources.append(
                    {
                        "name": "namespaces/finalize",
                        "singularName": "",
                        "namespaced": False,
                        "kind": "Namespace",
                        "verbs": ["update"],
                    }
                )
        group_version = f"{group}/{version}" if group else version
        return _json(
            {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
        )

    # -- openapi ------------------------------------------------------------------------------
    def _openapi_doc(self, key: str) -> dict[str, Any]:
        cache_key = (key, self.cluster.changes)
        if cache_key not in self._openapi_cache:
            types = list(self.cluster.types.values())
            if key == "v2":
                self._openapi_cache[cache_key] = v2_document(types)
            else:
                self._openapi_cache[cache_key] = v3_document([t for t in types if group_version_key(t) == key])
        return self._openapi_cache[cache_key]

    def _openapi(self, parts: list[str], request: web.Request) -> web.Response:
        if parts == ["v2"]:
            accept = request.headers.get("Accept", "")
            if "protobuf" in accept and "json" not in accept:
                raise errors.ApiError(406, "NotAcceptable", "only application/json is served for /openapi/v2")
            return _json(self._openapi_doc("v2"))
        if parts and parts[0] == "v3":
            if len(parts) == 1:
                keys = sorted({group_version_key(t) for t in self.cluster.types.values()})
                paths = {k: {"serverRelativeURL": f"/openapi/v3/{k}?hash={digest(self._openapi_doc(k))}"} for k in keys}
                return _json({"paths": paths})
            key = "/".join(parts[1:])
            if not any(group_version_key(t) == key for t in self.cluster.types.values()):
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return _json(self._openapi_doc(key), headers={"Cache-Control": "no-cache, private"})
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")

    # -- resources ----------------------------------------------------------------------------
    async def _resource(self, request: web.Request, group: str, version: str, rest: list[str]) -> web.StreamResponse:
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace = rest[1]
            rest = rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        try:
            rt = self.cluster.find(group, plural, version)
        except ApiError:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource") from None
        if namespace is not None and not rt.namespaced:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if (
            subresource
            and not (subresource == "status" and rt.has_status)
            and not (subresource == "finalize" and rt.kind == "Namespace")
            and not (subresource == "scale" and rt.has_scale)
        ):
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if rt.namespaced and name is not None and namespace is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if rt.builtin and rt.kind in REVIEW_KINDS:
            return await self._review(request, rt, namespace, name)
        method = request.method
        query = request.query
        dry_run = query.get("dryRun") == "All"
        field_validation = query.get("fieldValidation", "Warn")
        if field_validation not in ("Ignore", "Warn", "Strict"):
            raise errors.bad_request(
                f"fieldValidation: invalid value {field_validation!r}: must be one of Ignore, Warn, Strict"
            )
        if name is None:
            if method == "GET":
                if query.get("watch") in ("true", "1"):
                    return await self._watch(request, rt, namespace)
                return self._list(request, rt, namespace)
            if method == "POST":
                body = await self._body(request)
                manager = _manager(request)
                result = self._write(
                    rt,
                    namespace,
                    None,
                    lambda dry: self.cluster.create(rt, namespace, body, manager, field_validation, dry),
                    dry_run,
                )
                return self._written(result, 201)
            if method == "DELETE":
                return await self._delete_collection(request, rt, namespace, dry_run)
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        if subresource == "scale":
            return await self._scale(request, rt, namespace, name, dry_run)
        if method == "GET":
            obj = self.cluster.get(rt, namespace, name)
            if _wants_table(request):
                return _json(
                    to_table(rt, [obj], obj["metadata"]["resourceVersion"], query.get("includeObject", "Metadata"))
                )
            return _json(obj)
        if method == "PUT":
            body = await self._body(request)
            if subresource == "finalize":
                return _json(self.cluster.finalize_namespace(rt, name, body))
            manager = _manager(request)
            result = self._write(
                rt,
                namespace,
                name,
                lambda dry: self.cluster.update(rt, namespace, name, body, manager, subresource, field_validation, dry),
                dry_run,
            )
            return self._written(result, 201 if result.created else 200)
        if method == "PATCH":
            patch_type, patch, manager, force = await self._patch_request(request)
            existed = self.cluster.exists(rt, namespace, name)
            result = self._write(
                rt,
                namespace,
                name,
                lambda dry: self.cluster.patch(
                    rt, namespace, name, patch_type, patch, manager, subresource, force, field_validation, dry
                ),
                dry_run,
            )
            return self._written(result, 201 if not existed and result.created else 200)
        if method == "DELETE":
            options = await self._delete_options(request)
            warnings: list[str] = []
            obj = self.cluster.delete(rt, namespace, name, options, dry_run, warnings)
            return self._written(WriteResult(obj, warnings), 200)
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    def _write(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str | None,
        write: Callable[[bool], WriteResult],
        dry_run: bool,
    ) -> WriteResult:
        """Runs a create, update or patch; a role or binding written by anyone but system:masters is
        first previewed (dry run) and refused if it grants what its author does not hold
        (RBAC privilege-escalation prevention), checked on the object the write would store."""
        user = identity.current()
        if not user.is_admin and rt.builtin and rt.group == RBAC_GROUP and rt.kind in RBAC_KINDS:
            old = self.cluster.get(rt, namespace, name) if name and self.cluster.exists(rt, namespace, name) else None
            preview = write(True)
            self.authorizer.check_write(user, rt.kind, namespace, name or "", preview.obj, old)
        return write(dry_run)

    async def _review(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str | None
    ) -> web.Response:
        """POST of an access review or SelfSubjectReview: answered for the current user, not stored."""
        if request.method != "POST" or name is not None:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        body = await self._body(request)
        return _json(reviews.answer(self.authorizer, identity.current(), rt.kind, namespace, body), 201)

    async def _patch_request(self, request: web.Request) -> tuple[str, Any, str, bool]:
        """A PATCH's type (by Content-Type), decoded body, field manager and `force`."""
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        patch_type = PATCH_TYPES.get(content_type)
        if patch_type is None:
            raise errors.unsupported_media_type(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(PATCH_TYPES)}"
            )
        raw = await self._read(request)
        try:
            patch = load_yaml(raw) if patch_type == "apply" else json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"error decoding patch: {exc}") from exc
        manager = request.query.get("fieldManager", "") if patch_type == "apply" else _manager(request)
        force = request.query.get("force") in ("true", "1")
        if force and patch_type != "apply":
            raise errors.bad_request("force: Forbidden: may not be specified for non-apply patch")
        return patch_type, patch, manager, force

    async def _scale(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str, dry_run: bool
    ) -> web.Response:
        """GET, PUT and PATCH of a workload's autoscaling/v1 Scale."""
        if request.method == "GET":
            return _json(self.cluster.get_scale(rt, namespace, name))
        if request.method == "PUT":
            body = await self._body(request)
            result = self.cluster.update_scale(rt, namespace, name, body, _manager(request), dry_run)
            return self._written(result, 200)
        if request.method == "PATCH":
            patch_type, patch, manager, force = await self._patch_request(request)
            result = self.cluster.patch_scale(rt, namespace, name, patch_type, patch, manager, force, dry_run)
            return self._written(result, 200)
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    def _written(self, result: WriteResult, status: int) -> web.Response:
        headers = {}
        if result.warnings:
            headers["Warning"] = ", ".join(f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"' for w in result.warnings)
        if result.body is None:
            return _json(result.obj, status, headers)
        return web.Response(body=result.body, status=status, content_type="application/json", headers=headers)

    async def _read(self, request: web.Request) -> bytes:
        """The request body, refused (413, the real Status) over `max_request_bytes` before it is
        read when its length is announced, and before it is decoded otherwise."""
        limit = self.max_request_bytes
        if request.content_length is not None and request.content_length > limit:
            raise errors.request_entity_too_large(limit)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:  # a chunked body over aiohttp's own cap
            raise errors.request_entity_too_large(limit) from exc
        if len(raw) > limit:
            raise errors.request_entity_too_large(limit)
        return raw

    async def _body(self, request: web.Request) -> Any:
        """The request's object: JSON, YAML, or protobuf (kubectl 1.32+, typed clients) read as its JSON."""
        raw = await self._read(request)
        content_type = request.headers.get("Content-Type", "application/json")
        try:
            if protobuf.is_protobuf(content_type):
                return protobuf.decode_body(raw)
            if "yaml" in content_type:
                return load_yaml(raw)
            return json.loads(raw or b"null")
        except protobuf.UnsupportedKind as exc:
            raise errors.unsupported_media_type(str(exc)) from exc
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from exc

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.can_read_body:
            body = await self._body(request)
            if isinstance(body, dict):
                options.update(body)
        if "propagationPolicy" in request.query:
            options["propagationPolicy"] = request.query["propagationPolicy"]
        if request.query.get("orphanDependents") in ("true", "false"):
            options["orphanDependents"] = request.query["orphanDependents"] == "true"
        return options

    def _filter(self, request: web.Request, rt: ResourceType) -> Callable[[dict[str, Any]], bool]:
        return make_filter(
            request.query.get("labelSelector"), request.query.get("fieldSelector"), rt.field_selectors, rt.kind
        )

    def _list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        limit = int(request.query.get("limit", "0") or 0)
        # Shallow copies, serialised below; only their apiVersion and kind are removed.
        items, resource_version, continue_token = self.cluster.list_page(
            rt, namespace, self._filter(request, rt), request.query.get("continue"), limit
        )
        if _wants_table(request):
            return _json(
                to_table(rt, items, resource_version, request.query.get("includeObject", "Metadata"), continue_token)
            )
        if rt.builtin:
            for item in items:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        metadata: dict[str, Any] = {"resourceVersion": resource_version}
        if continue_token:
            metadata["continue"] = continue_token
        return _json({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata, "items": items})

    async def _delete_collection(
        self, request: web.Request, rt: ResourceType, namespace: str | None, dry_run: bool
    ) -> web.Response:
        options = await self._delete_options(request)
        items, _resource_version = self.cluster.list_objects(rt, namespace, self._filter(request, rt))
        deleted = []
        warnings: list[str] = []
        for item in items:
            try:
                deleted.append(
                    self.cluster.delete(
                        rt, item["metadata"].get("namespace"), item["metadata"]["name"], options, dry_run, warnings
                    )
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise
        listed = {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.cluster.rv)},
            "items": deleted,
        }
        return self._written(WriteResult(listed, warnings), 200)

    async def _watch(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.StreamResponse:
        matches = self._filter(request, rt)
        timeout = float(request.query.get("timeoutSeconds", "0") or 0)
        bookmarks = request.query.get("allowWatchBookmarks") in ("true", "1")
        table = _wants_table(request)
        include_object = request.query.get("includeObject", "Metadata")
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        )
        await response.prepare(request)
        try:
            watcher = self.cluster.subscribe(rt, namespace, matches, request.query.get("resourceVersion"))
        except ApiError as exc:
            await response.write(json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n")
            return response
        deadline = time.monotonic() + timeout if timeout else None
        next_bookmark = time.monotonic() + self.bookmark_interval
        try:
            while True:
                now = time.monotonic()
                waits = [next_bookmark - now if bookmarks else 3600.0]
                if deadline is not None:
                    waits.append(deadline - now)
                wait = max(min(waits), 0)
                item: tuple[str, dict[str, Any]] | None = None
                if not watcher.queue.empty():
                    item = watcher.queue.get_nowait()
                elif wait > 0:
                    with contextlib.suppress(TimeoutError):
                        item = await asyncio.wait_for(watcher.queue.get(), timeout=wait)
                if watcher not in self.cluster.watchers:
                    break  # cut by DevCluster.drop_watches: no bookmark, nothing more
                if item is None:
                    now = time.monotonic()
                    expired = deadline is not None and now >= deadline
                    if bookmarks and (now >= next_bookmark or expired):
                        await self._send_bookmark(response, rt)
                        next_bookmark = now + self.bookmark_interval
                    if expired:
                        break
                    continue
                # What is queued goes out in one write (each write is a chunk and a system call).
                lines = [self._event_line(rt, *item, table, include_object)]
                while not watcher.queue.empty():
                    queued = watcher.queue.get_nowait()
                    if queued is None:
                        continue
                    lines.append(self._event_line(rt, *queued, table, include_object))
                await response.write(b"".join(lines))
                if watcher not in self.cluster.watchers:
                    break  # cut while these were queued (its wake-up was among them)
                if deadline is not None and time.monotonic() >= deadline:
                    break  # `timeoutSeconds` is kept while events keep coming
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.cluster.unsubscribe(watcher)
        return response

    def _event_line(self, rt: ResourceType, kind: str, obj: dict[str, Any], table: bool, include_object: str) -> bytes:
        """One watch event, encoded. Every watch of a kind gets the same event: it is encoded
        once for all of them (stored objects are replaced by a write, never changed, so the
        object's identity and the version it is shown in name the encoding)."""
        shown = self.cluster.view(rt, obj)
        if table:
            payload = to_table(rt, [shown], shown["metadata"]["resourceVersion"], include_object)
            return json.dumps({"type": kind, "object": payload}, separators=(",", ":")).encode() + b"\n"
        key = (id(obj), kind, rt.api_version)
        known = self._encoded_events.get(key)
        if known is not None and known[0] is obj:
            return known[1]
        line = json.dumps({"type": kind, "object": shown}, separators=(",", ":")).encode() + b"\n"
        if len(self._encoded_events) >= ENCODED_EVENTS_KEPT:
            self._encoded_events.pop(next(iter(self._encoded_events)))  # the oldest
        self._encoded_events[key] = (obj, line)
        return line

    async def _send_bookmark(self, response: web.StreamResponse, rt: ResourceType) -> None:
        bookmark = {
            "type": "BOOKMARK",
            "object": {
                "kind": rt.kind,
                "apiVersion": rt.api_version,
                "metadata": {
                    "resourceVersion": str(self.cluster.rv),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            },
        }
        await response.write(json.dumps(bookmark).encode() + b"\n")


class DevCluster:
    """The emulator in-process: `async with DevCluster() as cluster: cluster.url`.

    With `tls=True` it serves HTTPS with a certificate from a CA made at start; `ca_data` (PEM)
    is that CA, which `kubeconfig()` carries as `certificate-authority-data`.

    Authentication: the kubeconfig's token (`ADMIN_TOKEN`) is the cluster admin
    (system:masters); `users` (or `add_user`) maps more bearer tokens to users, whom RBAC then
    authorizes. A request without credentials is `unauthenticated`: the admin by default (clients
    given a bare URL keep working), `identity.ANONYMOUS` for the real API server's default
    (anonymous auth on), None to answer 401 (`--anonymous-auth=false`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        history: int = 100_000,
        bookmark_interval: float = 60.0,
        tls: bool = False,
        users: Mapping[str, UserInfo | str] | None = None,
        unauthenticated: UserInfo | None = identity.ADMIN,
    ) -> None:
        self.authenticator = Authenticator(users, unauthenticated)
        self.host = host
        self.port = port
        self.history = history
        self.bookmark_interval = bookmark_interval
        self.tls = tls
        self.certificates: Certificates | None = None
        self.cluster: Cluster
        self.api: Api
        self._runner: web.AppRunner | None = None
        self._controllers: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def ca_data(self) -> bytes | None:
        """The PEM of the CA that signed the serving certificate (None over plain HTTP)."""
        return self.certificates.ca if self.certificates else None

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context trusting only this server's CA (None over plain HTTP)."""
        return self.certificates.client_context() if self.certificates else None

    async def __aenter__(self) -> DevCluster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Serves on `host:port` (port 0: a free one, then stored in `port`)."""
        self.cluster = Cluster(history=self.history)
        self.api = Api(self.cluster, self.bookmark_interval, self.authenticator)
        context = None
        if self.tls:
            self.certificates = await asyncio.to_thread(tls.generate, [self.host])
            context = self.certificates.server_context()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.api.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=context)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._controllers = asyncio.create_task(self.cluster.run_controllers())

    async def stop(self) -> None:
        """Stops serving and the built-in controllers."""
        if self._controllers is not None:
            self._controllers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._controllers
        if self._runner is not None:
            await self._runner.cleanup()

    def drop_watches(self) -> int:
        """Test hook, an outage longer than the watch history: every open watch ends at once,
        without what it had not sent yet, and the history is forgotten, so that resuming from
        an earlier resourceVersion answers 410 Gone. Returns how many watches were cut."""
        store = self.cluster
        store.compacted_rv = store.rv
        store.history.clear()
        cut = list(store.watchers)
        store.watchers.clear()
        for watcher in cut:
            while not watcher.queue.empty():
                watcher.queue.get_nowait()
            watcher.queue.put_nowait(None)  # wakes the stream, which sees it was cut
        return len(cut)

    def add_user(self, token: str, user: UserInfo | str) -> UserInfo:
        """Lets bearer `token` authenticate as `user` (a name or a UserInfo; before or after start).
        Returns the user as requests see it: in system:authenticated, a ServiceAccount
        (`system:serviceaccount:NS:NAME`) in its SA groups."""
        return self.authenticator.add(token, user)

    def kubeconfig(self, context: str = "landlord-dev", token: str = ADMIN_TOKEN) -> dict[str, Any]:
        """A kubeconfig for this server (with the CA as certificate-authority-data under TLS),
        authenticating with `token` (the admin's by default)."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.certificates is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.certificates.ca).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}],
            "current-context": context,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path, token: str = ADMIN_TOKEN) -> Path:
        """Writes `kubeconfig(token=token)` as YAML (mode 0600) and returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig(token=token), sort_keys=False))
        target.chmod(0o600)
        return target
