"""A real Prometheus that has scraped known usage of a past billing period, for the usage reader's tests.

The difficulty: the sidecar bills closed periods, which lie in the past, while a freshly started
Prometheus only scrapes "now". What is done here, and why it is faithful:

- A test exporter (an HTTP server in a thread) serves the series Landlord and a tenant's
  environment expose (`landlord_tenant_usage{tenant, resource}`, per-module active users,
  traffic by namespace, a custom meter) in the text exposition format, each sample with an
  explicit timestamp inside the previous calendar months. Prometheus *scrapes* it like any
  exporter (`honor_labels`, timestamps honoured, as Prometheus does by default).
- Each scrape serves the next point of every series (a schedule, one point per series per
  scrape), so a series gets several samples over the period: before the start, exactly at the
  start, in the middle, one second before the end, exactly at the end (the next period's first
  instant) — the values outside the period are the largest, so a window that is off by a sample
  gives a wrong number.
- Prometheus 2.42 takes such old samples as out-of-order samples once
  `storage.tsdb.out_of_order_time_window` covers them (120d here: the month before the previous
  one starts at most 93 days ago). The first scrape serves nothing old on purpose: measured, when
  the very first sample of an empty TSDB is a month old, the head spans a month as soon as
  "now" samples (`up`) arrive, Prometheus compacts it within seconds and the out-of-order
  samples scraped meanwhile are lost. Starting the head at "now" keeps all old samples in the
  out-of-order head, which queries read.
- The fixture waits until the exporter has been scraped once more after its last point (a
  target's scrapes are sequential, so the last point's append is committed) and until
  Prometheus counts every point.

Measured on the project's machines (2 cores): Prometheus ready 0.2 s after its start, every
point queryable about 8 s after it — Prometheus 2.42 applies the targets of its configuration
on a 5 s tick of its scrape manager (no flag changes it), then the 7 scrapes take 0.5 s each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from landlord.devservices.prometheus import LocalPrometheus, ScrapeTarget
from landlord.providers.usage import UsageWindow

SCRAPE_INTERVAL = 0.5
OUT_OF_ORDER_WINDOW = "120d"

# The test configuration's templates: storage and databaseStorage keep the provider's defaults.
TEST_METERS: dict[str, str] = {
    "traffic": (
        'sum by (tenant) (label_replace(sum_over_time(landlord_test_traffic_bytes{namespace=~"tenant-.+"}[{range}]),'
        ' "tenant", "$1", "namespace", "tenant-(.+)"))'
    ),
    "emails": "sum by (tenant) (sum_over_time(landlord_test_emails_sent[{range}]))",  # a custom meter
}
TEST_SEATS = (
    "max by (tenant, module) (max_over_time(landlord_test_active_users[{range}]))"
    ' or max by (tenant) (max_over_time(landlord_tenant_usage{resource="users"}[{range}]))'
)
QUERIES_PER_READ = 5  # storage, databaseStorage (defaults), traffic, emails, and the seats


@dataclass(frozen=True)
class Series:
    """One time series the exporter serves: its points in time order, one per scrape."""

    name: str
    labels: dict[str, str]
    points: tuple[tuple[datetime, float], ...]

    def line(self, index: int) -> str | None:
        if index >= len(self.points):
            return None
        at, value = self.points[index]
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{labels}}} {float(value)!r} {round(at.timestamp() * 1000)}"


class UsageExporter:
    """An exporter in a thread: scrape 0 serves nothing, scrape n the (n-1)th point of each series."""

    def __init__(self, series: list[Series]) -> None:
        self.series = series
        self.rounds = max((len(s.points) for s in series), default=0)
        self.scrapes = 0
        self._lock = threading.Condition()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter._next().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="usage-exporter", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> UsageExporter:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next(self) -> str:
        with self._lock:
            index = self.scrapes - 1  # the first scrape serves nothing: the TSDB head starts at "now"
            self.scrapes += 1
            self._lock.notify_all()
        families: dict[str, list[str]] = {}
        for series in self.series:
            line = series.line(index) if index >= 0 else None
            if line is not None:
                families.setdefault(series.name, []).append(line)
        return "".join(f"# TYPE {name} gauge\n" + "\n".join(lines) + "\n" for name, lines in families.items())

    def wait_scraped(self, count: int, timeout: float) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self.scrapes >= count, timeout):
                raise TimeoutError(f"the exporter was scraped {self.scrapes} times in {timeout} s, not {count}")


@dataclass
class UsagePrometheus:
    """What the fixture yields: the server, the two closed periods and their known usage."""

    prometheus: LocalPrometheus
    exporter: UsageExporter
    previous: UsageWindow  # the previous calendar month: alpha, bravo, charlie
    earlier: UsageWindow  # the month before it: 30 tenants
    expected: dict[str, dict[str, dict[str, Any]]]  # period -> tenant -> usage mapping
    startup_seconds: float = 0.0
    meters: dict[str, str] = field(default_factory=lambda: dict(TEST_METERS))

    @property
    def url(self) -> str:
        return self.prometheus.url

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The `metricsSource` section (without `provider`) that reads this server."""
        return {"url": self.url, "meters": dict(self.meters), "seats": TEST_SEATS, **overrides}


