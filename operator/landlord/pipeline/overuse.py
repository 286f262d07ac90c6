"""Suspension for what the tenant is (over a limit, an unpaid invoice), beside what it asks for. Pure.

`spec.suspend` and `spec.expiresAt` suspend a tenant by its spec (`api.resolution.suspension`);
two more reasons come from outside the spec:

- `OverLimit`: the plan has `overuse.suspendOnExceed` and the tenant's usage of a limited
  resource has been above its effective limit for `overuse.suspendAfter` seconds (operator
  configuration). The comparison is the metrics' one (`TenantOverLimit`): usage > limit, except
  where use beyond the limit is allowed and charged (the `Bill` policy; seats on a plan with a
  seat price). A resource not measured is not over. The clock is `status.overLimit.since`,
  recorded only for plans with `suspendOnExceed` (turning it on starts the clock then).
- `PaymentOverdue`: an Invoice of the tenant says `status.suspendsTenant` (the billing sidecar,
  past `billing.graceDays`) and is neither paid nor void, unless `spec.billing.dunningExempt`.

Precedence of the reason shown (all of them keep the tenant suspended):
Manual > Expired > PaymentOverdue > OverLimit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ..api.composition import format_limit
from ..api.resolution import parse_time, rfc3339

REASONS = ("Manual", "Expired", "PaymentOverdue", "OverLimit")  # precedence, first wins


@dataclass(frozen=True)
class Overage:
    """One resource used beyond its effective limit (in the units of the metrics)."""

    resource: str
    usage: float
    limit: float

    def describe(self) -> str:
        return f"{self.resource} {_text(self.resource, self.usage)} of {_text(self.resource, self.limit)}"


@dataclass(frozen=True)
class OverLimit:
    """The over-limit state of a tenant: what is over, since when, and when it suspends."""

    overages: tuple[Overage, ...] = ()
    since: str | None = None  # status.overLimit.since (None: not over, or the plan does not suspend)
    suspends_at: datetime | None = None

    @property
    def resources(self) -> list[str]:
        return sorted(o.resource for o in self.overages)

    def record(self) -> dict[str, Any] | None:
        """`status.overLimit`, or None (removed)."""
        return {"since": self.since, "resources": self.resources} if self.since else None


def _text(resource: str, amount: float) -> str:
    try:
        return str(format_limit(resource, Decimal(str(amount))))
    except (InvalidOperation, ValueError):
        return str(amount)


def priced(price: Any) -> bool:
    """A price above zero (seats beyond the included ones are charged, not overuse)."""
    try:
        return Decimal(str(price)) > 0 if price is not None else False
    except ArithmeticError:
        return False


def billed_resources(plan_spec: Mapping[str, Any]) -> frozenset[str]:
    """Resources whose use beyond the limit is charged whatever the policy: seats with a seat price."""
    pricing = plan_spec.get("pricing") or {}
    return (
        frozenset({"users"})
        if priced(pricing.get("seatPrice") if isinstance(pricing, Mapping) else None)
        else frozenset()
    )


def overages(
    limits: Mapping[str, Decimal | None], usage: Mapping[str, float], policy: str, billed: frozenset[str]
) -> tuple[Overage, ...]:
    """Each finite limit the measured usage is above, where that is not allowed and charged."""
    found = []
    for resource, limit in sorted(limits.items()):
        if limit is None or resource not in usage:
            continue  # unlimited, or not measured
        if policy == "Bill" or resource in billed:
            continue
        if usage[resource] > float(limit):
            found.append(Overage(resource, usage[resource], float(limit)))
    return tuple(found)


def over_limit(
    plan_spec: Mapping[str, Any],
    limits: Mapping[str, Decimal | None],
    usage: Mapping[str, float] | None,
    status: Mapping[str, Any],
    now: datetime,
    suspend_after: float,
) -> OverLimit:
    """The tenant's over-limit state. Nothing without `overuse.suspendOnExceed` or without usage
    (offline rendering); `since` is kept from the status while something stays over."""
    overuse = plan_spec.get("overuse") or {}
    if not overuse.get("suspendOnExceed") or usage is None:
        return OverLimit()
    over = overages(limits, usage, str(overuse.get("policy") or "Notify"), billed_resources(plan_spec))
    if not over:
        return OverLimit()
    recorded = _since(status) or now
    return OverLimit(over, rfc3339(recorded), recorded + timedelta(seconds=suspend_after))


def _since(status: Mapping[str, Any]) -> datetime | None:
    record = status.get("overLimit")
    try:
        return parse_time(str(record.get("since") or "")) if isinstance(record, Mapping) else None
    except ValueError:
        return None  # not a time: the clock starts again


def active_invoices(invoices: Sequence[str], billing: Mapping[str, Any], dunning: bool) -> tuple[str, ...]:
    """The unpaid invoices that suspend the tenant: none when it is exempt or dunning is off."""
    if not dunning or billing.get("dunningExempt"):
        return ()
    return tuple(sorted(set(invoices)))


def suspension_reason(spec_reason: str, overdue: Sequence[str], over: OverLimit, now: datetime) -> str:
    """The reason the tenant is suspended ("" for none), by precedence (`REASONS`)."""
    if spec_reason:
        return spec_reason  # Manual or Expired
    if overdue:
        return "PaymentOverdue"
    if over.suspends_at is not None and over.suspends_at <= now:
        return "OverLimit"
    return ""


def invoice_suspends(body: Mapping[str, Any]) -> bool:
    """An Invoice that suspends its tenant: `suspendsTenant` set by the billing sidecar, not paid, not void."""
    status = body.get("status") or {}
    if not isinstance(status, Mapping):
        return False
    return (
        bool(status.get("suspendsTenant")) and not status.get("paidAt") and status.get("state") not in ("Paid", "Void")
    )
