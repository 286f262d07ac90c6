"""The cluster-wide objects every tenant relies on: the owners' ClusterRoles and the admission
policies that protect what RBAC cannot. Pure.

`landlord crds --output crds/` writes them beside the CRDs (`crds/landlord-rbac.yaml`,
`crds/landlord-admission.yaml`), so `kubectl apply -f crds/` installs them; the playground and
the integration tests install them from here. Documented in docs/tenant-isolation.md.

- `landlord-tenant-owner` (aggregated): what an owner needs to run an application in its
  namespace, and nothing that isolates it (the Namespace, its quota, limits and network
  policies, endpoints, PodDisruptionBudgets, escalate/bind/impersonate). Platform teams extend
  it with a ClusterRole labelled `landlord.dev/aggregate-to-tenant-owner: "true"`.
- `landlord-tenant-viewer` (aggregated): read-only, for suspended tenants; no Secrets (a
  ServiceAccount token would give write rights back).
- ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1, CEL, no webhook):
  `landlord-managed-objects` (only the operator writes what Landlord labels),
  `landlord-tenant-services` (no ExternalName Service, no externalIPs) and
  `landlord-ingress-hosts` (an Ingress routes only the hosts granted to the tenant).

The operator's identity for `landlord-managed-objects` comes from the ConfigMap
`landlord-system/landlord-admission`: `usernames` and `groups`, comma-separated.
"""

from __future__ import annotations

from typing import Any

from .namespace import INGRESS_HOSTS_ANNOTATION
from .view import MANAGED_BY, TENANT_LABEL

OWNER_ROLE = "landlord-tenant-owner"
VIEWER_ROLE = "landlord-tenant-viewer"
AGGREGATE_TO_OWNER = "landlord.dev/aggregate-to-tenant-owner"
AGGREGATE_TO_VIEWER = "landlord.dev/aggregate-to-tenant-viewer"
PART_OF = {"app.kubernetes.io/part-of": "landlord"}

OPERATOR_NAMESPACE = "landlord-system"
ADMISSION_PARAMS = "landlord-admission"
# The identity of the operator when it runs as the chart's ServiceAccount.
DEFAULT_OPERATOR_USERNAME = f"system:serviceaccount:{OPERATOR_NAMESPACE}:landlord"
# Controllers that delete what is in a namespace being deleted, or what lost its owner.
SYSTEM_CONTROLLERS = (
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
    "system:kube-controller-manager",
)

