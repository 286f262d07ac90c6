"""ResourceQuota and LimitRange: defaults, constraints and quotas enforced on writes, quota status.

https://kubernetes.io/docs/concepts/policy/resource-quotas/ and
https://kubernetes.io/docs/concepts/policy/limit-range/ (the sections are named in each test),
the admission controllers reference (LimitRanger, ResourceQuota:
https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/), and the tasks
under https://kubernetes.io/docs/tasks/administer-cluster/manage-resources/ whose examples and
error messages are reproduced here: memory-default-namespace, cpu-constraint-namespace,
memory-constraint-namespace, quota-memory-cpu-namespace, quota-pod-namespace, and
https://kubernetes.io/docs/tasks/administer-cluster/limit-storage-consumption/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conformance.test_kubectl import Kubectl, manifest
from tests.conformance.test_objects import install_widgets, widget
from tests.helpers import Http

NS = "quota-example"
API = f"/api/v1/namespaces/{NS}"
PODS = f"{API}/pods"
QUOTAS = f"{API}/resourcequotas"
LIMIT_RANGES = f"{API}/limitranges"


@pytest.fixture
async def ns(http: Http) -> str:
    status, body = await http.post("/api/v1/namespaces", {"metadata": {"name": NS}})
    assert status == 201, body
    return NS


def pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": list(containers) or [container("app")], **spec}}


def container(
    name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources}


def quota(name: str, hard: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"hard": hard, **spec}}


def limit_range(name: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"limits": list(items)}}


async def created(http: Http, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, obj = await http.post(path, body)
    assert status == 201, obj
    assert isinstance(obj, dict)
    return obj


async def forbidden(http: Http, path: str, body: dict[str, Any]) -> str:
    """The message of a 403 Forbidden create."""
    status, obj = await http.post(path, body)
    assert status == 403, obj
    assert obj["reason"] == "Forbidden"
    return str(obj["message"])


async def status_of(http: Http, name: str) -> dict[str, Any]:
    status, obj = await http.get(f"{QUOTAS}/{name}")
    assert status == 200, obj
    return dict(obj.get("status") or {})


def resources(obj: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return dict(obj["spec"]["containers"][index]["resources"])


# -- LimitRange ----------------------------------------------------------------------------------
async def test_default_requests_and_limits_are_injected(http: Http, ns: str) -> None:
    """memory-default-namespace: a container without resources gets the default request and limit;
    one with only a limit requests its limit; one with only a request gets the default limit.
    limit-range "Constraints on resource limits and requests": the defaults are applied at admission."""
    await created(
        http,
        LIMIT_RANGES,
        limit_range(
            "mem-limit-range",
            {"type": "Container", "default": {"memory": "512Mi"}, "defaultRequest": {"memory": "256Mi"}},
        ),
    )
    plain = await created(http, PODS, pod("default-mem-demo"))
    assert resources(plain) == {"limits": {"memory": "512Mi"}, "requests": {"memory": "256Mi"}}
    assert plain["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: memory request for container app; memory limit for container app"
    )
    only_limit = await created(http, PODS, pod("default-mem-demo-2", container("app", limits={"memory": "1Gi"})))
    assert resources(only_limit) == {"limits": {"memory": "1Gi"}, "requests": {"memory": "1Gi"}}
    assert "annotations" not in only_limit["metadata"]
    only_request = await created(http, PODS, pod("default-mem-demo-3", container("app", requests={"memory": "128Mi"})))
    assert resources(only_request) == {"limits": {"memory": "512Mi"}, "requests": {"memory": "128Mi"}}
    assert only_request["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: memory limit for container app"
    )


async def test_a_limit_without_a_request_is_the_request_everywhere(http: Http, ns: str) -> None:
    """memory-default-namespace, "What if you specify a container's limit, but not its request?":
    the request is set to the limit, LimitRange or not (the API's Pod defaulting)."""
    obj = await created(http, PODS, pod("limit-only", container("app", limits={"cpu": "1", "memory": "1Gi"})))
    assert resources(obj) == {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}


async def test_min_and_max_fill_in_the_defaults_of_the_limit_range(http: Http, ns: str) -> None:
    """cpu-constraint-namespace: "even though you didn't specify default values in the configuration
    file for the LimitRange, they were created automatically" (default from max, defaultRequest from it)."""
    await created(
        http,
        LIMIT_RANGES,
        limit_range("cpu-min-max-demo-lr", {"type": "Container", "max": {"cpu": "800m"}, "min": {"cpu": "200m"}}),
    )
    _, stored = await http.get(f"{LIMIT_RANGES}/cpu-min-max-demo-lr")
    assert stored["spec"]["limits"] == [
        {
            "default": {"cpu": "800m"},
            "defaultRequest": {"cpu": "800m"},
            "max": {"cpu": "800m"},
            "min": {"cpu": "200m"},
            "type": "Container",
        }
    ]
    obj = await created(http, PODS, pod("constraints-cpu-demo-4"))
    assert resources(obj) == {"limits": {"cpu": "800m"}, "requests": {"cpu": "800m"}}


async def test_min_and_max_per_container_are_refused_with_the_servers_messages(http: Http, ns: str) -> None:
    """cpu-constraint-namespace and memory-constraint-namespace: the documented refusals, word for word
    (quantities printed canonically: 1.5Gi is 1536Mi); one that fits is created."""
    await created(
        http,
        LIMIT_RANGES,
        limit_range(
            "limits",
            {"type": "Container", "max": {"cpu": "800m", "memory": "1Gi"}, "min": {"cpu": "200m", "memory": "500Mi"}},
        ),
    )
    too_big = container("c", requests={"cpu": "500m", "memory": "800Mi"}, limits={"cpu": "1.5", "memory": "800Mi"})
    message = await forbidden(http, PODS, pod("constraints-cpu-demo-2", too_big))
    assert (
        message
        == 'pods "constraints-cpu-demo-2" is forbidden: maximum cpu usage per Container is 800m, but limit is 1500m'
    )
    too_small = container("c", requests={"cpu": "100m", "memory": "600Mi"}, limits={"cpu": "800m", "memory": "800Mi"})
    message = await forbidden(http, PODS, pod("constraints-cpu-demo-3", too_small))
    assert (
        message
        == 'pods "constraints-cpu-demo-3" is forbidden: minimum cpu usage per Container is 200m, but request is 100m'
    )
    memory = container("c", requests={"cpu": "500m", "memory": "800Mi"}, limits={"cpu": "800m", "memory": "1.5Gi"})
    message = await forbidden(http, PODS, pod("constraints-mem-demo-2", memory))
    assert (
        message
        == 'pods "constraints-mem-demo-2" is forbidden: maximum memory usage per Container is 1Gi, but limit is 1536Mi'
    )
    both = container("c", requests={"cpu": "100m", "memory": "100Mi"}, limits={"cpu": "800m", "memory": "800Mi"})
    message = await forbidden(http, PODS, pod("both", both))
    assert message == (
        'pods "both" is forbidden: [minimum cpu usage per Container is 200m, but request is 100m, '
        "minimum memory usage per Container is 500Mi, but request is 100Mi]"
    )
    fits = container("c", requests={"cpu": "500m", "memory": "600Mi"}, limits={"cpu": "800m", "memory": "800Mi"})
    await created(http, PODS, pod("constraints-cpu-demo", fits))


async def test_limit_to_request_ratio_and_pod_totals(http: Http, ns: str) -> None:
    """limit-range "Constraints on resource limits and requests": maxLimitRequestRatio per container;
    a Pod item constrains the sum of the Pod's containers."""
    await created(
        http,
        LIMIT_RANGES,
        limit_range(
            "ratios",
            {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}},
            {"type": "Pod", "max": {"memory": "1Gi"}},
        ),
    )
    ratio = container("c", requests={"cpu": "250m", "memory": "100Mi"}, limits={"cpu": "1", "memory": "100Mi"})
    message = await forbidden(http, PODS, pod("ratio", ratio))
    assert message == (
        'pods "ratio" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000'
    )
    half = {"requests": {"cpu": "500m", "memory": "600Mi"}, "limits": {"cpu": "1", "memory": "600Mi"}}
    message = await forbidden(http, PODS, pod("pair", container("a", **half), container("b", **half)))
    assert message == 'pods "pair" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1200Mi'
    await created(http, PODS, pod("single", container("a", **half)))


