"""Suspension of the tenant's own workloads, and their exact restoration on activation.

What is needed to restore is recorded (`status.suspension.workloads` of the Tenant: which
workload, and its replicas, node selector or suspend flag) before anything is stopped: the
tenant cannot write there, and a fault between two steps cannot lose it. Activation restores
exactly what was recorded, keyed on the record, not on the phase, so no fault leaves a workload
stopped on an active tenant. Jobs still running and Pods that nothing stopped here would
recreate are deleted (there is nothing to restore of them).

Every workload kind the owner role allows is stopped: Deployments, StatefulSets, ReplicaSets
and ReplicationControllers (scaled to 0), DaemonSets (a node selector no node carries), CronJobs
(suspended). A kind the API server does not serve is skipped. A ReplicaSet is left to its
Deployment, and a Pod to its ReplicaSet, ReplicationController, StatefulSet, DaemonSet or Job,
only when that owner exists: an ownerReference to anything else (say, a ConfigMap of the
owner's) does not keep a workload running.

The record is bounded: at most `MAX_RECORDED` entries (the ResourceQuota's object counts keep a
tenant well under it). Beyond it, workloads are still stopped but not recorded, and
`status.suspension.unrecorded` counts them (activation cannot restore those; a Warning Event
says so). Stopping is idempotent: a workload already stopped is not written again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..kube import KubeClient, KubeError

# A node selector entry no node carries: a DaemonSet with it runs nowhere.
SUSPENDED_KEY = "landlord.dev/suspended"
SUSPENDED_NODE_SELECTOR = {SUSPENDED_KEY: "true"}
MAX_REPLICAS = 100_000
# At most this many workloads are recorded (about 300 bytes each at worst: a status far under
# etcd's 1.5 MiB). The quota's defaults (render/quota.py) allow fewer recordable workloads.
MAX_RECORDED = 1000
# On a retained namespace the record is an annotation (all annotations together: 256 KiB at most).
ORPHAN_RECORD_CAP = 500
SCALED = ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")
STOPPED_KINDS = (*SCALED, "DaemonSet", "CronJob")
POD_OWNERS = ("ReplicaSet", "ReplicationController", "StatefulSet", "DaemonSet", "Job")
Record = list[dict[str, Any]]
Save = Callable[[Record | None, int], Awaitable[None]]  # (workloads, how many were not recorded)


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _running(kind: str, obj: dict[str, Any]) -> bool:
    spec = obj.get("spec") or {}
    if kind in SCALED:
        return bool(spec.get("replicas", 1) != 0)
    if kind == "DaemonSet":
        return (_pod_spec(obj).get("nodeSelector") or {}).get(SUSPENDED_KEY) != "true"
    return spec.get("suspend", False) is not True  # CronJob


def _entry(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """What restores this workload exactly."""
    spec = obj.get("spec") or {}
    entry: dict[str, Any] = {"kind": kind, "name": obj["metadata"]["name"]}
    if kind == "DaemonSet":
        entry["nodeSelector"] = dict(_pod_spec(obj).get("nodeSelector") or {})
    elif kind == "CronJob":
        entry["suspend"] = bool(spec.get("suspend", False))
    else:
        entry["replicas"] = int(spec.get("replicas", 1))
    return entry


def _stop(kind: str) -> dict[str, Any]:
    if kind == "DaemonSet":  # (a merge patch: the DaemonSet's own selector stays, the key is added)
        return {"spec": {"template": {"spec": {"nodeSelector": SUSPENDED_NODE_SELECTOR}}}}
    if kind == "CronJob":
        return {"spec": {"suspend": True}}
    return {"spec": {"replicas": 0}}


def _restore(entry: dict[str, Any]) -> tuple[Any, str] | None:
    """The patch (and its type) that gives a workload back what was recorded; None for a record
    that makes no sense. A DaemonSet's node selector is replaced as a whole (a JSON patch): a
    merge patch cannot take out the key the suspension added."""
    kind = entry.get("kind")
    if kind == "DaemonSet" and isinstance(entry.get("nodeSelector"), dict):
        selector = {str(k): str(v) for k, v in entry["nodeSelector"].items() if k != SUSPENDED_KEY}
        if not selector:
            return {"spec": {"template": {"spec": {"nodeSelector": None}}}}, "merge"
        return [{"op": "add", "path": "/spec/template/spec/nodeSelector", "value": selector}], "json"
    if kind == "CronJob" and isinstance(entry.get("suspend"), bool):
        return {"spec": {"suspend": entry["suspend"]}}, "merge"
    replicas = entry.get("replicas")
    valid = isinstance(replicas, int) and not isinstance(replicas, bool) and 0 <= replicas <= MAX_REPLICAS
    if kind in SCALED and valid:
        return {"spec": {"replicas": replicas}}, "merge"
    return None


def job_finished(job: dict[str, Any]) -> bool:
    """A Job is finished when its Complete or Failed condition is True (counts of succeeded or
    failed pods say nothing about pods still active)."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return True
    return False


