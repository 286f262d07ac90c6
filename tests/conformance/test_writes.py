"""PUT and the PATCH flavours, server-side apply and DELETE options.

https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
https://kubernetes.io/docs/reference/using-api/server-side-apply/
"""

from __future__ import annotations

from typing import Any

from tests.conformance.test_objects import WIDGETS, install_widgets, widget
from tests.helpers import Http

CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name: str, containers: list[dict[str, object]], replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
        },
    }


async def test_merge_patch_deletes_with_null(http: Http) -> None:
    """JSON merge patch (RFC 7386): objects merge, null deletes, lists replace."""
    await http.post(CMS, {"metadata": {"name": "m", "labels": {"a": "1", "b": "2"}}, "data": {"x": "1"}})
    status, obj = await http.patch(f"{CMS}/m", {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"y": "2"}})
    assert status == 200
    assert obj["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert obj["data"] == {"x": "1", "y": "2"}


async def test_json_patch_with_test_operation(http: Http) -> None:
    """JSON patch (RFC 6902); a failing `test` op rejects the whole patch (422), as kopf expects."""
    _, obj = await http.post(CMS, {"metadata": {"name": "j", "finalizers": ["example.dev/x"]}})
    rv = obj["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]
    status, obj = await http.patch(f"{CMS}/j", ops, kind="json")
    assert (status == 200 and "finalizers" not in obj["metadata"]) or obj["metadata"]["finalizers"] == []
    status, body = await http.patch(f"{CMS}/j", ops, kind="json")
    assert status == 422 and body["kind"] == "Status"


async def test_strategic_merge_patch_merges_containers_by_name(http: Http) -> None:
    """Strategic merge patch uses patchMergeKey: containers merge by name, $patch: delete removes."""
    await http.post(
        DEPLOYMENTS, deployment("web", [{"name": "app", "image": "app:1"}, {"name": "side", "image": "s:1"}])
    )
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}
    status, obj = await http.patch(f"{DEPLOYMENTS}/web", patch, kind="strategic")
    assert status == 200
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "app:2"), ("side", "s:1")]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}}
    status, obj = await http.patch(f"{DEPLOYMENTS}/web", patch, kind="strategic")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["app"]
    # A merge patch on the same list replaces it instead.
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "o:1"}]}}}}
    _, obj = await http.patch(f"{DEPLOYMENTS}/web", patch, kind="merge")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["only"]


async def test_strategic_merge_patch_refused_for_custom_resources(http: Http) -> None:
    await install_widgets(http)
    await http.post(WIDGETS, widget("w"))
    status, body = await http.patch(f"{WIDGETS}/w", {"spec": {"size": 2}}, kind="strategic")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


async def test_apply_creates_and_records_manager(http: Http) -> None:
    """Apply creates a missing object; managedFields records the manager with operation Apply."""
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}}
    status, obj = await http.patch(f"{CMS}/ssa", cm, kind="apply", fieldManager="alice")
    assert status == 201
    entries = obj["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"]) for e in entries] == [("alice", "Apply")]
    assert entries[0]["fieldsV1"] == {"f:data": {"f:a": {}}}
    status, obj = await http.patch(f"{CMS}/ssa", cm, kind="apply", fieldManager="alice")
    assert status == 200


async def test_an_apply_body_may_be_json_block_yaml_or_flow_yaml(http: Http) -> None:
    """The apply media type is YAML; JSON is YAML (and what most clients send, read as JSON), and so is
    a flow mapping that is not JSON: all three give the same object."""
    bodies = {
        "json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "as-json"}, "data": {"a": "1"}}',
        "block": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: as-block\ndata:\n  a: '1'\n",
        "flow": "{apiVersion: v1, kind: ConfigMap, metadata: {name: as-flow}, data: {a: '1'}}",
    }
    for style, body in bodies.items():
        name = f"as-{style}"
        status, obj = await http.patch(f"{CMS}/{name}", body, kind="apply", fieldManager="alice")
        assert status == 201, (style, obj)
        assert obj["data"] == {"a": "1"} and obj["metadata"]["name"] == name
    status, obj = await http.patch(f"{CMS}/bad", "{a: [", kind="apply", fieldManager="alice")
    assert status == 400 and "error decoding patch" in obj["message"]


async def test_apply_requires_field_manager(http: Http) -> None:
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}}
    status, _ = await http.patch(f"{CMS}/ssa", cm, kind="apply")
    assert status == 400


async def test_apply_removes_fields_the_manager_stopped_applying(http: Http) -> None:
    cm: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ssa", "labels": {"x": "1"}},
        "data": {"a": "1", "b": "2"},
    }
    await http.patch(f"{CMS}/ssa", cm, kind="apply", fieldManager="alice")
    cm["data"] = {"a": "1"}
    cm["metadata"]["labels"] = {}
    _, obj = await http.patch(f"{CMS}/ssa", cm, kind="apply", fieldManager="alice")
    assert obj["data"] == {"a": "1"}
    assert not obj["metadata"].get("labels")


