"""The rules a tenant must satisfy before anything is provisioned, written once.

The operator turns the first error into the tenant's phase and reason; `landlord validate`
reports every violation at its line. Both read the same words, so that a pull request fails
with the message the cluster would have given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..api.composition import AddOnUse
from .catalogue import Catalogue, host_claims

PENDING, FAILED = "Pending", "Failed"


@dataclass(frozen=True)
class Violation:
    """One reason a tenant cannot be provisioned as it is.

    `phase` is what the operator makes of it: Pending when something it needs may still
    appear (a plan, an add-on, a reseller, an allocation slot), Failed when the tenant's own
    spec must change. `severity` is "warning" for what is fine for an existing subscriber but
    not for a new one (offline, a retired plan).
    """

    field: str
    reason: str
    message: str
    phase: str = FAILED
    severity: str = "error"


@dataclass
class Resolution:
    """A tenant resolved against the catalogue, and what stands in the way."""

    plan: dict[str, Any] | None
    addons: list[AddOnUse]
    reseller: dict[str, Any] | None
    violations: list[Violation] = field(default_factory=list)

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]


def mapping(value: Any) -> dict[str, Any]:
    """The value when it is a mapping, else empty: offline input may be of any type (the schema
    check reports it); the rules must not crash on it."""
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    """The value when it is a list, else empty (see `mapping`)."""
    return value if isinstance(value, list) else []


def _known(catalogue: Catalogue, kind: str) -> str:
    names = catalogue.names(kind)
    if not names:
        return "none exists"
    more = f", and {len(names) - 10} more" if len(names) > 10 else ""
    return "known: " + ", ".join(names[:10]) + more


def had_plan(status: dict[str, Any], plan: str) -> bool:
    """Whether the tenant is already on this plan (so a retired or deleting plan still serves it)."""
    history = sequence(status.get("planHistory"))
    return bool(history) and mapping(history[-1]).get("plan") == plan


def resolve(catalogue: Catalogue, tenant: dict[str, Any], offline: bool = False) -> Resolution:
    """The tenant's plan, add-ons and reseller from the catalogue, with every violation found.

    `offline`: checked from files (no status, no age): a retired plan is a warning there.
    """
    spec = mapping(tenant.get("spec"))
    status = mapping(tenant.get("status"))
    name = str(mapping(tenant.get("metadata")).get("name", ""))
    out = Resolution(None, [], None)
    out.violations.extend(_plan_rules(catalogue, spec, status, offline, out))
    out.violations.extend(_addon_rules(catalogue, spec, out))
    out.violations.extend(_reseller_rules(catalogue, spec, out))
    out.violations.extend(_claim_rules(catalogue, name, spec))
    return out


def _plan_rules(
    catalogue: Catalogue, spec: dict[str, Any], status: dict[str, Any], offline: bool, out: Resolution
) -> Iterator[Violation]:
    plan_name = str(spec.get("plan", ""))
    plan = catalogue.plan(plan_name)
    deleting = plan is not None and mapping(plan.get("metadata")).get("deletionTimestamp")
    if plan is None:
        yield Violation(
            "spec.plan",
            "PlanNotFound",
            f"plan {plan_name!r} does not exist; create it or set spec.plan to an existing plan "
            f"({_known(catalogue, 'Plan')})",
            PENDING,
        )
        return
    if deleting and not had_plan(status, plan_name):
        yield Violation(
            "spec.plan",
            "PlanDeleting",
            f"plan {plan_name!r} is being deleted and takes no new tenants; choose another plan",
            PENDING,
        )
        return
    out.plan = plan
    if mapping(plan.get("spec")).get("retired") and not had_plan(status, plan_name):
        yield Violation(
            "spec.plan",
            "PlanRetired",
            f"plan {plan_name!r} is retired and takes no new tenants (existing subscribers keep it); "
            f"choose another plan",
            FAILED,
            "warning" if offline else "error",
        )


def _addon_rules(catalogue: Catalogue, spec: dict[str, Any], out: Resolution) -> Iterator[Violation]:
    plan_name = str(spec.get("plan", ""))
    currency = mapping(mapping(mapping(out.plan).get("spec")).get("pricing")).get("currency")
    for index, entry in enumerate(sequence(spec.get("addOns"))):
        if not isinstance(entry, dict):
            continue
        where = f"spec.addOns[{index}]"
        addon_name = str(entry.get("name", ""))
        addon = catalogue.addon(addon_name)
        if addon is None:
            yield Violation(
                f"{where}.name",
                "AddOnNotFound",
                f"add-on {addon_name!r} does not exist; create it or remove it from spec.addOns "
                f"({_known(catalogue, 'AddOn')})",
                PENDING,
            )
            continue
        addon_spec = mapping(addon.get("spec"))
        allowed = [str(p) for p in sequence(addon_spec.get("plans"))]
        if allowed and plan_name not in allowed:
            yield Violation(
                f"{where}.name",
                "AddOnNotAllowed",
                f"add-on {addon_name!r} is not offered with plan {plan_name!r} (only with "
                f"{', '.join(allowed)}); remove it or change the plan",
            )
        quantity = entry.get("quantity", 1)
        maximum = addon_spec.get("maxQuantity", 1)
        if isinstance(quantity, int) and isinstance(maximum, int) and quantity > maximum:
            yield Violation(
                f"{where}.quantity",
                "QuantityTooHigh",
                f"{quantity} is more than add-on {addon_name!r} allows (maxQuantity {maximum}); "
                f"lower it to {maximum} or less",
            )
        addon_currency = mapping(addon_spec.get("pricing")).get("currency")
        if addon_currency and currency and addon_currency != currency:
            yield Violation(
                f"{where}.name",
                "CurrencyMismatch",
                f"add-on {addon_name!r} is priced in {addon_currency} but plan {plan_name!r} in "
                f"{currency}; use an add-on priced in {currency}",
            )
        out.addons.append(AddOnUse(addon_name, int(quantity) if isinstance(quantity, int) else 1, addon_spec))


def _reseller_rules(catalogue: Catalogue, spec: dict[str, Any], out: Resolution) -> Iterator[Violation]:
    if not spec.get("reseller"):
        return
    out.reseller = catalogue.reseller(str(spec["reseller"]))
    if out.reseller is None:
        yield Violation(
            "spec.reseller",
            "ResellerNotFound",
            f"reseller {spec['reseller']!r} does not exist; create it or remove spec.reseller "
            f"({_known(catalogue, 'Reseller')})",
            PENDING,
        )


def _age(catalogue: Catalogue, name: str) -> str:
    tenant = catalogue.tenant(name) or {}
    return str(mapping(tenant.get("metadata")).get("creationTimestamp") or "")


def _position(names: list[str], name: str) -> int:
    return names.index(name) if name in names else len(names)


def _claim_rules(catalogue: Catalogue, name: str, spec: dict[str, Any]) -> Iterator[Violation]:
    """A host belongs to one tenant only: the oldest claim wins, the others are refused."""
    custom = [str(h) for h in sequence(mapping(spec.get("domains")).get("custom"))]
    for claim in sorted(host_claims(spec, name)):
        holders = [
            h
            for h in catalogue.referencing(*claim)
            if h != name and not mapping((catalogue.tenant(h) or {}).get("metadata")).get("deletionTimestamp")
        ]
        if not holders:
            continue
        everyone = catalogue.referencing(*claim)
        ranked = sorted([*holders, name], key=lambda h: (_age(catalogue, h), _position(everyone, h)))
        if ranked[0] == name:
            continue
        owner = holders[0]
        if claim[0] == "Host":
            subdomain = claim[1].rpartition("@")[0]
            yield Violation(
                "spec.domains.subdomain",
                "HostConflict",
                f"subdomain {subdomain!r} is already used by Tenant/{owner}; choose another subdomain",
            )
        else:
            index = custom.index(claim[1]) if claim[1] in custom else 0
            yield Violation(
                f"spec.domains.custom[{index}]",
                "DomainConflict",
                f"custom domain {claim[1]!r} already belongs to Tenant/{owner}; a domain belongs to one tenant "
                f"only: remove it here or from Tenant/{owner}",
            )
