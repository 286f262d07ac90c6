"""Prometheus metrics of the operator, served on `metrics.port` (0 turns them off).

Counters and histograms are updated by the controller; tenant phases, plan sync states, the
queue depth and the API requests are read at scrape time, so they are never stale.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .api.conditions import ConditionType, Phase

if TYPE_CHECKING:
    from .controller import Controller

logger = logging.getLogger(__name__)


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
            "Objects deleted while a watch was away, found by those checks, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.ignored = Counter(
            "landlord_ignored_events",
            "Watch events of objects with Landlord's labels that are not its children (labels copied), by kind.",
            ["kind"],
            registry=self.registry,
        )

    def watch(self, controller: Controller) -> None:
        self.registry.register(_StateCollector(controller))

    def serve(self, port: int, address: str = "0.0.0.0") -> Any:
        try:
            server, _ = start_http_server(port, address, registry=self.registry)
        except OSError as exc:
            logger.warning("metrics are not served: port %s: %s", port, exc.strerror)
            return None
        logger.info("metrics served on %s:%s/metrics", address, port)
        return server


class _StateCollector(Collector):
    def __init__(self, controller: Controller) -> None:
        self.controller = controller

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
        usage = GaugeMetricFamily(
            "landlord_tenant_usage",
            "Measured usage of a tenant, by resource (databaseStorage in bytes), from the last measurement.",
            labels=["tenant", "resource"],
        )
        known = set(self.controller.inventory.names("Tenant"))
        for component in self.controller.components:
            for (tenant, resource), amount in sorted(component.usage().items()):
                if tenant in known:  # a tenant that is gone has no series (its retained data is not its usage)
                    usage.add_metric([tenant, resource], amount)
        yield usage
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