def month_start(day: datetime) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)


def closed_periods(now: datetime) -> tuple[UsageWindow, UsageWindow]:
    """The previous calendar month and the one before, as windows (real clock)."""
    end = month_start(now)
    start = month_start(end - timedelta(days=1))
    before = month_start(start - timedelta(days=1))
    return UsageWindow(f"{start:%Y-%m}", start, end), UsageWindow(f"{before:%Y-%m}", before, start)


def build_series(previous: UsageWindow, earlier: UsageWindow) -> list[Series]:
    """The known series. Points of the previous period's tenants: [just before its start (in the
    earlier period), exactly at its start, the middle, one second before its end, exactly at its
    end (the next period)]."""
    s, e = previous.start, previous.end
    at5 = (s - timedelta(seconds=1), s, s + timedelta(days=10, hours=12), e - timedelta(seconds=1), e)

    def five(name: str, labels: dict[str, str], values: tuple[float, float, float, float, float]) -> Series:
        return Series(name, labels, tuple(zip(at5, values, strict=True)))

    usage = "landlord_tenant_usage"
    series = [
        five(usage, {"tenant": "alpha", "resource": "storage"}, (9e12, 5368709120, 1000, 2000, 8e12)),
        five(usage, {"tenant": "alpha", "resource": "databaseStorage"}, (7e12, 100, 200, 104857600, 9e12)),
        five(usage, {"tenant": "alpha", "resource": "users"}, (500, 3, 12, 7, 600)),
        five("landlord_test_active_users", {"tenant": "alpha", "module": "crm"}, (90, 4, 9, 2, 95)),
        five("landlord_test_active_users", {"tenant": "alpha", "module": "invoicing"}, (80, 1, 5, 8, 85)),
        five(
            "landlord_test_traffic_bytes",
            {"namespace": "tenant-alpha"},
            (1e12, 1073741824, 2147483648, 1073741824, 5e12),
        ),
        five("landlord_test_emails_sent", {"tenant": "alpha"}, (100, 10, 20, 30, 100)),
        five(usage, {"tenant": "bravo", "resource": "storage"}, (1e12, 1, 2.5, 2, 1e12)),
        five(usage, {"tenant": "bravo", "resource": "users"}, (50, 10, 20, 25, 50)),
        five("landlord_test_traffic_bytes", {"namespace": "tenant-bravo"}, (1e9, 1000.25, 1000.25, 0, 1e9)),
        five(usage, {"tenant": "charlie", "resource": "databaseStorage"}, (1e9, 1048576.5, 0, 0, 1e9)),
        five("landlord_test_active_users", {"tenant": "charlie", "module": "crm"}, (9, 3, 3, 3, 9)),
        # ghost: data just before and just after the previous period, none in it.
        Series(usage, {"tenant": "ghost", "resource": "storage"}, ((at5[0], 77), (at5[4], 88))),
        # A sample without a tenant label (some other exporter's): ignored, with a warning.
        Series(usage, {"resource": "storage"}, ((at5[2], 42),)),
    ]
    middle = earlier.start + timedelta(days=5)
    for n in range(4, 30):
        tenant = f"t{n:02d}"
        points = ((earlier.start, n * 1000.0), (middle, n * 10.0))
        series.append(Series(usage, {"tenant": tenant, "resource": "storage"}, points))
        series.append(Series(usage, {"tenant": tenant, "resource": "users"}, ((middle, float(n)),)))
    return series


