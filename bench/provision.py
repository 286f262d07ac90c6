"""Provisioning throughput of the operator against the API-server emulator.

Three processes: the emulator (`landlord devcluster`), the operator (`landlord run`) and this
client. For N tenants (and for a small N, default 100, in the same invocation, each with its own
emulator and operator) it prints one table:

- tenants/s to Ready; API requests and writes per tenant, and the writes per kind of object
  (counted from a watch on every kind Landlord speaks, opened before the tenants are created:
  each stored change is one watch event; a Tenant's are split by what changed: status,
  finalizers, annotations...); the write requests that stored no change;
- writes during a no-op resync (must be 0), over at least two drift passes (counted from the
  operator's `landlord_reconciles_total`);
- the time for a plan edit to reach every tenant;
- a restart of the operator with N settled tenants: SIGTERM, wait, start again; the time to its
  first reconcile (from process start until `landlord_reconciles_total` first increases), to
  settled (work queue empty and no reconcile for 2 s), the writes made (must be 0), and its
  liveness probe (every 0.5 s, 1 s timeout): time to the first success, failures after it;
- the operator's peak RSS, its RSS when N/4, N/2 and N tenants are Ready and the slope of a line
  through them, and its RSS sampled every drift interval over three intervals with nothing to do;
- the emulator's raw write rate measured at the end of the same run, and the operator's write
  rate as a fraction of that ceiling;
- then, with the operator stopped, its writes replayed: for each settled tenant a copy
  (`replay-NNNNN`) created and given, by this client, the requests the operator made for it (its
  finalizer, namespace, server-side applies of the children as stored, status and Event), 16
  tenants at a time. That is the emulator's ceiling for this mix of writes (validation, managed
  fields, quota admission), which a bare ConfigMap's create does not pay; the operator's write
  rate is printed as a fraction of it too.

With `--replicas R` (R > 1) the operator is R processes, `landlord run --shard K/R` for K in
0..R-1, each with its own liveness and metrics port and a Lease per shard (in the namespace
`landlord-system`, created for them), against the same emulator. The emulator's counts and the
watches are global; reconciles are summed over the replicas' metrics; RSS is per replica (the
largest, and the sum); the restart stops every replica, starts them all again, and waits for
every replica (that owns a tenant) to reconcile and for all of them to settle, probing each
one's liveness. The Lease writes (renewals every third of the Lease's duration, the release at
a stop and the take-over at a start) are counted from the watch and left out of the no-op
resync's, the plan edit's and the restart's writes (printed on their own rows).

Exits 1 if the no-op resync or the restart wrote anything.

    python bench/provision.py --tenants 1000 [--small 100] [--replicas R] [--reseller]
        [--profile-restart FILE] [--profile-plan-edit FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))  # bench.common

from bench.common import (  # noqa: E402
    cpu_seconds,
    free_port,
    landlord_env,
    machine,
    peak_rss_mib,
    pool,
    rss_mib,
    spawn,
    wait_http,
)
from landlord.api.schemas import all_crds  # noqa: E402
from landlord.kinds import CHILD_KINDS, KINDS  # noqa: E402
from landlord.render.cluster import OPERATOR_NAMESPACE  # noqa: E402
from landlord.render.view import TENANT_LABEL  # noqa: E402
from landlord.sharding import Shard  # noqa: E402

TENANTS = "/apis/landlord.dev/v1alpha1/tenants"
PLANS = "/apis/landlord.dev/v1alpha1/plans"
DRIFT_INTERVAL = 2.0  # the operator's `driftInterval` (config file) while tenants are provisioned
RESTART_DRIFT_INTERVAL = 3600.0  # after the restart: no drift pass, so that "settled" can be seen
SETTLED_QUIET = 2.0  # seconds without a reconcile (and an empty queue) that count as settled
PROBE_EVERY = 0.5
PROBE_TIMEOUT = 1.0
QUOTA_CONTROLLER = "ResourceQuota update: status"  # the emulator's quota controller, not a request
NO_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=None)
# With several replicas: each shard's Lease (`sharding.leaseDuration`), renewed every third of it.
# Longer than the default 15 s, so that fewer renewals fall into what is measured; a clean stop
# releases it, so the restart does not wait for it to expire.
LEASE_DURATION = 60.0


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

    async def counters(self) -> tuple[int, int, int]:
        """The emulator's requests served, write requests served, and stored changes."""
        text = await self.call("GET", "/metrics")
        total = sum(int(v) for v in re.findall(r'requests_total\{method="[A-Z]+"\} (\d+)', text))
        return total, _counter(text, "write_requests_total"), _counter(text, "stored_changes_total")

    async def writes(self) -> int:
        return (await self.counters())[1]


def _counter(text: str, name: str) -> int:
    match = re.search(rf"{name} (\d+)", text)
    if match is None:
        raise RuntimeError(f"the emulator's /metrics has no {name}")
    return int(match.group(1))


# -- the operator ---------------------------------------------------------------------------------
def write_config(path: Path, drift: float, metrics_port: int, sharded: bool = False) -> None:
    config: dict[str, Any] = {"driftInterval": drift, "workers": 8, "metrics": {"port": metrics_port}}
    if sharded:
        config["sharding"] = {"leaseDuration": LEASE_DURATION}
    path.write_text(yaml.safe_dump(config))


