"""Pod updates: what of a Pod's spec may change once it exists.

A Pod's spec is immutable but for a few fields ("Pod update and replacement",
https://kubernetes.io/docs/concepts/workloads/pods/#pod-update-and-replacement):

- `spec.containers[*].image` and `spec.initContainers[*].image` (containers may not be added or
  removed; an image may not become empty);
- `spec.activeDeadlineSeconds`: set when unset, or lowered (never raised, never unset);
- `spec.tolerations`: new entries only (an existing one may change its `tolerationSeconds`);
- `spec.terminationGracePeriodSeconds`: to 1 when it was negative;
- `spec.schedulingGates`: removals only, and while the Pod has gates, additions to
  `spec.nodeSelector` (https://kubernetes.io/docs/concepts/scheduling-eviction/pod-scheduling-readiness/).

Any other change is refused as the real validation refuses it: a 422 with one `spec: Forbidden:
pod updates may not change fields other than ...` cause, followed by what differs (the real
server prints a Go diff of the PodSpec; here, one line per changed field). Ephemeral
containers are not served (their subresource is absent), so they cannot change either.
Absent, null, empty lists and empty objects compare equal, as the real semantic equality
treats nil and empty.
"""

from __future__ import annotations

import json
from typing import Any

from ..validation import FieldError

UPDATABLE = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)
"""The list in the real message (Kubernetes 1.30 with its default feature gates)."""

_MAX_DIFF_LINES = 20


def _normal(value: Any) -> Any:
    """The value with null, empty lists and empty objects dropped (semantic equality)."""
    if isinstance(value, dict):
        out = {k: _normal(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _list(spec: dict[str, Any], name: str) -> list[Any]:
    found = spec.get(name)
    return found if isinstance(found, list) else []


def validate_pod_update(old: dict[str, Any], new: dict[str, Any]) -> list[FieldError]:
    """The problems of changing Pod `old` into `new` (both whole objects, after defaulting)."""
    before = _normal(old.get("spec") or {})
    after = _normal(new.get("spec") or {})
    problems: list[FieldError] = []
    for name in ("containers", "initContainers"):
        olds, news = _list(before, name), _list(after, name)
        if len(olds) != len(news):
            return [
                FieldError("FieldValueForbidden", f"spec.{name}", detail="pod updates may not add or remove containers")
            ]
        for i, container in enumerate(news):
            if isinstance(container, dict) and not container.get("image"):
                problems.append(FieldError("FieldValueRequired", f"spec.{name}[{i}].image"))
    deadline, old_deadline = after.get("activeDeadlineSeconds"), before.get("activeDeadlineSeconds")
    if deadline is not None:
        if isinstance(deadline, int) and not 0 <= deadline <= 2**31 - 1:
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    "spec.activeDeadlineSeconds",
                    deadline,
                    f"must be between 0 and {2**31 - 1}, inclusive",
                )
            )
            return problems
        if isinstance(old_deadline, int) and isinstance(deadline, int) and old_deadline < deadline:
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    "spec.activeDeadlineSeconds",
                    deadline,
                    "must be less than or equal to previous value",
                )
            )
            return problems
    elif old_deadline is not None:
        problems.append(
            FieldError(
                "FieldValueInvalid",
                "spec.activeDeadlineSeconds",
                None,
                "must not update from a positive integer to nil value",
            )
        )
    problems += _only_added_tolerations(_list(before, "tolerations"), _list(after, "tolerations"))
    problems += _only_deleted_gates(_list(before, "schedulingGates"), _list(after, "schedulingGates"))

    munged = dict(after)
    for name in ("containers", "initContainers"):
        olds = _list(before, name)
        if olds:
            munged[name] = [
                {**c, "image": o.get("image")} if isinstance(c, dict) and isinstance(o, dict) else c
                for c, o in zip(_list(after, name), olds, strict=True)
            ]
    for name in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(name, None)
        if name in before:
            munged[name] = before[name]
    grace, old_grace = after.get("terminationGracePeriodSeconds"), before.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and grace == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if _list(before, "schedulingGates"):
        selector, old_selector = after.get("nodeSelector") or {}, before.get("nodeSelector") or {}
        if any(selector.get(k) != v for k, v in old_selector.items()):
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    "spec.nodeSelector",
                    selector,
                    "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                )
            )
        munged.pop("nodeSelector", None)
        if "nodeSelector" in before:
            munged["nodeSelector"] = before["nodeSelector"]
    munged = _normal(munged)
    if munged != before:
        diff = "\n".join(_diff(before, munged, "")[:_MAX_DIFF_LINES])
        problems.append(
            FieldError(
                "FieldValueForbidden",
                "spec",
                detail=f"pod updates may not change fields other than {UPDATABLE}\n{diff}",
            )
        )
    return problems


def _only_added_tolerations(olds: list[Any], news: list[Any]) -> list[FieldError]:
    for old in olds:
        if not isinstance(old, dict):
            continue
        if not any(
            isinstance(new, dict)
            and {**old, "tolerationSeconds": new.get("tolerationSeconds")}
            == {**new, "tolerationSeconds": new.get("tolerationSeconds")}
            for new in news
        ):
            return [
                FieldError(
                    "FieldValueForbidden",
                    "spec.tolerations",
                    detail="existing toleration can not be modified except its tolerationSeconds",
                )
            ]
    return []


def _only_deleted_gates(olds: list[Any], news: list[Any]) -> list[FieldError]:
    known = {g.get("name") for g in olds if isinstance(g, dict)}
    return [
        FieldError(
            "FieldValueForbidden",
            f"spec.schedulingGates[{i}].name",
            detail=f"only deletion is allowed, but found new scheduling gate '{gate.get('name')}'",
        )
        for i, gate in enumerate(news)
        if isinstance(gate, dict) and gate.get("name") not in known
    ]


def _short(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _diff(old: Any, new: Any, path: str) -> list[str]:
    """One `-`/`+` pair per changed field (paths relative to spec)."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(set(old) | set(new)):
            child = f"{path}.{key}" if path else key
            if key not in old:
                lines.append(f"+ {child}: {_short(new[key])}")
            elif key not in new:
                lines.append(f"- {child}: {_short(old[key])}")
            elif old[key] != new[key]:
                lines += _diff(old[key], new[key], child)
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        lines = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                lines += _diff(a, b, f"{path}[{i}]")
        return lines
    return [f"- {path}: {_short(old)}", f"+ {path}: {_short(new)}"]
