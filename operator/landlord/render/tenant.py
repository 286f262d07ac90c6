"""Tenant -> the Kubernetes objects it should have. Pure: no cluster, no clock.

Every object carries the tenant label, so that the operator can find and prune its children
by label, and is applied with server-side apply under one field manager.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..api.composition import Entitlements, format_limit, format_limits
from ..config import Config

TENANT_LABEL = "landlord.dev/tenant"
PLAN_LABEL = "landlord.dev/plan"
MANAGED_BY = {"app.kubernetes.io/managed-by": "landlord"}
ENTITLEMENTS = "landlord-entitlements"
QUOTA_KEYS = {"cpu": "requests.cpu", "memory": "requests.memory", "storage": "requests.storage", "pods": "pods"}
KIND_ORDER = ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "RoleBinding", "ConfigMap"]


@dataclass(frozen=True)
class TenantView:
    """What rendering needs to know about a tenant, already resolved."""

    name: str
    spec: dict[str, Any]
    entitlements: Entitlements
    reseller: dict[str, Any] | None  # the Reseller object, when the tenant has one
    suspended: bool = False


def namespace_of(config: Config, tenant: str) -> str:
    return f"{config.namespace_prefix}{tenant}"


def base_domain(config: Config, reseller: dict[str, Any] | None) -> str:
    if reseller and (reseller.get("spec") or {}).get("baseDomain"):
        return str(reseller["spec"]["baseDomain"])
    return config.base_domain


def host_of(config: Config, tenant: TenantView) -> str:
    subdomain = (tenant.spec.get("domains") or {}).get("subdomain") or tenant.name
    return f"{subdomain}.{base_domain(config, tenant.reseller)}"


def url_of(config: Config, tenant: TenantView) -> str:
    scheme = "https" if config["ingress"].get("tls", True) else "http"
    return f"{scheme}://{host_of(config, tenant)}"


def branding_of(tenant: TenantView) -> dict[str, Any]:
    defaults = dict(((tenant.reseller or {}).get("spec") or {}).get("branding") or {})
    defaults.update(tenant.spec.get("branding") or {})
    return defaults


def _labels(tenant: TenantView) -> dict[str, str]:
    return {TENANT_LABEL: tenant.name, PLAN_LABEL: str(tenant.spec.get("plan", "")), **MANAGED_BY}


def _meta(tenant: TenantView, name: str, namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": _labels(tenant)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def render(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    namespace = namespace_of(config, tenant.name)
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(tenant, namespace, None)},
        _quota(tenant, namespace),
        _limit_range(config, tenant, namespace),
        *_network_policies(config, tenant, namespace),
        _entitlements(config, tenant, namespace),
    ]
    binding = _owner_binding(config, tenant, namespace)
    if binding:
        objects.append(binding)
    return sort_objects(objects)


def sort_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(obj: dict[str, Any]) -> tuple[int, str, str]:
        kind = obj["kind"]
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        meta = obj["metadata"]
        return rank, meta.get("namespace", ""), meta["name"]

    return sorted(objects, key=key)


def _quota(tenant: TenantView, namespace: str) -> dict[str, Any]:
    hard: dict[str, str] = {}
    for key, quota_key in QUOTA_KEYS.items():
        value = tenant.entitlements.limits.get(key)
        if value is None:
            continue  # unlimited: no quota on it
        hard[quota_key] = str(format_limit(key, value))
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta(tenant, "landlord-quota", namespace),
        "spec": {"hard": hard},
    }


def _limit_range(config: Config, tenant: TenantView, namespace: str) -> dict[str, Any]:
    defaults = config["containerDefaults"]
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta(tenant, "landlord-defaults", namespace),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": dict(defaults["limit"]),
                    "defaultRequest": dict(defaults["request"]),
                }
            ]
        },
    }


def _policy(tenant: TenantView, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(tenant, name, namespace),
        "spec": spec,
    }


def _network_policies(config: Config, tenant: TenantView, namespace: str) -> list[dict[str, Any]]:
    network = config["network"]
    ingress_ns = config["ingress"]["namespace"]
    policies = [
        _policy(tenant, namespace, "landlord-default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _policy(
            tenant,
            namespace,
            "landlord-allow-same-namespace",
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        ),
        _policy(
            tenant,
            namespace,
            "landlord-allow-ingress-controller",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ingress_ns}}}]}
                ],
            },
        ),
        _policy(
            tenant,
            namespace,
            "landlord-allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": network["dnsNamespace"]}
                                },
                                "podSelector": {"matchLabels": dict(network["dnsPodLabels"])},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
    ]
    if network.get("egressCIDRs"):
        policies.append(
            _policy(
                tenant,
                namespace,
                "landlord-allow-egress",
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in network["egressCIDRs"]]}],
                },
            )
        )
    return policies


def _owner_binding(config: Config, tenant: TenantView, namespace: str) -> dict[str, Any] | None:
    subjects = []
    for subject in (tenant.spec.get("owner") or {}).get("subjects") or []:
        entry = {"kind": subject["kind"], "name": subject["name"]}
        if subject["kind"] == "ServiceAccount":
            entry["namespace"] = subject["namespace"]
        else:
            entry["apiGroup"] = "rbac.authorization.k8s.io"
        subjects.append(entry)
    if not subjects:
        return None
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(tenant, "landlord-owners", namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": config["ownerClusterRole"]},
        "subjects": subjects,
    }


def entitlements_document(config: Config, tenant: TenantView) -> dict[str, Any]:
    return {
        "tenant": tenant.name,
        "plan": tenant.spec.get("plan"),
        "url": url_of(config, tenant),
        "suspended": tenant.suspended,
        "features": tenant.entitlements.features,
        "limits": format_limits(tenant.entitlements.limits),
        "branding": branding_of(tenant),
    }


def _entitlements(config: Config, tenant: TenantView, namespace: str) -> dict[str, Any]:
    document = entitlements_document(config, tenant)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(tenant, ENTITLEMENTS, namespace),
        "data": {
            "entitlements.json": json.dumps(document, sort_keys=True, indent=2),
            "features": "\n".join(document["features"]),
            "plan": str(document["plan"]),
            "suspended": "true" if tenant.suspended else "false",
        },
    }
