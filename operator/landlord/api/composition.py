"""Effective entitlements: Plan + Σ(AddOn x quantity) + Tenant overrides, and plan sync.

Pure functions of their inputs. Limits are exact decimals; `None` means unlimited, which
absorbs anything added to it. An omitted plan limit is 0 (not offered); an add-on limit left
unset adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..quantity import parse_quantity
from .schemas import COUNT_LIMITS, LIMIT_KEYS

UNLIMITED = "unlimited"
Limits = dict[str, Decimal | None]


def parse_limit(raw: Any) -> Decimal | None:
    if raw == UNLIMITED:
        return None
    return parse_quantity(raw)


def format_limit(key: str, value: Decimal | None) -> str | int:
    """The canonical text of a limit: counts as integers, bytes in the largest exact binary unit."""
    if value is None:
        return UNLIMITED
    if key in COUNT_LIMITS:
        return int(value)
    if key == "cpu":
        if value == value.to_integral_value():
            return str(int(value))
        return f"{int(value * 1000)}m"
    number = int(value) if value == value.to_integral_value() else None
    if number is None:
        return str(value.normalize())
    if number == 0:
        return "0"
    for suffix, size in (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if number % size == 0:
            return f"{number // size}{suffix}"
    return str(number)


def format_limits(limits: Limits) -> dict[str, str | int]:
    return {key: format_limit(key, limits[key]) for key in LIMIT_KEYS if key in limits}


def parse_limits(raw: dict[str, Any] | None) -> Limits:
    return {key: parse_limit(value) for key, value in (raw or {}).items() if key in LIMIT_KEYS}


@dataclass(frozen=True)
class AddOnUse:
    name: str
    quantity: int
    spec: dict[str, Any]


@dataclass
class Composition:
    limits: Limits
    features: list[str]


def compose(plan_spec: dict[str, Any], addons: list[AddOnUse]) -> Composition:
    """Plan + Σ(AddOn x quantity), before overrides."""
    plan_limits = parse_limits(plan_spec.get("limits"))
    limits: Limits = {key: plan_limits.get(key, Decimal(0)) for key in LIMIT_KEYS}
    features = set(plan_spec.get("features") or [])
    for use in addons:
        for key, increment in parse_limits(use.spec.get("limits")).items():
            current = limits[key]
            if current is None:
                continue
            limits[key] = None if increment is None else current + increment * use.quantity
        features |= set(use.spec.get("features") or [])
    return Composition(limits, sorted(features))


def apply_overrides(base: Composition, overrides: dict[str, Any] | None) -> Composition:
    overrides = overrides or {}
    limits = dict(base.limits)
    limits.update(parse_limits(overrides.get("limits")))
    features = sorted(set(base.features) | set(overrides.get("features") or []))
    return Composition(limits, features)


@dataclass
class Shortfall:
    property: str
    promised: str
    available: str

    def as_status(self) -> dict[str, str]:
        return {"property": self.property, "promised": self.promised, "available": self.available}


@dataclass
class Entitlements:
    """What a tenant gets, and how that relates to what its plan promises."""

    limits: Limits
    features: list[str]
    state: str  # Synced | Customized | Locked | Unsynchronized
    shortfalls: list[Shortfall] = field(default_factory=list)
    locked: dict[str, Any] | None = None  # the snapshot to keep in status while Locked


def _snapshot_key(plan: str, addons: list[AddOnUse]) -> list[list[Any]]:
    return [[a.name, a.quantity] for a in sorted(addons, key=lambda a: a.name)] + [[plan]]


def entitlements(
    tenant_spec: dict[str, Any],
    plan_spec: dict[str, Any],
    addons: list[AddOnUse],
    previous_lock: dict[str, Any] | None,
    caps: Limits | None = None,
) -> Entitlements:
    """Effective values for a tenant.

    - Locked: the plan-and-add-ons part is the snapshot taken when the tenant was locked (or
      when it last changed its own plan or add-ons while locked); plan edits do not reach it.
    - Overrides pin single fields on top.
    - `caps`: what the cluster (a reseller's allocation) can deliver; anything above is cut to
      the cap and listed as a shortfall: Unsynchronized, never silently over-provisioned.
    """
    plan_name = tenant_spec.get("plan", "")
    locked_policy = tenant_spec.get("syncPolicy", "Auto") == "Locked"
    lock: dict[str, Any] | None = None
    base = compose(plan_spec, addons)
    if locked_policy:
        key = _snapshot_key(plan_name, addons)
        if previous_lock and previous_lock.get("key") == key:
            base = Composition(parse_limits(previous_lock.get("limits")), list(previous_lock.get("features") or []))
            lock = previous_lock
        else:
            lock = {"key": key, "limits": format_limits(base.limits), "features": base.features}
    overrides = tenant_spec.get("overrides") or {}
    promised = apply_overrides(base, overrides)
    limits = dict(promised.limits)
    shortfalls: list[Shortfall] = []
    for limit_key, cap in (caps or {}).items():
        wanted = limits.get(limit_key)
        if cap is None:
            continue
        if wanted is None or wanted > cap:
            shortfalls.append(
                Shortfall(
                    f"limits.{limit_key}", str(format_limit(limit_key, wanted)), str(format_limit(limit_key, cap))
                )
            )
            limits[limit_key] = cap
    if shortfalls:
        state = "Unsynchronized"
    elif locked_policy:
        state = "Locked"
    elif overrides.get("limits") or overrides.get("features"):
        state = "Customized"
    else:
        state = "Synced"
    return Entitlements(limits, promised.features, state, shortfalls, lock)


@dataclass
class Allocation:
    admitted: bool
    caps: Limits


def allocate(reseller_spec: dict[str, Any], tenants: list[tuple[str, Limits]]) -> dict[str, Allocation]:
    """Shares a reseller's allocation among its tenants, oldest first.

    A tenant beyond the tenant count is not admitted; one whose limits exceed what is left gets
    caps (unless the reseller may oversell). `tenants` must be in a stable order (creation).
    """
    allocation = reseller_spec.get("allocation") or {}
    oversell = bool(allocation.get("oversell"))
    max_tenants = allocation.get("tenants")
    totals = parse_limits(allocation.get("limits"))
    used: dict[str, Decimal] = {key: Decimal(0) for key in totals}
    result: dict[str, Allocation] = {}
    admitted = 0
    for name, wanted in tenants:
        if max_tenants is not None and admitted >= max_tenants:
            result[name] = Allocation(False, {})
            continue
        admitted += 1
        caps: Limits = {}
        for key, total in totals.items():
            if total is None:
                continue
            ask = wanted.get(key, Decimal(0))
            left = max(total - used[key], Decimal(0))
            if not oversell and (ask is None or ask > left):
                caps[key] = left
                used[key] += left
            else:
                used[key] += ask if ask is not None else Decimal(0)
        result[name] = Allocation(True, caps)
    return result
