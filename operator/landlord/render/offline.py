"""`landlord render`: what the operator would apply for a tenant, from files alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from ..config import Config
from ..documents import Document
from ..pipeline import StaticCatalogue, desire


def render_tenant(
    config: Config, tenant: dict[str, Any], catalog: list[Document], now: datetime | None = None
) -> list[dict[str, Any]]:
    """The objects for a tenant; raises Refusal when the operator would refuse it."""
    bodies = [d.body for d in catalog if d.is_landlord]
    if not any(body is tenant for body in bodies):
        bodies.append(tenant)  # document order stands for age: a tenant from the files keeps its place
    catalogue = StaticCatalogue(bodies)
    desired = desire(tenant, catalogue, config, now or datetime.now(UTC))
    return desired.objects()


def as_yaml_stream(objects: list[dict[str, Any]]) -> str:
    ordered = sorted(objects, key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    return yaml.safe_dump_all(ordered, sort_keys=True, explicit_start=True)
