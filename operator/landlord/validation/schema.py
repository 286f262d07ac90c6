"""Structural-schema validation, pruning and defaulting, as the API server does it.

One walker serves both worlds: a CRD's `openAPIV3Schema` (with `x-kubernetes-*` extensions and
CEL rules) and the built-in types' definitions shipped by `kubernetes-validate` (JSON-Schema
flavoured OpenAPI with `$ref`s). The walk returns the value as it would be stored: unknown
fields pruned, nulls dropped unless nullable, defaults applied, plus the field errors and the
unknown-field paths (for `fieldValidation=Strict|Warn`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..quantity import is_quantity
from .cel_rules import RuleFailure, evaluate_rules
from .errors import MISSING, FieldError

QUANTITY_REF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_OPAQUE_REFS = {
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
}
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_IPV4 = re.compile(r"^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$"
)


@dataclass
class WalkResult:
    """What a walk found: the value as stored, the field errors and the unknown-field paths."""

    value: Any
    errors: list[FieldError] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def join(path: str, key: str) -> str:
    """A field path one level down: `spec` + `size` -> `spec.size`."""
    return f"{path}.{key}" if path else key


def parse_datetime(text: str) -> datetime | None:
    """An RFC 3339 date-time, or None when the text is not one."""
    if not _DATE_TIME.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None


_RESOLVED_KEPT = 4096  # more than the built-in schemas hold


class Walker:
    """Validates one object against a schema; `defs` resolves `$ref`s of built-in schemas."""

    def __init__(self, defs: dict[str, Any] | None = None, builtin: bool = False) -> None:
        self.defs = defs or {}
        self.builtin = builtin
        # `$ref`s followed, by the schema's identity (the schema kept beside, so that its id is
        # not reused): a built-in object's walk follows dozens, at every write.
        self._resolved: dict[int, tuple[dict[str, Any], tuple[dict[str, Any], str]]] = {}

    def resolve(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The schema with its `$ref`s followed, and the last definition name followed (not to be
        changed: it is shared)."""
        if "$ref" not in schema:
            return schema, ""
        known = self._resolved.get(id(schema))
        if known is not None and known[0] is schema:
            return known[1]
        resolved = self._follow(schema)
        if len(self._resolved) >= _RESOLVED_KEPT:  # schemas made for one call would pile up
            self._resolved.clear()
        self._resolved[id(schema)] = (schema, resolved)
        return resolved

    def _follow(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
        ref_name = ""
        while "$ref" in schema:
            ref_name = schema["$ref"].rsplit("/", 1)[-1]
            target = self.defs.get(ref_name, {})
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **{k: v for k, v in merged.items() if k != "description"}}
        return schema, ref_name

    def walk(self, value: Any, schema: dict[str, Any], old: Any = MISSING) -> WalkResult:
        """Validates, prunes and defaults `value`; `old` is the stored value on update."""
        result = WalkResult(value=None)
        result.value = self._node(value, schema, "", old, result)
        return result

    # The recursive step returns the stored value, or MISSING to drop the field.
    def _node(self, value: Any, schema: dict[str, Any], path: str, old: Any, out: WalkResult) -> Any:
        schema, ref = self.resolve(schema)
        if ref in _OPAQUE_REFS:
            return value
        types, nullable = _types(schema)
        if value is None:
            if nullable and not self.builtin:
                return None
            return MISSING
        if not types and "oneOf" in schema:
            for alternative in schema["oneOf"]:
                types |= _types(self.resolve(alternative)[0])[0]
        if schema.get("x-kubernetes-int-or-string"):
            types = {"integer", "string"}
        if not types and not _structural(schema):
            return value  # schema says nothing: any value
        actual = _json_type(value)
        if types and not _type_ok(actual, types):
            wanted = " or ".join(sorted(types)) if len(types) > 1 else next(iter(types))
            if types == {"integer", "string"}:
                wanted = "integer or string" if not self.builtin else wanted
            out.errors.append(
                FieldError(
                    "FieldValueInvalid",
                    path,
                    actual,
                    f"{path or 'body'} in body must be of type {wanted}: {_show_type(actual)}",
                )
            )
            return value
        if ref == QUANTITY_REF and not is_quantity(value):
            out.errors.append(
                FieldError(
                    "FieldValueInvalid",
                    path,
                    value,
                    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                )
            )
            return value
        self._scalar_rules(value, schema, path, out)
        if isinstance(value, dict):
            value = self._object(value, schema, path, old, out)
        elif isinstance(value, list):
            value = self._array(value, schema, path, old, out)
        rules = schema.get("x-kubernetes-validations")
        if rules:
            self._cel(value, schema, rules, path, old, out)
        return value

    def _scalar_rules(self, value: Any, schema: dict[str, Any], path: str, out: WalkResult) -> None:
        where = path or "body"
        if "enum" in schema and value not in schema["enum"]:
            supported = ", ".join(_quote(v) for v in schema["enum"])
            out.errors.append(FieldError("FieldValueNotSupported", path, value, f"supported values: {supported}"))
        if isinstance(value, str):
            pattern = schema.get("pattern")
            if pattern and not re.search(pattern, value):
                out.errors.append(
                    FieldError("FieldValueInvalid", path, value, f"{where} in body should match '{pattern}'")
                )
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                out.errors.append(
                    FieldError(
                        "FieldValueTooLong",
                        path,
                        detail=f"may not be more than {schema['maxLength']} bytes",
                    )
                )
            if "minLength" in schema and len(value) < schema["minLength"]:
                out.errors.append(
                    FieldError(
                        "FieldValueInvalid",
                        path,
                        value,
                        f"{where} in body should be at least {schema['minLength']} chars long",
                    )
                )
            fmt = schema.get("format")
            if fmt and not _format_ok(fmt, value):
                out.errors.append(
                    FieldError(
                        "FieldValueInvalid", path, value, f"{where} in body must be of type {fmt}: {_quote(value)}"
                    )
                )
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = schema.get("minimum"), schema.get("maximum")
            if low is not None:
                if schema.get("exclusiveMinimum") and value <= low:
                    detail = f"{where} in body should be greater than {low}"
                    out.errors.append(FieldError("FieldValueInvalid", path, value, detail))
                elif value < low:
                    detail = f"{where} in body should be greater than or equal to {low}"
                    out.errors.append(FieldError("FieldValueInvalid", path, value, detail))
            if high is not None:
                if schema.get("exclusiveMaximum") and value >= high:
                    detail = f"{where} in body should be less than {high}"
                    out.errors.append(FieldError("FieldValueInvalid", path, value, detail))
                elif value > high:
                    detail = f"{where} in body should be less than or equal to {high}"
                    out.errors.append(FieldError("FieldValueInvalid", path, value, detail))
            fmt = schema.get("format")
            if fmt == "int32" and not -(2**31) <= value < 2**31:
                out.errors.append(FieldError("FieldValueInvalid", path, value, "must fit in int32"))
        if isinstance(value, list):
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                out.errors.append(
                    FieldError("FieldValueTooMany", path, detail=f"must have at most {schema['maxItems']} items")
                )
            if "minItems" in schema and len(value) < schema["minItems"]:
                out.errors.append(
                    FieldError(
                        "FieldValueInvalid",
                        path,
                        value,
                        f"{where} in body should have at least {schema['minItems']} items",
                    )
                )
        if isinstance(value, dict):
            if "maxProperties" in schema and len(value) > schema["maxProperties"]:
                out.errors.append(
                    FieldError(
                        "FieldValueTooMany",
                        path,
                        detail=f"must have at most {schema['maxProperties']} items",
                    )
                )
            if "minProperties" in schema and len(value) < schema["minProperties"]:
                out.errors.append(
                    FieldError(
                        "FieldValueInvalid",
                        path,
                        value,
                        f"{where} in body should have at least {schema['minProperties']} properties",
                    )
                )

    def _object(
        self, value: dict[str, Any], schema: dict[str, Any], path: str, old: Any, out: WalkResult
    ) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        keep_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or extra is True
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        if self.builtin and not props and extra is None:
            return value  # a free-form built-in object (FieldsV1, RawExtension)
        old_map = old if isinstance(old, dict) else {}
        stored: dict[str, Any] = {}
        for key, item in value.items():
            sub = join(path, key) if key in props or not isinstance(extra, dict) else f"{path}[{key}]"
            if key in props:
                child = self._node(item, props[key], sub, old_map.get(key, MISSING), out)
            elif isinstance(extra, dict):
                child = self._node(item, extra, sub, old_map.get(key, MISSING), out)
            elif keep_unknown or (embedded and key in ("apiVersion", "kind", "metadata")):
                child = item
            else:
                out.unknown.append(sub)
                continue
            if child is not MISSING:
                stored[key] = child
        for key, sub_schema in props.items():
            if key in stored:
                continue
            resolved, _ = self.resolve(sub_schema)
            if "default" in resolved:
                stored[key] = self._node(copy.deepcopy(resolved["default"]), sub_schema, join(path, key), MISSING, out)
        for key in schema.get("required", []):
            if key not in stored:
                out.errors.append(FieldError("FieldValueRequired", join(path, key)))
        return stored

    def _array(self, value: list[Any], schema: dict[str, Any], path: str, old: Any, out: WalkResult) -> list[Any]:
        items = schema.get("items")
        list_type = schema.get("x-kubernetes-list-type")
        keys: list[str] = schema.get("x-kubernetes-list-map-keys") or []
        old_by_key: dict[str, Any] = {}
        if list_type == "map" and isinstance(old, list):
            for element in old:
                if isinstance(element, dict):
                    old_by_key[_map_key(element, keys)] = element
        stored: list[Any] = []
        seen: set[str] = set()
        for index, element in enumerate(value):
            sub = f"{path}[{index}]"
            counterpart = MISSING
            if list_type == "map" and isinstance(element, dict):
                identity = _map_key(element, keys)
                if identity in seen:
                    out.errors.append(FieldError("FieldValueDuplicate", sub, _key_view(element, keys)))
                seen.add(identity)
                counterpart = old_by_key.get(identity, MISSING)
            elif list_type == "set":
                identity = repr(element)
                if identity in seen:
                    out.errors.append(FieldError("FieldValueDuplicate", sub, element))
                seen.add(identity)
            child = self._node(element, items, sub, counterpart, out) if items else element
            if child is not MISSING:
                stored.append(child)
        return stored

    def _cel(
        self,
        value: Any,
        schema: dict[str, Any],
        rules: list[dict[str, Any]],
        path: str,
        old: Any,
        out: WalkResult,
    ) -> None:
        failures: list[RuleFailure] = evaluate_rules(
            rules, _cel_value(value, schema, self), _cel_old(old, schema, self)
        )
        for failure in failures:
            where = path
            if failure.field_path:
                suffix = failure.field_path
                where = f"{path}{suffix}" if suffix.startswith("[") else join(path, suffix.lstrip("."))
            reason = failure.reason or "FieldValueInvalid"
            if reason == "FieldValueInvalid":
                out.errors.append(FieldError(reason, where, _json_type(value), failure.message))
            else:
                out.errors.append(FieldError(reason, where, detail=failure.message))


