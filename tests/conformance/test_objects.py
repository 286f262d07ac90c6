"""Object metadata and error bodies.

https://kubernetes.io/docs/reference/using-api/api-concepts/ (resource versions, efficient
detection of changes) and https://github.com/kubernetes/community/blob/master/contributors/
devel/sig-architecture/api-conventions.md (metadata, generation, Status responses).
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.helpers import Http, load_yaml

CMS = "/api/v1/namespaces/default/configmaps"
WIDGETS = "/apis/example.dev/v1/namespaces/default/widgets"


async def install_widgets(http: Http) -> None:
    status, _ = await http.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", load_yaml("widgets-crd.yaml")
    )
    assert status == 201


def widget(name: str, size: int = 1, **spec: object) -> dict[str, Any]:
    return {
        "apiVersion": "example.dev/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size, **spec},
    }


async def test_create_sets_uid_timestamp_and_resource_version(http: Http) -> None:
    """Create answers 201 with uid, creationTimestamp and a resourceVersion."""
    status, obj = await http.post(CMS, {"metadata": {"name": "a"}, "data": {"k": "v"}})
    assert status == 201
    meta = obj["metadata"]
    uuid.UUID(meta["uid"])
    assert meta["creationTimestamp"].endswith("Z")
    assert meta["namespace"] == "default"
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
    status, again = await http.get(f"{CMS}/a")
    assert status == 200 and again["metadata"]["resourceVersion"] == meta["resourceVersion"]


async def test_resource_versions_increase(http: Http) -> None:
    versions = []
    for name in ("a", "b", "c"):
        _, obj = await http.post(CMS, {"metadata": {"name": name}})
        versions.append(int(obj["metadata"]["resourceVersion"]))
    _, patched = await http.patch(f"{CMS}/a", {"data": {"x": "y"}})
    versions.append(int(patched["metadata"]["resourceVersion"]))
    assert versions == sorted(versions) and len(set(versions)) == 4
    _, listing = await http.get(CMS)
    assert int(listing["metadata"]["resourceVersion"]) >= versions[-1]


async def test_cluster_scoped_and_namespaced(http: Http) -> None:
    status, ns = await http.post("/api/v1/namespaces", {"metadata": {"name": "team"}})
    assert status == 201 and "namespace" not in ns["metadata"]
    status, cm = await http.post("/api/v1/namespaces/team/configmaps", {"metadata": {"name": "x"}})
    assert status == 201 and cm["metadata"]["namespace"] == "team"
    status, _ = await http.get("/api/v1/namespaces/default/configmaps/x")
    assert status == 404
    status, all_cms = await http.get("/api/v1/configmaps")
    assert status == 200 and [i["metadata"]["namespace"] for i in all_cms["items"]] == ["team"]
    status, body = await http.post("/api/v1/namespaces/missing/configmaps", {"metadata": {"name": "x"}})
    assert status == 404 and body["message"] == 'namespaces "missing" not found'


async def test_generation_bumps_on_spec_changes_only(http: Http) -> None:
    """metadata.generation counts spec changes; metadata and status changes leave it."""
    await install_widgets(http)
    _, obj = await http.post(WIDGETS, widget("g"))
    assert obj["metadata"]["generation"] == 1
    _, obj = await http.patch(f"{WIDGETS}/g", {"metadata": {"labels": {"a": "b"}}})
    assert obj["metadata"]["generation"] == 1
    _, obj = await http.patch(f"{WIDGETS}/g/status", {"status": {"observed": 1}})
    assert obj["metadata"]["generation"] == 1
    _, obj = await http.patch(f"{WIDGETS}/g", {"spec": {"size": 2}})
    assert obj["metadata"]["generation"] == 2


async def test_generation_without_status_subresource_counts_every_non_metadata_change(http: Http) -> None:
    crd = load_yaml("widgets-crd.yaml")
    del crd["spec"]["versions"][0]["subresources"]
    await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    await http.post(WIDGETS, widget("g"))
    _, obj = await http.patch(f"{WIDGETS}/g", {"status": {"observed": 3}})
    assert obj["metadata"]["generation"] == 2 and obj["status"] == {"observed": 3}


async def test_no_op_write_keeps_resource_version(http: Http) -> None:
    """An update that changes nothing is not a write: same resourceVersion, no event."""
    _, obj = await http.post(CMS, {"metadata": {"name": "same"}, "data": {"k": "v"}})
    _, again = await http.patch(f"{CMS}/same", {"data": {"k": "v"}})
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


async def test_not_found_is_a_status(http: Http) -> None:
    status, body = await http.get(f"{CMS}/nope")
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "configmaps"},
        "code": 404,
    }


async def test_already_exists(http: Http) -> None:
    await http.post(CMS, {"metadata": {"name": "dup"}})
    status, body = await http.post(CMS, {"metadata": {"name": "dup"}})
    assert status == 409 and body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "dup" already exists'


async def test_stale_resource_version_conflicts(http: Http) -> None:
    """Optimistic concurrency: a write carrying an old resourceVersion is 409 Conflict."""
    _, obj = await http.post(CMS, {"metadata": {"name": "occ"}, "data": {"n": "1"}})
    stale = obj["metadata"]["resourceVersion"]
    obj["data"]["n"] = "2"
    status, updated = await http.put(f"{CMS}/occ", obj)
    assert status == 200
    obj["data"]["n"] = "3"
    obj["metadata"]["resourceVersion"] = stale
    status, body = await http.put(f"{CMS}/occ", obj)
    assert status == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    status, body = await http.patch(f"{CMS}/occ", {"metadata": {"resourceVersion": stale}, "data": {"n": "4"}})
    assert status == 409
    status, _ = await http.patch(
        f"{CMS}/occ", {"metadata": {"resourceVersion": updated["metadata"]["resourceVersion"]}, "data": {"n": "4"}}
    )
    assert status == 200


async def test_invalid_names_each_field(http: Http) -> None:
    """422 Invalid lists each invalid field in details.causes."""
    await install_widgets(http)
    bad = widget("w", size=0, color="pink")
    status, body = await http.post(WIDGETS, bad)
    assert status == 422 and body["reason"] == "Invalid"
    fields = sorted(c["field"] for c in body["details"]["causes"])
    assert fields == ["spec.color", "spec.size"]
    assert body["message"].startswith('Widget.example.dev "w" is invalid: [')
    status, body = await http.post(CMS, {"metadata": {"name": "Bad_Name"}})
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "metadata.name"


async def test_generate_name(http: Http) -> None:
    status, obj = await http.post(CMS, {"metadata": {"generateName": "job-"}})
    assert status == 201
    assert obj["metadata"]["name"].startswith("job-") and len(obj["metadata"]["name"]) == 9


async def test_put_replaces_and_requires_matching_name(http: Http) -> None:
    _, obj = await http.post(CMS, {"metadata": {"name": "p"}, "data": {"a": "1", "b": "2"}})
    obj["data"] = {"c": "3"}
    status, replaced = await http.put(f"{CMS}/p", obj)
    assert status == 200 and replaced["data"] == {"c": "3"}
    status, _ = await http.put(f"{CMS}/other", {**obj, "metadata": {"name": "p"}})
    assert status == 400
    status, _ = await http.put(f"{CMS}/absent", {"metadata": {"name": "absent"}})
    assert status == 404  # ConfigMaps are not created by PUT
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}}
    status, _ = await http.put("/apis/coordination.k8s.io/v1/namespaces/default/leases/l", lease)
    assert status == 201  # Leases are
