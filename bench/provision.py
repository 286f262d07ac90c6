"""Provisioning throughput of the operator against the API-server emulator.

Three processes: the emulator (`landlord devcluster`), the operator (`landlord run`) and this
client. Prints tenants/s to Ready, API requests and writes per tenant, writes during a no-op
resync (must be 0), the time for a plan edit to reach every tenant, the operator's peak RSS,
and the emulator's raw write rate measured in the same run, with the ratio to that ceiling.

    python bench/provision.py --tenants 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "operator"))

from landlord.api.schemas import all_crds  # noqa: E402

TENANTS = "/apis/landlord.dev/v1alpha1/tenants"
PLANS = "/apis/landlord.dev/v1alpha1/plans"
DRIFT_INTERVAL = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.own = 0  # this client's requests, subtracted from the server's counts

    async def call(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        data = None if body is None else json.dumps(body)
        self.own += 1
        async with self.session.request(
            method, self.base + path, data=data, headers={"Content-Type": content_type}
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: {response.status} {text[:300]}")
            return json.loads(text) if text.startswith("{") else text

    async def writes(self) -> tuple[int, int]:
        text = await self.call("GET", "/metrics")
        total = sum(int(v) for v in re.findall(r'requests_total\{method="[A-Z]+"\} (\d+)', text))
        writes = int(re.search(r"write_requests_total (\d+)", text).group(1))
        return total, writes


async def spawn(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "landlord",
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def wait_http(session: aiohttp.ClientSession, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def plan(cpu: str) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Plan",
        "metadata": {"name": "bench"},
        "spec": {
            "limits": {"cpu": cpu, "memory": "1Gi", "storage": "5Gi", "pods": 10, "users": 3},
            "features": ["crm"],
            "pricing": {"currency": "EUR", "prices": {"Monthly": "10.00"}},
        },
    }


RESELLER = {
    "apiVersion": "landlord.dev/v1alpha1",
    "kind": "Reseller",
    "metadata": {"name": "bench"},
    "spec": {"baseDomain": "apps.reseller.example", "allocation": {"tenants": 100000, "limits": {"cpu": "100000"}}},
}


def tenant(index: int, reseller: bool = False) -> dict[str, Any]:
    owner = {"name": "Bench", "email": "bench@example.com", "subjects": [{"kind": "User", "name": f"u{index}@x.com"}]}
    spec: dict[str, Any] = {"plan": "bench", "owner": owner}
    if reseller:
        spec["reseller"] = "bench"
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": f"tenant-{index:05d}"},
        "spec": spec,
    }


async def pool(count: int, concurrency: int, job: Any) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            await job(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def main(count: int, concurrency: int, reseller: bool) -> None:
    port, liveness = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        config = Path(tmp) / "config.yaml"
        config.write_text(yaml.safe_dump({"driftInterval": DRIFT_INTERVAL, "workers": 8}))
        server = await spawn("devcluster", "--port", str(port), "--kubeconfig", str(kubeconfig), env=env)
        operator = None
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency + 4)) as session:
                await wait_http(session, base + "/healthz")
                api = Api(session, base)
                for crd in all_crds():
                    await api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
                await api.call("POST", PLANS, plan("1"))
                if reseller:
                    await api.call("POST", "/apis/landlord.dev/v1alpha1/resellers", RESELLER)
                operator = await spawn(
                    "run",
                    "--standalone",
                    "--config",
                    str(config),
                    "--liveness",
                    f"http://127.0.0.1:{liveness}/healthz",
                    env={**env, "KUBECONFIG": str(kubeconfig)},
                )
                await wait_http(session, f"http://127.0.0.1:{liveness}/healthz")
                results = await measure(api, count, concurrency, reseller)
                results["operator peak RSS (MiB)"] = peak_rss_mib(operator.pid)
                results["emulator raw creates/s"] = await raw_rate(api, concurrency)
        finally:
            for process in (operator, server):
                if process is not None:
                    process.terminate()
                    await process.wait()
    ready_rate = results["tenants/s to Ready"]
    writes = results["API writes per tenant"]
    under = " under one reseller with an allocation" if reseller else ""
    print(f"Provisioning {count} tenants{under} (operator and emulator in separate processes, 2 cores)")
    for name, value in results.items():
        print(f"  {name:<38} {value:10.2f}")
    ratio = ready_rate * writes / results["emulator raw creates/s"]
    print(f"  {'operator write rate / emulator ceiling':<38} {ratio:10.2f}")


async def all_ready(api: Api, count: int, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = await api.call("GET", TENANTS)
        ready = sum(1 for t in listing["items"] if (t.get("status") or {}).get("phase") == "Active")
        if ready >= count:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("tenants did not become Active")


async def measure(api: Api, count: int, concurrency: int, reseller: bool) -> dict[str, float]:
    results: dict[str, float] = {}
    requests_before, writes_before = await api.writes()
    own_before = api.own
    started = time.perf_counter()
    await pool(count, concurrency, lambda i: api.call("POST", TENANTS, tenant(i, reseller)))
    await all_ready(api, count)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(DRIFT_INTERVAL / 2)
    own = api.own - own_before
    requests_after, writes_after = await api.writes()
    results["tenants/s to Ready"] = count / elapsed
    # The operator's share: this client's own creates, polling lists and metrics reads subtracted.
    results["API requests per tenant"] = (requests_after - requests_before - own) / count
    results["API writes per tenant"] = (writes_after - writes_before - count) / count
    await asyncio.sleep(DRIFT_INTERVAL * 1.5)
    _, quiet_before = await api.writes()
    await asyncio.sleep(DRIFT_INTERVAL * 2.5)  # at least two full drift passes over every tenant
    _, quiet_after = await api.writes()
    results["writes during no-op resync"] = quiet_after - quiet_before
    started = time.perf_counter()
    await api.call("PATCH", f"{PLANS}/bench", {"spec": {"limits": {"cpu": "2"}}}, "application/merge-patch+json")
    while True:
        quotas = await api.call("GET", "/api/v1/resourcequotas?labelSelector=landlord.dev%2Fplan%3Dbench")
        if sum(1 for q in quotas["items"] if q["spec"]["hard"].get("requests.cpu") == "2") >= count:
            break
        await asyncio.sleep(0.1)
    results["plan edit to all tenants (s)"] = time.perf_counter() - started
    return results


async def raw_rate(api: Api, concurrency: int, count: int = 2000) -> float:
    await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "raw"}})
    started = time.perf_counter()
    await pool(
        count,
        concurrency,
        lambda i: api.call("POST", "/api/v1/namespaces/raw/configmaps", {"metadata": {"name": f"c{i}"}}),
    )
    return count / (time.perf_counter() - started)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--reseller", action="store_true", help="all tenants under one reseller with an allocation")
    args = parser.parse_args()
    asyncio.run(main(args.tenants, args.concurrency, args.reseller))
