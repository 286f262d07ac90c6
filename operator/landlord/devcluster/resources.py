"""The resource types the emulator serves: the built-in ones and those of registered CRDs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import kubernetes_validate

SCHEMA_VERSION = "1.30.0"
COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    has_status: bool = False
    has_generation: bool = False
    has_scale: bool = False  # serves the autoscaling/v1 `scale` subresource
    schema: dict[str, Any] | None = None  # root schema (CRD) or a $ref into built-in defs
    builtin: bool = True
    crd_name: str = ""
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    field_selectors: frozenset[str] = COMMON_FIELDS
    selectable_fields: list[str] = field(default_factory=list)  # CRD spec.selectableFields
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def group_resource(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def definition_name(self) -> str:
        """The OpenAPI definition name, e.g. io.k8s.api.core.v1.Namespace / dev.landlord.v1alpha1.Tenant."""
        if self.builtin and self.schema:
            return str(self.schema["$ref"]).rsplit("/", 1)[-1]
        reversed_group = ".".join(reversed(self.group.split(".")))
        return f"{reversed_group}.{self.version}.{self.kind}"


def _t(group: str, version: str, kind: str, plural: str, namespaced: bool, **extra: Any) -> ResourceType:
    package = {
        "": "io.k8s.api.core",
        "apps": "io.k8s.api.apps",
        "batch": "io.k8s.api.batch",
        "autoscaling": "io.k8s.api.autoscaling",
        "discovery.k8s.io": "io.k8s.api.discovery",
        "networking.k8s.io": "io.k8s.api.networking",
        "rbac.authorization.k8s.io": "io.k8s.api.rbac",
        "coordination.k8s.io": "io.k8s.api.coordination",
        "events.k8s.io": "io.k8s.api.events",
        "policy": "io.k8s.api.policy",
        "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
        "admissionregistration.k8s.io": "io.k8s.api.admissionregistration",
    }[group]
    schema = {"$ref": f"#/$defs/{package}.{version}.{kind}"}
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        schema=schema,
        **extra,
    )


EVENT_FIELDS = COMMON_FIELDS | {
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
}


POD_FIELDS = COMMON_FIELDS | {
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.phase",
    "status.podIP",
}

# group, version, kind, plural, namespaced, short names, has status, has generation
_BUILTINS: list[tuple[str, str, str, str, bool, list[str], bool, bool]] = [
    ("", "v1", "Namespace", "namespaces", False, ["ns"], True, False),
    ("", "v1", "ConfigMap", "configmaps", True, ["cm"], False, False),
    ("", "v1", "Secret", "secrets", True, [], False, False),
    ("", "v1", "ServiceAccount", "serviceaccounts", True, ["sa"], False, False),
    ("", "v1", "Service", "services", True, ["svc"], True, False),
    ("", "v1", "Pod", "pods", True, ["po"], True, False),
    ("", "v1", "Event", "events", True, ["ev"], False, False),
    ("", "v1", "ResourceQuota", "resourcequotas", True, ["quota"], True, False),
    ("", "v1", "LimitRange", "limitranges", True, ["limits"], False, False),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ["pvc"], True, False),
    ("", "v1", "Endpoints", "endpoints", True, ["ep"], False, False),
    ("", "v1", "ReplicationController", "replicationcontrollers", True, ["rc"], True, True),
    ("apps", "v1", "Deployment", "deployments", True, ["deploy"], True, True),
    ("apps", "v1", "StatefulSet", "statefulsets", True, ["sts"], True, True),
    ("apps", "v1", "DaemonSet", "daemonsets", True, ["ds"], True, True),
    ("apps", "v1", "ReplicaSet", "replicasets", True, ["rs"], True, True),
    ("batch", "v1", "Job", "jobs", True, [], True, True),
    ("batch", "v1", "CronJob", "cronjobs", True, ["cj"], True, True),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ["netpol"], False, True),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", True, ["ing"], True, True),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, [], False, False),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True, [], False, False),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, [], False, False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, [], False, False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, [], False, False),
    ("coordination.k8s.io", "v1", "Lease", "leases", True, [], False, False),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ["hpa"], True, False),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, [], False, True),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ["pdb"], True, True),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ["crd", "crds"],
        True,
        True,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        False,
        [],
        True,
        True,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        False,
        [],
        False,
        True,
    ),
]
_SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
_IN_ALL = {
    "ReplicationController",
    "HorizontalPodAutoscaler",
    "Service",
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
}
_API_EXTENSIONS = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
_FIELD_SELECTORS = {
    "Namespace": COMMON_FIELDS | {"status.phase"},
    "Secret": COMMON_FIELDS | {"type"},
    "Pod": POD_FIELDS,
    "Event": EVENT_FIELDS,
}


def builtin_types() -> list[ResourceType]:
    return [
        _t(
            group,
            version,
            kind,
            plural,
            namespaced,
            short_names=short,
            has_status=status,
            has_generation=generation,
            has_scale=kind in _SCALABLE,
            categories=["all"] if kind in _IN_ALL else ["api-extensions"] if kind in _API_EXTENSIONS else [],
            field_selectors=_FIELD_SELECTORS.get(kind, COMMON_FIELDS),
        )
        for group, version, kind, plural, namespaced, short, status, generation in _BUILTINS
    ]


@lru_cache(maxsize=1)
def builtin_definitions() -> dict[str, Any]:
    """Definitions of the built-in types (kubernetes-validate's strict schemas, loaded once)."""
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    path = root / f"v{SCHEMA_VERSION}-local-strict" / "_definitions.json"
    with path.open() as handle:
        definitions: dict[str, Any] = json.load(handle)["$defs"]
    return definitions


def crd_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition serves, one per served version."""
    spec = crd["spec"]
    names = spec["names"]
    types = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        schema = (version.get("schema") or {}).get("openAPIV3Schema") or {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
        selectable = [f["jsonPath"].lstrip(".") for f in version.get("selectableFields", []) or []]
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=list(names.get("shortNames") or []),
                categories=list(names.get("categories") or []),
                has_status="status" in subresources,
                has_generation=True,
                schema=schema,
                builtin=False,
                crd_name=crd["metadata"]["name"],
                printer_columns=list(version.get("additionalPrinterColumns") or []),
                field_selectors=COMMON_FIELDS | frozenset(selectable),
                selectable_fields=selectable,
            )
        )
    return types
