"""The tenant's namespace: the boundary every other child lives in. Pure.

Besides the tenant and plan labels it carries what admission reads and the tenant must not
write (only the operator may change the Namespace: RBAC gives owners no rights on it, and the
`landlord-managed-objects` admission policy refuses everyone else):

- Pod Security Admission labels: the plan's `podSecurity` level (restricted by default),
  enforced, audited and warned, against the latest policy version;
- `landlord.dev/ingress-hosts`: the hosts the tenant may route (its subdomain host and its
  verified custom domains), read by the `landlord-ingress-hosts` admission policy;
- `landlord.dev/suspended`: `"true"` while the tenant is suspended (else `"false"`): the `landlord-frozen-namespaces`
  admission policy then refuses every create and update in the namespace but the operator's and
  the cluster's controllers' (RoleBindings the owner made itself keep no write rights).
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from .view import TenantView, ingress_hosts, meta_of, namespace_of

INGRESS_HOSTS_ANNOTATION = "landlord.dev/ingress-hosts"
SUSPENDED_LABEL = "landlord.dev/suspended"
# Set by the operator on a namespace kept after its Tenant went (deletionPolicy Retain); the same
# string as components.namespace.ORPHANED_LABEL (render may not import components).
ORPHANED_LABEL = "landlord.dev/orphaned"
PSA_PREFIX = "pod-security.kubernetes.io/"
PSA_MODES = ("enforce", "audit", "warn")
DEFAULT_POD_SECURITY = "restricted"


def pod_security_level(tenant: TenantView) -> str:
    return str(tenant.plan.get("podSecurity") or DEFAULT_POD_SECURITY)


def pod_security_labels(level: str) -> dict[str, str]:
    """The PSA labels for `level`: enforced, audited and warned, each at the latest version."""
    labels: dict[str, str] = {}
    for mode in PSA_MODES:
        labels[f"{PSA_PREFIX}{mode}"] = level
        labels[f"{PSA_PREFIX}{mode}-version"] = "latest"
    return labels


def render_namespace(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """The Namespace `<prefix><tenant>`: tenant and plan labels, PSA labels, the suspended label,
    the granted hosts."""
    meta = meta_of(tenant, namespace_of(config, tenant.name), None)
    meta["labels"].update(pod_security_labels(pod_security_level(tenant)))
    # Always present ("false" when active): the operator updates a namespace only when a rendered
    # field differs from the live one, so a label it stopped rendering would stay.
    meta["labels"][SUSPENDED_LABEL] = "true" if tenant.suspended else "false"
    meta["annotations"] = {INGRESS_HOSTS_ANNOTATION: ",".join(ingress_hosts(config, tenant))}
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": meta}]
