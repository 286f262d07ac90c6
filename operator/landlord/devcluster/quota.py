"""ResourceQuota: the admission step that refuses writes over a quota, and the quota controller.

As https://kubernetes.io/docs/concepts/policy/resource-quotas/ and the admission controllers
reference (ResourceQuota) describe it, with the real server's messages:

- What is counted, per namespace: compute resources of the Pods not in a terminal phase
  (`requests.cpu`/`cpu`, `requests.memory`/`memory`, `limits.cpu`, `limits.memory`, the same
  for `ephemeral-storage`, hugepages, `requests.<extended resource>`, and `pods`), storage
  of the claims (`requests.storage`, `persistentvolumeclaims`, and per storage class
  `<class>.storageclass.storage.k8s.io/requests.storage|persistentvolumeclaims`), Services
  (`services`, `services.loadbalancers`, `services.nodeports`: the ports of NodePort and
  LoadBalancer Services), the legacy counts (`configmaps`, `secrets`,
  `replicationcontrollers`, `resourcequotas`) and `count/<resource>.<group>` of any
  namespaced resource, custom ones included (Events are not counted).
- Scopes (Pods only): Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass
  (In, NotIn, Exists, DoesNotExist) and CrossNamespacePodAffinity, as `spec.scopes` or
  `spec.scopeSelector`; a scoped quota does not match other kinds.
- Admission, the last validating step (after PodSecurity and ValidatingAdmissionPolicy), on
  create, and on the updates the real evaluators take (Services, claims): a Pod that does not
  request or limit a cpu/memory resource a quota tracks is refused (`failed quota: Q: must
  specify requests.cpu for: app`); a write whose usage would pass `status.hard` is refused
  with `exceeded quota: Q, requested: pods=1, used: pods=2, limited: pods=2`. Both are
  403 Forbidden. Subresources and the built-in controllers' writes are not admitted.
- The quota controller: `status.hard` follows `spec.hard` and `status.used` is recalculated
  when a quota is written and whenever an object it counts is created, changed or deleted in
  its namespace (the real controller's work, done at once so `status.used` is always right).
  A created object's usage is added to `status.used` as admission adds it; other changes
  recount the resource from the stored objects. The writes are the controller's
  (`kube-controller-manager`, on the `status` subresource).

Not done: the quota admission configuration (`limitedResources`), the VolumeAttributesClass
scope, validation of which resources a scoped quota may list, and time: a Pod being deleted
counts until it is gone (the real controller stops counting it once its grace period ends).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import errors
from .admission import Admission
from .managed_fields import record_update
from .quantities import (
    ZERO,
    Quantity,
    ResourceList,
    container_resources,
    pod_containers,
    pod_limits,
    pod_requests,
    printed,
    resource_list,
)
from .resources import ResourceType
from .watch import GroupResource

QUOTAS: GroupResource = ("", "resourcequotas")
PODS: GroupResource = ("", "pods")
SERVICES: GroupResource = ("", "services")
CLAIMS: GroupResource = ("", "persistentvolumeclaims")
CONTROLLER = "kube-controller-manager"
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
STORAGE_CLASS = ".storageclass.storage.k8s.io/"
PER_CLASS = (f"{STORAGE_CLASS}requests.storage", f"{STORAGE_CLASS}persistentvolumeclaims")
STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
ONE = Quantity(Decimal(1))
POD_RESOURCES = frozenset(
    {
        "pods",
        "count/pods",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    }
)
SERVICE_RESOURCES = frozenset({"services", "count/services", "services.loadbalancers", "services.nodeports"})
CLAIM_RESOURCES = frozenset({"persistentvolumeclaims", "count/persistentvolumeclaims", "requests.storage"})
LEGACY_COUNTS = frozenset({"configmaps", "secrets", "replicationcontrollers", "resourcequotas"})
LEGACY = frozenset(("", plural) for plural in LEGACY_COUNTS)
"""Counted (0) even where not served: the emulator serves no ReplicationControllers."""
MUST_SPECIFY = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})
"""Compute resources every container must set when a quota tracks them (kept for compatibility)."""
HANDLES_UPDATE = frozenset({SERVICES, CLAIMS})
"""The evaluators that admit updates; Pods (outside `resize`) and object counts only creates."""


# -- what a quota name counts ---------------------------------------------------------------
def _extended(name: str) -> bool:
    """An extended resource (`example.com/gpu`): not native (no `/`, or a kubernetes.io/ name)."""
    return "/" in name and "kubernetes.io/" not in name


def counted_by(name: str) -> GroupResource | None:
    """The resource whose objects a quota's resource name counts (None: nothing)."""
    if name in CLAIM_RESOURCES or (
        STORAGE_CLASS in name
        and name.endswith((f"{STORAGE_CLASS}requests.storage", f"{STORAGE_CLASS}persistentvolumeclaims"))
    ):
        return CLAIMS
    if name in POD_RESOURCES or name.startswith(("hugepages-", "requests.hugepages-")):
        return PODS
    if name.startswith("requests.") and _extended(name[len("requests.") :]):
        return PODS
    if name in SERVICE_RESOURCES:
        return SERVICES
    if name in LEGACY_COUNTS:
        return ("", name)
    if name.startswith("count/"):
        plural, _, group = name[len("count/") :].partition(".")
        return None if (group, plural) in IGNORED else (group, plural)
    return None


