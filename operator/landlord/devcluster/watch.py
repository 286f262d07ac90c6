"""Watch fan-out: the events the store records and the per-request watchers they reach.

A watcher sees an object enter or leave its selection as ADDED or DELETED, the way a real
API server reports label changes to a selecting watch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GroupResource = tuple[str, str]


@dataclass
class WatchEvent:
    """One stored change: its resourceVersion, the object after it and (on update) before it."""

    rv: int
    group_resource: GroupResource
    type: str  # ADDED | MODIFIED | DELETED
    obj: dict[str, Any]
    old: dict[str, Any] | None


@dataclass(eq=False)
class Watcher:
    """One open watch: its scope, its selector and the queue its HTTP stream drains."""

    group_resource: GroupResource
    namespace: str | None
    matches: Callable[[dict[str, Any]], bool]
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=asyncio.Queue)

    def offer(self, event: WatchEvent) -> None:
        """Queues what this watcher sees of an event (nothing, or an ADDED/MODIFIED/DELETED)."""
        obj_ns = event.obj.get("metadata", {}).get("namespace")
        if self.namespace is not None and obj_ns != self.namespace:
            return
        now = self.matches(event.obj) if event.type != "DELETED" else False
        before = event.old is not None and self.matches(event.old)
        if event.type == "DELETED":
            if self.matches(event.obj):
                self.queue.put_nowait(("DELETED", event.obj))
        elif now and before:
            self.queue.put_nowait(("MODIFIED", event.obj))
        elif now:
            self.queue.put_nowait(("ADDED", event.obj))
        elif before:
            self.queue.put_nowait(("DELETED", event.obj))
