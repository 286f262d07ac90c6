"""Builders of OpenAPI v3 schema nodes: typed fields, objects, name lists and CEL rules.

Generic: nothing here knows about plans or tenants.
"""

from __future__ import annotations

from typing import Any

from .vocabulary import DNS_LABEL


def s(description: str, **extra: Any) -> dict[str, Any]:
    """A string field."""
    return {"type": "string", "description": description, **extra}


def i(description: str, **extra: Any) -> dict[str, Any]:
    """An integer field."""
    return {"type": "integer", "description": description, **extra}


def b(description: str, **extra: Any) -> dict[str, Any]:
    """A boolean field."""
    return {"type": "boolean", "description": description, **extra}


def obj(
    description: str, properties: dict[str, Any], required: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """An object with the given properties; `required` is left out when empty."""
    out: dict[str, Any] = {"type": "object", "description": description, "properties": properties, **extra}
    if required:
        out["required"] = required
    return out


def names(description: str) -> dict[str, Any]:
    """A set of resource names (DNS labels), e.g. plans an add-on fits."""
    return {
        "type": "array",
        "description": description,
        "x-kubernetes-list-type": "set",
        "maxItems": 100,
        "items": {"type": "string", "maxLength": 63, "pattern": DNS_LABEL},
    }


def rule(expression: str, message: str, **extra: Any) -> dict[str, Any]:
    """A CEL validation rule (`x-kubernetes-validations` entry) with the message a person reads."""
    return {"rule": expression, "message": message, **extra}