class OperatorMetrics:
    """The operator's /metrics. `reconciles()` asks for that one counter only (prometheus_client's
    `name[]` filter): the per-tenant families are not rendered, so polling it costs the operator
    little; `state()` renders everything (queue depth, indexes ready) and is read sparingly."""

    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.url = f"http://127.0.0.1:{port}/metrics"

    async def _get(self, query: str = "") -> str | None:
        try:
            async with self.session.get(self.url + query, timeout=aiohttp.ClientTimeout(total=5)) as response:
                return await response.text() if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def reconciles(self) -> float | None:
        text = await self._get("?name[]=landlord_reconciles_total")
        return None if text is None else _sum(text, "landlord_reconciles_total")

    async def state(self) -> dict[str, float] | None:
        text = await self._get()
        if text is None:
            return None
        names = ("landlord_reconciles_total", "landlord_workqueue_depth", "landlord_indexes_ready")
        return {name: _sum(text, name) for name in names}

    async def requests(self) -> dict[str, float]:
        """The operator's API requests by method (`landlord_api_requests`)."""
        text = await self._get() or ""
        found = re.findall(r'^landlord_api_requests_total\{method="([A-Z]+)"\} (\S+)$', text, re.MULTILINE)
        return {method: float(value) for method, value in found}


def _sum(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE))


@dataclass
class Replica:
    """One `landlord run` process: shard K of R (no `--shard` with one replica), with its own
    configuration file, metrics port and liveness URL."""

    shard: str | None
    tag: str  # "" with one replica, "-K" with several: in file names
    config: Path
    metrics_port: int
    liveness: str
    metrics: OperatorMetrics
    process: asyncio.subprocess.Process | None = None

    @property
    def args(self) -> tuple[str, ...]:
        args = ("run", "--standalone", "--config", str(self.config), "--liveness", self.liveness)
        return args if self.shard is None else (*args, "--shard", self.shard)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def name(self) -> str:
        return "the operator" if self.shard is None else f"replica {self.shard}"


@dataclass
class Operators:
    """The operator's replicas against one emulator; `processes` (the run's) gets each process started."""

    replicas: list[Replica]
    env: dict[str, str]
    processes: list[asyncio.subprocess.Process]

    @classmethod
    def make(
        cls,
        count: int,
        tmp: Path,
        session: aiohttp.ClientSession,
        env: dict[str, str],
        processes: list[asyncio.subprocess.Process],
    ) -> Operators:
        replicas = []
        for index in range(count):
            liveness_port, metrics_port = free_port(), free_port()
            tag = "" if count == 1 else f"-{index}"
            replicas.append(
                Replica(
                    None if count == 1 else f"{index}/{count}",
                    tag,
                    tmp / f"config{tag}.yaml",
                    metrics_port,
                    f"http://127.0.0.1:{liveness_port}/healthz",
                    OperatorMetrics(session, metrics_port),
                )
            )
        return cls(replicas, env, processes)

    @property
    def many(self) -> bool:
        return len(self.replicas) > 1

    def configure(self, drift: float) -> None:
        for replica in self.replicas:
            write_config(replica.config, drift, replica.metrics_port, sharded=self.many)

    async def start(self, logs: Path | None = None, stem: str = "") -> None:
        """Starts every replica (stderr into `logs/<stem><tag>.log`, or discarded), all at once."""
        for replica in self.replicas:
            log = None if logs is None else logs / f"{stem}{replica.tag}.log"
            replica.process = await spawn(*replica.args, env=self.env, log=log, as_image=True)
            self.processes.append(replica.process)

    async def stop(self) -> list[str]:
        """SIGTERM to every replica, then waits for each (60 s, then SIGKILL): the ones killed."""
        running = [(r, r.process) for r in self.replicas if r.process is not None and r.process.returncode is None]
        for _, process in running:
            process.send_signal(signal.SIGTERM)

        async def stopped(process: asyncio.subprocess.Process) -> bool:
            try:
                await asyncio.wait_for(process.wait(), 60)
                return True
            except TimeoutError:
                process.kill()
                await process.wait()
                return False

        done = await asyncio.gather(*(stopped(process) for _, process in running))
        return [replica.name for (replica, _), ok in zip(running, done, strict=True) if not ok]

    def exited(self) -> Replica | None:
        return next((r for r in self.replicas if r.process is not None and r.process.returncode is not None), None)

    async def reconciles_each(self) -> list[float | None]:
        return list(await asyncio.gather(*(r.metrics.reconciles() for r in self.replicas)))

    async def reconciles(self) -> float | None:
        """`landlord_reconciles_total` summed over the replicas (None when one did not answer)."""
        each = await self.reconciles_each()
        return None if any(value is None for value in each) else sum(value or 0.0 for value in each)

    async def states(self) -> list[dict[str, float] | None]:
        return list(await asyncio.gather(*(r.metrics.state() for r in self.replicas)))

    async def requests(self) -> dict[str, float]:
        total: Counter[str] = Counter()
        for by_method in await asyncio.gather(*(r.metrics.requests() for r in self.replicas)):
            total.update(by_method)
        return dict(total)

    def rss(self) -> list[float]:
        return [rss_mib(r.pid) for r in self.replicas]

    def peak_rss(self) -> list[float]:
        return [peak_rss_mib(r.pid) for r in self.replicas]

    def cpu(self) -> float:
        """CPU seconds used so far by all replicas."""
        return sum(cpu_seconds(r.pid) for r in self.replicas)


def named(name: str, many: bool, what: str) -> str:
    """A row's name: as is with one replica; with several, `what` added before its unit."""
    if not many:
        return name
    head, sep, unit = name.rpartition(" (")
    return f"{head}, {what} ({unit}" if sep and unit.endswith(")") else f"{name}, {what}"


def rss_rows(spec: Run, name: str, values: list[float]) -> None:
    """One RSS figure per replica: as is with one, the largest and the sum with several."""
    if len(values) == 1:
        spec.results[name] = values[0]
    else:
        spec.results[named(name, True, "largest replica")] = max(values)
        spec.results[named(name, True, "sum over replicas")] = sum(values)


def owners(count: int, replicas: int) -> set[int]:
    """The shards that own at least one of the tenants 0..count-1."""
    shards = [Shard(k, replicas) for k in range(replicas)]
    names = (tenant(i)["metadata"]["name"] for i in range(count))
    return {next(k for k, shard in enumerate(shards) if shard.owns(name)) for name in names}


