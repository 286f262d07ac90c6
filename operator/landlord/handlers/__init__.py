"""kopf handlers: watch events that keep the operator's indexes and queue reconciles.

Thin on purpose: the reconcile logic is in `landlord.controller`. A registry is built per
operator run (`build_registry`) so that tests and the playground can run several in turn.
kopf watches the Tenants, the catalogue and the invoices; the children are watched by informers
of our own (`informer.py`), started with the operator, whose events only keep an index and
queue a tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import kopf

from ..api.schemas import GROUP, VERSION
from ..components import Component
from ..config import Config
from ..controller import Controller
from ..indexes import Indexes, slim
from ..inventory import (
    CHILD_KINDS,
    CHILD_SELECTOR,
    DUNNING_INDEX,
    INDEX_NAMES,
    REFS_INDEX,
    Inventory,
    child_index_name,
    child_owner,
    home_tenant,
)
from ..kinds import KINDS, key_of
from ..kube import KubeClient, KubeError, login_default
from ..pipeline import tenant_refs
from ..pipeline.overuse import invoice_suspends
from ..providers import load_providers
from ..render.view import TENANT_LABEL
from ..sharding import Shard
from . import informer

logger = logging.getLogger(__name__)


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf's diff base ("last handled configuration"), never kept: Landlord has only event
    handlers, which read no diff, yet kopf builds the essence of every object on every event
    (a deep copy of the whole body, `managedFields` included) to compare it with the stored one.
    Nothing is stored, so nothing is compared: the essence stays empty."""

    def build(self, *, body: Any, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: Any) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        return None


def quiet_handler_logs() -> None:
    """kopf logs "Handler 'x' succeeded." at INFO for every watch event of every object (ten per
    tenant and change): formatted, redacted and written for nothing. Unless someone configured
    kopf's object logger, it logs warnings and errors only (failed handlers still show)."""
    objects = logging.getLogger("kopf.objects")
    if objects.level == logging.NOTSET:
        objects.setLevel(logging.WARNING)


LIST_PAGE = 500  # objects per page of a list at start (kopf's and the prefill's)
KOPF_IDLE_WORKER = 0.5  # seconds (kopf's default: 5)
# The collector's first threshold: allocations between young collections (Python's default: 700).
GC_YOUNG = 50_000


def settle_gc() -> None:
    """What was listed at start stays for the run: out of the cycle collector's scans (`gc.freeze`,
    after one collection; objects are still freed when nothing refers to them). Young collections
    are rarer, so that the objects of the reconciles under way die young rather than reaching the
    oldest generation, whose collections scan every object: at 1000 tenants a full collection
    took 0.3 to 0.5 s, and a plan edit set off several."""
    gc.collect()
    gc.freeze()
    young, *older = gc.get_threshold()
    if young < GC_YOUNG:
        gc.set_threshold(GC_YOUNG, *older)


@dataclass
class OperatorState:
    """What one operator run holds: its connection, client and controller (for tests too)."""

    config: Config
    connection: kopf.ConnectionInfo | None = None
    client: KubeClient | None = None
    controller: Controller | None = None
    metrics_server: Any = None
    settings_hooks: list[Callable[[kopf.OperatorSettings], None]] = field(default_factory=list)
    components: Callable[[], list[Component]] | None = None  # default: every shipped component
    indexes: Indexes = field(default_factory=Indexes)
    stop_flag: asyncio.Event | None = None  # set on SIGTERM/SIGINT once started (see `stop_on_signals`)
    informers: list[asyncio.Task[None]] = field(default_factory=list)  # watching the children


