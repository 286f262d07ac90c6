"""Network isolation: default deny, plus same namespace, the ingress controller and DNS."""

from __future__ import annotations

from ..pipeline import Desired
from .base import Component


class NetworkComponent(Component):
    name = "network"
    condition = "NetworkReady"

    def healthy(self, desired: Desired) -> str:
        return "default-deny with same-namespace, ingress and DNS allowed"
