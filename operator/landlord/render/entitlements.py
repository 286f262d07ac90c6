"""Entitlements: the ConfigMap the tenant application reads (features, limits, branding). Pure."""

from __future__ import annotations

import json
from typing import Any

from ..api.composition import format_limits
from ..config import Config
from .view import TenantView, branding_of, meta_of, namespace_of, url_of

ENTITLEMENTS = "landlord-entitlements"


def render_entitlements(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """The `landlord-entitlements` ConfigMap."""
    return [_entitlements(config, tenant, namespace_of(config, tenant.name))]


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
        "metadata": meta_of(tenant, ENTITLEMENTS, namespace),
        "data": {
            "entitlements.json": json.dumps(document, sort_keys=True, indent=2),
            "features": "\n".join(document["features"]),
            "plan": str(document["plan"]),
            "suspended": "true" if tenant.suspended else "false",
        },
    }
