"""Operator configuration: one YAML file (`--config PATH` or `$LANDLORD_CONFIG`), validated at start.

Every key has a default, so an empty file (or none) is a working configuration for the
playground. Errors name the key and say what is expected.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .quantity import is_quantity
from .sharding import Shard, ShardError

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
        "dnsIPBlocks": [],
        "egressCIDRs": [],
        "metadataCIDRs": ["169.254.169.254/32", "fd00:ec2::254/128"],
    },
    "containerDefaults": {
        "request": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
        "limit": {"cpu": "500m", "memory": "512Mi"},
    },
    "quota": {
        "ephemeralStorage": "10Gi",
        "objects": {
            "configmaps": 100,
            "secrets": 100,
            "services": 20,
            "persistentvolumeclaims": 20,
            # Workload counts: they also bound what a suspension records (controller/workloads.py).
            "count/deployments.apps": 100,
            "count/statefulsets.apps": 50,
            "count/replicasets.apps": 500,  # (a Deployment keeps up to 10 old ReplicaSets)
            "count/daemonsets.apps": 20,
            "count/jobs.batch": 200,
            "count/cronjobs.batch": 50,
        },
    },
    "ownerClusterRole": "landlord-tenant-owner",
    "viewerClusterRole": "landlord-tenant-viewer",
    # Capabilities with an external system: `provider` chooses the implementation (null: off);
    # the other keys of a section are validated by that provider (landlord.providers).
    "database": {"provider": None},
    "certificates": {"provider": None},
    "dns": {"provider": None},
    "backups": {"provider": None},
    "metricsSource": {"provider": None},
    # Invoices (landlord invoice preview, the billing sidecar): validated by _billing_problems.
    "objectStorage": {"provider": None},
    "billing": {
        "anniversary": False,
        "seller": {},
        "taxRates": {},
        "coupons": {},
        "dueDays": 30,
        # The billing sidecar (`landlord billing`, docs/invoices.md).
        "interval": 3600,  # seconds between runs
        "lookbackPeriods": 3,  # closed periods (back from the last) a run still invoices when missing
        "graceDays": 14,  # days past the due date before an unpaid invoice suspends its tenant
        "archiveAfterDays": 90,  # paid or void invoices older than this go to objectStorage (null: never)
        "metricsPort": 8082,
    },
    # Several replicas (`landlord run --shard K/N`): which tenants this one reconciles, and the
    # Lease (landlord-shard-K-of-N) that keeps it to one replica acting per shard.
    "sharding": {"shard": "0/1", "leaseDuration": 15},
    # suspendOnExceed: how long a tenant stays over a limit before it is suspended (OverLimit).
    "overuse": {"suspendAfter": 900},
    "metrics": {"port": 8081},
}

_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_RESOURCES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"cpu": {"type": "string"}, "memory": {"type": "string"}, "ephemeral-storage": {"type": "string"}},
}
_CIDRS = {"type": "array", "items": {"type": "string"}}
# ResourceQuota object counts Landlord sets (a plan's spec.quota.objects overrides each).
OBJECT_COUNTS = ("configmaps", "secrets", "services", "persistentvolumeclaims")
# Workload object counts (operator configuration `quota.objects` only; a plan's spec.quota.objects
# that names one overrides it).
WORKLOAD_COUNTS = (
    "count/deployments.apps",
    "count/statefulsets.apps",
    "count/replicasets.apps",
    "count/daemonsets.apps",
    "count/jobs.batch",
    "count/cronjobs.batch",
)
# A capability section: `provider` plus that provider's own keys (checked by landlord.providers).
_CAPABILITY = {"type": "object", "properties": {"provider": {"type": ["string", "null"]}}}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "baseDomain": {"type": "string", "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]+$"},
        "namespacePrefix": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*)?$"},
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
                "dnsIPBlocks": _CIDRS,
                "egressCIDRs": _CIDRS,
                "metadataCIDRs": _CIDRS,
            },
        },
        "quota": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ephemeralStorage": {"type": "string"},
                "objects": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        key: {"type": "integer", "minimum": 0} for key in (*OBJECT_COUNTS, *WORKLOAD_COUNTS)
                    },
                },
            },
        },
        "containerDefaults": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"request": _RESOURCES, "limit": _RESOURCES},
        },
        "ownerClusterRole": {"type": "string"},
        "viewerClusterRole": {"type": "string"},
        "database": _CAPABILITY,
        "certificates": _CAPABILITY,
        "dns": _CAPABILITY,
        "backups": _CAPABILITY,
        "metricsSource": _CAPABILITY,
        "objectStorage": _CAPABILITY,
        "sharding": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "shard": {"type": "string"},
                "leaseDuration": {"type": "number", "minimum": 1, "maximum": 600},
            },
        },
        "overuse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"suspendAfter": {"type": "number", "minimum": 0}},
        },
        "billing": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "anniversary": {"type": "boolean"},
                "sellerCountry": {"type": ["string", "null"]},  # before `seller`: read as seller.country
                "seller": {
                    "type": "object",
                    "additionalProperties": False,
                    # The lengths the Invoice CRD takes (api/schemas/invoice.py): refused at start, not at an invoice.
                    "properties": {
                        key: {"type": "string", "maxLength": length}
                        for key, length in (("name", 253), ("country", 2), ("taxId", 64), ("address", 1024))
                    },
                },
                "taxRates": {"type": "object"},
                "coupons": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"percent": {}, "amount": {}, "currency": {"type": "string"}},
                    },
                },
                "dueDays": {"type": "integer", "minimum": 0, "maximum": 365},
                "interval": {"type": "number", "exclusiveMinimum": 0},
                "lookbackPeriods": {"type": "integer", "minimum": 1, "maximum": 24},
                "graceDays": {"type": ["integer", "null"], "minimum": 0, "maximum": 365},
                "archiveAfterDays": {"type": ["integer", "null"], "minimum": 0},
                "metricsPort": {"type": "integer", "minimum": 0, "maximum": 65535},
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
    """The configuration is refused; the message has one line per problem.

    `fields` has the same problems as (key, message) pairs, e.g. ("billing.taxRates.FR", "..."),
    for callers that point at the key's line in the file.
    """

    def __init__(self, message: str, fields: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


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
    dns_ip_blocks: tuple[str, ...] = ()  # e.g. NodeLocal DNSCache (169.254.20.10/32): no pod to select
    metadata_cidrs: tuple[str, ...] = ()  # never reachable through an ipBlock Landlord writes


@dataclass(frozen=True)
class QuotaDefaults:
    """What every tenant's ResourceQuota holds unless its plan says otherwise."""

    ephemeral_storage: str
    objects: dict[str, int]


