"""OpenAPI documents built from the served types: `/openapi/v2` and `/openapi/v3` (+ per GV).

kubectl uses the v3 documents for `explain`, for deciding that the server validates fields
itself (a PATCH operation of the kind that lists the `fieldValidation` parameter), and for
strategic-merge metadata; built-in definitions come from kubernetes-validate, custom ones from
each CRD's `openAPIV3Schema`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from .resources import SCHEMA_VERSION, ResourceType, builtin_definitions

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"


def _convert(schema: Any, ref_prefix: str) -> Any:
    """JSON-Schema-flavoured definitions (kubernetes-validate) back to OpenAPI form."""
    if isinstance(schema, list):
        return [_convert(s, ref_prefix) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            out["$ref"] = ref_prefix + value.rsplit("/", 1)[-1]
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if types:
                out["type"] = types[0]
        elif key == "additionalProperties" and value is False:
            continue
        elif key in ("properties",):
            out[key] = {k: _convert(v, ref_prefix) for k, v in value.items()}
        else:
            out[key] = _convert(value, ref_prefix)
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}]
    return out


def _refs(schema: Any, found: set[str]) -> None:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in schema.values():
            _refs(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _refs(value, found)


def _closure(names: set[str]) -> set[str]:
    defs = builtin_definitions()
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(defs[name], found)
        todo.extend(found - seen)
    return seen


def _builtin_schema(name: str, ref_prefix: str) -> dict[str, Any]:
    defs = builtin_definitions()
    if name == _QUANTITY:
        return {
            "type": "string",
            "format": "quantity",
            "description": "Quantity is a fixed-point representation of a number, e.g. 500m, 8Gi.",
        }
    if name == _INT_OR_STRING:
        return {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True}
    converted: dict[str, Any] = _convert(defs[name], ref_prefix)
    return converted


def custom_schema(rt: ResourceType, ref_prefix: str) -> dict[str, Any]:
    schema = copy.deepcopy(rt.schema or {})
    props = schema.setdefault("properties", {})
    props.setdefault(
        "apiVersion",
        {
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation of an object.",
        },
    )
    props.setdefault(
        "kind",
        {
            "type": "string",
            "description": "Kind is a string value representing the REST resource this object represents.",
        },
    )
    props["metadata"] = {"allOf": [{"$ref": ref_prefix + OBJECT_META}], "description": "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "version": rt.version, "kind": rt.kind}]
    schema.setdefault("type", "object")
    return schema


def _list_schema(rt: ResourceType, ref_prefix: str) -> dict[str, Any]:
    return {
        "description": f"{rt.kind}List is a list of {rt.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": ref_prefix + rt.definition_name}},
            "metadata": {"allOf": [{"$ref": ref_prefix + LIST_META}]},
        },
        "x-kubernetes-group-version-kind": [{"group": rt.group, "version": rt.version, "kind": rt.list_kind}],
    }


def _param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string"}, "uniqueItems": True}


_WRITE_PARAMS = [
    _param("dryRun", "When present, modifications are not persisted."),
    _param("fieldManager", "The name of the actor making the change."),
    _param("fieldValidation", "Ignore, Warn (default) or Strict: what to do with unknown or duplicate fields."),
]


def _paths(rt: ResourceType, ref_prefix: str) -> dict[str, Any]:
    base = "/api/v1" if not rt.group else f"/apis/{rt.group}/{rt.version}"
    scope = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    ok = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": ref_prefix + rt.definition_name}}},
        }
    }
    ok_list = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": ref_prefix + rt.definition_name + "List"}}},
        }
    }
    body = {"content": {"*/*": {"schema": {"$ref": ref_prefix + rt.definition_name}}}, "required": True}
    # kubectl computes a strategic merge patch only when the PATCH operation accepts one, as for
    # built-in kinds; custom resources get JSON merge patches.
    patch_types = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
    if rt.builtin:
        patch_types.append("application/strategic-merge-patch+json")
    patch_body = {"content": {t: {"schema": {"type": "object"}} for t in patch_types}, "required": True}

    def op(
        action: str,
        verb_id: str,
        responses: dict[str, Any],
        params: list[dict[str, Any]] | None = None,
        request: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "operationId": f"{verb_id}{rt.kind}",
            "responses": responses,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": params or [],
        }
        if request:
            operation["requestBody"] = request
        return operation

    collection = {
        "get": op(
            "list",
            "list",
            ok_list,
            [
                _param("labelSelector", "Label selector."),
                _param("fieldSelector", "Field selector."),
                _param("watch", "Watch for changes."),
            ],
        ),
        "post": op("post", "create", ok, _WRITE_PARAMS, body),
        "delete": op("deletecollection", "deleteCollection", ok_list),
    }
    item = {
        "get": op("get", "read", ok),
        "put": op("put", "replace", ok, _WRITE_PARAMS, body),
        "patch": op("patch", "patch", ok, [*_WRITE_PARAMS, _param("force", "Force apply.")], patch_body),
        "delete": op("delete", "delete", ok),
    }
    # Only the operations the type serves (the review types are create-only).
    verbs = {"get": "list", "post": "create", "delete": "deletecollection"}
    paths: dict[str, Any] = {scope: {m: o for m, o in collection.items() if verbs[m] in rt.verbs}}
    item_verbs = {"get": "get", "put": "update", "patch": "patch", "delete": "delete"}
    served = {m: o for m, o in item.items() if item_verbs[m] in rt.verbs}
    if served:
        paths[f"{scope}/{{name}}"] = served
    if rt.has_status:
        paths[f"{scope}/{{name}}/status"] = {
            "get": op("get", "readStatus", ok),
            "put": op("put", "replaceStatus", ok, _WRITE_PARAMS, body),
            "patch": op("patch", "patchStatus", ok, [*_WRITE_PARAMS, _param("force", "Force apply.")], patch_body),
        }
    return paths


def group_version_key(rt: ResourceType) -> str:
    return "api/v1" if not rt.group else f"apis/{rt.group}/{rt.version}"


def v3_document(types: list[ResourceType]) -> dict[str, Any]:
    prefix = "#/components/schemas/"
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    wanted = {OBJECT_META, LIST_META, STATUS}
    for rt in types:
        if rt.builtin:
            wanted.add(rt.definition_name)
            if "list" in rt.verbs:
                wanted.add(rt.definition_name + "List")
        else:
            schemas[rt.definition_name] = custom_schema(rt, prefix)
            schemas[rt.definition_name + "List"] = _list_schema(rt, prefix)
        paths.update(_paths(rt, prefix))
    for name in sorted(_closure(wanted)):
        schemas[name] = _builtin_schema(name, prefix)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v{SCHEMA_VERSION}"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def v2_document(types: list[ResourceType]) -> dict[str, Any]:
    prefix = "#/definitions/"
    definitions: dict[str, Any] = {}
    wanted = {OBJECT_META, LIST_META, STATUS}
    for rt in types:
        if rt.builtin:
            wanted.add(rt.definition_name)
        else:
            definitions[rt.definition_name] = custom_schema(rt, prefix)
    for name in sorted(_closure(wanted)):
        definitions[name] = _builtin_schema(name, prefix)
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": f"v{SCHEMA_VERSION}"},
        "paths": {},
        "definitions": definitions,
    }


def digest(document: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest().upper()
