"""The operator end to end: tenants become namespaces with every child, and follow their plan."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tests.helpers import eventually
from tests.integration.conftest import ROOT, Env

CHILDREN = [
    ("Namespace", "t-{name}", None),
    ("ResourceQuota", "landlord-quota", "t-{name}"),
    ("LimitRange", "landlord-defaults", "t-{name}"),
    ("NetworkPolicy", "landlord-isolation", "t-{name}"),
    ("RoleBinding", "landlord-owners", "t-{name}"),
    ("ConfigMap", "landlord-entitlements", "t-{name}"),
]


def catalog(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((ROOT / name).read_text()))


def plan(name: str = "basic", **limits: Any) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Plan",
        "metadata": {"name": name},
        "spec": {
            "displayName": name.title(),
            "limits": {"cpu": "2", "memory": "4Gi", "storage": "10Gi", "pods": 20, "users": 5, **limits},
            "features": ["crm"],
            "pricing": {"currency": "EUR", "prices": {"Monthly": "10.00"}},
        },
    }


def addon(name: str, limits: dict[str, Any], max_quantity: int = 10, plans: list[str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "AddOn",
        "metadata": {"name": name},
        "spec": {
            "maxQuantity": max_quantity,
            "limits": limits,
            "plans": plans or [],
            "pricing": {"currency": "EUR", "prices": {"Monthly": "5.00"}},
        },
    }


def tenant(name: str, plan_name: str = "basic", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": {
            "plan": plan_name,
            "owner": {
                "name": "Owner",
                "email": f"{name}@example.com",
                "subjects": [{"kind": "User", "name": f"{name}@example.com"}],
            },
            **spec,
        },
    }


async def quota(env: Env, name: str) -> dict[str, str]:
    obj = await env.get("ResourceQuota", "landlord-quota", f"t-{name}")
    assert obj is not None
    return dict(obj["spec"]["hard"])


async def test_create_provisions_every_child_and_becomes_active(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("acme"))
    status = (await env.wait_phase("acme", "Active"))["status"]
    for kind, name, namespace in CHILDREN:
        obj = await env.get(kind, name.format(name="acme"), namespace.format(name="acme") if namespace else None)
        assert obj is not None, f"{kind} {name} missing"
        assert obj["metadata"]["labels"]["landlord.dev/tenant"] == "acme"
    assert status["namespace"] == "t-acme" and status["url"] == "https://acme.apps.example.com"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "NamespaceReady": "True",
        "QuotaReady": "True",
        "NetworkReady": "True",
        "AccessReady": "True",
        "EntitlementsReady": "True",
        "PlanSynced": "True",
    }
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])
    assert status["effective"]["limits"]["cpu"] == "2" and status["effective"]["features"] == ["crm"]
    assert status["planSync"] == {"state": "Synced"}
    assert [h["plan"] for h in status["planHistory"]] == ["basic"]
    assert await quota(env, "acme") == {
        "requests.cpu": "2",
        "requests.memory": "4Gi",
        "requests.storage": "10Gi",
        "pods": "20",
        "requests.ephemeral-storage": "10Gi",
        "configmaps": "100",
        "secrets": "100",
        "services": "20",
        "persistentvolumeclaims": "20",
        "count/deployments.apps": "100",
        "count/statefulsets.apps": "50",
        "count/replicasets.apps": "500",
        "count/daemonsets.apps": "20",
        "count/jobs.batch": "200",
        "count/cronjobs.batch": "50",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    binding = await env.get("RoleBinding", "landlord-owners", "t-acme")
    assert (
        binding["roleRef"]["name"] == "landlord-tenant-owner" and binding["subjects"][0]["name"] == "acme@example.com"
    )
    tenant_obj = await env.get("Tenant", "acme")
    assert "landlord.dev/tenant-cleanup" in tenant_obj["metadata"]["finalizers"]


async def effective(env: Env, name: str) -> dict[str, Any]:
    obj = await env.get("Tenant", name)
    return dict(obj["status"]["effective"]["limits"])


async def test_plan_edit_reaches_auto_tenants_not_locked_ones(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("auto"))
    await env.apply(tenant("locked", syncPolicy="Locked"))
    await env.wait_phase("auto", "Active")
    locked = await env.wait_phase("locked", "Active")
    assert locked["status"]["planSync"]["state"] == "Locked"
    await env.apply(plan(cpu="8"))

    async def auto_updated() -> bool:
        return (await quota(env, "auto"))["requests.cpu"] == "8"

    await eventually(auto_updated)
    await env.quiet()
    assert (await quota(env, "locked"))["requests.cpu"] == "2"
    assert (await effective(env, "locked"))["cpu"] == "2"
    # Unlocking lets the plan through.
    await env.apply(tenant("locked", syncPolicy="Auto"))

    async def unlocked() -> bool:
        return (await quota(env, "locked"))["requests.cpu"] == "8"

    await eventually(unlocked)


async def test_addon_quantity_change_and_overrides(env: Env) -> None:
    await env.apply(plan())
    await env.apply(addon("more-storage", {"storage": "5Gi"}))
    await env.apply(addon("unlimited-pods", {"pods": "unlimited"}, max_quantity=1))
    await env.start_operator()
    await env.apply(tenant("t1", addOns=[{"name": "more-storage", "quantity": 2}]))
    await env.wait_phase("t1", "Active")
    assert (await quota(env, "t1"))["requests.storage"] == "20Gi"
    await env.apply(tenant("t1", addOns=[{"name": "more-storage", "quantity": 4}, {"name": "unlimited-pods"}]))

    async def grown() -> bool:
        hard = await quota(env, "t1")
        return hard["requests.storage"] == "30Gi" and "pods" not in hard

    await eventually(grown)
    assert (await effective(env, "t1"))["pods"] == "unlimited"
    await env.apply(
        tenant(
            "t1",
            addOns=[{"name": "more-storage", "quantity": 4}],
            overrides={"limits": {"storage": "100Gi"}, "features": ["beta"]},
        )
    )

    async def customized() -> bool:
        obj = await env.get("Tenant", "t1")
        status = obj["status"]
        return status["planSync"]["state"] == "Customized" and status["effective"]["features"] == ["beta", "crm"]

    await eventually(customized)
    assert (await quota(env, "t1"))["requests.storage"] == "100Gi"
    configmap = await env.get("ConfigMap", "landlord-entitlements", "t-t1")
    assert '"beta"' in configmap["data"]["entitlements.json"]


async def test_refusals_name_the_problem(env: Env) -> None:
    await env.apply(plan())
    await env.apply(addon("only-gold", {"users": 1}, plans=["gold"]))
    await env.start_operator()
    await env.apply(tenant("noplan", plan_name="missing"))
    await env.apply(tenant("wrongaddon", addOns=[{"name": "only-gold"}]))
    pending = await env.wait_phase("noplan", "Pending")
    assert pending["status"]["reason"] == "PlanNotFound" and "create it" in pending["status"]["message"]
    failed = await env.wait_phase("wrongaddon", "Failed")
    assert failed["status"]["reason"] == "AddOnNotAllowed"
    assert await env.get("Namespace", "t-noplan") is None
    # The plan appears later (GitOps order does not matter): the tenant gets provisioned.
    await env.apply(plan("missing"))
    await env.wait_phase("noplan", "Active")


async def test_retired_plan_refuses_new_tenants_but_keeps_existing(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("old"))
    await env.wait_phase("old", "Active")
    retired = plan()
    retired["spec"]["retired"] = True
    await env.apply(retired)
    await env.apply(tenant("new"))
    failed = await env.wait_phase("new", "Failed")
    assert failed["status"]["reason"] == "PlanRetired" and "choose another plan" in failed["status"]["message"]
    await env.quiet()
    assert await env.tenant_phase("old") == "Active"
    assert await env.get("Namespace", "t-new") is None


async def test_reseller_allocation(env: Env) -> None:
    await env.apply(plan())
    await env.apply(
        {
            "apiVersion": "landlord.dev/v1alpha1",
            "kind": "Reseller",
            "metadata": {"name": "agency"},
            "spec": {
                "baseDomain": "apps.agency.example",
                "branding": {"productName": "AgencyCRM"},
                "allocation": {"tenants": 3, "limits": {"cpu": "5"}, "oversell": False},
            },
        }
    )
    await env.start_operator()
    for name in ("r1", "r2", "r3", "r4"):
        await env.apply(tenant(name, reseller="agency"))
        await env.wait_phase(name, "Pending" if name == "r4" else "Active")
    first = await env.get("Tenant", "r1")
    assert first["status"]["url"] == "https://r1.apps.agency.example"
    third = await env.get("Tenant", "r3")
    assert third["status"]["planSync"] == {
        "state": "Unsynchronized",
        "unsynchronized": [{"property": "limits.cpu", "promised": "2", "available": "1"}],
    }
    assert (await quota(env, "r3"))["requests.cpu"] == "1"
    assert {c["type"]: c["status"] for c in third["status"]["conditions"]}["PlanSynced"] == "False"
    fourth = await env.get("Tenant", "r4")
    assert fourth["status"]["reason"] == "AllocationExhausted"
    configmap = await env.get("ConfigMap", "landlord-entitlements", "t-r1")
    assert "AgencyCRM" in configmap["data"]["entitlements.json"]
    # Freeing a slot admits the waiting tenant.
    await env.client.delete("Tenant", "r1")
    await env.wait_phase("r4", "Active")


async def test_suspend_and_activate_restore_replicas(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("sus"))
    await env.wait_phase("sus", "Active")
    for name, replicas in (("web", 3), ("worker", 2)):
        await env.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": "t-sus"},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
                    },
                },
            }
        )
    await env.apply(tenant("sus", suspend=True))
    suspended = await env.wait_phase("sus", "Suspended")
    assert suspended["status"]["reason"] == "Manual"
    web = await env.get("Deployment", "web", "t-sus")
    assert web["spec"]["replicas"] == 0
    recorded = {w["name"]: w["replicas"] for w in suspended["status"]["suspension"]["workloads"]}
    assert recorded == {"web": 3, "worker": 2}  # in the Tenant's status, where the tenant cannot write
    assert await env.get("Namespace", "t-sus") is not None
    configmap = await env.get("ConfigMap", "landlord-entitlements", "t-sus")
    assert configmap["data"]["suspended"] == "true"
    await env.apply(tenant("sus", suspend=False))
    await env.wait_phase("sus", "Active")
    web = await env.get("Deployment", "web", "t-sus")
    worker = await env.get("Deployment", "worker", "t-sus")
    assert web["spec"]["replicas"] == 3 and worker["spec"]["replicas"] == 2
    assert "suspension" not in (await env.get("Tenant", "sus"))["status"]


async def test_expiry_suspends(env: Env) -> None:
    from datetime import UTC, datetime, timedelta

    await env.apply(plan())
    await env.start_operator()
    soon = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await env.apply(tenant("exp", expiresAt=soon))
    await env.wait_phase("exp", "Active")
    expired = await env.wait_phase("exp", "Suspended", timeout=20)
    assert expired["status"]["reason"] == "Expired"


async def test_trial(env: Env) -> None:
    trial_plan = plan()
    trial_plan["spec"]["pricing"]["trialDays"] = 14
    await env.apply(trial_plan)
    await env.start_operator()
    await env.apply(tenant("tri"))
    obj = await env.wait_phase("tri", "Trial")
    created = obj["metadata"]["creationTimestamp"]
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(created.replace("Z", "+00:00"))
    assert obj["status"]["trialEndsAt"] == (start + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_deletion_cleans_up_and_releases_finalizers(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("gone", deletionPolicy="Delete"))
    obj = await env.wait_phase("gone", "Active")
    assert obj["status"]["deletionPolicy"] == "Delete"
    await env.client.delete("Tenant", "gone")

    async def removed() -> bool:
        return await env.get("Tenant", "gone") is None and await env.get("Namespace", "t-gone") is None

    await eventually(removed)


async def test_plan_in_use_cannot_be_deleted(env: Env) -> None:
    await env.apply(plan())
    await env.apply(plan("other"))
    await env.start_operator()
    await env.apply(tenant("user"))
    await env.wait_phase("user", "Active")

    async def counted() -> bool:
        obj = await env.get("Plan", "basic")
        return (obj.get("status") or {}).get("tenants") == 1 and "landlord.dev/in-use" in obj["metadata"]["finalizers"]

    await eventually(counted)
    await env.client.delete("Plan", "basic")

    async def held() -> dict[str, Any] | None:
        obj = await env.get("Plan", "basic")
        return obj if obj and "deletion is held" in (obj.get("status") or {}).get("message", "") else None

    held_plan = await eventually(held)
    assert "user" in held_plan["status"]["message"]
    await env.quiet()
    assert await env.tenant_phase("user") == "Active"
    await env.apply(tenant("user", plan_name="other"))

    async def plan_gone() -> bool:
        return await env.get("Plan", "basic") is None

    await eventually(plan_gone)
    obj = await env.wait_phase("user", "Active")
    assert [h["plan"] for h in obj["status"]["planHistory"]] == ["basic", "other"]


async def test_drift_is_repaired(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("drift"))
    await env.wait_phase("drift", "Active")
    await env.client.delete("ResourceQuota", "landlord-quota", "t-drift")
    await env.client.patch("ConfigMap", "landlord-entitlements", {"data": {"plan": "hacked"}}, "t-drift")
    await env.client.delete("NetworkPolicy", "landlord-isolation", "t-drift")

    async def repaired() -> bool:
        cm = await env.get("ConfigMap", "landlord-entitlements", "t-drift")
        return (
            await env.get("ResourceQuota", "landlord-quota", "t-drift") is not None
            and await env.get("NetworkPolicy", "landlord-isolation", "t-drift") is not None
            and cm["data"]["plan"] == "basic"
        )

    await eventually(repaired, timeout=10)


async def test_no_op_reconcile_makes_zero_writes(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    for name in ("z1", "z2", "z3"):
        await env.apply(tenant(name))
    for name in ("z1", "z2", "z3"):
        await env.wait_phase(name, "Active")
    await env.quiet(settle=1.5)
    client = env.controller.client
    writes_before = client.counts["writes"]
    server_writes = env.devcluster.api.requests["writes"] if env.devcluster else None
    reconciles_before = env.controller.reconciles
    for name in ("z1", "z2", "z3"):
        env.controller.queue.add(("Tenant", name))
    await eventually(lambda: env.controller.reconciles >= reconciles_before + 3)
    await env.quiet(settle=2.5)  # at least two drift passes (driftInterval is 1s)
    assert env.controller.reconciles >= reconciles_before + 6
    assert client.counts["writes"] == writes_before
    if env.devcluster is not None:
        assert env.devcluster.api.requests["writes"] == server_writes


async def test_restart_mid_provisioning_converges_without_duplicates(env: Env) -> None:
    import asyncio

    await env.apply(plan())
    operator = await env.start_operator()
    client = operator.state.client
    applied: list[str] = []
    original = client.apply

    async def crashing_apply(obj: dict[str, Any], force: bool = True) -> dict[str, Any]:
        if len(applied) >= 3:
            await asyncio.sleep(3600)  # hangs between two child writes until the operator is killed
        applied.append(obj["kind"])
        return await original(obj, force)

    client.apply = crashing_apply  # type: ignore[method-assign]
    await env.apply(tenant("mid"))
    await eventually(lambda: len(applied) >= 3)
    await env.stop_operator()
    assert await env.get("Namespace", "t-mid") is not None
    assert await env.get("ConfigMap", "landlord-entitlements", "t-mid") is None  # stopped half-way
    await env.start_operator()
    obj = await env.wait_phase("mid", "Active")
    assert len(obj["status"]["planHistory"]) == 1
    for kind, name, namespace in CHILDREN:
        assert await env.get(kind, name.format(name="mid"), namespace.format(name="mid") if namespace else None)
    policies = await env.client.list("NetworkPolicy", "t-mid")
    assert sorted(p["metadata"]["name"] for p in policies) == sorted(n for k, n, _ in CHILDREN if k == "NetworkPolicy")


async def test_events_on_transitions(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("ev"))
    await env.wait_phase("ev", "Active")

    async def reasons() -> list[str]:
        events = await env.client.list("Event", "default")
        found = [e["reason"] for e in events if e["involvedObject"]["name"] == "ev"]
        return found if "Provisioned" in found else []

    found = await eventually(reasons)
    # The transition to provisioned, and no "Provisioning" before it: a new tenant's one status write
    # comes after its children (a write fewer, and an Event fewer).
    assert "Provisioning" not in found and found.count("Provisioned") == 1


async def test_examples_come_up(env: Env) -> None:
    from landlord.documents import load

    documents = [d for d in load([ROOT / "plans", ROOT / "addons", ROOT / "examples"]) if d.is_landlord]
    order = ["Plan", "AddOn", "Reseller", "Tenant"]
    for doc in sorted(documents, key=lambda d: order.index(d.kind)):
        await env.apply(copy.deepcopy(doc.body))
    await env.start_operator()
    expected = {
        "acme": "Active",  # spec.billing.skipTrial: a direct customer who pays from day one
        "bakery": "Trial",
        "florist": "Trial",
        "newco": "Trial",
        "latepayer": "Suspended",
        "goodcause": "Trial",
        "shopco": "Trial",
    }
    for name, phase in expected.items():
        await env.wait_phase(name, phase)
    goodcause = await env.get("Tenant", "goodcause")
    assert goodcause["status"]["planSync"]["state"] == "Locked"
    assert goodcause["status"]["effective"]["limits"]["storage"] == "80Gi"


async def test_children_no_longer_desired_are_pruned(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("pr"))
    await env.wait_phase("pr", "Active")
    assert await env.get("RoleBinding", "landlord-owners", "t-pr") is not None
    # The tenant's own objects are never touched, even with a Landlord label.
    await env.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "mine", "namespace": "t-pr", "labels": {"landlord.dev/tenant": "pr"}},
        }
    )
    await env.client.patch("Tenant", "pr", {"spec": {"owner": {"subjects": None}}})

    async def pruned() -> bool:
        return await env.get("RoleBinding", "landlord-owners", "t-pr") is None

    await eventually(pruned)
    obj = await env.wait_phase("pr", "Active")
    access = {c["type"]: c for c in obj["status"]["conditions"]}["AccessReady"]
    assert access["reason"] == "NoSubjects"
    await env.quiet()
    assert await env.get("ConfigMap", "mine", "t-pr") is not None


async def test_metrics(env: Env) -> None:
    import socket

    import aiohttp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env.config = env.config.__class__({**env.config.raw, "metrics": {"port": port}})
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("m1"))
    await env.apply(tenant("m2", suspend=True))
    await env.wait_phase("m1", "Active")
    await env.wait_phase("m2", "Suspended")

    async def scrape() -> str | None:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
        return text if 'landlord_tenant_transitions_total{phase="Suspended"} 1.0' in text else None

    text = await eventually(scrape)  # counters move just after the status write the test waited for
    assert 'landlord_tenants{phase="Active"} 1.0' in text
    assert 'landlord_tenants{phase="Suspended"} 1.0' in text
    assert 'landlord_tenant_plan_sync{state="Synced"} 2.0' in text
    assert 'landlord_reconciles_total{kind="Tenant",result="success"}' in text
    assert 'landlord_tenant_transitions_total{phase="Active"} 1.0' in text
    assert 'landlord_api_requests_total{method="PATCH"}' in text
    assert "landlord_reconcile_duration_seconds_bucket" in text


async def test_a_reseller_with_tenants_cannot_be_deleted(env: Env) -> None:
    reseller = {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Reseller",
        "metadata": {"name": "agency"},
        "spec": {"baseDomain": "apps.agency.example"},
    }
    await env.apply(plan())
    await env.apply(reseller)
    await env.start_operator()
    await env.apply(tenant("client", reseller="agency"))
    await env.wait_phase("client", "Active")

    async def guarded() -> bool:
        obj = await env.get("Reseller", "agency")
        return "landlord.dev/in-use" in obj["metadata"].get("finalizers", [])

    await eventually(guarded)
    await env.client.delete("Reseller", "agency")

    async def held() -> dict[str, Any] | None:
        obj = await env.get("Reseller", "agency")
        return obj if obj and "deletion is held" in (obj.get("status") or {}).get("message", "") else None

    assert "client" in (await eventually(held))["status"]["message"]
    assert (await env.get("Tenant", "client"))["status"]["url"] == "https://client.apps.agency.example"
    await env.client.delete("Tenant", "client")

    async def gone() -> bool:
        return await env.get("Reseller", "agency") is None

    await eventually(gone, timeout=20)
