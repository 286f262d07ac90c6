"""The one registry of the kinds Landlord reads and writes.

Everything that needs to know a kind's API path, scope, apply order or how to compare it reads
it here: the client (paths), the kopf handlers (which children to watch), the inventory
(namespaced objects keyed by namespace and name), rendering (apply order), diffing (maps
compared exactly) and, later, RBAC generation (`rbac_rules`). Pure: no client, no kopf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

ObjectKey = tuple[str, str, str]  # (kind, namespace or "", name)


@dataclass(frozen=True)
class Kind:
    """One API kind: where it lives and how Landlord treats it."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool
    child: bool = False  # rendered for tenants, watched by label, pruned when no longer desired
    order: int = 100  # apply order among children (namespace first)
    exact: tuple[tuple[str, ...], ...] = ()  # maps whose key set must equal the desired one

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection, or of one object when `name` is given."""
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name)}"
        return base


_ALL = (
    Kind("Namespace", "v1", "namespaces", False, child=True, order=0),
    Kind("ResourceQuota", "v1", "resourcequotas", True, child=True, order=10, exact=(("spec", "hard"),)),
    Kind("LimitRange", "v1", "limitranges", True, child=True, order=20),
    Kind(
        "NetworkPolicy",
        "networking.k8s.io/v1",
        "networkpolicies",
        True,
        child=True,
        order=30,
        exact=(("spec",), ("spec", "podSelector")),  # an added `ingress: [{}]` would open the namespace
    ),
    Kind("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", True, child=True, order=40),
    Kind("ConfigMap", "v1", "configmaps", True, child=True, order=50, exact=(("data",),)),
    Kind("Secret", "v1", "secrets", True, child=True, order=60, exact=(("data",),)),
    Kind("Event", "v1", "events", True),
    Kind("Deployment", "apps/v1", "deployments", True),
    Kind("ReplicaSet", "apps/v1", "replicasets", True),
    Kind("ReplicationController", "v1", "replicationcontrollers", True),
    Kind("DaemonSet", "apps/v1", "daemonsets", True),
    Kind("CronJob", "batch/v1", "cronjobs", True),
    Kind("Job", "batch/v1", "jobs", True),
    Kind("Pod", "v1", "pods", True),
    Kind("Cluster", "postgresql.cnpg.io/v1", "clusters", True),  # CloudNativePG, for database mode Cluster
    Kind("StatefulSet", "apps/v1", "statefulsets", True),
    Kind("Service", "v1", "services", True),
    Kind("ServiceAccount", "v1", "serviceaccounts", True),
    Kind("Ingress", "networking.k8s.io/v1", "ingresses", True),
    Kind("Lease", "coordination.k8s.io/v1", "leases", True),  # one replica acts per shard
    # Cluster-wide objects every tenant relies on (render/cluster.py), installed with the CRDs.
    Kind("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", False),
    Kind("ValidatingAdmissionPolicy", "admissionregistration.k8s.io/v1", "validatingadmissionpolicies", False),
    Kind(
        "ValidatingAdmissionPolicyBinding",
        "admissionregistration.k8s.io/v1",
        "validatingadmissionpolicybindings",
        False,
    ),
    Kind("CustomResourceDefinition", "apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    Kind("Plan", "landlord.dev/v1alpha1", "plans", False),
    Kind("AddOn", "landlord.dev/v1alpha1", "addons", False),
    Kind("Reseller", "landlord.dev/v1alpha1", "resellers", False),
    Kind("Tenant", "landlord.dev/v1alpha1", "tenants", False),
    Kind("Invoice", "landlord.dev/v1alpha1", "invoices", False),
    Kind("CreditNote", "landlord.dev/v1alpha1", "creditnotes", False),
)

KINDS: dict[str, Kind] = {k.kind: k for k in _ALL}
CHILD_KINDS: tuple[str, ...] = tuple(k.kind for k in sorted(_ALL, key=lambda k: k.order) if k.child)


def kind_of(obj: Mapping[str, Any]) -> Kind:
    """The registry entry of an object; ValueError for a kind Landlord does not speak."""
    kind = KINDS.get(str(obj.get("kind", "")))
    if kind is None:
        raise ValueError(f"unsupported kind {obj.get('kind')!r}")
    return kind


def key_of(obj: Mapping[str, Any]) -> ObjectKey:
    """(kind, namespace, name): namespaced objects are told apart by their namespace too."""
    meta = obj.get("metadata") or {}
    return str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", ""))


def apply_order(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Children sorted for applying: the namespace before what lives in it, then by name."""

    def rank(obj: dict[str, Any]) -> tuple[int, str, str]:
        entry = KINDS.get(obj["kind"])
        _, namespace, name = key_of(obj)
        return (entry.order if entry else 1000), namespace, name

    return sorted(objects, key=rank)


def describe(key: ObjectKey) -> str:
    """`Kind namespace/name` (or `Kind name`), as people read it in messages."""
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def rbac_rules(verbs: tuple[str, ...] = ("get", "list", "watch", "create", "patch", "delete")) -> list[dict[str, Any]]:
    """RBAC rules that let the operator manage every child kind (for the chart's ClusterRole)."""
    by_group: dict[str, list[str]] = {}
    for name in CHILD_KINDS:
        kind = KINDS[name]
        by_group.setdefault(kind.group, []).append(kind.plural)
    return [
        {"apiGroups": [group], "resources": sorted(plurals), "verbs": list(verbs)}
        for group, plurals in sorted(by_group.items())
    ]
