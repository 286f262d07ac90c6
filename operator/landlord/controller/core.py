"""The controller: a work queue of keys, workers, the drift pass, and what queues what.

kopf's handlers and the children's informers only call the triggers here (`tenant_changed`,
`catalog_changed`, `child_changed`); workers run the tenant reconcile (`tenants.py`) or the
catalogue usage reconcile (`usage.py`) for each key. Failures are retried with backoff.

Nothing is reconciled before every index is listed (`indexes_ready`, after the lists at start):
a reconcile over a half-filled index would apply children that exist, or refuse a tenant whose
plan is not listed yet. When kopf lists a kind (its first listing, or again after its watch
failed: `relisted`), the indexes are checked against a fresh list (`resync`): no event says
what was deleted in between. (The children's informers do that themselves when they list again.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import Counter
from typing import Any

from ..api.composition import Allocation
from ..components import Component, Services, check_renderers, default_components
from ..config import Config
from ..inventory import INDEX_NAMES, Inventory, uid_of
from ..kinds import ObjectKey, describe
from ..kube import KubeClient
from ..metrics import Metrics
from ..pipeline import USAGE_KINDS, reseller_shares, tenant_refs
from ..providers import Providers
from ..recent import Recent
from ..redaction import redact
from ..render.cluster import OPERATOR_NAMESPACE
from ..workqueue import WorkQueue
from .lease import ShardLease
from .tenants import TenantReconciler
from .usage import reconcile_usage

RECENT_TTL = 300.0  # seconds an unanswered write of ours is preferred over a lagging index
logger = logging.getLogger(__name__)

_UNSET = object()
ASKS = "landlord.dev/"  # annotations on a Tenant that ask the operator for something
RESYNC_SETTLE = 0.5  # seconds without listing events before the indexes are checked
RESYNC_RETRY = 5.0
USAGE_SETTLE = 0.5  # seconds a usage reconcile waits for more tenant changes of the same plan
RESYNC_KINDS = tuple(INDEX_NAMES)  # what kopf watches (the children's informers list again themselves)


class Controller:
    """One operator run's reconcile machinery over the operator's indexes."""

    def __init__(
        self,
        config: Config,
        client: KubeClient,
        inventory: Inventory,
        metrics: Metrics | None = None,
        providers: Providers | None = None,
        components: list[Component] | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.metrics.watch(self)
        self.client = client
        self.inventory = inventory
        self.providers = providers or Providers()
        self.components = components if components is not None else default_components(self.providers, config)
        check_renderers(self.components)
        services = Services(config, client, self.providers, self._all_tenants, self._requeue)
        for component in self.components:
            component.bind(services)
        self.queue = WorkQueue()
        self.failures: Counter[Any] = Counter()
        self.refs: dict[str, set[tuple[str, str]]] = {}
        self.seen: dict[str, Any] = {}
        # Kept until the watch brings each write back (`caught_up`), at most RECENT_TTL: under a
        # plan edit over 10000 tenants the watch lagged more than 30 s behind the writes, and a
        # reconcile then read the index's older object and applied again.
        self.recent = Recent(ttl=max(RECENT_TTL, config.drift_interval))
        self._written: dict[ObjectKey, str] = {}  # child -> resourceVersion of our last write
        # Child events that came while their tenant's reconcile runs, by child: the tenant and the
        # versions seen. The echo of a write can come before the write's answer (the watch is
        # read as the answer is); the reconcile's own writes are recognised when answered, the
        # rest queue the tenant once it is done.
        self._early: dict[ObjectKey, tuple[str, set[str]]] = {}
        self._shares: dict[str, dict[str, Allocation] | None] = {}  # per reseller, until something changes
        self.reconciles = 0
        self.tenants = TenantReconciler(self)
        self.indexed = asyncio.Event()  # kopf has listed every index once
        self.shard = config.shard
        self.lease: ShardLease | None = None  # with several replicas: acting only while holding it
        self._relisted = asyncio.Event()  # kopf listed a kind again: check the indexes
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        if not self.shard.whole:
            namespace = os.environ.get("LANDLORD_NAMESPACE") or OPERATOR_NAMESPACE
            identity = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
            self.lease = ShardLease(self.client, namespace, self.shard, identity, self.config.lease_duration)
            self._tasks.append(asyncio.create_task(self.lease.run(), name="landlord-shard-lease"))
        for number in range(self.config.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"landlord-worker-{number}"))
        self._tasks.append(asyncio.create_task(self._drift(), name="landlord-drift"))
        self._tasks.append(asyncio.create_task(self._resyncs(), name="landlord-resync"))
        for component in self.components:
            self._tasks.append(asyncio.create_task(self._background(component), name=f"landlord-{component.name}"))

    async def _background(self, component: Component) -> None:
        """A component's long-running work; restarted after a failure, never taking the operator down.
        It starts once the indexes are listed, as reconciles do: it reads them too (metering)."""
        await self.indexed.wait()
        while True:
            try:
                await component.background()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("background work of %s failed (restart in 10s): %s", component.name, redact(exc))
                await asyncio.sleep(10)

    def _all_tenants(self) -> list[dict[str, Any]]:
        found = [self.tenant(name) for name in self.inventory.names("Tenant")]
        return [t for t in found if t is not None]

    def _requeue(self, name: str) -> None:
        self.queue.add(("Tenant", name))

    def halt(self) -> None:
        """Stops taking work at once (SIGTERM): the reconcile in progress is cancelled where it
        waits, as a kill would cut it (every reconcile is safe to cut). Otherwise the workers went
        on through the queue while kopf drained its watch streams: 23 to 38 s to stop at 10000
        tenants, past Kubernetes' default grace period. `stop` releases the rest."""
        self.queue.close()
        for task in self._tasks:
            task.cancel()

    async def stop(self) -> None:
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.lease is not None:
            await self.lease.release()  # the next replica of this shard starts at once
        await self.providers.close()

    async def _drift(self) -> None:
        """Re-queues everything every drift interval: a safety net behind the watches."""
        await self.indexed.wait()
        while True:
            await asyncio.sleep(self.config.drift_interval)
            for name in self.inventory.names("Tenant"):
                if self.shard.owns(name):
                    self.queue.add(("Tenant", name))

    async def _resyncs(self) -> None:
        """Checks the indexes against the API server each time kopf has listed a kind again."""
        await self.indexed.wait()
        while True:
            await self._relisted.wait()
            while self._relisted.is_set():  # let kopf's listing finish: it updates what still exists
                self._relisted.clear()
                await asyncio.sleep(RESYNC_SETTLE)
            try:
                await self.resync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("checking the indexes failed (retry in %ss): %s", RESYNC_RETRY, redact(exc))
                await asyncio.sleep(RESYNC_RETRY)
                self._relisted.set()

    async def resync(self) -> int:
        """Forgets what was deleted while a watch was away, and queues whom it concerns.

        kopf lists a kind again after its watch fails (410 Gone: the API server no longer has
        the events since the watch's resourceVersion) and indexes what the list holds, but keeps
        in its indexes what the list lacks. Each indexed object absent from a fresh list, and
        absent (or another uid) when read alone (it may be newer than the list), is gone.
        Returns how many were found.
        """
        self.metrics.resyncs.inc()
        gone: list[tuple[ObjectKey, dict[str, Any]]] = []
        for kind in RESYNC_KINDS:
            listed = {uid_of(obj) for obj in await self.client.list(kind)}
            for obj in list(self.inventory.objects(kind)):
                if uid_of(obj) in listed:
                    continue
                meta = obj.get("metadata") or {}
                key: ObjectKey = (kind, str(meta.get("namespace") or ""), str(meta.get("name", "")))
                live = await self.client.get(kind, key[2], key[1] or None)
                if live is None or uid_of(live) != uid_of(obj):
                    gone.append((key, obj))
        for key, obj in gone:  # all at once: a reconcile must not see half of a namespace's objects forgotten
            self.inventory.forget(uid_of(obj))
            self.missed_deletion(key)
        for key, _ in gone:
            self._gone(key)
        self.inventory.gone &= self.inventory.indexed_uids()  # kopf may drop some after all
        return len(gone)

    def _gone(self, key: ObjectKey) -> None:
        kind, _, name = key
        if kind == "Tenant":
            self.tenant_changed(name, None)
        else:
            self.catalog_changed(kind, name)

    async def _worker(self) -> None:
        await self.indexed.wait()
        while True:
            key: Any = await self.queue.get()
            try:
                if self.lease is not None:
                    await self.lease.held.wait()  # another replica acts for the shard meanwhile
                delay = await self.process(key)
                self.failures.pop(key, None)
                if delay is not None:
                    self.queue.add_after(key, delay)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed reconcile is retried with backoff
                self.failures[key] += 1
                backoff = min(2 ** self.failures[key], 60)
                logger.warning("reconcile of %s/%s failed (retry in %ss): %s", key[0], key[1], backoff, redact(exc))
                self.queue.add_after(key, backoff)
            finally:
                self.settle_early(key)
                self.queue.done(key)

    def acting(self) -> bool:
        """Whether this replica reconciles now (a standby's workers wait for the shard's Lease,
        holding their keys meanwhile)."""
        return self.lease is None or self.lease.held.is_set()

    def settle_early(self, key: Any) -> None:
        """After a tenant's reconcile: the events that came meanwhile and were not its own writes'
        echoes queue it again (it runs once more)."""
        if key[0] != "Tenant" or not self._early:
            return
        mine = [child for child, (tenant, _) in self._early.items() if tenant == key[1]]
        for child in mine:
            del self._early[child]  # (a write of this reconcile whose echo is still to come stays recognised)
        if mine:
            self.queue.add(key)

    async def process(self, key: Any) -> float | None:
        kind, name = key
        assert isinstance(kind, str) and isinstance(name, str)
        if not (self.shard.owns(name) if kind == "Tenant" else self.shard.catalogue):
            return None  # another replica's tenant (or the catalogue, which shard 0 keeps)
        self.reconciles += 1
        result = "error"
        try:
            with self.metrics.duration.labels(kind).time():
                if kind == "Tenant":
                    delay = await self.tenants.reconcile(name)
                else:
                    delay = await reconcile_usage(self.client, self.inventory, kind, name)
            result = "success"
            return delay
        finally:
            self.metrics.reconciles.labels(kind, result).inc()

    # -- what the reconcile reads ----------------------------------------------------------
    def tenant(self, name: str) -> dict[str, Any] | None:
        """The freshest Tenant we know: the index, or our own write when the index lags."""
        indexed = self.inventory.tenant(name)
        if indexed is None:
            self.recent.forget(("Tenant", name))
            return None
        return self.recent.pick(("Tenant", name), indexed)

    def share_of(self, tenant: dict[str, Any]) -> Allocation | None:
        """This tenant's share of its reseller's allocation; computed once per reseller and change."""
        reseller_name = (tenant.get("spec") or {}).get("reseller")
        reseller = self.inventory.reseller(str(reseller_name)) if reseller_name else None
        if reseller is None:
            return None
        if reseller_name not in self._shares:
            self._shares[str(reseller_name)] = reseller_shares(self.inventory, reseller)
        shares = self._shares[str(reseller_name)]
        return None if shares is None else shares.get(tenant["metadata"]["name"])

    def remember_write(self, key: ObjectKey, obj: dict[str, Any]) -> None:
        """A child we just wrote: preferred over a lagging index, and its watch event ignored
        (or, when the event came first, let go: the index holds the write already)."""
        version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        early = self._early.get(key)
        if early is not None and version in early[1]:
            early[1].discard(version)
            if not early[1]:
                del self._early[key]
            return
        self.recent.remember(key, obj)
        self._written[key] = version

    # -- triggers (called by the kopf handlers) ----------------------------------------------
    def indexes_ready(self) -> None:
        """kopf has listed every index (it calls no resource handler before): reconciles may start."""
        if not self.indexed.is_set():
            logger.info("every index is listed; reconciles start")
            self.indexed.set()

    def relisted(self, kind: str) -> None:
        """kopf listed a kind again (its watch failed): the indexes are checked soon after."""
        self._relisted.set()

    def missed_deletion(self, key: ObjectKey) -> None:
        """An object found deleted by a list made after its watch was away (its DELETED event lost)."""
        self.metrics.missed_deletions.labels(key[0]).inc()
        logger.info("%s was deleted while the watch was away", describe(key))

    def ignored(self, kind: str) -> None:
        """A watch event of an object with Landlord's labels that is not a child (labels copied)."""
        self.metrics.ignored.labels(kind).inc()

    def tenant_changed(self, name: str, tenant: dict[str, Any] | None) -> None:
        """A Tenant was added, changed or deleted (None). Our own status writes come back here
        too: they change neither generation nor deletion state nor finalizers, and queue nothing."""
        meta = (tenant or {}).get("metadata") or {}
        signature = None
        if tenant is not None:
            # Landlord's own annotations (a password rotation asked for) are requests too.
            asks = tuple(sorted((k, str(v)) for k, v in (meta.get("annotations") or {}).items() if k.startswith(ASKS)))
            signature = (
                meta.get("generation"),
                meta.get("deletionTimestamp"),
                tuple(meta.get("finalizers") or []),
                asks,
            )
        previous = self.seen.get(name, ("unseen",))
        if tenant is not None:
            self.recent.caught_up(("Tenant", name), tenant)  # the index holds it now (see child_changed)
        if tenant is not None and previous == signature:
            return
        if tenant is None:
            self.seen.pop(name, None)
        else:
            self.seen[name] = signature
        self.queue.add(("Tenant", name))
        new_refs = tenant_refs(tenant.get("spec") or {}, name) if tenant is not None else set()
        old_refs = self.refs.pop(name, set())
        if tenant is not None:
            self.refs[name] = new_refs
        first_sight = previous == ("unseen",)
        if not (first_sight or tenant is None or tuple(previous)[:2] != tuple(signature or ())[:2]):
            return  # only finalizers changed
        self._shares.clear()
        for ref in old_refs | new_refs:
            if ref[0] in USAGE_KINDS:
                # Usage counts of the plan, add-ons and reseller: each a pass over all their tenants,
                # so once for the tenants that change together (a listing), not once per tenant.
                self.queue.add_after(ref, USAGE_SETTLE)
            if ref[0] in ("Reseller", "Host", "Domain") and not first_sight:
                # A change or deletion can free allocation or a host for the tenants after it.
                for sibling in self.inventory.referencing(*ref):
                    if sibling != name:
                        self.queue.add(("Tenant", sibling))

    def catalog_listed(self, kind: str, name: str) -> None:
        """A Plan, AddOn or Reseller as kopf lists it at start, unchanged since the start-up list:
        its usage is looked at; its tenants are not queued for it (their own listing events do)."""
        self.queue.add((kind, name))

    def catalog_changed(self, kind: str, name: str) -> None:
        self._shares.clear()
        self.queue.add((kind, name))
        for tenant in self.inventory.referencing(kind, name):
            self.queue.add(("Tenant", tenant))

    def invoice_changed(self, tenant: str) -> None:
        """An invoice of `tenant` started or stopped suspending it (past grace, paid, void, deleted):
        the tenant is looked at now, so that payment reactivates it at once."""
        if self.inventory.tenant(tenant) is not None:
            self.queue.add(("Tenant", tenant))

    def child_changed(self, tenant: str, key: ObjectKey, obj: dict[str, Any] | None) -> None:
        """A child of `tenant` (the tenant whose namespace holds it, whatever its labels say) was
        changed or deleted (None) by someone: the tenant is looked at now, not at the next drift
        pass. The echo of our own write is recognised and queues nothing."""
        if obj is not None:
            # The index holds it now: what we wrote is let go once this is as new (kept, the
            # responses to a tenant's writes were a fifth of the operator's memory at N = 1000).
            self.recent.caught_up(key, obj)
            version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            if self._written.get(key) == version:
                del self._written[key]  # the echo came: nothing more to recognise
                return
            if tenant and self.queue.running(("Tenant", tenant)) and self.acting():
                self._early.setdefault(key, (tenant, set()))[1].add(version)  # see `settle_early`
                return
        else:
            self.recent.forget(key)  # what we last wrote is gone: never mistake it for the live object
        self._written.pop(key, None)
        if tenant:
            self.queue.add(("Tenant", tenant))
