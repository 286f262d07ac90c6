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

from landlord.config import parse
from landlord.pipeline import StaticCatalogue, desire
from landlord.render.cluster import (
    ADMISSION_PARAMS,
    INGRESS_POLICY,
    MANAGED_POLICY,
    OPERATOR_NAMESPACE,
    SERVICES_POLICY,
    admission_params,
    admission_policies,
)
from landlord.render.namespace import INGRESS_HOSTS_ANNOTATION
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
    group, _, version = {"NetworkPolicy": "networking.k8s.io/v1", "Ingress": "networking.k8s.io/v1"}.get(
        kind, "/v1"
    ).rpartition("/")
    return {
        "operation": operation,
        "kind": {"group": group, "version": version, "kind": kind},
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


def selected(name: str, obj: dict[str, Any] | None, old: dict[str, Any] | None, namespace: dict[str, Any]) -> bool:
    """Whether a binding of policy `name` selects the request (object or oldObject, in `namespace`)."""
    labels = [((o or {}).get("metadata") or {}).get("labels") or {} for o in (obj, old) if o is not None]
    for binding in bindings(name):
        match = binding["spec"]["matchResources"]
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
POLICY_NP = obj("NetworkPolicy", "landlord-default-deny", LANDLORD_LABELS, spec={"podSelector": {}})


def test_the_owner_cannot_delete_or_change_a_managed_object() -> None:
    deleted = denials(MANAGED_POLICY, request("DELETE", "NetworkPolicy", "landlord-default-deny"), None, POLICY_NP)
    assert deleted == [
        "NetworkPolicy t-acme/landlord-default-deny is managed by Landlord (labels "
        "app.kubernetes.io/managed-by=landlord, landlord.dev/tenant): only the operator may create, change or "
        "delete it, or set those labels; change the Tenant or its Plan instead"
    ]
    quota = obj("ResourceQuota", "landlord-quota", LANDLORD_LABELS, spec={"hard": {"pods": "10"}})
    raised = obj("ResourceQuota", "landlord-quota", LANDLORD_LABELS, spec={"hard": {"pods": "1000"}})
    assert denials(MANAGED_POLICY, request("UPDATE", "ResourceQuota", "landlord-quota"), raised, quota)
    config_map = obj("ConfigMap", "landlord-entitlements", LANDLORD_LABELS, data={"plan": "pro"})
    assert denials(MANAGED_POLICY, request("UPDATE", "ConfigMap", "landlord-entitlements"), config_map, config_map)


def test_removing_the_labels_does_not_free_the_object() -> None:
    unlabelled = obj("NetworkPolicy", "landlord-default-deny", {}, spec={"podSelector": {}})
    req = request("UPDATE", "NetworkPolicy", "landlord-default-deny")
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
        req = request("DELETE", "NetworkPolicy", "landlord-default-deny", user=user, groups=groups)
        assert denials(MANAGED_POLICY, req, None, POLICY_NP) == [], user
    for controller in [
        "system:serviceaccount:kube-system:namespace-controller",
        "system:serviceaccount:kube-system:generic-garbage-collector",
    ]:
        req = request("DELETE", "NetworkPolicy", "landlord-default-deny", user=controller)
        assert denials(MANAGED_POLICY, req, None, POLICY_NP) == []
    going = {**TENANT_NS, "metadata": {**TENANT_NS["metadata"], "deletionTimestamp": "2026-03-01T00:00:00Z"}}
    delete = request("DELETE", "NetworkPolicy", "landlord-default-deny")
    assert denials(MANAGED_POLICY, delete, None, POLICY_NP, namespace=going) == []
    update = request("UPDATE", "NetworkPolicy", "landlord-default-deny")
    assert denials(MANAGED_POLICY, update, POLICY_NP, POLICY_NP, namespace=going), "only deletions, while it goes"


def test_without_parameters_nobody_is_the_operator() -> None:
    empty = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ADMISSION_PARAMS}}
    req = request("DELETE", "NetworkPolicy", "landlord-default-deny", user=OPERATOR)
    assert denials(MANAGED_POLICY, req, None, POLICY_NP, params=empty)
    assert denials(MANAGED_POLICY, req, None, POLICY_NP, params=admission_params(["", " "]))


def test_the_tenant_namespace_itself_is_protected() -> None:
    relabelled = {**TENANT_NS, "metadata": {**TENANT_NS["metadata"], "annotations": {}}}
    req = request("UPDATE", "Namespace", "t-acme", namespace="")
    messages = denials(MANAGED_POLICY, req, relabelled, TENANT_NS, namespace=None)
    assert messages and messages[0].startswith("Namespace t-acme is managed by Landlord")
    assert selected(MANAGED_POLICY, relabelled, TENANT_NS, TENANT_NS), "a Namespace is selected by its own labels"


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


def test_the_service_policy_binds_to_tenant_namespaces_only() -> None:
    (binding,) = bindings(SERVICES_POLICY)
    assert selected(SERVICES_POLICY, service(), None, TENANT_NS)
    assert not selected(SERVICES_POLICY, service(), None, {"metadata": {"name": "default", "labels": {}}})
    assert binding["spec"]["validationActions"] == ["Deny"]


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
    "annotation", ["nginx.ingress.kubernetes.io/server-alias", "nginx.ingress.kubernetes.io/configuration-snippet"]
)
def test_ingress_nginx_annotations_that_reach_beyond_the_tenant_are_refused(annotation: str) -> None:
    ingress = ingress_for("acme.apps.example.com")
    ingress["metadata"]["annotations"] = {annotation: "bakery.apps.example.com"}
    assert denials(INGRESS_POLICY, request("CREATE", "Ingress", "web"), ingress)
    ingress["metadata"]["annotations"] = {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}
    assert denials(INGRESS_POLICY, request("CREATE", "Ingress", "web"), ingress) == []


def test_a_namespace_without_granted_hosts_routes_nothing() -> None:
    bare = {"metadata": {"name": "t-acme", "labels": {"landlord.dev/tenant": "acme"}}}
    messages = denials(
        INGRESS_POLICY, request("CREATE", "Ingress", "web"), ingress_for("acme.apps.example.com"), namespace=bare
    )
    assert messages == [
        "host acme.apps.example.com is not granted to this tenant; hosts granted: none "
        "(its subdomain and its verified custom domains)"
    ]
