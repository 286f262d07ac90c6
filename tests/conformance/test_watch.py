"""Watch semantics: https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
and #watch-bookmarks, #semantics-for-watch."""

from __future__ import annotations

import asyncio

from landlord.devcluster import DevCluster
from tests.helpers import Http

CMS = "/api/v1/namespaces/default/configmaps"


async def test_watch_without_resource_version_starts_with_initial_events(http: Http) -> None:
    """No resourceVersion: synthetic ADDED events for every existing object, then changes."""
    await http.post(CMS, {"metadata": {"name": "a"}})
    await http.post(CMS, {"metadata": {"name": "b"}})
    async with http.watch(CMS) as stream:
        initial = await stream.collect(2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [("ADDED", "a"), ("ADDED", "b")]
        await http.patch(f"{CMS}/a", {"data": {"x": "1"}})
        event = await stream.next()
        assert event is not None and event["type"] == "MODIFIED" and event["object"]["data"] == {"x": "1"}
        assert event["object"]["kind"] == "ConfigMap" and event["object"]["apiVersion"] == "v1"


async def test_watch_from_resource_version_sends_only_later_events(http: Http) -> None:
    await http.post(CMS, {"metadata": {"name": "old"}})
    _, listing = await http.get(CMS)
    since = listing["metadata"]["resourceVersion"]
    await http.post(CMS, {"metadata": {"name": "new"}})
    await http.delete(f"{CMS}/old")
    async with http.watch(CMS, resourceVersion=since) as stream:
        events = await stream.collect(2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "new"), ("DELETED", "old")]
        assert int(events[1]["object"]["metadata"]["resourceVersion"]) > int(
            events[0]["object"]["metadata"]["resourceVersion"]
        )


async def test_watch_with_selector_turns_label_changes_into_added_and_deleted(http: Http) -> None:
    await http.post(CMS, {"metadata": {"name": "a", "labels": {"team": "x"}}})
    async with http.watch(CMS, labelSelector="team=x") as stream:
        assert (await stream.next())["type"] == "ADDED"
        await http.patch(f"{CMS}/a", {"metadata": {"labels": {"team": "y"}}})
        event = await stream.next()
        assert event is not None and event["type"] == "DELETED"
        await http.post(CMS, {"metadata": {"name": "ignored", "labels": {"team": "z"}}})
        await http.patch(f"{CMS}/a", {"metadata": {"labels": {"team": "x"}}})
        event = await stream.next()
        assert event is not None and event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "a"


async def test_watch_field_selector(http: Http) -> None:
    async with http.watch(CMS, fieldSelector="metadata.name=b", resourceVersion="1") as stream:
        await http.post(CMS, {"metadata": {"name": "a"}})
        await http.post(CMS, {"metadata": {"name": "b"}})
        event = await stream.next()
        assert event is not None and event["object"]["metadata"]["name"] == "b"


async def test_watch_timeout_closes_the_stream(http: Http) -> None:
    async with http.watch(CMS, timeoutSeconds=1, resourceVersion="1") as stream:
        started = asyncio.get_running_loop().time()
        assert await stream.next(timeout=5) is None
        assert asyncio.get_running_loop().time() - started < 3


async def test_bookmarks_when_allowed(http: Http) -> None:
    """allowWatchBookmarks: BOOKMARK events carry only the current resourceVersion."""
    async with http.watch(CMS, allowWatchBookmarks=True, timeoutSeconds=2, resourceVersion="1") as stream:
        event = await stream.next(timeout=5)
        assert event is not None and event["type"] == "BOOKMARK"
        assert event["object"]["kind"] == "ConfigMap"
        assert set(event["object"]["metadata"]) >= {"resourceVersion"}
    async with http.watch(CMS, timeoutSeconds=1, resourceVersion="1") as stream:
        assert await stream.next(timeout=5) is None  # no bookmarks unless asked


async def test_too_old_resource_version_is_410_gone() -> None:
    """A watch from a compacted resourceVersion gets an ERROR event with a 410 Status."""
    import aiohttp

    async with DevCluster(history=5) as cluster, aiohttp.ClientSession() as session:
        http = Http(cluster.url, session)
        for i in range(10):
            await http.post(CMS, {"metadata": {"name": f"c{i}"}})
        async with http.watch(CMS, resourceVersion="2") as stream:
            event = await stream.next()
            assert event is not None and event["type"] == "ERROR"
            assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
        _, listing = await http.get(CMS)
        async with http.watch(CMS, resourceVersion=listing["metadata"]["resourceVersion"]) as stream:
            await http.post(CMS, {"metadata": {"name": "fresh"}})
            event = await stream.next()
            assert event is not None and event["type"] == "ADDED"


async def test_watch_is_scoped_to_namespace_and_resource(http: Http) -> None:
    await http.post("/api/v1/namespaces", {"metadata": {"name": "other"}})
    async with http.watch(CMS, resourceVersion="1") as stream:
        await http.post("/api/v1/namespaces/other/configmaps", {"metadata": {"name": "elsewhere"}})
        await http.post("/api/v1/namespaces/default/secrets", {"metadata": {"name": "secret"}})
        await http.post(CMS, {"metadata": {"name": "here"}})
        event = await stream.next()
        assert event is not None and event["object"]["metadata"]["name"] == "here"


async def test_every_watch_sees_each_change_as_stored(http: Http) -> None:
    """Two watches of a kind get each stored change with its own resourceVersion, a namespace's
    finalize (`namespaces/NAME/finalize`) included; a watch opened later lists the object as it is
    now. (The emulator encodes an event once for all the watches of its kind.)"""
    namespaces = "/api/v1/namespaces"
    await http.post(namespaces, {"metadata": {"name": "seen"}})
    async with (
        http.watch(namespaces, fieldSelector="metadata.name=seen") as one,
        http.watch(namespaces, fieldSelector="metadata.name=seen") as two,
    ):
        _, labelled = await http.patch(f"{namespaces}/seen", {"metadata": {"labels": {"a": "b"}}})
        status, finalized = await http.put(
            f"{namespaces}/seen/finalize", {"metadata": {"name": "seen"}, "spec": {"finalizers": []}}
        )
        assert status == 200
        for stream in (one, two):
            events = [await stream.next() for _ in range(3)]
            assert [e["type"] for e in events if e] == ["ADDED", "MODIFIED", "MODIFIED"]
            _, changed, last = (e["object"] for e in events if e)
            assert changed["metadata"]["resourceVersion"] == labelled["metadata"]["resourceVersion"]
            assert last["metadata"]["resourceVersion"] == finalized["metadata"]["resourceVersion"]
            assert last["spec"].get("finalizers") == []
    async with http.watch(namespaces, fieldSelector="metadata.name=seen") as later:
        listed = await later.next()
        assert listed is not None and listed["object"]["metadata"] == finalized["metadata"]
