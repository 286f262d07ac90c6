"""Throughput of the API-server emulator: creates, patches, applies and watch fan-out.

The emulator runs as its own process (`landlord devcluster`), as the operator would see it;
this process is the client. Prints objects/s for each kind of write and events/s delivered to
watchers. Later benchmarks use these figures as the ceiling their operator work is measured
against.

    python bench/apiserver.py [--objects 2000] [--concurrency 16] [--watchers 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench.common

from bench.common import free_port, landlord_env, pool, spawn, wait_http  # noqa: E402

CRD = ROOT / "tests" / "fixtures" / "widgets-crd.yaml"
CMS = "/api/v1/namespaces/default/configmaps"
WIDGETS = "/apis/example.dev/v1/namespaces/default/widgets"


async def start_server(port: int, kubeconfig: str) -> asyncio.subprocess.Process:
    process = await spawn("devcluster", "--port", str(port), "--kubeconfig", kubeconfig, env=landlord_env())
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz", timeout=10)
    except RuntimeError:
        process.terminate()
        await process.wait()
        raise RuntimeError("the emulator did not start") from None
    return process


async def rate(count: int, concurrency: int, job: Callable[[int], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await pool(count, concurrency, job)
    return count / (time.perf_counter() - started)


async def main(objects: int, concurrency: int, watchers: int) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = await start_server(port, str(Path(tmp) / "kubeconfig"))
        try:
            connector = aiohttp.TCPConnector(limit=concurrency + watchers + 4)
            async with aiohttp.ClientSession(connector=connector) as session:
                results = await measure(session, base, objects, concurrency, watchers)
        finally:
            server.terminate()
            await server.wait()
    print(f"API-server emulator throughput ({objects} objects, concurrency {concurrency}, one client process)")
    width = max(len(k) for k in results)
    for name, value in results.items():
        print(f"  {name:<{width}}  {value:10.1f}")
    print(f"  ratio patch/create          {results['configmap patches/s'] / results['configmap creates/s']:10.2f}")
    print(
        f"  ratio CR create/configmap   {results['custom resource creates/s'] / results['configmap creates/s']:10.2f}"
    )


async def measure(
    session: aiohttp.ClientSession, base: str, objects: int, concurrency: int, watchers: int
) -> dict[str, float]:
    async def send(method: str, path: str, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, str) else json.dumps(body)
        async with session.request(method, base + path, data=data, headers={"Content-Type": content_type}) as r:
            await r.read()
            if r.status >= 400:
                raise RuntimeError(f"{method} {path}: {r.status} {await r.text()}")

    results: dict[str, float] = {}
    results["configmap creates/s"] = await rate(
        objects, concurrency, lambda i: send("POST", CMS, {"metadata": {"name": f"c{i}"}, "data": {"i": str(i)}})
    )
    results["configmap patches/s"] = await rate(
        objects,
        concurrency,
        lambda i: send("PATCH", f"{CMS}/c{i}", {"data": {"p": "1"}}, "application/merge-patch+json"),
    )

    def applied(i: int) -> str:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"a{i}"}, "data": {"i": str(i)}}
        return yaml.safe_dump(body)

    results["server-side applies/s"] = await rate(
        objects,
        concurrency,
        lambda i: send("PATCH", f"{CMS}/a{i}?fieldManager=bench", applied(i), "application/apply-patch+yaml"),
    )
    await send("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml.safe_load(CRD.read_text()))
    results["custom resource creates/s"] = await rate(
        objects,
        concurrency,
        lambda i: send(
            "POST",
            WIDGETS,
            {
                "apiVersion": "example.dev/v1",
                "kind": "Widget",
                "metadata": {"name": f"w{i}"},
                "spec": {"size": 1 + i % 50, "maxSize": 60, "code": "abc"},
            },
        ),
    )
    results["watch events delivered/s"] = await fan_out(session, base, send, objects, concurrency, watchers)
    return results


async def fan_out(
    session: aiohttp.ClientSession,
    base: str,
    send: Callable[[str, str, Any], Awaitable[None]],
    objects: int,
    concurrency: int,
    watchers: int,
) -> float:
    async with session.get(base + "/api/v1/namespaces/default/secrets") as r:
        since = (await r.json())["metadata"]["resourceVersion"]
    counts = [0] * watchers
    done = asyncio.Event()

    async def watch(index: int) -> None:
        url = f"{base}/api/v1/namespaces/default/secrets?watch=true&resourceVersion={since}"
        async with session.get(url) as response:
            async for _ in response.content:
                counts[index] += 1
                if all(c >= objects for c in counts):
                    done.set()
                if counts[index] >= objects:
                    return

    tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    await rate(
        objects,
        concurrency,
        lambda i: send("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": f"s{i}"}}),
    )
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    return objects * watchers / elapsed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--watchers", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.objects, args.concurrency, args.watchers))
