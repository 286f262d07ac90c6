"""Operator configuration: one YAML file (`--config PATH` or `$LANDLORD_CONFIG`), validated at start.

Every key has a default, so an empty file (or none) is a working configuration for the
playground. Errors name the key and say what is expected.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ENV_VAR = "LANDLORD_CONFIG"

DEFAULTS: dict[str, Any] = {
    "baseDomain": "apps.example.com",
    "namespacePrefix": "t-",
    "driftInterval": 60,
    "workers": 4,
    "ingress": {"className": "nginx", "namespace": "ingress-nginx", "tls": True},
    "network": {
        "dnsNamespace": "kube-system",
        "dnsPodLabels": {"k8s-app": "kube-dns"},
        "egressCIDRs": [],
    },
    "containerDefaults": {
        "request": {"cpu": "100m", "memory": "128Mi"},
        "limit": {"cpu": "500m", "memory": "512Mi"},
    },
    "ownerClusterRole": "admin",
    # Capabilities with an external system: `provider` chooses the implementation (null: off);
    # the other keys of a section are validated by that provider (landlord.providers).
    "database": {"provider": None},
    "certificates": {"provider": None},
    "dns": {"provider": None},
    "backups": {"provider": None},
    "metricsSource": {"provider": None},
    "billing": {"anniversary": False, "sellerCountry": None, "taxRates": {}},
    "metrics": {"port": 8081},
}

_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_RESOURCES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"cpu": {"type": "string"}, "memory": {"type": "string"}},
}
# A capability section: `provider` plus that provider's own keys (checked by landlord.providers).
_CAPABILITY = {"type": "object", "properties": {"provider": {"type": ["string", "null"]}}}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "baseDomain": {"type": "string", "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]+$"},
        "namespacePrefix": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*)?$", "maxLength": 10},
        "driftInterval": {"type": "number", "exclusiveMinimum": 0},
        "workers": {"type": "integer", "minimum": 1, "maximum": 64},
        "ingress": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "className": {"type": "string"},
                "namespace": {"type": "string"},
                "tls": {"type": "boolean"},
            },
        },
        "network": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "dnsNamespace": {"type": "string"},
                "dnsPodLabels": _LABELS,
                "egressCIDRs": {"type": "array", "items": {"type": "string"}},
            },
        },
        "containerDefaults": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"request": _RESOURCES, "limit": _RESOURCES},
        },
        "ownerClusterRole": {"type": "string"},
        "database": _CAPABILITY,
        "certificates": _CAPABILITY,
        "dns": _CAPABILITY,
        "backups": _CAPABILITY,
        "metricsSource": _CAPABILITY,
        "billing": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "anniversary": {"type": "boolean"},
                "sellerCountry": {"type": ["string", "null"], "pattern": "^[A-Z]{2}$"},
                "taxRates": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "metrics": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"port": {"type": "integer", "minimum": 0, "maximum": 65535}},
        },
    },
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Ingress:
    class_name: str
    namespace: str
    tls: bool


@dataclass(frozen=True)
class Network:
    dns_namespace: str
    dns_pod_labels: dict[str, str]
    egress_cidrs: tuple[str, ...]


@dataclass(frozen=True)
class ContainerDefaults:
    request: dict[str, str]
    limit: dict[str, str]


@dataclass(frozen=True)
class Config:
    """The validated operator configuration: typed fields, and `raw` (defaults merged in).

    Capability sections (`database`, `dns`, ...) stay raw mappings here: their provider
    validates them (`landlord.providers.load_providers`).
    """

    raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def base_domain(self) -> str:
        return str(self.raw["baseDomain"])

    @property
    def namespace_prefix(self) -> str:
        return str(self.raw["namespacePrefix"])

    @property
    def drift_interval(self) -> float:
        return float(self.raw["driftInterval"])

    @property
    def workers(self) -> int:
        return int(self.raw["workers"])

    @property
    def ingress(self) -> Ingress:
        section = self.raw["ingress"]
        return Ingress(str(section["className"]), str(section["namespace"]), bool(section["tls"]))

    @property
    def network(self) -> Network:
        section = self.raw["network"]
        return Network(
            str(section["dnsNamespace"]), dict(section["dnsPodLabels"]), tuple(section.get("egressCIDRs") or ())
        )

    @property
    def container_defaults(self) -> ContainerDefaults:
        section = self.raw["containerDefaults"]
        return ContainerDefaults(dict(section["request"]), dict(section["limit"]))

    @property
    def owner_cluster_role(self) -> str:
        return str(self.raw["ownerClusterRole"])

    @property
    def metrics_port(self) -> int:
        return int(self.raw["metrics"].get("port") or 0)

    def capability(self, name: str) -> dict[str, Any]:
        """The raw section of a capability (`database`, `dns`, ...)."""
        return dict(self.raw.get(name) or {})


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse(data: Any, source: str = "configuration") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping of keys to values")
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        lines = []
        for error in errors:
            key = ".".join(str(p) for p in error.path) or "(top level)"
            if error.validator == "additionalProperties":
                known = ", ".join(sorted(error.schema.get("properties", {})))
                lines.append(f"{source}: {key}: {error.message}; known keys here: {known}")
            else:
                lines.append(f"{source}: {key}: {error.message}")
        raise ConfigError("\n".join(lines))
    return Config(_merge(DEFAULTS, data))


def load(path: str | Path | None = None) -> Config:
    """Loads the file given, else $LANDLORD_CONFIG, else the defaults."""
    chosen = path or os.environ.get(ENV_VAR)
    if not chosen:
        return parse({})
    file = Path(chosen)
    try:
        data = yaml.safe_load(file.read_text())
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the configuration: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    return parse(data, str(file))
