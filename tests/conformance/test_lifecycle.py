"""Deletion: finalizers, namespace termination and garbage collection.

https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/
https://kubernetes.io/docs/concepts/architecture/garbage-collection/
https://kubernetes.io/docs/tasks/administer-cluster/namespaces/ (Terminating)
"""

from __future__ import annotations

from typing import Any

from tests.helpers import Http, eventually

CMS = "/api/v1/namespaces/default/configmaps"


async def exists(http: Http, path: str) -> bool:
    status, _ = await http.get(path)
    return status == 200


async def missing(http: Http, path: str) -> bool:
    return not await exists(http, path)


async def test_finalizers_hold_deletion(http: Http) -> None:
    await http.post(CMS, {"metadata": {"name": "f", "finalizers": ["example.dev/hold"]}})
    status, obj = await http.delete(f"{CMS}/f")
    assert status == 200 and obj["metadata"]["deletionTimestamp"]
    _, obj = await http.get(f"{CMS}/f")
    assert obj["metadata"]["deletionTimestamp"] and obj["metadata"]["finalizers"] == ["example.dev/hold"]
    status, body = await http.patch(f"{CMS}/f", {"metadata": {"finalizers": ["example.dev/hold", "example.dev/new"]}})
    assert status == 422 and "no new finalizers" in body["message"]
    status, _ = await http.patch(f"{CMS}/f", {"metadata": {"finalizers": None}})
    assert status == 200
    assert await missing(http, f"{CMS}/f")


async def test_unqualified_finalizer_is_invalid(http: Http) -> None:
    status, body = await http.post(CMS, {"metadata": {"name": "f", "finalizers": ["hold"]}})
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.finalizers[0]"


async def test_namespace_terminates_after_its_contents(http: Http) -> None:
    await http.post("/api/v1/namespaces", {"metadata": {"name": "t-acme"}})
    await http.post("/api/v1/namespaces/t-acme/configmaps", {"metadata": {"name": "plain"}})
    await http.post("/api/v1/namespaces/t-acme/secrets", {"metadata": {"name": "held", "finalizers": ["x.dev/y"]}})
    status, ns = await http.delete("/api/v1/namespaces/t-acme")
    assert status == 200 and ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    await eventually(lambda: missing(http, "/api/v1/namespaces/t-acme/configmaps/plain"))
    _, ns = await http.get("/api/v1/namespaces/t-acme")
    assert ns["status"]["phase"] == "Terminating"
    status, body = await http.post("/api/v1/namespaces/t-acme/configmaps", {"metadata": {"name": "late"}})
    assert status == 403 and "being terminated" in body["message"]
    _, held = await http.get("/api/v1/namespaces/t-acme/secrets/held")
    assert held["metadata"]["deletionTimestamp"]
    await http.patch("/api/v1/namespaces/t-acme/secrets/held", {"metadata": {"finalizers": None}})
    await eventually(lambda: missing(http, "/api/v1/namespaces/t-acme"))


def owned(name: str, owner: dict[str, Any], block: bool = False) -> dict[str, Any]:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return {"metadata": {"name": name, "ownerReferences": [ref]}}


async def test_background_deletion_collects_dependents(http: Http) -> None:
    _, owner = await http.post(CMS, {"metadata": {"name": "owner"}})
    await http.post(CMS, owned("child", owner))
    _, child = await http.get(f"{CMS}/child")
    await http.post(CMS, owned("grandchild", child))
    status, _ = await http.delete(f"{CMS}/owner")
    assert status == 200
    assert await missing(http, f"{CMS}/owner")
    await eventually(lambda: missing(http, f"{CMS}/child"))
    await eventually(lambda: missing(http, f"{CMS}/grandchild"))


async def test_dependent_with_a_living_owner_stays(http: Http) -> None:
    _, one = await http.post(CMS, {"metadata": {"name": "one"}})
    _, two = await http.post(CMS, {"metadata": {"name": "two"}})
    child = owned("shared", one)
    child["metadata"]["ownerReferences"].append(owned("x", two)["metadata"]["ownerReferences"][0])
    await http.post(CMS, child)
    await http.delete(f"{CMS}/one")
    await eventually(lambda: missing(http, f"{CMS}/one"))
    assert await exists(http, f"{CMS}/shared")
    await http.delete(f"{CMS}/two")
    await eventually(lambda: missing(http, f"{CMS}/shared"))


async def test_foreground_deletion_waits_for_dependents(http: Http) -> None:
    _, owner = await http.post(CMS, {"metadata": {"name": "owner"}})
    await http.post(CMS, {**owned("child", owner, block=True)})
    await http.patch(f"{CMS}/child", {"metadata": {"finalizers": ["example.dev/slow"]}})
    status, obj = await http.delete(f"{CMS}/owner", {"propagationPolicy": "Foreground"})
    assert status == 200 and "foregroundDeletion" in obj["metadata"]["finalizers"]

    async def child_deleting() -> bool:
        _, child = await http.get(f"{CMS}/child")
        return bool(child["metadata"].get("deletionTimestamp"))

    await eventually(child_deleting)
    assert await exists(http, f"{CMS}/owner")
    await http.patch(f"{CMS}/child", {"metadata": {"finalizers": None}})
    await eventually(lambda: missing(http, f"{CMS}/owner"))


async def test_orphan_deletion_keeps_dependents(http: Http) -> None:
    _, owner = await http.post(CMS, {"metadata": {"name": "owner"}})
    await http.post(CMS, owned("child", owner))
    await http.delete(f"{CMS}/owner", propagationPolicy="Orphan")
    await eventually(lambda: missing(http, f"{CMS}/owner"))
    _, child = await http.get(f"{CMS}/child")
    assert not child["metadata"].get("ownerReferences")


async def test_crd_deletion_removes_its_objects(http: Http) -> None:
    from tests.conformance.test_objects import WIDGETS, install_widgets, widget

    await install_widgets(http)
    await http.post(WIDGETS, widget("w"))
    await http.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.dev")
    await eventually(
        lambda: missing(http, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.dev")
    )
    await install_widgets(http)
    _, listing = await http.get(WIDGETS)
    assert listing["items"] == []