@dataclass(frozen=True)
class ContainerDefaults:
    request: dict[str, str]
    limit: dict[str, str]


@dataclass(frozen=True)
class Seller:
    """Who issues the invoices: printed on them, and its country decides the tax rules."""

    name: str | None = None
    country: str | None = None
    tax_id: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class CouponSetting:
    """A coupon code's value: a percent, or a fixed amount (in `currency` when given)."""

    percent: Decimal | None = None
    amount: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class BillingSettings:
    """The `billing` section, typed: decimals are exact, never floats."""

    anniversary: bool
    seller: Seller
    tax_rates: dict[str, Decimal]
    coupons: dict[str, CouponSetting]
    due_days: int
    interval: float = 3600.0
    lookback_periods: int = 3
    grace_days: int | None = 14  # None: never suspend for an unpaid invoice
    archive_after_days: int | None = 90  # None: never archive
    metrics_port: int = 8082


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
            str(section["dnsNamespace"]),
            dict(section["dnsPodLabels"]),
            tuple(section.get("egressCIDRs") or ()),
            tuple(section.get("dnsIPBlocks") or ()),
            tuple(section.get("metadataCIDRs") or ()),
        )

    @property
    def quota(self) -> QuotaDefaults:
        section = self.raw["quota"]
        return QuotaDefaults(str(section["ephemeralStorage"]), {k: int(v) for k, v in section["objects"].items()})

    @property
    def container_defaults(self) -> ContainerDefaults:
        section = self.raw["containerDefaults"]
        return ContainerDefaults(dict(section["request"]), dict(section["limit"]))

    @property
    def owner_cluster_role(self) -> str:
        return str(self.raw["ownerClusterRole"])

    @property
    def viewer_cluster_role(self) -> str:
        """The read-only ClusterRole the owners hold while their tenant is suspended."""
        return str(self.raw["viewerClusterRole"])

    @property
    def metrics_port(self) -> int:
        return int(self.raw["metrics"].get("port") or 0)

    @property
    def billing(self) -> BillingSettings:
        section = self.raw["billing"]
        seller = section.get("seller") or {}
        coupons = {
            code: CouponSetting(
                _decimal(value["percent"]) if "percent" in value else None,
                _decimal(value["amount"]) if "amount" in value else None,
                value.get("currency"),
            )
            for code, value in (section.get("coupons") or {}).items()
        }
        return BillingSettings(
            anniversary=bool(section.get("anniversary")),
            seller=Seller(
                seller.get("name"),
                seller.get("country") or section.get("sellerCountry"),
                seller.get("taxId"),
                seller.get("address"),
            ),
            tax_rates={country: _decimal(rate) for country, rate in (section.get("taxRates") or {}).items()},
            coupons=coupons,
            due_days=int(section.get("dueDays", 30)),
            interval=float(section.get("interval", 3600)),
            lookback_periods=int(section.get("lookbackPeriods", 3)),
            grace_days=None if section.get("graceDays") is None else int(section["graceDays"]),
            archive_after_days=None if section.get("archiveAfterDays") is None else int(section["archiveAfterDays"]),
            metrics_port=int(section.get("metricsPort", 8082)),
        )

    @property
    def shard(self) -> Shard:
        """Which tenants this replica reconciles (`sharding.shard`, `--shard K/N`)."""
        return Shard.parse(str(self.raw["sharding"]["shard"]))

    @property
    def lease_duration(self) -> float:
        return float(self.raw["sharding"]["leaseDuration"])

    @property
    def suspend_after(self) -> float:
        """Seconds a tenant whose plan has `overuse.suspendOnExceed` may stay over a limit."""
        return float(self.raw["overuse"]["suspendAfter"])

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
            elif error.validator == "maxLength":
                size = len(error.instance) if isinstance(error.instance, str) else "?"
                lines.append(
                    f"{source}: {key}: {size} characters, more than the {error.validator_value} allowed; shorten it"
                )
            else:
                lines.append(f"{source}: {key}: {error.message}")
        raise _refused(lines, source)
    merged = _merge(DEFAULTS, data)
    problems = _network_problems(merged["network"], source)
    if not is_quantity(merged["quota"]["ephemeralStorage"]):
        problems.append(f"{source}: quota.ephemeralStorage: must be a Kubernetes quantity such as 10Gi")
    problems.extend(_prefix_problems(str(merged["namespacePrefix"]), source))
    try:
        Shard.parse(str(merged["sharding"]["shard"]))
    except ShardError as exc:
        problems.append(f"{source}: sharding.shard: {exc}")
    problems.extend(f"{source}: {key}: {message}" for key, message in _billing_problems(merged["billing"]))
    if problems:
        raise _refused(problems, source)
    return Config(merged)


