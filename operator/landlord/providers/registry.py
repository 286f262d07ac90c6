"""Selecting and validating providers from the operator configuration.

Each implementation registers a `ProviderSpec`; `load_providers` reads every capability
section, refuses unknown providers, unknown keys and missing credentials with one error per
key, and builds the providers. A section without `provider` (or `provider: null`) turns the
capability off.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema

from ..redaction import register_secret
from .base import CAPABILITIES, Provider, ProviderSpec

_REGISTRY: dict[tuple[str, str], ProviderSpec] = {}


class ProviderConfigError(ValueError):
    """The configuration of a provider is wrong: one line per problem, each naming the key."""


def register(spec: ProviderSpec) -> ProviderSpec:
    """Makes an implementation selectable as `<capability>.provider: <name>`."""
    if spec.capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {spec.capability!r}; one of {', '.join(CAPABILITIES)}")
    _REGISTRY[(spec.capability, spec.name)] = spec
    return spec


def unregister(capability: str, name: str) -> None:
    _REGISTRY.pop((capability, name), None)


def available(capability: str) -> list[str]:
    return sorted(name for cap, name in _REGISTRY if cap == capability)


def chosen(capability: str, section: Mapping[str, Any] | None) -> str | None:
    """The provider a section chooses: its `provider`; when that key is absent but the section
    has settings and only one implementation exists, that one; `provider: null` turns it off."""
    if not section:
        return None
    if "provider" in section:
        return str(section["provider"]) if section["provider"] not in (None, "") else None
    names = available(capability)
    return names[0] if len(names) == 1 else None


def problems(capability: str, section: Mapping[str, Any] | None) -> list[str]:
    """Every problem of one capability's configuration section, each naming its key."""
    name = chosen(capability, section)
    if name is None:
        extra = sorted(k for k in (section or {}) if k != "provider")
        if extra:
            return [f"{capability}.{extra[0]}: set {capability}.provider first (the capability is off without it)"]
        return []
    spec = _REGISTRY.get((capability, name))
    if spec is None:
        known = ", ".join(available(capability)) or "none in this version"
        return [f"{capability}.provider: unknown provider {name!r}; available: {known}"]
    body = {k: v for k, v in (section or {}).items() if k != "provider"}
    schema = {"additionalProperties": False, **spec.schema}
    out = []
    for error in sorted(jsonschema.Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path)):
        path = ".".join(str(p) for p in error.path)
        key = f"{capability}.{path}" if path else capability
        if error.validator == "required" and isinstance(error.instance, dict):
            for missing in error.validator_value:
                if missing not in error.instance:
                    out.append(f"{key}.{missing}: required by provider {name!r} and missing; set it")
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            known = ", ".join(["provider", *sorted(allowed)]) if not path else ", ".join(sorted(allowed))
            for extra in sorted(k for k in error.instance if k not in allowed):
                out.append(f"{key}.{extra}: unknown key; known keys: {known}")
        else:
            out.append(f"{key}: {error.message}")
    for credential in spec.credentials:
        if not body.get(credential):
            out.append(f"{capability}.{credential}: required by provider {name!r} and missing; set it")
    return out


class Providers:
    """The providers of one operator run, by capability (absent: the capability is off)."""

    def __init__(self, providers: Mapping[str, Provider] | None = None) -> None:
        self._providers = dict(providers or {})

    def get(self, capability: str) -> Provider | None:
        return self._providers.get(capability)

    def __iter__(self) -> Iterator[str]:
        return iter(self._providers)

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()


def check_sections(sections: Mapping[str, Any]) -> None:
    """Validates every capability section without building anything; ProviderConfigError lists all problems."""
    lines: list[str] = []
    for capability in CAPABILITIES:
        lines.extend(problems(capability, sections.get(capability)))
    if lines:
        raise ProviderConfigError("\n".join(lines))


def load_providers(sections: Mapping[str, Any]) -> Providers:
    """Validates every capability section and builds its provider (see `check_sections`)."""
    check_sections(sections)
    built: dict[str, Provider] = {}
    for capability in CAPABILITIES:
        section = sections.get(capability) or {}
        name = chosen(capability, section)
        if name is not None:
            spec = _REGISTRY[(capability, name)]
            for credential in spec.credentials:
                value = section.get(credential)
                if isinstance(value, str):
                    register_secret(value)  # masked wherever it would appear
            built[capability] = spec.factory({k: v for k, v in section.items() if k != "provider"})
    return Providers(built)