def lease_changes(counts: Counter[str]) -> int:
    """The Lease writes among stored changes (the shards' Leases: renewals, release, take-over)."""
    return sum(n for key, n in counts.items() if key.startswith("Lease "))


def without_leases(counts: Counter[str]) -> Counter[str]:
    return Counter({key: n for key, n in counts.items() if not key.startswith("Lease ")})


# -- watching what is written ---------------------------------------------------------------------
def _digest(value: Any) -> str:
    return hashlib.blake2b(json.dumps(value, sort_keys=True).encode(), digest_size=8).hexdigest()


IGNORED_META = {"resourceVersion", "managedFields", "generation"}
META_PARTS = ("finalizers", "annotations", "labels", "ownerReferences", "deletionTimestamp")


def sections(obj: dict[str, Any]) -> dict[str, str]:
    """A digest of each part of an object a write can change (not the whole object: 10000 tenants)."""
    meta = obj.get("metadata") or {}
    parts = {k: _digest(v) for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}
    for key in META_PARTS:
        if key in meta:
            parts[f"metadata.{key}"] = _digest(meta[key])
    rest = {k: v for k, v in meta.items() if k not in IGNORED_META and k not in META_PARTS}
    parts["metadata (other)"] = _digest(rest)
    return parts


def changed(old: dict[str, str] | None, new: dict[str, str]) -> str:
    if old is None:
        return "? (first seen modified)"
    names = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    return "+".join(names) or "managedFields only"


