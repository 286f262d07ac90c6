"""The `scale` subresource of Deployments, StatefulSets and ReplicaSets.

https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/ lists
`GET`/`PUT`/`PATCH .../deployments/{name}/scale` reading and replacing an autoscaling/v1
`Scale` (https://kubernetes.io/docs/reference/kubernetes-api/autoscaling/scale-v1/: spec.replicas;
status.replicas; status.selector, "the label query over pods ... in the string form"). Discovery
lists the subresource as `deployments/scale` with group autoscaling, version v1, kind Scale,
which is how `kubectl scale` (https://kubernetes.io/docs/reference/kubectl/generated/kubectl_scale/)
finds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conformance.test_kubectl import Kubectl
from tests.helpers import Http

APPS = "/apis/apps/v1/namespaces/default"


def workload(kind: str, name: str, replicas: int | None = 2) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {
            "matchLabels": {"app": name},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}],
        },
        "template": {
            "metadata": {"labels": {"app": name, "tier": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


async def test_discovery_lists_the_scale_subresources(http: Http) -> None:
    """apps/v1 lists deployments/scale, statefulsets/scale, replicasets/scale as autoscaling/v1 Scale."""
    _, body = await http.get("/apis/apps/v1")
    entries = {r["name"]: r for r in body["resources"]}
    for plural in ("deployments", "statefulsets", "replicasets"):
        entry = entries[f"{plural}/scale"]
        assert (entry["group"], entry["version"], entry["kind"]) == ("autoscaling", "v1", "Scale")
        assert sorted(entry["verbs"]) == ["get", "patch", "update"]
        assert entry["namespaced"] is True
    assert "daemonsets/scale" not in entries


async def test_get_scale(http: Http) -> None:
    """GET .../scale: spec.replicas from the workload, status.replicas and the selector string."""
    _, deployment = await http.post(f"{APPS}/deployments", workload("Deployment", "web"))
    await http.patch(f"{APPS}/deployments/web/status", {"status": {"replicas": 1}})
    status, scale = await http.get(f"{APPS}/deployments/web/scale")
    assert status == 200
    assert scale["apiVersion"] == "autoscaling/v1" and scale["kind"] == "Scale"
    assert scale["metadata"]["name"] == "web" and scale["metadata"]["namespace"] == "default"
    assert scale["metadata"]["uid"] == deployment["metadata"]["uid"]
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 1, "selector": "app=web,tier in (api,web)"}
    status, _ = await http.get(f"{APPS}/deployments/missing/scale")
    assert status == 404


async def test_put_scale_changes_only_replicas(http: Http) -> None:
    """PUT of a Scale sets spec.replicas (a spec change: generation bumps), nothing else."""
    await http.post(f"{APPS}/deployments", workload("Deployment", "web"))
    _, scale = await http.get(f"{APPS}/deployments/web/scale")
    scale["spec"]["replicas"] = 5
    status, updated = await http.put(f"{APPS}/deployments/web/scale", scale)
    assert status == 200 and updated["kind"] == "Scale" and updated["spec"]["replicas"] == 5
    assert int(updated["metadata"]["resourceVersion"]) > int(scale["metadata"]["resourceVersion"])
    _, deployment = await http.get(f"{APPS}/deployments/web")
    assert deployment["spec"]["replicas"] == 5 and deployment["metadata"]["generation"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    entry = next(e for e in deployment["metadata"]["managedFields"] if e.get("subresource") == "scale")
    assert entry["operation"] == "Update" and entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


async def test_put_scale_with_a_stale_resource_version_is_a_conflict(http: Http) -> None:
    """Like any update, a Scale carrying an old metadata.resourceVersion gets 409 Conflict."""
    await http.post(f"{APPS}/deployments", workload("Deployment", "web"))
    _, scale = await http.get(f"{APPS}/deployments/web/scale")
    await http.patch(f"{APPS}/deployments/web", {"metadata": {"labels": {"x": "y"}}})
    scale["spec"]["replicas"] = 3
    status, body = await http.put(f"{APPS}/deployments/web/scale", scale)
    assert status == 409 and body["reason"] == "Conflict"
    _, deployment = await http.get(f"{APPS}/deployments/web")
    assert deployment["spec"]["replicas"] == 2


async def test_negative_replicas_are_invalid(http: Http) -> None:
    """spec.replicas must be >= 0: 422 Invalid naming the Scale and the field."""
    await http.post(f"{APPS}/deployments", workload("Deployment", "web"))
    status, body = await http.patch(f"{APPS}/deployments/web/scale", {"spec": {"replicas": -1}})
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"] == (
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'
    )
    assert body["details"]["causes"][0]["field"] == "spec.replicas"


@pytest.mark.parametrize("kind", ["StatefulSet", "ReplicaSet"])
async def test_patch_scale_of_statefulsets_and_replicasets(http: Http, kind: str) -> None:
    """Merge and JSON patches of the Scale reach the workload's spec.replicas."""
    plural = f"{kind.lower()}s"
    await http.post(f"{APPS}/{plural}", workload(kind, "db"))
    status, scale = await http.patch(f"{APPS}/{plural}/db/scale", {"spec": {"replicas": 4}})
    assert status == 200 and scale["spec"]["replicas"] == 4
    status, scale = await http.patch(
        f"{APPS}/{plural}/db/scale", [{"op": "replace", "path": "/spec/replicas", "value": 0}], kind="json"
    )
    assert status == 200 and scale["spec"] == {}  # replicas is omitempty in autoscaling/v1
    _, obj = await http.get(f"{APPS}/{plural}/db")
    assert obj["spec"]["replicas"] == 0


