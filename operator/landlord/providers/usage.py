"""Usage meters for billing: what every tenant used in one billing period (`metricsSource`).

The billing sidecar asks a `UsageSource` once per period for the usage of all tenants, in the
shape `landlord invoice preview --usage` reads (`landlord.billing.inputs.read_usage`):

    {"bistro": {"meters": {"traffic": 139586437120, "storage": 5368709120},
                "seats": {"crm": 14, "invoicing": 9, "total": 23}}}

A tenant without any data in the period is absent. Two implementations, chosen by
`metricsSource.provider`:

`prometheus` — PromQL templates evaluated over the period, one query per template and one for
the seats per `read()`, whatever the number of tenants (each template aggregates `by (tenant)`;
never one query per tenant). Configuration (`metricsSource` section):

- `url` (required): Prometheus' base URL, e.g. `http://prometheus.monitoring:9090` (a path
  prefix is kept).
- `timeout` (default `30`): seconds allowed for each query.
- `meters` (default below): meter name -> PromQL template, merged over the defaults; `null`
  drops a default meter. Any name may be used (a custom meter); the billing engine prices
  `traffic`, `storage`, `databaseStorage` (bytes) and `users` (a count).
- `seats` (default below): one template for the peak seats: samples labelled `tenant` and
  `module` give `seats.<module>`, samples without `module` give `seats.total`; `null`: no
  seats query.
- `bearerToken` (default none): sent as `Authorization: Bearer ...`; a credential, masked in
  every message and log line.

Templates may hold `{range}`, replaced by the period's length as a Prometheus duration in seconds
(`2678400s` for a 31-day month); every other `{name}` is refused (a malformed template). Each is
an instant query (`/api/v1/query`) at the end of the period, so `metric[{range}]` selects the
period's samples. The evaluation time is the end minus one millisecond: the end is exclusive, and
a sample stamped exactly at the end belongs to the next period (Prometheus 2 range selectors
include both edges, so a sample exactly one millisecond before the start would count too).
Every sample must carry a `tenant` label (others are ignored, and counted in a warning); each
tenant (and module, for seats) may appear once per query, so aggregate `by (tenant)`. Values are
rounded half up to whole bytes and counts; NaN and infinities are ignored with a warning.

Defaults, from what Landlord exports itself (`landlord_tenant_usage{tenant, resource}`, see
`landlord.metrics`; `max by (tenant)` folds the series of several operator replicas):

    storage:         max by (tenant) (max_over_time(landlord_tenant_usage{resource="storage"}[{range}]))
    databaseStorage: max by (tenant) (max_over_time(landlord_tenant_usage{resource="databaseStorage"}[{range}]))
    seats:           max by (tenant) (max_over_time(landlord_tenant_usage{resource="users"}[{range}]))

`storage` is the peak of the tenant's ResourceQuota `requests.storage`, `databaseStorage` the
peak size of its database, the seats the peak active users its application reported (a total,
no modules: a plan with `seatsPerModule` needs a `seats` template with a `module` label).
There is no default for `traffic`: it depends on the ingress controller. With ingress-nginx,
whose metrics are labelled by the Ingress' namespace (Landlord's tenant namespaces are
`tenant-<name>` by default; adapt the regular expression to `namespacePattern`):

    traffic: >-
      sum by (tenant) (label_replace(
        increase(nginx_ingress_controller_response_size_sum{exported_namespace=~"tenant-.+"}[{range}])
        + increase(nginx_ingress_controller_request_size_sum{exported_namespace=~"tenant-.+"}[{range}]),
        "tenant", "$1", "exported_namespace", "tenant-(.+)"))

(`increase` extrapolates to the period's edges, so counters give close, not exact, byte counts.)
Errors — Prometheus unreachable, a timeout, an HTTP error status, a query Prometheus refuses
(`status: error`, with its `error` text), a malformed template — raise `ProviderError` naming the
meter and the URL: retryable for the network, timeouts and 5xx, not for a refused query, a 4xx or
an answer that is not Prometheus'. The run fails: a bill is never made from partial usage.

`file` — the playground's source when there is no Prometheus: `path` (required), a YAML file

    tenants:                 # every period, unless the period has its own entry
      bistro: {meters: {traffic: 130Gi, storage: 5Gi}, seats: {total: 23}}
    periods:
      "2026-10":             # replaces `tenants` for this period (the whole map)
        tenants:
          bistro: {meters: {traffic: 1Ti}, seats: {crm: 14, total: 23}}

re-read at each `read()` (edits apply at once). The usage mappings are returned as written
(meter values may be quantity strings); the billing engine validates them. A missing file, a
YAML error or a misshapen structure raise `ProviderError` naming the path (and the key).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import aiohttp
import yaml

from ..redaction import redact, register_secret
from .base import ProviderError, ProviderSpec
from .registry import register

logger = logging.getLogger(__name__)

CAPABILITY = "metricsSource"
RANGE_PLACEHOLDER = "{range}"
SEATS = "seats"  # the name errors use for the seats query
TOTAL = "total"

DEFAULT_TIMEOUT = 30.0
DEFAULT_METERS: dict[str, str] = {
    "storage": 'max by (tenant) (max_over_time(landlord_tenant_usage{resource="storage"}[{range}]))',
    "databaseStorage": 'max by (tenant) (max_over_time(landlord_tenant_usage{resource="databaseStorage"}[{range}]))',
}
DEFAULT_SEATS = 'max by (tenant) (max_over_time(landlord_tenant_usage{resource="users"}[{range}]))'

_PLACEHOLDER = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_PERIOD_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_PERIOD_YEAR = re.compile(r"^(\d{4})$")
# Prometheus' errorType values that say "try again" (the others: the query itself is wrong).
_RETRYABLE_ERROR_TYPES = frozenset({"timeout", "canceled", "unavailable", "internal"})
_EXCERPT = 200  # characters of a non-Prometheus answer quoted in an error


@dataclass(frozen=True)
class UsageWindow:
    """One billing period as an interval of time: `[start, end)`, both in UTC.

    `period` names it as the invoices do (`2026-10`, `2026`); `start` and `end` must be aware
    datetimes (converted to UTC) with `end` after `start`.
    """

    period: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"UsageWindow.{name} must be an aware datetime (UTC), not {value!r}")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError(f"UsageWindow {self.period}: end {self.end.isoformat()} is not after start")

    @classmethod
    def of_period(cls, period: str) -> UsageWindow:
        """The calendar month (`2026-10`) or year (`2026`) as a window."""
        month = _PERIOD_MONTH.match(period)
        if month:
            year, number = int(month.group(1)), int(month.group(2))
            if not 1 <= number <= 12:
                raise ValueError(f"{period!r} is not a month such as 2026-10")
            start = datetime(year, number, 1, tzinfo=UTC)
            end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
            return cls(period, start, end)
        if _PERIOD_YEAR.match(period):
            year = int(period)
            return cls(period, datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
        raise ValueError(f"{period!r} is not a period such as 2026-10 (a month) or 2026 (a year)")

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def range(self) -> str:
        """The length as a Prometheus duration: whole seconds (`2678400s`), else milliseconds."""
        millis = self.length // timedelta(milliseconds=1)
        return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


@runtime_checkable
class UsageSource(Protocol):
    """Reads the usage of every tenant for one billing period (`metricsSource`)."""

    name: str
    queries: int
    """Queries made so far (HTTP queries for Prometheus, file reads for the file source)."""

    async def read(self, window: UsageWindow) -> dict[str, dict[str, Any]]:
        """`{tenant: {"meters": {...}, "seats": {...}}}` for every tenant with data in the window."""
        ...

    async def close(self) -> None: ...


def render_template(template: str, window: UsageWindow) -> str:
    """The template with `{range}` replaced; ValueError for any other `{name}` placeholder."""
    unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1) != "range"})
    if unknown:
        names = ", ".join("{" + name + "}" for name in unknown)
        raise ValueError(f"unknown placeholder {names} in the template; the only placeholder is {{range}}")
    return _PLACEHOLDER.sub(lambda m: window.range, template)


def _whole(value: Decimal) -> int:
    """A Prometheus value as a whole number of bytes or seats, rounded half up."""
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


# -- Prometheus ------------------------------------------------------------------------------------
_TEMPLATE_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1}
PROMETHEUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "pattern": "^https?://[^\\s/]+", "description": "Prometheus' base URL"},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
        "meters": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
            "additionalProperties": {"anyOf": [_TEMPLATE_SCHEMA, {"type": "null"}]},
        },
        "seats": {"anyOf": [_TEMPLATE_SCHEMA, {"type": "null"}]},
        "bearerToken": {"type": "string", "minLength": 1},
    },
}


class PrometheusUsageSource:
    """Usage from Prometheus: one instant query per meter template and one for the seats."""

    name = "prometheus"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.url = str(settings["url"]).rstrip("/")
        self.timeout = float(settings.get("timeout", DEFAULT_TIMEOUT))
        meters: dict[str, str | None] = {**DEFAULT_METERS, **dict(settings.get("meters") or {})}
        self.meters: dict[str, str] = {name: str(t) for name, t in meters.items() if t is not None}
        seats = settings.get("seats", DEFAULT_SEATS)  # null: no seats query
        self.seats: str | None = None if seats is None else str(seats)
        self._token: str | None = settings.get("bearerToken") or None
        register_secret(self._token)  # masked wherever it could appear
        self.queries = 0

    def __repr__(self) -> str:  # never the token
        return f"<PrometheusUsageSource {self.url} meters={sorted(self.meters)} seats={self.seats is not None}>"

    async def close(self) -> None:
        """Nothing to release: each read() opens and closes its own connections."""

    async def read(self, window: UsageWindow) -> dict[str, dict[str, Any]]:
        usage: dict[str, dict[str, Any]] = {}

        def entry(tenant: str) -> dict[str, Any]:
            return usage.setdefault(tenant, {"meters": {}, "seats": {}})

        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            for meter, template in self.meters.items():
                for labels, value in await self._query(session, meter, template, window, ("tenant",)):
                    entry(labels["tenant"])["meters"][meter] = value
            if self.seats is not None:
                for labels, value in await self._query(session, SEATS, self.seats, window, ("tenant", "module")):
                    entry(labels["tenant"])["seats"][labels.get("module") or TOTAL] = value
        return usage

    def _error(self, meter: str, problem: str, retryable: bool, reason: str) -> ProviderError:
        what = "the seats query" if meter == SEATS else f"meter {meter!r}"
        return ProviderError(f"{CAPABILITY} prometheus at {self.url}: {what}: {problem}", retryable, reason)

    async def _query(
        self, session: aiohttp.ClientSession, meter: str, template: str, window: UsageWindow, keys: tuple[str, ...]
    ) -> list[tuple[dict[str, str], int]]:
        """The samples of one template: (the labels among `keys`, the value), one per label set."""
        try:
            query = render_template(template, window)
        except ValueError as exc:
            raise self._error(meter, str(exc), False, "MalformedTemplate") from None
        at = window.end.timestamp() - 0.001  # the end is exclusive
        self.queries += 1
        endpoint = f"{self.url}/api/v1/query"
        try:
            async with session.get(endpoint, params={"query": query, "time": f"{at:.3f}"}) as response:
                status = response.status
                text = await response.text(errors="replace")
        except TimeoutError:
            raise self._error(meter, f"no answer within {self.timeout:g} s (timeout)", True, "Timeout") from None
        except aiohttp.InvalidURL as exc:
            raise self._error(meter, f"invalid URL ({redact(exc)})", False, "InvalidURL") from None
        except (aiohttp.ClientError, OSError) as exc:
            detail = redact(exc) or type(exc).__name__
            raise self._error(meter, f"Prometheus is unreachable ({detail})", True, "Unreachable") from None
        return self._samples(meter, status, text, keys)

    def _samples(self, meter: str, status: int, text: str, keys: tuple[str, ...]) -> list[tuple[dict[str, str], int]]:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            excerpt = " ".join(text.split())[:_EXCERPT]
            retryable = status >= 500 or status == 429
            problem = f"HTTP {status}, not a Prometheus API answer: {excerpt!r}"
            if status in (401, 403):
                problem = f"HTTP {status}: access refused; check bearerToken ({excerpt!r})"
            raise self._error(meter, problem, retryable, f"HTTP{status}")
        if body["status"] == "error" or status >= 400:
            kind = str(body.get("errorType") or "")
            retryable = kind in _RETRYABLE_ERROR_TYPES or status >= 500 or status == 429
            problem = f"Prometheus refused the query (HTTP {status}, {kind or 'error'}): {body.get('error') or ''}"
            raise self._error(meter, problem.rstrip(": "), retryable, "QueryError")
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            shape = data.get("resultType") if isinstance(data, dict) else None
            problem = f"the template gives a {shape or 'malformed'} result, not an instant vector labelled by tenant"
            raise self._error(meter, problem, False, "MalformedTemplate")
        found: dict[tuple[str, ...], tuple[dict[str, str], int]] = {}
        untagged = unusable = 0
        for sample in data["result"]:
            labels = (sample.get("metric") or {}) if isinstance(sample, dict) else {}
            value = sample.get("value") if isinstance(sample, dict) else None
            if not labels.get("tenant"):
                untagged += 1
                continue
            try:
                number = Decimal(str(value[1]))  # type: ignore[index]
            except (TypeError, IndexError, InvalidOperation):
                unusable += 1
                continue
            if not number.is_finite():
                unusable += 1
                continue
            picked = {key: str(labels[key]) for key in keys if labels.get(key)}
            identity = tuple(picked.get(key, "") for key in keys)
            if identity in found:
                who = ", ".join(f"{k}={v!r}" for k, v in picked.items())
                problem = f"several samples for {who}; aggregate the template by ({', '.join(keys)})"
                raise self._error(meter, problem, False, "MalformedTemplate")
            found[identity] = (picked, _whole(number))
        if untagged:
            logger.warning(
                "%s prometheus at %s: %s: %d sample(s) without a tenant label ignored",
                CAPABILITY,
                self.url,
                f"meter {meter!r}" if meter != SEATS else "the seats query",
                untagged,
            )
        if unusable:
            logger.warning(
                "%s prometheus at %s: %s: %d sample(s) with a value that is no finite number ignored",
                CAPABILITY,
                self.url,
                f"meter {meter!r}" if meter != SEATS else "the seats query",
                unusable,
            )
        return list(found.values())


# -- A file ---------------------------------------------------------------------------------------
FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["path"],
    "properties": {"path": {"type": "string", "minLength": 1}},
}
_FILE_KEYS = ("tenants", "periods")


class FileUsageSource:
    """Usage from a YAML file, re-read at each read() (the playground's source)."""

    name = "file"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.path = Path(str(settings["path"]))
        self.queries = 0

    def __repr__(self) -> str:
        return f"<FileUsageSource {self.path}>"

    async def close(self) -> None:
        """Nothing to release."""

    async def read(self, window: UsageWindow) -> dict[str, dict[str, Any]]:
        self.queries += 1
        data = await asyncio.to_thread(self._load)
        periods = data.get("periods") or {}
        chosen = periods.get(window.period)
        if chosen is not None:
            tenants = chosen.get("tenants") or {}
        else:
            tenants = data.get("tenants") or {}
        return {str(name): copy.deepcopy(usage) for name, usage in tenants.items() if usage is not None}

    def _fail(self, problem: str, retryable: bool = False) -> ProviderError:
        return ProviderError(f"{CAPABILITY} file {self.path}: {problem}", retryable, "UsageFileError")

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            raise self._fail("no such file; create it or fix metricsSource.path", True) from None
        except OSError as exc:
            raise self._fail(f"cannot be read ({exc.strerror or exc})", True) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise self._fail(f"not valid YAML{where}: {problem}") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self._fail("must be a mapping with `tenants` and/or `periods`")
        for key in data:
            if key not in _FILE_KEYS:
                raise self._fail(f"{key}: unknown key; known keys: {', '.join(_FILE_KEYS)}")
        self._check_tenants(data.get("tenants"), "tenants")
        periods = data.get("periods")
        if periods is not None and not isinstance(periods, dict):
            raise self._fail('periods: must be a mapping of period to {tenants: ...}, e.g. "2026-10": {tenants: {}}')
        normalized: dict[str, dict[str, Any]] = {}
        for period, entry in (periods or {}).items():
            where = f"periods.{period}"
            if not isinstance(entry, dict):
                raise self._fail(f"{where}: must be a mapping with `tenants`")
            for key in entry:
                if key != "tenants":
                    raise self._fail(f"{where}.{key}: unknown key; the only key is tenants")
            self._check_tenants(entry.get("tenants"), f"{where}.tenants")
            normalized[str(period)] = entry  # an unquoted 2026 is read as a number
        return {"tenants": data.get("tenants"), "periods": normalized}

    def _check_tenants(self, tenants: Any, where: str) -> None:
        if tenants is None:
            return
        if not isinstance(tenants, dict):
            raise self._fail(f"{where}: must be a mapping of tenant name to usage")
        for name, usage in tenants.items():
            if usage is not None and not isinstance(usage, dict):
                raise self._fail(f"{where}.{name}: must be a usage mapping such as {{meters: {{traffic: 130Gi}}}}")


register(
    ProviderSpec(
        capability=CAPABILITY,
        name="prometheus",
        factory=PrometheusUsageSource,
        schema=PROMETHEUS_SCHEMA,
        description="Usage meters from Prometheus: one PromQL query per meter and one for the seats per billing run",
    )
)
register(
    ProviderSpec(
        capability=CAPABILITY,
        name="file",
        factory=FileUsageSource,
        schema=FILE_SCHEMA,
        description="Usage from a YAML file re-read at each billing run (the playground without Prometheus)",
    )
)
