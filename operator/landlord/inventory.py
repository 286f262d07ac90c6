"""What the operator knows of the cluster, from kopf's in-memory indexes (no API reads).

kopf keeps the indexes current from its watches, and starts handlers only once every index is
populated, so a reconcile never sees a half-listed catalogue. `Inventory` is the operator's
`landlord.pipeline.Catalogue`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .kinds import CHILD_KINDS
from .render.view import MANAGED_BY, TENANT_LABEL

__all__ = ["CHILD_KINDS", "INDEX_NAMES", "Inventory", "child_index_name", "is_ours"]
INDEX_NAMES = {
    "Tenant": "tenant_index",
    "Plan": "plan_index",
    "AddOn": "addon_index",
    "Reseller": "reseller_index",
}


def child_index_name(kind: str) -> str:
    return f"child_{kind.lower()}_index"


def is_ours(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return TENANT_LABEL in labels and all(labels.get(k) == v for k, v in MANAGED_BY.items())


def _first(values: Iterable[Any] | None) -> dict[str, Any] | None:
    for value in values or ():
        result: dict[str, Any] = value
        return result
    return None


class Inventory:
    """Lookups over kopf's indexes: the catalogue, the tenants, the children of a tenant."""

    def __init__(self, indices: Mapping[str, Any]) -> None:
        self.indices = indices

    def _get(self, kind: str, name: str) -> dict[str, Any] | None:
        index = self.indices[INDEX_NAMES[kind]]
        return _first(index.get(name))

    def tenant(self, name: str) -> dict[str, Any] | None:
        return self._get("Tenant", name)

    def plan(self, name: str) -> dict[str, Any] | None:
        return self._get("Plan", name)

    def addon(self, name: str) -> dict[str, Any] | None:
        return self._get("AddOn", name)

    def reseller(self, name: str) -> dict[str, Any] | None:
        return self._get("Reseller", name)

    def names(self, kind: str) -> list[str]:
        return sorted(self.indices[INDEX_NAMES[kind]].keys())

    def referencing(self, kind: str, name: str) -> list[str]:
        """Tenants whose spec names this Plan, AddOn or Reseller, or claims this Host or Domain."""
        return sorted(set(self.indices["tenant_refs_index"].get((kind, name), ())))

    def children(self, tenant: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for kind in CHILD_KINDS:
            found.extend(self.indices[child_index_name(kind)].get(tenant, ()))
        return found
