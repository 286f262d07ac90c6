"""Quantities as the API server keeps them, and the resource lists of Pods, for quota and limits.

A Kubernetes `resource.Quantity` remembers the format it was written in (DecimalSI `500m`,
BinarySI `128Mi`, DecimalExponent `1e3`) and prints itself canonically in that format; a sum
takes the format of its first non-zero term. ResourceQuota and LimitRanger messages and a
quota's `status.used` print quantities that way, so the emulator keeps the format beside the
exact value (`landlord.quantity` parses it).

A Pod's requests and limits are those of its containers added up, init containers taken at
their peak (restartable "sidecar" init containers run alongside and add up), plus the Pod's
`overhead` (https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers
and /docs/concepts/scheduling-eviction/pod-overhead/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from typing import Any

from ..quantity import parse_quantity

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"
_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_NANO = Decimal(10) ** 9
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+$")


@dataclass(frozen=True)
class Quantity:
    """An exact value and the format it prints in."""

    value: Decimal
    format: str = DECIMAL_SI

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, other.format if self.value == 0 else self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, other.format if self.value == 0 else self.format)

    def __str__(self) -> str:
        """The canonical form (`Quantity.String()`): 0.5 -> 500m, 1000 -> 1k, 1024Mi -> 1Gi."""
        value = self.value
        if value == 0:
            return "0"
        sign = "-" if value < 0 else ""
        magnitude = abs(value)
        if self.format == BINARY_SI and magnitude >= 1024 and magnitude == magnitude.to_integral_value():
            number, step = int(magnitude), 0
            while step < len(_BINARY_SUFFIXES) - 1 and number % 1024 == 0:
                number //= 1024
                step += 1
            return f"{sign}{number}{_BINARY_SUFFIXES[step]}"
        # Decimal: an integer mantissa and a power of ten that is a multiple of 3 (nano at the finest).
        mantissa = int((magnitude * _NANO).to_integral_value(rounding=ROUND_CEILING))
        exponent = -9
        while mantissa % 10 == 0:
            mantissa //= 10
            exponent += 1
        shift = exponent % 3
        mantissa *= 10**shift
        exponent -= shift
        if self.format == DECIMAL_EXPONENT:
            suffix = f"e{exponent}" if exponent else ""
        else:
            suffix = _DECIMAL_SUFFIXES.get(exponent, f"e{exponent}")
        return f"{sign}{mantissa}{suffix}"


ZERO = Quantity(Decimal(0))
ResourceList = dict[str, Quantity]


def quantity(raw: Any) -> Quantity:
    """A quantity as written in an object; ValueError when it is not one."""
    if isinstance(raw, str) or (isinstance(raw, int) and not isinstance(raw, bool)):
        return _known_quantity(raw)  # a quota's limits are read again at every write in its namespace
    return _parse(raw)


@lru_cache(maxsize=4096, typed=True)
def _known_quantity(raw: str | int) -> Quantity:
    return _parse(raw)  # (a Quantity is immutable: it can be shared; an error is not cached)


def _parse(raw: Any) -> Quantity:
    value = parse_quantity(raw)
    text = str(raw)
    if text.endswith("i"):
        return Quantity(value, BINARY_SI)
    if _EXPONENT.search(text):
        return Quantity(value, DECIMAL_EXPONENT)
    return Quantity(value, DECIMAL_SI)


def resource_list(raw: Any) -> ResourceList:
    """A `ResourceList` (name -> quantity) of an object; what is not a quantity is left out."""
    out: ResourceList = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            try:
                out[str(name)] = quantity(value)
            except (ValueError, TypeError):
                continue
    return out


def printed(resources: ResourceList) -> dict[str, str]:
    """A resource list as stored: canonical strings."""
    return {name: str(value) for name, value in sorted(resources.items())}


def add_into(total: ResourceList, more: ResourceList) -> None:
    for name, value in more.items():
        total[name] = total[name] + value if name in total else value


def max_into(peak: ResourceList, other: ResourceList) -> None:
    for name, value in other.items():
        if name not in peak or value.value > peak[name].value:
            peak[name] = value


def container_resources(container: dict[str, Any], which: str) -> ResourceList:
    """`requests` or `limits` of a container."""
    return resource_list((container.get("resources") or {}).get(which))


def _pod_total(pod: dict[str, Any], which: str) -> ResourceList:
    spec = pod.get("spec") or {}
    total: ResourceList = {}
    for container in spec.get("containers") or []:
        add_into(total, container_resources(container, which))
    sidecars: ResourceList = {}
    peak: ResourceList = {}
    for container in spec.get("initContainers") or []:
        own = container_resources(container, which)
        if container.get("restartPolicy") == "Always":
            add_into(total, own)
            add_into(sidecars, own)
            running = dict(sidecars)
        else:
            running = dict(own)
            add_into(running, sidecars)
        max_into(peak, running)
    max_into(total, peak)
    overhead = resource_list(spec.get("overhead"))
    for name, value in overhead.items():
        if which == "requests" or name in total:
            add_into(total, {name: value})
    return total


def pod_requests(pod: dict[str, Any]) -> ResourceList:
    """What a Pod requests: containers, init containers at their peak, overhead."""
    return _pod_total(pod, "requests")


def pod_limits(pod: dict[str, Any]) -> ResourceList:
    """A Pod's limits, as its requests (overhead only where some container sets a limit)."""
    return _pod_total(pod, "limits")


def pod_containers(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, container) of the containers, then of the init containers."""
    spec = pod.get("spec") or {}
    out: list[tuple[str, dict[str, Any]]] = []
    for field in ("containers", "initContainers"):
        for index, container in enumerate(spec.get(field) or []):
            if isinstance(container, dict):
                out.append((f"spec.{field}[{index}]", container))
    return out
