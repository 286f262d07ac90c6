"""What rendering knows about a tenant, and the names every child shares.

Every object carries the tenant label, so that the operator can find and prune its children
by label, and is applied with server-side apply under one field manager. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.composition import Entitlements
from ..config import Config

TENANT_LABEL = "landlord.dev/tenant"
PLAN_LABEL = "landlord.dev/plan"
MANAGED_BY = {"app.kubernetes.io/managed-by": "landlord"}


@dataclass(frozen=True)
class TenantView:
    """What rendering needs to know about a tenant, already resolved."""

    name: str
    spec: dict[str, Any]
    entitlements: Entitlements
    reseller: dict[str, Any] | None  # the Reseller object, when the tenant has one
    suspended: bool = False
    plan: dict[str, Any] = field(default_factory=dict)  # the plan's spec: pod security, quota entries
    verified_domains: tuple[str, ...] = ()  # custom domains whose ownership is proven: routable


def verified_domains(spec: dict[str, Any], status: dict[str, Any]) -> tuple[str, ...]:
    """Custom domains still in the spec whose status says `Verified`, normalised (`normal_host`), sorted.

    Both are needed: a domain removed from the spec is no longer the tenant's even while the
    status still lists it, and a domain in the spec is not routed before it is proven.
    """
    raw_domains = spec.get("domains")
    domains: dict[str, Any] = raw_domains if isinstance(raw_domains, dict) else {}
    raw_custom = domains.get("custom")
    custom: list[Any] = raw_custom if isinstance(raw_custom, list) else []
    wanted = {normal_host(h) for h in custom if normal_host(h)}
    raw_entries = status.get("domains")
    entries: list[Any] = raw_entries if isinstance(raw_entries, list) else []
    proven = {
        normal_host(entry.get("host"))
        for entry in entries
        if isinstance(entry, dict) and entry.get("state") == "Verified" and entry.get("host")
    }
    return tuple(sorted(wanted & proven))


def normal_host(host: Any) -> str:
    """A host name as DNS compares it: case-insensitive, without the root's trailing dot."""
    return str(host).strip().rstrip(".").lower()


def namespace_of(config: Config, tenant: str) -> str:
    return f"{config.namespace_prefix}{tenant}"


def base_domain(config: Config, reseller: dict[str, Any] | None) -> str:
    if reseller and (reseller.get("spec") or {}).get("baseDomain"):
        return str(reseller["spec"]["baseDomain"])
    return config.base_domain


def host_of(config: Config, tenant: TenantView) -> str:
    subdomain = (tenant.spec.get("domains") or {}).get("subdomain") or tenant.name
    return f"{subdomain}.{base_domain(config, tenant.reseller)}"


def ingress_hosts(config: Config, tenant: TenantView) -> list[str]:
    """Every host the tenant may route: its subdomain host and its verified custom domains."""
    return sorted({host_of(config, tenant), *tenant.verified_domains})


def url_of(config: Config, tenant: TenantView) -> str:
    scheme = "https" if config.ingress.tls else "http"
    return f"{scheme}://{host_of(config, tenant)}"


def branding_of(tenant: TenantView) -> dict[str, Any]:
    defaults = dict(((tenant.reseller or {}).get("spec") or {}).get("branding") or {})
    defaults.update(tenant.spec.get("branding") or {})
    return defaults


def labels_of(tenant: TenantView) -> dict[str, str]:
    return {TENANT_LABEL: tenant.name, PLAN_LABEL: str(tenant.spec.get("plan", "")), **MANAGED_BY}


def meta_of(tenant: TenantView, name: str, namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels_of(tenant)}
    if namespace:
        meta["namespace"] = namespace
    return meta
