"""The billing sidecar against a real Prometheus (Debian's) that scraped a test exporter with
known usage: the invoices line by line, a fixed number of queries, and Prometheus down failing
the run loudly (metric, Event, readiness) until it is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from landlord.config import parse
from landlord.devservices.prometheus import LocalPrometheus
from landlord.invoicing.numbering import COUNTER
from landlord.invoicing.run import Biller
from landlord.invoicing.sidecar import Sidecar
from landlord.providers.usage import PrometheusUsageSource
from landlord.render.cluster import OPERATOR_NAMESPACE
from tests.helpers import eventually
from tests.integration.conftest import Env
from tests.integration.test_billing_sidecar import BILLING, Clock, priced_plan
from tests.integration.test_metrics import free_port, scrape, value
from tests.integration.test_tenancy import tenant
from tests.prometheus_server import Series, start_scraped

GI = 2**30
METERS = {"traffic": "max by (tenant) (max_over_time(landlord_test_tenant_traffic_bytes[{range}]))"}
SEATS = 'max by (tenant) (max_over_time(landlord_tenant_usage{resource="users"}[{range}]))'


def _series(now: datetime) -> list[Series]:
    """This month's usage, all of it before now: the tenants are billed for this month by a clock
    set to the next month's first day (they were created this month)."""
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    if now - start < timedelta(minutes=2):  # so close to the turn of the month that "now - 30 s" is
        time.sleep((start + timedelta(minutes=2) - now).total_seconds())  # in the previous one: wait
        return _series(datetime.now(UTC))
    early = max(start + timedelta(seconds=1), now - timedelta(minutes=20))
    late = now - timedelta(seconds=30)
    return [
        Series("landlord_test_tenant_traffic_bytes", {"tenant": "alpha"}, ((early, 10 * GI), (late, 130 * GI))),
        Series("landlord_test_tenant_traffic_bytes", {"tenant": "bravo"}, ((early, 1 * GI), (late, 60 * GI))),
        Series("landlord_tenant_usage", {"tenant": "alpha", "resource": "users"}, ((early, 9), (late, 6))),
        Series("landlord_tenant_usage", {"tenant": "bravo", "resource": "users"}, ((early, 2), (late, 3))),
        # charlie uses what alpha does, on a plan whose overuse policy is Notify: no overage line.
        Series("landlord_test_tenant_traffic_bytes", {"tenant": "charlie"}, ((early, 10 * GI), (late, 130 * GI))),
    ]


@pytest.fixture(scope="module")
def prometheus() -> Iterator[LocalPrometheus]:
    reason = LocalPrometheus.available()
    if reason is not None:
        pytest.fail(f"a real Prometheus is needed: {reason}")
    server, exporter = start_scraped(_series(datetime.now(UTC)))
    try:
        yield server
    finally:
        server.stop()
        exporter.stop()


async def _biller(env: Env, url: str) -> tuple[Biller, Clock, str]:
    await env.apply(priced_plan("pro", "30.00"))
    notify = priced_plan("notify", "30.00")
    notify["spec"]["overuse"] = {"policy": "Notify"}
    await env.apply(notify)
    await env.start_operator()
    for name, plan in (("alpha", "pro"), ("bravo", "pro"), ("charlie", "notify")):
        await env.apply(tenant(name, plan, billing={"country": "FR", "customerType": "Business"}))
    for name in ("alpha", "bravo", "charlie"):
        await env.wait_phase(name, "Active")
    section = {"provider": "prometheus", "url": url, "meters": METERS, "seats": SEATS}
    config = parse({"metrics": {"port": 0}, "billing": BILLING, "metricsSource": section})
    clock = await Clock.after(env, "alpha")
    source = PrometheusUsageSource({k: v for k, v in section.items() if k != "provider"})
    period = (clock.now - timedelta(days=1)).strftime("%Y-%m")
    return Biller(env.client, config, OPERATOR_NAMESPACE, source, clock=clock), clock, period


def _amounts(invoice: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    assert invoice is not None
    return [(x["quantity"], x["unitPrice"], x["amount"]) for x in invoice["spec"]["lines"]]


async def test_invoices_from_prometheus_usage_line_by_line(env: Env, prometheus: LocalPrometheus) -> None:
    biller, _, period = await _biller(env, prometheus.url)
    report = await biller.run()
    assert sorted(report.invoices) == [f"alpha-{period}", f"bravo-{period}", f"charlie-{period}"]
    # Two meters' worth of queries (traffic, the default storage and databaseStorage) and the
    # seats: the same whatever the number of tenants (grouped by tenant).
    assert report.queries == 4
    alpha = await env.get("Invoice", f"alpha-{period}")
    # plan 30.00; seats: peak 9, 5 included -> 4 x 4.00; traffic: 130Gi - 100Gi = 30 GiB x 0.10
    assert _amounts(alpha) == [("1", "30.00", "30.00"), ("4", "4.00", "16.00"), ("30", "0.10", "3.00")]
    assert alpha is not None and (alpha["spec"]["tax"], alpha["spec"]["total"]) == ("9.80", "58.80")
    bravo = await env.get("Invoice", f"bravo-{period}")
    assert _amounts(bravo) == [("1", "30.00", "30.00")]  # 3 seats of 5, 60Gi of 100Gi
    charlie = await env.get("Invoice", f"charlie-{period}")
    assert _amounts(charlie) == [("1", "30.00", "30.00")]  # 130Gi of 100Gi, but Notify: alerts, no charge


async def test_prometheus_down_fails_the_run_loudly_and_the_next_try_succeeds(
    env: Env, prometheus: LocalPrometheus
) -> None:
    biller, _, period = await _biller(env, prometheus.url)
    sidecar = Sidecar(biller, interval=3600)
    port = free_port()
    runner = web.AppRunner(sidecar.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as answer:
            assert answer.status == 503  # before the first run
        prometheus.stop(keep_data=True)
        try:
            assert await sidecar.run_once() is None
            assert await env.client.list("Invoice") == []
            _, series = await scrape(port)
            assert value(series, "landlord_billing_run_failures_total") == 1
            failed_at = value(series, "landlord_billing_last_failure_timestamp_seconds")
            assert failed_at is not None and failed_at > 0
            # What LandlordBillingRunFailed compares: no success yet (0), a failure after it.
            assert value(series, "landlord_billing_last_success_timestamp_seconds") == 0
            # Ready (the failure is the metrics' and the alert's to tell), and saying so.
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                assert answer.status == 200 and "failed" in await answer.text()

            async def event() -> list[dict[str, Any]]:
                events = await env.client.list("Event", OPERATOR_NAMESPACE)
                return [
                    e for e in events if e["reason"] == "BillingRunFailed" and e["involvedObject"]["name"] == COUNTER
                ]

            (failed,) = await eventually(event)
            assert prometheus.url.split("//")[1] in failed["message"]
        finally:
            await asyncio.to_thread(prometheus.restart)
        report = await sidecar.run_once()
        assert report is not None and len(report.invoices) == 3
        _, series = await scrape(port)
        succeeded_at = value(series, "landlord_billing_last_success_timestamp_seconds")
        assert succeeded_at is not None and succeeded_at > failed_at
        assert value(series, "landlord_billing_invoices_written_total") == 3
        assert value(series, "landlord_billing_invoiced_amount_total", currency="EUR") == 58.80 + 36.00 + 36.00
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as answer:
            assert answer.status == 200
        alpha = await env.get("Invoice", f"alpha-{period}")
        assert alpha is not None and alpha["spec"]["total"] == "58.80"
    finally:
        await runner.cleanup()
