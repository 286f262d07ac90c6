"""Discovery: https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api"""

from __future__ import annotations

from tests.helpers import Http, eventually, load_yaml

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
BUILTIN_GROUP_VERSIONS = [
    "apps/v1",
    "batch/v1",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
    "coordination.k8s.io/v1",
    "apiextensions.k8s.io/v1",
]


async def test_core_group_is_reported_as_v1(http: Http) -> None:
    """/api lists the legacy core group's versions as plain "v1" (kubectl relies on it)."""
    status, body = await http.get("/api")
    assert status == 200
    assert body["kind"] == "APIVersions"
    assert body["versions"] == ["v1"]
    status, body = await http.get("/api/v1")
    assert body["groupVersion"] == "v1"
    names = {r["name"]: r for r in body["resources"]}
    assert names["namespaces"]["namespaced"] is False
    assert names["configmaps"]["namespaced"] is True
    assert "cm" in names["configmaps"]["shortNames"]
    assert set(names["configmaps"]["verbs"]) >= {"list", "watch", "patch", "create", "delete", "get", "update"}
    assert "namespaces/status" in names
    assert "events" in names


async def test_named_groups_listed(http: Http) -> None:
    """/apis is an APIGroupList with each group's versions and preferred version."""
    status, body = await http.get("/apis")
    assert status == 200 and body["kind"] == "APIGroupList"
    served = {v["groupVersion"] for g in body["groups"] for v in g["versions"]}
    assert set(BUILTIN_GROUP_VERSIONS) <= served
    for group_version in BUILTIN_GROUP_VERSIONS:
        status, resources = await http.get(f"/apis/{group_version}")
        assert status == 200, group_version
        assert resources["kind"] == "APIResourceList"
        assert resources["groupVersion"] == group_version
        assert resources["resources"]
    status, leases = await http.get("/apis/coordination.k8s.io/v1")
    assert {r["name"] for r in leases["resources"]} >= {"leases"}


async def test_version_endpoint(http: Http) -> None:
    status, body = await http.get("/version")
    assert status == 200
    assert body["major"] == "1" and body["minor"] == "30"
    assert body["gitVersion"].startswith("v1.30")


async def test_unknown_group_is_404(http: Http) -> None:
    status, body = await http.get("/apis/nothing.example/v1")
    assert status == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    status, _ = await http.get("/apis/nothing.example/v1/things")
    assert status == 404


async def test_creating_a_crd_registers_its_resource_and_deleting_removes_it(http: Http) -> None:
    """A CRD becomes Established and its resource appears in discovery; deletion removes both."""
    crd = load_yaml("widgets-crd.yaml")
    status, created = await http.post(CRDS, crd)
    assert status == 201
    conditions = {c["type"]: c["status"] for c in created["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    status, groups = await http.get("/apis")
    assert any(g["name"] == "example.dev" for g in groups["groups"])
    status, resources = await http.get("/apis/example.dev/v1")
    assert status == 200
    widget = next(r for r in resources["resources"] if r["name"] == "widgets")
    assert widget["kind"] == "Widget" and widget["namespaced"] is True and widget["shortNames"] == ["wd"]
    assert any(r["name"] == "widgets/status" for r in resources["resources"])
    obj = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    status, _ = await http.post("/apis/example.dev/v1/namespaces/default/widgets", obj)
    assert status == 201

    status, _ = await http.delete(f"{CRDS}/widgets.example.dev")
    assert status == 200

    async def gone() -> bool:
        s, _ = await http.get("/apis/example.dev/v1")
        return s == 404

    await eventually(gone)
    status, _ = await http.get(f"{CRDS}/widgets.example.dev")
    assert status == 404
    status, groups = await http.get("/apis")
    assert not any(g["name"] == "example.dev" for g in groups["groups"])


async def test_crd_with_bad_cel_rule_is_refused(http: Http) -> None:
    crd = load_yaml("widgets-crd.yaml")
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] = [
        {"rule": "self.size >", "message": "broken"}
    ]
    status, body = await http.post(CRDS, crd)
    assert status == 422
    assert "compilation failed" in body["message"]
    assert body["details"]["causes"][0]["field"].endswith("x-kubernetes-validations[0].rule")


async def test_replication_controllers_hpas_and_endpointslices_are_served(http: Http) -> None:
    """The kinds the default `admin`/`edit`/`view` roles grant (user-facing roles: core
    ReplicationController, autoscaling/v2 HorizontalPodAutoscaler, discovery.k8s.io/v1
    EndpointSlice) are served with their OpenAPI schemas, so `kubectl apply` can download them and
    the server validates them."""
    status, root = await http.get("/openapi/v3")
    assert status == 200
    for path in ("api/v1", "apis/autoscaling/v2", "apis/discovery.k8s.io/v1"):
        assert path in root["paths"], path
    for group_version, plural in [
        ("api/v1", "replicationcontrollers"),
        ("apis/autoscaling/v2", "horizontalpodautoscalers"),
        ("apis/discovery.k8s.io/v1", "endpointslices"),
    ]:
        status, listing = await http.get(f"/{group_version}")
        assert plural in [r["name"] for r in listing["resources"]], group_version
    ns = "/namespaces/default"
    rc = {
        "metadata": {"name": "rc"},
        "spec": {
            "replicas": 1,
            "selector": {"app": "a"},
            "template": {
                "metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    assert (await http.post(f"/api/v1{ns}/replicationcontrollers", rc))[0] == 201
    hpa = {
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
            "minReplicas": 1,
            "maxReplicas": 3,
        },
    }
    assert (await http.post(f"/apis/autoscaling/v2{ns}/horizontalpodautoscalers", hpa))[0] == 201
    status, body = await http.post(
        f"/apis/autoscaling/v2{ns}/horizontalpodautoscalers",
        {"metadata": {"name": "bad"}, "spec": {"maxReplicas": "x"}},
    )
    assert (status, body["reason"]) == (422, "Invalid")
    eps = {"metadata": {"name": "e"}, "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}]}
    assert (await http.post(f"/apis/discovery.k8s.io/v1{ns}/endpointslices", eps))[0] == 201
