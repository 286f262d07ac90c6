"""The access component replaces the owners' RoleBinding when its role changes (roleRef is immutable)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from landlord.components.access import AccessComponent
from landlord.components.base import Context
from landlord.config import parse
from landlord.kinds import ObjectKey, key_of
from landlord.kube import KubeError
from landlord.pipeline import StaticCatalogue, desire

NOW = datetime(2026, 3, 1, tzinfo=UTC)
PLAN = {
    "apiVersion": "landlord.dev/v1alpha1",
    "kind": "Plan",
    "metadata": {"name": "basic"},
    "spec": {"pricing": {"currency": "EUR", "prices": {"Monthly": "1.00"}}},
}


class StrictServer:
    """Holds objects and refuses to change a RoleBinding's roleRef, as the API server does."""

    def __init__(self) -> None:
        self.objects: dict[ObjectKey, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.refuse_delete = False
        self.roles = {"landlord-tenant-owner", "landlord-tenant-viewer"}
        self.reads: list[str] = []

    async def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self.reads.append(name)
        assert kind == "ClusterRole"
        return {"kind": kind, "metadata": {"name": name}} if name in self.roles else None

    async def apply(self, obj: dict[str, Any], force: bool = True) -> dict[str, Any]:
        key = key_of(obj)
        self.calls.append(("apply", key[2]))
        live = self.objects.get(key)
        if live is not None and live.get("roleRef") != obj.get("roleRef"):
            raise KubeError(422, {"reason": "Invalid", "message": "roleRef: Invalid value: cannot change roleRef"}, "x")
        self.objects[key] = copy.deepcopy(obj)
        return copy.deepcopy(obj)

    async def delete(self, kind: str, name: str, namespace: str | None = None, propagation: str = "") -> bool:
        self.calls.append(("delete", name))
        if self.refuse_delete:
            raise KubeError(403, {"reason": "Forbidden", "message": "no"}, f"delete {kind} {name}")
        return self.objects.pop((kind, namespace or "", name), None) is not None


async def reconcile(server: StrictServer, suspend: bool, component: AccessComponent | None = None) -> Context:
    tenant = {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": "acme"},
        "spec": {"plan": "basic", "suspend": suspend, "owner": {"subjects": [{"kind": "User", "name": "jane"}]}},
    }
    config = parse({})
    desired = desire(tenant, StaticCatalogue([PLAN, tenant]), config, NOW)

    async def record(_: dict[str, Any]) -> None:
        return None

    ctx = Context(
        desired=desired,
        config=config,
        tenant=tenant,
        client=server,  # type: ignore[arg-type]
        providers=None,  # type: ignore[arg-type]
        lookup=lambda key: copy.deepcopy(server.objects.get(key)),
        remember=lambda key, obj: None,
        record_status=record,
    )
    await (component or AccessComponent()).apply(ctx)
    return ctx


async def test_suspension_replaces_the_binding_with_the_read_only_role_and_activation_restores_it() -> None:
    server = StrictServer()
    await reconcile(server, suspend=False)
    key = ("RoleBinding", "t-acme", "landlord-owners")
    assert server.objects[key]["roleRef"]["name"] == "landlord-tenant-owner"
    server.calls.clear()
    ctx = await reconcile(server, suspend=True)
    assert ctx.errors == {}
    assert server.calls == [("delete", "landlord-owners"), ("apply", "landlord-owners")]
    assert server.objects[key]["roleRef"]["name"] == "landlord-tenant-viewer"
    assert AccessComponent().observe(ctx).message.startswith("the owners are bound to the read-only role")
    ctx = await reconcile(server, suspend=False)
    assert ctx.errors == {} and server.objects[key]["roleRef"]["name"] == "landlord-tenant-owner"
    server.calls.clear()
    await reconcile(server, suspend=False)
    assert server.calls == [], "an unchanged binding is left alone"


async def test_a_refused_deletion_is_what_the_condition_reports() -> None:
    server = StrictServer()
    await reconcile(server, suspend=False)
    server.refuse_delete = True
    ctx = await reconcile(server, suspend=True)
    (error,) = ctx.errors.values()
    assert error.status == 403 and "delete RoleBinding landlord-owners" in str(error)


async def test_a_binding_to_a_missing_cluster_role_is_reported_with_the_fix() -> None:
    server = StrictServer()
    server.roles = set()  # upgraded without kubectl apply -f crds/landlord-rbac.yaml
    component = AccessComponent()
    ctx = await reconcile(server, suspend=False, component=component)
    seen = component.observe(ctx)
    assert not seen.ok and seen.reason == "ClusterRoleMissing"
    assert "landlord-tenant-owner" in seen.message and "kubectl apply -f crds/landlord-rbac.yaml" in seen.message
    # Still missing on the next reconcile, although the binding is unchanged.
    ctx = await reconcile(server, suspend=False, component=component)
    assert component.observe(ctx).reason == "ClusterRoleMissing"
    server.roles = {"landlord-tenant-owner"}
    ctx = await reconcile(server, suspend=False, component=component)
    assert component.observe(ctx).ok
    # Found once: a reconcile with nothing to change reads nothing.
    server.calls.clear()
    server.reads.clear()
    ctx = await reconcile(server, suspend=False, component=component)
    assert server.calls == [] and server.reads == [] and component.observe(ctx).ok
