"""The RBAC objects a new cluster starts with, and the ClusterRole aggregation controller.

Bootstrap (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings):
cluster-admin bound to system:masters; the discovery roles (system:discovery,
system:basic-user, system:public-info-viewer) bound to system:authenticated (and the last also
to system:unauthenticated), so any authenticated user can run kubectl's discovery and
`kubectl auth can-i`; the user-facing roles admin, edit and view, built by aggregation from the
system:aggregate-to-* roles and from each other, as on a real cluster.

Aggregation (#aggregated-clusterroles): a ClusterRole with `aggregationRule.clusterRoleSelectors`
has its `rules` replaced by the union of the rules of every other ClusterRole a selector
matches, by a controller that runs after any ClusterRole changes.
"""

from __future__ import annotations

from typing import Any

from ..validation import FieldError
from . import errors
from .authorization import BINDING_KINDS, RBAC_GROUP, ROLE_KINDS
from .identity import AUTHENTICATED, MASTERS, UNAUTHENTICATED
from .lifecycle import Lifecycle
from .resources import ResourceType
from .selectors import label_selector_matches

BOOTSTRAP_MANAGER = "landlord-devcluster"
AGGREGATION_MANAGER = "clusterrole-aggregation-controller"
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
_BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}

_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _urls(urls: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"nonResourceURLs": urls, "verbs": verbs}


def _cluster_role(
    name: str,
    rules: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    aggregate_from: str = "",
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {**_BOOTSTRAP_LABELS, **(labels or {})}, "annotations": _AUTOUPDATE},
    }
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {AGGREGATE_TO + aggregate_from: "true"}}]}
    role["rules"] = rules or []
    return role


def _binding(name: str, role: str, groups: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(_BOOTSTRAP_LABELS), "annotations": _AUTOUPDATE},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": group} for group in groups],
    }


def bootstrap_cluster_roles() -> list[dict[str, Any]]:
    """The default ClusterRoles (user-facing and discovery roles, Kubernetes 1.30)."""
    return [
        _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _urls(["*"], ["*"])]),
        _cluster_role(
            "system:discovery",
            [
                _urls(
                    [
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/healthz",
                        "/livez",
                        "/openapi",
                        "/openapi/*",
                        "/readyz",
                        "/version",
                        "/version/",
                    ],
                    ["get"],
                )
            ],
        ),
        _cluster_role(
            "system:public-info-viewer",
            [_urls(["/healthz", "/livez", "/readyz", "/version", "/version/"], ["get"])],
        ),
        _cluster_role(
            "system:basic-user",
            [
                _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
                _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            ],
        ),
        _cluster_role("admin", aggregate_from="admin"),
        _cluster_role("edit", labels={AGGREGATE_TO + "admin": "true"}, aggregate_from="edit"),
        _cluster_role("view", labels={AGGREGATE_TO + "edit": "true"}, aggregate_from="view"),
        _cluster_role(
            "system:aggregate-to-admin",
            [
                _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
                _rule([RBAC_GROUP], ["rolebindings", "roles"], _ALL),
            ],
            labels={AGGREGATE_TO + "admin": "true"},
        ),
        _cluster_role(
            "system:aggregate-to-edit",
            [
                _rule(
                    [""],
                    ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"],
                    _READ,
                ),
                _rule([""], ["serviceaccounts"], ["impersonate"]),
                _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], _WRITE),
                _rule([""], ["pods/eviction"], ["create"]),
                _rule(
                    [""],
                    [
                        "configmaps",
                        "events",
                        "persistentvolumeclaims",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "secrets",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                    ],
                    _WRITE,
                ),
                _rule([""], ["serviceaccounts/token"], ["create"]),
                _rule(
                    ["apps"],
                    [
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                        "statefulsets",
                        "statefulsets/scale",
                    ],
                    _WRITE,
                ),
                _rule(["autoscaling"], ["horizontalpodautoscalers"], _WRITE),
                _rule(["batch"], ["cronjobs", "jobs"], _WRITE),
                _rule(
                    ["extensions"],
                    [
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "ingresses",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicationcontrollers/scale",
                    ],
                    _WRITE,
                ),
                _rule(["policy"], ["poddisruptionbudgets"], _WRITE),
                _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _WRITE),
                _rule(["coordination.k8s.io"], ["leases"], _ALL),
            ],
            labels={AGGREGATE_TO + "edit": "true"},
        ),
        _cluster_role(
            "system:aggregate-to-view",
            [
                _rule(
                    [""],
                    [
                        "configmaps",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                    ],
                    _READ,
                ),
                _rule(
                    [""],
                    [
                        "bindings",
                        "events",
                        "limitranges",
                        "namespaces/status",
                        "pods/log",
                        "pods/status",
                        "replicationcontrollers/status",
                        "resourcequotas",
                        "resourcequotas/status",
                    ],
                    _READ,
                ),
                _rule([""], ["namespaces"], _READ),
                _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
                _rule(
                    ["apps"],
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
                    _READ,
                ),
                _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], _READ),
                _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], _READ),
                _rule(
                    ["extensions"],
                    [
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "ingresses",
                        "ingresses/status",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "replicationcontrollers/scale",
                    ],
                    _READ,
                ),
                _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], _READ),
                _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], _READ),
            ],
            labels={AGGREGATE_TO + "view": "true"},
        ),
    ]


