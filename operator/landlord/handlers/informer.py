"""One kind listed, then watched from the list's resourceVersion for the life of the operator,
each change handed to a callback: what the operator uses for the children, whose events only
keep an index and queue a tenant.

kopf processed each child event through its own machinery (a worker per object, causes, handler
invocation, a logger per event): with the other kinds' events, about half of the operator's CPU
while provisioning, for events whose handling is a few lines of ours. kopf keeps the Tenants,
the catalogue and the invoices.

What the API server documents for watches
(https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes):
a watch resumes from the last resourceVersion it saw (a BOOKMARK moves it without an object);
410 Gone, as the request's answer or as an ERROR event, means the events since then are no longer
kept: the kind is listed again, and an object the new list lacks was deleted meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp

from ..inventory import uid_of
from ..kinds import KINDS
from ..kube import KubeClient, KubeError, Listed
from ..redaction import redact

logger = logging.getLogger(__name__)

LISTED = "LISTED"  # an object of a list made again after 410 Gone (the callback compares versions)
GONE = "GONE"  # an object that list lacks: deleted while the watch was away
WATCH_TIMEOUT = 300  # seconds a watch request lasts before it is made again (kopf's server_timeout was the same)
RETRY = 1.0  # seconds before a failed list or watch is tried again (doubled at each failure in a row)
MAX_RETRY = 30.0
MIN_WATCH = 1.0  # seconds: a watch that ended sooner counts as a failure (a proxy cutting streams)


# What a list or a watch is tried again after (the API server's answers, the connection, a body
# that is not what a watch sends).
RETRIED = (KubeError, aiohttp.ClientError, TimeoutError, OSError, ValueError)


class Expired(Exception):
    """The watch's resourceVersion is older than what the API server keeps (410 Gone)."""


Deliver = Callable[[str | None, dict[str, Any]], None]


class Informer:
    """`deliver(type, obj)` for every object of `kind` (matching `selector`): type None for the
    first list's objects, ADDED, MODIFIED, DELETED as watched, LISTED for a list made again after
    410 Gone, and GONE for each of `known()` (what the caller holds of the kind) that list lacks.
    Events reach `deliver` in the order the server sent them, one at a time."""

    def __init__(
        self,
        client: KubeClient,
        kind: str,
        deliver: Deliver,
        known: Callable[[], Iterable[dict[str, Any]]],
        selector: str | None = None,
        page_size: int = 500,
    ) -> None:
        self.client = client
        self.kind = kind
        self.deliver = deliver
        self.known = known
        self.selector = selector
        self.page_size = page_size
        self.version = ""  # the last resourceVersion seen: a watch resumes from it
        self.retry = RETRY
        self.watch_timeout = WATCH_TIMEOUT

    async def list(self, again: bool = False) -> None:
        """Lists the kind a page at a time, each object delivered as it comes; `again`: after 410
        Gone, with the deletions the list reveals."""
        listed = Listed()
        uids: set[str] = set()
        target = KINDS[self.kind]
        async for page in self.client.pages(self.kind, None, self.selector, self.page_size, listed):
            for obj in page:
                # A list's items carry no kind (a watch event's object does).
                obj.setdefault("apiVersion", target.api_version)
                obj.setdefault("kind", self.kind)
                uids.add(uid_of(obj))
                self._deliver(LISTED if again else None, obj)
        if again:
            for obj in [o for o in self.known() if uid_of(o) not in uids]:
                self._deliver(GONE, obj)
        self.version = listed.resource_version

    async def run(self) -> None:
        """Watches from the last list until cancelled: made again when the server ends it, listed
        again on 410 Gone; after a failure, or a watch that ended at once, it waits `retry`
        seconds, doubled at each failure in a row up to `MAX_RETRY`."""
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await self._watch()
                failures = 0 if time.monotonic() - started >= MIN_WATCH else failures + 1
            except asyncio.CancelledError:
                raise
            except Expired:
                logger.info("the watch of %s expired (410 Gone): listing it again", self.kind)
                await self._list_again()
                failures = 0
                continue
            except RETRIED as exc:
                failures += 1
                logger.warning("the watch of %s failed: %s", self.kind, redact(exc))
            if failures:
                await asyncio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        return float(min(self.retry * 2 ** (failures - 1), MAX_RETRY))

    async def _list_again(self) -> None:
        failures = 0
        while True:
            try:
                await self.list(again=True)
                return
            except asyncio.CancelledError:
                raise
            except RETRIED as exc:
                failures += 1
                logger.warning("listing %s failed: %s", self.kind, redact(exc))
                await asyncio.sleep(self._backoff(failures))

    async def _watch(self) -> None:
        try:
            async for event in self.client.watch(self.kind, self.version, self.selector, self.watch_timeout):
                kind, obj = event.get("type"), event.get("object")
                if not isinstance(obj, dict):
                    raise ValueError(f"a watch event of {self.kind} without an object: {str(event)[:200]}")
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Expired()
                    raise KubeError(int(obj.get("code") or 500), obj, f"watch {self.kind}")
                version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                if kind != "BOOKMARK":
                    self._deliver(str(kind), obj)
                if version:
                    self.version = version
        except KubeError as exc:
            if exc.status == 410:
                raise Expired() from exc
            raise

    def _deliver(self, type_: str | None, obj: dict[str, Any]) -> None:
        """One event to the callback; its failure is logged and the watch goes on (as kopf keeps
        a failing handler's watch): the object is looked at again by the drift pass."""
        try:
            self.deliver(type_, obj)
        except Exception:
            meta = obj.get("metadata") or {}
            logger.exception(
                "handling the %s event of %s %s/%s failed",
                type_ or "listed",
                self.kind,
                meta.get("namespace") or "",
                meta.get("name") or "",
            )


async def stop(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancels informer tasks and waits for them (one that had ended with an error is logged:
    the rest of the clean-up still runs)."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("an informer had stopped with an error")
