"""Access: the owners' RoleBinding in the tenant namespace."""

from __future__ import annotations

from ..api.conditions import ConditionType
from ..pipeline import Desired
from .base import Component


class AccessComponent(Component):
    name = "access"
    condition = ConditionType.ACCESS_READY
    kinds = ("RoleBinding",)

    def healthy(self, desired: Desired) -> str:
        if not self.children(desired):
            return "spec.owner.subjects is empty: nobody was given access"
        return "the owners are bound to the owner role in the namespace"

    def healthy_reason(self, desired: Desired) -> str:
        return "Applied" if self.children(desired) else "NoSubjects"
