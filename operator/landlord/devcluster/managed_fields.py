"""Field ownership (`metadata.managedFields`) and server-side apply.

Field sets are sets of paths in the `fieldsV1` vocabulary: `f:<name>` for a map key,
`k:<json>` for an element of an associative list (by its keys), `v:<json>` for an element of
a set, and `.` for "this element itself". Lists are atomic unless the schema says
`x-kubernetes-list-type: map|set` (or, for built-in types, declares a patch merge key).

Apply rules implemented, from the server-side apply documentation:
- the applier becomes an owner of every field in its configuration;
- changing a field another manager owns is a conflict (409) unless `force`, which moves
  ownership; setting it to the value it already has shares ownership;
- a field the applier owned and no longer applies is removed, unless another manager owns it;
- any other write (create, update, patch) gives its manager ownership of the fields it
  changed and takes them from everybody else.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from ..validation import Walker
from .errors import ApiError

Path = tuple[str, ...]
_META_OWNED = ("labels", "annotations", "finalizers", "ownerReferences")
_OBJECT_META = {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FieldModel:
    """Knows how a type's lists behave, from its schema."""

    def __init__(self, schema: dict[str, Any] | None, walker: Walker) -> None:
        self.schema = schema or {}
        self.walker = walker

    def _resolve(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        return self.walker.resolve(schema)[0] if schema else {}

    def _child(self, schema: dict[str, Any], key: str) -> dict[str, Any]:
        props = schema.get("properties", {})
        if key in props:
            return self._resolve(props[key])
        extra = schema.get("additionalProperties")
        return self._resolve(extra) if isinstance(extra, dict) else {}

    def _list_kind(self, schema: dict[str, Any]) -> tuple[str, list[str]]:
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "map":
            return "map", list(schema.get("x-kubernetes-list-map-keys") or [])
        if list_type == "set":
            return "set", []
        if list_type is None and schema.get("x-kubernetes-patch-merge-key"):
            return "map", [schema["x-kubernetes-patch-merge-key"]]
        return "atomic", []

    def _metadata_schema(self, root: dict[str, Any]) -> dict[str, Any]:
        meta = self._child(root, "metadata")
        if meta.get("properties"):
            return meta
        return (
            self.walker.resolve(_OBJECT_META)[0]
            if self.walker.defs
            else {
                "properties": {
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                    "finalizers": {"type": "array", "x-kubernetes-list-type": "set"},
                    "ownerReferences": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["uid"],
                    },
                }
            }
        )

    # -- field sets ---------------------------------------------------------------------
    def fields(self, obj: dict[str, Any], only: set[str] | None = None) -> set[Path]:
        """The object's field paths (`only`: those under these top-level keys)."""
        root = self._resolve(self.schema)
        out: set[Path] = set()
        for key, value in obj.items():
            if key in ("apiVersion", "kind") or (only is not None and key not in only):
                continue
            if key == "metadata":
                meta_schema = self._metadata_schema(root)
                for mkey in _META_OWNED:
                    if mkey in (value or {}):
                        self._collect(value[mkey], self._child(meta_schema, mkey), ("f:metadata", f"f:{mkey}"), out)
                continue
            self._collect(value, self._child(root, key), (f"f:{key}",), out)
        return out

    def _collect(self, value: Any, schema: dict[str, Any], prefix: Path, out: set[Path]) -> None:
        if isinstance(value, dict) and value and schema.get("x-kubernetes-map-type") != "atomic":
            if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
                out.add(prefix)
                return
            for key, item in value.items():
                self._collect(item, self._child(schema, key), (*prefix, f"f:{key}"), out)
            return
        if isinstance(value, list) and value:
            kind, keys = self._list_kind(schema)
            items = self._resolve(schema.get("items"))
            if kind == "map":
                for element in value:
                    if not isinstance(element, dict):
                        out.add(prefix)
                        return
                    element_prefix = (*prefix, _item_key(element, keys))
                    out.add((*element_prefix, "."))
                    for key, item in element.items():
                        self._collect(item, self._child(items, key), (*element_prefix, f"f:{key}"), out)
                return
            if kind == "set":
                for element in value:
                    out.add((*prefix, "v:" + _canonical(element)))
                return
        out.add(prefix)

    # -- values at paths ------------------------------------------------------------------
    def get(self, obj: Any, path: Path) -> Any:
        current = obj
        for part in path:
            if part == ".":
                continue
            if part.startswith("f:"):
                if not isinstance(current, dict) or part[2:] not in current:
                    return _ABSENT
                current = current[part[2:]]
            elif part.startswith("k:"):
                wanted = json.loads(part[2:])
                match = _ABSENT
                for element in current if isinstance(current, list) else []:
                    if isinstance(element, dict) and all(element.get(k) == v for k, v in wanted.items()):
                        match = element
                        break
                current = match
                if current is _ABSENT:
                    return _ABSENT
            elif part.startswith("v:"):
                wanted = json.loads(part[2:])
                if not isinstance(current, list) or wanted not in current:
                    return _ABSENT
                current = wanted
        return current

    def remove(self, obj: dict[str, Any], path: Path) -> None:
        parent: Any = obj
        for part in path[:-1]:
            if part == ".":
                break
            parent = self.get(parent, (part,))
            if parent is _ABSENT:
                return
        last = path[-1]
        if last == ".":
            # Removing an element of an associative list: find the list and the element.
            container = self.get(obj, path[:-2])
            wanted = json.loads(path[-2][2:])
            if isinstance(container, list):
                container[:] = [
                    e for e in container if not (isinstance(e, dict) and all(e.get(k) == v for k, v in wanted.items()))
                ]
            return
        if last.startswith("f:") and isinstance(parent, dict):
            parent.pop(last[2:], None)
        elif last.startswith("v:") and isinstance(parent, list):
            value = json.loads(last[2:])
            parent[:] = [e for e in parent if e != value]

    # -- merging an applied configuration into the live object ----------------------------
    def merge(self, live: Any, config: Any, schema: dict[str, Any] | None = None, top: bool = True) -> Any:
        schema = self._resolve(self.schema) if top else (schema or {})
        if isinstance(config, dict) and isinstance(live, dict) and schema.get("x-kubernetes-map-type") != "atomic":
            result = dict(live)
            for key, value in config.items():
                if top and key == "metadata":
                    result[key] = self._merge_metadata(live.get("metadata") or {}, value or {}, schema)
                    continue
                result[key] = self.merge(live.get(key), value, self._child(schema, key), top=False)
            return result
        if isinstance(config, list) and isinstance(live, list):
            kind, keys = self._list_kind(schema)
            items = self._resolve(schema.get("items"))
            if kind == "map":
                merged: list[Any] = []
                used: set[str] = set()
                live_by_key = {_item_key(e, keys): e for e in live if isinstance(e, dict)}
                for element in config:
                    key = _item_key(element, keys) if isinstance(element, dict) else ""
                    used.add(key)
                    merged.append(self.merge(live_by_key.get(key, {}), element, items, top=False))
                merged.extend(e for e in live if isinstance(e, dict) and _item_key(e, keys) not in used)
                return merged
            if kind == "set":
                return list(config) + [e for e in live if e not in config]
        return copy.deepcopy(config)

    def _merge_metadata(self, live: dict[str, Any], config: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
        result = dict(live)
        meta_schema = self._metadata_schema(root)
        for key in _META_OWNED:
            if key in config:
                result[key] = self.merge(live.get(key), config[key], self._child(meta_schema, key), top=False)
        return result


_ABSENT: Any = object()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _item_key(element: dict[str, Any], keys: list[str]) -> str:
    return "k:" + _canonical({k: element.get(k) for k in keys if k in element})


# -- fieldsV1 <-> path sets -----------------------------------------------------------------
def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(part, {})
    return tree


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for part, child in tree.items():
        path = (*prefix, part)
        if child:
            out |= from_fields_v1(child, path)
        else:
            out.add(path)
    return out


def _path_text(path: Path) -> str:
    text = ""
    for part in path:
        if part.startswith("f:"):
            text += "." + part[2:]
        elif part.startswith("k:"):
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(part[2:]).items()) + "]"
        elif part.startswith("v:"):
            text += f"[{part[2:]}]"
    return text


