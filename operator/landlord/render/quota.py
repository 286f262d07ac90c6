"""Quota: a ResourceQuota from the effective limits and a LimitRange with container defaults. Pure.

Besides the effective limits, the quota holds what keeps one tenant from hurting the others or
the platform: ephemeral storage, object counts (workload kinds too: they bound what a suspension
records), and no LoadBalancer or NodePort Services unless
the plan's `spec.quota` allows them (both default to 0), and no new pods while the tenant is
suspended (existing ones are stopped by the suspension, not by the quota). Totals of container limits
(`limits.cpu`, `limits.memory`) appear only when the plan sets them.
"""

from __future__ import annotations

from typing import Any

from ..api.composition import format_limit, parse_limit
from ..config import OBJECT_COUNTS, WORKLOAD_COUNTS, Config
from .view import TenantView, meta_of, namespace_of

QUOTA_KEYS = {"cpu": "requests.cpu", "memory": "requests.memory", "storage": "requests.storage", "pods": "pods"}
LIMIT_QUOTA_KEYS = {"cpu": "limits.cpu", "memory": "limits.memory"}


def render_quota(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """The ResourceQuota (no key for an unlimited resource) and the LimitRange."""
    namespace = namespace_of(config, tenant.name)
    return [_quota(config, tenant, namespace), _limit_range(config, tenant, namespace)]


def _quantity(key: str, raw: Any) -> str | None:
    """A plan quantity in canonical form; None for "unlimited"."""
    value = parse_limit(raw)
    return None if value is None else str(format_limit(key, value))


def quota_hard(config: Config, tenant: TenantView) -> dict[str, str]:
    """`spec.hard` of the tenant's ResourceQuota."""
    hard: dict[str, str] = {}
    for key, quota_key in QUOTA_KEYS.items():
        value = tenant.entitlements.limits.get(key)
        if value is None:
            continue  # unlimited: no quota on it
        hard[quota_key] = str(format_limit(key, value))
    plan_quota = tenant.plan.get("quota") or {}
    for key, quota_key in LIMIT_QUOTA_KEYS.items():
        raw = (plan_quota.get("limits") or {}).get(key)
        text = None if raw is None else _quantity(key, raw)
        if text is not None:
            hard[quota_key] = text
    defaults = config.quota
    storage = _quantity("ephemeralStorage", plan_quota.get("ephemeralStorage", defaults.ephemeral_storage))
    if storage is not None:
        hard["requests.ephemeral-storage"] = storage
    objects = plan_quota.get("objects") or {}
    for key in (*OBJECT_COUNTS, *WORKLOAD_COUNTS):
        hard[key] = str(objects.get(key, defaults.objects[key]))
    hard["services.loadbalancers"] = str(plan_quota.get("loadBalancers", 0))
    hard["services.nodeports"] = str(plan_quota.get("nodePorts", 0))
    if tenant.suspended:
        hard["pods"] = "0"  # no new pod while suspended: what runs was stopped, nothing starts again
    return hard


def _quota(config: Config, tenant: TenantView, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": meta_of(tenant, "landlord-quota", namespace),
        "spec": {"hard": quota_hard(config, tenant)},
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
