"""`landlord render`: what the operator would apply for a tenant, from files alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from ..api.composition import entitlements
from ..api.resolution import Refusal, allocation_share, resolve, suspension
from ..config import Config
from ..documents import Document
from ..inventory import CHILD_KINDS, INDEX_NAMES, Inventory, child_index_name, tenant_refs
from .tenant import TenantView, render


def static_inventory(documents: list[Document]) -> Inventory:
    indices: dict[str, Any] = {name: {} for name in INDEX_NAMES.values()}
    indices["tenant_refs_index"] = {}
    for kind in CHILD_KINDS:
        indices[child_index_name(kind)] = {}
    for doc in documents:
        if not doc.is_landlord or doc.kind not in INDEX_NAMES or not doc.name:
            continue
        indices[INDEX_NAMES[doc.kind]][doc.name] = [doc.body]
        if doc.kind == "Tenant":
            for ref in tenant_refs(doc.body.get("spec") or {}):
                indices["tenant_refs_index"].setdefault(ref, []).append(doc.name)
    return Inventory(indices)


def render_tenant(
    config: Config, tenant: dict[str, Any], catalog: list[Document], now: datetime | None = None
) -> list[dict[str, Any]]:
    """The objects for a tenant; raises Refusal when the operator would refuse it."""
    tenant_doc = Document("<tenant>", 1, tenant)
    inventory = static_inventory([*catalog, tenant_doc])
    now = now or datetime.now(UTC)
    resolved = resolve(inventory, tenant)
    caps = None
    if resolved.reseller is not None:
        share = allocation_share(inventory, tenant, resolved.reseller)
        if share is not None and not share.admitted:
            raise Refusal("Pending", "AllocationExhausted", "the reseller has no tenants left in its allocation")
        caps = share.caps if share is not None else None
    spec = tenant.get("spec") or {}
    locked = ((tenant.get("status") or {}).get("planSync") or {}).get("locked")
    ent = entitlements(spec, resolved.plan.get("spec") or {}, resolved.addons, locked, caps)
    suspended, _ = suspension(spec, now)
    view = TenantView(tenant["metadata"]["name"], spec, ent, resolved.reseller, suspended)
    return render(config, view)


def as_yaml_stream(objects: list[dict[str, Any]]) -> str:
    ordered = sorted(objects, key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    return yaml.safe_dump_all(ordered, sort_keys=True, explicit_start=True)
