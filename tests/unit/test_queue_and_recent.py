"""The work queue and the just-written cache (pure, no cluster)."""

from __future__ import annotations

import asyncio
from typing import Any

from landlord.recent import Recent
from landlord.workqueue import WorkQueue


def obj(version: str, value: int = 0) -> dict[str, object]:
    return {"metadata": {"resourceVersion": version}, "value": value}


def test_recent_prefers_what_we_wrote_until_the_index_catches_up() -> None:
    recent = Recent()
    recent.remember("k", obj("10", 1))
    assert recent.pick("k", obj("9"))["value"] == 1  # index lags behind our write
    assert recent.pick("k", None)["value"] == 1  # created by us, not yet watched
    assert recent.pick("k", obj("11", 2))["value"] == 2  # index caught up: it wins from now on
    assert recent.pick("k", obj("9"))["value"] == 0


def test_recent_expires_and_yields_on_opaque_versions() -> None:
    recent = Recent(ttl=0)
    recent.remember("k", obj("10", 1))
    assert recent.pick("k", obj("9"))["value"] == 0
    recent = Recent()
    recent.remember("k", obj("abc", 1))
    assert recent.pick("k", obj("9"))["value"] == 0


async def test_queue_deduplicates_and_reruns_dirty_keys() -> None:
    queue = WorkQueue()
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert queue.depth() == 2
    key = await queue.get()
    assert key == "a"
    queue.add("a")  # changed while being processed: runs once more afterwards
    queue.done("a")
    assert [await queue.get(), await queue.get()] == ["b", "a"]
    queue.done("b")
    queue.done("a")
    assert queue.idle()


async def test_queue_delayed_adds_keep_the_earliest() -> None:
    queue = WorkQueue()
    queue.add_after("x", 10)
    queue.add_after("x", 0.01)
    assert await asyncio.wait_for(queue.get(), 1) == "x"
    queue.done("x")
    queue.close()


def test_recent_lets_go_once_the_watch_delivered_as_new() -> None:
    recent = Recent()
    recent.remember("k", {"metadata": {"resourceVersion": "10", "managedFields": [{}]}, "value": 1})
    assert "managedFields" not in recent.pick("k", None)["metadata"]  # not kept
    recent.caught_up("k", obj("9"))
    assert recent.pick("k", obj("9"))["value"] == 1  # the watch lags: still ours
    recent.caught_up("k", obj("10"))
    assert recent.pick("k", None) is None  # delivered: the index holds it, nothing kept here


def test_the_echo_of_our_write_lets_it_go_and_queues_nothing() -> None:
    """The watch bringing back what we wrote (the index holds it now) frees the response we kept:
    kept until the next reconcile, those responses were a fifth of the operator's memory."""
    from types import SimpleNamespace

    from landlord.controller.core import Controller

    ctl: Any = SimpleNamespace(recent=Recent(), _written={}, _early={}, queue=WorkQueue())
    key = ("ConfigMap", "t-acme", "landlord-entitlements")
    Controller.remember_write(ctl, key, obj("10"))
    Controller.child_changed(ctl, "acme", key, obj("10"))
    assert len(ctl.recent) == 0 and not ctl._written
    assert ctl.queue.depth() == 0
    Controller.remember_write(ctl, key, obj("12"))
    Controller.child_changed(ctl, "acme", key, obj("11"))  # older than our write (someone else's): kept
    assert len(ctl.recent) == 1 and ctl.queue.depth() == 1