def _refused(lines: list[str], source: str) -> ConfigError:
    """One ConfigError for lines written as `source: key: message`."""
    fields = tuple(
        (key, message) for key, _, message in (line.removeprefix(f"{source}: ").partition(": ") for line in lines)
    )
    return ConfigError("\n".join(lines), fields)


NAMESPACE_NAME_MAX = 63  # a namespace name is a DNS label (RFC 1123)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUPON = re.compile(r"^[A-Z0-9-]{1,40}$")  # what a Tenant's spec.billing.coupon may hold
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def _decimal(value: Any) -> Decimal:
    """A rate or amount already checked by _billing_problems."""
    return Decimal(str(value)) if isinstance(value, int) else Decimal(value)


def _number_problem(value: Any, what: str, example: str, maximum: int | None = None) -> str | None:
    """Why `value` is not a decimal string (or whole number) of at most `maximum`, or None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        kind = "a number with a fraction" if isinstance(value, float) else type(value).__name__
        return f"{value!r} is {kind}; write the {what} as a decimal string, e.g. {example}"
    if isinstance(value, str) and not _AMOUNT.match(value):
        return f"{value!r} is not a decimal {what}; write it like {example}"
    if maximum is not None and _decimal(value) > maximum:
        return f"{value} is more than {maximum}; give a {what} between 0 and {maximum}"
    if _decimal(value) < 0:
        return f"{value} is negative; give a {what} of 0 or more"
    return None


def _billing_problems(billing: dict[str, Any]) -> list[tuple[str, str]]:
    """Billing values the schema cannot word well: countries, rates, coupons (as (key, message))."""
    problems: list[tuple[str, str]] = []
    seller = billing.get("seller") or {}
    country = seller.get("country")
    if country is not None and not _COUNTRY.match(country):
        problems.append(
            ("billing.seller.country", f"{country!r} is not a country code; use two capital letters, e.g. FR")
        )
    legacy = billing.get("sellerCountry")
    if legacy is not None and not _COUNTRY.match(legacy):
        problems.append(("billing.sellerCountry", f"{legacy!r} is not a country code; use billing.seller.country: FR"))
    elif legacy is not None and country is not None and legacy != country:
        problems.append(
            ("billing.sellerCountry", f"{legacy} differs from billing.seller.country {country}; remove sellerCountry")
        )
    for code, rate in (billing.get("taxRates") or {}).items():
        key = f"billing.taxRates.{code}"
        if not _COUNTRY.match(str(code)):
            problems.append((key, f"{code!r} is not a country code; use two capital letters, e.g. FR"))
            continue
        problem = _number_problem(rate, "percent", '"20"', maximum=100)
        if problem:
            problems.append((key, problem))
    for code, coupon in (billing.get("coupons") or {}).items():
        key = f"billing.coupons.{code}"
        if not _COUPON.match(str(code)):
            problems.append(
                (
                    key,
                    f"{code!r} cannot be a coupon code: a Tenant's spec.billing.coupon is capital letters, digits "
                    "and '-'; rename it",
                )
            )
        given = [field for field in ("percent", "amount") if field in coupon]
        if len(given) != 1:
            problems.append((key, 'give exactly one of percent (e.g. "10") or amount (e.g. "5.00")'))
        if "percent" in coupon:
            problem = _number_problem(coupon["percent"], "percent", '"10"', maximum=100)
            if problem:
                problems.append((f"{key}.percent", problem))
        if "amount" in coupon:
            problem = _number_problem(coupon["amount"], "amount", '"5.00"')
            if problem:
                problems.append((f"{key}.amount", problem))
        currency = coupon.get("currency")
        if currency is not None and not _CURRENCY.match(currency):
            problems.append((f"{key}.currency", f"{currency!r} is not a currency code; use e.g. EUR"))
    return problems


def _prefix_problems(prefix: str, source: str) -> list[str]:
    """A prefix that leaves no room for a tenant name: every namespace `<prefix><name>` would be invalid."""
    if len(prefix) < NAMESPACE_NAME_MAX:
        return []
    return [
        f"{source}: namespacePrefix: {prefix!r} has {len(prefix)} characters and leaves no room for a tenant "
        f"name (a namespace name has at most {NAMESPACE_NAME_MAX}); shorten it"
    ]


def _network_problems(network: dict[str, Any], source: str) -> list[str]:
    """CIDRs that are not CIDRs, and egress that would reach only a cloud metadata address.

    A CIDR that merely contains a metadata address is fine: the NetworkPolicy excepts it. One
    inside it could not be excepted, and the metadata service hands out node credentials.
    """
    problems: list[str] = []
    parsed: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    for key in ("metadataCIDRs", "dnsIPBlocks", "egressCIDRs"):
        parsed[key] = []
        for text in network.get(key) or []:
            try:
                parsed[key].append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                problems.append(f"{source}: network.{key}: {text!r} is not a CIDR such as 10.0.0.0/8")
    for key in ("dnsIPBlocks", "egressCIDRs"):
        for net in parsed[key]:
            for metadata in parsed["metadataCIDRs"]:
                if net.version == metadata.version and net.subnet_of(metadata):  # type: ignore[arg-type]
                    problems.append(
                        f"{source}: network.{key}: {net} lies within the cloud metadata address {metadata}, "
                        "which tenants must never reach; remove it"
                    )
    return problems


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
