"""Access: the owners' RoleBinding in the tenant namespace. Pure."""

from __future__ import annotations

from typing import Any

from ..config import Config
from .view import TenantView, meta_of, namespace_of


def render_access(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """The owners' RoleBinding, or nothing when spec.owner.subjects is empty."""
    binding = _owner_binding(config, tenant, namespace_of(config, tenant.name))
    return [binding] if binding else []


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
        "metadata": meta_of(tenant, "landlord-owners", namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": config.owner_cluster_role},
        "subjects": subjects,
    }