@dataclass
class Watches:
    """A watch on every kind Landlord reads or writes, from one resourceVersion on: counts each
    stored change by kind and what it changed, follows the tenants' phases and the quotas' cpu."""

    session: aiohttp.ClientSession
    base: str
    counts: Counter[str] = field(default_factory=Counter)
    last: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)
    active: int = 0
    quota_cpu: dict[tuple[str, str], str] = field(default_factory=dict)
    on_active: list[Callable[[int], None]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        for kind in KINDS.values():
            async with self.session.get(self.base + kind.path()) as response:
                if response.status == 404:
                    continue  # not served by the emulator (no such CRD installed)
                listing = await response.json()
            for obj in listing["items"]:  # what exists already (the Plan): its updates are classified too
                meta = obj["metadata"]
                self.last[(kind.kind, str(meta.get("namespace") or ""), str(meta["name"]))] = sections(obj)
            since = listing["metadata"]["resourceVersion"]
            self.tasks.append(asyncio.create_task(self._watch(kind.kind, kind.path(), since)))
        await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _watch(self, kind: str, path: str, since: str) -> None:
        while True:
            url = f"{self.base}{path}?watch=true&resourceVersion={since}"
            async with self.session.get(url, timeout=NO_TIMEOUT) as response:
                async for line in response.content:
                    event = json.loads(line)
                    if event["type"] == "ERROR":
                        raise RuntimeError(f"watch of {kind}: {event['object']}")
                    since = event["object"]["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._seen(kind, event["type"], event["object"])

    def _seen(self, kind: str, kind_of_event: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = (kind, str(meta.get("namespace") or ""), str(meta["name"]))
        now = sections(obj)
        if kind_of_event == "ADDED":
            self.counts[f"{kind} create"] += 1
            self.last[key] = now
        elif kind_of_event == "DELETED":
            self.counts[f"{kind} delete"] += 1
            self.last.pop(key, None)
        else:
            self.counts[f"{kind} update: {changed(self.last.get(key), now)}"] += 1
            self.last[key] = now
        if kind == "Tenant":
            phase = (obj.get("status") or {}).get("phase") if kind_of_event != "DELETED" else None
            before = self.phases.get(key[2])
            self.phases[key[2]] = str(phase)
            if phase == "Active" and before != "Active":
                self.active += 1
                for callback in self.on_active:
                    callback(self.active)
            elif before == "Active" and phase != "Active":
                self.active -= 1
        elif kind == "ResourceQuota" and (meta.get("labels") or {}).get("landlord.dev/plan"):
            self.quota_cpu[key[1:]] = str(((obj.get("spec") or {}).get("hard") or {}).get("requests.cpu"))

    def snapshot(self) -> Counter[str]:
        return Counter(self.counts)

    async def until(self, check: Callable[[], bool], what: str, timeout: float = 3600) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            for task in self.tasks:
                if task.done():
                    task.result()  # a failed watch: its error
                    raise RuntimeError("a watch ended")
            await asyncio.sleep(0.05)


# -- the objects ----------------------------------------------------------------------------------
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


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- one run --------------------------------------------------------------------------------------
@dataclass
class Run:
    count: int
    concurrency: int
    reseller: bool
    drift: float
    profile: Path | None
    profile_plan_edit: Path | None = None
    replicas: int = 1
    results: dict[str, float | str] = field(default_factory=dict)
    breakdown: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)  # stopped at the end


async def run(spec: Run) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = landlord_env()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        operator_env = {**env, "KUBECONFIG": str(kubeconfig)}
        server = await spawn("devcluster", "--port", str(port), "--kubeconfig", str(kubeconfig), env=env)
        spec.processes.append(server)
        # Each replica beyond the first: its liveness probe and its metrics polled at once.
        connector = aiohttp.TCPConnector(limit=spec.concurrency + len(KINDS) + 16 + 2 * (spec.replicas - 1))
        try:
            async with aiohttp.ClientSession(connector=connector, read_bufsize=2**22) as session:
                await wait_http(base + "/healthz", session=session)
                api = Api(session, base)
                for crd in all_crds():
                    await api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
                # The owners' ClusterRoles, as the README installs them (without them every reconcile
                # reads the missing role again and reports ClusterRoleMissing).
                for role in yaml.safe_load_all((ROOT / "crds" / "landlord-rbac.yaml").read_text()):
                    await api.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", role)
                await api.call("POST", PLANS, plan("1"))
                if spec.reseller:
                    await api.call("POST", "/apis/landlord.dev/v1alpha1/resellers", RESELLER)
                # The operator's namespace, as crds/landlord-admission.yaml makes it in a cluster: the key of
                # namespace claims is kept there (and the shards' Leases).
                namespace = operator_env.get("LANDLORD_NAMESPACE") or OPERATOR_NAMESPACE
                await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
                operators = Operators.make(spec.replicas, Path(tmp), session, operator_env, spec.processes)
                operators.configure(spec.drift)
                await operators.start()
                for replica in operators.replicas:
                    await wait_http(replica.liveness, session=session)
                watches = Watches(session, base)
                await watches.start()
                try:
                    await provision(spec, api, watches, operators)
                    rss_rows(spec, "operator peak RSS (MiB)", operators.peak_rss())
                    await quiet(spec, api, watches, operators)
                    await plan_edit(spec, api, watches, operators)
                    operators.configure(RESTART_DRIFT_INTERVAL)
                    await restart(spec, api, watches, operators, Path(tmp))
                    rss_rows(spec, "operator peak RSS after the restart (MiB)", operators.peak_rss())
                finally:
                    await watches.stop()
                spec.results["emulator raw creates/s (best of 3 rounds)"] = await raw_rate(api, spec.concurrency)
                await operators.stop()  # it would reconcile the copies
                rate, busy = await replay_rate(api, spec.count, spec.processes[0].pid)
                spec.results[REPLAYED] = rate
                spec.results["  emulator CPU busy while replaying (cores)"] = busy
        finally:
            for process in reversed(spec.processes):  # the operator before the emulator
                if process.returncode is None:
                    process.terminate()
                    await process.wait()
    ready_rate = float(spec.results["tenants/s to Ready"])
    writes = float(spec.results["API writes per tenant"])
    operator_rate = ready_rate * writes
    spec.results["operator write rate / emulator ceiling"] = operator_rate / float(
        spec.results["emulator raw creates/s (best of 3 rounds)"]
    )
    replayed = float(spec.results[REPLAYED])
    spec.results["operator write rate / the same writes replayed"] = (
        operator_rate / replayed if replayed else float("nan")
    )


async def provision(spec: Run, api: Api, watches: Watches, operators: Operators) -> None:
    count = spec.count
    marks = {max(1, count // 4): "N/4", max(1, count // 2): "N/2", count: "N"}
    rss: dict[str, list[float]] = {}  # per replica
    at: dict[str, int] = {}

    def sample(active: int) -> None:
        if active in marks:
            rss[marks[active]] = operators.rss()
            at[marks[active]] = active

    watches.on_active.append(sample)
    progress(f"N = {count}: creating the tenants")
    requests_before, writes_before, stored_before = await api.counters()
    counts_before = watches.snapshot()
    own_before = api.own
    emulator = spec.processes[0].pid
    reconciles_before = await operators.reconciles()
    cpu_before = (operators.cpu(), cpu_seconds(emulator), cpu_seconds())
    started = time.perf_counter()
    await pool(count, spec.concurrency, lambda i: api.call("POST", TENANTS, tenant(i, spec.reseller)))
    await watches.until(lambda: watches.active >= count, "every tenant Active")
    elapsed = time.perf_counter() - started
    cpu_used = [
        after - before
        for after, before in zip((operators.cpu(), cpu_seconds(emulator), cpu_seconds()), cpu_before, strict=True)
    ]
    reconciles_after = await operators.reconciles()
    watches.on_active.remove(sample)
    await asyncio.sleep(max(1.0, spec.drift / 2))  # the Events written after the last transition
    own = api.own - own_before
    requests_after, writes_after, stored_after = await api.counters()
    results = spec.results
    results["tenants/s to Ready"] = count / elapsed
    # The operator's share: this client's own creates, and its reads (metrics) subtracted.
    results["API requests per tenant"] = (requests_after - requests_before - own) / count
    results["API writes per tenant"] = (writes_after - writes_before - count) / count
    breakdown = watches.snapshot() - counts_before
    breakdown["Tenant create"] -= count  # this client's
    breakdown = +breakdown
    spec.breakdown = breakdown
    watched = sum(breakdown.values())
    requested = watched - breakdown[QUOTA_CONTROLLER]
    stored = stored_after - stored_before - count
    results["stored changes per tenant (emulator's count)"] = stored / count
    results["  of which seen by the watches"] = watched / count
    results["  of which the quota controller's (RQ status)"] = breakdown[QUOTA_CONTROLLER] / count
    unchanged = writes_after - writes_before - count - requested
    results["write requests that stored no change, /tenant"] = unchanged / count
    # Where the machine's time went while the tenants were made: what bounds tenants/s.
    who = "all replicas" if operators.many else "the operator"
    results[f"CPU ms per tenant, {who}"] = 1000 * cpu_used[0] / count
    results["CPU ms per tenant, the emulator"] = 1000 * cpu_used[1] / count
    results["CPU ms per tenant, this client"] = 1000 * cpu_used[2] / count
    results["  CPU busy while provisioning (cores)"] = sum(cpu_used) / elapsed
    results["reconciles per tenant while provisioning"] = (
        (reconciles_after - reconciles_before) / count
        if reconciles_after is not None and reconciles_before is not None
        else float("nan")
    )
    many = operators.many
    sampled = [m for m in ("N/4", "N/2", "N") if m in rss]
    # With several replicas: the one largest at the last mark, its RSS at each mark and its slope.
    largest = max(range(len(operators.replicas)), key=lambda k: rss[sampled[-1]][k]) if sampled else 0
    for mark in ("N/4", "N/2", "N"):
        row = named(f"operator RSS at {mark} Ready (MiB)", many, "largest replica")
        results[row] = rss[mark][largest] if mark in rss else float("nan")
    xs = [at[m] for m in sampled]
    ys = [rss[m][largest] for m in sampled]
    results[named("operator RSS slope per 1000 tenants (MiB)", many, "largest replica")] = slope(xs, ys) * 1000
    progress(f"N = {count}: {count} tenants Active in {elapsed:.1f} s")


def slope(xs: list[int], ys: list[float]) -> float:
    """Least-squares slope of y over x (nan with fewer than two distinct x)."""
    if len(set(xs)) < 2:
        return float("nan")
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)


async def quiet(spec: Run, api: Api, watches: Watches, operators: Operators) -> None:
    """Nothing to do: writes over at least two drift passes over every tenant, RSS every interval.
    With several replicas: their reconciles summed, the Lease writes not counted, the RSS of the
    replica largest at the end."""
    many = operators.many
    await asyncio.sleep(spec.drift * 1.5)
    # The end of provisioning first: at N = 10000 the last tenants' Ready status and Event come
    # seconds after every tenant is Active. The window starts once nothing was written for two
    # drift intervals (the drift passes themselves write nothing).
    settle_deadline = time.monotonic() + max(120.0, spec.count * 0.05)
    last = await api.writes() - lease_changes(watches.snapshot())
    while time.monotonic() < settle_deadline:
        await asyncio.sleep(spec.drift * 2)
        now = await api.writes() - lease_changes(watches.snapshot())
        if now == last:
            break
        last = now
    writes_before = await api.writes()
    counts_before = watches.snapshot()
    reconciles_before = await operators.reconciles() or 0.0
    samples = [operators.rss()]
    for _ in range(3):
        await asyncio.sleep(spec.drift)
        samples.append(operators.rss())
    deadline = time.monotonic() + max(600.0, spec.count * 0.2)
    while (await operators.reconciles() or 0.0) - reconciles_before < 2 * spec.count:
        if time.monotonic() > deadline:
            spec.failures.append(f"N = {spec.count}: fewer than two drift passes in the no-op window")
            break
        await asyncio.sleep(spec.drift / 2)
    reconciles = (await operators.reconciles() or 0.0) - reconciles_before
    leases = lease_changes(watches.snapshot() - counts_before)
    written = await api.writes() - writes_before - leases
    spec.results["writes during no-op resync"] = written
    if many:
        spec.results["  Lease writes in that window (not counted above)"] = leases
    spec.results[named("  reconciles in that window / N", many, "all replicas")] = reconciles / spec.count
    largest = max(range(len(operators.replicas)), key=lambda k: samples[-1][k])
    mine = [sample[largest] for sample in samples]
    every = f"RSS every drift interval ({spec.drift:g} s)" + (", largest replica" if many else "") + ", MiB"
    spec.results[every] = " / ".join(f"{s:.0f}" for s in mine)
    spec.results[named("RSS growth over three drift intervals (MiB)", many, "largest replica")] = mine[-1] - mine[0]
    if written:
        kinds = without_leases(watches.snapshot() - counts_before)
        spec.failures.append(f"N = {spec.count}: the no-op resync wrote {written} time(s): {dict(kinds)}")


async def start_profiler(spec: Run, path: Path, pid: int) -> asyncio.subprocess.Process:
    """py-spy record (raw, non-blocking) of process `pid` into `path`, until sent SIGINT."""
    profiler = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(path),
        "--pid",
        str(pid),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    spec.processes.append(profiler)
    return profiler


async def plan_edit(spec: Run, api: Api, watches: Watches, operators: Operators) -> None:
    """The Plan's cpu limit changed: until every tenant's quota has it (seen by the watches)."""
    count = spec.count
    profiler = None
    if spec.profile_plan_edit is not None:  # the first replica's (shard 0's) process
        profiler = await start_profiler(spec, spec.profile_plan_edit, operators.replicas[0].pid)
        await asyncio.sleep(0.5)  # attached before the edit
    writes_before = await api.writes()
    counts_before = watches.snapshot()
    started = time.perf_counter()
    await api.call("PATCH", f"{PLANS}/bench", {"spec": {"limits": {"cpu": "2"}}}, "application/merge-patch+json")

    def reached() -> bool:
        return sum(1 for cpu in watches.quota_cpu.values() if cpu == "2") >= count

    await watches.until(reached, "the plan edit to reach every tenant")
    spec.results["plan edit to all tenants (s)"] = time.perf_counter() - started
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        await profiler.wait()
    await asyncio.sleep(1.0)
    leases = lease_changes(watches.snapshot() - counts_before)
    spec.results["  writes per tenant for it"] = (await api.writes() - writes_before - 1 - leases) / count
    if operators.many:
        spec.results["  Lease writes meanwhile (not counted above)"] = leases
    progress(f"N = {count}: plan edit reached every tenant")


@dataclass
class Probes:
    started: float
    first_success: float | None = None
    sent: int = 0
    failed_after_success: int = 0

    def record(self, ok: bool, sent_at: float) -> None:
        if ok:
            if self.first_success is None or sent_at < self.first_success:
                self.first_success = sent_at
        elif self.first_success is not None and sent_at > self.first_success:
            self.failed_after_success += 1  # (a failure before the first success: still starting)


async def probe_liveness(session: aiohttp.ClientSession, url: str, probes: Probes, stop: asyncio.Event) -> None:
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)

    async def once() -> None:
        sent_at = time.monotonic()
        try:
            async with session.get(url, timeout=timeout) as response:
                await response.read()
                ok = response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        probes.record(ok, sent_at)

    pending: set[asyncio.Task[None]] = set()
    tick = probes.started
    while not stop.is_set():
        probes.sent += 1
        task = asyncio.create_task(once())
        pending.add(task)
        task.add_done_callback(pending.discard)
        tick += PROBE_EVERY
        await asyncio.sleep(max(0.0, tick - time.monotonic()))
    await asyncio.gather(*pending)


async def restart(spec: Run, api: Api, watches: Watches, operators: Operators, tmp: Path) -> None:
    """SIGTERM to every replica, wait, start them all again (no drift pass now), follow them until
    settled: every replica that owns a tenant has reconciled, and none has for SETTLED_QUIET with
    every work queue empty."""
    results = spec.results
    count = spec.count
    many = operators.many
    replicas = operators.replicas
    expected = owners(count, len(replicas))
    writes_before = await api.writes()
    counts_before = watches.snapshot()
    stopping = time.monotonic()
    for killed in await operators.stop():
        spec.failures.append(f"N = {count}: {killed} did not stop within 60 s of SIGTERM (killed)")
    results[named("restart: stop after SIGTERM (s)", many, "all replicas")] = time.monotonic() - stopping
    if many:
        progress(f"N = {count}: {len(replicas)} replicas stopped; starting them again")
    else:
        progress(f"N = {count}: operator stopped; starting it again")
    started = time.monotonic()
    await operators.start(tmp, "restart")
    profiler = None
    if spec.profile is not None:  # the first replica's (shard 0's) process
        profiler = await start_profiler(spec, spec.profile, replicas[0].pid)
    probes = [Probes(started) for _ in replicas]
    stop = asyncio.Event()
    probers = [
        asyncio.create_task(probe_liveness(api.session, replica.liveness, replica_probes, stop))
        for replica, replica_probes in zip(replicas, probes, strict=True)
    ]
    indexed_at = settled_at = None
    first: list[float | None] = [None for _ in replicas]  # each replica's first reconcile
    last_change = started
    last_value = 0.0
    deadline = started + max(600.0, count * 0.5)
    while settled_at is None:
        now = time.monotonic()
        if now > deadline:
            what = "replicas" if many else "operator"
            spec.failures.append(f"N = {count}: the restarted {what} did not settle in {now - started:.0f} s")
            break
        exited = operators.exited()
        if exited is not None:
            assert exited.process is not None
            log = tmp / f"restart{exited.tag}.log"
            tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-20:])
            what = f"replica {exited.shard}" if many else "operator"
            raise RuntimeError(f"the restarted {what} exited ({exited.process.returncode}):\n{tail}")
        if indexed_at is None:
            states = await operators.states()
            if all(state is not None and state["landlord_indexes_ready"] >= 1 for state in states):
                indexed_at = now
            values = [state["landlord_reconciles_total"] if state is not None else 0.0 for state in states]
        else:
            values = [value or 0.0 for value in await operators.reconciles_each()]
        for k, value in enumerate(values):
            if value > 0 and first[k] is None:
                first[k] = now
        value = sum(values)
        if value != last_value:
            last_value, last_change = value, now
        elif all(first[k] is not None for k in expected) and now - last_change >= SETTLED_QUIET:
            answered = [state for state in await operators.states() if state is not None]
            if len(answered) == len(replicas) and sum(a["landlord_workqueue_depth"] for a in answered) == 0:
                total = sum(a["landlord_reconciles_total"] for a in answered)
                if total == last_value:
                    settled_at = last_change  # the last reconcile ended then
                else:
                    last_value, last_change = total, time.monotonic()
        await asyncio.sleep(0.1 if indexed_at is not None else 0.25)
    stop.set()
    await asyncio.gather(*probers)
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        await profiler.wait()
    leases = lease_changes(watches.snapshot() - counts_before)
    written = await api.writes() - writes_before - leases
    by_method = await operators.requests()  # new processes: their requests since they started
    await asyncio.sleep(0.5)
    restart_writes = without_leases(+(watches.snapshot() - counts_before))
    results[named("  operator requests GET/POST/PUT/PATCH/DELETE", many, "all replicas")] = "/".join(
        f"{by_method.get(m, 0):.0f}" for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
    )
    stored = "  stored changes during the restart" + (" (Leases not counted)" if many else "")
    results[stored] = sum(restart_writes.values())
    results[named("restart to indexes listed (s)", many, "every replica")] = _since(started, indexed_at)
    reached = [first[k] for k in sorted(expected)]
    if many:
        earliest = min((moment for moment in first if moment is not None), default=None)
        every = None if None in reached else max(moment for moment in reached if moment is not None)
        results["restart to first reconcile, first replica (s)"] = _since(started, earliest)
        results["restart to first reconcile, every replica (s)"] = _since(started, every)
    else:
        results["restart to first reconcile (s)"] = _since(started, first[0])
    results[named("restart to settled (s)", many, "all replicas")] = _since(started, settled_at)
    results[named("  reconciles until settled / N", many, "all replicas")] = last_value / count
    results["  writes during the restart"] = written
    if many:
        results["  Lease writes during the restart (not counted above)"] = leases
    successes = [p.first_success for p in probes]
    alive = None if None in successes else max(moment for moment in successes if moment is not None)
    results[named("  liveness: first success after start (s)", many, "last replica")] = _since(started, alive)
    results[named("  liveness: probes sent", many, "all replicas")] = sum(p.sent for p in probes)
    failures_after = sum(p.failed_after_success for p in probes)
    results[named("  liveness: failures after the first success", many, "all replicas")] = failures_after
    if written:
        spec.failures.append(
            f"N = {count}: the restart wrote {written} time(s): "
            + ", ".join(f"{k} {v}" for k, v in restart_writes.most_common())
            + " stored; the others stored no change"
        )
    progress(f"N = {count}: restarted {'replicas' if many else 'operator'} settled")


