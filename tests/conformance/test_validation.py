"""Validation of writes.

Custom resources: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/
(#validation, #defaulting, #field-pruning, #validation-rules for CEL with oldSelf).
Built-in objects: the official OpenAPI schemas (here from kubernetes-validate), and
https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation (Strict/Warn/Ignore).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conformance.test_objects import WIDGETS, install_widgets, widget
from tests.helpers import Http


@pytest.fixture(autouse=True)
async def widgets(http: Http) -> None:
    await install_widgets(http)


async def causes(http: Http, body: dict[str, Any], path: str = WIDGETS) -> list[tuple[str, str, str]]:
    status, answer = await http.post(path, body)
    assert status == 422, answer
    return sorted((c["field"], c["reason"], c["message"]) for c in answer["details"]["causes"])


async def test_types(http: Http) -> None:
    found = await causes(http, widget("w", size="big"))  # type: ignore[arg-type]
    assert found == [
        (
            "spec.size",
            "FieldValueInvalid",
            'Invalid value: "string": spec.size in body must be of type integer: "string"',
        )
    ]


async def test_required(http: Http) -> None:
    body = widget("w")
    del body["spec"]["size"]
    assert await causes(http, body) == [("spec.size", "FieldValueRequired", "Required value")]


async def test_enum_pattern_min_max(http: Http) -> None:
    found = await causes(http, widget("w", size=101, color="pink", code="ABCD"))
    assert [f[0] for f in found] == ["spec.code", "spec.color", "spec.size"]
    assert "should match '^[a-z]{3}$'" in found[0][2]
    assert found[1][1] == "FieldValueNotSupported" and 'supported values: "red", "green", "blue"' in found[1][2]
    assert "less than or equal to 100" in found[2][2]
    found = await causes(http, widget("w", size=0))
    assert "greater than or equal to 1" in found[0][2]


async def test_date_time_format(http: Http) -> None:
    found = await causes(http, widget("w", expires="next tuesday"))
    assert found[0][0] == "spec.expires" and "must be of type date-time" in found[0][2]
    status, _ = await http.post(WIDGETS, widget("ok", expires="2030-01-01T00:00:00Z"))
    assert status == 201


async def test_quantity_rule(http: Http) -> None:
    found = await causes(http, widget("w", memory="lots"))
    assert found == [
        ("spec.memory", "FieldValueInvalid", 'Invalid value: "string": memory must be a quantity such as 512Mi')
    ]
    status, _ = await http.post(WIDGETS, widget("ok", memory="1.5Gi"))
    assert status == 201


async def test_unknown_fields_are_pruned_with_a_warning(http: Http) -> None:
    status, obj = await http.post(WIDGETS, widget("w", bogus=1, extra={"anything": {"goes": True}}))
    assert status == 201
    assert "bogus" not in obj["spec"] and obj["spec"]["extra"] == {"anything": {"goes": True}}
    assert 'unknown field \\"spec.bogus\\"' in http.last_headers.get("Warning", "")


async def test_strict_field_validation_refuses_unknown_fields(http: Http) -> None:
    status, body = await http.post(WIDGETS, widget("w", bogus=1), fieldValidation="Strict")
    assert status == 400 and 'unknown field "spec.bogus"' in body["message"]
    status, _ = await http.post(WIDGETS, widget("w", bogus=1), fieldValidation="Ignore")
    assert status == 201 and "Warning" not in http.last_headers


async def test_defaults_and_nullable(http: Http) -> None:
    _, obj = await http.post(WIDGETS, widget("w", note=None, code=None))
    assert obj["spec"]["color"] == "green"
    assert obj["spec"]["note"] is None and "code" not in obj["spec"]


async def test_list_types(http: Http) -> None:
    found = await causes(http, widget("w", tags=["a", "a"], parts=[{"name": "p"}, {"name": "p"}]))
    assert [(f[0], f[1]) for f in found] == [
        ("spec.parts[1]", "FieldValueDuplicate"),
        ("spec.tags[1]", "FieldValueDuplicate"),
    ]


async def test_cel_rule(http: Http) -> None:
    found = await causes(http, widget("w", size=5, maxSize=3))
    assert found == [("spec", "FieldValueInvalid", 'Invalid value: "object": size must not exceed maxSize')]


async def test_cel_transition_rule_uses_old_self(http: Http) -> None:
    """Rules mentioning oldSelf run on update only; here they make spec.code immutable."""
    status, _ = await http.post(WIDGETS, widget("w", code="abc"))
    assert status == 201
    status, _ = await http.patch(f"{WIDGETS}/w", {"spec": {"size": 2}})
    assert status == 200
    status, body = await http.patch(f"{WIDGETS}/w", {"spec": {"code": "xyz"}})
    assert status == 422
    assert body["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "string": code is immutable', "field": "spec.code"}
    ]


async def test_failed_update_changes_nothing(http: Http) -> None:
    _, obj = await http.post(WIDGETS, widget("w", size=2))
    await http.patch(f"{WIDGETS}/w", {"spec": {"size": 1000}})
    _, again = await http.get(f"{WIDGETS}/w")
    assert again["spec"]["size"] == 2 and again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


async def test_builtin_objects_are_validated(http: Http) -> None:
    deployments = "/apis/apps/v1/namespaces/default/deployments"
    body = {"metadata": {"name": "d"}, "spec": {"replicas": "three", "selector": {}, "template": {}}}
    found = await causes(http, body, deployments)
    assert ("spec.replicas", "FieldValueInvalid") in [(f[0], f[1]) for f in found]
    body = {"metadata": {"name": "d"}, "spec": {"template": {}}}
    found = await causes(http, body, deployments)
    assert ("spec.selector", "FieldValueRequired", "Required value") in found
    secrets = "/api/v1/namespaces/default/secrets"
    found = await causes(http, {"metadata": {"name": "s"}, "data": {"k": "not base64!"}}, secrets)
    assert found[0][0] == "data[k]"
    quotas = "/api/v1/namespaces/default/resourcequotas"
    found = await causes(http, {"metadata": {"name": "q"}, "spec": {"hard": {"cpu": "four"}}}, quotas)
    assert found[0][0] == "spec.hard[cpu]" and "quantities must match" in found[0][2]


async def test_builtin_unknown_fields(http: Http) -> None:
    cms = "/api/v1/namespaces/default/configmaps"
    status, obj = await http.post(cms, {"metadata": {"name": "c"}, "dta": {"k": "v"}})
    assert status == 201 and "dta" not in obj
    assert 'unknown field \\"dta\\"' in http.last_headers.get("Warning", "")
    status, body = await http.post(cms, {"metadata": {"name": "d"}, "dta": {"k": "v"}}, fieldValidation="Strict")
    assert status == 400 and 'unknown field "dta"' in body["message"]


async def test_labels_are_validated(http: Http) -> None:
    found = await causes(
        http, {"metadata": {"name": "c", "labels": {"bad key!": "v"}}}, "/api/v1/namespaces/default/configmaps"
    )
    assert found[0][0] == "metadata.labels"


CNPG = Path(__file__).resolve().parents[1] / "fixtures" / "cnpg" / "postgresql.cnpg.io_clusters.yaml"


async def test_a_real_third_party_crd_cloudnative_pg_cluster(http: Http) -> None:
    """A CRD generated by controller-gen (CloudNativePG's Cluster, vendored) lists `metadata` among the
    root's `required` fields; the API server validates metadata itself ("metadata ... is validated by the
    API server", structural schema rules), so only `spec` is required of the body. Its CEL rules apply."""
    crd = yaml.safe_load(CNPG.read_text())
    status, _ = await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert status == 201
    await http.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "db"}})
    path = "/apis/postgresql.cnpg.io/v1/namespaces/db/clusters"

    def cluster(name: str, **spec: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": name}}
        if spec:
            body["spec"] = spec
        return body

    status, created = await http.post(path, cluster("ok", instances=1, storage={"size": "1Gi"}))
    assert status == 201, created
    status, refused = await http.post(path, cluster("nospec"))
    assert status == 422 and [c["field"] for c in refused["details"]["causes"]] == ["spec"]
    both = cluster(
        "both",
        instances=1,
        imageName="postgres:16",
        imageCatalogRef={"kind": "ImageCatalog", "name": "x", "major": 16, "apiGroup": "postgresql.cnpg.io"},
    )
    status, refused = await http.post(path, both)
    assert status == 422 and "imageName and imageCatalogRef are mutually exclusive" in refused["message"]
