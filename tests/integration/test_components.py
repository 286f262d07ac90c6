"""The component seam end to end, with the drift interval at an hour (as users run it, or longer).

The other integration tests drift every second to go fast; these show what that knob would
hide: every repair, plan edit, expiry and trial end here reaches the tenant through the
watches and wake-ups alone, and each condition is computed from what was observed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import eventually
from tests.integration import conftest
from tests.integration.conftest import Env
from tests.integration.test_tenancy import addon, plan, quota, tenant

HOUR = 3600


async def start(env: Env) -> None:
    env.config = conftest.test_config(driftInterval=HOUR)
    await env.start_operator()


def conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


async def events(env: Env, name: str) -> list[dict[str, Any]]:
    found = await env.client.list("Event", "default")
    return [e for e in found if e["involvedObject"].get("name") == name and e["involvedObject"]["kind"] == "Tenant"]


async def test_child_deleted_by_hand_shows_in_its_condition_until_it_is_back(env: Env) -> None:
    await env.apply(plan())
    await start(env)
    await env.apply(tenant("hand"))
    await env.wait_phase("hand", "Active")
    # Someone deletes a NetworkPolicy that a foreign finalizer holds: it stays, terminating.
    await env.client.patch(
        "NetworkPolicy", "landlord-isolation", {"metadata": {"finalizers": ["example.com/hold"]}}, "t-hand"
    )
    await env.client.delete("NetworkPolicy", "landlord-isolation", "t-hand")

    async def network_false() -> dict[str, Any] | None:
        obj = await env.get("Tenant", "hand")
        cond = conditions(obj).get("NetworkReady")
        return obj if cond and cond["status"] == "False" else None

    obj = await eventually(network_false, timeout=10)
    cond = conditions(obj)["NetworkReady"]
    assert cond["reason"] == "Terminating"
    assert "landlord-isolation" in cond["message"] and "example.com/hold" in cond["message"]
    assert conditions(obj)["Ready"]["status"] == "False"
    assert conditions(obj)["Ready"]["reason"] == "NetworkNotReady"
    assert obj["status"]["phase"] == "Active"  # nothing a person must fix: not Failed
    assert conditions(obj)["QuotaReady"]["status"] == "True"
    # The finalizer goes: the policy is gone, created again, and the condition recovers.
    await env.client.patch("NetworkPolicy", "landlord-isolation", {"metadata": {"finalizers": None}}, "t-hand")

    async def recovered() -> dict[str, Any] | None:
        obj = await env.get("Tenant", "hand")
        ok = all(c["status"] == "True" for c in conditions(obj).values())
        live = await env.get("NetworkPolicy", "landlord-isolation", "t-hand")
        return obj if ok and live is not None and not live["metadata"].get("deletionTimestamp") else None

    await eventually(recovered, timeout=10)
    reasons = [e["reason"] for e in await events(env, "hand")]
    assert "Terminating" in reasons and "Recovered" in reasons


async def test_children_deleted_or_edited_by_hand_are_repaired_without_the_drift_pass(env: Env) -> None:
    await env.apply(plan())
    await start(env)
    await env.apply(tenant("rep"))
    await env.wait_phase("rep", "Active")
    await env.client.delete("ResourceQuota", "landlord-quota", "t-rep")
    await env.client.patch("ConfigMap", "landlord-entitlements", {"data": {"plan": "hacked"}}, "t-rep")

    async def repaired() -> bool:
        cm = await env.get("ConfigMap", "landlord-entitlements", "t-rep")
        return await env.get("ResourceQuota", "landlord-quota", "t-rep") is not None and cm["data"]["plan"] == "basic"

    await eventually(repaired, timeout=10)
    recreated = [e for e in await events(env, "rep") if e["reason"] == "Recreated"]
    assert recreated and "ResourceQuota t-rep/landlord-quota" in recreated[0]["message"]


async def test_a_child_the_operator_wrote_recently_is_recreated_when_deleted(env: Env) -> None:
    await env.apply(plan())
    await start(env)
    await env.apply(tenant("fresh"))
    await env.wait_phase("fresh", "Active")
    await env.apply(plan(cpu="5"))  # the operator rewrites the quota: its response is remembered

    async def rewritten() -> bool:
        return (await quota(env, "fresh")).get("requests.cpu") == "5"

    await eventually(rewritten, timeout=10)
    await env.quiet()
    await env.client.delete("ResourceQuota", "landlord-quota", "t-fresh")

    async def back() -> dict[str, Any] | None:
        obj = await env.get("Tenant", "fresh")
        live = await env.get("ResourceQuota", "landlord-quota", "t-fresh")
        return obj if live is not None and conditions(obj)["QuotaReady"]["status"] == "True" else None

    await eventually(back, timeout=10)


async def test_a_child_held_terminating_costs_no_writes(env: Env) -> None:
    await env.apply(plan())
    await start(env)
    await env.apply(tenant("held"))
    await env.wait_phase("held", "Active")
    await env.client.patch(
        "NetworkPolicy", "landlord-isolation", {"metadata": {"finalizers": ["example.com/hold"]}}, "t-held"
    )
    await env.client.delete("NetworkPolicy", "landlord-isolation", "t-held")

    async def reported() -> bool:
        cond = conditions(await env.get("Tenant", "held")).get("NetworkReady") or {}
        return cond.get("reason") == "Terminating"

    await eventually(reported, timeout=10)
    await env.quiet()
    writes = env.controller.client.counts["writes"]
    for _ in range(3):  # the tenant is looked at again and again: nothing to write while it terminates
        env.controller.queue.add(("Tenant", "held"))
        await env.quiet()
    assert env.controller.client.counts["writes"] == writes


async def test_namespace_deleted_by_hand_is_reported_then_recreated(env: Env) -> None:
    await env.apply(plan())
    await start(env)
    await env.apply(tenant("nsdel"))
    await env.wait_phase("nsdel", "Active")
    # A pod-less stand-in for slow content: a ConfigMap of the tenant with a finalizer keeps
    # the namespace terminating until the test lets it go.
    await env.client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app", "namespace": "t-nsdel", "finalizers": ["example.com/hold"]},
        }
    )
    await env.client.delete("Namespace", "t-nsdel")

    async def namespace_false() -> dict[str, Any] | None:
        obj = await env.get("Tenant", "nsdel")
        cond = conditions(obj).get("NamespaceReady")
        return obj if cond and cond["status"] == "False" else None

    obj = await eventually(namespace_false, timeout=10)
    assert conditions(obj)["NamespaceReady"]["reason"] == "Terminating"
    assert conditions(obj)["QuotaReady"]["reason"] == "Waiting"
    await env.client.patch("ConfigMap", "app", {"metadata": {"finalizers": None}}, "t-nsdel")

    async def back() -> bool:
        obj = await env.get("Tenant", "nsdel")
        ns = await env.get("Namespace", "t-nsdel")
        return (
            ns is not None
            and not ns["metadata"].get("deletionTimestamp")
            and await env.get("ResourceQuota", "landlord-quota", "t-nsdel") is not None
            and all(c["status"] == "True" for c in conditions(obj).values())
        )

    await eventually(back, timeout=15)


async def test_plan_edit_and_expiry_reach_tenants_with_an_hour_long_drift_interval(env: Env) -> None:
    await env.apply(plan())
    await start(env)
    soon = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await env.apply(tenant("edit"))
    await env.apply(tenant("expiring", expiresAt=soon))
    await env.wait_phase("edit", "Active")
    await env.apply(plan(cpu="6"))

    async def edited() -> bool:
        return (await quota(env, "edit")).get("requests.cpu") == "6"

    await eventually(edited, timeout=10)
    expired = await env.wait_phase("expiring", "Suspended", timeout=15)
    assert expired["status"]["reason"] == "Expired"


async def test_an_addon_only_change_can_remove_a_quota_key(env: Env) -> None:
    await env.apply(plan())
    await env.apply(addon("unlimited-cpu", {"cpu": "unlimited"}))
    await start(env)
    await env.apply(tenant("unl"))
    await env.wait_phase("unl", "Active")
    assert "requests.cpu" in await quota(env, "unl")
    await env.apply(tenant("unl", addOns=[{"name": "unlimited-cpu"}]))

    async def key_removed() -> bool:
        return "requests.cpu" not in await quota(env, "unl")

    await eventually(key_removed, timeout=10)
    await env.apply(tenant("unl"))

    async def key_back() -> bool:
        return (await quota(env, "unl")).get("requests.cpu") == "2"

    await eventually(key_back, timeout=10)


async def test_operator_refuses_currency_mismatch_and_quantity_above_max(env: Env) -> None:
    await env.apply(plan())
    dollars = addon("dollars", {"users": 1})
    dollars["spec"]["pricing"]["currency"] = "USD"
    await env.apply(dollars)
    await env.apply(addon("pack", {"users": 5}, max_quantity=2))
    await start(env)
    await env.apply(tenant("usd", addOns=[{"name": "dollars"}]))
    await env.apply(tenant("many", addOns=[{"name": "pack", "quantity": 3}]))
    usd = await env.wait_phase("usd", "Failed")
    assert usd["status"]["reason"] == "CurrencyMismatch"
    assert usd["status"]["message"].startswith("spec.addOns[0].name: ")
    assert "USD" in usd["status"]["message"] and "EUR" in usd["status"]["message"]
    many = await env.wait_phase("many", "Failed")
    assert many["status"]["reason"] == "QuantityTooHigh"
    assert many["status"]["message"].startswith("spec.addOns[0].quantity: ")
    assert "lower it to 2 or less" in many["status"]["message"]
    assert await env.get("Namespace", "t-usd") is None and await env.get("Namespace", "t-many") is None
    # Fixed by the user: provisioned.
    await env.apply(tenant("many", addOns=[{"name": "pack", "quantity": 2}]))
    await env.wait_phase("many", "Active")


async def test_last_transition_time_is_kept_while_a_condition_status_is_unchanged(env: Env) -> None:
    await env.apply(plan())
    await start(env)
    await env.apply(tenant("ltt"))
    before = await env.wait_phase("ltt", "Active")
    await env.apply(plan(cpu="3"))  # the status changes (effective limits), the conditions' status does not

    async def updated() -> dict[str, Any] | None:
        obj = await env.get("Tenant", "ltt")
        return obj if obj["status"]["effective"]["limits"]["cpu"] == "3" else None

    after = await eventually(updated, timeout=10)
    old, new = conditions(before), conditions(after)
    assert old.keys() == new.keys()
    for kind in old:
        assert new[kind]["lastTransitionTime"] == old[kind]["lastTransitionTime"], kind


async def test_trial_ends_and_the_tenant_becomes_active(env: Env) -> None:
    trial_plan = plan()
    trial_plan["spec"]["pricing"]["trialDays"] = 14
    await env.apply(trial_plan)
    await start(env)
    await env.apply(tenant("trialend"))
    await env.wait_phase("trialend", "Trial")
    # The trial end is recorded in status; moving it close (as support would when ending a
    # trial early) must take effect at that moment, by the operator's own wake-up.
    soon = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await env.client.patch("Tenant", "trialend", {"status": {"trialEndsAt": soon}}, subresource="status")
    # A spec edit (any) makes the operator read it now; the end itself is reached by its wake-up.
    await env.apply(tenant("trialend", branding={"productName": "Trial CRM"}))
    await env.wait_phase("trialend", "Trial")
    active = await env.wait_phase("trialend", "Active", timeout=15)
    assert active["status"]["trialEndsAt"] == soon


async def test_direct_customer_skipping_the_trial_is_active(env: Env) -> None:
    trial_plan = plan()
    trial_plan["spec"]["pricing"]["trialDays"] = 14
    await env.apply(trial_plan)
    await start(env)
    await env.apply(tenant("payer", billing={"cycle": "Monthly", "skipTrial": True}))
    obj = await env.wait_phase("payer", "Active")
    assert "trialEndsAt" not in obj["status"]


async def test_fields_added_by_someone_else_to_an_isolating_policy_are_removed(env: Env) -> None:
    await env.apply(plan())
    await start(env)
    await env.apply(tenant("iso"))
    await env.wait_phase("iso", "Active")
    # Another field manager opens the isolating policy and narrows it to nothing.
    await env.client.patch(
        "NetworkPolicy",
        "landlord-isolation",
        {"spec": {"ingress": [{}], "egress": [{}], "podSelector": {"matchLabels": {"nothing": "x"}}}},
        "t-iso",
    )
    await env.client.patch("ConfigMap", "landlord-entitlements", {"data": {"extra": "feature-flag"}}, "t-iso")

    async def closed() -> bool:
        policy = await env.get("NetworkPolicy", "landlord-isolation", "t-iso")
        entitlements = await env.get("ConfigMap", "landlord-entitlements", "t-iso")
        return (
            {} not in policy["spec"]["ingress"]
            and {} not in policy["spec"]["egress"]
            and policy["spec"]["podSelector"] == {}
            and "extra" not in entitlements["data"]
        )

    await eventually(closed, timeout=10)


async def test_a_label_naming_another_tenant_never_gets_its_objects_deleted(env: Env) -> None:
    await env.apply(plan())
    await start(env)
    await env.apply(tenant("victim"))
    await env.apply(tenant("other"))
    await env.wait_phase("victim", "Active")
    await env.wait_phase("other", "Active")
    # The victim is refused for a while (an add-on that does not exist yet): nothing repairs t-victim.
    await env.apply(tenant("victim", addOns=[{"name": "later"}]))
    await env.wait_phase("victim", "Pending")
    # Meanwhile someone with rights in t-victim relabels its quota to name another tenant.
    await env.client.patch(
        "ResourceQuota", "landlord-quota", {"metadata": {"labels": {"landlord.dev/tenant": "other"}}}, "t-victim"
    )
    await env.quiet(settle=1.0)
    # The other tenant saw an object with its label outside its namespace: not its to prune.
    assert await env.get("ResourceQuota", "landlord-quota", "t-victim") is not None
    assert await env.get("ResourceQuota", "landlord-quota", "t-other") is not None