def define_indexes(indexes: Indexes, prefix: str, shard: Shard | None = None) -> None:
    """What the operator keeps of each kind (`landlord.inventory` reads it). With several replicas
    the children and invoices of other shards' tenants are not kept (the API server cannot select
    them by shard, so they are still listed and watched); Tenants and the catalogue are kept whole:
    hosts, allocations and usage are counted over every tenant."""
    shard = shard or Shard()

    def by_name(body: Any) -> dict[str, Any]:
        return {body["metadata"]["name"]: slim(body)}

    for kind, name in INDEX_NAMES.items():
        indexes.define(kind, name, by_name)

    def refs(body: Any) -> dict[Any, tuple[str, str]]:
        meta = body["metadata"]
        return {ref: (meta["name"], meta["uid"]) for ref in tenant_refs(dict(body.get("spec") or {}), meta["name"])}

    indexes.define("Tenant", REFS_INDEX, refs)
    for kind in CHILD_KINDS:

        def child(body: Any, kind: str = kind) -> dict[str, Any]:
            owner = child_owner(kind, body, prefix)  # a copied label is not a child: not indexed
            return {} if owner is None or not shard.owns(owner) else {owner: slim(body)}

        indexes.define(kind, child_index_name(kind), child)

    def dunning(body: Any) -> dict[str, str]:
        labels = (body.get("metadata") or {}).get("labels") or {}
        if not labels.get(TENANT_LABEL) or not invoice_suspends(body) or not shard.owns(str(labels[TENANT_LABEL])):
            return {}
        return {str(labels[TENANT_LABEL]): body["metadata"]["name"]}  # the name only: not the invoice

    indexes.define("Invoice", DUNNING_INDEX, dunning)


async def prefill(indexes: Indexes, client: KubeClient) -> None:
    """One paginated list per kind kopf watches and the indexes keep (invoices by Landlord's
    label), so that the indexes are complete before the first reconcile; kopf's watches keep them
    current after. (The children's informers make their own first list.)"""
    for kind in indexes.kinds():
        if kind in CHILD_KINDS:
            continue
        selector = TENANT_LABEL if kind == "Invoice" else None
        try:
            async for page in client.pages(kind, label_selector=selector, page_size=LIST_PAGE):
                for obj in page:
                    # A list's items carry no kind (a watch event's object does): the indexes key by it.
                    obj.setdefault("apiVersion", KINDS[kind].api_version)
                    obj.setdefault("kind", kind)
                    indexes.observe(kind, obj)
        except KubeError as exc:
            if exc.status == 404:  # the kind is not installed (the Invoice CRD): nothing to index
                continue
            raise


def stop_on_signals(state: OperatorState) -> None:
    """SIGTERM and SIGINT, once the operator runs: the controller stops taking work first, then
    kopf stops (through `state.stop_flag`, which `runner.operate` gave it). kopf's own handlers,
    installed before the start-up handler runs, only start kopf's stop: the workers would keep
    reconciling while kopf drains its streams. Only in the main thread (where signals arrive)."""
    if state.stop_flag is None or threading.current_thread() is not threading.main_thread():
        return
    stop_flag = state.stop_flag

    def on_signal(signum: int) -> None:
        logger.info(
            "%s received: the controller stops taking work, then the operator stops", signal.Signals(signum).name
        )
        if state.controller is not None:
            state.controller.halt()
        stop_flag.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, on_signal, signum)


