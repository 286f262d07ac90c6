"""The object store: objects by resource, one global resourceVersion, watch history.

Every stored change takes the next resourceVersion and is recorded in a bounded history that
watches replay from a resourceVersion (older ones answer 410 Gone). The store also keeps the
uid and ownerReference indexes that garbage collection reads. Everything runs on one asyncio
loop, so each operation is atomic.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import copy
import json
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors
from .resources import ResourceType
from .watch import GroupResource, Watcher, WatchEvent

Key = tuple[str, str]  # (namespace, name)
SNAPSHOTS = 64  # paginated lists whose rest is kept (the most recent ones)
SNAPSHOT_TTL = 300.0  # seconds a paginated list's rest is kept (kube-apiserver: etcd's 5-minute compaction)
ObjectRef = tuple[GroupResource, Key]


class ObjectStore:
    """Stored objects and their change history; the base of `Cluster`."""

    def __init__(self, history: int = 100_000) -> None:
        self.objects: dict[GroupResource, dict[Key, dict[str, Any]]] = {}
        self.rv = 0
        self.history: deque[WatchEvent] = deque(maxlen=history)
        self.compacted_rv = 0
        self.watchers: set[Watcher] = set()
        self.uids: dict[str, ObjectRef] = {}
        self.dependents: dict[str, set[ObjectRef]] = {}  # owner uid -> dependents
        self.pending: set[ObjectRef] = set()  # objects being deleted, for the controllers
        self.gone_uids: set[str] = set()  # owners gone while dependents remain
        self.wakeup = asyncio.Event()
        self.writes = 0
        # Sorted keys per resource for LIST pages, rebuilt only when the key set changed: a page
        # is found by bisection and copies only the objects it returns (kube-apiserver serves
        # pages from its watch cache the same way, never sorting the whole collection per request).
        self._order: dict[GroupResource, tuple[int, int, list[Key]]] = {}
        self._structure: dict[GroupResource, int] = {}
        # The rest of each paginated list, as it was at its first page (see `list_page`).
        self._snapshots: OrderedDict[str, Snapshot] = OrderedDict()

    # -- reads ------------------------------------------------------------------------------
    def _store(self, rt: ResourceType) -> dict[Key, dict[str, Any]]:
        return self.objects[rt.group_resource]

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (namespace or "", name) if rt.namespaced else ("", name)

    def exists(self, rt: ResourceType, namespace: str | None, name: str) -> bool:
        """Whether the object is stored (deleting or not)."""
        return self._key(rt, namespace, name) in self._store(rt)

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        """The object as the client sees it, or 404 NotFound."""
        obj = self._store(rt).get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self.present(rt, obj)

    def present(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy for the client, in the version it asked for."""
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version
        out["kind"] = rt.kind
        return out

    def list_objects(
        self, rt: ResourceType, namespace: str | None, matches: Callable[[dict[str, Any]], bool]
    ) -> tuple[list[dict[str, Any]], str]:
        """The matching objects in (namespace, name) order, and the list's resourceVersion."""
        items, resource_version, _ = self.page(rt, namespace, matches)
        return items, resource_version

    def _sorted_keys(self, rt: ResourceType) -> list[Key]:
        return self._ordered(rt.group_resource)

    def _ordered(self, group_resource: GroupResource) -> list[Key]:
        store = self.objects.get(group_resource, {})
        structure = self._structure.get(group_resource, 0)
        cached = self._order.get(group_resource)
        if cached is None or cached[0] != structure or cached[1] != len(store):
            cached = (structure, len(store), sorted(store))
            self._order[group_resource] = cached
        return cached[2]

    def in_namespace(self, group_resource: GroupResource, namespace: str) -> list[tuple[Key, dict[str, Any]]]:
        """The stored objects of one namespace, in name order, found by bisection (not a scan)."""
        store = self.objects.get(group_resource, {})
        keys = self._ordered(group_resource)
        found = []
        for index in range(bisect.bisect_left(keys, (namespace, "")), len(keys)):
            key = keys[index]
            if key[0] != namespace:
                break
            obj = store.get(key)
            if obj is not None:
                found.append((key, obj))
        return found

    def page(
        self,
        rt: ResourceType,
        namespace: str | None,
        matches: Callable[[dict[str, Any]], bool],
        after: Key | None = None,
        limit: int = 0,
        shallow: bool = False,
    ) -> tuple[list[dict[str, Any]], str, bool]:
        """Up to `limit` (0: all) matching objects after the key `after`, in (namespace, name)
        order, copied for the client; the list's resourceVersion; whether more match.

        `shallow`: only the top level is copied, for a caller that serialises the items at once
        and changes nothing below it (a deep copy of each item was half the cost of a list)."""
        store = self._store(rt)
        keys = self._sorted_keys(rt)
        start = bisect.bisect_left(keys, (namespace, "")) if namespace is not None else 0
        if after is not None:
            start = max(start, bisect.bisect_right(keys, after))
        found: list[dict[str, Any]] = []
        more = False
        for index in range(start, len(keys)):
            key = keys[index]
            if namespace is not None and key[0] != namespace:
                break
            obj = store.get(key)
            if obj is None or not matches(obj):
                continue
            if limit and len(found) == limit:
                more = True
                break
            found.append(obj)
        if shallow:
            version = {"apiVersion": rt.api_version, "kind": rt.kind}
            return [{**obj, **version} for obj in found], str(self.rv), more
        return [self.present(rt, obj) for obj in found], str(self.rv), more

    def list_page(
        self,
        rt: ResourceType,
        namespace: str | None,
        matches: Callable[[dict[str, Any]], bool],
        token: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], str, str]:
        """One page of a LIST for a client (shallow copies, serialised at once), the list's
        resourceVersion and the `continue` token of the next page ("" at the end).

        Every page of a paginated list shows the collection as it was at the first page, under
        that page's resourceVersion, as kube-apiserver serves continued lists from one etcd
        revision: a client that then watches from that resourceVersion (kopf, client-go
        informers) sees every change made while it paged. The rest of the list is kept (object
        references: stored objects are replaced, never changed, on a write) for `SNAPSHOT_TTL`
        seconds and for the `SNAPSHOTS` most recent lists; a token past that answers 410 Expired,
        as a continue token older than etcd's compaction does.
        """
        version = {"apiVersion": rt.api_version, "kind": rt.kind}
        if not token:
            items, resource_version, more = self.page(rt, namespace, matches, None, limit, shallow=True)
            if not more:
                return items, resource_version, ""
            last = items[-1]["metadata"]
            after: Key = (last.get("namespace") or "", last["name"])
            rest = self._matching_after(rt, namespace, matches, after)
            snapshot_id = f"{self.rv}-{len(self._snapshots)}-{id(rest)}"
            self._snapshots[snapshot_id] = Snapshot(time.monotonic(), resource_version, rest)
            while len(self._snapshots) > SNAPSHOTS:
                self._snapshots.popitem(last=False)
            return items, resource_version, encode_continue(after[0], after[1], resource_version, snapshot_id)
        position = decode_continue(token)
        snapshot = self._snapshots.get(position.snapshot or "")
        if snapshot is None or time.monotonic() - snapshot.taken > SNAPSHOT_TTL:
            if position.snapshot is None:  # a token without one (older emulator): the current objects after it
                items, resource_version, more = self.page(
                    rt, namespace, matches, (position.namespace, position.name), limit, shallow=True
                )
                last = items[-1]["metadata"] if more else {}
                following = encode_continue(last.get("namespace") or "", last["name"]) if more else ""
                return items, resource_version, following
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a "
                "new list without the continue parameter."
            )
        self._snapshots.move_to_end(position.snapshot or "")
        keys = [key for key, _ in snapshot.rest]
        start = bisect.bisect_right(keys, (position.namespace, position.name))
        end = len(keys) if not limit else min(len(keys), start + limit)
        items = [{**obj, **version} for _, obj in snapshot.rest[start:end]]
        if end >= len(keys):
            self._snapshots.pop(position.snapshot or "", None)  # read to the end: not needed again
            return items, snapshot.resource_version, ""
        last_key = keys[end - 1]
        following = encode_continue(last_key[0], last_key[1], snapshot.resource_version, position.snapshot)
        return items, snapshot.resource_version, following

    def _matching_after(
        self, rt: ResourceType, namespace: str | None, matches: Callable[[dict[str, Any]], bool], after: Key
    ) -> list[tuple[Key, dict[str, Any]]]:
        store = self._store(rt)
        keys = self._sorted_keys(rt)
        rest = []
        for index in range(bisect.bisect_right(keys, after), len(keys)):
            key = keys[index]
            if namespace is not None and key[0] != namespace:
                break
            obj = store.get(key)
            if obj is not None and matches(obj):
                rest.append((key, obj))
        return rest

    # -- changes ----------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _emit(self, rt: ResourceType, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        event = WatchEvent(int(obj["metadata"]["resourceVersion"]), rt.group_resource, kind, obj, old)
        if len(self.history) == self.history.maxlen:
            self.compacted_rv = self.history[0].rv
        self.history.append(event)
        for watcher in list(self.watchers):
            if watcher.group_resource == rt.group_resource:
                watcher.offer(event)
        self.writes += 1

    def _insert(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> None:
        if key not in self._store(rt):
            self._structure[rt.group_resource] = self._structure.get(rt.group_resource, 0) + 1
        self._store(rt)[key] = obj
        meta = obj["metadata"]
        self.uids[meta["uid"]] = (rt.group_resource, key)
        for ref in meta.get("ownerReferences") or []:
            self.dependents.setdefault(ref["uid"], set()).add((rt.group_resource, key))
            if ref["uid"] not in self.uids:
                self.gone_uids.add(ref["uid"])
                self.wakeup.set()

    def _reindex_owners(self, rt: ResourceType, key: Key, old: dict[str, Any], new: dict[str, Any]) -> None:
        before = {r["uid"] for r in old["metadata"].get("ownerReferences") or []}
        after = {r["uid"] for r in new["metadata"].get("ownerReferences") or []}
        for uid in before - after:
            self.dependents.get(uid, set()).discard((rt.group_resource, key))
        for uid in after - before:
            self.dependents.setdefault(uid, set()).add((rt.group_resource, key))
            if uid not in self.uids:
                self.gone_uids.add(uid)
                self.wakeup.set()

    def _remove(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> None:
        """Drops the object for good (a DELETED event) and wakes garbage collection."""
        if self._store(rt).pop(key, None) is not None:
            self._structure[rt.group_resource] = self._structure.get(rt.group_resource, 0) + 1
        uid = obj["metadata"]["uid"]
        self.uids.pop(uid, None)
        for ref in obj["metadata"].get("ownerReferences") or []:
            self.dependents.get(ref["uid"], set()).discard((rt.group_resource, key))
        self.pending.discard((rt.group_resource, key))
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(rt, "DELETED", final, None)
        if self.dependents.get(uid):
            self.gone_uids.add(uid)
        if self.pending or self.gone_uids:
            self.wakeup.set()
        self._removed(rt, obj)

    def _removed(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Hook: an object left the store (the registry forgets a deleted CRD's types)."""

    # -- watch ------------------------------------------------------------------------------
    def subscribe(
        self,
        rt: ResourceType,
        namespace: str | None,
        matches: Callable[[dict[str, Any]], bool],
        resource_version: str | None,
    ) -> Watcher:
        """Registers a watcher and queues what it must see first (initial state or history)."""
        watcher = Watcher(rt.group_resource, namespace, matches)
        if not resource_version or resource_version == "0":
            for (ns, _), obj in sorted(self._store(rt).items()):
                if (namespace is None or ns == namespace) and matches(obj):
                    watcher.queue.put_nowait(("ADDED", obj))
        else:
            try:
                since = int(resource_version)
            except ValueError as exc:
                raise errors.bad_request(f"invalid resource version: {resource_version}") from exc
            if since < self.compacted_rv:
                raise errors.gone(f"too old resource version: {since} ({self.compacted_rv + 1})")
            for event in self.history:
                if event.rv > since and event.group_resource == rt.group_resource:
                    watcher.offer(event)
        self.watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        """Forgets a watcher whose stream ended."""
        self.watchers.discard(watcher)


@dataclass(frozen=True)
class Snapshot:
    """The rest of a paginated list as it was at its first page."""

    taken: float  # time.monotonic()
    resource_version: str
    rest: list[tuple[Key, dict[str, Any]]]


@dataclass(frozen=True)
class Continue:
    """What a `continue` token says: the key the next page starts after, the list's
    resourceVersion, and the snapshot holding the rest (None in tokens without one)."""

    namespace: str
    name: str
    resource_version: str | None = None
    snapshot: str | None = None


def decode_continue(token: str) -> Continue:
    """A list's `continue` token; 400 when malformed."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        return Continue(str(data["ns"]), str(data["name"]), data.get("rv"), data.get("s"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc


def encode_continue(namespace: str, name: str, resource_version: str | None = None, snapshot: str | None = None) -> str:
    """The `continue` token of a list page that ended at (namespace, name)."""
    data: dict[str, str] = {"ns": namespace, "name": name}
    if resource_version is not None:
        data["rv"] = resource_version
    if snapshot is not None:
        data["s"] = snapshot
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