MANAGED_POLICY = "landlord-managed-objects"
SERVICES_POLICY = "landlord-tenant-services"
INGRESS_POLICY = "landlord-ingress-hosts"

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def _rule(group: str, resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": resources, "verbs": list(verbs)}


# What an owner may read (and a suspended owner may still read). No Secrets: see the module doc.
VIEWER_RULES = [
    _rule(
        "",
        [
            "configmaps",
            "endpoints",
            "events",
            "limitranges",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "pods/log",
            "pods/status",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
            "serviceaccounts",
            "services",
            "services/status",
        ],
        READ,
    ),
    _rule(
        "apps",
        [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
        READ,
    ),
    _rule("autoscaling", ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
    _rule("batch", ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
    _rule("coordination.k8s.io", ["leases"], READ),
    _rule("discovery.k8s.io", ["endpointslices"], READ),
    _rule("events.k8s.io", ["events"], READ),
    _rule("landlord.dev", ["backups", "restores"], READ),
    _rule("metrics.k8s.io", ["pods"], READ),
    _rule("networking.k8s.io", ["ingresses", "ingresses/status", "networkpolicies"], READ),
    _rule("policy", ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    _rule("rbac.authorization.k8s.io", ["rolebindings", "roles"], READ),
]

# What an owner may change, on top of VIEWER_RULES (which the owner role aggregates too).
# Deliberately absent: namespaces, resourcequotas, limitranges, networkpolicies (the isolation);
# endpoints and endpointslices (CVE-2021-25740: traffic to any address through a Service);
# services/status (a forged load-balancer address); poddisruptionbudgets (one that allows no
# disruption blocks node drains); escalate, bind and impersonate. NodePort and LoadBalancer
# Services are held at 0 by the quota unless the plan allows them; ExternalName Services,
# externalIPs and foreign Ingress hosts are refused by the admission policies.
OWNER_RULES = [
    _rule(
        "",
        [
            "configmaps",
            "persistentvolumeclaims",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
        ],
        WRITE,
    ),
    _rule("", ["secrets"], [*READ, *WRITE]),
    _rule("", ["pods/attach", "pods/exec", "pods/portforward"], ["create", "get"]),
    _rule("", ["pods/eviction", "serviceaccounts/token"], ["create"]),
    _rule(
        "apps",
        [
            "daemonsets",
            "deployments",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
        WRITE,
    ),
    _rule("autoscaling", ["horizontalpodautoscalers"], WRITE),
    _rule("batch", ["cronjobs", "jobs"], WRITE),
    _rule("coordination.k8s.io", ["leases"], WRITE),
    _rule("landlord.dev", ["backups", "restores"], WRITE),
    _rule("networking.k8s.io", ["ingresses"], WRITE),
    _rule("rbac.authorization.k8s.io", ["rolebindings", "roles"], WRITE),
    _rule("authorization.k8s.io", ["localsubjectaccessreviews"], ["create"]),
]


def _cluster_role(name: str, labels: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {**PART_OF, **labels}},
        "rules": rules,
    }


def _aggregated(name: str, selector_label: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": dict(PART_OF)},
        # No `rules`: the API server's aggregation controller writes them (and would fight an applier).
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {selector_label: "true"}}]},
    }


def tenant_roles() -> list[dict[str, Any]]:
    """The owner and viewer ClusterRoles: each aggregated, with a base role carrying the rules.

    The viewer's base is labelled for both, so that the owner can read whatever a viewer can.
    """
    return [
        _aggregated(OWNER_ROLE, AGGREGATE_TO_OWNER),
        _cluster_role(f"{OWNER_ROLE}-base", {AGGREGATE_TO_OWNER: "true"}, OWNER_RULES),
        _aggregated(VIEWER_ROLE, AGGREGATE_TO_VIEWER),
        _cluster_role(f"{VIEWER_ROLE}-base", {AGGREGATE_TO_OWNER: "true", AGGREGATE_TO_VIEWER: "true"}, VIEWER_RULES),
    ]


# -- Admission ------------------------------------------------------------------------------
MANAGED_BY_KEY, MANAGED_BY_VALUE = next(iter(MANAGED_BY.items()))
TENANT_NAMESPACES = {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}


def _csv(key: str) -> str:
    """CEL: the comma-separated list under `key` of the params ConfigMap, trimmed, without blanks."""
    return (
        f"(has(params.data) && '{key}' in params.data ? "
        f"params.data['{key}'].split(',').map(x, x.trim()).filter(x, x != '') : [])"
    )


def _claims(obj: str) -> str:
    """CEL: `obj` (object or oldObject) carries one of Landlord's labels."""
    return (
        f"({obj} != null && has({obj}.metadata.labels) && "
        f"(('{MANAGED_BY_KEY}' in {obj}.metadata.labels && "
        f"{obj}.metadata.labels['{MANAGED_BY_KEY}'] == '{MANAGED_BY_VALUE}') || "
        f"'{TENANT_LABEL}' in {obj}.metadata.labels))"
    )


_CONTROLLERS = "[" + ", ".join(f"'{name}'" for name in SYSTEM_CONTROLLERS) + "]"

MANAGED_VARIABLES = [
    {"name": "operatorUsers", "expression": _csv("usernames")},
    {"name": "operatorGroups", "expression": _csv("groups")},
    {
        "name": "isOperator",
        "expression": "request.userInfo.username in variables.operatorUsers || "
        "(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in variables.operatorGroups))",
    },
    {"name": "isController", "expression": f"request.userInfo.username in {_CONTROLLERS}"},
    {
        # Everything in a namespace being deleted goes with it (the tenant cannot delete its namespace).
        "name": "namespaceGoing",
        "expression": "request.operation == 'DELETE' && namespaceObject != null && "
        "has(namespaceObject.metadata.deletionTimestamp)",
    },
    {"name": "claimed", "expression": f"{_claims('object')} || {_claims('oldObject')}"},
]
MANAGED_VALIDATION = {
    "expression": "!variables.claimed || variables.isOperator || variables.isController || variables.namespaceGoing",
    "messageExpression": (
        "request.kind.kind + ' ' + (request.namespace != '' ? request.namespace + '/' : '') + request.name + "
        f"' is managed by Landlord (labels {MANAGED_BY_KEY}={MANAGED_BY_VALUE}, {TENANT_LABEL}): only the "
        "operator may create, change or delete it, or set those labels; change the Tenant or its Plan instead'"
    ),
    "reason": "Forbidden",
}

SERVICE_VALIDATIONS = [
    {
        "expression": "!has(object.spec.type) || object.spec.type != 'ExternalName'",
        "message": "ExternalName Services are not allowed in a tenant namespace (they can point a name at another "
        "tenant's or the platform's service); use a ClusterIP Service",
        "reason": "Forbidden",
    },
    {
        "expression": "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
        "message": "spec.externalIPs is not allowed in a tenant namespace (it can capture traffic to any "
        "address, CVE-2020-8554); remove it",
        "reason": "Forbidden",
    },
]

_GRANTED = (
    f"has(namespaceObject.metadata.annotations) && '{INGRESS_HOSTS_ANNOTATION}' in namespaceObject.metadata.annotations"
    f" ? namespaceObject.metadata.annotations['{INGRESS_HOSTS_ANNOTATION}'].split(',')"
    ".map(h, h.trim()).filter(h, h != '') : []"
)
_GRANTED_TEXT = "(size(variables.granted) == 0 ? 'none' : variables.granted.join(', '))"
INGRESS_VARIABLES = [
    {"name": "granted", "expression": _GRANTED},
    {
        "name": "ruleHosts",
        "expression": "has(object.spec.rules) ? object.spec.rules.filter(r, has(r.host)).map(r, r.host) : []",
    },
    {
        "name": "refusedTLSHosts",
        "expression": "has(object.spec.tls) ? object.spec.tls.filter(t, has(t.hosts))"
        ".map(t, t.hosts.filter(h, !(h in variables.granted)).join(', ')).filter(s, s != '') : []",
    },
]
# Annotations of ingress-nginx (the default ingress class) that route more hosts or inject configuration.
FORBIDDEN_INGRESS_ANNOTATIONS = ("nginx.ingress.kubernetes.io/server-alias",)
INGRESS_VALIDATIONS = [
    {
        "expression": "!has(object.spec.rules) || object.spec.rules.all(r, has(r.host) && r.host != '')",
        "messageExpression": "'every rule of an Ingress in a tenant namespace must name its host (a rule without "
        "one would take every host); hosts granted to this tenant: ' + " + _GRANTED_TEXT,
        "reason": "Forbidden",
    },
    {
        "expression": "variables.ruleHosts.all(h, h in variables.granted)",
        "messageExpression": "'host ' + variables.ruleHosts.filter(h, !(h in variables.granted)).join(', ') + "
        "' is not granted to this tenant; hosts granted: ' + " + _GRANTED_TEXT + " + "
        "' (its subdomain and its verified custom domains)'",
        "reason": "Forbidden",
    },
    {
        "expression": "size(variables.refusedTLSHosts) == 0",
        "messageExpression": "'TLS host ' + variables.refusedTLSHosts.join(', ') + "
        "' is not granted to this tenant; hosts granted: ' + " + _GRANTED_TEXT,
        "reason": "Forbidden",
    },
    {
        "expression": "!has(object.spec.defaultBackend)",
        "message": "spec.defaultBackend is not allowed in a tenant namespace (it would take the traffic of hosts "
        "nobody routes); name the host in a rule",
        "reason": "Forbidden",
    },
    {
        "expression": "!has(object.metadata.annotations) || !object.metadata.annotations.exists(k, "
        + " || ".join(f"k == '{a}'" for a in FORBIDDEN_INGRESS_ANNOTATIONS)
        + " || k.endsWith('-snippet'))",
        "message": "the ingress-nginx annotations server-alias and *-snippet are not allowed in a tenant namespace "
        "(they route other hosts or inject configuration into the shared controller)",
        "reason": "Forbidden",
    },
]


def _policy(
    name: str,
    rules: list[dict[str, Any]],
    validations: list[dict[str, Any]],
    variables: list[dict[str, Any]] | None = None,
    params: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"failurePolicy": "Fail"}
    if params:
        spec["paramKind"] = {"apiVersion": "v1", "kind": "ConfigMap"}
    spec["matchConstraints"] = {"resourceRules": rules}
    if variables:
        spec["variables"] = variables
    spec["validations"] = validations
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": dict(PART_OF)},
        "spec": spec,
    }


def _binding(
    name: str, policy: str, object_selector: dict[str, Any] | None = None, params: bool = False
) -> dict[str, Any]:
    match: dict[str, Any] = {"namespaceSelector": TENANT_NAMESPACES}
    if object_selector:
        match["objectSelector"] = object_selector
    spec: dict[str, Any] = {"policyName": policy, "validationActions": ["Deny"]}
    if params:
        # Missing parameters deny: the protection fails closed, for labelled objects only.
        spec["paramRef"] = {
            "name": ADMISSION_PARAMS,
            "namespace": OPERATOR_NAMESPACE,
            "parameterNotFoundAction": "Deny",
        }
    spec["matchResources"] = match
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": dict(PART_OF)},
        "spec": spec,
    }


