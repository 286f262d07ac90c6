"""ObjectMeta validation: names, labels, annotations, finalizers and ownerReferences.

The rules and wording of apimachinery's `ValidateObjectMeta`, plus the system fields a client
may not set and the finalizer names the server itself understands.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..validation import FieldError

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)
"""Fields the server sets; a client's values are dropped on create."""

NAMESPACE_FINALIZER = "kubernetes"
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def validate_metadata(kind: str, meta: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """The field errors of an object's metadata (`old` is the stored object on update)."""
    problems: list[FieldError] = []
    problems += _name(kind, meta.get("name", ""))
    problems += _labels(meta.get("labels") or {})
    problems += _annotations(meta.get("annotations") or {})
    finalizers = meta.get("finalizers") or []
    problems += _finalizers(finalizers, old)
    for index, ref in enumerate(meta.get("ownerReferences") or []):
        for required in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(required):
                problems.append(FieldError("FieldValueRequired", f"metadata.ownerReferences[{index}].{required}"))
    return problems


PATH_SEGMENT_NAMED = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
"""Kinds whose names need only be a valid path segment (RBAC's `system:discovery`, `system:basic-user`)."""


def _name(kind: str, name: str) -> list[FieldError]:
    pattern = DNS1123_LABEL if kind == "Namespace" else DNS1123_SUBDOMAIN
    limit = 63 if kind == "Namespace" else 253
    if not name:
        return [FieldError("FieldValueRequired", "metadata.name", detail="name or generateName is required")]
    if kind in PATH_SEGMENT_NAMED:
        if name in (".", ".."):
            return [FieldError("FieldValueInvalid", "metadata.name", name, f"may not be '{name}'")]
        bad = next((c for c in ("/", "%") if c in name), None)
        return [FieldError("FieldValueInvalid", "metadata.name", name, f"may not contain '{bad}'")] if bad else []
    if kind != "Event" and (not pattern.match(name) or len(name) > limit):
        what = "RFC 1123 label" if kind == "Namespace" else "RFC 1123 subdomain"
        return [
            FieldError(
                "FieldValueInvalid",
                "metadata.name",
                name,
                f"a lowercase {what} must consist of lower case alphanumeric characters, '-' or '.', "
                f"and must start and end with an alphanumeric character",
            )
        ]
    return []


def _labels(labels: dict[str, Any]) -> list[FieldError]:
    problems: list[FieldError] = []
    for key, value in labels.items():
        prefix, _, local = key.rpartition("/")
        if not _LABEL_NAME.match(local) or len(local) > 63 or (prefix and not DNS1123_SUBDOMAIN.match(prefix)):
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    "metadata.labels",
                    key,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character",
                )
            )
        if not isinstance(value, str) or not _LABEL_VALUE.match(value) or len(value) > 63:
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    "metadata.labels",
                    value,
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an "
                    "alphanumeric character",
                )
            )
    return problems


def _annotations(annotations: dict[str, Any]) -> list[FieldError]:
    problems: list[FieldError] = []
    for key, value in annotations.items():
        if not isinstance(value, str):
            problems.append(FieldError("FieldValueInvalid", f"metadata.annotations[{key}]", value, "must be a string"))
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > 256 * 1024:
        problems.append(
            FieldError("FieldValueTooLong", "metadata.annotations", detail="may not be more than 262144 bytes")
        )
    return problems


def _finalizers(finalizers: list[Any], old: dict[str, Any] | None) -> list[FieldError]:
    problems: list[FieldError] = []
    for index, finalizer in enumerate(finalizers):
        if not isinstance(finalizer, str) or (
            "/" not in finalizer and finalizer not in (NAMESPACE_FINALIZER, FOREGROUND, ORPHAN)
        ):
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    f"metadata.finalizers[{index}]",
                    finalizer,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    old_meta = (old or {}).get("metadata", {})
    if old_meta.get("deletionTimestamp"):
        added = set(finalizers) - set(old_meta.get("finalizers") or [])
        if added:
            problems.append(
                FieldError(
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    detail=f"no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {json.dumps(sorted(added))}",
                )
            )
    return problems
