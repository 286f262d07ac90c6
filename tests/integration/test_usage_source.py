"""The Prometheus usage reader against a real Prometheus that scraped known usage (tests/prometheus_server.py)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from landlord.providers import ProviderError, load_providers, problems
from landlord.providers.usage import PrometheusUsageSource, UsageSource, UsageWindow
from tests import prometheus_server
from tests.prometheus_server import QUERIES_PER_READ, UsagePrometheus

usage_prometheus = prometheus_server.usage_prometheus  # the session fixture: a real Prometheus with known usage

TOKEN = "s3cr3t-usage-token-0123456789"


def source(server: UsagePrometheus, **overrides: Any) -> PrometheusUsageSource:
    """Built the way the operator builds it: through the registry, from a configuration section."""
    built = load_providers({"metricsSource": {"provider": "prometheus", **server.settings(**overrides)}})
    provider = built.get("metricsSource")
    assert isinstance(provider, PrometheusUsageSource)
    assert isinstance(provider, UsageSource)
    return provider


async def test_reads_exactly_the_known_usage_of_the_closed_period(usage_prometheus: UsagePrometheus) -> None:
    reader = source(usage_prometheus)
    usage = await reader.read(usage_prometheus.previous)
    # Samples before the start and at the end itself (the next period) are the largest: any
    # window error shows; bravo's 2.5 and 2000.5 and charlie's 1048576.5 are rounded half up.
    assert usage == usage_prometheus.expected[usage_prometheus.previous.period]
    assert usage["bravo"]["meters"]["storage"] == 3
    assert reader.queries == QUERIES_PER_READ


async def test_queries_per_read_do_not_depend_on_the_number_of_tenants(usage_prometheus: UsagePrometheus) -> None:
    reader = source(usage_prometheus)
    few = await reader.read(usage_prometheus.previous)
    after_few = reader.queries
    many = await reader.read(usage_prometheus.earlier)
    after_many = reader.queries - after_few
    assert len(few) == 3
    assert len(many) == 30
    assert many == usage_prometheus.expected[usage_prometheus.earlier.period]
    assert after_few == after_many == QUERIES_PER_READ  # one per meter template and one for the seats
    # One more meter is one more query, whatever the tenant count.
    wider = source(usage_prometheus, meters={**usage_prometheus.meters, "users": "max by (tenant) (vector(1))"})
    await wider.read(usage_prometheus.earlier)
    assert wider.queries == QUERIES_PER_READ + 1


async def test_a_tenant_without_data_in_the_period_is_absent(usage_prometheus: UsagePrometheus) -> None:
    reader = source(usage_prometheus)
    earlier = await reader.read(usage_prometheus.earlier)
    previous = await reader.read(usage_prometheus.previous)
    assert earlier["ghost"] == {"meters": {"storage": 77}, "seats": {}}  # it has data just before ...
    assert "ghost" not in previous  # ... and at the end instant, none inside
    assert "t04" in earlier and "t04" not in previous


async def test_seats_by_module_and_in_total(usage_prometheus: UsagePrometheus) -> None:
    usage = await source(usage_prometheus).read(usage_prometheus.previous)
    assert usage["alpha"]["seats"] == {"crm": 9, "invoicing": 8, "total": 12}
    assert usage["bravo"]["seats"] == {"total": 25}
    assert usage["charlie"]["seats"] == {"crm": 3}


async def test_default_templates_read_what_landlord_exports(usage_prometheus: UsagePrometheus) -> None:
    settings = {"url": usage_prometheus.url}  # no meters, no seats: the defaults
    reader = load_providers({"metricsSource": {"provider": "prometheus", **settings}}).get("metricsSource")
    assert isinstance(reader, PrometheusUsageSource)
    usage = await reader.read(usage_prometheus.previous)
    assert usage == {
        "alpha": {"meters": {"storage": 5368709120, "databaseStorage": 104857600}, "seats": {"total": 12}},
        "bravo": {"meters": {"storage": 3}, "seats": {"total": 25}},
        "charlie": {"meters": {"databaseStorage": 1048577}, "seats": {}},
    }
    assert reader.queries == 3
    no_seats = source(usage_prometheus, seats=None, meters={**usage_prometheus.meters, "databaseStorage": None})
    assert await no_seats.read(usage_prometheus.previous) == {
        "alpha": {"meters": {"storage": 5368709120, "traffic": 4294967296, "emails": 60}, "seats": {}},
        "bravo": {"meters": {"storage": 3, "traffic": 2001}, "seats": {}},
    }
    assert no_seats.queries == 3


async def test_samples_without_a_tenant_label_are_ignored_with_a_warning(
    usage_prometheus: UsagePrometheus, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="landlord.providers.usage"):
        usage = await source(usage_prometheus).read(usage_prometheus.previous)
    assert "" not in usage
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    url = usage_prometheus.url
    assert warnings == [
        f"metricsSource prometheus at {url}: meter 'storage': 1 sample(s) without a tenant label ignored"
    ]


async def test_a_query_prometheus_refuses_names_the_meter(usage_prometheus: UsagePrometheus) -> None:
    reader = source(usage_prometheus, meters={"traffic": "sum by (tenant) (rate(x[{range}]"})
    with pytest.raises(ProviderError) as caught:
        await reader.read(usage_prometheus.previous)
    message = caught.value.message
    assert "meter 'traffic'" in message
    assert usage_prometheus.url in message
    assert "parse error" in message  # Prometheus' own error text
    assert caught.value.retryable is False


async def test_a_malformed_template_names_the_meter(usage_prometheus: UsagePrometheus) -> None:
    reader = source(usage_prometheus, meters={"emails": "sum by (tenant) (x[{period}])"})
    with pytest.raises(ProviderError) as caught:
        await reader.read(usage_prometheus.previous)
    assert "meter 'emails'" in caught.value.message
    assert "{period}" in caught.value.message
    assert caught.value.retryable is False
    ungrouped = source(usage_prometheus, meters={"emails": "landlord_tenant_usage"}, seats=None)
    with pytest.raises(ProviderError, match=r"meter 'emails'.*several samples for tenant='alpha'.*by \(tenant\)"):
        await ungrouped.read(usage_prometheus.previous)
    ranged = source(usage_prometheus, meters={"emails": "landlord_test_emails_sent[{range}]"}, seats=None)
    with pytest.raises(ProviderError, match=r"meter 'emails'.*matrix result"):
        await ranged.read(usage_prometheus.previous)


async def test_prometheus_down_fails_loudly_and_reading_works_again_after_a_restart(
    usage_prometheus: UsagePrometheus,
) -> None:
    reader = source(usage_prometheus, bearerToken=TOKEN)
    prometheus = usage_prometheus.prometheus
    prometheus.stop(keep_data=True)
    try:
        with pytest.raises(ProviderError) as caught:
            await reader.read(usage_prometheus.previous)
    finally:
        prometheus.start()  # same port, same TSDB
    error = caught.value
    assert error.retryable is True
    assert usage_prometheus.url in error.message
    assert "meter 'storage'" in error.message and "unreachable" in error.message
    assert TOKEN not in error.message and TOKEN not in str(error)
    assert await reader.read(usage_prometheus.previous) == usage_prometheus.expected[usage_prometheus.previous.period]


def test_configuration_problems_name_the_key() -> None:
    assert problems("metricsSource", {"provider": "prometheus"}) == [
        "metricsSource.url: required by provider 'prometheus' and missing; set it"
    ]
    assert problems("metricsSource", {"provider": "prometheus", "url": "http://p:9090"}) == []
    found = problems(
        "metricsSource",
        {
            "provider": "prometheus",
            "url": "prometheus:9090",
            "timeout": 0,
            "timout": 5,
            "meters": {"traffic": 12, "bad name": "x"},
            "seats": "",
            "bearerToken": 5,
        },
    )
    keys = [line.split(":", 1)[0] for line in found]
    for key in (
        "metricsSource.url",
        "metricsSource.timeout",
        "metricsSource.timout",
        "metricsSource.meters.traffic",
        "metricsSource.meters",
        "metricsSource.seats",
        "metricsSource.bearerToken",
    ):
        assert key in keys, found
    assert any(line.startswith("metricsSource.timout: unknown key") for line in found)
    assert problems("metricsSource", {"provider": "file"}) == [
        "metricsSource.path: required by provider 'file' and missing; set it"
    ]
    assert problems("metricsSource", {"provider": "graphite"})[0].startswith(
        "metricsSource.provider: unknown provider 'graphite'; available: file, prometheus"
    )


class _Recorder(BaseHTTPRequestHandler):
    """A server in front of "Prometheus" that echoes what it was sent in its refusals (as some
    proxies do): the token must still never reach a message."""

    seen: list[str | None] = []
    answer_ok = False

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization")
        type(self).seen.append(authorization)
        if type(self).answer_ok:
            body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
            self.send_response(200)
        else:
            body = f"forbidden: you sent Authorization={authorization}".encode()
            self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Recorder", (_Recorder,), {"seen": [], "answer_ok": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


async def test_the_bearer_token_is_sent_and_never_in_a_message(recorder: tuple[str, type[_Recorder]]) -> None:
    url, handler = recorder
    window = UsageWindow.of_period("2026-10")
    reader = load_providers({"metricsSource": {"provider": "prometheus", "url": url, "bearerToken": TOKEN}}).get(
        "metricsSource"
    )
    assert isinstance(reader, PrometheusUsageSource)
    with pytest.raises(ProviderError) as caught:
        await reader.read(window)
    assert handler.seen == [f"Bearer {TOKEN}"]
    assert "HTTP 403" in caught.value.message and "meter 'storage'" in caught.value.message
    assert url in caught.value.message
    assert TOKEN not in caught.value.message and TOKEN not in str(caught.value) and TOKEN not in repr(reader)
    assert caught.value.retryable is False
    handler.answer_ok = True
    assert await reader.read(window) == {}
    assert handler.seen[1:] == [f"Bearer {TOKEN}"] * 3


async def test_a_server_that_does_not_answer_is_a_retryable_timeout() -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        reader = PrometheusUsageSource({"url": url, "timeout": 0.3})
        started = asyncio.get_running_loop().time()
        with pytest.raises(ProviderError) as caught:
            await reader.read(UsageWindow.of_period("2026-10"))
        assert asyncio.get_running_loop().time() - started < 3
    assert caught.value.retryable is True
    assert "timeout" in caught.value.message and url in caught.value.message
    assert "meter 'storage'" in caught.value.message
