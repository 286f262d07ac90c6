"""Quota: a ResourceQuota from the effective limits and a LimitRange with container defaults. Pure."""

from __future__ import annotations

from typing import Any

from ..api.composition import format_limit
from ..config import Config
from .view import TenantView, meta_of, namespace_of

QUOTA_KEYS = {"cpu": "requests.cpu", "memory": "requests.memory", "storage": "requests.storage", "pods": "pods"}


def render_quota(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """The ResourceQuota (no key for an unlimited resource) and the LimitRange."""
    namespace = namespace_of(config, tenant.name)
    return [_quota(tenant, namespace), _limit_range(config, tenant, namespace)]


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
        "metadata": meta_of(tenant, "landlord-quota", namespace),
        "spec": {"hard": hard},
    }


def _limit_range(config: Config, tenant: TenantView, namespace: str) -> dict[str, Any]:
    defaults = config.container_defaults
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta_of(tenant, "landlord-defaults", namespace),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": dict(defaults.limit),
                    "defaultRequest": dict(defaults.request),
                }
            ]
        },
    }