def _entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj.get("metadata", {}).get("managedFields") or [])


def _owned(entry: dict[str, Any]) -> set[Path]:
    return from_fields_v1(entry.get("fieldsV1") or {})


def _covers(owned: set[Path], path: Path) -> bool:
    """A path is owned when it or an ancestor leaf is owned (an atomic value owns its insides)."""
    return any(path[:i] in owned for i in range(1, len(path) + 1))


def _target(path: Path) -> Path:
    return path[:-1] if path[-1] == "." else path


def _is_key_field(path: Path) -> bool:
    if len(path) < 2 or not path[-2].startswith("k:") or not path[-1].startswith("f:"):
        return False
    return path[-1][2:] in json.loads(path[-2][2:])


def record_update(
    model: FieldModel,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    api_version: str,
    subresource: str = "",
) -> None:
    """After a non-apply write: the manager owns what it changed; removed fields are nobody's.

    Only the top-level keys whose values differ are walked (a status write leaves `spec` as it
    was): nothing under the others is changed or removed."""
    entries = _entries(old) if old else []
    differing = _differing(old, new)
    new_fields = model.fields(new, differing)
    old_fields = model.fields(old, differing) if old else set()
    changed = {p for p in new_fields if p not in old_fields or model.get(new, p) != model.get(old, p)}
    removed = old_fields - new_fields
    if not changed and not removed:
        new.setdefault("metadata", {})["managedFields"] = entries
        return
    result: list[dict[str, Any]] = []
    mine: set[Path] = set()
    for entry in entries:
        owned = _owned(entry) - removed
        if (
            entry.get("manager") == manager
            and entry.get("operation") == "Update"
            and entry.get("subresource", "") == subresource
        ):
            mine |= owned
            continue
        owned -= changed
        if owned:
            result.append({**entry, "fieldsV1": to_fields_v1(owned)})
    elsewhere = {path[0][2:] for path in mine if path[0][2:] not in differing}
    if elsewhere:  # owned before under keys this write left alone: still there if still in the object
        new_fields = new_fields | model.fields(new, elsewhere)
    mine = (mine | changed) & new_fields
    if mine:
        entry = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": now_rfc3339(),
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(mine),
        }
        if subresource:
            entry["subresource"] = subresource
        result.append(entry)
    new.setdefault("metadata", {})["managedFields"] = result