# -- usage ----------------------------------------------------------------------------------
def usage(group_resource: GroupResource, obj: dict[str, Any]) -> ResourceList:
    """What one object counts for, by quota resource name."""
    if group_resource == PODS:
        return pod_usage(obj)
    if group_resource == SERVICES:
        return service_usage(obj)
    if group_resource == CLAIMS:
        return claim_usage(obj)
    group, plural = group_resource
    out: ResourceList = {f"count/{plural}.{group}" if group else f"count/{plural}": ONE}
    if not group and plural in LEGACY_COUNTS:
        out[plural] = ONE
    return out


def pod_usage(pod: dict[str, Any]) -> ResourceList:
    """`count/pods` always; compute resources and `pods` unless the Pod is Succeeded or Failed."""
    out: ResourceList = {"count/pods": ONE}
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return out
    requests, limits = pod_requests(pod), pod_limits(pod)
    out["pods"] = ONE
    for resource in ("cpu", "memory", "ephemeral-storage"):
        if resource in requests:
            out[resource] = out[f"requests.{resource}"] = requests[resource]
        if resource in limits:
            out[f"limits.{resource}"] = limits[resource]
    for resource, value in requests.items():
        if resource.startswith("hugepages-"):
            out[resource] = out[f"requests.{resource}"] = value
        elif _extended(resource):
            out[f"requests.{resource}"] = value
    return out


def service_usage(service: dict[str, Any]) -> ResourceList:
    """One Service; a LoadBalancer; a node port for each port of a NodePort or LoadBalancer Service."""
    spec = service.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    node_ports = 0
    out: ResourceList = {"services": ONE, "count/services": ONE, "services.loadbalancers": ZERO}
    if spec.get("type") == "NodePort":
        node_ports = len(ports)
    elif spec.get("type") == "LoadBalancer":
        out["services.loadbalancers"] = ONE
        allocated = spec.get("allocateLoadBalancerNodePorts") is not False
        node_ports = len(ports) if allocated else sum(1 for p in ports if p.get("nodePort"))
    out["services.nodeports"] = Quantity(Decimal(node_ports))
    return out


