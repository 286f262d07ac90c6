"""The operator's /metrics end to end: per-tenant limits, usage (the quota's `status.used`, the
spec, the reported seats) and thresholds follow the tenant, and go with it."""

from __future__ import annotations

import asyncio
import shutil
import socket
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from landlord.controller.telemetry import ACTIVE_USERS_ANNOTATION
from tests.helpers import eventually
from tests.integration.conftest import Env
from tests.integration.test_suspension import TEMPLATE
from tests.integration.test_tenancy import plan, tenant

GI = 2**30
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def scrape(port: int) -> tuple[str, Series]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    series = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return text, series


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))


def of_tenant(series: Series, name: str) -> list[Any]:
    return [key for key in series if ("tenant", name) in key[1]]


async def test_tenant_series_follow_the_tenant_and_go_with_it(env: Env) -> None:
    port = free_port()
    # An hour-long drift interval: every update below comes from an event, not from the drift pass.
    env.config = env.config.__class__({**env.config.raw, "metrics": {"port": port}, "driftInterval": 3600})
    metered = plan("metered", customDomains=3, users=10)
    metered["spec"]["overuse"] = {"policy": "Notify", "notifyAt": [80, 90, 100]}
    await env.apply(metered)
    await env.start_operator()
    acme = tenant("acme", "metered", domains={"custom": ["crm.acme.example", "shop.acme.example"]})
    acme["metadata"]["annotations"] = {ACTIVE_USERS_ANNOTATION: "9"}
    await env.apply(acme)
    await env.apply(tenant("other", "metered"))
    await env.wait_phase("acme", "Active")
    await env.wait_phase("other", "Active")

    async def recorded() -> tuple[str, Series] | None:
        text, series = await scrape(port)
        return (text, series) if value(series, "landlord_tenant_usage", tenant="acme", resource="users") else None

    text, series = await eventually(recorded)
    assert value(series, "landlord_tenant_info", tenant="acme", plan="metered", reseller="", phase="Active") == 1
    assert value(series, "landlord_tenant_limit", tenant="acme", resource="cpu") == 2
    assert value(series, "landlord_tenant_limit", tenant="acme", resource="memory") == 4 * GI
    assert value(series, "landlord_tenant_limit", tenant="acme", resource="users") == 10
    assert value(series, "landlord_tenant_usage", tenant="acme", resource="customDomains") == 2
    assert value(series, "landlord_tenant_usage", tenant="acme", resource="users") == 9
    assert value(series, "landlord_tenant_notify_threshold", tenant="acme", resource="cpu", percent="90") == 0.9
    assert value(series, "landlord_tenant_overuse_policy", tenant="acme", resource="users", policy="Notify") == 1
    assert value(series, "landlord_tenant_provisioning_duration_seconds_count") == 2
    assert value(series, "landlord_reconciles_total", kind="Tenant", result="success")
    assert "landlord_reconcile_duration_seconds_bucket" in text
    if shutil.which("promtool"):  # the exposition passes Prometheus's own lint
        check = await asyncio.create_subprocess_exec(
            "promtool",
            "check",
            "metrics",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await check.communicate(text.encode())
        assert check.returncode == 0, out.decode()

    # A new seat report queues a reconcile at once (no drift pass needed).
    await env.client.patch("Tenant", "acme", {"metadata": {"annotations": {ACTIVE_USERS_ANNOTATION: "11"}}})

    async def reported() -> bool:
        _, series = await scrape(port)
        return value(series, "landlord_tenant_usage", tenant="acme", resource="users") == 11

    await eventually(reported)

    # Usage counted by the API server into the quota's status.used reaches the metrics.
    resources = {"cpu": "500m", "memory": "1Gi"}
    container = {**TEMPLATE["spec"]["containers"][0], "resources": {"requests": resources, "limits": resources}}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "t-acme"},
        "spec": {**TEMPLATE["spec"], "containers": [container]},
    }
    await env.client.create(pod)

    async def counted() -> Series | None:
        _, series = await scrape(port)
        found = value(series, "landlord_tenant_usage", tenant="acme", resource="cpu")
        return series if found == 0.5 else None

    series = await eventually(counted, timeout=30)
    assert value(series, "landlord_tenant_usage", tenant="acme", resource="memory") == GI
    assert value(series, "landlord_tenant_usage", tenant="acme", resource="pods") == 1

    # Deleted: not one series of the tenant remains; the other tenant's stay.
    await env.client.delete("Tenant", "acme")

    async def gone() -> Series | None:
        if await env.get("Tenant", "acme") is not None:
            return None
        _, series = await scrape(port)
        return None if of_tenant(series, "acme") else series

    series = await eventually(gone, timeout=60)
    assert value(series, "landlord_tenant_info", tenant="other", plan="metered", reseller="", phase="Active") == 1
    assert of_tenant(series, "other")
