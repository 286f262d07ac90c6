"""Suspension of the tenant's own workloads, and their exact restoration on activation.

What is needed to restore is recorded in the Tenant's status (`status.suspension.workloads`:
which workload, and its replicas, node selector or suspend flag) before anything is stopped:
the tenant cannot write there, and a fault between two steps cannot lose it. Activation
restores exactly what was recorded, keyed on the record, not on the phase, so no fault leaves
a workload stopped on an active tenant. Jobs still running and bare Pods are deleted (there is
nothing to restore of them: their owner, if any, recreates them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..kube import KubeClient, KubeError

# A node selector that no node carries: a DaemonSet with it runs nowhere.
SUSPENDED_NODE_SELECTOR = {"landlord.dev/suspended": "true"}
MAX_REPLICAS = 100_000
Record = list[dict[str, Any]]
Save = Callable[[Record | None], Awaitable[None]]


def _running(kind: str, obj: dict[str, Any]) -> bool:
    spec = obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return bool(spec.get("replicas", 1) != 0)
    if kind == "DaemonSet":
        selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
        return bool(selector != SUSPENDED_NODE_SELECTOR)
    return spec.get("suspend", False) is not True  # CronJob


def _entry(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """What restores this workload exactly."""
    spec = obj.get("spec") or {}
    entry: dict[str, Any] = {"kind": kind, "name": obj["metadata"]["name"]}
    if kind == "DaemonSet":
        entry["nodeSelector"] = dict(((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {})
    elif kind == "CronJob":
        entry["suspend"] = bool(spec.get("suspend", False))
    else:
        entry["replicas"] = int(spec.get("replicas", 1))
    return entry


def _stop(kind: str) -> dict[str, Any]:
    if kind == "DaemonSet":
        return {"spec": {"template": {"spec": {"nodeSelector": SUSPENDED_NODE_SELECTOR}}}}
    if kind == "CronJob":
        return {"spec": {"suspend": True}}
    return {"spec": {"replicas": 0}}


def _restore(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The patch that gives a workload back what was recorded; None for a record that makes no sense."""
    kind = entry.get("kind")
    if kind == "DaemonSet" and isinstance(entry.get("nodeSelector"), dict):
        selector = {str(k): str(v) for k, v in entry["nodeSelector"].items()}
        return {"spec": {"template": {"spec": {"nodeSelector": selector or None}}}}
    if kind == "CronJob" and isinstance(entry.get("suspend"), bool):
        return {"spec": {"suspend": entry["suspend"]}}
    replicas = entry.get("replicas")
    valid = isinstance(replicas, int) and not isinstance(replicas, bool) and 0 <= replicas <= MAX_REPLICAS
    if kind in ("Deployment", "StatefulSet", "ReplicaSet") and valid:
        return {"spec": {"replicas": replicas}}
    return None


async def _list(client: KubeClient, kind: str, namespace: str) -> list[dict[str, Any]]:
    try:
        return await client.list(kind, namespace)
    except KubeError as exc:
        if exc.status == 404:
            return []
        raise


async def suspend_workloads(client: KubeClient, namespace: str, record: Record, save: Save) -> None:
    """Stops every workload of the namespace, recording first what restores it.

    A workload already recorded keeps its first record: scaling it up by hand during the
    suspension changes what is stopped again, not what activation restores.
    """
    entries = {(e.get("kind"), e.get("name")): e for e in record}
    stop: list[tuple[str, str]] = []
    for kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "CronJob"):
        for obj in await _list(client, kind, namespace):
            if kind == "ReplicaSet" and obj["metadata"].get("ownerReferences"):
                continue  # its Deployment is stopped instead
            if not _running(kind, obj):
                continue
            key = (kind, obj["metadata"]["name"])
            entries.setdefault(key, _entry(kind, obj))
            stop.append(key)
    recorded = list(entries.values())
    if recorded != record:
        await save(recorded)  # intent first: what is stopped can always be restored
    for kind, name in stop:
        await client.patch(kind, name, _stop(kind), namespace)
    for job in await _list(client, "Job", namespace):
        status = job.get("status") or {}
        if not (status.get("succeeded") or status.get("failed")) and not job["metadata"].get("deletionTimestamp"):
            await client.delete("Job", job["metadata"]["name"], namespace)
    for pod in await _list(client, "Pod", namespace):
        meta = pod["metadata"]
        if not meta.get("ownerReferences") and not meta.get("deletionTimestamp"):
            await client.delete("Pod", meta["name"], namespace)


async def restore_workloads(client: KubeClient, namespace: str, record: Record, save: Save) -> None:
    """Gives every recorded workload back exactly what was recorded, then forgets the record."""
    for entry in record:
        patch = _restore(entry)
        if patch is None:
            continue
        try:
            await client.patch(str(entry["kind"]), str(entry["name"]), patch, namespace)
        except KubeError as exc:
            if exc.status != 404:  # deleted meanwhile: nothing to restore
                raise
    await save(None)
