"""Billing throughput: the pricing engine alone, then whole sidecar runs (`Biller.run()`).

Two parts, both measured in this one invocation:

1. The engine: N synthetic Tenants (monthly and yearly, an upgrade mid-period, add-on changes,
   coupons, a reseller-billed share, FR/DE/US billing parties, usage) priced against the
   repository's plans/ and addons/ with `prepare` + `price_invoice`. Prints invoices/s and the
   total of all invoices (a checksum: the work cannot be skipped).
2. The sidecar, end to end: the API-server emulator in its own process (`landlord devcluster`,
   as bench/provision.py runs it), a real Prometheus scraping an exporter with this month's
   usage of every tenant, and one `Biller.run()` with a clock on the first day of next month,
   at a small N and at N. Prints invoices written, invoices/s of the whole run, API writes and
   reads per invoice, the Prometheus queries of the run (equal at both sizes, else exit 1) and
   the writes of a second run with nothing to do (0, else exit 1).

Peak RSS of this process (`ru_maxrss`) is printed after each phase, with the engine phase's
growth per 1000 tenants.

    python bench/billing.py --tenants 10000 [--small 100] [--skip-full]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))  # tests.prometheus_server: the usage exporter; bench.common

from tests.prometheus_server import Series, UsageExporter, start_scraped  # noqa: E402

from bench.common import free_port, landlord_env, machine, peak_rss_mib, pool, rss_mib, spawn, wait_http  # noqa: E402
from landlord.api.schemas import all_crds  # noqa: E402
from landlord.billing import PricingError, prepare, price_invoice  # noqa: E402
from landlord.config import Config, parse  # noqa: E402
from landlord.devservices.prometheus import LocalPrometheus  # noqa: E402
from landlord.documents import load  # noqa: E402
from landlord.invoicing.run import Biller  # noqa: E402
from landlord.kube import KubeClient  # noqa: E402
from landlord.pipeline.catalogue import StaticCatalogue  # noqa: E402
from landlord.providers.usage import PrometheusUsageSource  # noqa: E402
from landlord.render.cluster import OPERATOR_NAMESPACE  # noqa: E402

GI = 2**30
API = "landlord.dev/v1alpha1"
RESELLER = "bench-reseller"
SCRAPE_INTERVAL = 1.0  # a scrape serves 3 samples per tenant: 30000 lines at N = 10000
BILLING: dict[str, Any] = {
    "seller": {"name": "Bench Hosting SAS", "country": "FR", "taxId": "FR40303265045", "address": "1 rue X, Paris"},
    "taxRates": {"FR": "20", "DE": "19"},
    "coupons": {"WELCOME10": {"percent": "10"}, "FIVEOFF": {"amount": "5.00", "currency": "EUR"}},
    "dueDays": 30,
}
PARTIES: tuple[dict[str, Any], ...] = (
    {"country": "FR", "taxId": "FR40303265045", "customerType": "Business"},  # 20 %
    {"country": "DE", "taxId": "DE123456789", "customerType": "Business"},  # reverse charge
    {"country": "US", "customerType": "Individual"},  # outside the EU: 0 %
    {"country": "FR", "customerType": "Charity"},  # the plan's customer-type discount
    {"country": "DE", "customerType": "Individual"},  # 19 %
)
PLANS = ("starter", "professional", "enterprise")
UPGRADES = {"starter": "professional", "professional": "enterprise"}


# -- measuring --------------------------------------------------------------------------------
def own_peak_rss_mib() -> float:
    """This process' peak RSS so far (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def first_of_next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, 0, 30, tzinfo=UTC)


# -- the catalogue and the synthetic tenants ---------------------------------------------------
def catalogue_bodies() -> list[dict[str, Any]]:
    """The repository's plans and add-ons, and one reseller billed for its tenants."""
    bodies: list[dict[str, Any]] = [d.body for d in load([ROOT / "plans", ROOT / "addons"]) if d.is_landlord]
    bodies.append(
        {
            "apiVersion": API,
            "kind": "Reseller",
            "metadata": {"name": RESELLER},
            "spec": {
                "displayName": "Bench Reseller",
                "discountPercent": 15,
                "baseDomain": "apps.reseller.example",
                "billing": {"country": "FR", "taxId": "FR40303265045", "customerType": "Business"},
                "allocation": {"tenants": 1000000},
            },
        }
    )
    return bodies


