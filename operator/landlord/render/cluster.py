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
  `landlord-managed-objects` (only the operator writes what Landlord labels, and Landlord's
  Namespaces), `landlord-frozen-namespaces` (nothing but deletions in a suspended or orphaned
  namespace), `landlord-tenant-services` (no ExternalName Service, no externalIPs),
  `landlord-ingress-hosts` (an Ingress routes only the hosts granted to the tenant, and uses
  only the safe ingress-nginx annotations), `landlord-tenant-volumes` (a PVC names no
  PersistentVolume) and `landlord-tenant-rolebindings` (no `system:` groups or users, no other
  namespace's ServiceAccounts as subjects).

The operator's identity comes from the ConfigMap `landlord-system/landlord-admission`:
`usernames` and `groups`, comma-separated; `ingressNginxAnnotations` adds names to the
ingress-nginx annotations a tenant may use.
"""

from __future__ import annotations

from typing import Any

from .namespace import INGRESS_HOSTS_ANNOTATION, ORPHANED_LABEL, SUSPENDED_LABEL
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

# Usernames (prefixes) of the cluster's own controllers, scheduler and kubelets: they keep
# working in a frozen (suspended or orphaned) namespace.
CLUSTER_COMPONENT_PREFIXES = ("system:serviceaccount:kube-system:", "system:node:")
CLUSTER_COMPONENTS = ("system:kube-controller-manager", "system:kube-scheduler")
# Who binds a PersistentVolumeClaim to a volume (spec.volumeName).
VOLUME_BINDERS = ("system:serviceaccount:kube-system:persistent-volume-binder", "system:kube-controller-manager")

MANAGED_POLICY = "landlord-managed-objects"
FROZEN_POLICY = "landlord-frozen-namespaces"
SERVICES_POLICY = "landlord-tenant-services"
INGRESS_POLICY = "landlord-ingress-hosts"
VOLUMES_POLICY = "landlord-tenant-volumes"
ROLEBINDINGS_POLICY = "landlord-tenant-rolebindings"

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
    _rule("metrics.k8s.io", ["pods"], READ),
    _rule("networking.k8s.io", ["ingresses", "ingresses/status", "networkpolicies"], READ),
    _rule("policy", ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    _rule("rbac.authorization.k8s.io", ["rolebindings", "roles"], READ),
]

# landlord.dev backups and restores are granted once their CRDs exist (docs/tenant-isolation.md).

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
SUSPENDED_NAMESPACES = {"matchLabels": {SUSPENDED_LABEL: "true"}}
ORPHANED_NAMESPACES = {"matchLabels": {ORPHANED_LABEL: "true"}}
ALL_NAMESPACES: dict[str, Any] = {}


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


def _names(names: tuple[str, ...]) -> str:
    """CEL: a list literal of strings."""
    return "[" + ", ".join(f"'{name}'" for name in names) + "]"


_CONTROLLERS = _names(SYSTEM_CONTROLLERS)

# The operator's identity, from the params ConfigMap (usernames, groups).
OPERATOR_VARIABLES = [
    {"name": "operatorUsers", "expression": _csv("usernames")},
    {"name": "operatorGroups", "expression": _csv("groups")},
    {
        "name": "isOperator",
        "expression": "request.userInfo.username in variables.operatorUsers || "
        "(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in variables.operatorGroups))",
    },
]

MANAGED_VARIABLES = [
    *OPERATOR_VARIABLES,
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
        "operator may create, change or delete it, or set those labels; change the Tenant or its Plan instead "
        "(for an object of your own, leave those labels out)'"
    ),
    "reason": "Forbidden",
}

FROZEN_VARIABLES = [
    *OPERATOR_VARIABLES,
    {
        "name": "isClusterComponent",
        "expression": f"request.userInfo.username in {_names(CLUSTER_COMPONENTS)} || "
        f"{_names(CLUSTER_COMPONENT_PREFIXES)}.exists(p, request.userInfo.username.startsWith(p))",
    },
    {
        "name": "why",
        "expression": "namespaceObject != null && has(namespaceObject.metadata.labels) && "
        f"'{ORPHANED_LABEL}' in namespaceObject.metadata.labels ? "
        "'was kept after its Tenant was deleted (deletionPolicy Retain)' : 'belongs to a suspended tenant'",
    },
]
FROZEN_VALIDATION = {
    # DELETE is not matched: the tenant may clean up.
    "expression": "variables.isOperator || variables.isClusterComponent",
    "messageExpression": "'namespace ' + request.namespace + ' ' + variables.why + ': nothing may be created or "
    "changed in it (' + request.operation + ' ' + request.resource.resource + "
    "(request.subResource != '' ? '/' + request.subResource : '') + '), only deleted; "
    "resume the Tenant (spec.suspend: false) first'",
    "reason": "Forbidden",
}

_VOLUME_NAME = "(has({0}.spec.volumeName) ? {0}.spec.volumeName : '')"
VOLUME_VALIDATIONS = [
    {
        "expression": f"request.userInfo.username in {_names(VOLUME_BINDERS)} || {_VOLUME_NAME.format('object')} == ''"
        f" || (request.operation == 'UPDATE' && {_VOLUME_NAME.format('object')} == "
        f"{_VOLUME_NAME.format('oldObject')})",
        "messageExpression": "'spec.volumeName is not allowed on a PersistentVolumeClaim in a tenant namespace (it "
        "would claim a PersistentVolume by name, possibly another tenant\\'s: ' + "
        + _VOLUME_NAME.format("object")
        + " + '); leave it empty and let the cluster provision or bind a volume'",
        "reason": "Forbidden",
    },
]

# A subject is the namespace's own: a user or group not reserved by Kubernetes (system:...), a
# ServiceAccount of this namespace, or the group of all of them.
_OWN_SUBJECT = (
    "s.kind == 'ServiceAccount' ? (!has(s.namespace) || s.namespace == '' || s.namespace == request.namespace) : "
    "s.kind == 'Group' ? (!s.name.startsWith('system:') || s.name == 'system:serviceaccounts:' + request.namespace) : "
    "(!s.name.startsWith('system:') || s.name.startsWith('system:serviceaccount:' + request.namespace + ':'))"
)
ROLEBINDING_VARIABLES = [
    *OPERATOR_VARIABLES,
    {
        "name": "foreign",
        "expression": f"has(object.subjects) ? object.subjects.filter(s, !({_OWN_SUBJECT}))"
        ".map(s, s.kind + ' ' + (has(s.namespace) && s.namespace != '' ? s.namespace + '/' : '') + s.name) : []",
    },
]
ROLEBINDING_VALIDATIONS = [
    {
        "expression": "variables.isOperator || size(variables.foreign) == 0",
        "messageExpression": "'a RoleBinding in a tenant namespace may not name ' + variables.foreign.join(', ') + "
        "' (groups and users named system:... stand for whole classes of clients, and ServiceAccounts of other "
        "namespaces are not the tenant\\'s); name people, groups of your own, or ServiceAccounts of ' + "
        "request.namespace",
        "reason": "Forbidden",
    },
]

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
# ingress-nginx (the default ingress class) reads annotations under this prefix; a tenant may use
# only these (an allow-list: the others route more hosts, inject configuration, reach other
# services or Secrets, or send requests elsewhere: server-alias, *-snippet, auth-url,
# auth-signin, auth-tls-*, auth-secret, mirror-*, proxy-pass-params, custom-http-errors,
# default-backend, upstream-vhost, service-upstream, ...). The params' `ingressNginxAnnotations`
# adds names (without the prefix), comma-separated.
INGRESS_NGINX_PREFIX = "nginx.ingress.kubernetes.io/"
SAFE_INGRESS_NGINX_ANNOTATIONS = (
    "affinity",
    "affinity-mode",
    "app-root",
    "backend-protocol",
    "denylist-source-range",
    "enable-cors",
    "force-ssl-redirect",
    "from-to-www-redirect",
    "limit-connections",
    "limit-rpm",
    "limit-rps",
    "permanent-redirect",
    "permanent-redirect-code",
    "proxy-body-size",
    "proxy-buffer-size",
    "proxy-connect-timeout",
    "proxy-read-timeout",
    "proxy-send-timeout",
    "rewrite-target",
    "ssl-redirect",
    "temporal-redirect",
    "use-regex",
    "whitelist-source-range",
)
# ... and every annotation starting with one of these (after the prefix).
SAFE_INGRESS_NGINX_PREFIXES = ("cors-", "session-cookie-")
INGRESS_VARIABLES.append(
    {
        "name": "refusedAnnotations",
        "expression": "has(object.metadata.annotations) ? object.metadata.annotations.filter(k, "
        f"k.startsWith('{INGRESS_NGINX_PREFIX}') && "
        f"!({_names(SAFE_INGRESS_NGINX_ANNOTATIONS)} + {_csv('ingressNginxAnnotations')})"
        f".exists(a, k == '{INGRESS_NGINX_PREFIX}' + a) && "
        f"!{_names(SAFE_INGRESS_NGINX_PREFIXES)}.exists(p, k.startsWith('{INGRESS_NGINX_PREFIX}' + p))) : []",
    }
)
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
        "expression": "size(variables.refusedAnnotations) == 0",
        "messageExpression": "'ingress-nginx annotation ' + variables.refusedAnnotations.join(', ') + ' is not "
        "allowed in a tenant namespace (only those known to stay within the tenant\\'s hosts and services are; "
        "see docs/tenant-isolation.md)'",
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
    name: str,
    policy: str,
    object_selector: dict[str, Any] | None = None,
    params: bool = False,
    namespaces: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    match: dict[str, Any] = {"namespaceSelector": TENANT_NAMESPACES if namespaces is None else namespaces}
    if object_selector:
        match["objectSelector"] = object_selector
    if rules:
        match["resourceRules"] = rules
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
        "data": {"usernames": ",".join(usernames), "groups": ",".join(groups or []), "ingressNginxAnnotations": ""},
    }


def _resources(group: str, resources: list[str], operations: list[str], scope: str = "*") -> dict[str, Any]:
    return {
        "apiGroups": [group],
        "apiVersions": ["*" if group == "*" else "v1"],
        "operations": operations,
        "resources": resources,
        "scope": scope,
    }


def admission_policies() -> list[dict[str, Any]]:
    """The policies and their bindings (tenant namespaces; suspended and orphaned ones)."""
    # Not subresources: the quota controller writes resourcequotas/status. Namespaced only: a
    # cluster-scoped object carrying the tenant label (a Tenant, a PersistentVolume) is not the
    # operator's alone; the Namespace itself has its own rule and binding.
    in_namespaces = _resources("*", ["*"], ["CREATE", "UPDATE", "DELETE"], "Namespaced")
    namespaces = _resources("", ["namespaces"], ["CREATE", "UPDATE", "DELETE"], "Cluster")
    # Everything and its subresources (scale, ephemeralcontainers, token; exec, attach and
    # portforward are CONNECT), but status (written by controllers: ingress, cert-manager...)
    # and eviction (a deletion); DELETE is not matched.
    frozen = _resources("*", ["*/*"], ["CREATE", "UPDATE", "CONNECT"], "Namespaced")
    frozen_policy = _policy(FROZEN_POLICY, [frozen], [FROZEN_VALIDATION], FROZEN_VARIABLES, params=True)
    frozen_policy["spec"]["matchConstraints"]["excludeResourceRules"] = [
        _resources("*", ["*/status"], ["*"]),
        _resources("", ["pods/eviction"], ["*"]),
    ]
    services = _resources("", ["services"], ["CREATE", "UPDATE"])
    ingresses = _resources("networking.k8s.io", ["ingresses"], ["CREATE", "UPDATE"])
    claims = _resources("", ["persistentvolumeclaims"], ["CREATE", "UPDATE"])
    rolebindings = _resources("rbac.authorization.k8s.io", ["rolebindings"], ["CREATE", "UPDATE"])
    return [
        _policy(MANAGED_POLICY, [in_namespaces, namespaces], [MANAGED_VALIDATION], MANAGED_VARIABLES, params=True),
        # Two bindings: a label selector cannot say "either label".
        _binding(MANAGED_POLICY, MANAGED_POLICY, {"matchLabels": dict(MANAGED_BY)}, True, rules=[in_namespaces]),
        _binding(
            f"{MANAGED_POLICY}-tenant-label",
            MANAGED_POLICY,
            {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]},
            params=True,
            rules=[in_namespaces],
        ),
        # Landlord's Namespaces: for a Namespace's update the namespaceSelector reads its new
        # labels (one patch removing the tenant label would escape it); the objectSelector reads
        # the old ones too.
        _binding(
            f"{MANAGED_POLICY}-namespaces",
            MANAGED_POLICY,
            {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]},
            params=True,
            namespaces=ALL_NAMESPACES,
            rules=[namespaces],
        ),
        frozen_policy,
        _binding(f"{FROZEN_POLICY}-suspended", FROZEN_POLICY, params=True, namespaces=SUSPENDED_NAMESPACES),
        _binding(f"{FROZEN_POLICY}-orphaned", FROZEN_POLICY, params=True, namespaces=ORPHANED_NAMESPACES),
        _policy(SERVICES_POLICY, [services], SERVICE_VALIDATIONS),
        _binding(SERVICES_POLICY, SERVICES_POLICY),
        _binding(f"{SERVICES_POLICY}-orphaned", SERVICES_POLICY, namespaces=ORPHANED_NAMESPACES),
        _policy(INGRESS_POLICY, [ingresses], INGRESS_VALIDATIONS, INGRESS_VARIABLES, params=True),
        _binding(INGRESS_POLICY, INGRESS_POLICY, params=True),
        _binding(f"{INGRESS_POLICY}-orphaned", INGRESS_POLICY, params=True, namespaces=ORPHANED_NAMESPACES),
        _policy(VOLUMES_POLICY, [claims], VOLUME_VALIDATIONS),
        _binding(VOLUMES_POLICY, VOLUMES_POLICY),
        _policy(ROLEBINDINGS_POLICY, [rolebindings], ROLEBINDING_VALIDATIONS, ROLEBINDING_VARIABLES, params=True),
        _binding(ROLEBINDINGS_POLICY, ROLEBINDINGS_POLICY, params=True),
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
