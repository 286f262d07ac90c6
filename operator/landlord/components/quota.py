"""Quota: the ResourceQuota from the effective limits and the LimitRange with container defaults."""

from __future__ import annotations

from ..api.conditions import ConditionType
from ..pipeline import Desired
from .base import Component


class QuotaComponent(Component):
    name = "quota"
    condition = ConditionType.QUOTA_READY
    kinds = ("ResourceQuota", "LimitRange")

    def healthy(self, desired: Desired) -> str:
        return "ResourceQuota and LimitRange match the effective limits"
