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
import itertools
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
        self._snapshot_ids = itertools.count()

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

    def view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The stored object in the version the client asked for, sharing everything below the top
        level with the store: to read or serialise at once, never to change (stored objects are
        replaced by a write, not changed in place)."""
        return {**obj, "apiVersion": rt.api_version, "kind": rt.kind}

    def list_objects(
        self, rt: ResourceType, namespace: str | None, matches: Callable[[dict[str, Any]], bool]
    ) -> tuple[list[dict[str, Any]], str]:
        """The matching objects in (namespace, name) order, and the list's resourceVersion."""
        return [self.present(rt, obj) for _, obj in self._matching(rt, namespace, matches)], str(self.rv)

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
        if not token:
            matched = self._matching(rt, namespace, matches)
            resource_version = str(self.rv)
            first = matched[:limit] if limit else matched
            items = [self.view(rt, obj) for _, obj in first]
            if len(first) == len(matched):
                return items, resource_version, ""
            after = first[-1][0]
            rest = matched[len(first) :]
            snapshot_id = str(next(self._snapshot_ids))
            keys = [key for key, _ in rest]
            self._snapshots[snapshot_id] = Snapshot(time.monotonic(), resource_version, keys, [obj for _, obj in rest])
            while len(self._snapshots) > SNAPSHOTS:
                self._snapshots.popitem(last=False)
            return items, resource_version, encode_continue(after[0], after[1], snapshot_id)
        position = decode_continue(token)
        snapshot = self._snapshots.get(position.snapshot)
        if snapshot is None or time.monotonic() - snapshot.taken > SNAPSHOT_TTL:
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a "
                "new list without the continue parameter."
            )
        self._snapshots.move_to_end(position.snapshot)
        start = bisect.bisect_right(snapshot.keys, (position.namespace, position.name))
        end = len(snapshot.keys) if not limit else min(len(snapshot.keys), start + limit)
        items = [self.view(rt, obj) for obj in snapshot.objects[start:end]]
        if end >= len(snapshot.keys):
            self._snapshots.pop(position.snapshot, None)  # read to the end: not needed again
            return items, snapshot.resource_version, ""
        last_key = snapshot.keys[end - 1]
        return items, snapshot.resource_version, encode_continue(last_key[0], last_key[1], position.snapshot)

    def _matching(
        self, rt: ResourceType, namespace: str | None, matches: Callable[[dict[str, Any]], bool]
    ) -> list[tuple[Key, dict[str, Any]]]:
        """The stored objects that match, in (namespace, name) order; a namespace's found by
        bisection over the sorted keys (kube-apiserver serves lists from its watch cache, never
        sorting the whole collection per request)."""
        if namespace is not None:
            found = self.in_namespace(rt.group_resource, namespace)
        else:
            store = self._store(rt)
            found = [(key, store[key]) for key in self._sorted_keys(rt) if key in store]
        return [(key, obj) for key, obj in found if matches(obj)]

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
    """The rest of a paginated list as it was at its first page: keys in order, and the objects."""

    taken: float  # time.monotonic()
    resource_version: str
    keys: list[Key]
    objects: list[dict[str, Any]]


@dataclass(frozen=True)
class Continue:
    """What a `continue` token says: the key the next page starts after, and the snapshot
    holding the rest of the list."""

    namespace: str
    name: str
    snapshot: str


def decode_continue(token: str) -> Continue:
    """A list's `continue` token; 400 when malformed."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        return Continue(str(data["ns"]), str(data["name"]), str(data["s"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc


def encode_continue(namespace: str, name: str, snapshot: str) -> str:
    """The `continue` token of a list page that ended at (namespace, name), in the snapshot `snapshot`."""
    return base64.urlsafe_b64encode(json.dumps({"ns": namespace, "name": name, "s": snapshot}).encode()).decode()
