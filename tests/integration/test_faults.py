"""Convergence under faults: the operator killed (SIGKILL) at random points while 300 tenants
provision and suspension flaps, its watches cut past the history window; at the end every
tenant matches `landlord render`, no workload is at zero on an active tenant, and a restart
over the settled state writes nothing.

The operator runs as its own process (`landlord run`), as in a pod, so a kill is a real one:
no handler gets to finish, nothing is flushed. The seed of the fault schedule is printed;
LANDLORD_FAULT_SEED replays one. It starts its own emulator also when LANDLORD_TEST_KUBECONFIG
names a real cluster: cutting the server's watch streams needs the emulator's hook.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import pytest
import yaml

from landlord.api.schemas import all_crds
from landlord.config import parse
from landlord.devcluster import DevCluster
from landlord.devcluster.identity import ADMIN
from landlord.documents import Document
from landlord.kube import KubeClient
from landlord.playground import install_cluster_objects
from landlord.render.offline import render_tenant
from tests.helpers import eventually
from tests.integration.test_suspension import workload
from tests.integration.test_tenancy import plan, tenant

TENANTS = 300
FLAPPING = 12  # tenants with a Deployment whose suspension flips while the operator is killed
KILLS = 6
CUTS = 4
REPLICAS = 2
CONFIG: dict[str, Any] = {"baseDomain": "apps.example.com"}  # the default drift interval


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Operator:
    """`landlord run` in its own process, killed with SIGKILL and started again."""

    def __init__(self, kubeconfig: Path, config: Path, log: Path) -> None:
        self.kubeconfig = kubeconfig
        self.config = config
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.metrics = ""

    async def tenant_reconciles(self) -> float:
        """landlord_reconciles_total for Tenants since this process started (0 until it serves)."""
        try:
            async with aiohttp.ClientSession() as session, session.get(self.metrics) as response:
                text = await response.text()
        except aiohttp.ClientError:
            return 0.0
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("landlord_reconciles_total{") and 'kind="Tenant"' in line
        )

    async def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        port = _free_port()
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "landlord",
                "run",
                "--standalone",
                "--config",
                str(self.config),
                "--liveness",
                f"http://127.0.0.1:{port}/healthz",
                env=env,
                stdout=log,
                stderr=log,
            )
        self.starts += 1

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
        self.process = None

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                await self.kill()
        self.process = None


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[DevCluster, KubeClient, Operator]]:
    async with DevCluster(history=2000, bookmark_interval=5) as devcluster:
        kubeconfig = devcluster.write_kubeconfig(tmp_path / "kubeconfig")
        config = tmp_path / "config.yaml"
        metrics = _free_port()
        config.write_text(yaml.safe_dump({**CONFIG, "metrics": {"port": metrics}}))
        client = KubeClient(kopf.ConnectionInfo(server=devcluster.url), user_agent="landlord-test")
        for crd in all_crds():
            await client.apply(crd)
        await install_cluster_objects(client, [ADMIN.username])  # as `kubectl apply -f crds/` does
        operator = Operator(kubeconfig, config, tmp_path / "operator.log")
        operator.metrics = f"http://127.0.0.1:{metrics}/metrics"
        try:
            yield devcluster, client, operator
        finally:
            await operator.kill()
            await client.close()


def _contains(live: Any, desired: Any) -> bool:
    """Whether every field Landlord renders is in the live object with that value."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and _contains(live[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(map(_contains, live, desired))
    return bool(live == desired)


async def _settled(devcluster: DevCluster, client: KubeClient, suspended: set[str]) -> bool:
    """Every tenant observed at its generation in the phase asked for, and no write for 3 s."""
    before = devcluster.api.requests["writes"]
    for obj in await client.list("Tenant"):
        status = obj.get("status") or {}
        want = "Suspended" if obj["metadata"]["name"] in suspended else "Active"
        if status.get("phase") != want or status.get("observedGeneration") != obj["metadata"]["generation"]:
            return False
    await asyncio.sleep(3)
    return devcluster.api.requests["writes"] == before


async def _outage(devcluster: DevCluster, client: KubeClient, name: str) -> None:
    """The watches cut, a NetworkPolicy of the tenant deleted (when it is there yet), and the
    history forgotten past that deletion: resuming answers 410 Gone, and the deletion is
    never sent as an event; only a fresh list shows it."""
    devcluster.drop_watches()
    await client.delete("NetworkPolicy", "landlord-isolation", f"t-{name}")
    devcluster.drop_watches()


