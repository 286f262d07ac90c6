"""Which periods are due for an invoice, and the life of an issued one. Pure.

A period is due once it is closed (its last day is over, in UTC) and the tenant existed during
it; a run looks back `lookback` periods, so a sidecar that was down over a month end catches up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..api.resolution import parse_time
from ..billing.periods import Period, day_of, parse_period

ISSUED, OVERDUE, PAID, VOID = "Issued", "Overdue", "Paid", "Void"


def _label(cycle: str, year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}" if cycle == "Monthly" else f"{year:04d}"


def _step_back(cycle: str, year: int, month: int) -> tuple[int, int]:
    if cycle != "Monthly":
        return year - 1, month
    return (year - 1, 12) if month == 1 else (year, month - 1)


def started(tenant: Mapping[str, Any]) -> datetime | None:
    """The tenant's start of service: its creation, else its first recorded plan."""
    created = parse_time((tenant.get("metadata") or {}).get("creationTimestamp"))
    if created is not None:
        return created
    history = (tenant.get("status") or {}).get("planHistory") or []
    return parse_time(history[0].get("since")) if history else None


def due_periods(tenant: Mapping[str, Any], anniversary: bool, now: datetime, lookback: int) -> list[Period]:
    """The closed periods, oldest first, of the last `lookback` that the tenant existed in."""
    spec = tenant.get("spec") or {}
    cycle = str((spec.get("billing") or {}).get("cycle") or "Monthly")
    start = started(tenant)
    anchor = day_of(start) if anniversary and start is not None else None
    if anniversary and anchor is None:
        return []  # the engine cannot place an anniversary period without a creation time
    today = day_of(now)
    year, month = today.year, today.month
    current = parse_period(_label(cycle, year, month), cycle, anchor)
    if current.start > today:  # an anniversary period labelled this month has not begun yet
        year, month = _step_back(cycle, year, month)
    periods: list[Period] = []
    for _ in range(lookback):
        year, month = _step_back(cycle, year, month)
        if year < 1:
            break
        period = parse_period(_label(cycle, year, month), cycle, anchor)
        if start is not None and period.end <= day_of(start):
            break  # before the tenant existed, and so is everything earlier
        periods.append(period)
    return list(reversed(periods))


def invoice_status(
    invoice: Mapping[str, Any], today: date, grace_days: int | None, credited_total: Decimal
) -> dict[str, Any]:
    """The status an invoice should have today (only the keys this module owns).

    Paid when `paidAt` is set (whoever set it) or when there is nothing to pay; Void when credit
    notes cover its total; Overdue
    from the day after `dueAt`; `suspendsTenant` once `grace_days` more have passed unpaid.
    """
    spec = invoice.get("spec") or {}
    status = invoice.get("status") or {}
    total = Decimal(str(spec.get("total") or "0"))
    out: dict[str, Any] = {"suspendsTenant": False, "overdueSince": None}
    if status.get("paidAt"):
        out["state"] = PAID
        out["overdueSince"] = status.get("overdueSince")  # the record stays once written
        return out
    if total > 0 and credited_total >= total:
        out["state"] = VOID
        return out
    if total <= 0:
        out["state"] = PAID  # nothing to pay (a 100 % coupon, a trial): settled from the start
        return out
    due = date.fromisoformat(str(spec["dueAt"])) if spec.get("dueAt") else None
    if due is None or today <= due:
        out["state"] = ISSUED
        return out
    out["state"] = OVERDUE
    out["overdueSince"] = (due + timedelta(days=1)).isoformat()
    if grace_days is not None and today > due + timedelta(days=grace_days):
        out["suspendsTenant"] = True
    return out