def expected_usage(previous: UsageWindow, earlier: UsageWindow) -> dict[str, dict[str, dict[str, Any]]]:
    """Worked out by hand from `build_series`: max for gauges, sums for traffic and emails, half up."""
    last = {
        "alpha": {
            "meters": {"storage": 5368709120, "databaseStorage": 104857600, "traffic": 4294967296, "emails": 60},
            "seats": {"crm": 9, "invoicing": 8, "total": 12},
        },
        "bravo": {"meters": {"storage": 3, "traffic": 2001}, "seats": {"total": 25}},  # 2.5 and 2000.5, half up
        "charlie": {"meters": {"databaseStorage": 1048577}, "seats": {"crm": 3}},  # 1048576.5
    }
    before: dict[str, dict[str, Any]] = {
        "alpha": {
            "meters": {
                "storage": 9000000000000,
                "databaseStorage": 7000000000000,
                "traffic": 1000000000000,
                "emails": 100,
            },
            "seats": {"crm": 90, "invoicing": 80, "total": 500},
        },
        "bravo": {"meters": {"storage": 1000000000000, "traffic": 1000000000}, "seats": {"total": 50}},
        "charlie": {"meters": {"databaseStorage": 1000000000}, "seats": {"crm": 9}},
        "ghost": {"meters": {"storage": 77}, "seats": {}},
    }
    for n in range(4, 30):
        before[f"t{n:02d}"] = {"meters": {"storage": n * 1000}, "seats": {"total": n}}
    return {previous.period: last, earlier.period: before}


def start_scraped(
    series: list[Series], scrape_interval: float = SCRAPE_INTERVAL, timeout: float = 20.0
) -> tuple[LocalPrometheus, UsageExporter]:
    """Starts an exporter serving `series` and a Prometheus scraping it; returns both once Prometheus
    counts every point (scrapes are asynchronous: a query any earlier would see part of the usage).

    The count looks back OUT_OF_ORDER_WINDOW, as far as Prometheus accepts old samples, so it fits
    any `series` it could have ingested. `timeout` bounds each wait: the exporter's scrapes, then
    the count. On any failure both stop.
    """
    exporter = UsageExporter(series).start()
    prometheus = LocalPrometheus(
        [ScrapeTarget(exporter.address, job="usage-exporter")],
        scrape_interval=scrape_interval,
        out_of_order_window=OUT_OF_ORDER_WINDOW,
    )
    try:
        prometheus.start()
        exporter.wait_scraped(exporter.rounds + 2, timeout=timeout)
        points = sum(len(s.points) for s in series)
        prometheus.wait_for_query(
            f'sum(count_over_time({{__name__=~"landlord_tenant_usage|landlord_test_.+"}}[{OUT_OF_ORDER_WINDOW}]))',
            until=lambda result: bool(result) and float(result[0]["value"][1]) == points,
            timeout=timeout,
        )
    except BaseException:
        prometheus.stop()
        exporter.stop()
        raise
    return prometheus, exporter


def start_usage_prometheus(now: datetime | None = None) -> UsagePrometheus:
    """Starts the exporter of the two closed periods' usage and Prometheus, and waits until every point is queryable."""
    began = time.monotonic()
    previous, earlier = closed_periods(now or datetime.now(UTC))
    prometheus, exporter = start_scraped(build_series(previous, earlier))
    return UsagePrometheus(
        prometheus,
        exporter,
        previous,
        earlier,
        expected_usage(previous, earlier),
        startup_seconds=time.monotonic() - began,
    )


@pytest.fixture(scope="session")
def usage_prometheus() -> Iterator[UsagePrometheus]:
    """A real Prometheus (Debian's) that scraped known usage of the two previous calendar months.

    No skip: `make tools` installs Prometheus, so a missing binary is a broken setup.
    """
    reason = LocalPrometheus.available()
    if reason is not None:
        pytest.fail(f"a real Prometheus is needed for the usage reader's tests: {reason}")
    server = start_usage_prometheus()
    try:
        yield server
    finally:
        server.prometheus.stop()
        server.exporter.stop()
