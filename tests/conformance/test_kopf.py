"""kopf runs against the emulator unchanged: create, update and delete with finalizers."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from landlord.devcluster import DevCluster
from tests.conformance.test_objects import WIDGETS, install_widgets, widget
from tests.helpers import Http, eventually, kopf_thread


def build_registry(url: str, seen: list[str]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url, insecure=True)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.watching.server_timeout = 10
        settings.watching.reconnect_backoff = 0.1
        settings.posting.level = 0

    @kopf.on.create("example.dev", "v1", "widgets", registry=registry)
    def created(spec: Any, name: str, patch: Any, body: Any, **_: Any) -> None:
        seen.append(f"create:{name}")
        kopf.info(body, reason="Observed", message=f"widget created with size {spec['size']}")
        patch.status["observed"] = spec["size"]

    @kopf.on.update("example.dev", "v1", "widgets", registry=registry)
    def updated(spec: Any, name: str, patch: Any, **_: Any) -> None:
        seen.append(f"update:{name}:{spec['size']}")
        patch.status["observed"] = spec["size"]

    @kopf.on.delete("example.dev", "v1", "widgets", registry=registry)
    def deleted(name: str, **_: Any) -> None:
        seen.append(f"delete:{name}")

    return registry


async def test_trivial_kopf_operator(devcluster: DevCluster, http: Http) -> None:
    await install_widgets(http)
    seen: list[str] = []
    operator = kopf_thread(build_registry(devcluster.url, seen))
    await asyncio.to_thread(operator.start)
    try:
        await http.post(WIDGETS, widget("w", size=3))

        async def observed(value: int) -> bool:
            _, obj = await http.get(f"{WIDGETS}/w")
            return obj.get("status", {}).get("observed") == value

        await eventually(lambda: observed(3))
        _, obj = await http.get(f"{WIDGETS}/w")
        assert obj["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
        await http.patch(f"{WIDGETS}/w", {"spec": {"size": 4}})
        await eventually(lambda: observed(4))
        status, _ = await http.delete(f"{WIDGETS}/w")
        assert status == 200

        async def gone() -> bool:
            s, _ = await http.get(f"{WIDGETS}/w")
            return s == 404

        await eventually(gone)
        assert seen == ["create:w", "update:w:4", "delete:w"]

        # kopf reported through Events, and they are listable like on a real cluster.
        async def reported() -> list[str]:
            _, events = await http.get("/api/v1/events", fieldSelector="involvedObject.name=w")
            return [e["message"] for e in events["items"]]

        messages = await eventually(reported)
        assert any("created" in m for m in messages), messages
    finally:
        await asyncio.to_thread(operator.stop)
    assert operator.error is None
