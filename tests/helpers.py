"""Shared test helpers: a small HTTP client for the emulator and a kopf runner in a thread."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from landlord.runner import KopfThread

FIXTURES = Path(__file__).parent / "fixtures"


def load_yaml(name: str) -> Any:
    return yaml.safe_load((FIXTURES / name).read_text())


class Http:
    """Raw HTTP against the API server: status codes and bodies exactly as served."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session
        self.last_headers: dict[str, str] = {}

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> tuple[int, Any]:
        data = None
        if body is not None:
            data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        hdrs = {"Content-Type": content_type, "User-Agent": "conformance-test/1.0", **(headers or {})}
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        async with self.session.request(method, self.url + path, data=data, headers=hdrs, params=query) as response:
            self.last_headers = dict(response.headers)
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        return await self.request("GET", path, **params)

    async def post(self, path: str, body: Any, **params: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body, **params)

    async def put(self, path: str, body: Any, **params: Any) -> tuple[int, Any]:
        return await self.request("PUT", path, body, **params)

    async def patch(self, path: str, body: Any, kind: str = "merge", **params: Any) -> tuple[int, Any]:
        content_type = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
            "apply": "application/apply-patch+yaml",
        }[kind]
        if kind == "apply" and not isinstance(body, str):
            body = yaml.safe_dump(body)
        return await self.request("PATCH", path, body, content_type=content_type, **params)

    async def delete(self, path: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        return await self.request("DELETE", path, body, **params)

    @asynccontextmanager
    async def watch(self, path: str, **params: Any) -> AsyncIterator[WatchStream]:
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        query["watch"] = "true"
        async with self.session.get(self.url + path, params=query) as response:
            yield WatchStream(response)


class WatchStream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """The next event, or None when the server closed the stream."""
        line = await asyncio.wait_for(self.response.content.readline(), timeout)
        if not line:
            return None
        event: dict[str, Any] = json.loads(line)
        return event

    async def collect(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        events = []
        for _ in range(count):
            event = await self.next(timeout)
            if event is None:
                break
            events.append(event)
        return events


async def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Polls an (async or sync) check until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        last = result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)


def kopf_thread(registry: Any) -> KopfThread:
    """A plain kopf operator (any registry) in a thread, cluster-wide and standalone."""
    import kopf

    return KopfThread(
        lambda stop, ready: kopf.operator(
            registry=registry, clusterwide=True, standalone=True, stop_flag=stop, ready_flag=ready
        )
    )
