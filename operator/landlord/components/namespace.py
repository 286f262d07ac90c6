"""The tenant's namespace: the boundary every other child lives in."""

from __future__ import annotations

from ..api.conditions import ConditionType
from ..kinds import key_of
from ..pipeline import Desired
from .base import Component, Context


class NamespaceComponent(Component):
    """Creates the namespace; while it is being deleted, the namespaced components wait."""

    name = "namespace"
    condition = ConditionType.NAMESPACE_READY
    kinds = ("Namespace",)
    namespaced = False

    def healthy(self, desired: Desired) -> str:
        return f"namespace {desired.namespace}"

    def terminating(self, ctx: Context) -> bool:
        """Whether the namespace is being deleted (nothing can be created in it until it is gone)."""
        for obj in self.children(ctx.desired):
            live = ctx.lookup(key_of(obj))
            if live is not None and (live.get("metadata") or {}).get("deletionTimestamp"):
                return True
        return False
