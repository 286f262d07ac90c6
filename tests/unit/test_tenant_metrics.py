"""Per-tenant metrics: what a reconcile computes (pure) and what a scrape exports, and removal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from landlord.config import parse
from landlord.controller.telemetry import (
    ACTIVE_USERS_ANNOTATION,
    info_sample,
    quota_usage,
    reported_users,
    tenant_sample,
)
from landlord.metrics import TenantSample, TenantSeries, tenant_families
from landlord.pipeline import StaticCatalogue, desire

NOW = datetime(2026, 3, 1, tzinfo=UTC)
GI = 2**30
PLAN = {
    "apiVersion": "landlord.dev/v1alpha1",
    "kind": "Plan",
    "metadata": {"name": "professional"},
    "spec": {
        "limits": {
            "cpu": "4",
            "memory": "8Gi",
            "storage": "unlimited",
            "pods": 40,
            "databaseStorage": "10Gi",
            "customDomains": 3,
            "users": 10,
        },
        "overuse": {"policy": "Notify", "notifyAt": [100, 80, 90]},
        "pricing": {"currency": "EUR", "prices": {"Monthly": "49.00"}, "seatPrice": "5.00"},
    },
}
ADDON = {
    "apiVersion": "landlord.dev/v1alpha1",
    "kind": "AddOn",
    "metadata": {"name": "extra-users-5"},
    "spec": {"maxQuantity": 10, "limits": {"users": 5}, "pricing": {"prices": {"Monthly": "20.00"}}},
}


def tenant(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": "acme", "annotations": annotations or {}},
        "spec": {"plan": "professional", **spec},
    }


def sample_of(body: dict[str, Any], quota: dict[str, Any] | None = None, phase: str = "Active") -> TenantSample:
    desired = desire(body, StaticCatalogue([PLAN, ADDON, body]), parse({}), NOW)
    return tenant_sample(body, desired, phase, quota)


def quota(**used: str) -> dict[str, Any]:
    return {"kind": "ResourceQuota", "status": {"hard": {}, "used": used}}


# -- what a reconcile computes --------------------------------------------------------------------
def test_limits_are_the_effective_limits_in_base_units_and_unlimited_has_none() -> None:
    sample = sample_of(tenant(addOns=[{"name": "extra-users-5", "quantity": 2}], overrides={"limits": {"cpu": "6"}}))
    assert sample.limits == {
        "cpu": 6.0,  # the override
        "memory": 8.0 * GI,
        "pods": 40.0,
        "databaseStorage": 10.0 * GI,
        "customDomains": 3.0,
        "users": 20.0,  # 10 + 2 x 5
        "databases": 0.0,  # omitted in the plan: 0, not offered
        "traffic": 0.0,
    }
    assert "storage" not in sample.limits
    assert sample.thresholds == (80, 90, 100)
    assert sample.policy == "Notify"
    assert sample.billed == {"users"}  # the plan has a seat price: seats beyond the included ones are charged
    assert (sample.plan, sample.reseller, sample.phase, sample.metered) == ("professional", "", "Active", True)


def test_usage_from_the_quota_status_the_spec_and_the_reported_seats() -> None:
    body = tenant(
        {ACTIVE_USERS_ANNOTATION: "12"},
        domains={"custom": ["crm.acme.example", "CRM.acme.example.", "shop.acme.example"]},
    )
    used = quota(**{"requests.cpu": "1500m", "requests.memory": "6Gi", "pods": "7", "configmaps": "4"})
    sample = sample_of(body, used)
    assert sample.usage == {"cpu": 1.5, "memory": 6.0 * GI, "pods": 7.0, "customDomains": 2.0, "users": 12.0}


@pytest.mark.parametrize("price", ["0.00", None, "free"])
def test_seats_without_a_price_are_not_billed(price: str | None) -> None:
    pricing: dict[str, Any] = {"currency": "EUR", "prices": {"Monthly": "1.00"}}
    if price is not None:
        pricing["seatPrice"] = price
    plan = {**PLAN, "spec": {**PLAN["spec"], "pricing": pricing}}
    body = tenant()
    desired = desire(body, StaticCatalogue([plan, body]), parse({}), NOW)
    assert tenant_sample(body, desired, "Active", None).billed == frozenset()


def test_no_quota_yet_and_no_report_give_no_series_rather_than_zero() -> None:
    assert sample_of(tenant()).usage == {"customDomains": 0.0}


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        ({"requests.cpu": "250m", "requests.storage": "1Ti"}, {"cpu": 0.25, "storage": float(2**40)}),
        ({"requests.cpu": "lots", "pods": "2"}, {"pods": 2.0}),  # not a quantity: left out
        ({"limits.cpu": "2", "services": "3"}, {}),  # not a limit Landlord meters from the quota
    ],
)
def test_quota_usage(used: dict[str, str], expected: dict[str, float]) -> None:
    assert quota_usage(quota(**used)) == expected


def test_quota_without_status_has_no_usage() -> None:
    assert quota_usage({"kind": "ResourceQuota"}) == {}
    assert quota_usage(None) == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12.0), (" 7 ", 7.0), ("0", 0.0), ("1000000", 1e6)],
)
def test_reported_users_accepts_whole_numbers(value: str, expected: float) -> None:
    assert reported_users(tenant({ACTIVE_USERS_ANNOTATION: value})) == expected


@pytest.mark.parametrize("value", ["", "12.5", "-1", "1e3", "twelve", "0x10", "1000001", "99999999"])
def test_reported_users_ignores_anything_else(value: str) -> None:
    assert reported_users(tenant({ACTIVE_USERS_ANNOTATION: value})) is None


def test_a_tenant_without_annotations_reports_no_seats() -> None:
    assert reported_users({"metadata": {"name": "acme"}}) is None


def test_a_refused_or_terminating_tenant_has_only_its_info() -> None:
    body = tenant(reseller="webagency")
    assert info_sample(body, "Pending") == TenantSample(plan="professional", reseller="webagency", phase="Pending")
    assert not info_sample(body, "Terminating", metered=False).metered


# -- what a scrape exports -------------------------------------------------------------------------
class Meter:
    """A component's meter (the database size)."""

    def __init__(self, found: dict[tuple[str, str], float]) -> None:
        self.found = found

    def usage(self) -> dict[tuple[str, str], float]:
        return self.found