def _differing(old: dict[str, Any] | None, new: dict[str, Any]) -> set[str]:
    """The top-level keys whose fields may differ ("metadata" when an owned part of it does)."""
    if not old:
        return set(new)
    keys = {k for k in set(old) | set(new) if k != "metadata" and old.get(k, _ABSENT) != new.get(k, _ABSENT)}
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    if any(old_meta.get(k, _ABSENT) != new_meta.get(k, _ABSENT) for k in _META_OWNED):
        keys.add("metadata")
    return keys


def apply(
    model: FieldModel,
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    force: bool,
    api_version: str,
    subresource: str = "",
) -> dict[str, Any]:
    """Server-side apply of `config` by `manager`; returns the new object (managedFields set)."""
    live = (
        copy.deepcopy(live)
        if live
        else {"apiVersion": config.get("apiVersion"), "kind": config.get("kind"), "metadata": {}}
    )
    entries = _entries(live)
    applied = model.fields(config)
    conflicts: list[tuple[str, Path]] = []
    for entry in entries:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            continue
        owned = _owned(entry)
        for path in sorted(applied):
            if path[-1] == ".":
                continue
            if _covers(owned, path) and model.get(config, path) != model.get(live, path):
                conflicts.append((entry.get("manager", ""), path))
    if conflicts and not force:
        messages = [f'conflict with "{who}"' + f": {_path_text(path)}" for who, path in conflicts]
        noun = "conflict" if len(conflicts) == 1 else "conflicts"
        raise ApiError(
            409,
            "Conflict",
            f"Apply failed with {len(conflicts)} {noun}: " + "\n".join(messages),
            {
                "causes": [
                    {"reason": "FieldManagerConflict", "message": f'conflict with "{who}"', "field": _path_text(path)}
                    for who, path in conflicts
                ]
            },
        )
    previously: set[Path] = set()
    others: list[dict[str, Any]] = []
    taken = {path for _, path in conflicts}
    for entry in entries:
        if (
            entry.get("manager") == manager
            and entry.get("operation") == "Apply"
            and entry.get("subresource", "") == subresource
        ):
            previously = _owned(entry)
            continue
        owned = _owned(entry)
        if taken:
            owned = {p for p in owned if not any(p[: len(t)] == t or t[: len(p)] == p for t in taken)}
        if owned:
            others.append({**entry, "fieldsV1": to_fields_v1(owned)})
    merged = model.merge(live, config)
    other_owned: set[Path] = set()
    for entry in others:
        other_owned |= _owned(entry)
    owned_now = other_owned | applied
    doomed = [
        path for path in previously - applied if not any(p[: len(_target(path))] == _target(path) for p in owned_now)
    ]
    dropped_elements = {path[:-1] for path in doomed if path[-1] == "."}
    for path in sorted(doomed, key=lambda p: (len(p), p[-1] != "."), reverse=False):
        if path[-1] != "." and any(path[: len(e)] == e for e in dropped_elements):
            continue  # the whole element goes
        if _is_key_field(path):
            continue  # an element's keys stay while the element stays
        model.remove(merged, path)
    entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(applied),
    }
    if subresource:
        entry["subresource"] = subresource
    merged.setdefault("metadata", {})["managedFields"] = [*others, entry] if applied else others
    result: dict[str, Any] = merged
    return result
