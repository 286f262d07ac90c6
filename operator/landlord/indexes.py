"""The operator's in-memory indexes, kept by its own watch-event handlers. Pure: no kopf, no client.

kopf's own indexes (`@kopf.index`) hold every indexed object's processing until every other
indexed object is listed, through one shared condition that each object's readiness wakes:
with ten indexed objects per tenant, a restart of 1000 tenants spent minutes there. These
indexes are filled at start from one paginated list per kind (so they are complete before the
first reconcile), then kept current from the watch events, and hold only what the reconcile
reads: no `metadata.managedFields`.

An index maps keys to values, each value filed under the uid of the object it came from, so an
update replaces, a relabel moves and a deletion removes exactly that object's entries. The
interface is what `landlord.inventory.Inventory` reads: `index.get(key)` (the values under a key)
and iteration over the keys.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from sys import intern
from typing import Any

Entries = dict[Any, Any]  # key -> value, what one object files in one index
Indexer = Callable[[Mapping[str, Any]], Entries]  # an object -> its entries (empty: not indexed)


_INTERNED = 64  # string values up to this length are shared between copies (labels, reasons, ...)


def _copy(value: Any) -> Any:
    """A deep copy of JSON data whose keys and short strings are interned: the indexes hold ten
    objects per tenant, nearly all of whose keys and many of whose values (labels, condition
    types, reasons and messages, quota names) are the same text, parsed anew for each object."""
    kind = type(value)
    if kind is dict:
        return {intern(k) if type(k) is str else k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind is str:
        return intern(value) if len(value) <= _INTERNED else value
    if kind in (int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)  # not JSON data (a test's object): copied as it is


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an object without `metadata.managedFields` (nothing reads it; it is often as
    large as the rest: one entry per writer, with every field path)."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "metadata" and isinstance(value, Mapping):
            out[key] = {intern(k): _copy(v) for k, v in value.items() if k != "managedFields"}
        else:
            out[intern(key)] = _copy(value)
    return out


class LocalIndex:
    """key -> {uid: value}: the values objects filed under each key."""

    def __init__(self) -> None:
        self._by_key: dict[Any, dict[str, Any]] = {}
        self._keys_of: dict[str, tuple[Any, ...]] = {}  # uid -> the keys it is filed under

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._by_key))

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __getitem__(self, key: Any) -> list[Any]:
        return list(self._by_key[key].values())

    def get(self, key: Any, default: Any = ()) -> Any:
        values = self._by_key.get(key)
        return list(values.values()) if values else default

    def file(self, uid: str, entries: Entries) -> None:
        """Replaces whatever the object `uid` had filed with `entries` (empty: removes it)."""
        self.remove(uid)
        for key, value in entries.items():
            self._by_key.setdefault(key, {})[uid] = value
        if entries:
            self._keys_of[uid] = tuple(entries)

    def remove(self, uid: str) -> None:
        for key in self._keys_of.pop(uid, ()):
            values = self._by_key.get(key)
            if values is not None:
                values.pop(uid, None)
                if not values:
                    del self._by_key[key]


class Indexes(Mapping[str, LocalIndex]):
    """The named indexes and, per kind, the indexers that fill them from one object."""

    def __init__(self) -> None:
        self._indexes: dict[str, LocalIndex] = {}
        self._indexers: dict[str, list[tuple[str, Indexer]]] = {}  # kind -> (index name, indexer)
        self._versions: dict[str, str] = {}  # uid -> the resourceVersion its entries come from

    def __getitem__(self, name: str) -> LocalIndex:
        return self._indexes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._indexes)

    def __len__(self) -> int:
        return len(self._indexes)

    def define(self, kind: str, name: str, indexer: Indexer) -> None:
        self._indexes[name] = LocalIndex()
        self._indexers.setdefault(kind, []).append((name, indexer))

    def kinds(self) -> list[str]:
        return list(self._indexers)

    def observe(self, kind: str, body: Mapping[str, Any], deleted: bool = False) -> bool:
        """An object of `kind` as listed or watched: its entries in every index of the kind.

        The same object at the resourceVersion its entries already come from (kopf's listing at
        start after the start-up list, a listing again after a watch failed) is not filed again:
        the indexers are pure, the entries would be the same copies. Returns whether anything was
        filed or removed (False: that version was filed already, or the object has no uid)."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid:
            return False
        version = str(meta.get("resourceVersion") or "")
        if deleted:
            self._versions.pop(uid, None)
        elif version and self._versions.get(uid) == version:
            return False
        else:
            self._versions[uid] = version
        for name, indexer in self._indexers.get(kind, ()):
            index = self._indexes[name]
            if deleted:
                index.remove(uid)
            else:
                index.file(uid, indexer(body))
        return True

    def forget(self, uid: str) -> None:
        """An object known to be gone without a watch event: out of every index."""
        self._versions.pop(uid, None)
        for index in self._indexes.values():
            index.remove(uid)
