"""Entitlements: the ConfigMap the tenant application reads (features, limits, branding)."""

from __future__ import annotations

from ..api.conditions import ConditionType
from ..pipeline import Desired
from .base import Component


class EntitlementsComponent(Component):
    name = "entitlements"
    condition = ConditionType.ENTITLEMENTS_READY
    kinds = ("ConfigMap",)

    def healthy(self, desired: Desired) -> str:
        return "the landlord-entitlements ConfigMap matches the effective plan"