def tenant_spec(index: int, plan: str, cycle: str) -> dict[str, Any]:
    """The spec shared by both parts: party, coupon, reseller share, add-ons by index."""
    billing: dict[str, Any] = {"cycle": cycle, **PARTIES[index % len(PARTIES)]}
    if index % 4 == 0:
        billing["coupon"] = "WELCOME10"
    elif index % 9 == 1:
        billing["coupon"] = "FIVEOFF"
    spec: dict[str, Any] = {
        "plan": plan,
        "owner": {"name": f"Owner {index}", "email": f"owner{index}@example.com"},
        "billing": billing,
    }
    if index % 7 == 3:
        spec["reseller"] = RESELLER  # billed to the reseller, with its discount and its party
    if index % 3 != 2:
        spec["addOns"] = [{"name": "extra-users-5", "quantity": 1 + index % 3}]
        if index % 5 == 0:
            spec["addOns"].append({"name": "priority-support", "quantity": 1})
    return spec


def engine_case(index: int) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(Tenant, period, usage) for the engine: a closed period in the past, fixed (a stable checksum)."""
    yearly = index % 5 == 4
    cycle, period = ("Yearly", "2024") if yearly else ("Monthly", "2025-06")
    created = datetime(2024, 1, 1, 9, tzinfo=UTC) + timedelta(days=index % 300, minutes=index % 1440)
    # Mid-period: June 4th-18th for the monthly tenants, November for the yearly ones (after creation).
    middle = datetime(2024, 11, 3, tzinfo=UTC) if yearly else datetime(2025, 6, 4, 9, 30, tzinfo=UTC)
    middle += timedelta(days=index % 15)
    first = PLANS[index % 3]
    upgrade = index % 2 == 0 and first in UPGRADES
    last = UPGRADES[first] if upgrade else first
    tenant: dict[str, Any] = {
        "apiVersion": API,
        "kind": "Tenant",
        "metadata": {"name": f"tenant-{index:05d}", "creationTimestamp": stamp(created)},
        "spec": tenant_spec(index, last, cycle),
    }
    history = [{"plan": first, "since": stamp(created + timedelta(seconds=5))}]
    if upgrade:
        history.append({"plan": last, "since": stamp(middle)})
    status: dict[str, Any] = {"planHistory": history}
    addons = tenant["spec"].get("addOns")
    if addons and index % 2 == 1:  # add-ons changed mid-period: one pack less before
        before = [{"name": "extra-users-5", "quantity": 1}] if addons[0]["quantity"] > 1 else []
        status["addOnHistory"] = [
            {"since": stamp(created + timedelta(seconds=5)), "addOns": before},
            {"since": stamp(middle + timedelta(days=3)), "addOns": addons},
        ]
    if index % 6 == 5:
        tenant["spec"]["billing"]["skipTrial"] = True
    tenant["status"] = status
    usage = {
        "meters": {"storage": (100 + index * 37 % 700) * GI, "traffic": (50 + index % 120) * GI},
        "seats": {"total": 3 + index % 25},
    }
    return tenant, period, usage


@dataclass
class EngineResult:
    invoices: int = 0
    empty: int = 0  # priced with no line (trial only)
    failed: int = 0
    lines: int = 0
    total: Decimal = Decimal(0)
    prepare_s: float = 0.0
    price_s: float = 0.0
    elapsed: float = 0.0
    rss_before: float = 0.0
    peak_after: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)


def engine(count: int, config: Config) -> EngineResult:
    result = EngineResult(rss_before=rss_mib())
    catalogue = StaticCatalogue(catalogue_bodies())
    cases = [engine_case(i) for i in range(count)]
    clock = time.perf_counter
    started = clock()
    for tenant, period, usage in cases:
        t0 = clock()
        try:
            prepared = prepare(tenant, catalogue, usage, config.billing, period)
        except PricingError as exc:
            result.failed += 1
            if result.failed <= 3:
                print(f"  {tenant['metadata']['name']}: {exc.issues}", file=sys.stderr)
            continue
        t1 = clock()
        invoice = price_invoice(prepared.input)
        t2 = clock()
        result.prepare_s += t1 - t0
        result.price_s += t2 - t1
        if invoice.lines:
            result.invoices += 1
        else:
            result.empty += 1
        result.lines += len(invoice.lines)
        result.total += invoice.total
        result.kinds["billed yearly"] += len(period) == 4
        result.kinds["billed to the reseller"] += "reseller" in tenant["spec"]
        result.kinds["reverse charge"] += invoice.reverse_charge
        result.kinds["with discounts"] += bool(invoice.discounts)
        result.kinds["with a seats line"] += any(line.kind == "seats" for line in invoice.lines)
        result.kinds["with a metered line"] += any(line.kind == "metered" for line in invoice.lines)
        result.kinds["prorated (2+ plan lines)"] += sum("plan," in line.description for line in invoice.lines) > 1
    result.elapsed = clock() - started
    result.peak_after = own_peak_rss_mib()
    return result


# -- the sidecar against the emulator and Prometheus -------------------------------------------
def usage_series(count: int, now: datetime) -> list[Series]:
    """This month's usage of tenants 0..count-1, two points each, all before now."""
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    early = max(start + timedelta(seconds=1), now - timedelta(minutes=20))
    late = now - timedelta(seconds=30)
    series: list[Series] = []
    for index in range(count):
        name = f"tenant-{index:05d}"
        storage = (100 + index * 37 % 700) * GI  # over enterprise's 500Gi for some: metered lines
        series.append(
            Series(
                "landlord_tenant_usage",
                {"tenant": name, "resource": "storage"},
                ((early, storage / 2), (late, storage)),
            )
        )
        users = 4 + index % 20
        series.append(
            Series("landlord_tenant_usage", {"tenant": name, "resource": "users"}, ((early, users), (late, users - 1)))
        )
        database = (1 + index % 15) * GI
        series.append(
            Series(
                "landlord_tenant_usage",
                {"tenant": name, "resource": "databaseStorage"},
                ((early, database), (late, database)),
            )
        )
    return series


