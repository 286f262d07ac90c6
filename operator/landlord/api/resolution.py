"""Resolving a Tenant against the catalogue: plan, add-ons, reseller and its allocation.

Pure functions over an inventory (kopf's indexes in the operator, files in `landlord render`),
shared by the operator and the CLI so that both give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..inventory import Inventory
from .composition import AddOnUse, Allocation, allocate, entitlements


class Refusal(Exception):
    """The tenant cannot be provisioned as it is: a phase, a reason and how to fix it."""

    def __init__(self, phase: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.phase = phase
        self.reason = reason
        self.message = message


@dataclass
class Resolved:
    plan: dict[str, Any]
    addons: list[AddOnUse]
    reseller: dict[str, Any] | None


def resolve(inventory: Inventory, tenant: dict[str, Any]) -> Resolved:
    spec = tenant.get("spec") or {}
    status = tenant.get("status") or {}
    plan_name = spec.get("plan", "")
    plan = inventory.plan(plan_name)
    if plan is None or ((plan.get("metadata") or {}).get("deletionTimestamp") and not _had_plan(status, plan_name)):
        raise Refusal(
            "Pending",
            "PlanNotFound",
            f"plan {plan_name!r} does not exist; create it or set spec.plan to an existing plan",
        )
    if (plan.get("spec") or {}).get("retired") and not _had_plan(status, plan_name):
        raise Refusal(
            "Failed", "PlanRetired", f"plan {plan_name!r} is retired and takes no new tenants; choose another plan"
        )
    currency = ((plan.get("spec") or {}).get("pricing") or {}).get("currency")
    uses = []
    for entry in spec.get("addOns") or []:
        addon = inventory.addon(entry["name"])
        if addon is None:
            raise Refusal(
                "Pending",
                "AddOnNotFound",
                f"add-on {entry['name']!r} does not exist; create it or remove it from spec.addOns",
            )
        addon_spec = addon.get("spec") or {}
        allowed = addon_spec.get("plans") or []
        if allowed and plan_name not in allowed:
            raise Refusal(
                "Failed",
                "AddOnNotAllowed",
                f"add-on {entry['name']!r} is not offered with plan {plan_name!r} (only with "
                f"{', '.join(allowed)}); remove it or change the plan",
            )
        quantity = int(entry.get("quantity", 1))
        maximum = int(addon_spec.get("maxQuantity", 1))
        if quantity > maximum:
            raise Refusal(
                "Failed",
                "QuantityTooHigh",
                f"add-on {entry['name']!r} allows at most {maximum}; lower spec.addOns quantity",
            )
        addon_currency = (addon_spec.get("pricing") or {}).get("currency")
        if addon_currency and currency and addon_currency != currency:
            raise Refusal(
                "Failed",
                "CurrencyMismatch",
                f"add-on {entry['name']!r} is priced in {addon_currency} but plan {plan_name!r} in {currency}",
            )
        uses.append(AddOnUse(entry["name"], quantity, addon_spec))
    reseller = None
    if spec.get("reseller"):
        reseller = inventory.reseller(spec["reseller"])
        if reseller is None:
            raise Refusal(
                "Pending",
                "ResellerNotFound",
                f"reseller {spec['reseller']!r} does not exist; create it or remove spec.reseller",
            )
    return Resolved(plan, uses, reseller)


def allocation_share(inventory: Inventory, tenant: dict[str, Any], reseller: dict[str, Any]) -> Allocation | None:
    """This tenant's share of its reseller's allocation (oldest tenants first)."""
    shares = reseller_shares(inventory, reseller)
    return None if shares is None else shares.get(tenant["metadata"]["name"])


def reseller_shares(inventory: Inventory, reseller: dict[str, Any]) -> dict[str, Allocation] | None:
    """Every tenant's share of a reseller's allocation; None when it allocates nothing."""
    allocation = (reseller.get("spec") or {}).get("allocation") or {}
    if allocation.get("tenants") is None and not allocation.get("limits"):
        return None  # nothing to share: every tenant gets what it is promised
    siblings = []
    for name in inventory.referencing("Reseller", reseller["metadata"]["name"]):
        sibling = inventory.tenant(name)
        if sibling is None or sibling["metadata"].get("deletionTimestamp"):
            continue
        try:
            resolved = resolve(inventory, sibling)
        except Refusal:
            continue
        sibling_spec = sibling.get("spec") or {}
        promised = entitlements(
            sibling_spec,
            resolved.plan.get("spec") or {},
            resolved.addons,
            ((sibling.get("status") or {}).get("planSync") or {}).get("locked"),
        )
        siblings.append(((sibling["metadata"].get("creationTimestamp", ""), name), promised.limits))
    siblings.sort(key=lambda item: item[0])
    return allocate(reseller.get("spec") or {}, [(key[1], limits) for key, limits in siblings])


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def suspension(spec: dict[str, Any], now: datetime) -> tuple[bool, str]:
    """Whether the tenant is suspended now, and why (Manual or Expired)."""
    if spec.get("suspend"):
        return True, "Manual"
    expires = parse_time(spec.get("expiresAt"))
    if expires is not None and expires <= now:
        return True, "Expired"
    return False, ""


def _had_plan(status: dict[str, Any], plan: str) -> bool:
    history = status.get("planHistory") or []
    return bool(history) and history[-1].get("plan") == plan
