"""Tenant -> the Kubernetes objects it should have, grouped by the component that owns them. Pure.

Each component's children come from one module of this package; this one puts them together
for the controller's components, `landlord render` and the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import Config
from ..kinds import apply_order
from .access import render_access
from .entitlements import ENTITLEMENTS, entitlements_document, render_entitlements
from .namespace import render_namespace
from .network import render_network
from .quota import QUOTA_KEYS, render_quota
from .view import (
    MANAGED_BY,
    PLAN_LABEL,
    TENANT_LABEL,
    TenantView,
    host_of,
    ingress_hosts,
    namespace_of,
    url_of,
    verified_domains,
)

__all__ = [
    "ENTITLEMENTS",
    "MANAGED_BY",
    "PLAN_LABEL",
    "QUOTA_KEYS",
    "RENDERERS",
    "TENANT_LABEL",
    "TenantView",
    "entitlements_document",
    "host_of",
    "ingress_hosts",
    "namespace_of",
    "render",
    "render_by_component",
    "url_of",
    "verified_domains",
]

Renderer = Callable[[Config, TenantView], list[dict[str, Any]]]

# Component name -> its renderer, in apply order (the namespace first).
RENDERERS: dict[str, Renderer] = {
    "namespace": render_namespace,
    "quota": render_quota,
    "network": render_network,
    "access": render_access,
    "entitlements": render_entitlements,
}


def render_by_component(config: Config, tenant: TenantView) -> dict[str, list[dict[str, Any]]]:
    """Each component's children, in apply order."""
    return {name: apply_order(renderer(config, tenant)) for name, renderer in RENDERERS.items()}


def render(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """Every child of the tenant, in apply order."""
    return apply_order([obj for objects in render_by_component(config, tenant).values() for obj in objects])