def start_prometheus(count: int, now: datetime) -> tuple[LocalPrometheus, UsageExporter, float]:
    reason = LocalPrometheus.available()
    if reason is not None:
        raise SystemExit(f"a real Prometheus is needed for the full run ({reason}); or pass --skip-full")
    began = time.monotonic()
    prometheus, exporter = start_scraped(usage_series(count, now), scrape_interval=SCRAPE_INTERVAL, timeout=60)
    return prometheus, exporter, time.monotonic() - began


def full_tenant(index: int) -> dict[str, Any]:
    """A Tenant billed Monthly for this month (created now), paying from day one."""
    plan = "professional" if index % 3 == 0 else PLANS[index % 3]  # index % 3 == 0: upgraded from starter
    spec = tenant_spec(index, plan, "Monthly")
    spec["billing"]["skipTrial"] = True  # else a period of trial days only: nothing to invoice
    return {"apiVersion": API, "kind": "Tenant", "metadata": {"name": f"tenant-{index:05d}"}, "spec": spec}


async def setup(client: KubeClient, count: int, concurrency: int, upgrade_at: datetime) -> float:
    """CRDs, the catalogue and `count` Tenants; a third of them upgraded later this month. Returns the seconds."""
    for crd in all_crds():
        await client.apply(crd)
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}})
    for body in catalogue_bodies():
        await client.create(body)
    started = time.perf_counter()

    async def make(index: int) -> None:
        created = await client.create(full_tenant(index))
        if index % 3 == 0:  # starter -> professional on `upgrade_at`: two prorated plan lines
            since = created["metadata"]["creationTimestamp"]
            history = [{"plan": "starter", "since": since}, {"plan": "professional", "since": stamp(upgrade_at)}]
            await client.patch(
                "Tenant", created["metadata"]["name"], {"status": {"planHistory": history}}, subresource="status"
            )

    await pool(count, concurrency, make)
    return time.perf_counter() - started


