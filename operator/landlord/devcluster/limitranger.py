"""LimitRanger: default requests and limits for containers, and the LimitRange constraints.

As https://kubernetes.io/docs/concepts/policy/limit-range/ and the admission controllers
reference (LimitRanger) describe it, with the real server's messages:

- API defaulting first: on every Pod write, a container with a limit and no request for a
  resource requests its limit; on every LimitRange write, an item of type Container gets
  `default` from `max`, and `defaultRequest` from `default`, then from `min` (the examples of
  "Configure Minimum and Maximum CPU Constraints for a Namespace" show both added).
- Mutating, on Pod create: each LimitRange of the namespace gives a container without a
  request its `defaultRequest` and one without a limit its `default`, and records what it set
  in the `kubernetes.io/limit-ranger` annotation. Pod updates are not admitted (containers
  cannot change), nor subresources.
- Pod validation, which runs between mutating and validating admission: a request above its
  limit is 422 Invalid (`must be less than or equal to cpu limit of 500m`).
- Validating: `min`, `max` and `maxLimitRequestRatio` of the Container items per container
  (init containers too), of the Pod items over the Pod's totals, and `min`/`max` of `storage`
  for PersistentVolumeClaims (create, and updates that change the request). The first
  LimitRange with a violation refuses the write: 403 Forbidden, `pods "p" is forbidden:
  maximum cpu usage per Container is 800m, but limit is 1500m` (several: `[a, b]`).

Left out: LimitRange objects are not validated against themselves (default <= max, ...).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..validation import FieldError
from . import errors
from .admission import Admission
from .quantities import (
    Quantity,
    ResourceList,
    container_resources,
    pod_containers,
    pod_limits,
    pod_requests,
    resource_list,
)
from .resources import ResourceType

LIMIT_RANGES = ("", "limitranges")
ANNOTATION = "kubernetes.io/limit-ranger"


def default_pod(pod: dict[str, Any]) -> None:
    """SetDefaults_Pod: a limit without a request is also the request."""
    for _, container in pod_containers(pod):
        resources = container.get("resources")
        if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
            continue
        requests = resources.get("requests")
        if not isinstance(requests, dict):
            requests = resources["requests"] = {}
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)


def default_limit_range(limit_range: dict[str, Any]) -> None:
    """SetDefaults_LimitRangeItem: Container items get `default` and `defaultRequest` filled in."""
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default = dict(item.get("default") or {})
        request = dict(item.get("defaultRequest") or {})
        for name, value in (item.get("max") or {}).items():
            default.setdefault(name, value)
        for source in (default, item.get("min") or {}):
            for name, value in source.items():
                request.setdefault(name, value)
        if default:
            item["default"] = default
        if request:
            item["defaultRequest"] = request


def set_defaults(limit_range: dict[str, Any], pod: dict[str, Any]) -> None:
    """The mutating step of one LimitRange: missing requests and limits from its Container items."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if isinstance(item, dict) and item.get("type") == "Container":
            requests.update(item.get("defaultRequest") or {})
            limits.update(item.get("default") or {})
    notes: list[str] = []
    for path, container in pod_containers(pod):
        what = "init container" if path.startswith("spec.initContainers") else "container"
        resources = container.get("resources")
        if not isinstance(resources, dict):
            resources = container["resources"] = {}
        set_limits = _merge(resources, "limits", limits)
        set_requests = _merge(resources, "requests", requests)
        name = container.get("name", "")
        if set_requests:
            notes.append(f"{', '.join(set_requests)} request for {what} {name}")
        if set_limits:
            notes.append(f"{', '.join(set_limits)} limit for {what} {name}")
    if notes:
        meta = pod.setdefault("metadata", {})
        meta.setdefault("annotations", {})[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _merge(resources: dict[str, Any], which: str, defaults: dict[str, Any]) -> list[str]:
    """Adds the missing defaults to `resources[which]`; the names it set, sorted."""
    if not defaults:
        return []
    current = resources.get(which)
    if not isinstance(current, dict):
        current = resources[which] = {}
    added = sorted(name for name in defaults if name not in current)
    for name in added:
        current[name] = defaults[name]
    return added


def request_over_limit(kind: str, name: str, pod: dict[str, Any]) -> errors.ApiError | None:
    """Pod validation: every request at most its limit (422 Invalid, as ValidateResourceRequirements)."""
    problems: list[FieldError] = []
    for path, container in pod_containers(pod):
        requests = container_resources(container, "requests")
        limits = container_resources(container, "limits")
        for resource, request in sorted(requests.items()):
            limit = limits.get(resource)
            if limit is not None and request.value > limit.value:
                problems.append(
                    FieldError(
                        "FieldValueInvalid",
                        f"{path}.resources.requests",
                        str(request),
                        f"must be less than or equal to {resource} limit of {limit}",
                    )
                )
    return errors.invalid(kind, "", name, problems) if problems else None


def _minimum(kind: str, resource: str, enforced: Quantity, requests: ResourceList, limits: ResourceList) -> str:
    request, limit = requests.get(resource), limits.get(resource)
    if request is None:
        return f"minimum {resource} usage per {kind} is {enforced}.  No request is specified"
    if enforced.value > request.value:
        return f"minimum {resource} usage per {kind} is {enforced}, but request is {request}"
    if limit is not None and enforced.value > limit.value:
        return f"minimum {resource} usage per {kind} is {enforced}, but limit is {limit}"
    return ""


def _maximum(kind: str, resource: str, enforced: Quantity, requests: ResourceList, limits: ResourceList) -> str:
    request, limit = requests.get(resource), limits.get(resource)
    if limit is None:
        return f"maximum {resource} usage per {kind} is {enforced}.  No limit is specified"
    if limit.value > enforced.value:
        return f"maximum {resource} usage per {kind} is {enforced}, but limit is {limit}"
    if request is not None and request.value > enforced.value:
        return f"maximum {resource} usage per {kind} is {enforced}, but request is {request}"
    return ""


def _maximum_request(kind: str, resource: str, enforced: Quantity, requests: ResourceList) -> str:
    request = requests.get(resource)
    if request is None:
        return f"maximum {resource} usage per {kind} is {enforced}.  No request is specified"
    if request.value > enforced.value:
        return f"maximum {resource} usage per {kind} is {enforced}, but request is {request}"
    return ""


def _ratio(kind: str, resource: str, enforced: Quantity, requests: ResourceList, limits: ResourceList) -> str:
    request, limit = requests.get(resource), limits.get(resource)
    prefix = f"{resource} max limit to request ratio per {kind} is {enforced}"
    if request is None or request.value == 0:
        return f"{prefix}, but no request is specified or request is 0"
    if limit is None or limit.value == 0:
        return f"{prefix}, but no limit is specified or limit is 0"
    if abs(limit.value) > abs(request.value) * enforced.value:
        shown = (abs(limit.value) / abs(request.value)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
        return f"{prefix}, but provided ratio is {shown}"
    return ""


def _check(kind: str, item: dict[str, Any], requests: ResourceList, limits: ResourceList) -> list[str]:
    found = [_minimum(kind, r, q, requests, limits) for r, q in sorted(resource_list(item.get("min")).items())]
    found += [_maximum(kind, r, q, requests, limits) for r, q in sorted(resource_list(item.get("max")).items())]
    ratios = resource_list(item.get("maxLimitRequestRatio"))
    found += [_ratio(kind, r, q, requests, limits) for r, q in sorted(ratios.items())]
    return [message for message in found if message]


def pod_violations(limit_range: dict[str, Any], pod: dict[str, Any]) -> list[str]:
    """What a Pod breaks of one LimitRange's Container and Pod items."""
    found: list[str] = []
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "Container":
            for _, container in pod_containers(pod):
                requests = container_resources(container, "requests")
                limits = container_resources(container, "limits")
                found += _check("Container", item, requests, limits)
        elif item.get("type") == "Pod":
            found += _check("Pod", item, pod_requests(pod), pod_limits(pod))
    return found


def claim_violations(limit_range: dict[str, Any], claim: dict[str, Any], old: dict[str, Any] | None) -> list[str]:
    """What a claim's storage request breaks of one LimitRange (a request the update keeps is not checked)."""
    requests = resource_list(((claim.get("spec") or {}).get("resources") or {}).get("requests"))
    before = resource_list((((old or {}).get("spec") or {}).get("resources") or {}).get("requests"))
    found: list[str] = []
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict) or item.get("type") != "PersistentVolumeClaim":
            continue
        for resource, enforced in sorted(resource_list(item.get("min")).items()):
            if not _unchanged(resource, requests, before):
                found.append(_minimum("PersistentVolumeClaim", resource, enforced, requests, {}))
        for resource, enforced in sorted(resource_list(item.get("max")).items()):
            if not _unchanged(resource, requests, before):
                found.append(_maximum_request("PersistentVolumeClaim", resource, enforced, requests))
    return [message for message in found if message]


def _unchanged(resource: str, requests: ResourceList, before: ResourceList) -> bool:
    return resource in requests and resource in before and requests[resource].value == before[resource].value


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate's text: one message as is, several deduplicated in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class LimitRanger(Admission):
    """The LimitRanger admission step (and the defaulting of Pods and LimitRanges before it)."""

    def _limit_ranger(
        self,
        rt: ResourceType,
        operation: str,
        namespace: str | None,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        subresource: str,
    ) -> None:
        """Defaults, then the mutating and validating LimitRanger steps (see the module doc).

        Called before the other admission steps: the mutating plugins run before the
        validating ones (PodSecurity, ValidatingAdmissionPolicy, ResourceQuota).
        """
        if not rt.builtin or rt.group or subresource:
            return
        if rt.kind == "LimitRange":
            default_limit_range(obj)
            return
        if rt.kind not in ("Pod", "PersistentVolumeClaim"):
            return
        name = obj.get("metadata", {}).get("name", "")
        if rt.kind == "Pod":
            default_pod(obj)
        ranges = self._limit_ranges(namespace or "") if not self._unadmitted else []
        if rt.kind == "Pod":
            if operation != "CREATE":
                return
            for limit_range in ranges:
                set_defaults(limit_range, obj)
            invalid = request_over_limit(rt.kind, name, obj)
            if invalid is not None:
                raise invalid
        for limit_range in ranges:
            if rt.kind == "Pod":
                found = pod_violations(limit_range, obj)
            else:
                found = claim_violations(limit_range, obj, old if operation == "UPDATE" else None)
            if found:
                raise errors.forbidden(rt.plural, rt.group, name, aggregate(found))

    def _limit_ranges(self, namespace: str) -> list[dict[str, Any]]:
        stored = self.objects.get(LIMIT_RANGES)
        if not stored:
            return []
        return [obj for (ns, _), obj in sorted(stored.items()) if ns == namespace]
