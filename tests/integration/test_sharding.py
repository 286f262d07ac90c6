"""Several replicas (`--shard K/N`): each tenant is reconciled by exactly one, the catalogue's
status by shard 0 alone, and a shard whose replica stops is taken over by the next one."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from landlord.runner import OperatorThread
from landlord.sharding import Shard
from tests.helpers import eventually
from tests.integration import conftest
from tests.integration.conftest import REAL, Env
from tests.integration.test_faults import Operator, _free_port
from tests.integration.test_tenancy import plan, tenant

NAMES = [f"s{n:02d}" for n in range(12)]


def replica(env: Env, shard: str) -> OperatorThread:
    config = conftest.test_config(driftInterval=3600, sharding={"shard": shard, "leaseDuration": 2})
    return OperatorThread(config, login=env.login)


def reconciled(operator: OperatorThread) -> set[str]:
    """The tenants this replica reconciled (it records metrics for each)."""
    controller: Any = operator.state.controller
    return set(controller.metrics.tenants.snapshot())


async def test_each_tenant_is_reconciled_by_exactly_one_replica_and_a_stopped_shard_is_taken_over(env: Env) -> None:
    await env.apply(plan())
    first, second = replica(env, "0/2"), replica(env, "1/2")
    await asyncio.to_thread(first.start)
    await asyncio.to_thread(second.start)
    try:
        for name in NAMES:
            await env.apply(tenant(name))
        for name in NAMES:
            await env.wait_phase(name, "Active")
        mine = {k: {n for n in NAMES if Shard(k, 2).owns(n)} for k in (0, 1)}
        assert mine[0] and mine[1]  # both shards have tenants
        await eventually(lambda: (reconciled(first), reconciled(second)) == (mine[0], mine[1]))
        await asyncio.sleep(0.5)  # settled: nothing more is reconciled by the other
        assert (reconciled(first), reconciled(second)) == (mine[0], mine[1])  # and no other
        # Each keeps the children of its own shard's tenants only (and every Tenant).
        inventories: list[Any] = [first.state.controller.inventory, second.state.controller.inventory]
        for k, inventory in enumerate(inventories):
            assert all(inventory.children(n) for n in mine[k]) and not any(inventory.children(n) for n in mine[1 - k])
            assert sorted(inventory.names("Tenant")) == NAMES
        plan_status = (await env.get("Plan", "basic") or {}).get("status") or {}
        assert plan_status.get("tenants") == len(NAMES)  # shard 0 keeps the catalogue's usage

        # Shard 1's replica stops; its successor (a standby started meanwhile) takes the shard over.
        standby = replica(env, "1/2")
        await asyncio.to_thread(standby.start)
        await asyncio.sleep(1)
        late = next(n for n in (f"late{k}" for k in range(50)) if Shard(1, 2).owns(n))
        await asyncio.to_thread(second.stop)
        await env.apply(tenant(late))
        await env.wait_phase(late, "Active", timeout=15)
        await eventually(lambda: late in reconciled(standby))
        assert late not in reconciled(first)
        await asyncio.to_thread(standby.stop)
    finally:
        for operator in (first, second):
            await asyncio.to_thread(operator.stop)


async def test_a_standby_acts_only_after_the_holder_stops(env: Env) -> None:
    await env.apply(plan())
    holder, standby = replica(env, "1/3"), replica(env, "1/3")
    try:
        await asyncio.to_thread(holder.start)
        await eventually(lambda: holder.state.controller is not None and holder.state.controller.lease.held.is_set())
        await asyncio.to_thread(standby.start)
        name = next(n for n in (f"t{k}" for k in range(60)) if Shard(1, 3).owns(n))
        await env.apply(tenant(name))
        await env.wait_phase(name, "Active")
        await eventually(lambda: name in reconciled(holder))
        await asyncio.sleep(0.5)
        assert name not in reconciled(standby)  # it waits for the Lease
        await asyncio.to_thread(holder.stop)  # releases the Lease: the standby takes over at once
        await env.client.patch("Tenant", name, {"spec": {"suspend": True}})
        await env.wait_phase(name, "Suspended", timeout=10)
        await eventually(lambda: name in reconciled(standby))
    finally:
        for operator in (holder, standby):
            await asyncio.to_thread(operator.stop)


async def _tenants_in_metrics(url: str) -> set[str]:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
    except aiohttp.ClientError:
        return set()
    return {
        line.split('tenant="', 1)[1].split('"', 1)[0]
        for line in text.splitlines()
        if line.startswith("landlord_tenant_info{")
    }


async def test_two_operator_processes_and_a_killed_one_replaced(env: Env, tmp_path: Path) -> None:
    """`landlord run` as processes, as in pods: two shards, one SIGKILLed (no release: its Lease
    expires) and started again, which takes its tenants over."""
    kubeconfig = Path(REAL) if REAL else env.devcluster.write_kubeconfig(tmp_path / "kubeconfig")
    await env.apply(plan())
    operators: dict[str, Operator] = {}
    for shard in ("0/2", "1/2"):
        port = _free_port()
        config = tmp_path / f"config-{shard.replace('/', '-')}.yaml"
        config.write_text(yaml.safe_dump({"metrics": {"port": port}, "sharding": {"shard": shard, "leaseDuration": 3}}))
        operator = Operator(kubeconfig, config, tmp_path / f"operator-{shard.replace('/', '-')}.log")
        operator.metrics = f"http://127.0.0.1:{port}/metrics"
        operators[shard] = operator
    try:
        for operator in operators.values():
            await operator.start()
        names = [f"p{n:02d}" for n in range(8)]
        for name in names:
            await env.apply(tenant(name))
        for name in names:
            await env.wait_phase(name, "Active", timeout=60)
        mine = {s: {n for n in names if Shard.parse(s).owns(n)} for s in operators}
        assert all(mine.values())
        for shard, operator in operators.items():
            await eventually(functools.partial(_has, operator.metrics, mine[shard]), timeout=20)

        await operators["1/2"].kill()  # SIGKILL: its Lease is left to expire
        late = next(n for n in (f"late{k}" for k in range(60)) if Shard(1, 2).owns(n))
        await env.apply(tenant(late))
        await asyncio.sleep(2)
        assert await env.tenant_phase(late) is None  # nobody acts for shard 1 now
        await operators["1/2"].start()  # the replacement: takes the Lease once it expired
        await env.wait_phase(late, "Active", timeout=30)
        await eventually(lambda: _has(operators["1/2"].metrics, mine["1/2"] | {late}), timeout=20)
        assert late not in await _tenants_in_metrics(operators["0/2"].metrics)
    finally:
        for operator in operators.values():
            await operator.stop()


async def _has(url: str, expected: set[str]) -> bool:
    return await _tenants_in_metrics(url) == expected
