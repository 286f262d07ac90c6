"""The children's informer (`landlord.handlers.informer`) against the emulator: list, then watch
from the list's resourceVersion; resume where a watch ended; list again on 410 Gone and report
what the new list lacks. https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest
from aiohttp import web

from landlord.devcluster import DevCluster
from landlord.handlers.informer import GONE, LISTED, Informer, stop
from landlord.kube import KubeClient
from tests.helpers import eventually

LABEL = "example.dev/watched"
CMS = ("", "configmaps")


class Seen:
    """What an informer delivered: the events in order, and the objects it holds (by uid)."""

    def __init__(self) -> None:
        self.events: list[tuple[str | None, str]] = []
        self.held: dict[str, dict[str, Any]] = {}

    def deliver(self, type_: str | None, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.events.append((type_, meta["name"]))
        if type_ in ("DELETED", GONE):
            self.held.pop(meta["uid"], None)
        else:
            self.held[meta["uid"]] = obj

    def known(self) -> list[dict[str, Any]]:
        return list(self.held.values())

    def names(self) -> list[str]:
        return sorted(o["metadata"]["name"] for o in self.held.values())


@pytest.fixture
async def cluster() -> AsyncIterator[DevCluster]:
    async with DevCluster() as devcluster:
        yield devcluster


def configmap(name: str, labelled: bool = True, data: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if labelled:
        meta["labels"] = {LABEL: "yes"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


async def started(cluster: DevCluster, seen: Seen, **settings: Any) -> tuple[Informer, asyncio.Task[None]]:
    client = KubeClient(kopf.ConnectionInfo(server=cluster.url), user_agent="informer-test")
    informer = Informer(client, "ConfigMap", seen.deliver, seen.known, selector=LABEL, page_size=2)
    for name, value in settings.items():
        setattr(informer, name, value)
    await informer.list()
    return informer, asyncio.create_task(informer.run())


async def stopped(informer: Informer, task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await informer.client.close()


async def test_lists_then_watches_every_change_in_order_and_only_the_selected(cluster: DevCluster) -> None:
    store = cluster.cluster
    for name in ("a", "b", "c"):
        store.create(store.find(*CMS), "default", configmap(name), "test")
    store.create(store.find(*CMS), "default", configmap("other", labelled=False), "test")
    seen = Seen()
    informer, task = await started(cluster, seen)
    try:
        assert seen.events == [(None, "a"), (None, "b"), (None, "c")]  # in pages of 2
        store.create(store.find(*CMS), "default", configmap("d"), "test")
        store.patch(store.find(*CMS), "default", "a", "merge", {"data": {"k": "v"}}, "test")
        store.delete(store.find(*CMS), "default", "b")
        store.patch(store.find(*CMS), "default", "other", "merge", {"data": {"k": "v"}}, "test")
        await eventually(lambda: len(seen.events) == 6, timeout=5)
        assert seen.events[3:] == [("ADDED", "d"), ("MODIFIED", "a"), ("DELETED", "b")]
        assert seen.names() == ["a", "c", "d"]
    finally:
        await stopped(informer, task)


async def test_a_watch_the_server_ends_is_resumed_from_its_last_version(cluster: DevCluster) -> None:
    store = cluster.cluster
    seen = Seen()
    informer, task = await started(cluster, seen, watch_timeout=1)
    try:
        store.create(store.find(*CMS), "default", configmap("before"), "test")
        await eventually(lambda: ("ADDED", "before") in seen.events, timeout=5)
        await asyncio.sleep(1.5)  # the server ended the first watch: a second one runs
        store.create(store.find(*CMS), "default", configmap("after"), "test")
        await eventually(lambda: ("ADDED", "after") in seen.events, timeout=5)
        assert seen.events == [("ADDED", "before"), ("ADDED", "after")]  # each once, nothing listed again
        assert informer.client.counts["watches"] >= 2
    finally:
        await stopped(informer, task)


async def test_410_gone_lists_again_with_what_changed_and_what_was_deleted(cluster: DevCluster) -> None:
    store = cluster.cluster
    for name in ("kept", "changed", "deleted"):
        store.create(store.find(*CMS), "default", configmap(name), "test")
    seen = Seen()
    informer, task = await started(cluster, seen, retry=0.05)
    try:
        await asyncio.sleep(0.2)  # watching
        # In one step (no watch reconnects in between): changes, then the watch is cut and the
        # history forgotten, as after an outage longer than the API server keeps events.
        store.patch(store.find(*CMS), "default", "changed", "merge", {"data": {"k": "v"}}, "test")
        store.delete(store.find(*CMS), "default", "deleted")
        store.create(store.find(*CMS), "default", configmap("new"), "test")
        assert cluster.drop_watches() == 1
        await eventually(lambda: (GONE, "deleted") in seen.events, timeout=5)
        again = seen.events[3:]
        assert sorted(again) == sorted([(LISTED, "kept"), (LISTED, "changed"), (LISTED, "new"), (GONE, "deleted")])
        assert seen.held[next(u for u, o in seen.held.items() if o["metadata"]["name"] == "changed")]["data"] == {
            "k": "v"
        }
        store.create(store.find(*CMS), "default", configmap("later"), "test")  # watched again, from the new list
        await eventually(lambda: ("ADDED", "later") in seen.events, timeout=5)
        assert seen.names() == ["changed", "kept", "later", "new"]
    finally:
        await stopped(informer, task)


async def test_an_event_larger_than_a_read_buffer_arrives_whole(cluster: DevCluster) -> None:
    store = cluster.cluster
    seen = Seen()
    informer, task = await started(cluster, seen)
    try:
        big = {"blob": "x" * 600_000}  # many reads of the stream, one line
        store.create(store.find(*CMS), "default", configmap("big", data=big), "test")
        await eventually(lambda: ("ADDED", "big") in seen.events, timeout=5)
        assert next(iter(seen.held.values()))["data"] == big
    finally:
        await stopped(informer, task)


async def test_a_failing_callback_neither_stops_the_watch_nor_the_clean_up(cluster: DevCluster) -> None:
    store = cluster.cluster
    seen = Seen()

    def deliver(type_: str | None, obj: dict[str, Any]) -> None:
        if obj["metadata"]["name"] == "poison":
            raise KeyError("a bug in a handler")
        seen.deliver(type_, obj)

    client = KubeClient(kopf.ConnectionInfo(server=cluster.url), user_agent="informer-test")
    informer = Informer(client, "ConfigMap", deliver, seen.known, selector=LABEL)
    await informer.list()
    task = asyncio.create_task(informer.run())
    try:
        store.create(store.find(*CMS), "default", configmap("poison"), "test")
        store.create(store.find(*CMS), "default", configmap("fine"), "test")
        await eventually(lambda: ("ADDED", "fine") in seen.events, timeout=5)
        assert not task.done()
    finally:
        await stop([task])  # raises nothing
        await client.close()


async def test_a_watch_that_ends_at_once_is_made_again_with_a_growing_pause() -> None:
    """A proxy that cuts every stream at once must not turn the informer into a busy loop."""
    watches = 0

    async def handle(request: web.Request) -> web.StreamResponse:
        nonlocal watches
        if request.query.get("watch") == "true":
            watches += 1
            return web.Response(body=b"", content_type="application/json")  # ends at once, no event
        return web.json_response({"kind": "ConfigMapList", "metadata": {"resourceVersion": "5"}, "items": []})

    app = web.Application()
    app.router.add_get("/api/v1/configmaps", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = KubeClient(kopf.ConnectionInfo(server=f"http://127.0.0.1:{port}"), user_agent="informer-test")
    informer = Informer(client, "ConfigMap", Seen().deliver, list, selector=LABEL)
    informer.retry = 0.05
    try:
        await informer.list()
        task = asyncio.create_task(informer.run())
        await asyncio.sleep(1.0)
        await stop([task])
        assert 3 <= watches <= 6  # 0.05 + 0.1 + 0.2 + 0.4 s of pauses in that second
    finally:
        await client.close()
        await runner.cleanup()