async def full_run(count: int, prometheus_url: str, config: Config, concurrency: int) -> dict[str, float]:
    began = time.perf_counter()
    port = free_port()
    env = landlord_env()
    now = datetime.now(UTC)
    clock_at = first_of_next_month(now)
    last_day = clock_at.replace(hour=0, minute=0) - timedelta(days=1)
    upgrade_at = min(now + timedelta(days=2), last_day).replace(hour=9, minute=30, second=0, microsecond=0)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        server = await spawn("devcluster", "--port", str(port), "--kubeconfig", str(kubeconfig), env=env)
        try:
            await wait_http(f"http://127.0.0.1:{port}/healthz")
            setup_client = KubeClient.from_kubeconfig(kubeconfig, user_agent="bench-setup")
            try:
                setup_s = await setup(setup_client, count, concurrency, upgrade_at)
                out["setup: tenants created/s"] = count / setup_s
            finally:
                await setup_client.close()
            client = KubeClient.from_kubeconfig(kubeconfig, user_agent="landlord-billing")
            source = PrometheusUsageSource(
                {k: v for k, v in config.raw["metricsSource"].items() if k != "provider"} | {"url": prometheus_url}
            )
            biller = Biller(client, config, OPERATOR_NAMESPACE, source, clock=lambda: clock_at)
            try:
                started = time.perf_counter()
                report = await biller.run()
                elapsed = time.perf_counter() - started
                counts = dict(client.counts)
                client.counts.clear()
                peak_after_run = own_peak_rss_mib()  # before the checks below list every invoice here too
                started = time.perf_counter()
                again = await biller.run()
                rerun_s = time.perf_counter() - started
                rerun = dict(client.counts)
            finally:
                await client.close()
            checker = KubeClient.from_kubeconfig(kubeconfig, user_agent="bench-check")
            try:  # the usage reached the invoices: seats or metered lines ("... beyond the N included")
                stored = await checker.list("Invoice")
            finally:
                await checker.close()
            with_usage = sum(any(" beyond the " in x["description"] for x in i["spec"]["lines"]) for i in stored)
            written = len(report.invoices)
            out["invoices written"] = written
            out["tenants failed"] = len(report.failed)
            out["run time (s)"] = elapsed
            out["invoices/s, whole run"] = written / elapsed
            out["API writes per invoice"] = counts.get("writes", 0) / max(written, 1)
            out["API reads per invoice"] = counts.get("reads", 0) / max(written, 1)
            out["Prometheus queries in the run"] = report.queries
            out["invoices with usage lines"] = with_usage
            out["invoiced total (EUR)"] = float(sum(report.amounts.values()))
            out["rerun: invoices written"] = len(again.invoices)
            out["rerun: API writes"] = rerun.get("writes", 0)
            out["rerun: API reads"] = rerun.get("reads", 0)
            out["rerun time (s)"] = rerun_s
            out["emulator peak RSS (MiB)"] = peak_rss_mib(server.pid)
            out["bench peak RSS after the run (MiB)"] = peak_after_run
            if report.failed:
                first = next(iter(report.failed.items()))
                print(f"  {len(report.failed)} tenant(s) failed, e.g. {first[0]}: {first[1]}", file=sys.stderr)
        finally:
            server.terminate()
            await server.wait()
    out["wall time, emulator start to stop (s)"] = time.perf_counter() - began
    return out


