"""The component seam: one capability = children + external effects + one observed condition.

A component (a) renders its Kubernetes children (pure, from `landlord.render`), (b) performs
its external effects through a provider, (c) reports one condition computed from what it
observed in the cluster or the external system, and (d) says when it wants to be looked at
again. The controller runs every component in order on every reconcile and rolls their
conditions up into `Ready` and the phase.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..diffing import stray_fields, up_to_date
from ..kinds import ObjectKey, describe, key_of
from ..kube import KubeClient, KubeError
from ..pipeline import Desired
from ..providers import Providers
from ..redaction import redact

# Seconds until a child being deleted is looked at again: a fallback only, since the watch
# reports its deletion at once (and re-applying to a terminating object would change nothing).
RECHECK_TERMINATING = 30.0
RECHECK_TRANSIENT = 5.0  # seconds: after an API error that resolves itself (409, 429, 5xx)


@dataclass(frozen=True)
class Observation:
    """What a component saw: its condition, and when to look again.

    `failed` marks a problem a person must fix (the tenant's phase becomes Failed);
    a problem that resolves itself (a child being deleted, a server restarting) is not.
    """

    ok: bool
    reason: str
    message: str
    failed: bool = False
    recheck_after: float | None = None


@dataclass
class Services:
    """What a component may use beyond one reconcile: for background work and placement."""

    config: Config
    client: KubeClient
    providers: Providers
    tenants: Callable[[], list[dict[str, Any]]]  # every Tenant the operator knows (freshest view)
    requeue: Callable[[str], None]  # look at this tenant again now


@dataclass
class Context:
    """One reconcile of one tenant, as the components see it."""

    desired: Desired
    config: Config
    tenant: dict[str, Any]
    client: KubeClient
    providers: Providers
    lookup: Callable[[ObjectKey], dict[str, Any] | None]  # the freshest live object we know
    remember: Callable[[ObjectKey, dict[str, Any]], None]  # an object we just wrote
    record_status: Callable[[dict[str, Any]], Awaitable[None]]  # writes status fields now (intent)
    errors: dict[ObjectKey, KubeError] = field(default_factory=dict)
    created: list[ObjectKey] = field(default_factory=list)  # children found missing and created
    blocked: dict[str, str] = field(default_factory=dict)  # component -> why it could not act
    keep: set[ObjectKey] = field(default_factory=set)  # children made outside rendering: not pruned
    notes: dict[str, Any] = field(default_factory=dict)  # component -> what its act() observed

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.tenant.get("status") or {})


class Component:
    """Base class: a component whose work is its Kubernetes children.

    Subclasses set `name` (the key of `Desired.children`), `condition`, and the message of
    the healthy state; a component with external effects overrides `act` and `observe`.
    """

    name: str = ""
    condition: str = ""
    namespaced: bool = True
    kinds: tuple[str, ...] = ()  # the child kinds it manages (pruned only while it is active)
    renders: bool = True  # its children come from `landlord.render` (RENDERERS[name])

    def bind(self, services: Services) -> None:
        """Called once when the operator starts, before any reconcile."""
        self.services = services

    async def background(self) -> None:
        """Long-running work of the component (e.g. metering); none by default."""

    async def finalize(self, tenant: dict[str, Any]) -> float | None:
        """The tenant is being deleted: undo or keep what lives outside the namespace.

        Returns seconds until it should be asked again (not done yet), or None when done.
        """
        return None

    def usage(self) -> dict[tuple[str, str], float]:
        """Measured usage by (tenant, resource), for the metrics; none by default."""
        return {}

    def children(self, desired: Desired) -> list[dict[str, Any]]:
        return desired.children.get(self.name, [])

    def healthy(self, desired: Desired) -> str:
        return "all objects are in place"

    def healthy_reason(self, desired: Desired) -> str:
        return "Applied"

    async def apply(self, ctx: Context) -> None:
        """Applies every child that differs from what the API server holds (server-side apply)."""
        for obj in self.children(ctx.desired):
            key = key_of(obj)
            live = ctx.lookup(key)
            if up_to_date(live, obj):
                continue
            if live is not None and (live.get("metadata") or {}).get("deletionTimestamp"):
                continue  # being deleted: applying changes nothing; created again once the watch says it is gone
            try:
                result = await ctx.client.apply(obj)
                cleanup = stray_fields(result, obj)
                if cleanup is not None:  # fields someone else added where only Landlord's belong
                    result = await ctx.client.patch(key[0], key[2], cleanup, key[1] or None)
                ctx.remember(key, result)
            except KubeError as exc:
                ctx.errors[key] = exc
                continue
            if live is None:
                ctx.created.append(key)

    async def act(self, ctx: Context) -> None:
        """External effects through a provider; none for a component made only of children."""

    def observe(self, ctx: Context) -> Observation:
        """The condition, from the children as the API server last answered for them."""
        if self.name in ctx.blocked:
            return Observation(False, "Waiting", ctx.blocked[self.name], recheck_after=RECHECK_TERMINATING)
        for obj in self.children(ctx.desired):
            key = key_of(obj)
            if key in ctx.errors:
                error = ctx.errors[key]
                # 404: the namespace is gone or going; 409, 429, 5xx: the server is busy. All pass.
                transient = error.status in (404, 409, 429) or error.status >= 500
                return Observation(
                    False,
                    "ApplyFailed",
                    f"{describe(key)}: {redact(error)}",
                    failed=not transient,  # a rejected object needs a person; a busy server does not
                    recheck_after=RECHECK_TRANSIENT if transient else None,
                )
            live = ctx.lookup(key)
            if live is None:
                return Observation(False, "Missing", f"{describe(key)} is missing; it is being created again")
            deleting = (live.get("metadata") or {}).get("deletionTimestamp")
            if deleting:
                finalizers = ", ".join((live.get("metadata") or {}).get("finalizers") or []) or "none"
                return Observation(
                    False,
                    "Terminating",
                    f"{describe(key)} is being deleted (finalizers: {finalizers}); it is created again once gone",
                    recheck_after=RECHECK_TERMINATING,
                )
            if not up_to_date(live, obj):
                return Observation(False, "Drifted", f"{describe(key)} differs from what it should be; re-applying")
        return Observation(True, self.healthy_reason(ctx.desired), self.healthy(ctx.desired))

    def status_fields(self, ctx: Context) -> dict[str, Any]:
        """Fields of the Tenant status this component owns (e.g. `database`); none by default."""
        return {}