def admission_params(usernames: list[str], groups: list[str] | None = None) -> dict[str, Any]:
    """The ConfigMap naming the operator's identity: who may write what Landlord manages."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": ADMISSION_PARAMS, "namespace": OPERATOR_NAMESPACE, "labels": dict(PART_OF)},
        "data": {"usernames": ",".join(usernames), "groups": ",".join(groups or [])},
    }


def admission_policies() -> list[dict[str, Any]]:
    """The three policies and their bindings (tenant namespaces only)."""
    everything = {
        "apiGroups": ["*"],
        "apiVersions": ["*"],
        "operations": ["CREATE", "UPDATE", "DELETE"],
        "resources": ["*"],  # not subresources: the quota controller writes resourcequotas/status
        "scope": "*",
    }
    services = {
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": ["services"],
    }
    ingresses = {
        "apiGroups": ["networking.k8s.io"],
        "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": ["ingresses"],
    }
    return [
        _policy(MANAGED_POLICY, [everything], [MANAGED_VALIDATION], MANAGED_VARIABLES, params=True),
        # Two bindings: a label selector cannot say "either label".
        _binding(MANAGED_POLICY, MANAGED_POLICY, {"matchLabels": dict(MANAGED_BY)}, params=True),
        _binding(
            f"{MANAGED_POLICY}-tenant-label",
            MANAGED_POLICY,
            {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]},
            params=True,
        ),
        _policy(SERVICES_POLICY, [services], SERVICE_VALIDATIONS),
        _binding(SERVICES_POLICY, SERVICES_POLICY),
        _policy(INGRESS_POLICY, [ingresses], INGRESS_VALIDATIONS, INGRESS_VARIABLES),
        _binding(INGRESS_POLICY, INGRESS_POLICY),
    ]


def admission_assets(usernames: list[str] | None = None, groups: list[str] | None = None) -> list[dict[str, Any]]:
    """The operator's namespace, the params ConfigMap and the policies, in apply order."""
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": OPERATOR_NAMESPACE, "labels": dict(PART_OF)},
    }
    params = admission_params(usernames if usernames is not None else [DEFAULT_OPERATOR_USERNAME], groups)
    return [namespace, params, *admission_policies()]


# File name under crds/ -> (what it holds, its objects).
ASSET_FILES = {
    "landlord-rbac.yaml": ("the owners' ClusterRoles (landlord-tenant-owner, landlord-tenant-viewer)", tenant_roles),
    "landlord-admission.yaml": (
        "the admission policies protecting tenant isolation, and the operator's identity they read",
        admission_assets,
    ),
}
