"""The tenant's namespace: the boundary every other child lives in. Pure."""

from __future__ import annotations

from typing import Any

from ..config import Config
from .view import TenantView, meta_of, namespace_of


def render_namespace(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """The Namespace `<prefix><tenant>` with the tenant and plan labels."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta_of(tenant, namespace_of(config, tenant.name), None)}
    ]