# -- the report ----------------------------------------------------------------------------------
def print_engine(count: int, result: EngineResult) -> None:
    per_invoice = result.elapsed / max(count, 1) * 1e6
    growth = (result.peak_after - result.rss_before) / count * 1000
    rows: list[tuple[str, str]] = [
        ("tenants priced", f"{count}"),
        ("invoices with lines", f"{result.invoices}"),
        ("priced, nothing to charge (trial)", f"{result.empty}"),
        ("failed (PricingError)", f"{result.failed}"),
        ("lines", f"{result.lines}"),
        ("invoices/s (prepare + price)", f"{count / result.elapsed:.0f}"),
        ("  of which prepare (%)", f"{100 * result.prepare_s / result.elapsed:.0f}"),
        ("  of which price_invoice (%)", f"{100 * result.price_s / result.elapsed:.0f}"),
        ("microseconds per tenant", f"{per_invoice:.0f}"),
        ("checksum: total of all invoices (EUR)", f"{result.total}"),
        *((f"  {kind}", f"{n}") for kind, n in sorted(result.kinds.items())),
        ("RSS before the phase (MiB)", f"{result.rss_before:.1f}"),
        ("peak RSS after the phase (MiB)", f"{result.peak_after:.1f}"),
        ("RSS growth per 1000 tenants (MiB)", f"{growth:.2f}"),
    ]
    print(f"Pricing engine, {count} synthetic tenants (one process, {machine()})")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>14}")


def print_full(sizes: list[int], results: list[dict[str, float]], prometheus_s: float) -> None:
    print()
    print(
        "Billing sidecar, one Biller.run() (emulator in its own process, real Prometheus, "
        f"{os.cpu_count()} CPU(s); Prometheus ready with all samples in {prometheus_s:.1f} s)"
    )
    names = list(results[0])
    width = max(len(n) for n in names)
    print(f"  {'':<{width}}  " + "  ".join(f"{f'N = {n}':>12}" for n in sizes))
    for name in names:
        cells = []
        for result in results:
            value = result[name]
            cells.append(f"{value:>12.0f}" if float(value).is_integer() else f"{value:>12.2f}")
        print(f"  {name:<{width}}  " + "  ".join(cells))


async def full(sizes: list[int], config: Config, concurrency: int) -> tuple[list[dict[str, float]], float]:
    prometheus, exporter, ready = await asyncio.to_thread(start_prometheus, max(sizes), datetime.now(UTC))
    try:
        results = [await full_run(n, prometheus.url, config, concurrency) for n in sizes]
    finally:
        await asyncio.to_thread(prometheus.stop)
        exporter.stop()
    return results, ready


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--small", type=int, default=100, help="the small N of the full run (queries must be equal)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent creates while setting up")
    parser.add_argument("--skip-full", action="store_true", help="only the engine (no emulator, no Prometheus)")
    args = parser.parse_args()
    began = time.perf_counter()
    config = parse(
        {
            "metrics": {"port": 0},
            "billing": BILLING,
            "metricsSource": {"provider": "prometheus", "url": "http://127.0.0.1:9"},
        }
    )
    result = engine(args.tenants, config)
    print_engine(args.tenants, result)
    failures: list[str] = []
    if result.failed:
        failures.append(f"{result.failed} tenant(s) could not be priced")
    if not args.skip_full:
        sizes = sorted({min(args.small, args.tenants), args.tenants})
        results, ready = asyncio.run(full(sizes, config, args.concurrency))
        print_full(sizes, results, ready)
        queries = {r["Prometheus queries in the run"] for r in results}
        if len(queries) != 1:
            failures.append(f"the Prometheus queries depend on the tenant count: {sorted(queries)}")
        for size, r in zip(sizes, results, strict=True):
            if r["rerun: API writes"]:
                failures.append(f"N = {size}: the rerun with nothing to do wrote {r['rerun: API writes']:.0f} time(s)")
            if r["invoices written"] != size:
                failures.append(f"N = {size}: {r['invoices written']:.0f} invoice(s) written, not {size}")
    print(f"\n  peak RSS of this process at the end (MiB): {own_peak_rss_mib():.1f}")
    print(f"  wall time of the benchmark (s): {time.perf_counter() - began:.0f}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
