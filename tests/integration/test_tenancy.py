"""The operator end to end: tenants become namespaces with every child, and follow their plan."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tests.helpers import eventually
from tests.integration.conftest import ROOT, Env

CHILDREN = [
    ("Namespace", "t-{name}", None),
    ("ResourceQuota", "landlord-quota", "t-{name}"),
    ("LimitRange", "landlord-defaults", "t-{name}"),
    ("NetworkPolicy", "landlord-default-deny", "t-{name}"),
    ("NetworkPolicy", "landlord-allow-same-namespace", "t-{name}"),
    ("NetworkPolicy", "landlord-allow-ingress-controller", "t-{name}"),
    ("NetworkPolicy", "landlord-allow-dns", "t-{name}"),
    ("RoleBinding", "landlord-owners", "t-{name}"),
    ("ConfigMap", "landlord-entitlements", "t-{name}"),
]


def catalog(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((ROOT / name).read_text()))


def plan(name: str = "basic", **limits: Any) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Plan",
        "metadata": {"name": name},
        "spec": {
            "displayName": name.title(),
            "limits": {"cpu": "2", "memory": "4Gi", "storage": "10Gi", "pods": 20, "users": 5, **limits},
            "features": ["crm"],
            "pricing": {"currency": "EUR", "prices": {"Monthly": "10.00"}},
        },
    }


def addon(name: str, limits: dict[str, Any], max_quantity: int = 10, plans: list[str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "AddOn",
        "metadata": {"name": name},
        "spec": {"maxQuantity": max_quantity, "limits": limits, "plans": plans or [],
                 "pricing": {"currency": "EUR", "prices": {"Monthly": "5.00"}}},
    }


def tenant(name: str, plan_name: str = "basic", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": {"plan": plan_name, "owner": {"name": "Owner", "email": f"{name}@example.com",
                                               "subjects": [{"kind": "User", "name": f"{name}@example.com"}]},
                 **spec},
    }


async def quota(env: Env, name: str) -> dict[str, str]:
    obj = await env.get("ResourceQuota", "landlord-quota", f"t-{name}")
    assert obj is not None
    return dict(obj["spec"]["hard"])


async def test_create_provisions_every_child_and_becomes_active(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("acme"))
    status = (await env.wait_phase("acme", "Active"))["status"]
    for kind, name, namespace in CHILDREN:
        obj = await env.get(kind, name.format(name="acme"), namespace.format(name="acme") if namespace else None)
        assert obj is not None, f"{kind} {name} missing"
        assert obj["metadata"]["labels"]["landlord.dev/tenant"] == "acme"
    assert status["namespace"] == "t-acme" and status["url"] == "https://acme.apps.example.com"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True", "NamespaceReady": "True", "QuotaReady": "True", "NetworkReady": "True",
        "AccessReady": "True", "PlanSynced": "True"}
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])
    assert status["effective"]["limits"]["cpu"] == "2" and status["effective"]["features"] == ["crm"]
    assert status["planSync"] == {"state": "Synced"}
    assert [h["plan"] for h in status["planHistory"]] == ["basic"]
    assert await quota(env, "acme") == {"requests.cpu": "2", "requests.memory": "4Gi", "requests.storage": "10Gi",
                                        "pods": "20"}
    binding = await env.get("RoleBinding", "landlord-owners", "t-acme")
    assert binding["roleRef"]["name"] == "admin" and binding["subjects"][0]["name"] == "acme@example.com"
    tenant_obj = await env.get("Tenant", "acme")
    assert "landlord.dev/tenant-cleanup" in tenant_obj["metadata"]["finalizers"]
