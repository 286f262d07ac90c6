"""Shards: a stable split of the tenants by the CRC-32 of their names."""

from __future__ import annotations

import zlib

import pytest

from landlord.sharding import Shard, ShardError


def test_every_tenant_belongs_to_exactly_one_shard_and_always_the_same() -> None:
    names = [f"tenant-{n:05d}" for n in range(3000)]
    shards = [Shard(k, 3) for k in range(3)]
    owners = [[s.index for s in shards if s.owns(name)] for name in names]
    assert all(len(o) == 1 for o in owners)
    counts = [sum(1 for o in owners if o == [k]) for k in range(3)]
    assert all(900 < c < 1100 for c in counts), counts  # balanced enough
    # Stable across processes and versions: the CRC-32 of the name, not Python's salted hash.
    assert Shard(zlib.crc32(b"acme") % 3, 3).owns("acme")
    assert Shard.parse("0/1").owns("anything") and Shard.parse("0/1").whole


@pytest.mark.parametrize(
    ("text", "problem"),
    [("2/2", "K must be 0 to N-1"), ("0/0", "K must be 0 to N-1"), ("1-2", "write K/N"), ("a/b", "write K/N")],
)
def test_a_bad_shard_says_what_is_expected(text: str, problem: str) -> None:
    with pytest.raises(ShardError, match=problem):
        Shard.parse(text)


def test_only_shard_zero_keeps_the_catalogue() -> None:
    assert Shard(0, 2).catalogue and not Shard(1, 2).catalogue and str(Shard(1, 2)) == "1/2"
