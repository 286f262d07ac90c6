"""Suspension for over-limit usage (suspendOnExceed) and unpaid invoices (PaymentOverdue): pure parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from landlord.api.resolution import Refusal
from landlord.config import parse
from landlord.controller.status import refused_status, tenant_status
from landlord.pipeline import StaticCatalogue, desire
from landlord.pipeline.overuse import (
    Overage,
    OverLimit,
    active_invoices,
    invoice_suspends,
    over_limit,
    overages,
    suspension_reason,
)
from tests.unit.test_pipeline import plan, tenant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = parse({"overuse": {"suspendAfter": 600}})
LIMITS = {"users": Decimal(5), "storage": Decimal(10 * 2**30), "pods": None}


def capped(**overuse: Any) -> dict[str, Any]:
    return plan(overuse={"policy": "Notify", "suspendOnExceed": True, **overuse})


def test_overages_compare_like_the_metrics() -> None:
    usage = {"users": 6.0, "storage": float(10 * 2**30), "pods": 1000.0}
    # Equal is within; unlimited (None) and unmeasured resources are never over.
    assert overages(LIMITS, usage, "Notify", frozenset()) == (Overage("users", 6.0, 5.0),)
    assert overages(LIMITS, {"storage": 11.0 * 2**30}, "Block", frozenset())[0].describe() == "storage 11Gi of 10Gi"
    assert overages(LIMITS, usage, "Notify", frozenset({"users"})) == ()  # seats with a seat price: billed
    assert overages(LIMITS, usage, "Bill", frozenset()) == ()  # allowed and charged


def test_the_clock_starts_once_and_is_kept_while_over() -> None:
    spec = capped()["spec"]
    first = over_limit(spec, LIMITS, {"users": 9.0}, {}, NOW, 600)
    assert first.record() == {"since": "2026-03-01T12:00:00Z", "resources": ["users"]}
    assert first.suspends_at == NOW + timedelta(seconds=600)
    later = over_limit(spec, LIMITS, {"users": 9.0}, {"overLimit": first.record()}, NOW + timedelta(hours=1), 600)
    assert later.since == first.since and later.suspends_at == first.suspends_at
    assert over_limit(spec, LIMITS, {"users": 5.0}, {"overLimit": first.record()}, NOW, 600) == OverLimit()
    assert over_limit(spec, LIMITS, None, {}, NOW, 600) == OverLimit()  # offline: no usage, nothing over
    garbled = over_limit(spec, LIMITS, {"users": 9.0}, {"overLimit": {"since": "soon"}}, NOW, 600)
    assert garbled.since == "2026-03-01T12:00:00Z"


def test_without_suspend_on_exceed_there_is_no_clock() -> None:
    spec = plan(overuse={"policy": "Notify"})["spec"]
    assert over_limit(spec, LIMITS, {"users": 50.0}, {}, NOW, 0) == OverLimit()


def test_precedence_manual_expired_payment_over_limit() -> None:
    due = OverLimit((Overage("users", 9, 5),), "2026-03-01T11:00:00Z", NOW - timedelta(seconds=1))
    running = OverLimit((Overage("users", 9, 5),), "2026-03-01T12:00:00Z", NOW + timedelta(seconds=1))
    assert suspension_reason("Manual", ["inv"], due, NOW) == "Manual"
    assert suspension_reason("Expired", ["inv"], due, NOW) == "Expired"
    assert suspension_reason("", ["inv"], due, NOW) == "PaymentOverdue"
    assert suspension_reason("", [], due, NOW) == "OverLimit"
    assert suspension_reason("", [], running, NOW) == ""
    assert suspension_reason("", [], OverLimit(), NOW) == ""


def test_invoices_that_suspend_and_who_is_exempt() -> None:
    assert invoice_suspends({"status": {"state": "Overdue", "suspendsTenant": True}})
    assert not invoice_suspends({"status": {"state": "Overdue"}})
    assert not invoice_suspends(
        {"status": {"state": "Overdue", "suspendsTenant": True, "paidAt": "2026-01-01T00:00:00Z"}}
    )
    assert not invoice_suspends({"status": {"state": "Void", "suspendsTenant": True}})
    assert not invoice_suspends({"status": {"state": "Paid", "suspendsTenant": True}})
    assert not invoice_suspends({})
    assert active_invoices(["b", "a", "a"], {}, dunning=True) == ("a", "b")
    assert active_invoices(["a"], {"dunningExempt": True}, dunning=True) == ()
    assert active_invoices(["a"], {}, dunning=False) == ()  # billing.graceDays null: never


def test_desire_suspends_with_the_reason_and_the_status_says_how_to_get_back() -> None:
    body = tenant("acme", plan="basic")
    body["status"] = {"overLimit": {"since": "2026-03-01T11:00:00Z", "resources": ["users"]}}
    catalogue = StaticCatalogue([capped(), body])
    desired = desire(body, catalogue, CONFIG, NOW, usage={"users": 7.0})
    assert desired.suspended and desired.suspend_reason == "OverLimit"
    assert desired.view.suspended  # the children render the suspension (viewer role, entitlements)
    status = tenant_status(body, desired, [], NOW)
    assert (status["phase"], status["reason"]) == ("Suspended", "OverLimit")
    assert "users 7 of 5" in status["message"] and "spec.addOns" in status["message"]
    assert status["overLimit"] == {"since": "2026-03-01T11:00:00Z", "resources": ["users"]}

    paying = desire(body, catalogue, CONFIG, NOW, usage={"users": 7.0}, invoices=["acme-2026-01"])
    status = tenant_status(body, paying, [], NOW)
    assert (status["reason"], paying.overdue_invoices) == ("PaymentOverdue", ("acme-2026-01",))
    assert "kubectl patch invoice acme-2026-01 --subresource=status" in status["message"]

    back = desire(body, catalogue, CONFIG, NOW, usage={"users": 5.0})
    status = tenant_status(body, back, [], NOW)
    assert not back.suspended and status["phase"] == "Active" and "overLimit" not in status

    offline = desire(body, catalogue, CONFIG, NOW)  # `landlord render`: no usage, no invoices
    assert not offline.suspended
    never = desire(body, catalogue, parse({"billing": {"graceDays": None}}), NOW, invoices=["acme-2026-01"])
    assert not never.suspended


def test_a_refusal_keeps_the_clock() -> None:
    body = tenant("acme")
    body["metadata"]["generation"] = 1
    body["status"] = {"phase": "Active", "overLimit": {"since": "2026-03-01T11:00:00Z", "resources": ["users"]}}
    refused = refused_status(body, Refusal("Pending", "PlanNotFound", "no plan"), NOW)
    assert refused["overLimit"] == body["status"]["overLimit"]