async def test_apply_keeps_fields_another_manager_also_owns(http: Http) -> None:
    base = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}}
    await http.patch(f"{CMS}/ssa", {**base, "data": {"a": "1", "b": "2"}}, kind="apply", fieldManager="alice")
    await http.patch(f"{CMS}/ssa", {**base, "data": {"b": "2"}}, kind="apply", fieldManager="bob")
    _, obj = await http.patch(f"{CMS}/ssa", {**base, "data": {"a": "1"}}, kind="apply", fieldManager="alice")
    assert obj["data"] == {"a": "1", "b": "2"}  # b is still bob's
    _, obj = await http.patch(f"{CMS}/ssa", {**base, "data": {}}, kind="apply", fieldManager="bob")
    assert obj["data"] == {"a": "1"}


async def test_apply_conflict_with_another_manager_unless_forced(http: Http) -> None:
    base = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}}
    await http.patch(f"{CMS}/ssa", {**base, "data": {"a": "1"}}, kind="apply", fieldManager="alice")
    status, body = await http.patch(f"{CMS}/ssa", {**base, "data": {"a": "2"}}, kind="apply", fieldManager="bob")
    assert status == 409 and body["reason"] == "Conflict"
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".data.a"}
    ]
    # Same value: shared ownership, no conflict.
    status, _ = await http.patch(f"{CMS}/ssa", {**base, "data": {"a": "1"}}, kind="apply", fieldManager="bob")
    assert status == 200
    status, obj = await http.patch(
        f"{CMS}/ssa", {**base, "data": {"a": "2"}}, kind="apply", fieldManager="bob", force=True
    )
    assert status == 200 and obj["data"]["a"] == "2"
    owners = {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}
    assert "alice" not in owners and owners["bob"] == {"f:data": {"f:a": {}}}


async def test_apply_conflicts_with_update_managers(http: Http) -> None:
    """Fields set by a plain update belong to its manager; apply over them conflicts."""
    await http.post(CMS, {"metadata": {"name": "u"}, "data": {"a": "1"}}, fieldManager="editor")
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u"}, "data": {"a": "2"}}
    status, body = await http.patch(f"{CMS}/u", cm, kind="apply", fieldManager="landlord")
    assert status == 409 and 'conflict with "editor"' in body["message"]


async def test_apply_merges_associative_lists_by_key(http: Http) -> None:
    """Containers are a map-list keyed by name: two appliers can own different containers."""
    one = deployment("d", [{"name": "a", "image": "a:1"}])
    await http.patch(f"{DEPLOYMENTS}/d", one, kind="apply", fieldManager="alice")
    two: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:1"}]}}},
    }
    status, obj = await http.patch(f"{DEPLOYMENTS}/d", two, kind="apply", fieldManager="bob")
    assert status == 200, obj
    assert sorted(c["name"] for c in obj["spec"]["template"]["spec"]["containers"]) == ["a", "b"]
    two["spec"]["template"]["spec"]["containers"] = []
    _, obj = await http.patch(f"{DEPLOYMENTS}/d", two, kind="apply", fieldManager="bob")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["a"]


async def test_apply_on_custom_resource_with_defaults(http: Http) -> None:
    await install_widgets(http)
    w = widget("s", size=2)
    status, obj = await http.patch(f"{WIDGETS}/s", w, kind="apply", fieldManager="landlord")
    assert status == 201 and obj["spec"] == {"size": 2, "color": "green"}
    w["spec"]["size"] = 3
    status, obj = await http.patch(f"{WIDGETS}/s", w, kind="apply", fieldManager="landlord")
    assert status == 200 and obj["spec"]["size"] == 3 and obj["metadata"]["generation"] == 2


async def test_delete_returns_object_and_404_afterwards(http: Http) -> None:
    await http.post(CMS, {"metadata": {"name": "d"}})
    status, body = await http.delete(f"{CMS}/d")
    assert status == 200 and body["metadata"]["name"] == "d"
    status, _ = await http.delete(f"{CMS}/d")
    assert status == 404


async def test_delete_preconditions(http: Http) -> None:
    """DeleteOptions.preconditions.uid: a DELETE of another object with the same name is a 409."""
    _, obj = await http.post(CMS, {"metadata": {"name": "d"}})
    status, body = await http.delete(f"{CMS}/d", {"preconditions": {"uid": "wrong"}})
    assert status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        f'Operation cannot be fulfilled on configmaps "d": Precondition failed: UID in precondition: wrong, '
        f"UID in object meta: {obj['metadata']['uid']}"
    )
    status, _ = await http.delete(f"{CMS}/d", {"preconditions": {"uid": obj["metadata"]["uid"]}})
    assert status == 200