async def test_converges_after_kills_while_provisioning_and_flapping(
    cluster: tuple[DevCluster, KubeClient, Operator],
) -> None:
    devcluster, client, operator = cluster
    seed = int(os.environ.get("LANDLORD_FAULT_SEED", random.randrange(1 << 30)))
    print(f"fault schedule seed: {seed} (LANDLORD_FAULT_SEED={seed} replays it)")
    chance = random.Random(seed)
    catalog = [plan()]
    await client.apply(catalog[0])
    names = [f"f{i:03d}" for i in range(TENANTS)]
    flapping = names[:FLAPPING]
    suspended: set[str] = set()
    await operator.start()

    async def provision() -> None:
        for start in range(0, TENANTS, 25):
            await asyncio.gather(*(client.apply(tenant(n)) for n in names[start : start + 25]))
            await asyncio.sleep(chance.uniform(0, 0.5))

    async def flap() -> None:
        for name in flapping:  # a workload in each flapping tenant, once its namespace exists
            namespace = functools.partial(client.get, "Namespace", f"t-{name}")
            await eventually(namespace, timeout=600, interval=0.2)
            body = workload("Deployment", "web", replicas=REPLICAS)
            body["metadata"]["namespace"] = f"t-{name}"
            await client.apply(body)
        for _ in range(4):
            for name in flapping:
                suspend = chance.random() < 0.5
                (suspended.add if suspend else suspended.discard)(name)
                await client.apply(tenant(name, suspend=suspend))
            await asyncio.sleep(chance.uniform(0.5, 3))

    async def kill() -> None:
        for _ in range(KILLS):
            await asyncio.sleep(chance.uniform(0.5, 6))
            await operator.kill()
            await operator.start()

    async def cut() -> None:
        """Watches cut past the history window, with children deleted while they were down."""
        for _ in range(CUTS):
            await asyncio.sleep(chance.uniform(1, 8))
            await _outage(devcluster, client, chance.choice(names[FLAPPING:]))

    await asyncio.gather(provision(), flap(), kill(), cut())
    await eventually(lambda: _settled(devcluster, client, suspended), timeout=600, interval=1)

    # One more outage with the operator up: what is deleted meanwhile comes back from the
    # re-list after the reconnect, long before the 60 s drift pass.
    victim = names[-1]
    await _outage(devcluster, client, victim)
    await eventually(lambda: client.get("NetworkPolicy", "landlord-isolation", f"t-{victim}"), timeout=15, interval=0.2)
    await eventually(lambda: _settled(devcluster, client, suspended), timeout=120, interval=1)

    config = parse({**CONFIG, "metrics": {"port": 0}})
    documents = [Document(path="catalog.yaml", line=1, body=body) for body in catalog]
    for obj in await client.list("Tenant"):
        name = obj["metadata"]["name"]
        for desired in render_tenant(config, obj, documents, now=None):
            meta = desired["metadata"]
            live = await client.get(desired["kind"], meta["name"], meta.get("namespace"))
            assert live is not None, f"{name}: {desired['kind']} {meta['name']} missing"
            assert _contains(live, desired), f"{name}: {desired['kind']} {meta['name']} differs from landlord render"
    for name in flapping:
        replicas = (await client.get("Deployment", "web", f"t-{name}"))["spec"]["replicas"]
        assert replicas == (0 if name in suspended else REPLICAS), f"{name}: {replicas} replicas"

    # A restart over the settled state makes no write at all, in its first pass too.
    await operator.stop()
    writes = devcluster.api.requests["writes"]
    await operator.start()

    async def first_pass_done() -> bool:
        return await operator.tenant_reconciles() >= TENANTS

    await eventually(first_pass_done, timeout=300, interval=0.5)
    await asyncio.sleep(2)
    assert devcluster.api.requests["writes"] == writes, "a restart over settled tenants wrote"


async def test_sigterm_stops_the_controller_first_and_the_process_exits_cleanly(
    cluster: tuple[DevCluster, KubeClient, Operator],
) -> None:
    """SIGTERM while it provisions: the workers stop taking work at once (the reconcile in progress
    is cut, as a kill would cut it), then kopf stops; the process exits 0, and started again the
    operator converges."""
    devcluster, client, operator = cluster
    await client.apply(plan())
    names = [f"s{i:03d}" for i in range(60)]
    await operator.start()
    await asyncio.gather(*(client.apply(tenant(name)) for name in names))

    async def busy() -> bool:
        return devcluster.api.requests["writes"] > 100

    await eventually(busy, timeout=60, interval=0.1)
    process = operator.process
    assert process is not None
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    assert "SIGTERM received: the controller stops taking work, then the operator stops" in operator.log.read_text()
    await operator.start()
    await eventually(lambda: _settled(devcluster, client, set()), timeout=180, interval=1)
