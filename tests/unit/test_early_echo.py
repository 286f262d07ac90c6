"""The echo of the operator's own write can come before the write's answer (the watch is read as
the answer is): it must neither queue its tenant again nor stay remembered; an event that is
not an echo, come while the tenant's reconcile runs, queues it once the reconcile ends."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import Any

import kopf

from landlord.config import parse
from landlord.controller import Controller
from landlord.indexes import Indexes
from landlord.inventory import Inventory
from landlord.kube import KubeClient
from tests.helpers import eventually

KEY = ("ConfigMap", "t-acme", "landlord-entitlements")
TENANT = ("Tenant", "acme")


def controller() -> Controller:
    client = KubeClient(kopf.ConnectionInfo(server="http://127.0.0.1:1"))
    return Controller(parse({}), client, Inventory(Indexes()), components=[])


def configmap(version: str) -> dict[str, Any]:
    return {"metadata": {"name": KEY[2], "namespace": KEY[1], "resourceVersion": version}}


async def reconciling(ctl: Controller) -> None:
    ctl.queue.add(TENANT)
    assert await ctl.queue.get() == TENANT  # a worker runs the tenant's reconcile


async def test_an_echo_before_the_answer_queues_nothing_and_is_not_kept() -> None:
    ctl = controller()
    await reconciling(ctl)
    ctl.child_changed("acme", KEY, configmap("7"))  # the watch event of our write, first
    ctl.remember_write(KEY, configmap("7"))  # then the apply's answer
    ctl.settle_early(TENANT)
    ctl.queue.done(TENANT)
    assert ctl.queue.idle()  # not queued again
    assert not ctl._written and not ctl._early and len(ctl.recent) == 0


async def test_someone_elses_change_during_the_reconcile_queues_the_tenant_after_it() -> None:
    ctl = controller()
    await reconciling(ctl)
    ctl.remember_write(KEY, configmap("7"))
    ctl.child_changed("acme", KEY, configmap("7"))  # our echo, after the answer
    ctl.child_changed("acme", KEY, configmap("8"))  # then someone else's change
    ctl.settle_early(TENANT)
    ctl.queue.done(TENANT)
    assert not ctl.queue.idle() and await ctl.queue.get() == TENANT  # runs once more
    assert not ctl._early and not ctl._written


async def test_a_change_while_nothing_runs_queues_at_once() -> None:
    ctl = controller()
    ctl.child_changed("acme", KEY, configmap("9"))
    assert await ctl.queue.get() == TENANT


async def test_a_worker_runs_the_tenant_again_after_a_change_held_during_its_reconcile() -> None:
    ctl = controller()
    ctl.indexed.set()
    runs = 0

    async def process(key: Any) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            ctl.child_changed("acme", KEY, configmap("8"))  # someone else's change, held meanwhile

    ctl.process = process  # type: ignore[method-assign]
    worker = asyncio.create_task(ctl._worker())
    try:
        ctl.queue.add(TENANT)
        await eventually(lambda: runs == 2, timeout=2)
        assert not ctl._early
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


async def test_a_standby_replica_holds_no_events() -> None:
    """A standby's workers wait for the shard's Lease with their keys taken: the events of those
    tenants are not held (nothing would settle them), they mark the tenants to run again."""
    ctl = controller()
    ctl.lease = SimpleNamespace(held=asyncio.Event())  # type: ignore[assignment]
    await reconciling(ctl)
    ctl.child_changed("acme", KEY, configmap("8"))
    assert not ctl._early
    ctl.queue.done(TENANT)
    assert await ctl.queue.get() == TENANT