def _cel_value(value: Any, schema: dict[str, Any], walker: Walker) -> Any:
    """JSON -> CEL input: strings with a date-time format become timestamps, as in Kubernetes."""
    schema, _ = walker.resolve(schema)
    if isinstance(value, str) and schema.get("format") == "date-time":
        parsed = parse_datetime(value)
        return parsed if parsed is not None else value
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        converted = {}
        for key, item in value.items():
            sub = props.get(key) or (extra if isinstance(extra, dict) else {})
            converted[key] = _cel_value(item, sub, walker)
        return converted
    if isinstance(value, list):
        items = schema.get("items") or {}
        return [_cel_value(item, items, walker) for item in value]
    return value


def _cel_old(old: Any, schema: dict[str, Any], walker: Walker) -> Any:
    return MISSING if old is MISSING else _cel_value(old, schema, walker)


def _types(schema: dict[str, Any]) -> tuple[set[str], bool]:
    raw = schema.get("type")
    nullable = bool(schema.get("nullable"))
    if raw is None:
        return set(), nullable
    if isinstance(raw, list):
        return {t for t in raw if t != "null"}, nullable or "null" in raw
    return {raw}, nullable


def _structural(schema: dict[str, Any]) -> bool:
    return any(k in schema for k in ("properties", "additionalProperties", "items"))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_ok(actual: str, types: set[str]) -> bool:
    if actual in types:
        return True
    return actual == "integer" and "number" in types


