"""Which tenants a replica of the operator reconciles: a stable hash of the tenant's name. Pure.

`--shard K/N` (configuration `sharding.shard`) splits the tenants between N replicas: replica K
reconciles the tenants whose name hashes to K, indexes only their children, and, for the
catalogue's usage status (one writer for all), shard 0 alone. The hash is CRC-32 of the name:
the same on every replica, every restart and every Python version (Python's `hash` of a string
is salted per process), so a tenant belongs to one shard for good while N stays the same.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_SHARD = re.compile(r"^([0-9]{1,3})/([0-9]{1,3})$")


class ShardError(ValueError):
    """`K/N` is not a shard: the message says what is expected."""


@dataclass(frozen=True)
class Shard:
    """Replica `index` of `count`."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SHARD.match(text.strip())
        if not match:
            raise ShardError(f"{text!r} is not a shard; write K/N, e.g. 0/2 for the first of two replicas")
        index, count = int(match[1]), int(match[2])
        if count < 1 or index >= count:
            raise ShardError(f"{text!r}: K must be 0 to N-1 and N at least 1, e.g. 0/2 and 1/2 for two replicas")
        return cls(index, count)

    @property
    def whole(self) -> bool:
        """One replica for everything (no sharding)."""
        return self.count == 1

    def owns(self, tenant: str) -> bool:
        """Whether this replica reconciles the tenant of this name."""
        return self.count == 1 or zlib.crc32(tenant.encode()) % self.count == self.index

    @property
    def catalogue(self) -> bool:
        """Whether this replica keeps the status of Plans, AddOns and Resellers (shard 0 does)."""
        return self.index == 0

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