def claim_usage(claim: dict[str, Any]) -> ResourceList:
    """One claim and its storage request (or what was allocated, when more), per class too."""
    spec = claim.get("spec") or {}
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    storage_class = annotations.get(STORAGE_CLASS_ANNOTATION) or spec.get("storageClassName") or ""
    out: ResourceList = {"persistentvolumeclaims": ONE, "count/persistentvolumeclaims": ONE}
    if storage_class:
        out[f"{storage_class}{STORAGE_CLASS}persistentvolumeclaims"] = ONE
    requested = resource_list((spec.get("resources") or {}).get("requests")).get("storage")
    allocated = resource_list((claim.get("status") or {}).get("allocatedResources")).get("storage")
    if requested is not None and allocated is not None and allocated.value > requested.value:
        requested = allocated
    if requested is not None:
        out["requests.storage"] = requested
        if storage_class:
            out[f"{storage_class}{STORAGE_CLASS}requests.storage"] = requested
    return out


def must_specify(tracked: list[str], pod: dict[str, Any]) -> str:
    """The Pod evaluator's constraint: each container sets the cpu/memory resources quota tracks."""
    required = MUST_SPECIFY.intersection(tracked)
    missing: dict[str, set[str]] = {}
    for _, container in pod_containers(pod):
        requests = container_resources(container, "requests")
        limits = container_resources(container, "limits")
        has: set[str] = set()
        for resource in ("cpu", "memory"):
            if resource in requests:
                has |= {resource, f"requests.{resource}"}
            if resource in limits:
                has.add(f"limits.{resource}")
        for resource in required - has:
            missing.setdefault(resource, set()).add(str(container.get("name", "")))
    if not missing:
        return ""
    parts = [f"{resource} for: {','.join(sorted(missing[resource]))}" for resource in sorted(missing)]
    return "must specify " + "; ".join(parts)


# -- scopes ---------------------------------------------------------------------------------
def scope_selectors(resource_quota: dict[str, Any]) -> list[dict[str, Any]]:
    """`spec.scopes` (as Exists) and `spec.scopeSelector.matchExpressions`."""
    spec = resource_quota.get("spec") or {}
    selectors = [{"scopeName": scope, "operator": "Exists"} for scope in spec.get("scopes") or []]
    selectors += [s for s in (spec.get("scopeSelector") or {}).get("matchExpressions") or [] if isinstance(s, dict)]
    return selectors


def in_scopes(resource_quota: dict[str, Any], group_resource: GroupResource, obj: dict[str, Any]) -> bool:
    """Whether the quota's scopes select the object (scopes select Pods only)."""
    selectors = scope_selectors(resource_quota)
    if not selectors:
        return True
    return group_resource == PODS and all(_pod_in_scope(s, obj) for s in selectors)


