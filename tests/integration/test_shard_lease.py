"""One replica acts per shard: the Lease is taken by one, never by two at once, taken over when
its holder stops renewing (after the duration) and at once when it lets go."""

from __future__ import annotations

import asyncio
import time

from landlord.controller.lease import ShardLease
from landlord.kube import KubeClient
from landlord.render.cluster import OPERATOR_NAMESPACE
from landlord.sharding import Shard
from tests.helpers import eventually
from tests.integration.conftest import Env

DURATION = 1.5


async def test_one_holder_at_a_time_and_takeover_after_a_crash_or_at_once_after_a_release(env: Env) -> None:
    clients = [KubeClient(env.login(), user_agent=f"replica-{k}") for k in range(3)]
    shard = Shard(1, 2)
    a, b, c = (ShardLease(cl, OPERATOR_NAMESPACE, shard, f"replica-{k}", DURATION) for k, cl in enumerate(clients))
    both: list[float] = []

    async def watch() -> None:
        while True:
            if sum(lease.held.is_set() for lease in (a, b, c)) > 1:
                both.append(time.monotonic())
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    runner_a = asyncio.create_task(a.run())
    await eventually(a.held.is_set, timeout=5)
    runner_b = asyncio.create_task(b.run())
    await asyncio.sleep(DURATION * 1.5)
    assert a.held.is_set() and not b.held.is_set()  # renewed: not taken

    runner_a.cancel()  # killed: no release, no more renewals, and (a process gone) no more acting
    a.held.clear()
    await eventually(b.held.is_set, timeout=DURATION * 4)
    # Not before the last renewal was a whole duration old (by the taker's own observation).
    assert time.monotonic() - a._renewed >= DURATION, time.monotonic() - a._renewed

    runner_c = asyncio.create_task(c.run())
    await asyncio.sleep(DURATION)
    assert not c.held.is_set()
    released = time.monotonic()
    runner_b.cancel()
    await b.release()  # a clean stop: it stops acting, then lets go
    await eventually(c.held.is_set, timeout=DURATION * 2)
    assert time.monotonic() - released < DURATION  # at once, not after the duration
    assert not both, "two replicas acted for one shard at the same time"

    lease = await env.client.get("Lease", "landlord-shard-1-of-2", OPERATOR_NAMESPACE)
    assert lease is not None and lease["spec"]["holderIdentity"] == "replica-2"
    assert lease["spec"]["leaseTransitions"] == 2
    for task in (watcher, runner_c):
        task.cancel()
    for client in clients:
        await client.close()


async def test_a_holder_cut_off_from_the_api_server_stops_acting_before_anyone_may_take_over(env: Env) -> None:
    client = KubeClient(env.login(), user_agent="cut-off")
    lease = ShardLease(client, OPERATOR_NAMESPACE, Shard(0, 2), "cut-off", DURATION)
    runner = asyncio.create_task(lease.run())
    await eventually(lease.held.is_set, timeout=5)

    async def unreachable(*_: object, **__: object) -> object:
        raise ConnectionRefusedError("the API server is gone")

    client.request = unreachable  # type: ignore[method-assign,assignment]
    lost = time.monotonic()
    await eventually(lambda: not lease.held.is_set(), timeout=DURATION * 2)
    assert time.monotonic() - lost < DURATION  # let go before a successor may take it (after DURATION)
    runner.cancel()
