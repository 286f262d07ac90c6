"""Plans, add-ons and resellers: who uses them, and holding the deletion of one still in use."""

from __future__ import annotations

from typing import Any

from ..inventory import Inventory
from ..kube import KubeClient

IN_USE_FINALIZER = "landlord.dev/in-use"


async def reconcile_usage(client: KubeClient, inventory: Inventory, kind: str, name: str) -> float | None:
    """Keeps status.tenants/usedBy current and holds deletion of a Plan, AddOn or Reseller in use."""
    obj = {"Plan": inventory.plan, "AddOn": inventory.addon, "Reseller": inventory.reseller}[kind](name)
    if obj is None:
        return None
    meta = obj["metadata"]
    users = [t for t in inventory.referencing(kind, name) if inventory.tenant(t) is not None]
    finalizers = list(meta.get("finalizers") or [])
    guarded = True  # Plans, AddOns and Resellers alike: none goes while a tenant uses it
    old = obj.get("status") or {}
    status: dict[str, Any] = {"tenants": len(users), "usedBy": users[:50]}
    if meta.get("deletionTimestamp"):
        if users:
            status["message"] = (
                f"deletion is held: {len(users)} tenant(s) use this {kind.lower()} "
                f"({', '.join(users[:10])}); move them to another {kind.lower()} first"
            )
            if old.get("message") != status["message"]:
                await client.event(obj, "Warning", "InUse", status["message"])
        elif IN_USE_FINALIZER in finalizers:
            remaining = [f for f in finalizers if f != IN_USE_FINALIZER]
            await client.patch(
                kind, name, {"metadata": {"finalizers": remaining or None, "resourceVersion": meta["resourceVersion"]}}
            )
            return None
    elif guarded and IN_USE_FINALIZER not in finalizers:
        await client.patch(
            kind,
            name,
            {"metadata": {"finalizers": [*finalizers, IN_USE_FINALIZER], "resourceVersion": meta["resourceVersion"]}},
        )
    keys = ("tenants", "usedBy", "message")
    if {k: old.get(k) for k in keys} != {k: status.get(k) for k in keys}:
        patch = dict(status)
        if "message" not in status and "message" in old:
            patch["message"] = None
        await client.patch(kind, name, {"status": patch}, subresource="status")
    return None
