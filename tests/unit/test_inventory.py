"""What the operator indexes as a tenant's child: exactly what Landlord renders, nothing a tenant labels."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from landlord.components.database import SECRET_NAME
from landlord.config import parse
from landlord.inventory import CHILD_NAMES, CHILD_SELECTOR, Inventory, child_owner, home_tenant
from landlord.kinds import CHILD_KINDS
from landlord.pipeline import StaticCatalogue, desire
from tests.unit.test_pipeline import plan, tenant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = parse({"network": {"egressCIDRs": ["10.0.0.0/8"]}})  # every optional child rendered


def rendered(name: str = "acme") -> list[dict[str, Any]]:
    body = tenant(name)
    return desire(body, StaticCatalogue([plan(), body]), CONFIG, NOW).objects()


def test_every_rendered_child_is_indexed_under_its_tenant() -> None:
    objects = rendered()
    assert {o["kind"] for o in objects} >= {"Namespace", "ResourceQuota", "NetworkPolicy", "RoleBinding", "ConfigMap"}
    for obj in objects:
        assert child_owner(obj["kind"], obj, CONFIG.namespace_prefix) == "acme", obj["metadata"]
    assert SECRET_NAME in CHILD_NAMES["Secret"]  # the database credentials, made outside rendering
    assert set(CHILD_NAMES) | {"Namespace"} == set(CHILD_KINDS)


def test_copied_labels_do_not_make_a_child() -> None:
    policy = next(o for o in rendered() if o["kind"] == "NetworkPolicy")
    prefix = CONFIG.namespace_prefix

    def variant(**meta: Any) -> dict[str, Any]:
        obj = copy.deepcopy(policy)
        obj["metadata"].update(meta)
        return obj

    assert child_owner("NetworkPolicy", variant(name="landlord-x1"), prefix) is None  # a name Landlord never renders
    assert child_owner("NetworkPolicy", variant(namespace="t-other"), prefix) is None  # another tenant's namespace
    relabelled = variant(labels={**policy["metadata"]["labels"], "landlord.dev/tenant": "other"})
    assert child_owner("NetworkPolicy", relabelled, prefix) is None
    assert home_tenant("NetworkPolicy", relabelled, prefix) == "acme"  # still acme's to repair
    unmanaged = variant(labels={"landlord.dev/tenant": "acme"})
    assert child_owner("NetworkPolicy", unmanaged, prefix) is None
    assert home_tenant("ConfigMap", variant(name="app"), prefix) is None
    assert home_tenant("Namespace", {"metadata": {"name": "kube-system"}}, prefix) is None
    assert CHILD_SELECTOR == "landlord.dev/tenant,app.kubernetes.io/managed-by=landlord"


class FakeIndex(dict[Any, list[Any]]):
    """kopf's Index as the inventory reads it: key -> the values of every object under it."""


def test_forgotten_objects_are_skipped_everywhere() -> None:
    def obj(kind: str, name: str, uid: str, namespace: str = "") -> dict[str, Any]:
        meta = {"name": name, "uid": uid, **({"namespace": namespace} if namespace else {})}
        return {"kind": kind, "metadata": meta}

    old, new = obj("Tenant", "acme", "u1"), obj("Tenant", "acme", "u2")
    indices: dict[str, Any] = {
        "tenant_index": FakeIndex(acme=[old, new], gone=[obj("Tenant", "gone", "u3")]),
        "tenant_refs_index": FakeIndex({("Plan", "basic"): [("acme", "u1"), ("gone", "u3")]}),
        "plan_index": FakeIndex(),
        "addon_index": FakeIndex(),
        "reseller_index": FakeIndex(),
    }
    for kind in CHILD_KINDS:
        indices[f"child_{kind.lower()}_index"] = FakeIndex()
    indices["child_configmap_index"]["acme"] = [obj("ConfigMap", "landlord-entitlements", "c1", "t-acme")]
    inventory = Inventory(indices)
    assert inventory.names("Tenant") == ["acme", "gone"]
    for uid in ("u1", "u3", "c1"):
        inventory.forget(uid)
    assert inventory.tenant("acme") is new  # the same name made again: the live one
    assert inventory.names("Tenant") == ["acme"]
    assert inventory.referencing("Plan", "basic") == []
    assert inventory.children("acme") == []
    assert [o["metadata"]["uid"] for o in inventory.objects("Tenant")] == ["u2"]
    assert inventory.indexed_uids() == {"u1", "u2", "u3", "c1"}
