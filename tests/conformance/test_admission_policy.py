"""ValidatingAdmissionPolicy: the policy objects and their enforcement on writes.

https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/ (the
sections are named in each test), and the admissionregistration.k8s.io/v1 API reference:
https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/validating-admission-policy-v1/
https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/validating-admission-policy-binding-v1/
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from landlord.devcluster import DevCluster
from landlord.devcluster.identity import ADMIN, MASTERS
from tests.conformance.test_kubectl import Kubectl, manifest
from tests.helpers import Http

GROUP_PATH = "/apis/admissionregistration.k8s.io/v1"
POLICIES = f"{GROUP_PATH}/validatingadmissionpolicies"
BINDINGS = f"{GROUP_PATH}/validatingadmissionpolicybindings"
CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def rule(
    resources: tuple[str, ...] = ("configmaps",),
    operations: tuple[str, ...] = ("CREATE", "UPDATE"),
    groups: tuple[str, ...] = ("",),
    versions: tuple[str, ...] = ("v1",),
    **extra: Any,
) -> dict[str, Any]:
    return {
        "apiGroups": list(groups),
        "apiVersions": list(versions),
        "operations": list(operations),
        "resources": list(resources),
        **extra,
    }


def policy(
    name: str, *validations: str | dict[str, Any], rules: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    match = spec.pop("match", {})
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "matchConstraints": {"resourceRules": rules or [rule()], **match},
            "validations": [{"expression": v} if isinstance(v, str) else v for v in validations],
            **spec,
        },
    }


def binding(name: str, policy_name: str, *actions: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": policy_name, "validationActions": list(actions or ("Deny",)), **spec},
    }


async def install(http: Http, *objects: dict[str, Any]) -> None:
    for obj in objects:
        path = POLICIES if obj["kind"] == "ValidatingAdmissionPolicy" else BINDINGS
        status, body = await http.post(path, obj)
        assert status == 201, body


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"metadata": meta, "data": data}


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }


def denial(policy_name: str, binding_name: str, message: str) -> str:
    return f"ValidatingAdmissionPolicy '{policy_name}' with binding '{binding_name}' denied request: {message}"


async def namespace(http: Http, name: str, **labels: str) -> None:
    status, body = await http.post("/api/v1/namespaces", {"metadata": {"name": name, "labels": labels}})
    assert status == 201, body


# -- the API objects ---------------------------------------------------------------------------
async def test_both_kinds_are_served_cluster_scoped(http: Http) -> None:
    """API reference: both kinds in admissionregistration.k8s.io/v1, cluster-scoped; the policy has /status."""
    status, listing = await http.get(GROUP_PATH)
    assert status == 200
    resources = {r["name"]: r for r in listing["resources"]}
    assert resources["validatingadmissionpolicies"]["kind"] == "ValidatingAdmissionPolicy"
    assert resources["validatingadmissionpolicies"]["namespaced"] is False
    assert resources["validatingadmissionpolicybindings"]["namespaced"] is False
    assert "validatingadmissionpolicies/status" in resources
    assert "validatingadmissionpolicybindings/status" not in resources
    await install(http, policy("p", "true"), binding("b", "p"))
    status, stored = await http.get(f"{POLICIES}/p")
    assert status == 200 and stored["metadata"]["generation"] == 1
    status, body = await http.get(f"{BINDINGS}/b")
    assert status == 200 and body["spec"]["policyName"] == "p"
    status, _ = await http.get("/apis/admissionregistration.k8s.io/v1/namespaces/default/validatingadmissionpolicies")
    assert status == 404


async def test_defaults(http: Http) -> None:
    """API reference: failurePolicy defaults to Fail; matchPolicy to Equivalent; selectors to {}; scope to "*"."""
    await install(http, policy("p", "true"), binding("b", "p", matchResources={"resourceRules": [rule()]}))
    _, stored = await http.get(f"{POLICIES}/p")
    spec = stored["spec"]
    assert spec["failurePolicy"] == "Fail"
    match = spec["matchConstraints"]
    assert (match["matchPolicy"], match["namespaceSelector"], match["objectSelector"]) == ("Equivalent", {}, {})
    assert match["resourceRules"][0]["scope"] == "*"
    _, stored = await http.get(f"{BINDINGS}/b")
    assert stored["spec"]["matchResources"]["matchPolicy"] == "Equivalent"


async def test_expressions_that_do_not_compile_are_refused(http: Http) -> None:
    """Type checking: "the validation process parses the expressions it contains and reports any syntax
    errors, rejecting the definition if any errors are found"; undeclared variables are compile errors."""
    status, body = await http.post(POLICIES, policy("bad", "object.spec.replicas <="))
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith(
        'ValidatingAdmissionPolicy.admissionregistration.k8s.io "bad" is invalid: spec.validations[0].expression: '
        'Invalid value: "object.spec.replicas <=": compilation failed: ERROR: <input>:1:24: Syntax error:'
    )
    cause = body["details"]["causes"][0]
    assert cause["field"] == "spec.validations[0].expression"
    status, body = await http.post(POLICIES, policy("bad", "objct.spec.replicas > 1"))
    assert status == 422
    assert "undeclared reference to 'objct'" in body["message"]
    for field, spec in (
        (
            "spec.validations[0].messageExpression",
            {"validations": [{"expression": "true", "messageExpression": "'a' +"}]},
        ),
        ("spec.matchConditions[0].expression", {"matchConditions": [{"name": "m", "expression": "(("}]}),
        ("spec.variables[0].expression", {"variables": [{"name": "v", "expression": "nope.x"}]}),
        ("spec.auditAnnotations[0].valueExpression", {"auditAnnotations": [{"key": "k", "valueExpression": "1 +"}]}),
    ):
        body_policy = policy("bad", "true")
        body_policy["spec"].update(spec)
        status, body = await http.post(POLICIES, body_policy)
        assert status == 422, body
        assert [c["field"] for c in body["details"]["causes"]] == [field]
    # Bound variables of macros and comprehensions compile.
    await install(http, policy("ok", "object.data.all(k, k.size() < 10) && [1].exists(x, x == 1)"))