def _show_type(actual: str) -> str:
    return f'"{actual}"'


def _quote(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _map_key(element: dict[str, Any], keys: list[str]) -> str:
    return repr([element.get(k) for k in keys])


def _key_view(element: dict[str, Any], keys: list[str]) -> Any:
    return {k: element.get(k) for k in keys}


def _format_ok(fmt: str, value: str) -> bool:
    if fmt == "date-time":
        return parse_datetime(value) is not None
    if fmt == "date":
        if not _DATE.match(value):
            return False
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            return False
        return True
    if fmt == "byte":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    if fmt == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    if fmt == "ipv4":
        return bool(_IPV4.match(value))
    if fmt == "hostname":
        return bool(_HOSTNAME.match(value))
    if fmt == "email":
        return bool(re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value))
    return True


_RESERVED = ("apiVersion", "kind", "metadata")


def validate_custom_resource(
    walker: Walker, schema: dict[str, Any], obj: dict[str, Any], old: dict[str, Any] | None
) -> tuple[WalkResult, dict[str, Any], list[FieldError]]:
    """A custom resource against its CRD version's openAPIV3Schema, as the API server does it.

    apiVersion, kind and metadata are the server's (only name and generateName are visible to
    root CEL rules); everything else is validated, pruned and defaulted. Returns the walk
    result, the object as it would be stored, and the errors of root-level rules.
    """
    body = {k: v for k, v in obj.items() if k not in _RESERVED}
    body_schema = {k: v for k, v in schema.items() if k != "x-kubernetes-validations"}
    body_schema["properties"] = {k: v for k, v in (schema.get("properties") or {}).items() if k not in _RESERVED}
    if "required" in schema:  # `required: [metadata, spec]` (controller-gen writes it): metadata is the server's
        body_schema["required"] = [k for k in schema["required"] if k not in _RESERVED]
    old_body = {k: v for k, v in old.items() if k not in _RESERVED} if old is not None else MISSING
    result = walker.walk(body, body_schema, old_body)
    stored = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": obj.get("metadata", {}),
        **(result.value or {}),
    }
    problems: list[FieldError] = []
    rules = schema.get("x-kubernetes-validations")
    if rules:

        def visible(source: dict[str, Any]) -> dict[str, Any]:
            meta = source.get("metadata") or {}
            return {**source, "metadata": {k: v for k, v in meta.items() if k in ("name", "generateName")}}

        old_view = visible(old) if old is not None else MISSING
        for failure in evaluate_rules(rules, visible(stored), old_view):
            problems.append(
                FieldError(
                    failure.reason or "FieldValueInvalid", failure.field_path.lstrip("."), "object", failure.message
                )
            )
    return result, stored, problems
