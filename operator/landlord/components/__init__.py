"""One component per capability: renders children, acts through a provider, reports one condition.

`COMPONENTS` is the order the controller runs them in (the namespace first). A new capability
is one module here with a `Component` subclass, its renderer in `landlord.render`, its
provider in `landlord.providers` when it talks to an external system, and one line below.
"""

from __future__ import annotations

from .access import AccessComponent
from .base import Component, Context, Observation
from .entitlements import EntitlementsComponent
from .namespace import NamespaceComponent
from .network import NetworkComponent
from .quota import QuotaComponent


def default_components() -> list[Component]:
    """Every component, in the order they run."""
    return [NamespaceComponent(), QuotaComponent(), NetworkComponent(), AccessComponent(), EntitlementsComponent()]


__all__ = [
    "AccessComponent",
    "Component",
    "Context",
    "EntitlementsComponent",
    "NamespaceComponent",
    "NetworkComponent",
    "Observation",
    "QuotaComponent",
    "default_components",
]