async def test_policy_and_binding_field_checks(http: Http) -> None:
    """API reference: matchConstraints.resourceRules required, validations or auditAnnotations required;
    Validation actions: "Deny and Warn may not be used together"; paramRef.parameterNotFoundAction required."""
    body_policy = policy("p", "true")
    body_policy["spec"]["matchConstraints"] = {}
    body_policy["spec"]["validations"] = []
    status, body = await http.post(POLICIES, body_policy)
    assert status == 422
    assert sorted(c["field"] for c in body["details"]["causes"]) == [
        "spec.matchConstraints.resourceRules",
        "spec.validations",
    ]
    status, body = await http.post(BINDINGS, binding("b", "p", "Deny", "Warn"))
    assert status == 422 and "must not contain both Deny and Warn" in body["message"]
    status, body = await http.post(BINDINGS, binding("b", "p", paramRef={"name": "x"}))
    assert status == 422
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.paramRef.parameterNotFoundAction"]
    status, body = await http.post(BINDINGS, binding("b", ""))
    assert status == 422 and [c["field"] for c in body["details"]["causes"]] == ["spec.policyName"]


async def test_type_checking_status(http: Http) -> None:
    """Type checking: status.typeChecking.expressionWarnings names the fields a matched type lacks."""
    deployments = rule(("deployments",), groups=("apps",))
    await install(http, policy("typed", "object.replicas > 1", "object.spec.replicas > 1", rules=[deployments]))
    _, stored = await http.get(f"{POLICIES}/typed")
    assert stored["status"]["observedGeneration"] == 1
    assert stored["status"]["typeChecking"]["expressionWarnings"] == [
        {
            "fieldRef": "spec.validations[0].expression",
            "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:7: undefined field 'replicas'\n"
            " | object.replicas > 1\n"
            " | ......^",
        }
    ]
    _, stored = await http.patch(
        f"{POLICIES}/typed", {"spec": {"validations": [{"expression": "object.spec.replicas > 1"}]}}
    )
    assert stored["metadata"]["generation"] == 2
    assert stored["status"] == {"observedGeneration": 2, "typeChecking": {}}


# -- a policy acts only through a binding ------------------------------------------------------
async def test_policy_without_binding_does_nothing(http: Http) -> None:
    """What Resources Make a Policy: "At least a ValidatingAdmissionPolicy and a corresponding
    ValidatingAdmissionPolicyBinding must be defined for a policy to have an effect"."""
    await install(http, policy("no-x", "!has(object.data.x)"))
    assert (await http.post(CMS, cm("a", x="1")))[0] == 201
    await install(http, binding("to-nothing", "missing-policy"))
    assert (await http.post(CMS, cm("b", x="1")))[0] == 201
    await install(http, binding("no-x-binding", "no-x"))
    assert (await http.post(CMS, cm("c", x="1")))[0] == 422
    assert (await http.delete(f"{BINDINGS}/no-x-binding"))[0] == 200
    assert (await http.post(CMS, cm("c", x="1")))[0] == 201


