"""Objects the operator has just written, until its watches catch up.

The indexes learn of our own writes only when the watch event arrives; a reconcile that runs
in between would see the old object and write again (a second status patch, a second Event, a
second apply). The response to each write is kept here and preferred while it is newer than
what the index holds, for at most `ttl` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any


def _version(obj: dict[str, Any]) -> int | None:
    text = str((obj.get("metadata") or {}).get("resourceVersion", ""))
    return int(text) if text.isdigit() else None


class Recent:
    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._objects: dict[Hashable, tuple[float, dict[str, Any]]] = {}

    def remember(self, key: Hashable, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata")
        if isinstance(meta, dict) and "managedFields" in meta:  # nothing reads it; often half the object
            obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        self._objects[key] = (time.monotonic(), obj)

    def caught_up(self, key: Hashable, seen: dict[str, Any]) -> None:
        """The watch delivered `seen` (and the index holds it): what we wrote is let go once
        that is as new, rather than kept until the next reconcile of the object picks it."""
        entry = self._objects.get(key)
        if entry is None:
            return
        mine, seen_version = _version(entry[1]), _version(seen)
        if mine is None or (seen_version is not None and seen_version >= mine):
            self._objects.pop(key, None)

    def pick(self, key: Hashable, indexed: dict[str, Any] | None) -> dict[str, Any] | None:
        """The newer of the indexed object and the one we wrote (the index wins on doubt)."""
        entry = self._objects.get(key)
        if entry is None:
            return indexed
        written_at, mine = entry
        mine_version = _version(mine)
        if time.monotonic() - written_at > self.ttl or mine_version is None:
            self._objects.pop(key, None)  # also read by the metrics thread: no KeyError races
            return indexed
        if indexed is None:
            return mine  # written by us, not yet seen by the watch
        indexed_version = _version(indexed)
        if indexed_version is None or indexed_version >= mine_version:
            self._objects.pop(key, None)  # also read by the metrics thread: no KeyError races
            return indexed
        return mine

    def __len__(self) -> int:
        return len(self._objects)

    def forget(self, key: Hashable) -> None:
        self._objects.pop(key, None)
