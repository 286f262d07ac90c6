"""The desired state of one tenant: a pure function of (tenant, catalogue, configuration, now).

The controller, `landlord render` and `landlord validate` all call `desire`; what it refuses,
it refuses with the same words everywhere (`landlord.pipeline.rules`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..api.composition import AddOnUse, Allocation, Entitlements, entitlements
from ..api.resolution import Refusal, parse_time, rfc3339, suspension
from ..config import Config
from ..render.tenant import TenantView, host_of, namespace_of, render_by_component, url_of, verified_domains
from .allocation import reseller_shares
from .catalogue import Catalogue
from .overuse import OverLimit, active_invoices, over_limit, suspension_reason
from .rules import PENDING, Violation, resolve

_COMPUTE = object()


@dataclass(frozen=True)
class Desired:
    """Everything the tenant should have now, and why."""

    name: str
    spec: dict[str, Any]
    plan: dict[str, Any]
    addons: list[AddOnUse]
    reseller: dict[str, Any] | None
    entitlements: Entitlements
    suspended: bool
    suspend_reason: str  # Manual | Expired | PaymentOverdue | OverLimit | "" (pipeline.overuse: precedence)
    trial_ends_at: str | None
    namespace: str
    host: str
    url: str
    children: dict[str, list[dict[str, Any]]]  # component name -> its Kubernetes objects
    warnings: tuple[Violation, ...] = ()
    verified_domains: tuple[str, ...] = ()  # custom domains proven and still wanted: routable
    over_limit: OverLimit = field(default_factory=OverLimit)  # over limits, suspendOnExceed (status.overLimit)
    overdue_invoices: tuple[str, ...] = ()  # invoices that suspend the tenant (PaymentOverdue)

    @property
    def view(self) -> TenantView:
        return TenantView(
            self.name,
            self.spec,
            self.entitlements,
            self.reseller,
            self.suspended,
            self.plan.get("spec") or {},
            self.verified_domains,
        )

    def objects(self) -> list[dict[str, Any]]:
        return [obj for objects in self.children.values() for obj in objects]


def refusal_of(violation: Violation) -> Refusal:
    return Refusal(violation.phase, violation.reason, violation.message, violation.field)


def trial_end(tenant: dict[str, Any], plan: dict[str, Any], now: datetime) -> str | None:
    """When the tenant's trial ends: kept once recorded; else creation + the plan's trialDays.

    No trial for a tenant that skips it (`spec.billing.skipTrial`) or that changed plans.
    """
    status = tenant.get("status") or {}
    if status.get("trialEndsAt"):
        return str(status["trialEndsAt"])
    spec = tenant.get("spec") or {}
    if ((spec.get("billing") or {}).get("skipTrial")) or len(status.get("planHistory") or []) > 1:
        return None
    history = status.get("planHistory") or []
    if history and history[-1].get("plan") != spec.get("plan"):
        return None
    days = int(((plan.get("spec") or {}).get("pricing") or {}).get("trialDays") or 0)
    if days <= 0:
        return None
    created = parse_time((tenant.get("metadata") or {}).get("creationTimestamp")) or now
    return rfc3339(created + timedelta(days=days))


def desire(
    tenant: dict[str, Any],
    catalogue: Catalogue,
    config: Config,
    now: datetime,
    share: Allocation | object | None = _COMPUTE,
    usage: Mapping[str, float] | None = None,
    invoices: Sequence[str] = (),
) -> Desired:
    """The tenant's desired state, or `Refusal` (the first error, as the operator reports it).

    `share`: this tenant's part of its reseller's allocation, when the caller already computed
    the reseller's shares (the operator does once per reseller); computed here otherwise.
    `usage`: what the tenant uses, by resource (None offline: nothing is over a limit);
    `invoices`: its unpaid invoices past grace (`status.suspendsTenant`). See `pipeline.overuse`.
    """
    name = str(tenant["metadata"]["name"])
    spec = tenant.get("spec") or {}
    resolved = resolve(catalogue, tenant, config=config)
    if resolved.errors:
        raise refusal_of(resolved.errors[0])
    assert resolved.plan is not None
    caps = None
    if resolved.reseller is not None:
        if share is _COMPUTE:
            shares = reseller_shares(catalogue, resolved.reseller)
            share = None if shares is None else shares.get(name)
        if isinstance(share, Allocation):
            if not share.admitted:
                raise refusal_of(
                    Violation(
                        "spec.reseller",
                        "AllocationExhausted",
                        f"reseller {spec['reseller']!r} has no tenants left in its allocation; raise "
                        f"spec.allocation.tenants of the reseller or remove a tenant",
                        PENDING,
                    )
                )
            caps = share.caps
    locked = ((tenant.get("status") or {}).get("planSync") or {}).get("locked")
    ent = entitlements(spec, resolved.plan.get("spec") or {}, resolved.addons, locked, caps)
    plan_spec = resolved.plan.get("spec") or {}
    over = over_limit(plan_spec, ent.limits, usage, tenant.get("status") or {}, now, config.suspend_after)
    overdue = active_invoices(invoices, spec.get("billing") or {}, dunning=bool(invoices) and _dunning(config))
    reason = suspension_reason(suspension(spec, now)[1], overdue, over, now)
    suspended = bool(reason)
    verified = verified_domains(spec, tenant.get("status") or {})
    view = TenantView(name, spec, ent, resolved.reseller, suspended, resolved.plan.get("spec") or {}, verified)
    return Desired(
        name=name,
        spec=spec,
        plan=resolved.plan,
        addons=resolved.addons,
        reseller=resolved.reseller,
        entitlements=ent,
        suspended=suspended,
        suspend_reason=reason,
        trial_ends_at=trial_end(tenant, resolved.plan, now),
        namespace=namespace_of(config, name),
        host=host_of(config, view),
        url=url_of(config, view),
        children=render_by_component(config, view),
        warnings=tuple(v for v in resolved.violations if v.severity != "error"),
        verified_domains=verified,
        over_limit=over,
        overdue_invoices=overdue,
    )


def _dunning(config: Config) -> bool:
    """Unpaid invoices suspend tenants unless `billing.graceDays` is null (never)."""
    return config.billing.grace_days is not None
