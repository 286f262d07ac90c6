"""The status subresource: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#status-subresource"""

from __future__ import annotations

from tests.conformance.test_objects import WIDGETS, install_widgets, widget
from tests.helpers import Http


async def test_create_drops_status(http: Http) -> None:
    await install_widgets(http)
    body = widget("s")
    body["status"] = {"observed": 9}
    _, obj = await http.post(WIDGETS, body)
    assert "status" not in obj


async def test_main_endpoint_ignores_status_changes(http: Http) -> None:
    await install_widgets(http)
    await http.post(WIDGETS, widget("s"))
    _, obj = await http.patch(f"{WIDGETS}/s/status", {"status": {"observed": 1}})
    assert obj["status"] == {"observed": 1}
    _, obj = await http.patch(f"{WIDGETS}/s", {"spec": {"size": 5}, "status": {"observed": 99}})
    assert obj["spec"]["size"] == 5 and obj["status"] == {"observed": 1}
    obj["status"] = {"observed": 42}
    _, replaced = await http.put(f"{WIDGETS}/s", obj)
    assert replaced["status"] == {"observed": 1}


async def test_status_endpoint_ignores_everything_but_status(http: Http) -> None:
    await install_widgets(http)
    await http.post(WIDGETS, widget("s"))
    _, obj = await http.patch(
        f"{WIDGETS}/s/status", {"metadata": {"labels": {"x": "y"}}, "spec": {"size": 50}, "status": {"observed": 2}}
    )
    assert obj["spec"]["size"] == 1 and "labels" not in obj["metadata"] and obj["status"] == {"observed": 2}
    obj["spec"]["size"] = 77
    obj["status"] = {"observed": 3}
    _, replaced = await http.put(f"{WIDGETS}/s/status", obj)
    assert replaced["spec"]["size"] == 1 and replaced["status"] == {"observed": 3}


async def test_status_is_validated(http: Http) -> None:
    await install_widgets(http)
    await http.post(WIDGETS, widget("s"))
    status, body = await http.patch(f"{WIDGETS}/s/status", {"status": {"observed": "many"}})
    assert status == 422 and body["details"]["causes"][0]["field"] == "status.observed"


async def test_status_of_missing_object_is_404(http: Http) -> None:
    await install_widgets(http)
    status, _ = await http.patch(f"{WIDGETS}/none/status", {"status": {"observed": 1}})
    assert status == 404


async def test_namespace_status_is_set_by_the_server(http: Http) -> None:
    _, ns = await http.post("/api/v1/namespaces", {"metadata": {"name": "n1"}, "status": {"phase": "Whatever"}})
    assert ns["status"] == {"phase": "Active"} and ns["spec"] == {"finalizers": ["kubernetes"]}
