"""Quota: the ResourceQuota from the effective limits and the LimitRange with container defaults."""

from __future__ import annotations

from ..pipeline import Desired
from .base import Component


class QuotaComponent(Component):
    name = "quota"
    condition = "QuotaReady"

    def healthy(self, desired: Desired) -> str:
        return "ResourceQuota and LimitRange match the effective limits"
