"""What the operator knows of the cluster, from its in-memory indexes (no API reads).

The indexes (`landlord.indexes`) are listed at start and kept current from the watches.
`Inventory` is the operator's `landlord.pipeline.Catalogue`, plus the children of each tenant.

Only what Landlord manages is indexed: the child watches select the tenant and managed-by
labels on the API server (`CHILD_SELECTOR`), and of what they deliver only an object with
exactly a name Landlord renders, in the namespace of the tenant its label names, is kept
(`child_owner`). A tenant that copies the labels onto thousands of its own objects costs the
operator a filtered event each, never an index entry, a reconcile or a prune.

A watch that was away long enough to list again (410 Gone) never reports what was deleted
meanwhile: the operator checks the indexes against a fresh list then, and forgets what is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .kinds import CHILD_KINDS
from .render.network import FORMER_POLICIES, ISOLATION_POLICY
from .render.view import MANAGED_BY, TENANT_LABEL

__all__ = [
    "CHILD_KINDS",
    "CHILD_NAMES",
    "CHILD_SELECTOR",
    "DUNNING_INDEX",
    "INDEX_NAMES",
    "Inventory",
    "child_index_name",
    "child_owner",
    "home_tenant",
    "is_ours",
    "uid_of",
]
INDEX_NAMES = {
    "Tenant": "tenant_index",
    "Plan": "plan_index",
    "AddOn": "addon_index",
    "Reseller": "reseller_index",
}
REFS_INDEX = "tenant_refs_index"
# Invoices that suspend their tenant (handlers: `status.suspendsTenant`, unpaid, not void), by
# tenant: only their names. Absent until the Invoice CRD is installed (then simply empty).
DUNNING_INDEX = "invoice_dunning_index"

# Every name Landlord gives a namespaced child, by kind (the Namespace is `<prefix><tenant>`).
# Exact names, not a prefix: a tenant must not get thousands of objects indexed by naming them
# `landlord-...`. A renderer that adds a name adds it here (a unit test renders every child).
CHILD_NAMES: dict[str, frozenset[str]] = {
    "ResourceQuota": frozenset({"landlord-quota"}),
    "LimitRange": frozenset({"landlord-defaults"}),
    # The former names stay indexed so that an upgrade prunes them.
    "NetworkPolicy": frozenset({ISOLATION_POLICY, *FORMER_POLICIES}),
    "RoleBinding": frozenset({"landlord-owners"}),
    "ConfigMap": frozenset({"landlord-entitlements"}),
    "Secret": frozenset({"landlord-database"}),  # the database component's credentials
}

# The server-side label selector of the child watches: what Landlord labels every child with.
CHILD_SELECTOR = ",".join([TENANT_LABEL, *(f"{key}={value}" for key, value in sorted(MANAGED_BY.items()))])


def child_index_name(kind: str) -> str:
    return f"child_{kind.lower()}_index"


def is_ours(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return TENANT_LABEL in labels and all(labels.get(k) == v for k, v in MANAGED_BY.items())


def uid_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def home_tenant(kind: str, obj: Mapping[str, Any], prefix: str) -> str | None:
    """The tenant whose namespace holds an object named as Landlord names its children, or None.

    Whatever the labels say: a child relabelled by hand is still its home tenant's to repair.
    """
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    if kind == "Namespace":
        return name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else None
    namespace = str(meta.get("namespace") or "")
    if name not in CHILD_NAMES.get(kind, ()) or not namespace.startswith(prefix) or namespace == prefix:
        return None
    return namespace[len(prefix) :]


def child_owner(kind: str, obj: Mapping[str, Any], prefix: str) -> str | None:
    """The tenant an object is a child of: Landlord's labels naming the tenant whose namespace
    holds it, under a name Landlord renders. None for anything else, whoever labelled it."""
    if not is_ours(obj):
        return None
    home = home_tenant(kind, obj, prefix)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return home if home is not None and labels.get(TENANT_LABEL) == home else None


def _first(values: Iterable[Any] | None, gone: set[str]) -> dict[str, Any] | None:
    for value in values or ():
        if uid_of(value) not in gone:
            result: dict[str, Any] = value
            return result
    return None


class Inventory:
    """Lookups over the indexes: the catalogue, the tenants, the children of a tenant."""

    def __init__(self, indices: Mapping[str, Any]) -> None:
        self.indices = indices
        self.gone: set[str] = set()  # uids deleted while a watch was away

    def forget(self, uid: str) -> None:
        """An indexed object is known to be gone though no watch event said so: out of the indexes
        that can drop it (the operator's own), and skipped by every lookup until then."""
        self.gone.add(uid)
        forget = getattr(self.indices, "forget", None)
        if callable(forget):
            forget(uid)  # out of every index, and what they remember of its version

    def _index(self, kind: str) -> Any:
        return self.indices[INDEX_NAMES[kind] if kind in INDEX_NAMES else child_index_name(kind)]

    def objects(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every indexed object of a kind (tenants, catalogue or children), except the forgotten."""
        index = self._index(kind)
        for key in list(index):
            for value in list(index.get(key, ())):
                if uid_of(value) not in self.gone:
                    yield value

    def indexed_uids(self) -> set[str]:
        """The uid of everything indexed, forgotten or not (to let go of forgotten ones)."""
        kinds = [*INDEX_NAMES, *CHILD_KINDS]
        return {uid_of(value) for kind in kinds for key in list(self._index(kind)) for value in self._index(kind)[key]}

    def _get(self, kind: str, name: str) -> dict[str, Any] | None:
        return _first(self._index(kind).get(name), self.gone)

    def tenant(self, name: str) -> dict[str, Any] | None:
        return self._get("Tenant", name)

    def plan(self, name: str) -> dict[str, Any] | None:
        return self._get("Plan", name)

    def addon(self, name: str) -> dict[str, Any] | None:
        return self._get("AddOn", name)

    def reseller(self, name: str) -> dict[str, Any] | None:
        return self._get("Reseller", name)

    def names(self, kind: str) -> list[str]:
        index = self._index(kind)
        return sorted(name for name in list(index) if _first(index.get(name), self.gone) is not None)

    def referencing(self, kind: str, name: str) -> list[str]:
        """Tenants whose spec names this Plan, AddOn or Reseller, or claims this Host or Domain."""
        found = self.indices[REFS_INDEX].get((kind, name), ())
        return sorted({tenant for tenant, uid in list(found) if uid not in self.gone})

    def overdue_invoices(self, tenant: str) -> list[str]:
        """Names of the tenant's invoices that suspend it (unpaid past the grace period)."""
        index = self.indices.get(DUNNING_INDEX)
        return sorted({str(name) for name in index.get(tenant, ())}) if index is not None else []

    def child(self, tenant: str, key: tuple[str, str, str]) -> dict[str, Any] | None:
        """One child of `tenant` by (kind, namespace, name), as the index holds it now."""
        kind, namespace, name = key
        for c in self.indices[child_index_name(kind)].get(tenant, ()):
            meta = c.get("metadata") or {}
            if meta.get("name") == name and (meta.get("namespace") or "") == namespace and uid_of(c) not in self.gone:
                found: dict[str, Any] = c
                return found
        return None

    def children(self, tenant: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for kind in CHILD_KINDS:
            found.extend(c for c in self.indices[child_index_name(kind)].get(tenant, ()) if uid_of(c) not in self.gone)
        return found
