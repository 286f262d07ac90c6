"""Server-side table output (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`).

kubectl asks for tables on `get`; columns come from a CRD's `additionalPrinterColumns` or from
the short list the real server prints for the built-in kinds the operator uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .resources import ResourceType

NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}
AGE_COLUMN = {
    "name": "Age",
    "type": "string",
    "format": "",
    "description": "CreationTimestamp is a timestamp representing the server time when this object was created.",
    "priority": 0,
}


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration: 45s, 3m20s, 12m, 5h10m, 30h, 3d4h, 120d, 2y30d."""
    if seconds < -1:
        return "<invalid>"
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest_m = (s % 3600) // 60
        return f"{hours}h{rest_m}m" if rest_m else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        rest_h = hours % 24
        return f"{hours // 24}d{rest_h}h" if rest_h else f"{hours // 24}d"
    days = hours // 24
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        rest_d = days % 365
        return f"{years}y{rest_d}d" if rest_d else f"{years}y"
    return f"{years}y"


def age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return human_duration((datetime.now(UTC) - when).total_seconds())


# -- a JSONPath subset: .a.b, [n], [*], [?(@.k=="v")] ------------------------------------------
_TOKEN = re.compile(
    r"\.([A-Za-z0-9_\-$]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*(==|!=)\s*[\"']?([^\"')]*)[\"']?\)\]"
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    results = [obj]
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match:
            return []
        position = match.end()
        name, index, filter_key, op, filter_value = match.groups()
        following: list[Any] = []
        for item in results:
            if name is not None:
                if isinstance(item, dict) and name in item:
                    following.append(item[name])
            elif index is not None:
                if isinstance(item, list):
                    if index == "*":
                        following.extend(item)
                    elif int(index) < len(item):
                        following.append(item[int(index)])
                elif isinstance(item, dict) and index == "*":
                    following.extend(item.values())
            else:
                for element in item if isinstance(item, list) else []:
                    value = element
                    for part in filter_key.split("."):
                        value = value.get(part) if isinstance(value, dict) else None
                    equal = str(value) == filter_value if value is not None else False
                    if (op == "==") == equal:
                        following.append(element)
        results = following
    return results


def _cell(obj: dict[str, Any], column: dict[str, Any]) -> Any:
    values = jsonpath(obj, column.get("jsonPath", ""))
    if not values:
        return None
    kind = column.get("type", "string")
    if kind == "date":
        return age(str(values[0]))
    if len(values) > 1:
        return ",".join(_text(v) for v in values)
    value = values[0]
    if kind in ("integer", "number", "boolean"):
        return value
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _builtin_columns(kind: str) -> list[tuple[dict[str, Any], Callable[[dict[str, Any]], Any]]]:
    def col(name: str, kind_: str = "string") -> dict[str, Any]:
        return {"name": name, "type": kind_, "format": "", "description": name, "priority": 0}

    def status(obj: dict[str, Any]) -> dict[str, Any]:
        return dict(obj.get("status") or {})

    def spec(obj: dict[str, Any]) -> dict[str, Any]:
        return dict(obj.get("spec") or {})

    if kind == "Namespace":
        return [(col("Status"), lambda o: status(o).get("phase", ""))]
    if kind in ("ConfigMap",):
        return [(col("Data", "integer"), lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))]
    if kind == "Secret":
        return [
            (col("Type"), lambda o: o.get("type", "Opaque")),
            (col("Data", "integer"), lambda o: len(o.get("data") or {})),
        ]
    if kind in ("Deployment", "StatefulSet"):
        return [(col("Ready"), lambda o: f"{status(o).get('readyReplicas', 0)}/{spec(o).get('replicas', 1)}")]
    if kind == "Lease":
        return [(col("Holder"), lambda o: spec(o).get("holderIdentity", ""))]
    if kind == "Event":
        return [
            (col("Type"), lambda o: o.get("type", "")),
            (col("Reason"), lambda o: o.get("reason", "")),
            (
                col("Object"),
                lambda o: (
                    f"{o.get('involvedObject', {}).get('kind', '').lower()}/"
                    f"{o.get('involvedObject', {}).get('name', '')}"
                ),
            ),
            (col("Message"), lambda o: o.get("message", "")),
        ]
    if kind == "ResourceQuota":
        return [
            (
                col("Request"),
                lambda o: ", ".join(
                    f"{k}: {status(o).get('used', {}).get(k, '0')}/{v}"
                    for k, v in sorted((spec(o).get("hard") or {}).items())
                ),
            )
        ]
    if kind == "CustomResourceDefinition":
        return []
    return []


def columns_for(rt: ResourceType) -> list[tuple[dict[str, Any], Callable[[dict[str, Any]], Any]]]:
    if not rt.builtin and rt.printer_columns:
        out = []
        for column in rt.printer_columns:
            definition = {
                "name": column["name"],
                "type": column.get("type", "string"),
                "format": column.get("format", ""),
                "description": column.get("description", ""),
                "priority": column.get("priority", 0),
            }
            out.append((definition, (lambda c: lambda o: _cell(o, c))(column)))
        return out
    columns = _builtin_columns(rt.kind)
    return [*columns, (AGE_COLUMN, lambda o: age(o.get("metadata", {}).get("creationTimestamp")))]


def to_table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    resource_version: str,
    include_object: str = "Metadata",
    continue_token: str = "",
) -> dict[str, Any]:
    columns = columns_for(rt)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [obj["metadata"]["name"], *[fn(obj) for _, fn in columns]]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [NAME_COLUMN, *[c for c, _ in columns]],
        "rows": rows,
    }
