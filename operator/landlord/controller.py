"""The reconcile loops: one idempotent function per Tenant, and catalogue usage for Plans/AddOns.

kopf handlers only put keys on the work queue; workers run these functions. Reads come from
the inventory (kopf indexes); writes go through `KubeClient` and only when something differs,
so a reconcile with nothing to change makes zero writes. Everything a reconcile needs to be
restart-safe is in the cluster (children, status), never in memory.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from .api.composition import Allocation, Entitlements, entitlements, format_limits
from .api.resolution import Refusal, Resolved, parse_time, reseller_shares, resolve, suspension
from .config import Config
from .diffing import up_to_date
from .inventory import CHILD_KINDS, Inventory, is_ours, tenant_refs
from .kube import KubeClient, KubeError
from .metrics import Metrics
from .recent import Recent
from .render.tenant import TenantView, namespace_of, render, url_of
from .workqueue import WorkQueue

logger = logging.getLogger(__name__)

TENANT_FINALIZER = "landlord.dev/tenant-cleanup"
IN_USE_FINALIZER = "landlord.dev/in-use"
REPLICAS_ANNOTATION = "landlord.dev/suspended-replicas"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Controller:
    def __init__(
        self, config: Config, client: KubeClient, inventory: Inventory, metrics: Metrics | None = None
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.metrics.watch(self)
        self.client = client
        self.inventory = inventory
        self.queue = WorkQueue()
        self.failures: Counter[Any] = Counter()
        self.refs: dict[str, set[tuple[str, str]]] = {}
        self.seen: dict[str, Any] = {}
        self.recent = Recent(ttl=max(30.0, config.drift_interval))
        self._shares: dict[str, dict[str, Allocation] | None] = {}  # per reseller, until something changes
        self.reconciles = 0
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        for number in range(int(self.config["workers"])):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"landlord-worker-{number}"))
        self._tasks.append(asyncio.create_task(self._drift(), name="landlord-drift"))

    async def stop(self) -> None:
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _drift(self) -> None:
        """Re-queues everything every drift interval: repairs children changed by hand."""
        while True:
            await asyncio.sleep(self.config.drift_interval)
            for name in self.inventory.names("Tenant"):
                self.queue.add(("Tenant", name))

    async def _worker(self) -> None:
        while True:
            key: Any = await self.queue.get()
            try:
                delay = await self.process(key)
                self.failures.pop(key, None)
                if delay is not None:
                    self.queue.add_after(key, delay)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed reconcile is retried with backoff
                self.failures[key] += 1
                backoff = min(2 ** self.failures[key], 60)
                logger.warning("reconcile of %s/%s failed (retry in %ss): %s", key[0], key[1], backoff, exc)
                self.queue.add_after(key, backoff)
            finally:
                self.queue.done(key)

    async def process(self, key: Any) -> float | None:
        kind, name = key
        assert isinstance(kind, str) and isinstance(name, str)
        self.reconciles += 1
        result = "error"
        try:
            with self.metrics.duration.labels(kind).time():
                delay = await (self.reconcile_tenant(name) if kind == "Tenant" else self.reconcile_usage(kind, name))
            result = "success"
            return delay
        finally:
            self.metrics.reconciles.labels(kind, result).inc()

    # -- triggers (called by the kopf handlers) ----------------------------------------------
    def tenant_changed(self, name: str, tenant: dict[str, Any] | None) -> None:
        """A Tenant was added, changed or deleted (None). Our own status writes come back here
        too: they change neither generation nor deletion state nor finalizers, and queue nothing."""
        meta = (tenant or {}).get("metadata") or {}
        signature = None
        if tenant is not None:
            signature = (meta.get("generation"), meta.get("deletionTimestamp"), tuple(meta.get("finalizers") or []))
        previous = self.seen.get(name, ("unseen",))
        if tenant is not None and previous == signature:
            return
        if tenant is None:
            self.seen.pop(name, None)
        else:
            self.seen[name] = signature
        self.queue.add(("Tenant", name))
        new_refs = tenant_refs(tenant.get("spec") or {}) if tenant is not None else set()
        old_refs = self.refs.pop(name, set())
        if tenant is not None:
            self.refs[name] = new_refs
        first_sight = previous == ("unseen",)
        if not (first_sight or tenant is None or tuple(previous)[:2] != tuple(signature or ())[:2]):
            return  # only finalizers changed
        self._shares.clear()
        for ref in old_refs | new_refs:
            self.queue.add(ref)  # usage counts of the plan, add-ons and reseller
            if ref[0] == "Reseller" and not first_sight:
                # A change or deletion can free or take allocation from the tenants after it.
                for sibling in self.inventory.referencing("Reseller", ref[1]):
                    if sibling != name:
                        self.queue.add(("Tenant", sibling))

    def _share(self, tenant: str, reseller: dict[str, Any]) -> Allocation | None:
        """Allocations are computed once for all of a reseller's tenants, not once per tenant."""
        name = reseller["metadata"]["name"]
        if name not in self._shares:
            self._shares[name] = reseller_shares(self.inventory, reseller)
        shares = self._shares[name]
        return None if shares is None else shares.get(tenant)

    def catalog_changed(self, kind: str, name: str) -> None:
        self._shares.clear()
        self.queue.add((kind, name))
        for tenant in self.inventory.referencing(kind, name):
            self.queue.add(("Tenant", tenant))

    # -- tenants ----------------------------------------------------------------------------
    def tenant(self, name: str) -> dict[str, Any] | None:
        """The freshest Tenant we know: the index, or our own write when the index lags."""
        indexed = self.inventory.tenant(name)
        if indexed is None:
            self.recent.forget(("Tenant", name))
            return None
        return self.recent.pick(("Tenant", name), indexed)

    async def reconcile_tenant(self, name: str) -> float | None:
        current = self.tenant(name)
        if current is None:
            return None
        tenant = copy.deepcopy(current)
        meta = tenant["metadata"]
        if meta.get("deletionTimestamp"):
            return await self._finalize_tenant(tenant)
        if TENANT_FINALIZER not in (meta.get("finalizers") or []):
            updated = await self.client.patch(
                "Tenant",
                name,
                {
                    "metadata": {
                        "finalizers": [*(meta.get("finalizers") or []), TENANT_FINALIZER],
                        "resourceVersion": meta["resourceVersion"],
                    }
                },
            )
            self.recent.remember(("Tenant", name), updated)
        spec = tenant.get("spec") or {}
        status = tenant.get("status") or {}
        now = now_utc()
        try:
            resolved = resolve(self.inventory, tenant)
            caps = None
            if resolved.reseller is not None:
                share = self._share(name, resolved.reseller)
                if share is not None and not share.admitted:
                    raise Refusal(
                        "Pending",
                        "AllocationExhausted",
                        f"reseller {spec['reseller']!r} has no tenants left in its allocation; raise "
                        f"spec.allocation.tenants of the reseller or remove a tenant",
                    )
                caps = share.caps if share is not None else None
        except Refusal as refusal:
            await self._write_status(tenant, self._refused_status(tenant, refusal, now))
            return None
        previous_lock = (status.get("planSync") or {}).get("locked")
        ent = entitlements(spec, resolved.plan.get("spec") or {}, resolved.addons, previous_lock, caps)
        suspended, suspend_reason = suspension(spec, now)
        view = TenantView(name, spec, ent, resolved.reseller, suspended)
        desired = render(self.config, view)
        namespace = namespace_of(self.config, name)
        children = {
            (c["kind"], c["metadata"].get("namespace", ""), c["metadata"]["name"]): c
            for c in self.inventory.children(name)
        }
        if not status.get("phase") or (
            status.get("phase") in ("Pending", "Failed") and not any(key[0] == "Namespace" for key in children)
        ):
            provisioning = dict(
                status,
                phase="Provisioning",
                reason="Provisioning",
                message="creating the namespace and its objects",
                observedGeneration=meta.get("generation"),
            )
            await self._write_status(tenant, provisioning)
            tenant["status"] = provisioning
        try:
            await self._apply_children(desired, children)
            if suspended or status.get("phase") == "Suspended":
                # Workloads are the tenant's own, not in the indexes: listed only around suspension.
                await self._scale(namespace, suspended)
        except KubeError as exc:
            failed = self._refused_status(tenant, Refusal("Failed", "ApplyFailed", str(exc)), now)
            await self._write_status(tenant, failed)
            raise
        new_status = self._status(tenant, view, ent, resolved, suspended, suspend_reason, now)
        await self._write_status(tenant, new_status)
        return self._next_wake(spec, new_status, now)

    def _next_wake(self, spec: dict[str, Any], status: dict[str, Any], now: datetime) -> float | None:
        moments = [parse_time(spec.get("expiresAt")), parse_time(status.get("trialEndsAt"))]
        future = [(m - now).total_seconds() for m in moments if m is not None and m > now]
        return min(future) + 0.5 if future else None

    async def _apply_children(self, desired: list[dict[str, Any]], live: dict[tuple[str, str, str], Any]) -> None:
        wanted = set()
        for obj in desired:
            key = (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            wanted.add(key)
            if not up_to_date(self.recent.pick(key, live.get(key)), obj):
                self.recent.remember(key, await self.client.apply(obj))
        for key, obj in live.items():
            if key in wanted or not is_ours(obj) or key[0] not in CHILD_KINDS:
                continue
            if obj["metadata"].get("deletionTimestamp"):
                continue
            await self.client.delete(key[0], key[2], key[1] or None)

    async def _scale(self, namespace: str, suspended: bool) -> None:
        """Suspension scales workloads to zero and remembers replicas; activation restores them."""
        for kind in ("Deployment", "StatefulSet"):
            try:
                workloads = await self.client.list(kind, namespace)
            except KubeError as exc:
                if exc.status == 404:
                    return
                raise
            for workload in workloads:
                meta = workload["metadata"]
                annotations = meta.get("annotations") or {}
                replicas = (workload.get("spec") or {}).get("replicas", 1)
                if suspended and replicas != 0:
                    remembered = annotations.get(REPLICAS_ANNOTATION, str(replicas))
                    await self.client.patch(
                        kind,
                        meta["name"],
                        {"metadata": {"annotations": {REPLICAS_ANNOTATION: remembered}}, "spec": {"replicas": 0}},
                        namespace,
                    )
                elif not suspended and REPLICAS_ANNOTATION in annotations:
                    await self.client.patch(
                        kind,
                        meta["name"],
                        {
                            "metadata": {"annotations": {REPLICAS_ANNOTATION: None}},
                            "spec": {"replicas": int(annotations[REPLICAS_ANNOTATION])},
                        },
                        namespace,
                    )

    def _status(
        self,
        tenant: dict[str, Any],
        view: TenantView,
        ent: Entitlements,
        resolved: Resolved,
        suspended: bool,
        suspend_reason: str,
        now: datetime,
    ) -> dict[str, Any]:
        meta = tenant["metadata"]
        spec = tenant.get("spec") or {}
        old = tenant.get("status") or {}
        generation = meta.get("generation")
        history = list(old.get("planHistory") or [])
        if not history or history[-1].get("plan") != spec.get("plan"):
            history.append({"plan": spec.get("plan"), "since": rfc3339(now)})
        trial_ends = old.get("trialEndsAt")
        trial_days = int(((resolved.plan.get("spec") or {}).get("pricing") or {}).get("trialDays") or 0)
        if trial_ends is None and trial_days > 0 and len(history) == 1:
            created = parse_time(meta.get("creationTimestamp")) or now
            trial_ends = rfc3339(created + timedelta(days=trial_days))
        trial_end_time = parse_time(trial_ends)
        if suspended:
            phase, reason = "Suspended", suspend_reason
            message = (
                "suspended by spec.suspend; set it to false to activate"
                if suspend_reason == "Manual"
                else "expired at spec.expiresAt; extend or clear it to activate"
            )
        elif trial_end_time is not None and trial_end_time > now:
            phase, reason, message = "Trial", "TrialRunning", f"trial until {trial_ends}"
        else:
            phase, reason, message = "Active", "Provisioned", "all objects are in place"
        has_binding = bool((spec.get("owner") or {}).get("subjects"))
        sync_ok = ent.state != "Unsynchronized"
        shortfall_text = "; ".join(
            f"{s.property}: promised {s.promised}, available {s.available}" for s in ent.shortfalls
        )
        conditions = [
            _condition("Ready", True, reason, message, generation),
            _condition(
                "NamespaceReady", True, "Applied", f"namespace {namespace_of(self.config, view.name)}", generation
            ),
            _condition(
                "QuotaReady", True, "Applied", "ResourceQuota and LimitRange match the effective limits", generation
            ),
            _condition(
                "NetworkReady", True, "Applied", "default-deny with same-namespace, ingress and DNS allowed", generation
            ),
            _condition(
                "AccessReady",
                True,
                "Applied" if has_binding else "NoSubjects",
                "owners are admins of the namespace"
                if has_binding
                else "spec.owner.subjects is empty: nobody was given access",
                generation,
            ),
            _condition("PlanSynced", sync_ok, ent.state, shortfall_text or f"plan sync state {ent.state}", generation),
        ]
        plan_sync: dict[str, Any] = {"state": ent.state}
        if ent.shortfalls:
            plan_sync["unsynchronized"] = [s.as_status() for s in ent.shortfalls]
        if ent.locked is not None:
            plan_sync["locked"] = ent.locked
        status: dict[str, Any] = {
            "phase": phase,
            "reason": reason,
            "message": message,
            "observedGeneration": generation,
            "namespace": namespace_of(self.config, view.name),
            "url": url_of(self.config, view),
            "conditions": _carry_times(conditions, old.get("conditions") or [], now),
            "effective": {"limits": format_limits(ent.limits), "features": ent.features},
            "planSync": plan_sync,
            "planHistory": history,
            "deletionPolicy": spec.get("deletionPolicy", "Retain"),
        }
        if trial_ends:
            status["trialEndsAt"] = trial_ends
        if suspended:
            status["suspendedAt"] = old.get("suspendedAt") or rfc3339(now)
        return status

    def _refused_status(self, tenant: dict[str, Any], refusal: Refusal, now: datetime) -> dict[str, Any]:
        old = tenant.get("status") or {}
        generation = tenant["metadata"].get("generation")
        status = {
            k: v
            for k, v in old.items()
            if k in ("planHistory", "trialEndsAt", "namespace", "url", "effective", "planSync", "deletionPolicy")
        }
        conditions = [_condition("Ready", False, refusal.reason, refusal.message, generation)]
        status.update(
            {
                "phase": refusal.phase,
                "reason": refusal.reason,
                "message": refusal.message,
                "observedGeneration": generation,
                "conditions": _carry_times(conditions, old.get("conditions") or [], now),
            }
        )
        return status

    async def _write_status(self, tenant: dict[str, Any], status: dict[str, Any]) -> None:
        old = tenant.get("status") or {}
        if _comparable(old) == _comparable(status):
            return
        patch = {key: None for key in old if key not in status}
        patch.update(status)
        name = tenant["metadata"]["name"]
        updated = await self.client.patch("Tenant", name, {"status": patch}, subresource="status")
        self.recent.remember(("Tenant", name), updated)
        if old.get("phase") != status.get("phase"):
            self.metrics.transitions.labels(status["phase"]).inc()
            kind = "Warning" if status["phase"] in ("Failed", "Pending") else "Normal"
            await self.client.event(
                tenant,
                kind,
                status.get("reason") or status["phase"],
                f"{old.get('phase') or 'New'} -> {status['phase']}: {status.get('message', '')}",
            )
        old_sync = (old.get("planSync") or {}).get("state")
        new_sync = (status.get("planSync") or {}).get("state")
        if new_sync and old_sync != new_sync and old.get("phase") == status.get("phase"):
            await self.client.event(
                tenant,
                "Normal" if new_sync != "Unsynchronized" else "Warning",
                new_sync,
                f"plan sync: {old_sync or 'New'} -> {new_sync}",
            )
        tenant["status"] = status

    async def _finalize_tenant(self, tenant: dict[str, Any]) -> float | None:
        meta = tenant["metadata"]
        name = meta["name"]
        if TENANT_FINALIZER not in (meta.get("finalizers") or []):
            return None
        status = tenant.get("status") or {}
        if status.get("phase") != "Terminating":
            await self._write_status(
                tenant,
                dict(status, phase="Terminating", reason="Deleting", message="removing the namespace and its objects"),
            )
        namespace = namespace_of(self.config, name)
        live = await self.client.get("Namespace", namespace)
        if live is not None:
            if not live["metadata"].get("deletionTimestamp"):
                await self.client.delete("Namespace", namespace)
            return 1.0  # wait for the namespace and its contents to be gone
        finalizers = [f for f in meta.get("finalizers") or [] if f != TENANT_FINALIZER]
        await self.client.patch(
            "Tenant", name, {"metadata": {"finalizers": finalizers or None, "resourceVersion": meta["resourceVersion"]}}
        )
        return None

    # -- plans, add-ons, resellers ----------------------------------------------------------
    async def reconcile_usage(self, kind: str, name: str) -> float | None:
        """Keeps status.tenants/usedBy current and holds deletion of a Plan or AddOn in use."""
        obj = {"Plan": self.inventory.plan, "AddOn": self.inventory.addon, "Reseller": self.inventory.reseller}[kind](
            name
        )
        if obj is None:
            return None
        meta = obj["metadata"]
        users = [t for t in self.inventory.referencing(kind, name) if self.inventory.tenant(t) is not None]
        finalizers = list(meta.get("finalizers") or [])
        guarded = kind in ("Plan", "AddOn")
        old = obj.get("status") or {}
        status: dict[str, Any] = {"tenants": len(users), "usedBy": users[:50]}
        if meta.get("deletionTimestamp"):
            if users:
                status["message"] = (
                    f"deletion is held: {len(users)} tenant(s) use this {kind.lower()} "
                    f"({', '.join(users[:10])}); move them to another {kind.lower()} first"
                )
                if old.get("message") != status["message"]:
                    await self.client.event(obj, "Warning", "InUse", status["message"])
            elif IN_USE_FINALIZER in finalizers:
                remaining = [f for f in finalizers if f != IN_USE_FINALIZER]
                await self.client.patch(
                    kind,
                    name,
                    {"metadata": {"finalizers": remaining or None, "resourceVersion": meta["resourceVersion"]}},
                )
                return None
        elif guarded and IN_USE_FINALIZER not in finalizers:
            await self.client.patch(
                kind,
                name,
                {
                    "metadata": {
                        "finalizers": [*finalizers, IN_USE_FINALIZER],
                        "resourceVersion": meta["resourceVersion"],
                    }
                },
            )
        if {k: old.get(k) for k in ("tenants", "usedBy", "message")} != {
            k: status.get(k) for k in ("tenants", "usedBy", "message")
        }:
            patch = dict(status)
            if "message" not in status and "message" in old:
                patch["message"] = None
            await self.client.patch(kind, name, {"status": patch}, subresource="status")
        return None


def _condition(kind: str, ok: bool, reason: str, message: str, generation: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
    }


def _carry_times(new: list[dict[str, Any]], old: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """lastTransitionTime changes only when a condition's status does."""
    previous = {c.get("type"): c for c in old}
    out = []
    for condition in new:
        before = previous.get(condition["type"])
        stamp = before.get("lastTransitionTime") if before and before.get("status") == condition["status"] else None
        out.append({**condition, "lastTransitionTime": stamp or rfc3339(now)})
    return out


def _comparable(status: dict[str, Any]) -> dict[str, Any]:
    return {
        **status,
        "conditions": [
            {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []
        ],
    }