def _since(started: float, moment: float | None) -> float:
    return float("nan") if moment is None else moment - started


REPLAYED = "the operator's writes replayed without it (writes/s)"
REPLAY_CONCURRENCY = 16  # enough to keep the emulator busy (the operator runs 4 workers)
APPLY = "application/apply-patch+yaml"  # a JSON body is YAML too
MERGE = "application/merge-patch+json"


@dataclass
class Replayed:
    """What the operator wrote for one tenant, as a new tenant (`replay-NNNNN`) would be given it."""

    tenant: dict[str, Any]
    namespace: dict[str, Any]
    children: list[tuple[str, dict[str, Any]]]  # (REST path of the object, the applied object)
    status: dict[str, Any]
    event: dict[str, Any] | None


async def replay_rate(api: Api, count: int, emulator: int) -> tuple[float, float]:
    """The operator's writes for `count` new tenants sent with no operator: the same requests (a
    Tenant created by the client, then the operator's finalizer, namespace, server-side applies of
    the children, status and Event), made from what the operator stored for the settled tenants,
    `REPLAY_CONCURRENCY` tenants at a time. The emulator's ceiling for this mix of writes (schema
    and CEL validation, managed fields, quota admission and status), where the raw ceiling is a
    bare ConfigMap's create: operator writes per second (a tenant's Tenant create not counted,
    as in the operator's rate), and the emulator's CPU busy meanwhile (cores: near 1, it is what
    bounds the rate). Run with the operator stopped (it would reconcile the copies)."""
    replays = await _replays(api, count)
    writes = 0

    async def one(index: int) -> None:
        nonlocal writes
        replay = replays[index]
        created = await api.call("POST", TENANTS, replay.tenant)
        name = created["metadata"]["name"]
        finalizers = {"metadata": {"finalizers": ["landlord.dev/tenant-cleanup"]}}
        await api.call("PATCH", f"{TENANTS}/{name}?fieldManager=landlord", finalizers, MERGE)
        await api.call("POST", "/api/v1/namespaces?fieldManager=landlord", replay.namespace)
        writes += 2
        for path, obj in replay.children:
            await api.call("PATCH", f"{path}?fieldManager=landlord", obj, APPLY)
            writes += 1
        await api.call("PATCH", f"{TENANTS}/{name}/status?fieldManager=landlord", {"status": replay.status}, MERGE)
        writes += 1
        if replay.event is not None:
            event = {
                **replay.event,
                "involvedObject": {**replay.event["involvedObject"], "uid": created["metadata"]["uid"]},
            }
            await api.call("POST", "/api/v1/namespaces/default/events", event)
            writes += 1

    cpu_before, started = cpu_seconds(emulator), time.perf_counter()
    await pool(len(replays), REPLAY_CONCURRENCY, one)
    elapsed = time.perf_counter() - started
    return writes / elapsed, (cpu_seconds(emulator) - cpu_before) / elapsed