async def test_denial_status_and_message(http: Http) -> None:
    """Creating a ValidatingAdmissionPolicy: the denial reads "ValidatingAdmissionPolicy 'P' with binding 'B'
    denied request: failed expression: EXPR"; Validation expression (reason): StatusReasonInvalid by default."""
    deployments = rule(("deployments",), groups=("apps",))
    await install(
        http,
        policy("demo-policy.example.com", "object.spec.replicas <= 5", rules=[deployments]),
        binding("demo-binding-test.example.com", "demo-policy.example.com"),
    )
    status, body = await http.post(DEPLOYMENTS, deployment("web", 6))
    text = denial(
        "demo-policy.example.com", "demo-binding-test.example.com", "failed expression: object.spec.replicas <= 5"
    )
    assert status == 422
    assert body["reason"] == "Invalid" and body["code"] == 422
    assert body["message"] == f'deployments.apps "web" is forbidden: {text}'
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments", "causes": [{"message": text}]}
    assert (await http.get(f"{DEPLOYMENTS}/web"))[0] == 404
    assert (await http.post(DEPLOYMENTS, deployment("web", 5)))[0] == 201
    status, body = await http.patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 9}})
    assert status == 422 and body["message"].endswith("failed expression: object.spec.replicas <= 5")
    status, body = await http.patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 9}}, kind="strategic")
    assert status == 422
    status, body = await http.put(f"{DEPLOYMENTS}/web", deployment("web", 9))
    assert status == 422
    _, stored = await http.get(f"{DEPLOYMENTS}/web")
    assert stored["spec"]["replicas"] == 5


async def test_message_message_expression_and_reason(http: Http) -> None:
    """Message expression: wins over message; a failing or multi-line one falls back to message.
    Validation expression: reason Forbidden answers 403 Forbidden."""
    await install(
        http,
        policy(
            "words",
            {
                "expression": "object.data.a == 'ok'",
                "messageExpression": "'a is ' + object.data.a",
                "message": "static",
            },
            {"expression": "object.data.b == 'ok'", "messageExpression": "object.data.nothing", "message": "b static"},
            {"expression": "object.data.c == 'ok'", "messageExpression": "'two\\nlines'", "message": "c static"},
            {"expression": "object.data.d == 'ok'", "message": "d is not ok", "reason": "Forbidden"},
        ),
        binding("words-b", "words"),
    )
    status, body = await http.post(CMS, cm("x", a="bad", b="ok", c="ok", d="ok"))
    assert (status, body["reason"]) == (422, "Invalid") and body["message"].endswith("denied request: a is bad")
    status, body = await http.post(CMS, cm("x", a="ok", b="bad", c="ok", d="ok"))
    assert status == 422 and body["message"].endswith("denied request: b static")
    status, body = await http.post(CMS, cm("x", a="ok", b="ok", c="bad", d="ok"))
    assert status == 422 and body["message"].endswith("denied request: c static")
    status, body = await http.post(CMS, cm("x", a="ok", b="ok", c="ok", d="bad"))
    assert (status, body["reason"], body["code"]) == (403, "Forbidden", 403)
    assert body["message"] == 'configmaps "x" is forbidden: ' + denial("words", "words-b", "d is not ok")
    assert (await http.post(CMS, cm("x", a="ok", b="ok", c="ok", d="ok")))[0] == 201


# -- the CEL variables ---------------------------------------------------------------------------
async def test_request_variables_and_user_info(http: Http) -> None:
    """Validation expression: `request` holds the admission request's attributes; admission applies to
    every user, system:masters included."""
    checks = [
        "oldObject == null",
        "request.operation == 'CREATE'",
        "request.kind.group == '' && request.kind.version == 'v1' && request.kind.kind == 'ConfigMap'",
        "request.resource.resource == 'configmaps' && request.subResource == ''",
        "request.requestKind.kind == 'ConfigMap' && request.requestResource.resource == 'configmaps'",
        "request.namespace == 'default' && request.name == object.metadata.name",
        "request.dryRun == false && request.options.kind == 'CreateOptions'",
        f"request.userInfo.username == '{ADMIN.username}'",
        f"'{MASTERS}' in request.userInfo.groups",
    ]
    await install(http, policy("req", *checks, rules=[rule(operations=("CREATE",))]), binding("req-b", "req"))
    assert (await http.post(CMS, cm("fine")))[0] == 201
    await install(
        http,
        policy("no-masters", f"!('{MASTERS}' in request.userInfo.groups)", rules=[rule(operations=("CREATE",))]),
        binding("no-masters-b", "no-masters"),
    )
    status, body = await http.post(CMS, cm("refused"))
    assert status == 422 and "no-masters" in body["message"]


