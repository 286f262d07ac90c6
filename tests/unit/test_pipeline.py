"""The desired-state pipeline and the status roll-up, without a server (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from landlord.api.resolution import Refusal
from landlord.components import Observation
from landlord.config import parse
from landlord.controller.status import Observed, condition_changes, refused_status, tenant_status
from landlord.kinds import CHILD_KINDS, KINDS, apply_order, key_of, rbac_rules
from landlord.pipeline import StaticCatalogue, desire, reseller_shares, resolve, trial_end

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = parse({})


def plan(name: str = "basic", **spec: Any) -> dict[str, Any]:
    body = {
        "limits": {"cpu": "2", "memory": "4Gi", "storage": "10Gi", "pods": 20, "users": 5},
        "features": ["crm"],
        "pricing": {"currency": "EUR", "prices": {"Monthly": "10.00"}},
        **spec,
    }
    return {"apiVersion": "landlord.dev/v1alpha1", "kind": "Plan", "metadata": {"name": name}, "spec": body}


def addon(name: str, **spec: Any) -> dict[str, Any]:
    body = {"maxQuantity": 2, "limits": {"users": 5}, "pricing": {"currency": "EUR", "prices": {"Monthly": "5.00"}}}
    body.update(spec)
    return {"apiVersion": "landlord.dev/v1alpha1", "kind": "AddOn", "metadata": {"name": name}, "spec": body}


def tenant(name: str, created: str = "", **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if created:
        meta["creationTimestamp"] = created
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": meta,
        "spec": {"plan": "basic", "owner": {"subjects": [{"kind": "User", "name": f"{name}@x.example"}]}, **spec},
    }


def reasons(catalogue: StaticCatalogue, body: dict[str, Any], offline: bool = False) -> list[str]:
    return [v.reason for v in resolve(catalogue, body, offline=offline).violations]


def test_desired_state_groups_children_by_component_in_apply_order() -> None:
    body = tenant("acme")
    desired = desire(body, StaticCatalogue([plan(), body]), CONFIG, NOW)
    assert list(desired.children) == ["namespace", "quota", "network", "access", "entitlements"]
    assert [key_of(o)[0] for o in desired.children["quota"]] == ["ResourceQuota", "LimitRange"]
    assert desired.namespace == "t-acme" and desired.url == "https://acme.apps.example.com"
    assert next(o["kind"] for o in desired.objects()) == "Namespace"
    assert apply_order(list(reversed(desired.objects())))[0]["kind"] == "Namespace"


def test_every_rule_is_reported_offline_and_the_first_error_refuses() -> None:
    dollars = addon("dollars", pricing={"currency": "USD", "prices": {"Monthly": "1.00"}})
    body = tenant(
        "bad",
        addOns=[{"name": "dollars", "quantity": 3}, {"name": "ghost"}],
        reseller="nobody",
    )
    catalogue = StaticCatalogue([plan(), dollars, body])
    assert reasons(catalogue, body) == [
        "QuantityTooHigh",
        "CurrencyMismatch",
        "AddOnNotFound",
        "ResellerNotFound",
    ]
    with pytest.raises(Refusal) as refused:
        desire(body, catalogue, CONFIG, NOW)
    assert refused.value.reason == "QuantityTooHigh" and refused.value.phase == "Failed"
    assert refused.value.field == "spec.addOns[0].quantity"


def test_missing_things_are_pending_own_mistakes_failed() -> None:
    catalogue = StaticCatalogue([plan(), addon("gold-only", plans=["gold"])])
    missing = resolve(catalogue, tenant("a", plan="nope")).violations[0]
    assert (missing.reason, missing.phase) == ("PlanNotFound", "Pending")
    assert "known: basic" in missing.message
    wrong = resolve(catalogue, tenant("b", addOns=[{"name": "gold-only"}])).violations[0]
    assert (wrong.reason, wrong.phase) == ("AddOnNotAllowed", "Failed")


def test_retired_plan_is_an_error_for_a_new_tenant_a_warning_offline_and_fine_for_a_subscriber() -> None:
    catalogue = StaticCatalogue([plan(retired=True)])
    new = tenant("new")
    assert [v.severity for v in resolve(catalogue, new).violations] == ["error"]
    assert [v.severity for v in resolve(catalogue, new, offline=True).violations] == ["warning"]
    subscriber = {**new, "status": {"planHistory": [{"plan": "basic", "since": "2025-01-01T00:00:00Z"}]}}
    assert resolve(catalogue, subscriber).violations == []


def test_a_host_belongs_to_the_oldest_claim() -> None:
    older = tenant("older", created="2026-01-01T00:00:00Z", domains={"custom": ["shop.example.com"]})
    newer = tenant(
        "newer", created="2026-02-01T00:00:00Z", domains={"subdomain": "older", "custom": ["shop.example.com"]}
    )
    domains = plan(limits={"customDomains": 5})
    catalogue = StaticCatalogue([domains, newer, older])  # document order does not beat age
    assert reasons(catalogue, older) == []
    assert reasons(catalogue, newer) == ["HostConflict", "HostConflict"]
    # A reseller without a base domain serves its tenants under the operator's: the same host.
    bare = tenant("bare", created="2026-03-01T00:00:00Z", reseller="r", domains={"subdomain": "older"})
    reseller = {"apiVersion": "landlord.dev/v1alpha1", "kind": "Reseller", "metadata": {"name": "r"}, "spec": {}}
    assert reasons(StaticCatalogue([domains, older, bare, reseller]), bare) == ["HostConflict"]
    reseller["spec"] = {"baseDomain": "apps.r.example"}
    assert reasons(StaticCatalogue([domains, older, bare, reseller]), bare) == []


def test_allocation_is_shared_oldest_first_and_the_last_is_pending() -> None:
    reseller = {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Reseller",
        "metadata": {"name": "r"},
        "spec": {"allocation": {"tenants": 1}},
    }
    first = tenant("first", created="2026-01-01T00:00:00Z", reseller="r")
    second = tenant("second", created="2026-01-02T00:00:00Z", reseller="r")
    catalogue = StaticCatalogue([plan(), reseller, first, second])
    shares = reseller_shares(catalogue, reseller)
    assert shares is not None and shares["first"].admitted and not shares["second"].admitted
    desire(first, catalogue, CONFIG, NOW)
    with pytest.raises(Refusal) as refused:
        desire(second, catalogue, CONFIG, NOW)
    assert (refused.value.phase, refused.value.reason) == ("Pending", "AllocationExhausted")


def test_trial_end_from_creation_kept_once_recorded_and_skippable() -> None:
    trial = plan(pricing={"currency": "EUR", "prices": {"Monthly": "1.00"}, "trialDays": 14})
    body = tenant("t", created="2026-03-01T00:00:00Z")
    assert trial_end(body, trial, NOW) == "2026-03-15T00:00:00Z"
    recorded = {**body, "status": {"trialEndsAt": "2026-03-02T00:00:00Z"}}
    assert trial_end(recorded, trial, NOW) == "2026-03-02T00:00:00Z"
    assert trial_end(tenant("p", created="2026-03-01T00:00:00Z", billing={"skipTrial": True}), trial, NOW) is None
    changed = {**body, "status": {"planHistory": [{"plan": "starter"}]}}
    assert trial_end(changed, trial, NOW) is None  # a plan change is no new trial


def observed(**failing: Observation) -> list[Observed]:
    names = ["NamespaceReady", "QuotaReady", "NetworkReady", "AccessReady", "EntitlementsReady"]
    return [Observed(n, failing.get(n, Observation(True, "Applied", "fine"))) for n in names]


def test_ready_and_phase_roll_up_from_the_components() -> None:
    body = tenant("acme", created="2026-01-01T00:00:00Z")
    body["metadata"]["generation"] = 3
    desired = desire(body, StaticCatalogue([plan(), body]), CONFIG, NOW)
    healthy = tenant_status(body, desired, observed(), NOW)
    conds = {c["type"]: c for c in healthy["conditions"]}
    assert healthy["phase"] == "Active" and conds["Ready"]["status"] == "True"
    assert all(c["observedGeneration"] == 3 for c in healthy["conditions"])
    waiting = tenant_status(
        body, desired, observed(NetworkReady=Observation(False, "Terminating", "policy is being deleted")), NOW
    )
    conds = {c["type"]: c for c in waiting["conditions"]}
    assert waiting["phase"] == "Active"  # it repairs itself: not Failed
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "NetworkNotReady")
    assert conds["NetworkReady"]["message"] == "policy is being deleted"
    broken = tenant_status(
        body, desired, observed(QuotaReady=Observation(False, "ApplyFailed", "422 Invalid", failed=True)), NOW
    )
    assert (broken["phase"], broken["reason"]) == ("Failed", "ApplyFailed")
    assert broken["message"] == "QuotaReady: 422 Invalid"


def test_transition_times_and_condition_events() -> None:
    body = tenant("acme", created="2026-01-01T00:00:00Z")
    desired = desire(body, StaticCatalogue([plan(), body]), CONFIG, NOW)
    first = tenant_status(body, desired, observed(), NOW)
    later = datetime(2026, 3, 2, tzinfo=UTC)
    again = tenant_status({**body, "status": first}, desired, observed(), later)
    assert [c["lastTransitionTime"] for c in again["conditions"]] == [
        c["lastTransitionTime"] for c in first["conditions"]
    ]
    down = tenant_status(
        {**body, "status": first}, desired, observed(AccessReady=Observation(False, "Missing", "gone")), later
    )
    access = next(c for c in down["conditions"] if c["type"] == "AccessReady")
    assert access["lastTransitionTime"] == "2026-03-02T00:00:00Z"
    assert [(c["type"], recovered) for c, recovered in condition_changes(first, down)] == [("AccessReady", False)]
    assert [(c["type"], recovered) for c, recovered in condition_changes(down, first)] == [("AccessReady", True)]


def test_a_refusal_keeps_what_was_provisioned_and_names_the_field() -> None:
    body = tenant("acme")
    body["status"] = {"namespace": "t-acme", "url": "https://x", "phase": "Active", "conditions": []}
    status = refused_status(body, Refusal("Failed", "QuantityTooHigh", "3 is more than 2", "spec.addOns[0]"), NOW)
    assert status["namespace"] == "t-acme" and status["phase"] == "Failed"
    assert status["message"] == "spec.addOns[0]: 3 is more than 2"


def test_the_kind_registry_is_the_one_source() -> None:
    assert CHILD_KINDS[0] == "Namespace"
    assert set(CHILD_KINDS) == {
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "RoleBinding",
        "ConfigMap",
        "Secret",
    }
    assert KINDS["NetworkPolicy"].path("t-a", "p") == "/apis/networking.k8s.io/v1/namespaces/t-a/networkpolicies/p"
    assert KINDS["Namespace"].path(None, "t-a") == "/api/v1/namespaces/t-a"
    rules = {r["apiGroups"][0]: r["resources"] for r in rbac_rules()}
    assert rules["networking.k8s.io"] == ["networkpolicies"] and "namespaces" in rules[""]


def test_addon_history_records_each_change_of_the_add_ons_for_billing() -> None:
    catalogue_items = [plan(), addon("users5"), addon("backup")]
    body = tenant("acme", created="2026-01-01T00:00:00Z", addOns=[{"name": "users5", "quantity": 2}])
    desired = desire(body, StaticCatalogue([*catalogue_items, body]), CONFIG, NOW)
    first = tenant_status(body, desired, observed(), NOW)
    # The first entry starts at creation: the add-ons have counted from the start.
    assert first["addOnHistory"] == [{"since": "2026-01-01T00:00:00Z", "addOns": [{"name": "users5", "quantity": 2}]}]
    same = tenant_status({**body, "status": first}, desired, observed(), datetime(2026, 3, 5, tzinfo=UTC))
    assert same["addOnHistory"] == first["addOnHistory"]  # nothing changed: nothing appended (no write)
    changed = {**body, "spec": {**body["spec"], "addOns": [{"name": "backup"}, {"name": "users5", "quantity": 1}]}}
    later = datetime(2026, 3, 10, tzinfo=UTC)
    desired = desire(changed, StaticCatalogue([*catalogue_items, changed]), CONFIG, later)
    after = tenant_status({**changed, "status": first}, desired, observed(), later)
    assert after["addOnHistory"][1:] == [
        {
            "since": "2026-03-10T00:00:00Z",
            "addOns": [{"name": "backup", "quantity": 1}, {"name": "users5", "quantity": 1}],
        }
    ]
