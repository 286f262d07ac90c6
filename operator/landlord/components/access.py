"""Access: the owners' RoleBinding in the tenant namespace."""

from __future__ import annotations

from ..api.conditions import ConditionType
from ..kinds import ObjectKey, key_of
from ..kube import KubeError
from ..pipeline import Desired
from .base import Component, Context


class AccessComponent(Component):
    name = "access"
    condition = ConditionType.ACCESS_READY
    kinds = ("RoleBinding",)

    async def apply(self, ctx: Context) -> None:
        """Replaces a binding whose role changed, then applies as usual.

        The API server refuses to change a RoleBinding's roleRef, and the role does change:
        read-only while suspended, or a new `ownerClusterRole`. Deleted first, so that for a
        moment the owners hold less, never more.
        """
        failed: dict[ObjectKey, KubeError] = {}
        for obj in self.children(ctx.desired):
            key = key_of(obj)
            live = ctx.lookup(key)
            if live is None or (live.get("metadata") or {}).get("deletionTimestamp"):
                continue
            if live.get("roleRef") != obj["roleRef"]:
                try:
                    await ctx.client.delete(key[0], key[2], key[1] or None)
                except KubeError as exc:
                    failed[key] = exc
        await super().apply(ctx)
        ctx.errors.update(failed)  # what stood in the way is the deletion, not the apply after it

    def healthy(self, desired: Desired) -> str:
        if not self.children(desired):
            return "spec.owner.subjects is empty: nobody was given access"
        if desired.suspended:
            return "the owners are bound to the read-only role while the tenant is suspended"
        return "the owners are bound to the owner role in the namespace"

    def healthy_reason(self, desired: Desired) -> str:
        return "Applied" if self.children(desired) else "NoSubjects"