async def test_update_sees_old_object(http: Http) -> None:
    """Validation expression: `oldObject` is the existing object on UPDATE."""
    await install(
        http,
        policy(
            "grow-only",
            "int(object.data.v) >= int(oldObject.data.v) && request.operation == 'UPDATE'",
            rules=[rule(operations=("UPDATE",))],
        ),
        binding("grow-only-b", "grow-only"),
    )
    assert (await http.post(CMS, cm("c", v="5")))[0] == 201
    assert (await http.patch(f"{CMS}/c", {"data": {"v": "6"}}))[0] == 200
    status, body = await http.patch(f"{CMS}/c", {"data": {"v": "1"}})
    assert status == 422 and "grow-only" in body["message"]


async def test_delete_sees_old_object_and_null_object(http: Http) -> None:
    """Validation expression: "'object' ... The value is null for DELETE requests"; DELETE is an operation."""
    guarded = "object == null && !(has(oldObject.metadata.labels) && 'protected' in oldObject.metadata.labels)"
    await install(
        http,
        policy("keep", guarded + " && request.options.kind == 'DeleteOptions'", rules=[rule(operations=("DELETE",))]),
        binding("keep-b", "keep"),
    )
    await http.post(CMS, cm("safe", {"protected": "yes"}))
    await http.post(CMS, cm("free"))
    status, body = await http.delete(f"{CMS}/safe")
    assert status == 422
    assert body["message"].startswith(
        'configmaps "safe" is forbidden: ' + denial("keep", "keep-b", "failed expression: object == null && !(")
    )
    assert (await http.get(f"{CMS}/safe"))[0] == 200
    assert (await http.delete(f"{CMS}/free"))[0] == 200
    assert (await http.delete(CMS))[0] == 422  # a collection delete is admitted object by object


async def test_namespace_object(http: Http) -> None:
    """Validation expression: `namespaceObject` is the object's Namespace; null for cluster-scoped objects."""
    await namespace(http, "prod", environment="prod")
    await install(
        http,
        policy(
            "env",
            "namespaceObject.metadata.labels['environment'] == object.data.env",
            rules=[rule(operations=("CREATE",))],
        ),
        policy("ns-null", "namespaceObject == null", rules=[rule(("namespaces",), operations=("CREATE",))]),
        binding("env-b", "env"),
        binding("ns-null-b", "ns-null"),
    )
    assert (await http.post("/api/v1/namespaces/prod/configmaps", cm("c", env="prod")))[0] == 201
    status, _ = await http.post("/api/v1/namespaces/prod/configmaps", cm("d", env="dev"))
    assert status == 422
    await namespace(http, "another")


async def test_variables_are_composed_lazily(http: Http) -> None:
    """Variable composition: `variables.NAME`, in order, evaluated when first read; an error is reported
    by the expressions that read the variable."""
    await install(
        http,
        policy(
            "team",
            "variables.ok",
            variables=[
                {"name": "team", "expression": "object.metadata.labels['team']"},
                {"name": "ok", "expression": "variables.team.startsWith('a')"},
                {"name": "unused", "expression": "object.data.nothing"},
            ],
        ),
        binding("team-b", "team"),
    )
    assert (await http.post(CMS, cm("a", {"team": "alpha"})))[0] == 201
    status, body = await http.post(CMS, cm("b", {"team": "beta"}))
    assert status == 422 and body["message"].endswith("failed expression: variables.ok")
    status, body = await http.post(CMS, cm("c"))
    assert status == 422
    assert (
        "expression 'variables.ok' resulted in error: composited variable \"ok\" fails to evaluate" in body["message"]
    )
    assert 'composited variable "team" fails to evaluate: no such key: labels' in body["message"]


