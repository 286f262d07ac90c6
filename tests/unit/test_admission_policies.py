"""The shipped ValidatingAdmissionPolicies, evaluated with the `cel` package against example requests.

Each policy's variables and validations run as the API server runs them (variables in order,
visible as `variables.<name>`; a validation that is not true denies with its message or
messageExpression), over `object`, `oldObject`, `request`, `params` and `namespaceObject`.
The bindings' selectors are checked too: what they select is what the policies see.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import cel
import pytest

from landlord.components.namespace import ORPHANED_LABEL as COMPONENT_ORPHANED_LABEL
from landlord.config import parse
from landlord.pipeline import StaticCatalogue, desire
from landlord.render.cluster import (
    ADMISSION_PARAMS,
    FROZEN_POLICY,
    INGRESS_POLICY,
    MANAGED_POLICY,
    OPERATOR_NAMESPACE,
    ROLEBINDINGS_POLICY,
    SERVICES_POLICY,
    VOLUMES_POLICY,
    admission_params,
    admission_policies,
)
from landlord.render.namespace import INGRESS_HOSTS_ANNOTATION, ORPHANED_LABEL, SUSPENDED_LABEL
from landlord.validation.cel_rules import FUNCTIONS

OPERATOR = "system:serviceaccount:landlord-system:landlord"
OWNER = "jane@acme.example"
PARAMS = admission_params([OPERATOR, "second-operator"], ["landlord:break-glass"])
TENANT_NS = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {
        "name": "t-acme",
        "labels": {"landlord.dev/tenant": "acme", "app.kubernetes.io/managed-by": "landlord"},
        "annotations": {INGRESS_HOSTS_ANNOTATION: "acme.apps.example.com,crm.acme.example"},
    },
}
LANDLORD_LABELS = {
    "landlord.dev/tenant": "acme",
    "landlord.dev/plan": "pro",
    "app.kubernetes.io/managed-by": "landlord",
}


def policy(name: str) -> dict[str, Any]:
    return next(
        o for o in admission_policies() if o["kind"] == "ValidatingAdmissionPolicy" and o["metadata"]["name"] == name
    )


def bindings(name: str) -> list[dict[str, Any]]:
    return [
        o
        for o in admission_policies()
        if o["kind"] == "ValidatingAdmissionPolicyBinding" and o["spec"]["policyName"] == name
    ]


def request(
    operation: str,
    kind: str,
    name: str,
    namespace: str = "t-acme",
    user: str = OWNER,
    groups: tuple[str, ...] = ("system:authenticated",),
) -> dict[str, Any]:
    group, _, version = {
        "NetworkPolicy": "networking.k8s.io/v1",
        "Ingress": "networking.k8s.io/v1",
        "RoleBinding": "rbac.authorization.k8s.io/v1",
    }.get(kind, "/v1").rpartition("/")
    resource = kind.lower() + ("es" if kind.endswith("s") else "s")
    return {
        "operation": operation,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "subResource": "",
        "name": name,
        "namespace": namespace,
        "userInfo": {"username": user, "groups": list(groups)},
    }


def denials(
    name: str,
    req: dict[str, Any],
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None = None,
    params: dict[str, Any] | None = PARAMS,
    namespace: dict[str, Any] | None = TENANT_NS,
) -> list[str]:
    """The messages of the validations of policy `name` that deny this request (empty: admitted)."""
    spec = policy(name)["spec"]
    variables: dict[str, Any] = {}

    def context() -> cel.Context:
        return cel.Context(
            variables={
                "object": obj,
                "oldObject": old,
                "request": req,
                "params": params if "paramKind" in spec else None,
                "namespaceObject": namespace,
                "variables": dict(variables),
            },
            functions=FUNCTIONS,
        )

    for variable in spec.get("variables") or []:
        variables[variable["name"]] = cel.evaluate(variable["expression"], context())
    messages = []
    for validation in spec["validations"]:
        if cel.evaluate(validation["expression"], context()) is not True:
            if "messageExpression" in validation:
                messages.append(str(cel.evaluate(validation["messageExpression"], context())))
            else:
                messages.append(validation["message"])
    return messages


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        assert expression["operator"] == "Exists", "extend this helper for other operators"
        if expression["key"] not in labels:
            return False
    return True


def _kind_matches(rules: list[dict[str, Any]] | None, kind: str) -> bool:
    """Whether `rules` select a Namespace (kind Namespace) or a namespaced object (anything else)."""
    if not rules:
        return True
    for rule in rules:
        if kind == "Namespace" and "namespaces" in rule["resources"]:
            return True
        if kind != "Namespace" and rule.get("scope") == "Namespaced":
            return True
    return False


def selected(name: str, obj: dict[str, Any] | None, old: dict[str, Any] | None, namespace: dict[str, Any]) -> bool:
    """Whether a binding of policy `name` selects the request (object or oldObject, in `namespace`;
    for a Namespace, `namespace` is its new version, as for a real API server)."""
    labels = [((o or {}).get("metadata") or {}).get("labels") or {} for o in (obj, old) if o is not None]
    kind = next(o for o in (obj, old) if o is not None)["kind"]
    for binding in bindings(name):
        match = binding["spec"]["matchResources"]
        if not _kind_matches(match.get("resourceRules"), kind):
            continue
        if not _selects(match["namespaceSelector"], namespace["metadata"].get("labels") or {}):
            continue
        if "objectSelector" not in match or any(_selects(match["objectSelector"], lab) for lab in labels):
            return True
    return False


def obj(kind: str, name: str, labels: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "t-acme"}
    if labels is not None:
        meta["labels"] = labels
    return {"kind": kind, "metadata": meta, **fields}


def test_every_expression_compiles() -> None:
    for item in admission_policies():
        if item["kind"] != "ValidatingAdmissionPolicy":
            continue
        spec = item["spec"]
        expressions = [v["expression"] for v in spec.get("variables") or []]
        for validation in spec["validations"]:
            expressions.append(validation["expression"])
            if "messageExpression" in validation:
                expressions.append(validation["messageExpression"])
        for expression in expressions:
            cel.compile(expression)


# -- (a) Landlord-managed objects --------------------------------------------------------------
POLICY_NP = obj("NetworkPolicy", "landlord-isolation", LANDLORD_LABELS, spec={"podSelector": {}})


def test_the_owner_cannot_delete_or_change_a_managed_object() -> None:
    deleted = denials(MANAGED_POLICY, request("DELETE", "NetworkPolicy", "landlord-isolation"), None, POLICY_NP)
    assert deleted == [
        "NetworkPolicy t-acme/landlord-isolation is managed by Landlord (labels "
        "app.kubernetes.io/managed-by=landlord, landlord.dev/tenant): only the operator may create, change or "
        "delete it, or set those labels; change the Tenant or its Plan instead (for an object of your own, "
        "leave those labels out)"
    ]
    quota = obj("ResourceQuota", "landlord-quota", LANDLORD_LABELS, spec={"hard": {"pods": "10"}})
    raised = obj("ResourceQuota", "landlord-quota", LANDLORD_LABELS, spec={"hard": {"pods": "1000"}})
    assert denials(MANAGED_POLICY, request("UPDATE", "ResourceQuota", "landlord-quota"), raised, quota)
    config_map = obj("ConfigMap", "landlord-entitlements", LANDLORD_LABELS, data={"plan": "pro"})
    assert denials(MANAGED_POLICY, request("UPDATE", "ConfigMap", "landlord-entitlements"), config_map, config_map)


def test_removing_the_labels_does_not_free_the_object() -> None:
    unlabelled = obj("NetworkPolicy", "landlord-isolation", {}, spec={"podSelector": {}})
    req = request("UPDATE", "NetworkPolicy", "landlord-isolation")
    assert denials(MANAGED_POLICY, req, unlabelled, POLICY_NP)
    assert selected(MANAGED_POLICY, unlabelled, POLICY_NP, TENANT_NS), "the binding selects by the old labels too"


@pytest.mark.parametrize(
    "labels",
    [
        {"app.kubernetes.io/managed-by": "landlord"},
        {"landlord.dev/tenant": "acme"},
        {"landlord.dev/tenant": "other-tenant"},
    ],
)
def test_the_owner_cannot_create_an_object_claiming_landlords_labels(labels: dict[str, str]) -> None:
    allow_all = obj("NetworkPolicy", "allow-all", labels, spec={"podSelector": {}, "ingress": [{}], "egress": [{}]})
    assert denials(MANAGED_POLICY, request("CREATE", "NetworkPolicy", "allow-all"), allow_all)
    assert selected(MANAGED_POLICY, allow_all, None, TENANT_NS)


@pytest.mark.parametrize("labels", [None, {"app": "shop"}, {"app.kubernetes.io/managed-by": "Helm"}])
def test_the_owners_own_objects_are_not_landlords(labels: dict[str, str] | None) -> None:
    mine = obj("ConfigMap", "settings", labels, data={"a": "b"})
    assert denials(MANAGED_POLICY, request("CREATE", "ConfigMap", "settings"), mine) == []
    assert denials(MANAGED_POLICY, request("DELETE", "ConfigMap", "settings"), None, mine) == []
    assert not selected(MANAGED_POLICY, mine, None, TENANT_NS)


def test_the_operator_and_the_namespace_cleanup_may_write_managed_objects() -> None:
    for user, groups in [(OPERATOR, ()), ("second-operator", ()), ("someone", ("landlord:break-glass",))]:
        req = request("DELETE", "NetworkPolicy", "landlord-isolation", user=user, groups=groups)
        assert denials(MANAGED_POLICY, req, None, POLICY_NP) == [], user
    for controller in [
        "system:serviceaccount:kube-system:namespace-controller",
        "system:serviceaccount:kube-system:generic-garbage-collector",
    ]:
        req = request("DELETE", "NetworkPolicy", "landlord-isolation", user=controller)
        assert denials(MANAGED_POLICY, req, None, POLICY_NP) == []
    going = {**TENANT_NS, "metadata": {**TENANT_NS["metadata"], "deletionTimestamp": "2026-03-01T00:00:00Z"}}
    delete = request("DELETE", "NetworkPolicy", "landlord-isolation")
    assert denials(MANAGED_POLICY, delete, None, POLICY_NP, namespace=going) == []
    update = request("UPDATE", "NetworkPolicy", "landlord-isolation")
    assert denials(MANAGED_POLICY, update, POLICY_NP, POLICY_NP, namespace=going), "only deletions, while it goes"


def test_without_parameters_nobody_is_the_operator() -> None:
    empty = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ADMISSION_PARAMS}}
    req = request("DELETE", "NetworkPolicy", "landlord-isolation", user=OPERATOR)
    assert denials(MANAGED_POLICY, req, None, POLICY_NP, params=empty)
    assert denials(MANAGED_POLICY, req, None, POLICY_NP, params=admission_params(["", " "]))


def test_the_tenant_namespace_itself_is_protected() -> None:
    relabelled = {**TENANT_NS, "metadata": {**TENANT_NS["metadata"], "annotations": {}}}
    req = request("UPDATE", "Namespace", "t-acme", namespace="")
    messages = denials(MANAGED_POLICY, req, relabelled, TENANT_NS, namespace=None)
    assert messages and messages[0].startswith("Namespace t-acme is managed by Landlord")
    assert selected(MANAGED_POLICY, relabelled, TENANT_NS, TENANT_NS), "a Namespace is selected by its own labels"


def test_removing_the_tenant_label_from_the_namespace_does_not_free_it() -> None:
    """For a Namespace's update, namespaceSelector reads the new labels: the objectSelector of
    the namespaces binding reads the old ones too."""
    unlabelled = {**TENANT_NS, "metadata": {**TENANT_NS["metadata"], "labels": {}}}
    req = request("UPDATE", "Namespace", "t-acme", namespace="t-acme", user="admin", groups=("system:masters",))
    assert selected(MANAGED_POLICY, unlabelled, TENANT_NS, unlabelled)
    assert denials(MANAGED_POLICY, req, unlabelled, TENANT_NS, namespace=None)
    (binding,) = [b for b in bindings(MANAGED_POLICY) if b["metadata"]["name"].endswith("-namespaces")]
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {}
    # An orphan (no tenant label, before and after) is the administrators': adopt or delete it.
    orphan = {"kind": "Namespace", "metadata": {"name": "t-old", "labels": {ORPHANED_LABEL: "true"}}}
    assert not selected(MANAGED_POLICY, orphan, orphan, orphan)


def test_cluster_scoped_objects_carrying_the_tenant_label_are_not_the_operators_alone() -> None:
    policy_rules = policy(MANAGED_POLICY)["spec"]["matchConstraints"]["resourceRules"]
    assert [(r["resources"], r["scope"]) for r in policy_rules] == [(["*"], "Namespaced"), (["namespaces"], "Cluster")]
    for binding in bindings(MANAGED_POLICY):
        (rule,) = binding["spec"]["matchResources"]["resourceRules"]
        assert rule["scope"] in ("Namespaced", "Cluster")
        assert rule["scope"] == "Namespaced" or rule["resources"] == ["namespaces"]


def test_the_parameters_live_in_the_operators_namespace() -> None:
    for binding in bindings(MANAGED_POLICY):
        ref = binding["spec"]["paramRef"]
        assert (ref["name"], ref["namespace"], ref["parameterNotFoundAction"]) == (
            ADMISSION_PARAMS,
            OPERATOR_NAMESPACE,
            "Deny",
        )
    other_ns = {"metadata": {"name": "kube-system", "labels": {}}}
    assert not selected(MANAGED_POLICY, POLICY_NP, None, other_ns), "only tenant namespaces"


def test_the_rendered_children_are_what_the_policy_protects() -> None:
    """Rendering and the policy agree on the labels and on the hosts annotation."""
    plan = {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Plan",
        "metadata": {"name": "basic"},
        "spec": {
            "limits": {"cpu": "1", "customDomains": 2},
            "pricing": {"currency": "EUR", "prices": {"Monthly": "1.00"}},
        },
    }
    tenant = {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": "acme"},
        "spec": {"plan": "basic", "domains": {"custom": ["crm.acme.example", "shop.acme.example"]}},
        "status": {"domains": [{"host": "crm.acme.example", "state": "Verified"}]},
    }
    desired = desire(tenant, StaticCatalogue([plan, tenant]), parse({}), datetime(2026, 3, 1, tzinfo=UTC))
    namespace = desired.children["namespace"][0]
    for child in desired.objects():
        kind, name = child["kind"], child["metadata"]["name"]
        req = request("DELETE", kind, name, namespace=child["metadata"].get("namespace", ""))
        assert denials(MANAGED_POLICY, req, None, child, namespace=namespace), f"{kind} {name}"
        assert selected(MANAGED_POLICY, None, child, namespace), f"{kind} {name}"
    ingress = ingress_for("crm.acme.example")
    assert denials(INGRESS_POLICY, request("CREATE", "Ingress", "web"), ingress, namespace=namespace) == []
    refused = ingress_for("shop.acme.example")  # not verified yet
    assert denials(INGRESS_POLICY, request("CREATE", "Ingress", "web"), refused, namespace=namespace)


# -- (b) Services --------------------------------------------------------------------------------
def service(**spec: Any) -> dict[str, Any]:
    return obj("Service", "web", None, spec={"ports": [{"port": 80}], **spec})


def test_external_name_and_external_ips_are_refused() -> None:
    req = request("CREATE", "Service", "web")
    assert denials(SERVICES_POLICY, req, service(type="ExternalName", externalName="db.other.svc")) == [
        "ExternalName Services are not allowed in a tenant namespace (they can point a name at another tenant's "
        "or the platform's service); use a ClusterIP Service"
    ]
    refused = denials(SERVICES_POLICY, req, service(type="ClusterIP", externalIPs=["203.0.113.7"]))
    assert len(refused) == 1 and "externalIPs" in refused[0]
    update = request("UPDATE", "Service", "web")
    assert denials(SERVICES_POLICY, update, service(externalIPs=["10.0.0.1"]), service())


@pytest.mark.parametrize(
    "spec", [{}, {"type": "ClusterIP"}, {"type": "ClusterIP", "externalIPs": []}, {"type": "NodePort"}]
)
def test_ordinary_services_pass(spec: dict[str, Any]) -> None:
    # NodePort and LoadBalancer are the quota's business (services.nodeports, services.loadbalancers).
    assert denials(SERVICES_POLICY, request("CREATE", "Service", "web"), service(**spec)) == []


def test_the_service_policy_binds_to_tenant_and_orphaned_namespaces_only() -> None:
    assert selected(SERVICES_POLICY, service(), None, TENANT_NS)
    assert not selected(SERVICES_POLICY, service(), None, {"metadata": {"name": "default", "labels": {}}})
    assert [b["spec"]["validationActions"] for b in bindings(SERVICES_POLICY)] == [["Deny"], ["Deny"]]


# -- (c) Ingress hosts -----------------------------------------------------------------------------
def ingress_for(*hosts: str, tls: list[list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    rules = [{"host": h, "http": {"paths": [{"path": "/", "pathType": "Prefix"}]}} for h in hosts]
    spec: dict[str, Any] = {"rules": rules, **extra}
    if tls is not None:
        spec["tls"] = [{"hosts": group, "secretName": "tls"} for group in tls]
    return obj("Ingress", "web", None, spec=spec)


def test_granted_hosts_are_routed() -> None:
    req = request("CREATE", "Ingress", "web")
    both = ingress_for(
        "acme.apps.example.com", "crm.acme.example", tls=[["acme.apps.example.com"], ["crm.acme.example"]]
    )
    assert denials(INGRESS_POLICY, req, both) == []


def test_another_tenants_host_is_refused_with_the_hosts_granted() -> None:
    req = request("CREATE", "Ingress", "web")
    assert denials(INGRESS_POLICY, req, ingress_for("acme.apps.example.com", "bakery.apps.example.com")) == [
        "host bakery.apps.example.com is not granted to this tenant; hosts granted: acme.apps.example.com, "
        "crm.acme.example (its subdomain and its verified custom domains)"
    ]
    tls = denials(INGRESS_POLICY, req, ingress_for("acme.apps.example.com", tls=[["bakery.apps.example.com"]]))
    assert tls == [
        "TLS host bakery.apps.example.com is not granted to this tenant; hosts granted: acme.apps.example.com, "
        "crm.acme.example"
    ]
    update = request("UPDATE", "Ingress", "web")
    assert denials(INGRESS_POLICY, update, ingress_for("evil.example"), ingress_for("acme.apps.example.com"))


@pytest.mark.parametrize(
    "ingress",
    [
        {"rules": [{"http": {"paths": []}}]},  # no host: every host
        {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"rules": [{"host": "*.apps.example.com"}]},
    ],
    ids=["no-host", "default-backend", "wildcard"],
)
def test_catch_all_ingresses_are_refused(ingress: dict[str, Any]) -> None:
    assert denials(INGRESS_POLICY, request("CREATE", "Ingress", "web"), obj("Ingress", "web", None, spec=ingress))


@pytest.mark.parametrize(
    "annotation",
    [
        "server-alias",
        "configuration-snippet",
        "server-snippet",
        "auth-url",
        "auth-signin",
        "auth-tls-secret",
        "auth-secret",
        "mirror-target",
        "proxy-pass-params",
        "custom-http-errors",
        "default-backend",
        "upstream-vhost",
        "service-upstream",
        "some-future-annotation",
    ],
)
def test_ingress_nginx_annotations_not_known_to_be_safe_are_refused(annotation: str) -> None:
    ingress = ingress_for("acme.apps.example.com")
    ingress["metadata"]["annotations"] = {
        f"nginx.ingress.kubernetes.io/{annotation}": "bakery.apps.example.com",
        "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
    }
    assert denials(INGRESS_POLICY, request("CREATE", "Ingress", "web"), ingress) == [
        f"ingress-nginx annotation nginx.ingress.kubernetes.io/{annotation} is not allowed in a tenant namespace "
        "(only those known to stay within the tenant's hosts and services are; see docs/tenant-isolation.md)"
    ]


@pytest.mark.parametrize(
    "annotation",
    [
        "rewrite-target",
        "ssl-redirect",
        "force-ssl-redirect",
        "proxy-body-size",
        "proxy-read-timeout",
        "enable-cors",
        "cors-allow-origin",
        "session-cookie-name",
        "affinity",
        "limit-rps",
        "whitelist-source-range",
        "permanent-redirect",
    ],
)
def test_safe_ingress_nginx_annotations_pass(annotation: str) -> None:
    ingress = ingress_for("acme.apps.example.com")
    ingress["metadata"]["annotations"] = {
        f"nginx.ingress.kubernetes.io/{annotation}": "x",
        "kubernetes.io/ingress.class": "nginx",  # not ingress-nginx's prefix: not its business
        "cert-manager.io/cluster-issuer": "letsencrypt",
    }
    assert denials(INGRESS_POLICY, request("CREATE", "Ingress", "web"), ingress) == []


def test_the_parameters_extend_the_safe_ingress_nginx_annotations() -> None:
    ingress = ingress_for("acme.apps.example.com")
    ingress["metadata"]["annotations"] = {"nginx.ingress.kubernetes.io/proxy-http-version": "1.1"}
    assert denials(INGRESS_POLICY, request("CREATE", "Ingress", "web"), ingress)
    extended = {
        **PARAMS,
        "data": {**PARAMS["data"], "ingressNginxAnnotations": "proxy-http-version, x-forwarded-prefix"},
    }
    assert denials(INGRESS_POLICY, request("CREATE", "Ingress", "web"), ingress, params=extended) == []


def test_a_namespace_without_granted_hosts_routes_nothing() -> None:
    bare = {"metadata": {"name": "t-acme", "labels": {"landlord.dev/tenant": "acme"}}}
    messages = denials(
        INGRESS_POLICY, request("CREATE", "Ingress", "web"), ingress_for("acme.apps.example.com"), namespace=bare
    )
    assert messages == [
        "host acme.apps.example.com is not granted to this tenant; hosts granted: none "
        "(its subdomain and its verified custom domains)"
    ]


# -- (d) Suspended and orphaned namespaces ---------------------------------------------------------
SUSPENDED_NS = {
    **TENANT_NS,
    "metadata": {**TENANT_NS["metadata"], "labels": {**LANDLORD_LABELS, SUSPENDED_LABEL: "true"}},
}
ORPHANED_NS = {"metadata": {"name": "t-acme", "labels": {ORPHANED_LABEL: "true", "landlord.dev/former-tenant": "acme"}}}


def test_the_orphaned_label_is_the_operators() -> None:
    assert ORPHANED_LABEL == COMPONENT_ORPHANED_LABEL


@pytest.mark.parametrize("namespace", [SUSPENDED_NS, ORPHANED_NS], ids=["suspended", "orphaned"])
def test_nothing_is_created_or_changed_in_a_frozen_namespace_but_by_the_operator(namespace: dict[str, Any]) -> None:
    mine = obj("ConfigMap", "settings", {"app": "shop"}, data={"a": "b"})
    assert selected(FROZEN_POLICY, mine, None, namespace)
    assert not selected(FROZEN_POLICY, mine, None, TENANT_NS), "an active tenant's namespace is not frozen"
    for operation, new, old in (("CREATE", mine, None), ("UPDATE", mine, mine)):
        messages = denials(FROZEN_POLICY, request(operation, "ConfigMap", "settings"), new, old, namespace=namespace)
        assert len(messages) == 1 and messages[0].startswith("namespace t-acme "), messages
        assert f"({operation} configmaps)" in messages[0]
    rule = policy(FROZEN_POLICY)["spec"]["matchConstraints"]["resourceRules"][0]
    assert rule["operations"] == ["CREATE", "UPDATE", "CONNECT"], "deletions stay allowed"
    assert rule["resources"] == ["*/*"] and rule["scope"] == "Namespaced"
    excluded = policy(FROZEN_POLICY)["spec"]["matchConstraints"]["excludeResourceRules"]
    assert [r["resources"] for r in excluded] == [["*/status"], ["pods/eviction"]]


def test_the_suspension_message_says_why() -> None:
    req = request("CREATE", "ConfigMap", "settings")
    (suspended,) = denials(FROZEN_POLICY, req, obj("ConfigMap", "settings"), namespace=SUSPENDED_NS)
    assert "belongs to a suspended tenant" in suspended
    (orphaned,) = denials(FROZEN_POLICY, req, obj("ConfigMap", "settings"), namespace=ORPHANED_NS)
    assert "was kept after its Tenant was deleted" in orphaned


@pytest.mark.parametrize(
    "user",
    [
        OPERATOR,
        "system:serviceaccount:kube-system:replicaset-controller",
        "system:kube-controller-manager",
        "system:kube-scheduler",
        "system:node:worker-1",
    ],
)
def test_the_operator_and_the_clusters_controllers_keep_working_in_a_frozen_namespace(user: str) -> None:
    req = request("UPDATE", "ConfigMap", "settings", user=user)
    mine = obj("ConfigMap", "settings")
    assert denials(FROZEN_POLICY, req, mine, mine, namespace=SUSPENDED_NS) == []


@pytest.mark.parametrize(
    "user", ["system:serviceaccount:t-acme:backdoor", "system:serviceaccount:kube-systemx:a", "system:nodes", OWNER]
)
def test_nobody_else_writes_in_a_frozen_namespace(user: str) -> None:
    req = request("CREATE", "ConfigMap", "settings", user=user)
    assert denials(FROZEN_POLICY, req, obj("ConfigMap", "settings"), namespace=SUSPENDED_NS)


def test_frozen_namespaces_keep_the_service_and_ingress_policies() -> None:
    for name in (FROZEN_POLICY, SERVICES_POLICY, INGRESS_POLICY):
        assert selected(name, obj("Service", "web"), None, ORPHANED_NS), name
    for binding in bindings(FROZEN_POLICY):
        assert binding["spec"]["paramRef"]["parameterNotFoundAction"] == "Deny"


# -- (e) PersistentVolumeClaims ----------------------------------------------------------------------
def claim(volume: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if volume is not None:
        spec["volumeName"] = volume
    return obj("PersistentVolumeClaim", "data", None, spec=spec)


def test_a_claim_names_no_persistent_volume() -> None:
    create = request("CREATE", "PersistentVolumeClaim", "data")
    assert denials(VOLUMES_POLICY, create, claim()) == []
    assert denials(VOLUMES_POLICY, create, claim("")) == []
    (message,) = denials(VOLUMES_POLICY, create, claim("pvc-of-bakery"))
    assert "spec.volumeName is not allowed" in message and "pvc-of-bakery" in message
    update = request("UPDATE", "PersistentVolumeClaim", "data")
    assert denials(VOLUMES_POLICY, update, claim("pvc-of-bakery"), claim())
    assert denials(VOLUMES_POLICY, update, claim("pvc-of-bakery"), claim("pvc-mine"))
    assert denials(VOLUMES_POLICY, update, claim("pvc-mine"), claim("pvc-mine")) == [], "a bound claim changes"
    assert selected(VOLUMES_POLICY, claim(), None, TENANT_NS)


@pytest.mark.parametrize(
    "user", ["system:serviceaccount:kube-system:persistent-volume-binder", "system:kube-controller-manager"]
)
def test_the_volume_binder_binds_claims(user: str) -> None:
    update = request("UPDATE", "PersistentVolumeClaim", "data", user=user)
    assert denials(VOLUMES_POLICY, update, claim("pvc-1234"), claim()) == []


# -- (f) RoleBindings --------------------------------------------------------------------------------
def role_binding(*subjects: dict[str, str]) -> dict[str, Any]:
    return obj(
        "RoleBinding",
        "mine",
        None,
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "landlord-tenant-owner"},
        subjects=list(subjects),
    )


RBAC = "rbac.authorization.k8s.io"


@pytest.mark.parametrize(
    "subject",
    [
        {"kind": "Group", "apiGroup": RBAC, "name": "system:authenticated"},
        {"kind": "Group", "apiGroup": RBAC, "name": "system:unauthenticated"},
        {"kind": "Group", "apiGroup": RBAC, "name": "system:serviceaccounts"},
        {"kind": "Group", "apiGroup": RBAC, "name": "system:serviceaccounts:t-bakery"},
        {"kind": "User", "apiGroup": RBAC, "name": "system:anonymous"},
        {"kind": "User", "apiGroup": RBAC, "name": "system:serviceaccount:t-bakery:default"},
        {"kind": "ServiceAccount", "name": "default", "namespace": "t-bakery"},
    ],
)
def test_a_role_binding_names_no_class_of_clients_and_no_foreign_service_account(subject: dict[str, str]) -> None:
    req = request("CREATE", "RoleBinding", "mine")
    (message,) = denials(ROLEBINDINGS_POLICY, req, role_binding({"kind": "User", "name": "bob"}, subject))
    assert message.startswith(f"a RoleBinding in a tenant namespace may not name {subject['kind']} ")
    assert subject["name"] in message
    operator = request("CREATE", "RoleBinding", "mine", user=OPERATOR)
    assert denials(ROLEBINDINGS_POLICY, operator, role_binding(subject)) == []


@pytest.mark.parametrize(
    "subject",
    [
        {"kind": "User", "apiGroup": RBAC, "name": "bob@acme.example"},
        {"kind": "Group", "apiGroup": RBAC, "name": "acme-developers"},
        {"kind": "Group", "apiGroup": RBAC, "name": "system:serviceaccounts:t-acme"},
        {"kind": "ServiceAccount", "name": "deployer", "namespace": "t-acme"},
        {"kind": "ServiceAccount", "name": "deployer"},
        {"kind": "User", "apiGroup": RBAC, "name": "system:serviceaccount:t-acme:deployer"},
    ],
)
def test_a_role_binding_names_people_and_the_namespaces_own_service_accounts(subject: dict[str, str]) -> None:
    assert denials(ROLEBINDINGS_POLICY, request("CREATE", "RoleBinding", "mine"), role_binding(subject)) == []
    assert selected(ROLEBINDINGS_POLICY, role_binding(subject), None, TENANT_NS)