class Families(Collector):
    def __init__(self, series: TenantSeries, components: list[Meter]) -> None:
        self.series = series
        self.components = components

    def collect(self) -> Iterator[Any]:
        return tenant_families(self.series.snapshot(), self.components)


def scrape(series: TenantSeries, *components: Meter) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The exposition as Prometheus reads it: {(name, sorted labels): value}."""
    registry = CollectorRegistry()
    registry.register(Families(series, list(components)))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def of(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, tenant: str) -> dict[Any, float]:
    return {
        labels: value for (metric, labels), value in found.items() if metric == name and ("tenant", tenant) in labels
    }


ACME = TenantSample(
    plan="professional",
    reseller="webagency",
    phase="Active",
    policy="Notify",
    limits={"memory": 8.0 * GI, "users": 10.0},
    usage={"memory": 6.0 * GI, "users": 12.0},
    thresholds=(80, 100),
    billed=frozenset({"users"}),
)


def test_one_series_per_tenant_and_resource_with_thresholds_as_fractions() -> None:
    series = TenantSeries()
    series.record("acme", ACME)
    found = scrape(series)
    assert of(found, "landlord_tenant_info", "acme") == {
        (("phase", "Active"), ("plan", "professional"), ("reseller", "webagency"), ("tenant", "acme")): 1.0
    }
    assert of(found, "landlord_tenant_limit", "acme") == {
        (("resource", "memory"), ("tenant", "acme")): 8.0 * GI,
        (("resource", "users"), ("tenant", "acme")): 10.0,
    }
    assert of(found, "landlord_tenant_usage", "acme") == {
        (("resource", "memory"), ("tenant", "acme")): 6.0 * GI,
        (("resource", "users"), ("tenant", "acme")): 12.0,
    }
    assert of(found, "landlord_tenant_notify_threshold", "acme") == {
        (("percent", "80"), ("resource", "memory"), ("tenant", "acme")): 0.8,
        (("percent", "100"), ("resource", "memory"), ("tenant", "acme")): 1.0,
        (("percent", "80"), ("resource", "users"), ("tenant", "acme")): 0.8,
        (("percent", "100"), ("resource", "users"), ("tenant", "acme")): 1.0,
    }
    assert of(found, "landlord_tenant_overuse_policy", "acme") == {
        (("policy", "Notify"), ("resource", "memory"), ("tenant", "acme")): 1.0,
        (("policy", "Bill"), ("resource", "users"), ("tenant", "acme")): 1.0,  # seats beyond the included: charged
    }


def test_a_new_phase_replaces_the_info_series() -> None:
    series = TenantSeries()
    series.record("acme", ACME)
    series.record("acme", TenantSample(**{**ACME.__dict__, "phase": "Suspended"}))
    info = of(scrape(series), "landlord_tenant_info", "acme")
    assert [dict(labels)["phase"] for labels in info] == ["Suspended"]


def test_component_meters_are_exported_for_known_tenants_only() -> None:
    series = TenantSeries()
    series.record("acme", ACME)
    meter = Meter({("acme", "databaseStorage"): 1234.0, ("retained", "databaseStorage"): 99.0})
    found = scrape(series, meter)
    assert of(found, "landlord_tenant_usage", "acme")[(("resource", "databaseStorage"), ("tenant", "acme"))] == 1234.0
    assert of(found, "landlord_tenant_usage", "retained") == {}  # a deleted tenant's kept database is nobody's usage


def test_a_refusal_keeps_the_last_limits_and_usage() -> None:
    series = TenantSeries()
    series.record("acme", ACME)
    series.refused("acme", TenantSample(plan="gone", reseller="webagency", phase="Pending"))
    found = scrape(series)
    assert [dict(k)["phase"] for k in of(found, "landlord_tenant_info", "acme")] == ["Pending"]
    assert len(of(found, "landlord_tenant_limit", "acme")) == 2
    assert len(of(found, "landlord_tenant_usage", "acme")) == 2
    series.refused("new", TenantSample(plan="missing", reseller="", phase="Pending"))  # never provisioned
    assert of(scrape(series), "landlord_tenant_limit", "new") == {}


def test_a_terminating_tenant_keeps_only_its_info() -> None:
    series = TenantSeries()
    series.record("acme", ACME)
    series.record("acme", TenantSample(plan="professional", reseller="webagency", phase="Terminating", metered=False))
    found = scrape(series, Meter({("acme", "databaseStorage"): 1.0}))
    assert len(of(found, "landlord_tenant_info", "acme")) == 1
    for name in ("limit", "usage", "notify_threshold", "overuse_policy"):
        assert of(found, f"landlord_tenant_{name}", "acme") == {}, name


def test_a_deleted_tenant_leaves_no_series() -> None:
    series = TenantSeries()
    series.record("acme", ACME)
    series.record("other", ACME)
    series.forget("acme")
    series.forget("never-seen")  # harmless
    found = scrape(series, Meter({("acme", "databaseStorage"): 1.0}))
    assert not [key for key in found if ("tenant", "acme") in key[1]]
    assert of(found, "landlord_tenant_info", "other")