def operators_part(obj: dict[str, Any], manager: str = "landlord") -> dict[str, Any]:
    """What `manager` wrote of a stored object: the fields its `managedFields` entries name (the
    server's defaults and what others wrote left out), so that a replay sends what it sent."""
    owned: dict[str, Any] = {}
    for entry in obj["metadata"].get("managedFields") or []:
        if entry.get("manager") == manager and not entry.get("subresource"):
            owned = _merged(owned, entry.get("fieldsV1") or {})
    return dict(_pick(obj, owned))


def _merged(one: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    out = dict(one)
    for part, sub in other.items():
        out[part] = _merged(out.get(part, {}), sub)
    return out


def _pick(value: Any, fields: dict[str, Any]) -> Any:
    """The part of `value` that a fieldsV1 tree names (`f:` keys, `k:` list elements by their
    keys, `v:` set elements; a leaf is the whole value)."""
    if not fields or set(fields) == {"."}:
        return value
    if isinstance(value, dict):
        return {
            k: _pick(value[k], sub)
            for part, sub in fields.items()
            if part.startswith("f:") and (k := part[2:]) in value
        }
    if isinstance(value, list):
        out = []
        for element in value:
            for part, sub in fields.items():
                if part.startswith("k:") and all(element.get(k) == v for k, v in json.loads(part[2:]).items()):
                    out.append(_pick(element, sub))
                elif part.startswith("v:") and json.loads(part[2:]) == element:
                    out.append(element)
        return out
    return value


async def _replays(api: Api, count: int) -> list[Replayed]:
    """The settled tenants' objects as the operator wrote them, renamed `tenant-` -> `replay-`."""
    children: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    namespaces: dict[str, dict[str, Any]] = {}
    for kind in CHILD_KINDS:  # in the operator's order: the namespace first
        target = KINDS[kind]
        for obj in (await api.call("GET", f"{target.path()}?labelSelector={TENANT_LABEL}"))["items"]:
            meta = obj["metadata"]
            applied = {"apiVersion": target.api_version, "kind": kind, **operators_part(obj)}
            applied["metadata"] = {**applied.get("metadata", {}), "name": meta["name"]}
            if "namespace" in meta:
                applied["metadata"]["namespace"] = meta["namespace"]
            owner = meta["labels"][TENANT_LABEL]
            if kind == "Namespace":
                namespaces[owner] = applied
            else:
                children.setdefault(owner, []).append((target.path(meta.get("namespace"), meta["name"]), applied))
    events = {
        e["involvedObject"].get("name"): e
        for e in (await api.call("GET", "/api/v1/namespaces/default/events"))["items"]
        if e["involvedObject"].get("kind") == "Tenant"
    }
    replays: list[Replayed] = []
    for tenant_obj in sorted((await api.call("GET", TENANTS))["items"], key=lambda t: t["metadata"]["name"]):
        name = tenant_obj["metadata"]["name"]
        if name not in namespaces or len(replays) == count:
            continue
        new_name = "replay" + name.removeprefix("tenant")

        def renamed(value: Any, name: str = name, new_name: str = new_name) -> Any:
            return json.loads(json.dumps(value).replace(name, new_name))

        event = events.get(name)
        if event is not None:
            event = {k: v for k, v in event.items() if k not in ("metadata", "firstTimestamp", "lastTimestamp")}
            event["metadata"] = {"generateName": f"{name}."}
        replays.append(
            Replayed(
                renamed(
                    {
                        "apiVersion": tenant_obj["apiVersion"],
                        "kind": "Tenant",
                        "metadata": {"name": name},
                        "spec": tenant_obj["spec"],
                    }
                ),
                renamed(namespaces[name]),
                [(renamed(path), renamed(obj)) for path, obj in children.get(name, [])],
                renamed(tenant_obj.get("status") or {}),
                renamed(event),
            )
        )
    return replays


async def raw_rate(api: Api, concurrency: int, count: int = 2000, rounds: int = 3) -> float:
    """ConfigMap creates per second, the best of `rounds` rounds of `count` (a ceiling: one round
    varied from 2800 to 4700/s between runs on the 2-core machine)."""
    await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "raw"}})
    best = 0.0
    for round_ in range(rounds):

        def create(i: int, prefix: str = f"c{round_}-") -> Awaitable[Any]:
            return api.call("POST", "/api/v1/namespaces/raw/configmaps", {"metadata": {"name": f"{prefix}{i}"}})

        started = time.perf_counter()
        await pool(count, concurrency, create)
        best = max(best, count / (time.perf_counter() - started))
    return best


