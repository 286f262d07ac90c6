"""A reseller's allocation shared among its tenants, oldest first. Pure over a catalogue."""

from __future__ import annotations

from typing import Any

from ..api.composition import Allocation, allocate, entitlements
from .catalogue import Catalogue
from .rules import resolve


def reseller_shares(catalogue: Catalogue, reseller: dict[str, Any]) -> dict[str, Allocation] | None:
    """Every tenant's share of a reseller's allocation; None when it allocates nothing.

    Computed once for all of a reseller's tenants (the operator caches it until something
    changes), not once per tenant.
    """
    allocation = (reseller.get("spec") or {}).get("allocation") or {}
    if allocation.get("tenants") is None and not allocation.get("limits"):
        return None  # nothing to share: every tenant gets what it is promised
    siblings = []
    for name in catalogue.referencing("Reseller", reseller["metadata"]["name"]):
        sibling = catalogue.tenant(name)
        if sibling is None or sibling["metadata"].get("deletionTimestamp"):
            continue
        resolved = resolve(catalogue, sibling)
        if resolved.errors or resolved.plan is None:
            continue
        promised = entitlements(
            sibling.get("spec") or {},
            resolved.plan.get("spec") or {},
            resolved.addons,
            ((sibling.get("status") or {}).get("planSync") or {}).get("locked"),
        )
        siblings.append(((str(sibling["metadata"].get("creationTimestamp", "")), name), promised.limits))
    siblings.sort(key=lambda item: item[0])
    return allocate(reseller.get("spec") or {}, [(key[1], limits) for key, limits in siblings])
