"""Access: the owners' RoleBinding in the tenant namespace."""

from __future__ import annotations

from typing import Any

from ..api.conditions import ConditionType
from ..kinds import ObjectKey, key_of
from ..kube import KubeError
from ..pipeline import Desired
from .base import RECHECK_TERMINATING, Component, Context, Observation

RBAC_FILE = "crds/landlord-rbac.yaml"


class AccessComponent(Component):
    name = "access"
    condition = ConditionType.ACCESS_READY
    kinds = ("RoleBinding",)

    def __init__(self) -> None:
        self._roles_found: set[str] = set()  # ClusterRoles seen to exist (a positive result only)
        self._roles_missing: set[str] = set()  # seen missing: looked at again on every reconcile

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
            await self._check_role(ctx, obj)
            if live is None or (live.get("metadata") or {}).get("deletionTimestamp"):
                continue
            if live.get("roleRef") != obj["roleRef"]:
                try:
                    await ctx.client.delete(key[0], key[2], key[1] or None)
                except KubeError as exc:
                    failed[key] = exc
        await super().apply(ctx)
        ctx.errors.update(failed)  # what stood in the way is the deletion, not the apply after it

    async def _check_role(self, ctx: Context, obj: dict[str, Any]) -> None:
        """A binding to a ClusterRole that does not exist grants nothing (say, an upgrade without
        `kubectl apply -f crds/landlord-rbac.yaml`). Each role is read once per operator run, and
        again on every reconcile while it is missing; a role once found is not read again, so the
        condition does not depend on whether the binding was written in this run."""
        ref = obj.get("roleRef") or {}
        role = str(ref.get("name") or "")
        if ref.get("kind") != "ClusterRole" or not role or role in self._roles_found:
            return
        try:
            found = await ctx.client.get("ClusterRole", role)
        except KubeError:
            return  # cannot tell (no right to read ClusterRoles): the binding's own result stands
        if found is None:
            self._roles_missing.add(role)
            ctx.notes[f"{self.name}.missing"] = role
        else:
            self._roles_missing.discard(role)
            self._roles_found.add(role)

    def observe(self, ctx: Context) -> Observation:
        role = ctx.notes.get(f"{self.name}.missing")
        if role and self.name not in ctx.blocked:
            return Observation(
                False,
                "ClusterRoleMissing",
                f"the owners are bound to the ClusterRole {role}, which does not exist, so they hold nothing; "
                f"install it: kubectl apply -f {RBAC_FILE} (or set ownerClusterRole/viewerClusterRole to a role "
                f"that exists)",
                recheck_after=RECHECK_TERMINATING,
            )
        return super().observe(ctx)

    def healthy(self, desired: Desired) -> str:
        if not self.children(desired):
            return "spec.owner.subjects is empty: nobody was given access"
        if desired.suspended:
            return "the owners are bound to the read-only role while the tenant is suspended"
        return "the owners are bound to the owner role in the namespace"

    def healthy_reason(self, desired: Desired) -> str:
        return "Applied" if self.children(desired) else "NoSubjects"
