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
from ..diffing import up_to_date
from ..kinds import ObjectKey, describe, key_of
from ..kube import KubeClient, KubeError
from ..pipeline import Desired
from ..providers import Providers
from ..redaction import redact

RECHECK_TERMINATING = 2.0  # seconds: a child being deleted is looked at again this soon


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
    errors: dict[ObjectKey, str] = field(default_factory=dict)
    created: list[ObjectKey] = field(default_factory=list)  # children found missing and created
    blocked: dict[str, str] = field(default_factory=dict)  # component -> why it could not act

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
            try:
                ctx.remember(key, await ctx.client.apply(obj))
            except KubeError as exc:
                ctx.errors[key] = redact(exc)
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
                return Observation(False, "ApplyFailed", f"{describe(key)}: {ctx.errors[key]}", failed=True)
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
