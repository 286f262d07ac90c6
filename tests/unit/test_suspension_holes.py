"""Suspension against a hostile owner, without a server: what is stopped, what is recorded, and
that stopping twice writes nothing."""

from __future__ import annotations

import copy
from typing import Any

from landlord.controller.workloads import MAX_RECORDED, job_finished, restore_workloads, suspend_workloads
from landlord.kube import KubeError

NS = "t-x"


def obj(kind: str, name: str, spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": NS, **meta}, "spec": spec or {}}


def owner(kind: str, name: str) -> dict[str, Any]:
    return {"ownerReferences": [{"apiVersion": "v1", "kind": kind, "name": name, "uid": "u"}]}


class FakeClient:
    """Lists what it holds; merge patches update it; ReplicationControllers are not served."""

    def __init__(self, objects: list[dict[str, Any]], served_rc: bool = False) -> None:
        self.objects = {(o["kind"], o["metadata"]["name"]): o for o in objects}
        self.served_rc = served_rc
        self.writes: list[tuple[str, str, str, Any]] = []

    async def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        if kind == "ReplicationController" and not self.served_rc:
            raise KubeError(404, {"reason": "NotFound", "message": "the server could not find the resource"}, "list")
        return [copy.deepcopy(o) for (k, _), o in sorted(self.objects.items()) if k == kind]

    async def patch(
        self, kind: str, name: str, patch: Any, namespace: str | None = None, patch_type: str = "merge"
    ) -> dict[str, Any]:
        self.writes.append(("patch", kind, name, patch))
        target = self.objects[(kind, name)]
        if patch_type == "json":
            for op in patch:
                assert op["op"] == "add" and op["path"] == "/spec/template/spec/nodeSelector"
                target["spec"].setdefault("template", {}).setdefault("spec", {})["nodeSelector"] = op["value"]
        else:
            merge(target, patch)
        return target

    async def delete(self, kind: str, name: str, namespace: str | None = None) -> bool:
        self.writes.append(("delete", kind, name, None))
        return self.objects.pop((kind, name), None) is not None


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class Saved:
    def __init__(self) -> None:
        self.record: list[dict[str, Any]] | None = None
        self.unrecorded = 0
        self.calls = 0

    async def __call__(self, record: list[dict[str, Any]] | None, unrecorded: int) -> None:
        self.record, self.unrecorded, self.calls = record, unrecorded, self.calls + 1


def pod(name: str, **meta: Any) -> dict[str, Any]:
    return {**obj("Pod", name, {"containers": []}, **meta), "status": {"phase": "Running"}}


async def test_an_owner_reference_to_anything_but_a_stopped_workload_does_not_keep_a_workload_running() -> None:
    client = FakeClient(
        [
            obj("ConfigMap", "anchor"),
            obj("Deployment", "web", {"replicas": 2}),
            obj("ReplicaSet", "web-1", {"replicas": 2}, **owner("Deployment", "web")),  # left to its Deployment
            obj("ReplicaSet", "sneaky", {"replicas": 3}, **owner("ConfigMap", "anchor")),
            obj("ReplicaSet", "ghost", {"replicas": 1}, **owner("Deployment", "gone")),
            pod("web-1-a", **owner("ReplicaSet", "web-1")),  # left to its ReplicaSet
            pod("sneaky-pod", **owner("ConfigMap", "anchor")),
            pod("stray", **owner("ReplicaSet", "gone")),
        ]
    )
    save = Saved()
    await suspend_workloads(client, NS, [], save)  # type: ignore[arg-type]
    assert {(e["kind"], e["name"]) for e in save.record or []} == {
        ("Deployment", "web"),
        ("ReplicaSet", "sneaky"),
        ("ReplicaSet", "ghost"),
    }
    assert client.objects[("ReplicaSet", "sneaky")]["spec"]["replicas"] == 0
    assert client.objects[("ReplicaSet", "web-1")]["spec"]["replicas"] == 2  # its Deployment's business
    assert ("Pod", "sneaky-pod") not in client.objects and ("Pod", "stray") not in client.objects
    assert ("Pod", "web-1-a") in client.objects


async def test_a_job_with_failed_or_succeeded_pods_still_running_is_stopped() -> None:
    running = {**obj("Job", "retrying"), "status": {"failed": 2, "succeeded": 1, "active": 1}}
    done = {**obj("Job", "done"), "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}
    failed = {**obj("Job", "failed"), "status": {"failed": 6, "conditions": [{"type": "Failed", "status": "True"}]}}
    assert not job_finished(running) and job_finished(done) and job_finished(failed)
    client = FakeClient([running, done, failed, pod("retrying-a", **owner("Job", "retrying"))])
    await suspend_workloads(client, NS, [], Saved())  # type: ignore[arg-type]
    assert ("Job", "retrying") not in client.objects  # (its pods go with it)
    assert ("Job", "done") in client.objects and ("Job", "failed") in client.objects


async def test_replication_controllers_are_stopped_when_served_and_skipped_when_not() -> None:
    served = FakeClient([obj("ReplicationController", "legacy", {"replicas": 2})], served_rc=True)
    save = Saved()
    await suspend_workloads(served, NS, [], save)  # type: ignore[arg-type]
    assert served.objects[("ReplicationController", "legacy")]["spec"]["replicas"] == 0
    assert save.record == [{"kind": "ReplicationController", "name": "legacy", "replicas": 2}]
    await restore_workloads(served, NS, save.record or [], save)  # type: ignore[arg-type]
    assert served.objects[("ReplicationController", "legacy")]["spec"]["replicas"] == 2
    not_served = FakeClient([obj("Deployment", "web", {"replicas": 1})])
    await suspend_workloads(not_served, NS, [], Saved())  # type: ignore[arg-type]
    assert not_served.objects[("Deployment", "web")]["spec"]["replicas"] == 0


async def test_the_record_is_bounded_and_everything_is_stopped_all_the_same() -> None:
    many = [obj("Deployment", f"d{i:05d}", {"replicas": 1}) for i in range(MAX_RECORDED + 5)]
    client = FakeClient(many)
    save = Saved()
    total = await suspend_workloads(client, NS, [], save)  # type: ignore[arg-type]
    assert total == 5 and save.unrecorded == 5 and len(save.record or []) == MAX_RECORDED
    assert all(o["spec"]["replicas"] == 0 for o in client.objects.values())
    # Next pass: nothing runs, nothing new is counted, nothing is written.
    client.writes.clear()
    calls = save.calls
    again = await suspend_workloads(client, NS, save.record or [], save, save.unrecorded)  # type: ignore[arg-type]
    assert again == 5 and client.writes == [] and save.calls == calls


async def test_a_daemonset_with_its_own_node_selector_is_stopped_once_and_restored_exactly() -> None:
    agent = obj("DaemonSet", "agent", {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}})
    client = FakeClient([agent, obj("CronJob", "nightly", {"suspend": False})])
    save = Saved()
    await suspend_workloads(client, NS, [], save)  # type: ignore[arg-type]
    selector = client.objects[("DaemonSet", "agent")]["spec"]["template"]["spec"]["nodeSelector"]
    assert selector == {"disk": "ssd", "landlord.dev/suspended": "true"}
    record = save.record or []
    client.writes.clear()
    await suspend_workloads(client, NS, record, save)  # type: ignore[arg-type]
    assert client.writes == []  # already stopped: zero writes
    await restore_workloads(client, NS, record, save)  # type: ignore[arg-type]
    assert client.objects[("DaemonSet", "agent")]["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert client.objects[("CronJob", "nightly")]["spec"]["suspend"] is False
