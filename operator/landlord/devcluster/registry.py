"""The served resource types, and CustomResourceDefinitions registering theirs.

Creating a CRD serves its resource (NamesAccepted, Established); every later write of the CRD
re-registers its types, so the schema, printer columns and OpenAPI the server uses follow the
CRD's current spec; deleting it (after its objects are gone) removes them.
"""

from __future__ import annotations

from typing import Any

from ..validation import FieldError, Walker, check_rule
from . import errors
from .managed_fields import FieldModel, now_rfc3339
from .resources import ResourceType, builtin_definitions, crd_types
from .store import ObjectStore
from .watch import GroupResource


class Registry(ObjectStore):
    """Resource types by (group, version, plural), with the schema walker each one uses."""

    def __init__(self, history: int = 100_000) -> None:
        super().__init__(history)
        self.walker_builtin = Walker(builtin_definitions(), builtin=True)
        self.walker_custom = Walker()
        self.types: dict[tuple[str, str, str], ResourceType] = {}
        self.changes = 0  # bumps on every registration change (discovery/openapi caches)

    def _register(self, rt: ResourceType) -> None:
        self.types[(rt.group, rt.version, rt.plural)] = rt
        self.objects.setdefault(rt.group_resource, {})
        self.changes += 1

    def _unregister_crd(self, crd_name: str) -> None:
        for key, rt in list(self.types.items()):
            if rt.crd_name == crd_name:
                del self.types[key]
                self.objects.pop(rt.group_resource, None)
        self.changes += 1

    def find(self, group: str, plural: str, version: str | None = None) -> ResourceType:
        """The served type, or 404 NotFound."""
        for (g, v, p), rt in self.types.items():
            if g == group and p == plural and (version is None or v == version):
                return rt
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")

    def groups(self) -> dict[str, list[str]]:
        """Served API groups and their versions, in registration order."""
        out: dict[str, list[str]] = {}
        for group, version, _ in self.types:
            versions = out.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        return out

    def _any_type(self, group_resource: GroupResource) -> ResourceType | None:
        for rt in self.types.values():
            if rt.group_resource == group_resource:
                return rt
        return None

    def _storage_version(self, rt: ResourceType) -> str:
        return next(v for (g, v, p) in self.types if (g, p) == rt.group_resource)

    def _walker(self, rt: ResourceType) -> Walker:
        return self.walker_builtin if rt.builtin else self.walker_custom

    def field_model(self, rt: ResourceType) -> FieldModel:
        """The managed-fields model of a type (list types and map keys from its schema)."""
        return FieldModel(rt.schema, self._walker(rt))

    # -- CustomResourceDefinitions ---------------------------------------------------------
    def _accept_crd(self, crd: dict[str, Any]) -> None:
        """On create: defaults the names, refuses a resource already served, sets the status."""
        names = crd["spec"]["names"]
        crd["spec"]["names"] = {
            **names,
            "singular": names.get("singular") or names["kind"].lower(),
            "listKind": names.get("listKind") or names["kind"] + "List",
        }
        conflict = self._crd_conflict(crd)
        if conflict:
            raise errors.invalid(
                "CustomResourceDefinition",
                "apiextensions.k8s.io",
                crd["metadata"]["name"],
                [FieldError("FieldValueInvalid", "spec.names.plural", names["plural"], conflict)],
            )
        crd["status"] = crd_status(crd)

    def _crd_conflict(self, crd: dict[str, Any]) -> str:
        spec = crd["spec"]
        for rt in self.types.values():
            if (
                rt.group == spec["group"]
                and rt.plural == spec["names"]["plural"]
                and rt.crd_name != crd["metadata"]["name"]
            ):
                return "the resource is already served"
        return ""

    def _restate_crd(self, old: dict[str, Any], crd: dict[str, Any]) -> None:
        """On update: defaults the names and refreshes the status, keeping the conditions."""
        names = crd["spec"]["names"]
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
        crd["status"] = {
            **crd.get("status", {}),
            **crd_status(crd),
            "conditions": old.get("status", {}).get("conditions", []),
        }

    def _serve_crd(self, crd: dict[str, Any]) -> None:
        """(Re-)registers the types of a stored CRD from its current spec."""
        if crd["metadata"].get("deletionTimestamp"):
            return
        for key, rt in list(self.types.items()):
            if rt.crd_name == crd["metadata"]["name"]:
                del self.types[key]
        for rt in crd_types(crd):
            self._register(rt)

    def _removed(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.kind == "CustomResourceDefinition":
            self._unregister_crd(obj["metadata"]["name"])


def crd_status(crd: dict[str, Any]) -> dict[str, Any]:
    """The status of an accepted CRD: names, stored versions, NamesAccepted and Established."""
    stamp = now_rfc3339()
    return {
        "acceptedNames": crd["spec"]["names"],
        "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": stamp,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": stamp,
            },
        ],
    }


def validate_crd(crd: dict[str, Any]) -> list[FieldError]:
    """The apiextensions checks beyond the schema: name, group, versions, root type, CEL rules."""
    problems: list[FieldError] = []
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    group = spec.get("group", "")
    plural = names.get("plural", "")
    expected = f"{plural}.{group}"
    if crd.get("metadata", {}).get("name") != expected:
        problems.append(
            FieldError(
                "FieldValueInvalid",
                "metadata.name",
                crd.get("metadata", {}).get("name"),
                'must be spec.names.plural+"."+spec.group',
            )
        )
    if "." not in group:
        problems.append(
            FieldError("FieldValueInvalid", "spec.group", group, "should be a domain with at least one dot")
        )
    versions = spec.get("versions") or []
    if not versions:
        problems.append(
            FieldError(
                "FieldValueRequired", "spec.versions", detail="must have exactly one version marked as storage version"
            )
        )
    if sum(1 for v in versions if v.get("storage")) != 1:
        problems.append(
            FieldError(
                "FieldValueInvalid", "spec.versions", "array", "must have exactly one version marked as storage version"
            )
        )
    for index, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            continue
        if schema.get("type") != "object":
            problems.append(
                FieldError(
                    "FieldValueRequired",
                    f"spec.versions[{index}].schema.openAPIV3Schema.type",
                    detail="must not be empty at the root",
                )
            )
        for path, rule in _rules_in(schema, f"spec.versions[{index}].schema.openAPIV3Schema"):
            compile_error = check_rule(rule)
            if compile_error:
                problems.append(FieldError("FieldValueInvalid", path, rule, f"compilation failed: {compile_error}"))
    return problems


def _rules_in(schema: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if not isinstance(schema, dict):
        return found
    for index, rule in enumerate(schema.get("x-kubernetes-validations") or []):
        found.append((f"{path}.x-kubernetes-validations[{index}].rule", rule.get("rule", "")))
    for name, sub in (schema.get("properties") or {}).items():
        found += _rules_in(sub, f"{path}.properties[{name}]")
    if isinstance(schema.get("items"), dict):
        found += _rules_in(schema["items"], f"{path}.items")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _rules_in(schema["additionalProperties"], f"{path}.additionalProperties")
    return found
