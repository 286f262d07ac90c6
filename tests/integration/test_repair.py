"""Repair through the watches alone, with the default drift interval (60 s, never reached here).

A child changed or deleted by hand, or the namespace deleted, is back within 2 s; a deletion
made while the watches were cut for longer than the API server's history (410 Gone) is found
once kopf lists again, without a restart; nothing is reconciled before every index is listed;
and objects a tenant labels as Landlord's are never indexed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from landlord.inventory import child_index_name
from landlord.kinds import key_of
from tests.helpers import Http, eventually
from tests.integration import conftest
from tests.integration.conftest import Env
from tests.integration.test_components import conditions, events
from tests.integration.test_tenancy import plan, tenant

DRIFT = 60.0  # the default: a repair seen within seconds did not come from the drift pass
BOUND = 2.0  # seconds: the guarantee of item 6


async def start(env: Env, drift: float = DRIFT) -> None:
    env.config = conftest.test_config(driftInterval=drift)
    await env.start_operator()


async def provisioned(env: Env, *names: str, configmaps: int | None = None) -> None:
    body = plan()
    if configmaps is not None:  # room in the quota for what a test creates in the namespace
        body["spec"]["quota"] = {"objects": {"configmaps": configmaps}}
    await env.apply(body)
    if env.operator is None:
        await start(env)
    for name in names:
        await env.apply(tenant(name))
    for name in names:
        await env.wait_phase(name, "Active")
    await env.quiet()


async def took(check: Any, timeout: float = 15.0) -> float:
    """Seconds until `check` holds (polled every 20 ms)."""
    began = time.monotonic()
    await eventually(check, timeout=timeout, interval=0.02)
    return time.monotonic() - began


def metric(env: Env, name: str, **labels: str) -> float:
    value = env.controller.metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


def emulator(env: Env) -> Any:
    if env.devcluster is None:
        pytest.skip("needs the emulator (it watches and cuts the API server's streams)")
    return env.devcluster


async def test_a_child_edited_by_hand_is_repaired_within_two_seconds(env: Env) -> None:
    await provisioned(env, "edit")
    reconciles = env.controller.reconciles
    await env.client.patch("ConfigMap", "landlord-entitlements", {"data": {"plan": "hacked"}}, "t-edit")
    opened: dict[str, Any] = {"spec": {"ingress": [{}]}}  # would let anything in
    await env.client.patch("NetworkPolicy", "landlord-isolation", opened, "t-edit")

    async def repaired() -> bool:
        cm = await env.get("ConfigMap", "landlord-entitlements", "t-edit")
        policy = await env.get("NetworkPolicy", "landlord-isolation", "t-edit")
        return bool(cm and policy and cm["data"]["plan"] == "basic" and {} not in policy["spec"]["ingress"])

    elapsed = await took(repaired)
    print(f"edited children repaired in {elapsed:.3f}s")
    assert elapsed < BOUND
    assert env.controller.reconciles - reconciles <= 4  # the watch events queued it, not a pass over everyone
    await env.quiet()
    assert all(c["status"] == "True" for c in conditions(await env.get("Tenant", "edit")).values())


async def test_a_child_deleted_by_hand_is_recreated_within_two_seconds(env: Env) -> None:
    await provisioned(env, "gone")
    await env.client.delete("ResourceQuota", "landlord-quota", "t-gone")
    await env.client.delete("NetworkPolicy", "landlord-isolation", "t-gone")

    async def back() -> bool:
        quota = await env.get("ResourceQuota", "landlord-quota", "t-gone")
        policy = await env.get("NetworkPolicy", "landlord-isolation", "t-gone")
        return quota is not None and policy is not None

    elapsed = await took(back)
    print(f"deleted children recreated in {elapsed:.3f}s")
    assert elapsed < BOUND
    await env.quiet()
    recreated = [e["message"] for e in await events(env, "gone") if e["reason"] == "Recreated"]
    assert recreated and any("ResourceQuota t-gone/landlord-quota" in m for m in recreated)


async def test_a_namespace_deleted_by_hand_is_recreated_within_two_seconds_of_being_gone(env: Env) -> None:
    cluster = emulator(env)
    await provisioned(env, "nsgone")
    namespace = await env.get("Namespace", "t-nsgone")
    assert namespace is not None
    connector = aiohttp.TCPConnector(ssl=cluster.client_ssl_context() or False)
    async with aiohttp.ClientSession(connector=connector) as session:
        http = Http(cluster.url, session)
        async with http.watch(
            "/api/v1/namespaces",
            fieldSelector="metadata.name=t-nsgone",
            resourceVersion=namespace["metadata"]["resourceVersion"],
        ) as stream:
            await env.client.delete("Namespace", "t-nsgone")
            seen: dict[str, float] = {}
            while "back" not in seen:
                event = await stream.next(timeout=15)
                assert event is not None, "the watch ended"
                if event["type"] == "MODIFIED" and event["object"]["metadata"].get("deletionTimestamp"):
                    seen.setdefault("terminating", time.monotonic())
                elif event["type"] == "DELETED":
                    seen["gone"] = time.monotonic()
                elif event["type"] == "ADDED" and "gone" in seen:
                    seen["back"] = time.monotonic()
    elapsed = seen["back"] - seen["gone"]
    print(f"namespace recreated {elapsed:.3f}s after it was gone")
    assert elapsed < BOUND

    async def whole() -> bool:
        obj = await env.get("Tenant", "nsgone")
        quota = await env.get("ResourceQuota", "landlord-quota", "t-nsgone")
        return quota is not None and all(c["status"] == "True" for c in conditions(obj).values())

    await eventually(whole, timeout=10)


async def test_a_deletion_during_a_watch_outage_past_the_history_is_repaired_after_the_reconnect(env: Env) -> None:
    cluster = emulator(env)
    await provisioned(env, "outage", "calm")
    controller = env.controller
    store = cluster.cluster
    # In one step of the loop (no watch can reconnect in between): a policy is deleted, the
    # entitlements edited and another tenant's namespace deleted, then every watch is cut and the
    # history forgotten, as after an outage longer than the API server keeps events. Resuming
    # answers 410 Gone: the children's informers and kopf list again.
    store.delete(store.find("networking.k8s.io", "networkpolicies"), "t-outage", "landlord-isolation")
    store.patch(
        store.find("", "configmaps"), "t-outage", "landlord-entitlements", "merge", {"data": {"plan": "x"}}, "someone"
    )
    store.delete(store.find("", "namespaces"), None, "t-calm")  # emptied and removed by the emulator meanwhile
    assert cluster.drop_watches() > 0

    async def repaired() -> bool:
        policy = await env.get("NetworkPolicy", "landlord-isolation", "t-outage")
        cm = await env.get("ConfigMap", "landlord-entitlements", "t-outage")
        namespace = await env.get("Namespace", "t-calm")
        quota = await env.get("ResourceQuota", "landlord-quota", "t-calm")
        return (
            policy is not None
            and cm is not None
            and cm["data"]["plan"] == "basic"
            and namespace is not None
            and not namespace["metadata"].get("deletionTimestamp")
            and quota is not None
        )

    elapsed = await took(repaired, timeout=30)
    print(f"repaired {elapsed:.3f}s after the outage")
    assert env.controller is controller  # the same operator run: no restart
    # The children's informers list again themselves; kopf's lists of the Tenants (its watch was
    # cut too) have the indexes checked against the API server.
    await eventually(lambda: metric(env, "landlord_index_resyncs_total") >= 1, timeout=10)
    # t-outage's policy, and (when the emulator emptied t-calm before kopf listed again) t-calm's.
    assert metric(env, "landlord_missed_deletions_total", kind="NetworkPolicy") in (1, 2)
    await env.quiet()
    live = [c for c in controller.inventory.children("outage") if c["kind"] == "NetworkPolicy"]
    assert sorted(c["metadata"]["name"] for c in live).count("landlord-isolation") == 1  # not the stale copy too
    assert all(c["status"] == "True" for c in conditions(await env.get("Tenant", "outage")).values())
    assert all(c["status"] == "True" for c in conditions(await env.get("Tenant", "calm")).values())


async def test_the_first_pass_after_a_restart_waits_for_the_indexes_and_writes_nothing(env: Env) -> None:
    names = [f"r{number:02d}" for number in range(40)]
    await provisioned(env, *names)
    await env.stop_operator()
    # A drift pass every 50 ms: the first comes long before kopf has listed 40 tenants' children.
    await start(env, drift=0.05)
    controller = env.controller
    await eventually(lambda: controller.reconciles >= 3 * len(names), timeout=60)
    assert controller.indexed.is_set()
    assert metric(env, "landlord_indexes_ready") == 1
    writes = {method: controller.client.counts[method] for method in ("POST", "PUT", "PATCH", "DELETE")}
    print(f"{controller.reconciles} reconciles after the restart, writes {writes}")
    assert sum(writes.values()) == 0


async def test_objects_a_tenant_labels_as_landlords_are_not_indexed(env: Env) -> None:
    count = 500
    await provisioned(env, "host", configmaps=2 * count + 10)
    labels = {"landlord.dev/tenant": "host", "landlord.dev/plan": "basic", "app.kubernetes.io/managed-by": "landlord"}
    semaphore = asyncio.Semaphore(16)

    async def create(name: str, labels: dict[str, str]) -> None:
        async with semaphore:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "t-host"}}
            body["metadata"]["labels"] = labels
            await env.client.create(body)

    # Copies of Landlord's labels, on names Landlord never renders; and the tenant label alone.
    copied = [create(f"landlord-x{number}", labels) for number in range(count)]
    tenant_only = [create(f"app-{number}", {"landlord.dev/tenant": "host"}) for number in range(count)]
    await asyncio.gather(*copied, *tenant_only)
    await eventually(lambda: metric(env, "landlord_ignored_events_total", kind="ConfigMap") >= count, timeout=60)
    await env.quiet()

    def indexed(controller: Any) -> list[str]:
        index = controller.inventory.indices[child_index_name("ConfigMap")]
        return sorted(c["metadata"]["name"] for key in list(index) for c in index[key])

    controller = env.controller
    children = sorted(key_of(c) for c in controller.inventory.children("host"))
    assert len(children) == 6  # the namespace, quota, limits, the policy, the binding, entitlements
    assert indexed(controller) == ["landlord-entitlements"]
    # The operator parsed only the copies (filtered by name) and never saw the others: the
    # watch asks the API server for Landlord's labels.
    assert metric(env, "landlord_ignored_events_total", kind="ConfigMap") == count
    assert controller.client.counts["DELETE"] == 0  # not pruned: the tenant's own objects
    await env.stop_operator()

    await start(env)
    controller = env.controller
    await eventually(lambda: metric(env, "landlord_ignored_events_total", kind="ConfigMap") >= count, timeout=60)
    await env.quiet()
    assert indexed(controller) == ["landlord-entitlements"]
    assert sorted(key_of(c) for c in controller.inventory.children("host")) == children
    assert metric(env, "landlord_ignored_events_total", kind="ConfigMap") == count
    assert controller.client.counts["writes"] == 0
    assert len(await env.client.list("ConfigMap", "t-host")) >= 2 * count + 1