# -- matching ----------------------------------------------------------------------------------------
async def test_resource_rules(http: Http) -> None:
    """API reference (matchConstraints): operations, resourceNames and excludeResourceRules."""
    await install(
        http,
        policy(
            "rules",
            "object.data.v == 'ok'",
            rules=[rule(operations=("UPDATE",)), rule(operations=("CREATE",), resourceNames=["named"])],
            match={"excludeResourceRules": [rule(operations=("*",), resourceNames=["exempt"])]},
        ),
        binding("rules-b", "rules"),
    )
    assert (await http.post(CMS, cm("other", v="bad")))[0] == 201  # CREATE only for "named"
    assert (await http.post(CMS, cm("named", v="bad")))[0] == 422
    assert (await http.patch(f"{CMS}/other", {"data": {"v": "worse"}}))[0] == 422
    assert (await http.post(CMS, cm("exempt", v="bad")))[0] == 201
    assert (await http.patch(f"{CMS}/exempt", {"data": {"v": "worse"}}))[0] == 200
    assert (await http.post("/api/v1/namespaces/default/secrets", {"metadata": {"name": "named"}}))[0] == 201


async def test_rule_scope(http: Http) -> None:
    """API reference (scope): Namespaced matches namespaced objects only; Cluster matches cluster-scoped
    ones, Namespace objects included."""
    await install(
        http,
        policy("names", "object.metadata.name.startsWith('ok-')", rules=[rule(("*",), scope="Namespaced")]),
        binding("names-b", "names"),
    )
    assert (await http.post(CMS, cm("bad")))[0] == 422
    await namespace(http, "bad-ns")
    await install(
        http,
        policy("cluster-names", "object.metadata.name.startsWith('ok-')", rules=[rule(("*",), scope="Cluster")]),
        binding("cluster-names-b", "cluster-names"),
    )
    assert (await http.post("/api/v1/namespaces", {"metadata": {"name": "worse-ns"}}))[0] == 422
    assert (await http.post("/api/v1/namespaces", {"metadata": {"name": "ok-ns"}}))[0] == 201


async def test_namespace_and_object_selectors(http: Http) -> None:
    """API reference (namespaceSelector, objectSelector): matchLabels and matchExpressions."""
    await namespace(http, "test", environment="test")
    await install(
        http,
        policy(
            "in-test", "object.data.v == 'ok'", match={"namespaceSelector": {"matchLabels": {"environment": "test"}}}
        ),
        binding("in-test-b", "in-test"),
        policy(
            "guarded",
            "object.data.v == 'ok'",
            match={"objectSelector": {"matchExpressions": [{"key": "guard", "operator": "Exists"}]}},
        ),
        binding("guarded-b", "guarded"),
    )
    assert (await http.post(CMS, cm("a", v="bad")))[0] == 201
    assert (await http.post("/api/v1/namespaces/test/configmaps", cm("a", v="bad")))[0] == 422
    assert (await http.post(CMS, cm("g", {"guard": "x"}, v="bad")))[0] == 422
    # An update that removes the label is still matched: the old object has it.
    await http.post(CMS, cm("h", {"guard": "x"}, v="ok"))
    assert (await http.put(f"{CMS}/h", cm("h", v="bad")))[0] == 422


async def test_binding_match_resources_narrow_the_policy(http: Http) -> None:
    """ValidatingAdmissionPolicyBinding matchResources: intersected with the policy's matchConstraints."""
    await namespace(http, "test", environment="test")
    await install(
        http,
        policy("any-cm", "object.data.v == 'ok'"),
        binding("only-test", "any-cm", matchResources={"namespaceSelector": {"matchLabels": {"environment": "test"}}}),
        binding("only-updates", "any-cm", matchResources={"resourceRules": [rule(operations=("UPDATE",))]}),
    )
    assert (await http.post(CMS, cm("a", v="bad")))[0] == 201
    status, body = await http.post("/api/v1/namespaces/test/configmaps", cm("a", v="bad"))
    assert status == 422 and "with binding 'only-test'" in body["message"]
    status, body = await http.patch(f"{CMS}/a", {"data": {"v": "worse"}})
    assert status == 422 and "with binding 'only-updates'" in body["message"]


async def test_match_conditions(http: Http) -> None:
    """Matching requests: matchConditions: all must be true; any false skips the policy whatever the
    errors; otherwise an error rejects under failurePolicy Fail and is skipped under Ignore."""
    conditions = [
        {"name": "not-skipped", "expression": "!has(object.data.skip)"},
        {"name": "breaks", "expression": "object.data.probe != ''"},
    ]
    await install(
        http,
        policy("cond", "object.data.v == 'ok'", matchConditions=conditions),
        binding("cond-b", "cond"),
    )
    assert (await http.post(CMS, cm("skipped", v="bad", skip="1")))[0] == 201  # false wins over the error
    status, body = await http.post(CMS, cm("errs", v="ok"))
    assert status == 422
    assert body["message"].endswith(
        "denied request: expression 'object.data.probe != ''' resulted in error: no such key: probe"
    )
    assert (await http.post(CMS, cm("checked", v="bad", probe="y")))[0] == 422
    assert (await http.post(CMS, cm("passes", v="ok", probe="y")))[0] == 201
    await http.patch(f"{POLICIES}/cond", {"spec": {"failurePolicy": "Ignore"}})
    assert (await http.post(CMS, cm("errs", v="bad")))[0] == 201