# -- the report -----------------------------------------------------------------------------------
def cell(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if value != value:  # nan
        return "-"
    return f"{value:.0f}" if (float(value).is_integer() and abs(value) >= 1) or value == 0 else f"{value:.2f}"


def report(runs: list[Run], reseller: bool) -> None:
    under = " under one reseller with an allocation" if reseller else ""
    replicas = runs[0].replicas
    if replicas == 1:
        processes = "emulator, operator and this client in separate processes"
    else:
        processes = (
            f"emulator, {replicas} operator replicas (landlord run --shard K/{replicas}, Lease duration "
            f"{LEASE_DURATION:g} s) and this client in separate processes"
        )
    print(f"Provisioning{under}: {processes}; {machine(load_average=True)}")
    rows = list(runs[-1].results)
    kinds = sorted({k for r in runs for k in r.breakdown}, key=lambda k: (k == QUOTA_CONTROLLER, k))
    table: list[tuple[str, list[str]]] = []
    for name in rows:
        table.append((name, [cell(r.results.get(name, float("nan"))) for r in runs]))
        if name == "API writes per tenant":
            table.append(("  stored changes per tenant, by kind:", ["" for _ in runs]))
            for kind in kinds:
                label = f"    {kind}" + (" (emulator)" if kind == QUOTA_CONTROLLER else "")
                table.append((label, [cell(r.breakdown.get(kind, 0) / r.count) for r in runs]))
    width = max(len(name) for name, _ in table)
    cells = max(12, *(len(c) for _, row in table for c in row))
    print(f"  {'':<{width}}  " + "  ".join(f"{f'N = {r.count}':>{cells}}" for r in runs))
    for name, row in table:
        print(f"  {name:<{width}}  " + "  ".join(f"{c:>{cells}}" for c in row))


GENERIC_FRAMES = ("<frozen ", "asyncio/", "runpy", "landlord/__main__.py", "landlord/cli.py", "threading.py")


def profile_summary(path: Path, top: int = 15, what: str = "Restart") -> None:
    """The restart's py-spy samples (raw: one stack and its count a line, busy threads only):
    the share spent importing modules, the functions with most samples below them (inclusive)
    and the innermost frames (self)."""
    total = importing = 0
    inclusive: Counter[str] = Counter()
    innermost: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        samples = int(number)
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        total += samples
        if any(frame.startswith("_find_and_load ") for frame in frames):
            importing += samples
        for frame in set(frames):
            if not any(generic in frame for generic in GENERIC_FRAMES):
                inclusive[frame] += samples
        innermost[frames[-1]] += samples
    if not total:
        print(f"\n{what} profile: no samples in {path}")
        return
    print(f"\n{what} profile (py-spy, {total} samples of a busy thread, 100/s; {path}):")
    print(f"  importing modules: {100 * importing / total:.0f} %")
    print("  inclusive (the function and what it calls):")
    for frame, samples in inclusive.most_common(top):
        print(f"    {100 * samples / total:5.1f} %  {frame}")
    print("  innermost frame (self):")
    for frame, samples in innermost.most_common(top // 2):
        print(f"    {100 * samples / total:5.1f} %  {frame}")


async def main(args: argparse.Namespace) -> int:
    sizes = sorted({min(args.small, args.tenants), args.tenants})
    runs = []
    for size in sizes:
        profile = args.profile_restart if size == args.tenants else None
        edit_profile = args.profile_plan_edit if size == args.tenants else None
        spec = Run(size, args.concurrency, args.reseller, args.drift, profile, edit_profile, args.replicas)
        await run(spec)
        runs.append(spec)
    report(runs, args.reseller)
    if args.profile_restart is not None:
        profile_summary(args.profile_restart)
    if args.profile_plan_edit is not None:
        profile_summary(args.profile_plan_edit, what="Plan edit")
    failures = [f for r in runs for f in r.failures]
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--small", type=int, default=100, help="the small N measured in the same invocation")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="R",
        help="operator processes, landlord run --shard K/R for K in 0..R-1 (default 1: one, unsharded)",
    )
    parser.add_argument("--drift", type=float, default=DRIFT_INTERVAL, help="the operator's driftInterval (s)")
    parser.add_argument("--reseller", action="store_true", help="all tenants under one reseller with an allocation")
    parser.add_argument(
        "--profile-restart",
        type=Path,
        metavar="FILE",
        help="py-spy record (raw, non-blocking) the restarted operator until settled, into FILE "
        "(with several replicas: the first, shard 0)",
    )
    parser.add_argument(
        "--profile-plan-edit",
        type=Path,
        metavar="FILE",
        help="py-spy record (raw, non-blocking) the operator from the plan edit until it reached every tenant "
        "(with several replicas: the first, shard 0)",
    )
    arguments = parser.parse_args()
    if not 1 <= arguments.replicas <= 999:
        parser.error("--replicas: 1 to 999 (a shard is K/N with N of at most 3 digits)")
    sys.exit(asyncio.run(main(arguments)))
