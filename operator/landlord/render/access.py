"""Access: the owners' RoleBinding in the tenant namespace. Pure.

The owners hold `ownerClusterRole` (landlord-tenant-owner: their application, nothing that
isolates them), and `viewerClusterRole` (read-only) while the tenant is suspended, so that
nothing stopped by the suspension can be started again by hand. A RoleBinding's roleRef
cannot change: the access component replaces the binding when it must (components/access.py).
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from .view import TenantView, meta_of, namespace_of


def render_access(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """The owners' RoleBinding (read-only while suspended), or nothing when spec.owner.subjects is empty."""
    binding = _owner_binding(config, tenant, namespace_of(config, tenant.name))
    return [binding] if binding else []


def owner_role(config: Config, tenant: TenantView) -> str:
    """The ClusterRole the owners hold now."""
    return config.viewer_cluster_role if tenant.suspended else config.owner_cluster_role


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
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": owner_role(config, tenant)},
        "subjects": subjects,
    }
