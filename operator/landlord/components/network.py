"""Network isolation: default deny, plus same namespace, the ingress controller and DNS."""

from __future__ import annotations

from ..api.conditions import ConditionType
from ..pipeline import Desired
from .base import Component


class NetworkComponent(Component):
    name = "network"
    condition = ConditionType.NETWORK_READY
    kinds = ("NetworkPolicy",)

    def healthy(self, desired: Desired) -> str:
        return "default-deny with same-namespace, ingress and DNS allowed"