def bootstrap_cluster_role_bindings() -> list[dict[str, Any]]:
    """The default ClusterRoleBindings of the roles above."""
    return [
        _binding("cluster-admin", "cluster-admin", [MASTERS]),
        _binding("system:discovery", "system:discovery", [AUTHENTICATED]),
        _binding("system:basic-user", "system:basic-user", [AUTHENTICATED]),
        _binding("system:public-info-viewer", "system:public-info-viewer", [AUTHENTICATED, UNAUTHENTICATED]),
    ]


def review_types() -> list[ResourceType]:
    """The create-only review resources (nothing stored): access reviews and who-am-I."""

    def review(group: str, package: str, kind: str, namespaced: bool = False) -> ResourceType:
        return ResourceType(
            group=group,
            version="v1",
            kind=kind,
            plural=kind.lower() + "s",
            singular=kind.lower(),
            namespaced=namespaced,
            schema={"$ref": f"#/$defs/io.k8s.api.{package}.v1.{kind}"},
            verbs=("create",),
        )

    return [
        review("authentication.k8s.io", "authentication", "SelfSubjectReview"),
        review("authorization.k8s.io", "authorization", "LocalSubjectAccessReview", namespaced=True),
        review("authorization.k8s.io", "authorization", "SelfSubjectAccessReview"),
        review("authorization.k8s.io", "authorization", "SelfSubjectRulesReview"),
        review("authorization.k8s.io", "authorization", "SubjectAccessReview"),
    ]


REVIEW_KINDS = frozenset(rt.kind for rt in review_types())


