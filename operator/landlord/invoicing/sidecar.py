"""`landlord billing`: runs the billing pass every `billing.interval`, serves metrics and probes.

After a failed run it retries sooner (one minute, doubling up to the interval), so that a
Prometheus or API server back up is billed within minutes. `/readyz` answers 200 once the first run has
completed (failures are for the metrics and the alert); `/healthz` answers 503 when a run hangs.
The metric names are the ones `alerts/landlord-rules.yaml` (LandlordBillingRunFailed) reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime

import kopf
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..config import Config
from ..kube import KubeClient, login_default
from ..providers import load_providers
from ..providers.objectstorage import ObjectStorage
from ..providers.usage import UsageSource
from .run import Biller, RunFailed, RunReport

logger = logging.getLogger(__name__)

FIRST_RETRY = 60.0


class BillingMetrics:
    """The sidecar's own series, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # 0 until a run succeeds: a sidecar that crashes before its first success, again and again,
        # is "no success for 26 hours" for the alert, not a fresh start each time.
        self.last_success = Gauge(
            "landlord_billing_last_success_timestamp_seconds", "When the last run succeeded.", registry=r
        )
        self.last_failure = Gauge(
            "landlord_billing_last_failure_timestamp_seconds", "When the last run failed.", registry=r
        )
        self.failures = Counter("landlord_billing_run_failures", "Billing runs that failed.", registry=r)
        self.runs = Counter("landlord_billing_runs", "Billing runs, successful or not.", registry=r)
        self.invoices = Counter("landlord_billing_invoices_written", "Invoices written.", registry=r)
        self.amounts = Counter(
            "landlord_billing_invoiced_amount", "Total of the invoices written, by currency.", ["currency"], registry=r
        )
        self.invoice_failures = Counter(
            "landlord_billing_invoice_failures", "Tenant periods that could not be priced (see Events).", registry=r
        )
        self.archived = Counter("landlord_billing_invoices_archived", "Invoices moved to object storage.", registry=r)
        self.queries = Counter("landlord_billing_usage_queries", "Queries made to the usage source.", registry=r)
        self.duration = Histogram(
            "landlord_billing_run_duration_seconds",
            "Time a billing run took.",
            buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
            registry=r,
        )

    def record(self, report: RunReport, seconds: float) -> None:
        self.runs.inc()
        self.duration.observe(seconds)
        self.last_success.set(time.time())
        self.invoices.inc(len(report.invoices))
        for currency, amount in report.amounts.items():
            self.amounts.labels(currency).inc(float(amount))
        self.invoice_failures.inc(len(report.failed))
        self.archived.inc(len(report.archived))
        self.queries.inc(report.queries)

    def failed(self, seconds: float) -> None:
        self.runs.inc()
        self.duration.observe(seconds)
        self.failures.inc()
        self.last_failure.set(time.time())


class Sidecar:
    """The loop and its HTTP endpoints."""

    def __init__(self, biller: Biller, interval: float, metrics: BillingMetrics | None = None) -> None:
        self.biller = biller
        self.interval = interval
        self.metrics = metrics or BillingMetrics()
        self.completed_once = False
        self.last_failed = False
        self.running_since: float | None = None  # monotonic start of the run under way
        self.stuck_after = max(2 * interval, 1800.0)  # a run longer than this is stuck: /healthz fails

    async def run_once(self) -> RunReport | None:
        started = self.running_since = time.monotonic()
        try:
            report = await self.biller.run()
        except RunFailed as exc:
            self.metrics.failed(time.monotonic() - started)
            self.completed_once, self.last_failed = True, True
            logger.error("billing run failed: %s", exc)
            return None
        finally:
            self.running_since = None
        self.metrics.record(report, time.monotonic() - started)
        self.completed_once, self.last_failed = True, False
        logger.info("billing run: %s", report.summary())
        return report

    async def loop(self, stop: asyncio.Event) -> None:
        retry = FIRST_RETRY
        while not stop.is_set():
            report = await self.run_once()
            if report is None:
                delay, retry = min(retry, self.interval), min(retry * 2, self.interval)
            else:
                delay, retry = self.interval, FIRST_RETRY
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    # -- HTTP -------------------------------------------------------------------------------
    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _ready(self, _: web.Request) -> web.Response:
        """Ready once the first run has completed, failed or not: a failing run is the metrics' and
        the alert's to report, and must not take the pod's metrics endpoint out of a Service."""
        if self.completed_once:
            state = "the last billing run failed" if self.last_failed else "ok"
            return web.Response(text=state + "\n")
        return web.Response(status=503, text="the first billing run has not completed yet\n")

    async def _healthy(self, _: web.Request) -> web.Response:
        """Alive unless a run has been under way for longer than `stuck_after` (a hung call)."""
        if self.running_since is not None and time.monotonic() - self.running_since > self.stuck_after:
            return web.Response(status=503, text=f"a billing run has been running for over {self.stuck_after:.0f} s\n")
        return web.Response(text="ok\n")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/readyz", self._ready)
        app.router.add_get("/healthz", self._healthy)
        return app


def _login() -> kopf.ConnectionInfo:
    """In a pod: the service account; elsewhere: the kubeconfig ($KUBECONFIG or ~/.kube/config)."""
    info = login_default(logger=logger, settings=kopf.OperatorSettings())
    if info is None:
        raise RuntimeError(
            "no cluster credentials: not in a pod with a service account, and no kubeconfig "
            "(--kubeconfig, $KUBECONFIG or ~/.kube/config)"
        )
    return info


async def serve(
    config: Config,
    namespace: str,
    once: bool = False,
    port: int | None = None,
    login: Callable[[], kopf.ConnectionInfo] = _login,
    stop: asyncio.Event | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Runs the sidecar until `stop` (or one run with `once`); the exit status."""
    providers = load_providers(config.raw)
    usage = providers.get("metricsSource")
    storage = providers.get("objectStorage")
    client = KubeClient(login(), user_agent="landlord-billing")
    biller = Biller(
        client,
        config,
        namespace,
        usage if isinstance(usage, UsageSource) else None,
        storage if isinstance(storage, ObjectStorage) else None,
        clock=clock,
    )
    sidecar = Sidecar(biller, config.billing.interval)
    try:
        if once:
            report = await sidecar.run_once()
            if report is not None:
                print(report.summary())
                for tenant, problem in sorted(report.failed.items()):
                    print(f"{tenant}: {problem}")
            return 0 if report is not None and not report.failed else 1
        runner = None
        chosen = config.billing.metrics_port if port is None else port
        if chosen:
            runner = web.AppRunner(sidecar.app())
            await runner.setup()
            await web.TCPSite(runner, "0.0.0.0", chosen).start()
            logger.info("billing metrics and probes on :%s (/metrics, /readyz, /healthz)", chosen)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):  # a pod's stop: finish the run under way, then exit
                with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
        try:
            await sidecar.loop(stop)
        finally:
            if runner is not None:
                await runner.cleanup()
        return 0
    finally:
        await client.close()
        await providers.close()