async def test_server_side_apply_of_the_scale(http: Http) -> None:
    """Server-side apply on /scale: the manager owns spec.replicas under subresource scale."""
    await http.post(f"{APPS}/deployments", workload("Deployment", "web"))
    config = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 7}}
    status, scale = await http.patch(
        f"{APPS}/deployments/web/scale", config, kind="apply", fieldManager="autoscaler", force=True
    )
    assert status == 200 and scale["spec"]["replicas"] == 7
    _, deployment = await http.get(f"{APPS}/deployments/web")
    entry = next(e for e in deployment["metadata"]["managedFields"] if e["manager"] == "autoscaler")
    assert entry["operation"] == "Apply" and entry["subresource"] == "scale"
    assert entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


async def test_no_scale_on_other_kinds(http: Http) -> None:
    """Only the workload kinds serve the subresource: elsewhere it is 404."""
    await http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c"}})
    status, _ = await http.get("/api/v1/namespaces/default/configmaps/c/scale")
    assert status == 404


@pytest.mark.kubectl
async def test_kubectl_scale(http: Http, kubeconfig: Path, tmp_path: Path) -> None:
    """`kubectl scale` (a Scale patch), with --current-replicas (GET and PUT of the Scale)."""
    kubectl = Kubectl(kubeconfig, tmp_path)
    await http.post(f"{APPS}/deployments", workload("Deployment", "web", replicas=None))
    await http.post(f"{APPS}/statefulsets", workload("StatefulSet", "db"))
    _, out, _ = await kubectl("scale", "deployment", "web", "--replicas=3")
    assert out.strip() == "deployment.apps/web scaled"
    _, out, _ = await kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}")
    assert out == "3"
    await kubectl("scale", "--current-replicas=3", "--replicas=5", "deployment/web")
    code, _, err = await kubectl("scale", "--current-replicas=1", "--replicas=2", "deployment/web", ok=False)
    assert code != 0 and "Expected replicas to be 1, was 5" in err
    await kubectl("scale", "statefulset", "db", "--replicas=0")
    _, out, _ = await kubectl("get", "sts", "db", "-o", "jsonpath={.spec.replicas}")
    assert out == "0"
