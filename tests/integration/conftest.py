"""The real operator against an API server: the emulator by default, a real cluster when
LANDLORD_TEST_KUBECONFIG points at one (kind, k3d)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kopf
import pytest

from landlord.api.schemas import all_crds
from landlord.config import Config, parse
from landlord.devcluster import DevCluster
from landlord.devcluster.identity import ADMIN
from landlord.kube import KubeClient
from landlord.playground import install_cluster_objects
from landlord.runner import OperatorThread
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
REAL = os.environ.get("LANDLORD_TEST_KUBECONFIG")
TLS = os.environ.get("LANDLORD_TEST_TLS") == "1"  # the emulator over HTTPS; clients verify its CA


class Env:
    """One API server, the CRDs, a client for the test, and an operator that can be (re)started."""

    def __init__(self, client: KubeClient, login: Any, config: Config, devcluster: DevCluster | None) -> None:
        self.client = client
        self.login = login
        self.config = config
        self.devcluster = devcluster
        self.operator: OperatorThread | None = None

    async def start_operator(self) -> OperatorThread:
        self.operator = OperatorThread(self.config, login=self.login)
        await asyncio.to_thread(self.operator.start)
        return self.operator

    async def stop_operator(self) -> None:
        if self.operator is not None:
            await asyncio.to_thread(self.operator.stop)
            assert self.operator.error is None, self.operator.error
            self.operator = None

    @property
    def controller(self) -> Any:
        assert self.operator is not None and self.operator.state.controller is not None
        return self.operator.state.controller

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.client.apply(obj)

    async def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return await self.client.get(kind, name, namespace)

    async def tenant_phase(self, name: str) -> str | None:
        tenant = await self.get("Tenant", name)
        return ((tenant or {}).get("status") or {}).get("phase")

    async def wait_phase(self, name: str, phase: str, timeout: float = 30) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            tenant = await self.get("Tenant", name)
            status = (tenant or {}).get("status") or {}
            if status.get("phase") == phase and status.get("observedGeneration") == tenant["metadata"]["generation"]:
                return tenant
            return None

        result: dict[str, Any] = await eventually(check, timeout=timeout, interval=0.1)
        return result

    async def quiet(self, settle: float = 0.5, timeout: float = 30) -> None:
        """Waits until the operator's queue has been idle for `settle` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        idle_since = None
        while loop.time() < deadline:
            if self.controller.queue.idle():
                idle_since = idle_since or loop.time()
                if loop.time() - idle_since >= settle:
                    return
            else:
                idle_since = None
            await asyncio.sleep(0.05)
        raise AssertionError("the operator did not settle")


async def clean_real_cluster(environment: Env) -> None:
    """Deletes what a test made; the operator must run to release its finalizers."""
    if environment.operator is None:
        await environment.start_operator()
    client = environment.client
    for kinds in (("Tenant",), ("AddOn", "Plan", "Reseller")):
        for kind in kinds:
            for obj in await client.list(kind):
                await client.delete(kind, obj["metadata"]["name"])

        async def gone(kinds: tuple[str, ...] = kinds) -> bool:
            for kind in kinds:
                if await client.list(kind):
                    return False
            return True

        await eventually(gone, timeout=120)
    await environment.stop_operator()
    await client.close()


async def whoami(client: KubeClient) -> str:
    """The username the API server sees for `client` (SelfSubjectReview, Kubernetes 1.28+)."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    status, body = await client.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review)
    assert status < 400, f"cannot tell who the test client is ({status}): {body}"
    return str(body["status"]["userInfo"]["username"])


def test_config(**extra: Any) -> Config:
    return parse({"driftInterval": 1, "baseDomain": "apps.example.com", "metrics": {"port": 0}, **extra})


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    config = test_config()
    if REAL:
        client = KubeClient.from_kubeconfig(REAL)
        os.environ["KUBECONFIG"] = REAL

        def login() -> kopf.ConnectionInfo:
            info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
            assert info is not None
            return info

        environment = Env(client, login, config, None)
        for crd in all_crds():
            await client.apply(crd)
        await install_cluster_objects(client, [await whoami(client)])  # the operator runs as the test client
        try:
            yield environment
        finally:
            await clean_real_cluster(environment)
        return
    async with DevCluster(bookmark_interval=5, tls=TLS) as cluster:
        info = kopf.ConnectionInfo(server=cluster.url, ca_data=cluster.ca_data)  # ca_data: None over HTTP
        client = KubeClient(info, user_agent="landlord-test")
        environment = Env(client, lambda: info, config, cluster)
        for crd in all_crds():
            await client.apply(crd)
        await install_cluster_objects(client, [ADMIN.username])  # the operator and the test client: no credentials
        try:
            yield environment
        finally:
            await environment.stop_operator()
            await client.close()
