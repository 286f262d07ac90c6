"""One component per capability: renders children, acts through a provider, reports one condition.

`default_components()` gives them in the order the controller runs them (the namespace first).
A new capability is one module here with a `Component` subclass, its renderer in
`landlord.render` (listed in `render.tenant.RENDERERS` under the component's name), its
provider in `landlord.providers` when it talks to an external system, and one line below.
"""

from __future__ import annotations

from ..config import Config
from ..providers import DatabaseProvider, Providers
from ..render.tenant import RENDERERS
from .access import AccessComponent
from .base import Component, Context, Observation, Services
from .database import DatabaseComponent
from .entitlements import EntitlementsComponent
from .namespace import NamespaceComponent
from .network import NetworkComponent
from .quota import QuotaComponent


def default_components(providers: Providers | None = None, config: Config | None = None) -> list[Component]:
    """Every component, in the order they run: core tenancy, then each capability whose provider
    the configuration turned on."""
    components: list[Component] = [
        NamespaceComponent(),
        QuotaComponent(),
        NetworkComponent(),
        AccessComponent(),
        EntitlementsComponent(),
    ]
    database = providers.get("database") if providers is not None else None
    if isinstance(database, DatabaseProvider) and config is not None:
        components.append(DatabaseComponent(database, config.capability("database")))
    return components


def check_renderers(components: list[Component]) -> None:
    """A component that renders children must have a renderer under its name: a mismatch would
    silently render nothing and report a condition that is always True."""
    missing = [c.name for c in components if c.renders and c.name not in RENDERERS]
    if missing:
        raise ValueError(f"components without a renderer in landlord.render.tenant.RENDERERS: {', '.join(missing)}")


__all__ = [
    "AccessComponent",
    "Component",
    "Context",
    "DatabaseComponent",
    "EntitlementsComponent",
    "NamespaceComponent",
    "NetworkComponent",
    "Observation",
    "QuotaComponent",
    "Services",
    "check_renderers",
    "default_components",
]
