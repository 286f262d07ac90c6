"""OpenAPI documents (https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-interface-definition)
and server-side tables (https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables)."""

from __future__ import annotations

from tests.conformance.test_objects import WIDGETS, install_widgets, widget
from tests.helpers import Http

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


async def test_openapi_v3_root_and_documents(http: Http) -> None:
    await install_widgets(http)
    status, root = await http.get("/openapi/v3")
    assert status == 200
    assert {"api/v1", "apis/apps/v1", "apis/example.dev/v1"} <= set(root["paths"])
    url = root["paths"]["apis/example.dev/v1"]["serverRelativeURL"]
    assert "?hash=" in url
    status, doc = await http.get(url.split("?")[0])
    assert doc["openapi"].startswith("3.")
    schema = doc["components"]["schemas"]["dev.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "example.dev", "version": "v1", "kind": "Widget"}]
    assert schema["properties"]["spec"]["properties"]["size"]["type"] == "integer"
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
    patch = doc["paths"]["/apis/example.dev/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "Widget"
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    status, core = await http.get("/openapi/v3/api/v1")
    namespace = core["components"]["schemas"]["io.k8s.api.core.v1.Namespace"]
    assert namespace["x-kubernetes-group-version-kind"][0]["kind"] == "Namespace"
    containers = doc_containers = None
    status, apps = await http.get("/openapi/v3/apis/apps/v1")
    doc_containers = apps["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    containers = doc_containers
    assert containers["x-kubernetes-patch-merge-key"] == "name"


async def test_openapi_v3_hash_changes_with_crds(http: Http) -> None:
    _, before = await http.get("/openapi/v3")
    await install_widgets(http)
    _, after = await http.get("/openapi/v3")
    assert "apis/example.dev/v1" not in before["paths"] and "apis/example.dev/v1" in after["paths"]
    assert before["paths"]["api/v1"] == after["paths"]["api/v1"]


async def test_openapi_v2(http: Http) -> None:
    await install_widgets(http)
    status, doc = await http.get("/openapi/v2")
    assert status == 200 and doc["swagger"] == "2.0"
    assert "dev.example.v1.Widget" in doc["definitions"]
    assert "io.k8s.api.core.v1.ConfigMap" in doc["definitions"]


async def test_table_uses_printer_columns(http: Http) -> None:
    await install_widgets(http)
    await http.post(WIDGETS, widget("w", size=7, color="red"))
    await http.patch(f"{WIDGETS}/w/status", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    status, table = await http.request("GET", WIDGETS, headers={"Accept": TABLE})
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Color", "Ready", "Age"]
    row = table["rows"][0]
    assert row["cells"][:4] == ["w", 7, "red", "True"]
    assert row["cells"][4].endswith("s")
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "w"


async def test_table_for_builtin_kinds(http: Http) -> None:
    _, table = await http.request("GET", "/api/v1/namespaces", headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Age"]
    assert table["rows"][0]["cells"][:2] == ["default", "Active"]
    _status, single = await http.request("GET", "/api/v1/namespaces/default", headers={"Accept": TABLE})
    assert single["kind"] == "Table" and len(single["rows"]) == 1


async def test_plain_json_without_table_accept(http: Http) -> None:
    _status, listing = await http.get("/api/v1/namespaces")
    assert listing["kind"] == "NamespaceList"