async def test_a_request_above_the_default_limit_is_invalid(http: Http, ns: str) -> None:
    """limit-range "LimitRange and admission checks for Pods": with a default cpu limit of 500m, a
    container requesting 700m and no limit gets the 500m limit, and the Pod is invalid (422)."""
    await created(
        http,
        LIMIT_RANGES,
        limit_range(
            "cpu-resource-constraint",
            {"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "500m"}},
        ),
    )
    status, body = await http.post(
        PODS, pod("example-conflict-with-limitrange-cpu", container("demo", requests={"cpu": "700m"}))
    )
    assert status == 422, body
    assert body["message"] == (
        'Pod "example-conflict-with-limitrange-cpu" is invalid: spec.containers[0].resources.requests: '
        'Invalid value: "700m": must be less than or equal to cpu limit of 500m'
    )


async def test_storage_requests_of_claims_are_bounded(http: Http, ns: str) -> None:
    """limit-storage-consumption, "LimitRange to limit requests for storage": min and max storage per
    claim, on create and on an update that changes the request."""
    await created(
        http,
        LIMIT_RANGES,
        limit_range(
            "storagelimits", {"type": "PersistentVolumeClaim", "max": {"storage": "2Gi"}, "min": {"storage": "1Gi"}}
        ),
    )
    claims = f"{API}/persistentvolumeclaims"
    message = await forbidden(http, claims, claim("big", "5Gi"))
    assert message == (
        'persistentvolumeclaims "big" is forbidden: '
        "maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi"
    )
    message = await forbidden(http, claims, claim("small", "500Mi"))
    assert message == (
        'persistentvolumeclaims "small" is forbidden: '
        "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"
    )
    await created(http, claims, claim("fits", "1Gi"))
    status, body = await http.patch(f"{claims}/fits", {"spec": {"resources": {"requests": {"storage": "3Gi"}}}})
    assert status == 403 and body["message"].endswith("is 2Gi, but request is 3Gi"), body


# -- ResourceQuota -------------------------------------------------------------------------------
async def test_compute_quota_must_specify_and_exceeded(http: Http, ns: str) -> None:
    """quota-memory-cpu-namespace, word for word, and resource-quotas "Requests compared to Limits":
    every container must set what the quota tracks (`failed quota: ...: must specify ...`)."""
    hard = {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "2Gi"}
    await created(http, QUOTAS, quota("mem-cpu-demo", hard))
    message = await forbidden(http, PODS, pod("bare", container("app"), container("sidecar", requests={"cpu": "100m"})))
    assert message == (
        'pods "bare" is forbidden: failed quota: mem-cpu-demo: must specify limits.cpu for: app,sidecar; '
        "limits.memory for: app,sidecar; requests.cpu for: app; requests.memory for: app,sidecar"
    )
    first = container(
        "quota-mem-cpu-demo-ctr", requests={"cpu": "400m", "memory": "600Mi"}, limits={"cpu": "800m", "memory": "800Mi"}
    )
    await created(http, PODS, pod("quota-mem-cpu-demo", first))
    assert await status_of(http, "mem-cpu-demo") == {
        "hard": {"limits.cpu": "2", "limits.memory": "2Gi", "requests.cpu": "1", "requests.memory": "1Gi"},
        "used": {"limits.cpu": "800m", "limits.memory": "800Mi", "requests.cpu": "400m", "requests.memory": "600Mi"},
    }
    second = container(
        "quota-mem-cpu-demo-2-ctr", requests={"cpu": "400m", "memory": "700Mi"}, limits={"cpu": "800m", "memory": "1Gi"}
    )
    message = await forbidden(http, PODS, pod("quota-mem-cpu-demo-2", second))
    assert message == (
        'pods "quota-mem-cpu-demo-2" is forbidden: exceeded quota: mem-cpu-demo, '
        "requested: requests.memory=700Mi, used: requests.memory=600Mi, limited: requests.memory=1Gi"
    )


async def test_limit_range_defaults_satisfy_the_quota(http: Http, ns: str) -> None:
    """resource-quotas "How Kubernetes ResourceQuotas work": LimitRanger (a mutating plugin, before
    the quota) gives requests to the Pods that set none, so the quota admits them."""
    await created(http, QUOTAS, quota("compute", {"requests.cpu": "1", "requests.memory": "1Gi"}))
    await created(
        http,
        LIMIT_RANGES,
        limit_range("defaults", {"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}),
    )
    await created(http, PODS, pod("defaulted"))
    assert (await status_of(http, "compute"))["used"] == {"requests.cpu": "100m", "requests.memory": "128Mi"}


async def test_pod_count_quota_and_terminal_pods(http: Http, ns: str) -> None:
    """quota-pod-namespace and resource-quotas "Object count quota": `pods` counts the Pods not in a
    terminal phase (a Succeeded Pod frees its place), `count/pods` counts every stored Pod."""
    await created(http, QUOTAS, quota("pod-demo", {"pods": "2", "count/pods": "3"}))
    await created(http, PODS, pod("one"))
    await created(http, PODS, pod("two"))
    message = await forbidden(http, PODS, pod("three"))
    assert (
        message
        == 'pods "three" is forbidden: exceeded quota: pod-demo, requested: pods=1, used: pods=2, limited: pods=2'
    )
    status, body = await http.patch(f"{PODS}/one/status", {"status": {"phase": "Succeeded"}})
    assert status == 200, body
    assert (await status_of(http, "pod-demo"))["used"] == {"count/pods": "2", "pods": "1"}
    await created(http, PODS, pod("three"))
    message = await forbidden(http, PODS, pod("four"))
    assert message == (
        'pods "four" is forbidden: exceeded quota: pod-demo, requested: count/pods=1,pods=1, '
        "used: count/pods=3,pods=2, limited: count/pods=3,pods=2"
    )
    status, _ = await http.delete(f"{PODS}/one")
    assert status == 200
    assert (await status_of(http, "pod-demo"))["used"] == {"count/pods": "2", "pods": "2"}


async def test_object_counts_allowed_then_refused(http: Http, ns: str) -> None:
    """resource-quotas "Object count quota": the legacy names and `count/<resource>.<group>`, custom
    resources included; each kind is allowed up to its count, then refused."""
    await install_widgets(http)
    hard = {
        "configmaps": "1",
        "secrets": "1",
        "services": "1",
        "count/deployments.apps": "1",
        "count/widgets.example.dev": "1",
        "replicationcontrollers": "5",
    }
    await created(http, QUOTAS, quota("object-counts", hard))
    deployment = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    cases = [
        (f"{API}/configmaps", "configmaps", {"metadata": {"name": "{}"}}, "configmaps"),
        (f"{API}/secrets", "secrets", {"metadata": {"name": "{}"}}, "secrets"),
        (f"{API}/services", "services", {"metadata": {"name": "{}"}, "spec": {"ports": [{"port": 80}]}}, "services"),
        (f"/apis/apps/v1/namespaces/{NS}/deployments", "deployments.apps", deployment, "count/deployments.apps"),
        (
            f"/apis/example.dev/v1/namespaces/{NS}/widgets",
            "widgets.example.dev",
            widget("{}"),
            "count/widgets.example.dev",
        ),
    ]
    for path, resource, body, key in cases:
        first = {**body, "metadata": {**body["metadata"], "name": "first"}}
        second = {**body, "metadata": {**body["metadata"], "name": "second"}}
        await created(http, path, first)
        message = await forbidden(http, path, second)
        assert message == (
            f'{resource} "second" is forbidden: exceeded quota: object-counts, '
            f"requested: {key}=1, used: {key}=1, limited: {key}=1"
        )
    used = (await status_of(http, "object-counts"))["used"]
    assert used == {key: "1" for key in hard if key != "replicationcontrollers"} | {"replicationcontrollers": "0"}
    # An update of a counted object is not a new object.
    status, body = await http.patch(f"{API}/configmaps/first", {"data": {"k": "v"}})
    assert status == 200, body


async def test_quota_objects_count_themselves(http: Http, ns: str) -> None:
    """resource-quotas "Object count quota", `resourcequotas`: a quota counts the quotas of its
    namespace, itself included, and refuses one more."""
    await created(http, QUOTAS, quota("first", {"resourcequotas": "1"}))
    assert (await status_of(http, "first"))["used"] == {"resourcequotas": "1"}
    message = await forbidden(http, QUOTAS, quota("second", {"pods": "1"}))
    assert message == (
        'resourcequotas "second" is forbidden: exceeded quota: first, requested: resourcequotas=1, '
        "used: resourcequotas=1, limited: resourcequotas=1"
    )


async def test_node_ports_and_load_balancers_held_at_zero(http: Http, ns: str) -> None:
    """resource-quotas "Object count quota": `services.nodeports` and `services.loadbalancers` at 0
    refuse NodePort and LoadBalancer Services (each port takes a node port), on create and on an
    update that changes the type; ClusterIP Services are allowed."""
    await created(http, QUOTAS, quota("services", {"services.nodeports": "0", "services.loadbalancers": "0"}))
    services = f"{API}/services"
    node_port = {"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}}
    message = await forbidden(http, services, node_port)
    assert message == (
        'services "np" is forbidden: exceeded quota: services, requested: services.nodeports=2, '
        "used: services.nodeports=0, limited: services.nodeports=0"
    )
    balancer = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    message = await forbidden(http, services, balancer)
    assert message == (
        'services "lb" is forbidden: exceeded quota: services, '
        "requested: services.loadbalancers=1,services.nodeports=1, "
        "used: services.loadbalancers=0,services.nodeports=0, "
        "limited: services.loadbalancers=0,services.nodeports=0"
    )
    await created(http, services, {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})
    status, body = await http.patch(f"{services}/web", {"spec": {"type": "NodePort"}})
    assert status == 403 and "exceeded quota: services, requested: services.nodeports=1" in body["message"], body
    assert (await status_of(http, "services"))["used"] == {"services.loadbalancers": "0", "services.nodeports": "0"}


async def test_storage_quota(http: Http, ns: str) -> None:
    """resource-quotas "Storage resource quota": `requests.storage`, `persistentvolumeclaims` and the
    same per storage class."""
    gold = "gold.storageclass.storage.k8s.io/requests.storage"
    await created(
        http, QUOTAS, quota("storage", {"requests.storage": "10Gi", "persistentvolumeclaims": "3", gold: "2Gi"})
    )
    claims = f"{API}/persistentvolumeclaims"
    await created(http, claims, claim("data", "8Gi"))
    message = await forbidden(http, claims, claim("more", "4Gi"))
    assert message == (
        'persistentvolumeclaims "more" is forbidden: exceeded quota: storage, requested: requests.storage=4Gi, '
        "used: requests.storage=8Gi, limited: requests.storage=10Gi"
    )
    message = await forbidden(http, claims, claim("golden", "3Gi", "gold"))
    assert message == (
        f'persistentvolumeclaims "golden" is forbidden: exceeded quota: storage, requested: {gold}=3Gi,'
        f"requests.storage=3Gi, used: {gold}=0,requests.storage=8Gi, limited: {gold}=2Gi,requests.storage=10Gi"
    )
    await created(http, claims, claim("silver", "1Gi", "silver"))
    assert (await status_of(http, "storage"))["used"] == {
        gold: "0",
        "persistentvolumeclaims": "2",
        "requests.storage": "9Gi",
    }


async def test_status_used_follows_creates_and_deletes(http: Http, ns: str) -> None:
    """resource-quotas "Viewing and setting quotas": `status.used` is the namespace's usage, at 0 for
    what is not used, kept as objects come and go; `status.hard` follows `spec.hard`."""
    await created(http, QUOTAS, quota("usage", {"requests.cpu": "10", "pods": "10", "configmaps": "10", "cpu": "1000"}))
    assert await status_of(http, "usage") == {
        "hard": {"configmaps": "10", "cpu": "1k", "pods": "10", "requests.cpu": "10"},
        "used": {"configmaps": "0", "cpu": "0", "pods": "0", "requests.cpu": "0"},
    }
    for name, cpu in (("a", "250m"), ("b", "0.5"), ("c", "1")):
        await created(http, PODS, pod(name, container("app", requests={"cpu": cpu})))
    await created(http, f"{API}/configmaps", {"metadata": {"name": "settings"}})
    used = (await status_of(http, "usage"))["used"]
    assert used == {"configmaps": "1", "cpu": "1750m", "pods": "3", "requests.cpu": "1750m"}
    assert (await http.delete(f"{PODS}/b"))[0] == 200
    assert (await http.delete(f"{API}/configmaps/settings"))[0] == 200
    used = (await status_of(http, "usage"))["used"]
    assert used == {"configmaps": "0", "cpu": "1250m", "pods": "2", "requests.cpu": "1250m"}
    status, body = await http.patch(f"{QUOTAS}/usage", {"spec": {"hard": {"pods": "1", "configmaps": None}}})
    assert status == 200, body
    assert await status_of(http, "usage") == {
        "hard": {"cpu": "1k", "pods": "1", "requests.cpu": "10"},
        "used": {"cpu": "1250m", "pods": "2", "requests.cpu": "1250m"},
    }
    # A dry run is checked, and changes nothing.
    status, body = await http.post(PODS, pod("d", container("app", requests={"cpu": "1"})), dryRun="All")
    assert (
        status == 403 and "exceeded quota: usage, requested: pods=1, used: pods=2, limited: pods=1" in body["message"]
    )
    _, listed = await http.get(QUOTAS)
    assert listed["items"][0]["status"]["used"]["pods"] == "2"


async def test_status_is_the_controllers_and_cannot_be_overwritten(http: Http, ns: str) -> None:
    """The quota controller owns `status` (managedFields: kube-controller-manager on `status`) and
    recalculates it when someone else writes it."""
    await created(http, QUOTAS, quota("owned", {"pods": "5"}))
    _, current = await http.get(f"{QUOTAS}/owned")
    status, body = await http.put(
        f"{QUOTAS}/owned/status", {**current, "status": {"hard": {"pods": "5"}, "used": {"pods": "4"}}}
    )
    assert status == 200, body
    _, stored = await http.get(f"{QUOTAS}/owned")
    assert stored["status"]["used"] == {"pods": "0"}
    managers = {(e["manager"], e.get("subresource", "")) for e in stored["metadata"]["managedFields"]}
    assert ("kube-controller-manager", "status") in managers


async def test_quota_scopes(http: Http, ns: str) -> None:
    """resource-quotas "Quota scopes" and "Resource quota per PriorityClass": a scoped quota counts
    and limits only the Pods its scopes select."""
    await created(http, QUOTAS, quota("best-effort", {"pods": "1"}, scopes=["BestEffort"]))
    high = {
        "scopeSelector": {"matchExpressions": [{"operator": "In", "scopeName": "PriorityClass", "values": ["high"]}]}
    }
    await created(http, QUOTAS, quota("pods-high", {"cpu": "1", "pods": "10"}, **high))
    await created(http, PODS, pod("be-1"))
    message = await forbidden(http, PODS, pod("be-2"))
    assert (
        message
        == 'pods "be-2" is forbidden: exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1'
    )
    await created(http, PODS, pod("burstable", container("app", requests={"cpu": "100m"})))
    message = await forbidden(http, PODS, pod("high-bare", priorityClassName="high"))
    assert message == 'pods "high-bare" is forbidden: failed quota: pods-high: must specify cpu for: app'
    await created(
        http, PODS, pod("high-priority", container("app", requests={"cpu": "500m"}), priorityClassName="high")
    )
    assert (await status_of(http, "pods-high"))["used"] == {"cpu": "500m", "pods": "1"}
    assert (await status_of(http, "best-effort"))["used"] == {"pods": "1"}


async def test_no_quota_no_change(http: Http, ns: str) -> None:
    """Without a quota or a LimitRange, a Pod is stored as written (no annotation, no status to keep)."""
    obj = await created(http, PODS, pod("free", container("app", requests={"cpu": "64"})))
    assert resources(obj) == {"requests": {"cpu": "64"}}
    assert "annotations" not in obj["metadata"]


def claim(name: str, storage: str, storage_class: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": name}, "spec": spec}


# -- kubectl ---------------------------------------------------------------------------------------
@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path)


@pytest.mark.kubectl
async def test_kubectl_prints_the_refusal_and_describes_the_quota(kubectl: Kubectl) -> None:
    """quota-pod-namespace with kubectl: the third Pod is refused as kubectl prints a 403, and
    `kubectl describe quota` shows what is used of what is allowed."""
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "quota-pod-example"}},
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "pod-demo", "namespace": "quota-pod-example"},
            "spec": {"hard": {"pods": "2"}},
        },
    ]
    await kubectl("apply", "-f", "-", stdin="---\n".join(manifest(o) for o in objects))
    for name in ("one", "two"):
        await kubectl("run", name, "-n", "quota-pod-example", "--image=nginx", "--restart=Never")
    code, _, err = await kubectl(
        "run", "three", "-n", "quota-pod-example", "--image=nginx", "--restart=Never", ok=False
    )
    assert code == 1
    assert err == (
        'Error from server (Forbidden): pods "three" is forbidden: exceeded quota: pod-demo, '
        "requested: pods=1, used: pods=2, limited: pods=2\n"
    )
    _, out, _ = await kubectl("describe", "quota", "pod-demo", "-n", "quota-pod-example")
    rows = [line.split() for line in out.splitlines()]
    assert ["Resource", "Used", "Hard"] in rows and ["pods", "2", "2"] in rows
