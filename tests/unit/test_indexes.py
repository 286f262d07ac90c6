"""The operator's own indexes: an update replaces, a relabel moves, a deletion removes exactly
that object's entries; nothing of managedFields is kept; a copied label indexes nothing."""

from __future__ import annotations

from typing import Any

from landlord.handlers import define_indexes
from landlord.indexes import Indexes, LocalIndex, slim
from landlord.inventory import Inventory


def _child(name: str, namespace: str, tenant: str, uid: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "labels": {"landlord.dev/tenant": tenant, "app.kubernetes.io/managed-by": "landlord"},
            "managedFields": [{"manager": "landlord", "fieldsV1": {"f:data": {}}}],
        },
        "data": data,
    }


def test_a_local_index_files_values_by_object() -> None:
    index = LocalIndex()
    index.file("u1", {"a": 1, "b": 1})
    index.file("u2", {"a": 2})
    assert sorted(index.get("a")) == [1, 2] and index.get("b") == [1]
    index.file("u1", {"c": 3})  # updated: its old entries go
    assert index.get("a") == [2] and index.get("b") == () and index.get("c") == [3]
    index.remove("u2")
    assert "a" not in index and list(index) == ["c"]
    index.file("u1", {})  # no longer indexed (a filter says no)
    assert len(index) == 0


def test_slim_drops_managed_fields_and_copies() -> None:
    body = _child("landlord-entitlements", "t-acme", "acme", "u1", plan="basic")
    kept = slim(body)
    assert "managedFields" not in kept["metadata"] and kept["data"] == {"plan": "basic"}
    kept["data"]["plan"] = "x"
    assert body["data"]["plan"] == "basic"


def test_children_are_indexed_by_tenant_and_copies_of_labels_are_not() -> None:
    indexes = Indexes()
    define_indexes(indexes, "t-")
    inventory = Inventory(indexes)
    indexes.observe("ConfigMap", _child("landlord-entitlements", "t-acme", "acme", "u1", plan="basic"))
    indexes.observe("ConfigMap", _child("my-own", "t-acme", "acme", "u2"))  # a tenant's object, labels copied
    indexes.observe("ConfigMap", _child("landlord-entitlements", "t-other", "acme", "u3"))  # in another namespace
    assert [c["metadata"]["uid"] for c in inventory.children("acme")] == ["u1"]
    indexes.observe("ConfigMap", _child("landlord-entitlements", "t-acme", "acme", "u1", plan="pro"))
    assert inventory.children("acme")[0]["data"] == {"plan": "pro"}
    indexes.observe("ConfigMap", _child("landlord-entitlements", "t-acme", "acme", "u1"), deleted=True)
    assert inventory.children("acme") == []


def test_tenants_their_references_and_forgetting() -> None:
    indexes = Indexes()
    define_indexes(indexes, "t-")
    inventory = Inventory(indexes)
    tenant = {"kind": "Tenant", "metadata": {"name": "acme", "uid": "t1"}, "spec": {"plan": "basic"}}
    indexes.observe("Tenant", tenant)
    assert inventory.tenant("acme") is not None and inventory.referencing("Plan", "basic") == ["acme"]
    indexes.observe("Tenant", {**tenant, "spec": {"plan": "pro"}})
    assert inventory.referencing("Plan", "basic") == [] and inventory.referencing("Plan", "pro") == ["acme"]
    inventory.forget("t1")  # deleted while the watch was away
    assert inventory.tenant("acme") is None and inventory.referencing("Plan", "pro") == []
    assert inventory.names("Tenant") == []