def _pod_in_scope(selector: dict[str, Any], pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    scope = selector.get("scopeName")
    if scope in ("Terminating", "NotTerminating"):
        deadline = spec.get("activeDeadlineSeconds")
        terminating = isinstance(deadline, int) and deadline >= 0
        return bool(terminating == (scope == "Terminating"))
    if scope in ("BestEffort", "NotBestEffort"):
        return bool(_best_effort(pod) == (scope == "BestEffort"))
    if scope == "PriorityClass":
        name = spec.get("priorityClassName") or ""
        operator = selector.get("operator")
        values = selector.get("values") or []
        if operator == "Exists":
            return bool(name)
        if operator == "DoesNotExist":
            return not name
        if operator == "In":
            return bool(name) and name in values
        if operator == "NotIn":
            return not (name and name in values)
        return False
    if scope == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(spec)
    return False


def _best_effort(pod: dict[str, Any]) -> bool:
    """QoS class BestEffort: no container requests or limits cpu or memory."""
    for _, container in pod_containers(pod):
        for which in ("requests", "limits"):
            values = container_resources(container, which)
            if any(values[r].value > 0 for r in ("cpu", "memory") if r in values):
                return False
    return True


def _cross_namespace_affinity(spec: dict[str, Any]) -> bool:
    affinity = spec.get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        section = affinity.get(kind) or {}
        terms = list(section.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [
            t.get("podAffinityTerm") or {} for t in section.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def _shown(resources: ResourceList, names: list[str]) -> str:
    """prettyPrint: `name=quantity` pairs in name order, comma-separated."""
    return ",".join(f"{name}={resources[name]}" for name in names if name in resources)


def hard_of(resource_quota: dict[str, Any]) -> ResourceList:
    """The enforced limits: `status.hard` (the controller's copy of `spec.hard`)."""
    status_hard = (resource_quota.get("status") or {}).get("hard")
    return resource_list(status_hard if status_hard else (resource_quota.get("spec") or {}).get("hard"))


class ResourceQuotas(Admission):
    """ResourceQuota admission, and the controller keeping `status` of the quotas."""

    _writing_quota_status = False

    def _quotas_in(self, namespace: str) -> list[tuple[tuple[str, str], dict[str, Any]]]:
        if not self.objects.get(QUOTAS):
            return []
        return self.in_namespace(QUOTAS, namespace)  # by bisection: every write asks

    # -- admission --------------------------------------------------------------------------
    def _admit_quota(
        self,
        rt: ResourceType,
        operation: str,
        namespace: str | None,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        subresource: str,
    ) -> None:
        """Refuses a create (or a Service/claim update) a quota of the namespace does not allow."""
        if not self.objects.get(QUOTAS) or self._unadmitted or subresource or not rt.namespaced or not namespace:
            return  # the fast path: no quota anywhere
        group_resource = rt.group_resource
        if group_resource in IGNORED or operation not in ("CREATE", "UPDATE"):
            return
        if operation == "UPDATE" and group_resource not in HANDLES_UPDATE:
            return
        name = str(obj.get("metadata", {}).get("name", ""))
        matching: list[tuple[dict[str, Any], ResourceList]] = []
        for _, resource_quota in self._quotas_in(namespace):
            hard = hard_of(resource_quota)
            tracked = [r for r in hard if counted_by(r) == group_resource]
            if not tracked or not in_scopes(resource_quota, group_resource, obj):
                continue
            if group_resource == PODS:
                missing = must_specify(tracked, obj)
                if missing:
                    quota_name = resource_quota["metadata"]["name"]
                    raise errors.forbidden(rt.plural, rt.group, name, f"failed quota: {quota_name}: {missing}")
            matching.append((resource_quota, hard))
        if not matching:
            return
        delta = usage(group_resource, obj)
        if operation == "UPDATE" and old is not None:
            before = usage(group_resource, old)
            delta = {r: max(v - before[r], ZERO, key=lambda q: q.value) if r in before else v for r, v in delta.items()}
        delta = {r: v for r, v in delta.items() if v.value != 0}
        for resource_quota, hard in matching:
            used = resource_list((resource_quota.get("status") or {}).get("used"))
            requested = {r: v for r, v in delta.items() if r in hard}
            exceeded = sorted(r for r, v in requested.items() if (used.get(r, ZERO) + v).value > hard[r].value)
            if exceeded:
                raise errors.forbidden(
                    rt.plural,
                    rt.group,
                    name,
                    f"exceeded quota: {resource_quota['metadata']['name']}, requested: {_shown(requested, exceeded)}, "
                    f"used: {_shown(used, exceeded)}, limited: {_shown(hard, exceeded)}",
                )

    # -- the quota controller ---------------------------------------------------------------
    def _emit(self, rt: ResourceType, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Every stored change: a change to what a quota counts updates its `status.used`."""
        super()._emit(rt, kind, obj, old)
        if self._writing_quota_status or not rt.namespaced or not self.objects.get(QUOTAS):
            return  # the fast path: no quota anywhere
        namespace = str(obj.get("metadata", {}).get("namespace") or "")
        quotas = self._quotas_in(namespace)
        group_resource = rt.group_resource
        if not quotas or group_resource in IGNORED:
            return
        if group_resource == QUOTAS:
            self._recount(quotas, None)  # a quota written or gone: all of them, as the controller
            return
        counting = [(k, q) for k, q in quotas if any(counted_by(r) == group_resource for r in hard_of(q))]
        if kind == "ADDED":
            for key, resource_quota in counting:
                self._add_usage(key, resource_quota, group_resource, obj)
            return
        before, after = (obj, None) if kind == "DELETED" else (old, obj)
        changed = [
            (key, q)
            for key, q in counting
            if self._counted(q, group_resource, before) != self._counted(q, group_resource, after)
        ]
        if changed:
            self._recount(changed, group_resource)

    def _counted(
        self, resource_quota: dict[str, Any], group_resource: GroupResource, obj: dict[str, Any] | None
    ) -> dict[str, Decimal]:
        """What the object counts for in this quota (values only)."""
        if obj is None or not in_scopes(resource_quota, group_resource, obj):
            return {}
        hard = hard_of(resource_quota)
        return {r: v.value for r, v in usage(group_resource, obj).items() if r in hard and v.value != 0}

    def _add_usage(
        self, key: tuple[str, str], resource_quota: dict[str, Any], group_resource: GroupResource, obj: dict[str, Any]
    ) -> None:
        """A created object: its usage added to `status.used`, as admission adds it."""
        if not in_scopes(resource_quota, group_resource, obj):
            return
        hard = hard_of(resource_quota)
        used = resource_list((resource_quota.get("status") or {}).get("used"))
        for resource, value in usage(group_resource, obj).items():
            if resource in hard and counted_by(resource) == group_resource:
                used[resource] = used.get(resource, ZERO) + value
        self._write_quota_status(key, resource_quota, hard, used)

    def _recount(self, quotas: list[tuple[tuple[str, str], dict[str, Any]]], only: GroupResource | None) -> None:
        """Recalculates `status.used` from the stored objects (of one resource, or of all it counts)."""
        for key, resource_quota in quotas:
            hard = resource_list((resource_quota.get("spec") or {}).get("hard"))
            used = resource_list((resource_quota.get("status") or {}).get("used")) if only else {}
            by_resource: dict[GroupResource, list[str]] = {}
            for resource in hard:
                counted = counted_by(resource)
                if counted is not None and (only is None or counted == only):
                    by_resource.setdefault(counted, []).append(resource)
            for group_resource, names in sorted(by_resource.items()):
                total: ResourceList = dict.fromkeys(names, ZERO)
                if self._any_type(group_resource) is None and group_resource not in LEGACY:
                    continue  # not served (a count/ of no resource): the controller has no evaluator for it
                for _, obj in self.in_namespace(group_resource, key[0]):
                    if in_scopes(resource_quota, group_resource, obj):
                        counted_usage = usage(group_resource, obj)
                        for name in names:
                            if name in counted_usage:
                                total[name] = total[name] + counted_usage[name]
                used.update(total)
            self._write_quota_status(key, resource_quota, hard, {r: v for r, v in used.items() if r in hard})

    def _write_quota_status(
        self, key: tuple[str, str], resource_quota: dict[str, Any], hard: ResourceList, used: ResourceList
    ) -> None:
        """Stores `status` as the quota controller would write it (only when it changes)."""
        status: dict[str, Any] = {}
        if hard:
            status["hard"] = printed(hard)
        if used:
            status["used"] = printed(used)
        if (resource_quota.get("status") or {}) == status:
            return
        rt = self._any_type(QUOTAS)
        assert rt is not None
        # A new object (stored ones are replaced, not changed), sharing `spec` with the old one.
        new = {**resource_quota, "metadata": dict(resource_quota["metadata"]), "status": status}
        record_update(self.field_model(rt), resource_quota, new, CONTROLLER, rt.api_version, "status")
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._store(rt)[key] = new
        self._writing_quota_status = True
        try:
            self._emit(rt, "MODIFIED", new, resource_quota)
        finally:
            self._writing_quota_status = False