async def test_equivalent_match_policy(http: Http) -> None:
    """API reference (matchPolicy): Equivalent matches a request through another version of the same
    resource, converted to the version the rule names (request.kind), requestKind the original."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.dev"},
        "spec": {
            "group": "example.dev",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": version == "v1",
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
                for version in ("v1", "v2")
            ],
        },
    }
    assert (await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd))[0] == 201
    check = {
        "expression": "object.spec.size <= 3",
        "messageExpression": "request.kind.version + ' ' + request.requestKind.version + ' ' + object.apiVersion",
    }
    gadgets = rule(("gadgets",), groups=("example.dev",))
    await install(http, policy("small", check, rules=[gadgets]), binding("small-b", "small"))
    gadget = {"apiVersion": "example.dev/v2", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"size": 5}}
    status, body = await http.post("/apis/example.dev/v2/namespaces/default/gadgets", gadget)
    assert status == 422 and body["message"].endswith("denied request: v1 v2 example.dev/v1")
    await http.patch(f"{POLICIES}/small", {"spec": {"matchConstraints": {"matchPolicy": "Exact"}}})
    assert (await http.post("/apis/example.dev/v2/namespaces/default/gadgets", gadget))[0] == 201


async def test_subresource_rules(http: Http) -> None:
    """API reference (resources): 'deployments/scale' names the scale subresource, whose object is the
    autoscaling/v1 Scale; a rule for 'deployments' does not match subresource writes."""
    await install(
        http,
        policy(
            "whole",
            "object.spec.replicas <= 5",
            rules=[rule(("deployments",), groups=("apps",), operations=("UPDATE",))],
        ),
        binding("whole-b", "whole"),
    )
    assert (await http.post(DEPLOYMENTS, deployment("web", 2)))[0] == 201
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 7}}
    assert (await http.put(f"{DEPLOYMENTS}/web/scale", scale))[0] == 200
    checks = (
        "object.kind == 'Scale' && oldObject.kind == 'Scale' && request.subResource == 'scale'",
        "request.kind.group == 'autoscaling' && request.resource.resource == 'deployments'",
        {"expression": "object.spec.replicas <= 8", "message": "at most 8"},
    )
    await install(
        http,
        policy("scale", *checks, rules=[rule(("deployments/scale",), groups=("apps",), operations=("UPDATE",))]),
        binding("scale-b", "scale"),
    )
    assert (await http.patch(f"{DEPLOYMENTS}/web/scale", {"spec": {"replicas": 8}}))[0] == 200
    status, body = await http.patch(f"{DEPLOYMENTS}/web/scale", {"spec": {"replicas": 9}})
    assert status == 422
    assert body["message"] == f'deployments.apps "web" is forbidden: {denial("scale", "scale-b", "at most 8")}'


# -- params ------------------------------------------------------------------------------------------
async def test_params_by_name(http: Http) -> None:
    """Parameter resources: paramKind + the binding's paramRef; `params` is the parameter object;
    parameterNotFoundAction Deny refuses while the parameter is missing."""
    deployments = rule(("deployments",), groups=("apps",))
    await install(
        http,
        policy(
            "replica-limit",
            {
                "expression": "object.spec.replicas <= int(params.data.maxReplicas)",
                "messageExpression": "'object.spec.replicas must be no greater than ' + params.data.maxReplicas",
            },
            rules=[deployments],
            paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
        ),
        binding(
            "replica-limit-b",
            "replica-limit",
            paramRef={"name": "limits", "namespace": "default", "parameterNotFoundAction": "Deny"},
        ),
    )
    status, body = await http.post(DEPLOYMENTS, deployment("web", 1))
    assert status == 422
    assert body["message"].endswith(
        denial(
            "replica-limit",
            "replica-limit-b",
            "failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction",
        )
    )
    await http.post(CMS, cm("limits", maxReplicas="3"))
    assert (await http.post(DEPLOYMENTS, deployment("web", 3)))[0] == 201
    status, body = await http.post(DEPLOYMENTS, deployment("big", 5))
    assert status == 422
    assert body["message"].endswith("denied request: object.spec.replicas must be no greater than 3")


async def test_per_namespace_params_and_selector(http: Http) -> None:
    """Per-namespace Parameters: without paramRef.namespace the request's namespace is searched.
    Parameter selector: every matching parameter is evaluated and the results ANDed; none found with
    parameterNotFoundAction Allow admits."""
    await namespace(http, "team")
    await install(
        http,
        policy(
            "limit",
            "int(object.metadata.annotations['size']) <= int(params.data.max)",
            rules=[rule(("secrets",), operations=("CREATE",))],
            paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
        ),
        binding(
            "limit-b",
            "limit",
            paramRef={"selector": {"matchLabels": {"limit": "yes"}}, "parameterNotFoundAction": "Allow"},
        ),
    )

    def secret(name: str, size: int) -> dict[str, Any]:
        return {"metadata": {"name": name, "annotations": {"size": str(size)}}}

    assert (await http.post("/api/v1/namespaces/team/secrets", secret("s0", 100)))[0] == 201  # none found: Allow
    await http.post("/api/v1/namespaces/team/configmaps", cm("five", {"limit": "yes"}, max="5"))
    await http.post("/api/v1/namespaces/team/configmaps", cm("three", {"limit": "yes"}, max="3"))
    await http.post(CMS, cm("ten", {"limit": "yes"}, max="10"))
    assert (await http.post("/api/v1/namespaces/team/secrets", secret("s1", 3)))[0] == 201
    assert (await http.post("/api/v1/namespaces/team/secrets", secret("s2", 4)))[0] == 422  # 5 allows, 3 does not
    assert (await http.post("/api/v1/namespaces/default/secrets", secret("s3", 8)))[0] == 201  # default's own


async def test_params_null_without_param_ref_and_unknown_param_kind(http: Http) -> None:
    """Parameter resources: `params` is null when the binding has no paramRef; a paramKind the server
    does not serve is a misconfiguration, enforced by failurePolicy."""
    await install(
        http,
        policy("no-ref", "params == null", paramKind={"apiVersion": "v1", "kind": "ConfigMap"}),
        binding("no-ref-b", "no-ref"),
    )
    assert (await http.post(CMS, cm("a")))[0] == 201
    await install(
        http,
        policy("unknown-kind", "true", paramKind={"apiVersion": "example.dev/v1", "kind": "Nothing"}),
        binding("unknown-kind-b", "unknown-kind", paramRef={"name": "x", "parameterNotFoundAction": "Allow"}),
    )
    status, body = await http.post(CMS, cm("b"))
    assert status == 422
    assert body["message"] == (
        "configmaps \"b\" is forbidden: ValidatingAdmissionPolicy 'unknown-kind' denied request: failed to "
        "configure policy: failed to find resource referenced by paramKind: 'example.dev/v1, Kind=Nothing'"
    )
    await http.patch(f"{POLICIES}/unknown-kind", {"spec": {"failurePolicy": "Ignore"}})
    assert (await http.post(CMS, cm("b")))[0] == 201


# -- failures and actions -------------------------------------------------------------------------
async def test_failure_policy(http: Http) -> None:
    """Failure Policy: an expression evaluating to an error rejects under Fail and is ignored under Ignore."""
    await install(http, policy("errs", "object.data.missing == 'x'"), binding("errs-b", "errs"))
    status, body = await http.post(CMS, cm("a"))
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"].endswith(
        denial("errs", "errs-b", "expression 'object.data.missing == 'x'' resulted in error: no such key: missing")
    )
    await http.patch(f"{POLICIES}/errs", {"spec": {"failurePolicy": "Ignore"}})
    assert (await http.post(CMS, cm("a")))[0] == 201


async def test_warn_action(http: Http) -> None:
    """Validation actions: Warn reports the failure as a warning (HTTP Warning header, code 299) and admits."""
    await install(
        http,
        policy("w", {"expression": "has(object.data.owner)", "message": "owner missing"}),
        binding("w-b", "w", "Warn"),
    )
    status, _ = await http.post(CMS, cm("a"))
    assert status == 201
    assert http.last_headers["Warning"] == (
        "299 - \"Validation failed for ValidatingAdmissionPolicy 'w' with binding 'w-b': owner missing\""
    )
    assert (await http.post(CMS, cm("b", owner="me")))[0] == 201 and "Warning" not in http.last_headers
    await install(
        http,
        policy("w-delete", "false", rules=[rule(operations=("DELETE",))]),
        binding("w-delete-b", "w-delete", "Warn"),
    )
    assert (await http.delete(f"{CMS}/a"))[0] == 200
    assert "Validation failed for ValidatingAdmissionPolicy 'w-delete'" in http.last_headers["Warning"]


async def test_audit_action_and_audit_annotations(http: Http, devcluster: DevCluster) -> None:
    """Validation actions: Audit puts the failure in the request's audit event
    (validation.policy.admission.k8s.io/validation_failure); Audit annotations: "POLICY/KEY" values."""
    await install(
        http,
        policy(
            "audited",
            "true",
            {"expression": "has(object.data.owner)", "message": "owner missing"},
            auditAnnotations=[
                {"key": "size", "valueExpression": "'data has ' + string(size(object.data)) + ' keys'"},
                {"key": "none", "valueExpression": "null"},
            ],
        ),
        binding("audited-b", "audited", "Audit"),
    )
    assert (await http.post(CMS, cm("a", x="1")))[0] == 201
    assert "Warning" not in http.last_headers
    record = devcluster.cluster.admission_audit[-1]
    assert (record.operation, record.resource, record.namespace, record.name) == (
        "CREATE",
        "configmaps",
        "default",
        "a",
    )
    assert record.annotations["audited/size"] == "data has 1 keys"
    assert "audited/none" not in record.annotations
    assert json.loads(record.annotations["validation.policy.admission.k8s.io/validation_failure"]) == [
        {
            "message": "owner missing",
            "policy": "audited",
            "binding": "audited-b",
            "expressionIndex": 1,
            "validationActions": ["Audit"],
        }
    ]


async def test_dry_run_requests_are_admitted(http: Http) -> None:
    """Admission runs for dry-run requests too (request.dryRun is true), and nothing is stored."""
    await install(
        http,
        policy("wet", "!request.dryRun || object.data.v == 'ok'", rules=[rule(operations=("*",))]),
        binding("wet-b", "wet"),
    )
    assert (await http.post(CMS, cm("a", v="bad"), dryRun="All"))[0] == 422
    assert (await http.post(CMS, cm("a", v="ok"), dryRun="All"))[0] == 201
    assert (await http.get(f"{CMS}/a"))[0] == 404
    assert (await http.post(CMS, cm("a", v="bad")))[0] == 201
    assert (await http.delete(f"{CMS}/a", dryRun="All"))[0] == 422  # object is null on DELETE: an error
    assert (await http.patch(f"{CMS}/a", {"data": {"x": "1"}}, dryRun="All"))[0] == 422


# -- kubectl ---------------------------------------------------------------------------------------
@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path)


@pytest.mark.kubectl
async def test_kubectl_apply_is_denied(kubectl: Kubectl) -> None:
    """Creating a ValidatingAdmissionPolicy (the documented example), then a Deployment with too many
    replicas: kubectl reports the denial."""
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "test", "labels": {"environment": "test"}}},
        policy(
            "demo-policy.example.com",
            "object.spec.replicas <= 5",
            rules=[rule(("deployments",), groups=("apps",))],
            failurePolicy="Fail",
        ),
        binding(
            "demo-binding-test.example.com",
            "demo-policy.example.com",
            matchResources={"namespaceSelector": {"matchLabels": {"environment": "test"}}},
        ),
    ]
    _, out, _ = await kubectl("apply", "-f", "-", stdin="---\n".join(manifest(o) for o in objects))
    assert "validatingadmissionpolicy.admissionregistration.k8s.io/demo-policy.example.com created" in out
    assert "validatingadmissionpolicybinding.admissionregistration.k8s.io/demo-binding-test.example.com created" in out
    text = denial(
        "demo-policy.example.com",
        "demo-binding-test.example.com",
        "failed expression: object.spec.replicas <= 5",
    )
    code, _, err = await kubectl("apply", "-n", "test", "-f", "-", stdin=manifest(deployment("nginx", 6)), ok=False)
    assert code == 1
    assert err == f'The deployments "nginx" is invalid: : {text}\n'  # kubectl's wording of a 422 with causes
    code, _, err = await kubectl("create", "deploy", "-n", "test", "nginx", "--image=nginx", "--replicas=6", ok=False)
    assert code == 1
    assert err == f'error: failed to create deployment: deployments.apps "nginx" is forbidden: {text}\n'
    _, out, _ = await kubectl("apply", "-n", "test", "-f", "-", stdin=manifest(deployment("nginx", 5)))
    assert "deployment.apps/nginx created" in out
    _, out, _ = await kubectl("get", "validatingadmissionpolicies", "-o", "name")
    assert out.strip() == "validatingadmissionpolicy.admissionregistration.k8s.io/demo-policy.example.com"
