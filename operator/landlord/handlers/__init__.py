"""kopf handlers: indexes of what the operator must know, and events that queue reconciles.

Thin on purpose: the reconcile logic is in `landlord.controller`. A registry is built per
operator run (`build_registry`) so that tests and the playground can run several in turn.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import kopf

from ..api.schemas import GROUP, VERSION
from ..components import Component
from ..config import Config
from ..controller import Controller
from ..inventory import CHILD_KINDS, Inventory, child_index_name
from ..kinds import KINDS, key_of
from ..kube import KubeClient
from ..pipeline import tenant_refs
from ..providers import load_providers
from ..render.view import TENANT_LABEL

logger = logging.getLogger(__name__)


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


def _snapshot(body: Any) -> dict[str, Any]:
    return copy.deepcopy(dict(body))


def _login_default(**kwargs: Any) -> kopf.ConnectionInfo | None:
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    return info


def build_registry(
    state: OperatorState, login: Callable[[], kopf.ConnectionInfo] | None = None
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    def connect(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if state.connection is None:
            state.connection = login() if login is not None else _login_default(**kwargs)
        return state.connection

    @kopf.on.login(registry=registry, id="landlord_login")
    def landlord_login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return connect(**kwargs)

    @kopf.on.startup(registry=registry, id="landlord_startup")
    async def landlord_startup(settings: kopf.OperatorSettings, logger: Any, **kwargs: Any) -> None:
        settings.posting.enabled = False  # the controller posts its own Events, on transitions only
        settings.watching.server_timeout = 300
        settings.watching.reconnect_backoff = 1.0
        settings.persistence.finalizer = "landlord.dev/kopf"
        for hook in state.settings_hooks:
            hook(settings)
        connection = connect(settings=settings, logger=logger)  # startup runs before kopf's own login
        if connection is None:
            raise kopf.PermanentError("no Kubernetes credentials: no service account and no kubeconfig found")
        state.client = KubeClient(connection)
        indices = {name: value for name, value in kwargs.items() if name.endswith("_index") or name == "tenant_refs"}
        providers = load_providers(state.config.raw)  # checked before kopf starts too (runner)
        components = state.components() if state.components is not None else None
        state.controller = Controller(
            state.config, state.client, Inventory(indices), providers=providers, components=components
        )
        port = state.config.metrics_port
        if port:
            state.metrics_server = state.controller.metrics.serve(port)
        state.controller.start()

    @kopf.on.cleanup(registry=registry, id="landlord_cleanup")
    async def landlord_cleanup(**_: Any) -> None:
        if state.metrics_server is not None:
            state.metrics_server.shutdown()
            state.metrics_server.server_close()
            state.metrics_server = None
        if state.controller is not None:
            await state.controller.stop()
        if state.client is not None:
            await state.client.close()

    # -- indexes: the catalogue, the tenants and the children, kept in memory by kopf ---------
    @kopf.index(GROUP, VERSION, "tenants", registry=registry, id="tenant_index")
    def tenant_index(name: str, body: Any, **_: Any) -> dict[str, Any]:
        return {name: _snapshot(body)}

    @kopf.index(GROUP, VERSION, "tenants", registry=registry, id="tenant_refs_index")
    def tenant_refs_index(name: str, spec: Any, **_: Any) -> dict[Any, str]:
        return {ref: name for ref in tenant_refs(dict(spec), name)}

    @kopf.index(GROUP, VERSION, "plans", registry=registry, id="plan_index")
    def plan_index(name: str, body: Any, **_: Any) -> dict[str, Any]:
        return {name: _snapshot(body)}

    @kopf.index(GROUP, VERSION, "addons", registry=registry, id="addon_index")
    def addon_index(name: str, body: Any, **_: Any) -> dict[str, Any]:
        return {name: _snapshot(body)}

    @kopf.index(GROUP, VERSION, "resellers", registry=registry, id="reseller_index")
    def reseller_index(name: str, body: Any, **_: Any) -> dict[str, Any]:
        return {name: _snapshot(body)}

    for kind in CHILD_KINDS:
        _child_index(registry, kind)
        _child_event(registry, state, kind)

    # -- events: queue reconciles -------------------------------------------------------------
    @kopf.on.event(GROUP, VERSION, "tenants", registry=registry, id="tenant_event")
    def tenant_event(name: str, type: str | None, body: Any, **_: Any) -> None:
        if state.controller is not None:
            state.controller.tenant_changed(name, None if type == "DELETED" else _snapshot(body))

    for kind in ("Plan", "AddOn", "Reseller"):
        _catalog_event(registry, state, kind)

    return registry


def _child_index(registry: kopf.OperatorRegistry, kind: str) -> None:
    target = KINDS[kind]
    group, version = target.group, target.version

    def index(body: Any, labels: Any, **_: Any) -> dict[str, Any]:
        return {labels[TENANT_LABEL]: _snapshot(body)}

    index.__name__ = child_index_name(kind)
    kopf.index(
        group, version, target.plural, registry=registry, id=child_index_name(kind), labels={TENANT_LABEL: kopf.PRESENT}
    )(index)


def _child_event(registry: kopf.OperatorRegistry, state: OperatorState, kind: str) -> None:
    """A child changed or deleted by someone else queues its tenant at once (repair, observation)."""
    target = KINDS[kind]

    def event(type: str | None, body: Any, labels: Any, **_: Any) -> None:
        if state.controller is None or type is None:  # None: the initial listing, nothing happened
            return
        obj = dict(body)
        state.controller.child_changed(labels[TENANT_LABEL], key_of(obj), None if type == "DELETED" else obj)

    kopf.on.event(
        target.group,
        target.version,
        target.plural,
        registry=registry,
        id=f"child_{kind.lower()}_event",
        labels={TENANT_LABEL: kopf.PRESENT},
    )(event)


def _catalog_event(registry: kopf.OperatorRegistry, state: OperatorState, kind: str) -> None:
    plural = KINDS[kind].plural

    def event(name: str, **_: Any) -> None:
        if state.controller is not None:
            state.controller.catalog_changed(kind, name)

    kopf.on.event(GROUP, VERSION, plural, registry=registry, id=f"{kind.lower()}_event")(event)