def _owned_by(obj: dict[str, Any], existing: dict[str, set[str]], kinds: tuple[str, ...]) -> bool:
    """Whether one of the object's owners is a workload of these kinds that exists (and so is
    stopped, or deleted, by the suspension itself)."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") in kinds and ref.get("name") in existing.get(ref["kind"], set()):
            return True
    return False


async def _list(client: KubeClient, kind: str, namespace: str) -> list[dict[str, Any]]:
    try:
        return await client.list(kind, namespace)
    except KubeError as exc:
        if exc.status == 404:  # a kind this API server does not serve (ReplicationControllers, say)
            return []
        raise


async def suspend_workloads(
    client: KubeClient, namespace: str, record: Record, save: Save, unrecorded: int = 0, cap: int = MAX_RECORDED
) -> int:
    """Stops every workload of the namespace, recording first what restores it.

    A workload already recorded keeps its first record: scaling it up by hand during the
    suspension changes what is stopped again, not what activation restores. Returns how many
    workloads were stopped without being recorded (beyond `cap`), all told.
    """
    entries = {(e.get("kind"), e.get("name")): e for e in record}
    found: dict[str, list[dict[str, Any]]] = {kind: await _list(client, kind, namespace) for kind in STOPPED_KINDS}
    found["Job"] = await _list(client, "Job", namespace)
    existing = {kind: {o["metadata"]["name"] for o in objs} for kind, objs in found.items()}
    stop: list[tuple[str, str]] = []
    fresh = 0
    for kind in STOPPED_KINDS:
        for obj in found[kind]:
            if kind == "ReplicaSet" and _owned_by(obj, existing, ("Deployment",)):
                continue  # its Deployment is stopped instead
            if not _running(kind, obj):
                continue
            key = (kind, obj["metadata"]["name"])
            if key not in entries:
                if len(entries) >= cap:
                    fresh += 1  # stopped all the same
                else:
                    entries[key] = _entry(kind, obj)
            stop.append(key)
    recorded = list(entries.values())
    total = unrecorded + fresh
    if recorded != record or total != unrecorded:
        await save(recorded, total)  # intent first: what is stopped can always be restored
    for kind, name in stop:
        await client.patch(kind, name, _stop(kind), namespace)
    for job in found["Job"]:
        if not job_finished(job) and not job["metadata"].get("deletionTimestamp"):
            await client.delete("Job", job["metadata"]["name"], namespace)
    for pod in await _list(client, "Pod", namespace):
        meta = pod["metadata"]
        if meta.get("deletionTimestamp") or _owned_by(pod, existing, POD_OWNERS):
            continue  # (its owner stops it: scaled to 0, moved off every node, or deleted above)
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue  # finished: nothing runs
        await client.delete("Pod", meta["name"], namespace)
    return total


async def restore_workloads(client: KubeClient, namespace: str, record: Record, save: Save) -> None:
    """Gives every recorded workload back exactly what was recorded, then forgets the record."""
    for entry in record:
        restore = _restore(entry)
        if restore is None:
            continue
        patch, patch_type = restore
        try:
            await client.patch(str(entry["kind"]), str(entry["name"]), patch, namespace, patch_type=patch_type)
        except KubeError as exc:
            if exc.status != 404:  # deleted meanwhile: nothing to restore
                raise
    await save(None, 0)
