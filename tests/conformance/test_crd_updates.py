"""Updating a CustomResourceDefinition changes what the server serves from then on.

https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/:
the CRD's `openAPIV3Schema` (and its `x-kubernetes-validations`) is what the API server
validates creates and updates against, its `additionalPrinterColumns` are what `kubectl get`
shows, and the published OpenAPI follows the CRD ("the OpenAPI v3 schema is published ... as
part of the OpenAPI v3 ... document"). Updating the CRD (PUT, PATCH or apply) changes all of
them for every later request; existing objects stay as stored.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conformance.test_kubectl import Kubectl, manifest
from tests.conformance.test_objects import WIDGETS, widget
from tests.helpers import Http, load_yaml

CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.dev"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
SIZE = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/size"


def size_schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema["properties"]["spec"]["properties"]["size"]


async def test_crd_update_changes_the_enforced_schema(http: Http) -> None:
    """Tighten the schema by PUT: a violating write is 422; loosen it by PATCH: accepted again."""
    status, crd = await http.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", load_yaml("widgets-crd.yaml")
    )
    assert status == 201
    status, _ = await http.post(WIDGETS, widget("before", size=50))
    assert status == 201
    size_schema(crd)["maximum"] = 10
    status, crd = await http.put(CRD, crd)
    assert status == 200 and size_schema(crd)["maximum"] == 10
    status, body = await http.post(WIDGETS, widget("big", size=50))
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.size"
    assert "should be less than or equal to 10" in body["message"]
    status, _ = await http.post(WIDGETS, widget("small", size=5))
    assert status == 201
    status, _ = await http.patch(f"{WIDGETS}/small", {"spec": {"size": 20}})
    assert status == 422
    status, _ = await http.get(f"{WIDGETS}/before")
    assert status == 200  # stored objects are not revalidated by the CRD update
    status, crd = await http.patch(CRD, [{"op": "replace", "path": f"{SIZE}/maximum", "value": 100}], kind="json")
    assert status == 200 and size_schema(crd)["maximum"] == 100
    status, _ = await http.post(WIDGETS, widget("big", size=50))
    assert status == 201
    status, _ = await http.patch(f"{WIDGETS}/small", {"spec": {"size": 20}})
    assert status == 200


async def test_crd_apply_adds_a_cel_rule(http: Http) -> None:
    """A server-side apply of the CRD adding an x-kubernetes-validations rule enforces it."""
    original = load_yaml("widgets-crd.yaml")
    status, _ = await http.patch(CRD, original, kind="apply", fieldManager="crds")
    assert status == 201
    status, _ = await http.post(WIDGETS, widget("odd", size=3))
    assert status == 201
    stricter = copy.deepcopy(original)
    size_schema(stricter)["x-kubernetes-validations"] = [{"rule": "self % 2 == 0", "message": "size must be even"}]
    status, _ = await http.patch(CRD, stricter, kind="apply", fieldManager="crds")
    assert status == 200
    status, body = await http.post(WIDGETS, widget("odd2", size=3))
    assert status == 422 and "spec.size: Invalid value" in body["message"] and "size must be even" in body["message"]
    status, _ = await http.post(WIDGETS, widget("even", size=4))
    assert status == 201
    status, _ = await http.patch(CRD, original, kind="apply", fieldManager="crds")
    assert status == 200
    status, _ = await http.post(WIDGETS, widget("odd2", size=3))
    assert status == 201


async def test_crd_update_changes_printer_columns_and_openapi(http: Http) -> None:
    """New additionalPrinterColumns show up in tables; the OpenAPI document and its hash follow."""
    await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", load_yaml("widgets-crd.yaml"))
    await http.post(WIDGETS, widget("w", size=3, maxSize=9))
    _, root = await http.get("/openapi/v3")
    before_url = root["paths"]["apis/example.dev/v1"]["serverRelativeURL"]
    column = {"name": "Max", "type": "integer", "jsonPath": ".spec.maxSize"}
    patch = [
        {"op": "add", "path": "/spec/versions/0/additionalPrinterColumns/0", "value": column},
        {"op": "add", "path": f"{SIZE}/multipleOf", "value": 1},
        {"op": "replace", "path": f"{SIZE}/description", "value": "How big, in units."},
    ]
    status, _ = await http.patch(CRD, patch, kind="json")
    assert status == 200
    _, table = await http.request("GET", WIDGETS, headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]][:3] == ["Name", "Max", "Size"]
    assert table["rows"][0]["cells"][:3] == ["w", 9, 3]
    _, root = await http.get("/openapi/v3")
    after_url = root["paths"]["apis/example.dev/v1"]["serverRelativeURL"]
    assert after_url != before_url
    _, doc = await http.get(after_url.split("?")[0])
    size = doc["components"]["schemas"]["dev.example.v1.Widget"]["properties"]["spec"]["properties"]["size"]
    assert size["description"] == "How big, in units."


@pytest.mark.kubectl
async def test_kubectl_apply_of_an_updated_crd(http: Http, kubeconfig: Path, tmp_path: Path) -> None:
    """`kubectl apply` of a changed CRD file: the next `kubectl apply` of an object obeys it."""
    kubectl = Kubectl(kubeconfig, tmp_path)
    crd = load_yaml("widgets-crd.yaml")
    await kubectl("apply", "-f", "-", stdin=manifest(crd))
    await kubectl("apply", "-f", "-", stdin=manifest(widget("w", size=50)))
    size_schema(crd)["maximum"] = 10
    await kubectl("apply", "-f", "-", stdin=manifest(crd))
    code, _, err = await kubectl("apply", "-f", "-", stdin=manifest(widget("w2", size=50)), ok=False)
    assert code != 0 and "spec.size" in err and "less than or equal to 10" in err
    _, out, _ = await kubectl("get", "crd", "widgets.example.dev", "-o", "yaml")
    assert size_schema(yaml.safe_load(out))["maximum"] == 10