def build_registry(
    state: OperatorState, login: Callable[[], kopf.ConnectionInfo] | None = None
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    def connect(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if state.connection is None:
            state.connection = login() if login is not None else login_default(**kwargs)
        return state.connection

    @kopf.on.login(registry=registry, id="landlord_login")
    def landlord_login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return connect(**kwargs)

    @kopf.on.startup(registry=registry, id="landlord_startup")
    async def landlord_startup(settings: kopf.OperatorSettings, logger: Any, **kwargs: Any) -> None:
        settings.posting.enabled = False  # the controller posts its own Events, on transitions only
        settings.watching.server_timeout = 300
        settings.watching.reconnect_backoff = 1.0
        # kopf lists each kind at start (and after a failed watch) in pages, as the prefill does,
        # not in one response: one response of every tenant, or of every child of one kind, was
        # the high-water mark of a restart.
        settings.watching.chunk_size = LIST_PAGE
        settings.persistence.finalizer = "landlord.dev/kopf"
        settings.persistence.diffbase_storage = NoDiffBase()
        # kopf's worker of an object waits this long for its next event, holding the last one (the
        # whole body, managedFields and all): ten per tenant, for 5 s by default, the high-water
        # mark of a start or of provisioning. A worker is cheap to start again.
        settings.queueing.idle_timeout = KOPF_IDLE_WORKER
        quiet_handler_logs()
        watch_selectors(settings)
        for hook in state.settings_hooks:
            hook(settings)
        connection = connect(settings=settings, logger=logger)  # startup runs before kopf's own login
        if connection is None:
            raise kopf.PermanentError("no Kubernetes credentials: no service account and no kubeconfig found")
        state.client = KubeClient(connection)
        state.indexes = Indexes()  # a run of its own (a restart in the same process starts afresh)
        define_indexes(state.indexes, state.config.namespace_prefix, state.config.shard)
        await prefill(state.indexes, state.client)
        providers = load_providers(state.config.raw)  # checked before kopf starts too (runner)
        components = state.components() if state.components is not None else None
        state.controller = Controller(
            state.config, state.client, Inventory(state.indexes), providers=providers, components=components
        )
        await informer.stop(state.informers)  # a start-up kopf retries: none of the last attempt's
        state.informers = []
        for watcher in child_informers(state, state.client):
            # Indexed before the first reconcile, watched from that list on at once (what changes
            # meanwhile queues its tenant; the workers wait for the indexes): the later kinds'
            # lists must not outlast the API server's window of events for the first ones.
            await watcher.list()
            state.informers.append(asyncio.create_task(watcher.run(), name=f"landlord-watch-{watcher.kind.lower()}"))
        settle_gc()
        port = state.config.metrics_port
        if port:
            state.metrics_server = state.controller.metrics.serve(port)
        state.controller.indexes_ready()  # listed above: complete before the first reconcile
        state.controller.start()
        stop_on_signals(state)

    @kopf.on.cleanup(registry=registry, id="landlord_cleanup")
    async def landlord_cleanup(**_: Any) -> None:
        if state.metrics_server is not None:
            state.metrics_server.shutdown()
            state.metrics_server.server_close()
            state.metrics_server = None
        await informer.stop(state.informers)
        state.informers = []
        if state.controller is not None:
            await state.controller.stop()
        if state.client is not None:
            await state.client.close()

    # -- events: queue reconciles -------------------------------------------------------------
    @kopf.on.event(GROUP, VERSION, "tenants", registry=registry, id="tenant_event")
    async def tenant_event(name: str, type: str | None, body: Any, **_: Any) -> None:
        state.indexes.observe("Tenant", body, deleted=type == "DELETED")
        controller = state.controller
        if controller is None:
            return
        if type is None:
            controller.relisted("Tenant")
        controller.tenant_changed(name, None if type == "DELETED" else dict(body))  # read, not kept: no copy

    for kind in ("Plan", "AddOn", "Reseller"):
        _catalog_event(registry, state, kind)

    _invoices(registry, state)
    return registry


_SEEN = "landlord_resource_version"


def _seen(memo: Any, body: Any) -> tuple[str | None, str]:
    """The resourceVersion the object had when one of our handlers last saw it in this run
    (None: never) and its current one, which is remembered.

    kopf's `memo` is per object and lives for the run: a listing event (type None) for an object
    seen before means kopf listed the kind again after its watch failed (410 Gone, a restart of
    the stream), and what was deleted meanwhile is still in its indexes.
    """
    previous: str | None = memo.get(_SEEN)
    current = memo[_SEEN] = str((body.get("metadata") or {}).get("resourceVersion", ""))
    return previous, current


def child_informers(state: OperatorState, client: KubeClient) -> list[informer.Informer]:
    """An informer per child kind, by Landlord's labels (objects without them are never sent)."""
    inventory = Inventory(state.indexes)

    def indexed(kind: str) -> Callable[[], Iterable[dict[str, Any]]]:
        return lambda: inventory.objects(kind)

    return [
        informer.Informer(
            client, kind, child_events(state, kind), indexed(kind), selector=CHILD_SELECTOR, page_size=LIST_PAGE
        )
        for kind in CHILD_KINDS
    ]


def child_events(state: OperatorState, kind: str) -> informer.Deliver:
    """A child changed or deleted by someone else queues its tenant at once (repair, observation).
    The first list only fills the index (the tenants' own events queue them)."""
    prefix = state.config.namespace_prefix

    def deliver(type: str | None, body: dict[str, Any]) -> None:
        deleted = type in ("DELETED", informer.GONE)
        changed = state.indexes.observe(kind, body, deleted=deleted)
        controller = state.controller
        if controller is None:
            return
        home = home_tenant(kind, body, prefix)
        if home is None:  # not a name Landlord renders: a tenant's own object with copied labels
            controller.ignored(kind)
            return
        if type is None or (type == informer.LISTED and not changed):
            return  # the first list (the tenants' own events queue them), or listed again unchanged
        key = key_of(body)
        if type == informer.GONE:
            controller.missed_deletion(key)
        controller.child_changed(home, key, None if deleted else body)

    return deliver


def _catalog_event(registry: kopf.OperatorRegistry, state: OperatorState, kind: str) -> None:
    plural = KINDS[kind].plural

    async def event(name: str, type: str | None, body: Any, memo: Any, **_: Any) -> None:
        prefilled = type is None and memo.get(_SEEN) is None and _as_prefilled(state, kind, body)
        state.indexes.observe(kind, body, deleted=type == "DELETED")
        controller = state.controller
        if controller is None:
            return
        previous, current = _seen(memo, body)
        if type is None:
            controller.relisted(kind)
            if previous is not None and previous == current:
                return  # listed again, unchanged
            if prefilled:
                # kopf's listing at start, of what the start-up list already indexed: the reconciles
                # so far read this very object, and each tenant's own listing event queues it.
                controller.catalog_listed(kind, name)
                return
        controller.catalog_changed(kind, name)

    kopf.on.event(GROUP, VERSION, plural, registry=registry, id=f"{kind.lower()}_event")(event)


def _as_prefilled(state: OperatorState, kind: str, body: Any) -> bool:
    """The index holds this object (same uid) at this resourceVersion already."""
    meta = body.get("metadata") or {}
    for value in state.indexes[INDEX_NAMES[kind]].get(meta.get("name"), ()):
        held = value.get("metadata") or {}
        if held.get("uid") == meta.get("uid"):
            return str(held.get("resourceVersion", "")) == str(meta.get("resourceVersion", ""))
    return False


_DUNNING = "landlord_dunning"


def _invoices(registry: kopf.OperatorRegistry, state: OperatorState) -> None:
    """Invoices that suspend their tenant (PaymentOverdue): the dunning index keeps their names by
    tenant, and an event queues the tenant as soon as that changes (paid, void, past grace).
    Until the Invoice CRD is installed kopf has nothing to watch: the index stays empty."""
    plural = KINDS["Invoice"].plural

    @kopf.on.event(GROUP, VERSION, plural, registry=registry, id="invoice_event")
    async def invoice_event(type: str | None, body: Any, labels: Any, memo: Any, **_: Any) -> None:
        state.indexes.observe("Invoice", body, deleted=type == "DELETED")
        controller = state.controller
        if controller is None:
            return
        tenant = str(labels.get(TENANT_LABEL) or "")
        now = (tenant, type != "DELETED" and bool(labels.get(TENANT_LABEL)) and invoice_suspends(body))
        before = memo.get(_DUNNING)
        memo[_DUNNING] = now
        if before == now or (before is None and not now[1]):
            return  # nothing the tenant's suspension depends on changed
        for name in {t for t, _ in (before or now, now) if t}:
            controller.invoice_changed(name)


def watch_selectors(settings: kopf.OperatorSettings) -> None:
    """A server-side label selector on kopf's invoice watch: invoices without a tenant's label
    are never sent, parsed or queued (a handler's `labels=` filter would drop them only after
    that)."""
    invoices = KINDS["Invoice"]  # only an invoice of a tenant can suspend one
    settings.watching.label_selectors[(invoices.group, invoices.version, invoices.plural)] = TENANT_LABEL