async def test_delete_precondition_on_resource_version(http: Http) -> None:
    """DeleteOptions.preconditions.resourceVersion: "Must match the ResourceVersion of the object
    being deleted" (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/delete-options/);
    a stale one is 409 Conflict and the object stays."""
    _, obj = await http.post(CMS, {"metadata": {"name": "d"}})
    stale = obj["metadata"]["resourceVersion"]
    _, obj = await http.patch(f"{CMS}/d", {"data": {"k": "v"}})
    current = obj["metadata"]["resourceVersion"]
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": stale}}
    status, body = await http.delete(f"{CMS}/d", options)
    assert status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "d": Precondition failed: ResourceVersion in precondition: '
        f"{stale}, ResourceVersion in object meta: {current}"
    )
    status, _ = await http.get(f"{CMS}/d")
    assert status == 200
    options["preconditions"] = {"resourceVersion": current, "uid": obj["metadata"]["uid"]}
    status, _ = await http.delete(f"{CMS}/d", options)
    assert status == 200
    status, _ = await http.get(f"{CMS}/d")
    assert status == 404


async def test_delete_collection_by_label(http: Http) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        await http.post(CMS, {"metadata": {"name": name, "labels": {"team": team}}})
    status, _ = await http.delete(CMS, labelSelector="team=x")
    assert status == 200
    _, listing = await http.get(CMS)
    assert [i["metadata"]["name"] for i in listing["items"]] == ["c"]


async def test_dry_run_writes_nothing(http: Http) -> None:
    status, _obj = await http.post(CMS, {"metadata": {"name": "dry"}}, dryRun="All")
    assert status == 201
    status, _ = await http.get(f"{CMS}/dry")
    assert status == 404


async def test_secret_string_data_is_merged_into_data_and_never_returned(http: Http) -> None:
    """core/v1 Secret, `stringData`: "allows specifying non-binary secret data in string form. It is
    provided as a write-only input field for convenience. All keys and values are merged into the data
    field on write, overwriting any existing values. The stringData field is never output when reading
    from the API." (Kubernetes API reference, Secret v1 core)."""
    path = "/api/v1/namespaces/default/secrets"
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "data": {"user": "b2xk", "host": "ZGI="},
        "stringData": {"user": "admin", "password": "s3cret"},
    }
    status, created = await http.post(path, body)
    assert status == 201
    assert "stringData" not in created
    assert created["data"] == {"user": "YWRtaW4=", "host": "ZGI=", "password": "czNjcmV0"}
    status, read = await http.get(f"{path}/creds")
    assert "stringData" not in read and read["data"] == created["data"]
    # On update and on server-side apply too.
    status, patched = await http.patch(f"{path}/creds", {"stringData": {"host": "other"}})
    assert status == 200 and patched["data"]["host"] == "b3RoZXI=" and "stringData" not in patched
    applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"port": "5432"}}
    status, result = await http.patch(f"{path}/creds", applied, kind="apply", fieldManager="tests", force="true")
    assert status == 200 and result["data"]["port"] == "NTQzMg==" and "stringData" not in result


async def test_a_body_naming_another_namespace_is_refused(http: Http) -> None:
    """An object is written to the namespace of its URL
    (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris): a POST or PUT
    body naming another one is the real 400 `the namespace of the provided object does not match
    the namespace sent on the request`; a patch or server-side apply whose object names another
    one is the patch handler's 400 `the namespace of the object (X) does not match the namespace
    on the URL (Y)`. Nothing is written to either namespace; an absent namespace is the URL's."""
    assert (await http.post("/api/v1/namespaces", {"metadata": {"name": "victim"}}))[0] == 201
    mismatch = "the namespace of the provided object does not match the namespace sent on the request"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "victim"}}
    status, body = await http.post(CMS, cm)
    assert (status, body["reason"], body["message"]) == (400, "BadRequest", mismatch)
    status, stored = await http.post(CMS, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    assert status == 201
    stored["metadata"]["namespace"] = "victim"
    status, body = await http.put(f"{CMS}/c", stored)
    assert (status, body["message"]) == (400, mismatch)
    on_url = "the namespace of the object (victim) does not match the namespace on the URL (default)"
    for kind, patch in [
        ("merge", {"metadata": {"namespace": "victim"}}),
        ("strategic", {"metadata": {"namespace": "victim"}}),
        ("json", [{"op": "replace", "path": "/metadata/namespace", "value": "victim"}]),
    ]:
        status, body = await http.patch(f"{CMS}/c", patch, kind)
        assert (status, body["message"]) == (400, on_url), kind
    for name in ("c", "new"):  # apply to an existing object, and apply creating one
        status, body = await http.patch(
            f"{CMS}/{name}", {**cm, "metadata": {**cm["metadata"], "name": name}}, "apply", fieldManager="m"
        )
        assert (status, body["message"]) == (400, on_url), name
    assert (await http.get("/api/v1/namespaces/victim/configmaps/c"))[0] == 404
    assert (await http.get("/api/v1/namespaces/victim/configmaps/new"))[0] == 404
    assert (await http.get(f"{CMS}/new"))[0] == 404
    status, body = await http.patch(
        f"{CMS}/c", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "apply", fieldManager="m"
    )
    assert status == 200, body
    assert body["metadata"]["namespace"] == "default"
