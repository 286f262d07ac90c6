"""The Tenant status, rolled up from the components' observations. Pure.

Each component reports one condition; `Ready` is True when all of them are; the phase says
where the tenant is in its lifecycle (Failed only for what a person must fix).
`lastTransitionTime` changes only when a condition's status does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..api.composition import format_limits
from ..api.conditions import ConditionType, Phase
from ..api.resolution import Refusal, parse_time, rfc3339
from ..components import Observation
from ..pipeline import Desired, subdomain_of
from ..redaction import redact

# Status fields a refusal keeps from the last good status (what was provisioned stays reported).
# `database` is where the tenant's data lives: forgetting it would orphan the database.
# `namespaceUID`/`namespaceClaim` are what makes the namespace the tenant's: forgetting them
# would make its own namespace look foreign (NamespaceConflict) once the refusal is lifted;
# `subdomain` and `host` are its assigned host: forgetting them would let a refusal free it to be
# changed, or give its precedence to another tenant.
KEPT_ON_REFUSAL = (
    "planHistory",
    "addOnHistory",
    "trialEndsAt",
    "namespace",
    "namespaceUID",
    "namespaceClaim",
    "subdomain",
    "host",
    "url",
    "effective",
    "planSync",
    "deletionPolicy",
    "database",
    "suspension",
    "suspendedAt",
    "overLimit",  # the clock of suspendOnExceed: a refusal in between does not restart it
)


@dataclass(frozen=True)
class Observed:
    """One component's observation under its condition type."""

    condition: str
    observation: Observation


def condition(kind: str, ok: bool, reason: str, message: str, generation: Any) -> dict[str, Any]:
    """One condition; its message passes through the redaction step, whoever wrote it."""
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": redact(message),
        "observedGeneration": generation,
    }