def aggregated_rules(roles: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The new `rules` of each aggregated ClusterRole (by name) whose rules are not yet the union of
    those of the ClusterRoles its selectors match (in name order, without duplicates)."""
    ordered = sorted(roles.items())
    changes: dict[str, list[dict[str, Any]]] = {}
    for name, role in ordered:
        aggregation = role.get("aggregationRule")
        if not isinstance(aggregation, dict):
            continue
        rules: list[dict[str, Any]] = []
        for selector in aggregation.get("clusterRoleSelectors") or []:
            for other_name, other in ordered:
                labels = (other.get("metadata") or {}).get("labels") or {}
                if other_name != name and isinstance(selector, dict) and label_selector_matches(selector, labels):
                    rules += [rule for rule in other.get("rules") or [] if rule not in rules]
        if (role.get("rules") or []) != rules:
            changes[name] = rules
    return changes


def default_binding(binding: dict[str, Any]) -> None:
    """The v1 defaults of a binding: roleRef.apiGroup, and the apiGroup of User and Group subjects."""
    ref = binding.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = RBAC_GROUP
    for subject in binding.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = RBAC_GROUP


def _supported(path: str, value: Any, allowed: list[str]) -> FieldError:
    return FieldError(
        "FieldValueNotSupported", path, value, "supported values: " + ", ".join(f'"{a}"' for a in allowed)
    )


def rbac_problems(kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """The rbac validation the schema does not express: rule shapes, roleRef and subjects, and a
    binding's roleRef being immutable (a binding must be deleted and recreated to change it)."""
    problems: list[FieldError] = []
    if kind in ROLE_KINDS:
        for index, rule in enumerate(obj.get("rules") or []):
            path = f"rules[{index}]"
            if not rule.get("verbs"):
                problems.append(
                    FieldError("FieldValueRequired", f"{path}.verbs", detail="verbs must contain at least one value")
                )
            if rule.get("nonResourceURLs"):
                urls = rule["nonResourceURLs"]
                if kind == "Role":
                    problems.append(
                        FieldError(
                            "FieldValueInvalid",
                            f"{path}.nonResourceURLs",
                            urls,
                            "namespaced rules cannot apply to non-resource URLs",
                        )
                    )
                if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                    problems.append(
                        FieldError(
                            "FieldValueInvalid",
                            f"{path}.nonResourceURLs",
                            urls,
                            "rules cannot apply to both regular resources and non-resource URLs",
                        )
                    )
                continue
            if not rule.get("apiGroups"):
                problems.append(
                    FieldError(
                        "FieldValueRequired",
                        f"{path}.apiGroups",
                        detail="resource rules must supply at least one api group",
                    )
                )
            if not rule.get("resources"):
                problems.append(
                    FieldError(
                        "FieldValueRequired",
                        f"{path}.resources",
                        detail="resource rules must supply at least one resource",
                    )
                )
        aggregation = obj.get("aggregationRule")
        if isinstance(aggregation, dict) and not aggregation.get("clusterRoleSelectors"):
            problems.append(
                FieldError(
                    "FieldValueRequired",
                    "aggregationRule.clusterRoleSelectors",
                    detail="at least one clusterRoleSelector required if aggregationRule is non-nil",
                )
            )
        return problems
    if kind not in BINDING_KINDS:
        return problems
    ref = obj.get("roleRef") or {}
    if ref.get("apiGroup") != RBAC_GROUP:
        problems.append(_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [RBAC_GROUP]))
    kinds = ["Role", "ClusterRole"] if kind == "RoleBinding" else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        problems.append(_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        problems.append(FieldError("FieldValueRequired", "roleRef.name"))
    for index, subject in enumerate(obj.get("subjects") or []):
        path = f"subjects[{index}]"
        subject_kind, group = subject.get("kind"), subject.get("apiGroup", "")
        if not subject.get("name"):
            problems.append(FieldError("FieldValueRequired", f"{path}.name"))
        if subject_kind == "ServiceAccount":
            if group:
                problems.append(_supported(f"{path}.apiGroup", group, [""]))
            if kind == "ClusterRoleBinding" and not subject.get("namespace"):
                problems.append(FieldError("FieldValueRequired", f"{path}.namespace"))
        elif subject_kind in ("User", "Group"):
            if group != RBAC_GROUP:
                problems.append(_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
        else:
            problems.append(_supported(f"{path}.kind", subject_kind, ["ServiceAccount", "User", "Group"]))
    if old is not None and (old.get("roleRef") or {}) != ref:
        shown = ", ".join(
            f'{k}:"{ref.get(key, "")}"' for k, key in (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))
        )
        problems.append(
            FieldError("FieldValueInvalid", "roleRef", detail=f"rbac.RoleRef{{{shown}}}: cannot change roleRef")
        )
    return problems


class Rbac(Lifecycle):
    """Bootstrap RBAC objects and review types, and aggregation as one of the built-in controllers."""

    _aggregation_due = False

    def _bootstrap_rbac(self) -> None:
        """Registers the review types and creates the default roles, already aggregated."""
        for rt in review_types():
            self._register(rt)
        roles = {role["metadata"]["name"]: role for role in bootstrap_cluster_roles()}
        for _ in range(10):  # view feeds edit feeds admin: a pass per level
            changed = aggregated_rules(roles)
            if not changed:
                break
            for name, rules in changed.items():
                roles[name]["rules"] = rules
        role_type = self.find(RBAC_GROUP, "clusterroles")
        binding_type = self.find(RBAC_GROUP, "clusterrolebindings")
        for role in roles.values():
            self.create(role_type, None, role, BOOTSTRAP_MANAGER)
        for binding in bootstrap_cluster_role_bindings():
            self.create(binding_type, None, binding, BOOTSTRAP_MANAGER)
        self._aggregation_due = False

    def aggregate_cluster_roles(self) -> bool:
        """One pass of the aggregation controller; True when it changed a ClusterRole."""
        rt = self.find(RBAC_GROUP, "clusterroles")
        stored = {name: role for (_, name), role in self._store(rt).items()}
        changed = aggregated_rules(stored)
        for name, rules in sorted(changed.items()):
            if ("", name) in self._store(rt):
                self.patch(rt, None, name, "merge", {"rules": rules}, AGGREGATION_MANAGER)
        return bool(changed)

    def _validate(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, field_validation: str
    ) -> tuple[dict[str, Any], list[str]]:
        """Adds the rbac defaults and checks to the schema's (for every writer, the admin too)."""
        rbac_kind = rt.builtin and rt.group == RBAC_GROUP
        if rbac_kind and rt.kind in BINDING_KINDS:
            default_binding(obj)
        stored, warnings = super()._validate(rt, obj, old, field_validation)
        if rbac_kind:
            problems = rbac_problems(rt.kind, stored, old)
            if problems:
                raise errors.invalid(rt.kind, rt.group, stored["metadata"].get("name", ""), problems)
        return stored, warnings

    def _after_write(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        super()._after_write(rt, obj)
        self._cluster_role_changed(rt)

    def _removed(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        super()._removed(rt, obj)
        self._cluster_role_changed(rt)

    def _cluster_role_changed(self, rt: ResourceType) -> None:
        if rt.group_resource == (RBAC_GROUP, "clusterroles"):
            self._aggregation_due = True
            self.wakeup.set()

    def reconcile(self) -> bool:
        changed = super().reconcile()
        if self._aggregation_due:
            self._aggregation_due = False
            with self.unadmitted():  # like the other built-in controllers
                changed |= self.aggregate_cluster_roles()
        return changed
