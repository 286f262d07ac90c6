"""Prometheus metrics of the operator, served on `metrics.port` (0 turns them off).

Counters and histograms are updated by the controller; tenant phases, plan sync states, the
queue depth and the API requests are read at scrape time, so they are never stale.

Per-tenant series (`landlord_tenant_info`, `_limit`, `_usage`, `_notify_threshold`,
`_overuse_policy`) come from `TenantSeries`: each reconcile records what it computed for its
tenant (`controller.telemetry`), the tenant's deletion forgets it, and a scrape exports what is
recorded. So there is one series per tenant and resource, and none for a tenant that is gone.
The alert rules in `alerts/landlord-rules.yaml` are written against these names and labels.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .api.conditions import ConditionType, Phase

if TYPE_CHECKING:
    from .controller import Controller

logger = logging.getLogger(__name__)

# Seconds from a Tenant's creation to its first Trial/Active/Suspended phase.
PROVISIONING_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


@dataclass(frozen=True)
class TenantSample:
    """What the metrics say about one tenant, as its last reconcile computed it.

    `limits` holds finite limits only (an unlimited resource has nothing to be near); `usage`
    what was measured from the reconcile's inputs (the quota's `status.used`, the spec, the
    reported seats); components' own meters (database size) are added at scrape time.
    `billed` names the resources whose use beyond the limit is charged whatever the plan's
    policy (seats beyond the included ones, when the plan has a seat price).
    `metered` is False while the tenant is being deleted: its info stays, its limits and
    usage go (nothing to alert on or bill any more).
    """

    plan: str
    reseller: str
    phase: str
    policy: str = "Notify"
    limits: Mapping[str, float] = field(default_factory=dict)
    usage: Mapping[str, float] = field(default_factory=dict)
    thresholds: tuple[int, ...] = ()  # the plan's overuse.notifyAt, percent
    billed: frozenset[str] = frozenset()
    metered: bool = True


class TenantSeries:
    """The per-tenant samples, written by reconciles (event loop) and read by scrapes (the
    metrics server's thread): every access holds the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: dict[str, TenantSample] = {}

    def record(self, tenant: str, sample: TenantSample) -> None:
        with self._lock:
            self._samples[tenant] = sample

    def refused(self, tenant: str, sample: TenantSample) -> None:
        """A reconcile that computed no limits (refused): the new info, the last limits and usage
        kept (what was provisioned stays, and so does its quota)."""
        with self._lock:
            previous = self._samples.get(tenant)
            if previous is not None and previous.metered:
                sample = replace(previous, plan=sample.plan, reseller=sample.reseller, phase=sample.phase)
            self._samples[tenant] = sample

    def forget(self, tenant: str) -> None:
        with self._lock:
            self._samples.pop(tenant, None)

    def snapshot(self) -> dict[str, TenantSample]:
        with self._lock:
            return dict(self._samples)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "landlord_reconciles",
            "Reconciles run, by kind of object and result.",
            ["kind", "result"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "landlord_reconcile_duration_seconds",
            "Time a reconcile took, by kind of object.",
            ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.transitions = Counter(
            "landlord_tenant_transitions",
            "Tenant phase transitions, by the phase entered.",
            ["phase"],
            registry=self.registry,
        )
        self.resyncs = Counter(
            "landlord_index_resyncs",
            "Checks of the indexes against a fresh list, after kopf listed a kind again (410 Gone, a restarted watch).",
            registry=self.registry,
        )
        self.missed_deletions = Counter(
            "landlord_missed_deletions",
            "Objects deleted while a watch was away, found by those checks or by a child informer's new list, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.ignored = Counter(
            "landlord_ignored_events",
            "Watch events of objects with Landlord's labels that are not its children (labels copied), by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.provisioning = Histogram(
            "landlord_tenant_provisioning_duration_seconds",
            "Time from a Tenant's creation to its first Trial, Active or Suspended phase.",
            buckets=PROVISIONING_BUCKETS,
            registry=self.registry,
        )
        self.tenants = TenantSeries()

    def watch(self, controller: Controller) -> None:
        self.registry.register(_StateCollector(controller, self.tenants))

    def serve(self, port: int, address: str = "0.0.0.0") -> Any:
        try:
            server, _ = start_http_server(port, address, registry=self.registry)
        except OSError as exc:
            logger.warning("metrics are not served: port %s: %s", port, exc.strerror)
            return None
        logger.info("metrics served on %s:%s/metrics", address, port)
        return server


class _StateCollector(Collector):
    def __init__(self, controller: Controller, tenants: TenantSeries) -> None:
        self.controller = controller
        self.tenants = tenants

    def collect(self) -> Iterator[Any]:
        phases: Tally[str] = Tally()
        sync: Tally[str] = Tally()
        conditions: Tally[tuple[str, str]] = Tally()
        for name in self.controller.inventory.names("Tenant"):
            status = (self.controller.tenant(name) or {}).get("status") or {}
            phases[status.get("phase") or "New"] += 1
            sync[(status.get("planSync") or {}).get("state") or "Unknown"] += 1
            for condition in status.get("conditions") or []:
                conditions[(str(condition.get("type")), str(condition.get("status")))] += 1
        tenants = GaugeMetricFamily("landlord_tenants", "Tenants, by phase.", labels=["phase"])
        for phase in ("New", *(p.value for p in Phase)):
            tenants.add_metric([phase], phases.get(phase, 0))
        yield tenants
        by_condition = GaugeMetricFamily(
            "landlord_tenant_conditions",
            "Tenants by condition type and status: each component's condition, and Ready.",
            labels=["type", "status"],
        )
        types = sorted({t for t, _ in conditions} | {c.value for c in ConditionType})
        for kind in types:
            for value in ("True", "False"):
                by_condition.add_metric([kind, value], conditions.get((kind, value), 0))
        yield by_condition
        states = GaugeMetricFamily("landlord_tenant_plan_sync", "Tenants, by plan sync state.", labels=["state"])
        for state in ("Synced", "Customized", "Locked", "Unsynchronized"):
            states.add_metric([state], sync.get(state, 0))
        yield states
        yield from tenant_families(self.tenants.snapshot(), self.controller.components)
        yield GaugeMetricFamily(
            "landlord_indexes_ready",
            "1 once kopf has listed every index (reconciles and the drift pass wait for it).",
            value=1 if self.controller.indexed.is_set() else 0,
        )
        yield GaugeMetricFamily(
            "landlord_workqueue_depth", "Keys waiting or being reconciled.", value=self.controller.queue.depth()
        )
        requests = CounterMetricFamily(
            "landlord_api_requests", "Requests the operator sent to the API server, by method.", labels=["method"]
        )
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            requests.add_metric([method], self.controller.client.counts.get(method, 0))
        yield requests


def tenant_families(samples: Mapping[str, TenantSample], components: Any = ()) -> Iterator[Any]:
    """The per-tenant metric families from the recorded samples, plus each component's meters
    (`Component.usage()`) for the tenants being metered: a tenant that is gone has no series."""
    info = GaugeMetricFamily(
        "landlord_tenant_info",
        "1 for each tenant: its plan, reseller and phase.",
        labels=["tenant", "plan", "reseller", "phase"],
    )
    limit = GaugeMetricFamily(
        "landlord_tenant_limit",
        "Effective limit of a tenant, by resource (cpu in cores; memory, storage, databaseStorage and "
        "traffic in bytes; the others are counts). Unlimited resources have no series.",
        labels=["tenant", "resource"],
    )
    usage = GaugeMetricFamily(
        "landlord_tenant_usage",
        "Measured usage of a tenant, by resource, in the units of landlord_tenant_limit.",
        labels=["tenant", "resource"],
    )
    threshold = GaugeMetricFamily(
        "landlord_tenant_notify_threshold",
        "The plan's overuse.notifyAt thresholds as a fraction of the limit (label percent), "
        "for each resource with a limit.",
        labels=["tenant", "resource", "percent"],
    )
    policy = GaugeMetricFamily(
        "landlord_tenant_overuse_policy",
        "1 for each resource with a limit: what use beyond it means (Block, Notify, or Bill: allowed and charged).",
        labels=["tenant", "resource", "policy"],
    )
    measured: dict[str, dict[str, float]] = {}
    for component in components:
        for (tenant, resource), amount in component.usage().items():
            measured.setdefault(tenant, {})[resource] = amount
    for name, sample in sorted(samples.items()):
        info.add_metric([name, sample.plan, sample.reseller, sample.phase], 1)
        if not sample.metered:
            continue
        for resource, value in sorted(sample.limits.items()):
            limit.add_metric([name, resource], value)
            policy.add_metric([name, resource, "Bill" if resource in sample.billed else sample.policy], 1)
            for percent in sample.thresholds:
                threshold.add_metric([name, resource, str(percent)], percent / 100)
        for resource, value in sorted({**sample.usage, **measured.get(name, {})}.items()):
            usage.add_metric([name, resource], value)
    yield from (info, limit, usage, threshold, policy)
