"""Which periods a billing run invoices, and the life of an issued invoice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from landlord.config import ConfigError, parse
from landlord.invoicing.run import issue_months
from landlord.invoicing.schedule import due_periods, invoice_status


def _tenant(created: str | None, cycle: str = "Monthly") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "bistro"}
    if created:
        meta["creationTimestamp"] = created
    return {"metadata": meta, "spec": {"plan": "starter", "billing": {"cycle": cycle}}}


def _labels(tenant: dict[str, Any], now: datetime, lookback: int = 3, anniversary: bool = False) -> list[str]:
    return [p.label for p in due_periods(tenant, anniversary, now, lookback)]


def test_the_closed_months_of_the_lookback_oldest_first() -> None:
    now = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)
    assert _labels(_tenant("2025-01-20T12:00:00Z"), now) == ["2026-08", "2026-09", "2026-10"]
    assert _labels(_tenant("2025-01-20T12:00:00Z"), now, lookback=1) == ["2026-10"]


def test_a_month_is_not_due_before_its_last_day_is_over() -> None:
    assert _labels(_tenant("2026-01-01T00:00:00Z"), datetime(2026, 10, 31, 23, 59, tzinfo=UTC), 1) == ["2026-09"]


def test_no_period_before_the_tenant_existed() -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    assert _labels(_tenant("2026-10-30T10:00:00Z"), now) == ["2026-10"]
    assert _labels(_tenant("2026-11-01T10:00:00Z"), now) == []


def test_yearly_tenants_are_due_once_the_year_is_over() -> None:
    tenant = _tenant("2024-03-01T00:00:00Z", cycle="Yearly")
    assert _labels(tenant, datetime(2026, 1, 1, 1, tzinfo=UTC)) == ["2024", "2025"]
    assert _labels(tenant, datetime(2025, 12, 31, 23, tzinfo=UTC)) == ["2024"]


def test_anniversary_periods_start_on_the_creation_day() -> None:
    tenant = _tenant("2026-01-31T08:00:00Z")
    periods = due_periods(tenant, True, datetime(2026, 4, 15, tzinfo=UTC), 2)
    # 2026-02 is 28 Feb .. 30 Mar; 2026-03 is 31 Mar .. 29 Apr (not over on 15 Apr).
    assert [(p.label, p.start, p.end) for p in periods] == [
        ("2026-01", date(2026, 1, 31), date(2026, 2, 28)),
        ("2026-02", date(2026, 2, 28), date(2026, 3, 31)),
    ]


def test_an_invoice_of_a_period_is_looked_up_in_the_months_it_can_have_been_issued() -> None:
    (period,) = due_periods(_tenant("2025-01-01T00:00:00Z"), False, datetime(2026, 11, 3, tzinfo=UTC), 1)
    assert issue_months(period, datetime(2027, 1, 3, tzinfo=UTC)) == {"2026-11", "2026-12", "2027-01"}


def _invoice(total: str = "102.60", due: str = "2026-12-01", **status: Any) -> dict[str, Any]:
    return {"spec": {"total": total, "dueAt": due}, "status": status}


def test_an_invoice_is_issued_until_its_due_date_then_overdue_then_suspends_after_the_grace() -> None:
    assert invoice_status(_invoice(), date(2026, 12, 1), 14, Decimal(0))["state"] == "Issued"
    overdue = invoice_status(_invoice(), date(2026, 12, 2), 14, Decimal(0))
    assert overdue == {"state": "Overdue", "overdueSince": "2026-12-02", "suspendsTenant": False}
    assert invoice_status(_invoice(), date(2026, 12, 15), 14, Decimal(0))["suspendsTenant"] is False
    assert invoice_status(_invoice(), date(2026, 12, 16), 14, Decimal(0))["suspendsTenant"] is True
    assert invoice_status(_invoice(), date(2027, 6, 1), None, Decimal(0))["suspendsTenant"] is False


def test_paid_and_void_end_the_dunning() -> None:
    paid = invoice_status(
        _invoice(paidAt="2026-12-20T10:00:00Z", overdueSince="2026-12-02"), date(2026, 12, 30), 14, Decimal(0)
    )
    assert paid == {"state": "Paid", "overdueSince": "2026-12-02", "suspendsTenant": False}
    assert invoice_status(_invoice(), date(2026, 12, 30), 14, Decimal("102.60"))["state"] == "Void"
    partly = invoice_status(_invoice(), date(2026, 12, 30), 14, Decimal("2.60"))
    assert partly["state"] == "Overdue" and partly["suspendsTenant"] is True
    assert invoice_status(_invoice(total="0.00"), date(2027, 6, 1), 14, Decimal(0))["state"] == "Paid"


def test_a_seller_identity_longer_than_an_invoice_takes_is_refused_at_start() -> None:
    with pytest.raises(ConfigError) as refused:
        parse({"billing": {"seller": {"address": "x" * 2000}}})
    assert str(refused.value) == (
        "configuration: billing.seller.address: 2000 characters, more than the 1024 allowed; shorten it"
    )