def carry_times(new: list[dict[str, Any]], old: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """lastTransitionTime changes only when a condition's status does."""
    previous = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        before = previous.get(cond["type"])
        stamp = before.get("lastTransitionTime") if before and before.get("status") == cond["status"] else None
        out.append({**cond, "lastTransitionTime": stamp or rfc3339(now)})
    return out


def comparable(status: dict[str, Any]) -> dict[str, Any]:
    """The status without transition times: what decides whether a write is needed."""
    return {
        **status,
        "conditions": [
            {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []
        ],
    }


def _lifecycle(desired: Desired, now: datetime) -> tuple[str, str, str]:
    if desired.suspended:
        if desired.suspend_reason == "Manual":
            return Phase.SUSPENDED, "Manual", "suspended by spec.suspend; set it to false to activate"
        if desired.suspend_reason == "PaymentOverdue":
            return Phase.SUSPENDED, "PaymentOverdue", _payment_message(desired.overdue_invoices)
        if desired.suspend_reason == "OverLimit":
            return Phase.SUSPENDED, "OverLimit", _over_limit_message(desired)
        return Phase.SUSPENDED, "Expired", "expired at spec.expiresAt; extend or clear it to activate"
    trial_end = parse_time(desired.trial_ends_at)
    if trial_end is not None and trial_end > now:
        return Phase.TRIAL, "TrialRunning", f"trial until {desired.trial_ends_at}"
    return Phase.ACTIVE, "Provisioned", "all objects are in place"


def _payment_message(invoices: tuple[str, ...]) -> str:
    shown = ", ".join(invoices[:5]) + (f" and {len(invoices) - 5} more" if len(invoices) > 5 else "")
    first = invoices[0] if invoices else "<invoice>"
    return (
        f"unpaid past the grace period: invoice(s) {shown}; the tenant is activated as soon as they are paid "
        f"(the payment integration sets status.paidAt, or by hand: kubectl patch invoice {first} "
        f'--subresource=status --type=merge -p \'{{"status":{{"paidAt":"<RFC 3339 time>"}}}}\') '
        f"or fully credited (Void); spec.billing.dunningExempt: true exempts the tenant"
    )


def _over_limit_message(desired: Desired) -> str:
    over = desired.over_limit
    return (
        f"over its limits since {over.since}: {', '.join(o.describe() for o in over.overages)}; lower the usage, "
        f"raise the limit (a plan upgrade, spec.overrides.limits) or add an add-on (spec.addOns): the tenant is "
        f"activated as soon as every usage is within its limit"
    )


def _addon_history(
    old: dict[str, Any], spec: dict[str, Any], meta: dict[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """`status.addOnHistory`: the whole set of add-ons from each change on, for prorated billing.

    The first entry starts at the Tenant's creation (also for a tenant provisioned before this
    field existed: its add-ons have counted from the start); later ones when `spec.addOns` changes.
    """
    current = sorted(
        ({"name": str(a.get("name")), "quantity": int(a.get("quantity", 1))} for a in spec.get("addOns") or []),
        key=lambda a: str(a["name"]),
    )
    history = list(old.get("addOnHistory") or [])
    if not history:
        return [{"since": meta.get("creationTimestamp") or rfc3339(now), "addOns": current}]
    if history[-1].get("addOns") != current:
        history.append({"since": rfc3339(now), "addOns": current})
    return history


def tenant_status(tenant: dict[str, Any], desired: Desired, observed: list[Observed], now: datetime) -> dict[str, Any]:
    """The whole status of a provisioned tenant, from its desired state and what was observed."""
    meta = tenant["metadata"]
    spec = tenant.get("spec") or {}
    old = tenant.get("status") or {}
    generation = meta.get("generation")
    history = list(old.get("planHistory") or [])
    if not history or history[-1].get("plan") != spec.get("plan"):
        history.append({"plan": spec.get("plan"), "since": rfc3339(now)})
    addon_history = _addon_history(old, spec, meta, now)
    phase, reason, message = _lifecycle(desired, now)
    failing = [o for o in observed if not o.observation.ok]
    broken = [o for o in failing if o.observation.failed]
    if broken:
        phase, reason = Phase.FAILED, broken[0].observation.reason
        message = f"{broken[0].condition}: {broken[0].observation.message}"
    ready_ok = not failing
    ready_reason, ready_message = reason, message
    if failing and not broken:
        first = failing[0]
        ready_reason = f"{first.condition.removesuffix('Ready')}NotReady"
        ready_message = f"{first.condition}: {first.observation.message}"
        message = ready_message
    ent = desired.entitlements
    shortfalls = "; ".join(f"{s.property}: promised {s.promised}, available {s.available}" for s in ent.shortfalls)
    conditions = [
        condition(ConditionType.READY, ready_ok, ready_reason, ready_message, generation),
        *(
            condition(o.condition, o.observation.ok, o.observation.reason, o.observation.message, generation)
            for o in observed
        ),
        condition(
            ConditionType.PLAN_SYNCED,
            ent.state != "Unsynchronized",
            ent.state,
            shortfalls or f"plan sync state {ent.state}",
            generation,
        ),
    ]
    plan_sync: dict[str, Any] = {"state": ent.state}
    if ent.shortfalls:
        plan_sync["unsynchronized"] = [s.as_status() for s in ent.shortfalls]
    if ent.locked is not None:
        plan_sync["locked"] = ent.locked
    status: dict[str, Any] = {
        "phase": str(phase),
        "reason": reason,
        "message": redact(message),
        "observedGeneration": generation,
        "namespace": desired.namespace,
        # Assigned (the label cannot change from now on; the host is what holds it against others),
        # but not by a tenant that failed before serving anything: it would hold a host it never served.
        "subdomain": old.get("subdomain") if phase == Phase.FAILED else subdomain_of(spec, meta.get("name")),
        "host": old.get("host") if phase == Phase.FAILED else desired.host,
        "url": desired.url,
        "conditions": carry_times(conditions, old.get("conditions") or [], now),
        "effective": {"limits": format_limits(ent.limits), "features": ent.features},
        "planSync": plan_sync,
        "planHistory": history,
        "addOnHistory": addon_history,
        "deletionPolicy": spec.get("deletionPolicy", "Retain"),
    }
    if desired.trial_ends_at:
        status["trialEndsAt"] = desired.trial_ends_at
    over_limit = desired.over_limit.record()
    if over_limit is not None:
        status["overLimit"] = over_limit
    if desired.suspended:
        status["suspendedAt"] = old.get("suspendedAt") or rfc3339(now)
    if old.get("suspension"):
        status["suspension"] = old["suspension"]  # until the workloads it records are restored
    return status


def refused_status(tenant: dict[str, Any], refusal: Refusal, now: datetime) -> dict[str, Any]:
    """The status of a tenant the pipeline refused: what it had stays, Ready says why not."""
    old = tenant.get("status") or {}
    generation = tenant["metadata"].get("generation")
    status = {k: v for k, v in old.items() if k in KEPT_ON_REFUSAL}
    message = f"{refusal.field}: {refusal.message}" if refusal.field else refusal.message
    conditions = [condition(ConditionType.READY, False, refusal.reason, message, generation)]
    status.update(
        {
            "phase": refusal.phase,
            "reason": refusal.reason,
            "message": message,
            "observedGeneration": generation,
            "conditions": carry_times(conditions, old.get("conditions") or [], now),
        }
    )
    return status


def condition_changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """Component conditions whose status changed: (condition, True when it recovered)."""
    before = {c.get("type"): c for c in old.get("conditions") or []}
    changes = []
    for cond in new.get("conditions") or []:
        if cond["type"] in (ConditionType.READY, ConditionType.PLAN_SYNCED):
            continue
        previous = before.get(cond["type"])
        if previous is None:
            if cond["status"] == "False":
                changes.append((cond, False))
            continue
        if previous.get("status") != cond["status"]:
            changes.append((cond, cond["status"] == "True"))
    return changes
