"""The three PATCH flavours: JSON merge (RFC 7386), JSON patch (RFC 6902), strategic merge.

Strategic merge uses the patch strategy and merge keys declared by the built-in types'
definitions (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`), so that e.g.
containers merge by name as on a real API server. It is refused for custom resources (415).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from ..validation import Walker
from .errors import ApiError, bad_request


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        patched: dict[str, Any] = jsonpatch.JsonPatch(operations).apply(target)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise ApiError(
            422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
        ) from exc
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as exc:
        raise ApiError(
            422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
        ) from exc
    return patched


def strategic_merge_patch(target: dict[str, Any], patch: Any, schema: dict[str, Any], walker: Walker) -> Any:
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object")
    return _smp_map(target, patch, schema, walker)


def _smp_map(target: Any, patch: dict[str, Any], schema: dict[str, Any], walker: Walker) -> Any:
    schema, _ = walker.resolve(schema) if schema else ({}, "")
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            doomed = set(map(repr, value or []))
            result[name] = [v for v in result.get(name) or [] if repr(v) not in doomed]
            continue
        sub_schema = props.get(key) or (extra if isinstance(extra, dict) else {})
        if value is None:
            result.pop(key, None)
            continue
        if isinstance(value, dict):
            merged = _smp_map(result.get(key), value, sub_schema, walker)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(result.get(key), value, sub_schema, walker)
        else:
            result[key] = value
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _smp_list(target: Any, patch: list[Any], schema: dict[str, Any], walker: Walker) -> list[Any]:
    schema, _ = walker.resolve(schema) if schema else ({}, "")
    strategy = schema.get("x-kubernetes-patch-strategy", "")
    merge_key = schema.get("x-kubernetes-patch-merge-key")
    current = list(target) if isinstance(target, list) else []
    if "merge" not in strategy.split(","):
        return [copy.deepcopy(v) for v in patch if not (isinstance(v, dict) and v.get("$patch"))]
    if not merge_key:
        # A merged list of primitives: union, keeping order.
        result = list(current)
        for value in patch:
            if value not in result:
                result.append(value)
        return result
    items_schema = schema.get("items", {})
    result = [copy.deepcopy(v) for v in current]
    for element in patch:
        if not isinstance(element, dict):
            raise bad_request(f"element of a list merged by {merge_key!r} must be an object")
        key_value = element.get(merge_key)
        position = next(
            (i for i, v in enumerate(result) if isinstance(v, dict) and v.get(merge_key) == key_value), None
        )
        if element.get("$patch") == "delete":
            if position is not None:
                result.pop(position)
            continue
        if element.get("$patch") == "replace":
            replacement = {k: v for k, v in element.items() if k != "$patch"}
            if position is None:
                result.append(replacement)
            else:
                result[position] = replacement
            continue
        if position is None:
            result.append(_smp_map({}, element, items_schema, walker))
        else:
            result[position] = _smp_map(result[position], element, items_schema, walker)
    return result
