"""Suspension that holds, and activation that restores exactly what was recorded.

The record lives in the Tenant's status (the tenant cannot write there) and is written before
anything is stopped; activation keys on the record, not on the phase.
"""

from __future__ import annotations

from typing import Any

from tests.helpers import eventually
from tests.integration.conftest import Env
from tests.integration.test_tenancy import plan, tenant

# Restricted-compliant: tenant namespaces enforce the restricted Pod Security Standard, which
# refuses the bare Pod below otherwise (and warns of the workloads' templates).
TEMPLATE = {
    "metadata": {"labels": {"app": "x"}},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": "nginx",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
    },
}


def workload(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    group = "batch/v1" if kind in ("CronJob", "Job") else "apps/v1"
    body: dict[str, Any] = {"apiVersion": group, "kind": kind, "metadata": {"name": name, "namespace": "t-hold"}}
    if kind == "CronJob":
        body["spec"] = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {**TEMPLATE, "spec": {
            **TEMPLATE["spec"], "restartPolicy": "Never"}}}}, **spec}  # fmt: skip
    elif kind == "Job":
        body["spec"] = {"template": {**TEMPLATE, "spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}}, **spec}
    else:
        body["spec"] = {"selector": {"matchLabels": {"app": "x"}}, "template": TEMPLATE, **spec}
    return body


async def test_every_workload_kind_stops_and_comes_back_exactly(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("hold"))
    await env.wait_phase("hold", "Active")
    await env.apply(workload("Deployment", "web", replicas=3))
    await env.apply(workload("StatefulSet", "db", replicas=2, serviceName="db"))
    await env.apply(workload("ReplicaSet", "loose", replicas=4))
    await env.apply(workload("DaemonSet", "agent"))
    await env.apply(workload("CronJob", "nightly"))
    await env.apply(workload("Job", "once"))
    await env.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "bare", "namespace": "t-hold"},
            "spec": TEMPLATE["spec"],
        }
    )
    await env.apply(tenant("hold", suspend=True))
    suspended = await env.wait_phase("hold", "Suspended")
    recorded = {(w["kind"], w["name"]): w for w in suspended["status"]["suspension"]["workloads"]}
    assert recorded[("Deployment", "web")]["replicas"] == 3 and recorded[("ReplicaSet", "loose")]["replicas"] == 4
    assert (
        recorded[("DaemonSet", "agent")]["nodeSelector"] == {} and recorded[("CronJob", "nightly")]["suspend"] is False
    )
    assert (await env.get("Deployment", "web", "t-hold"))["spec"]["replicas"] == 0
    assert (await env.get("StatefulSet", "db", "t-hold"))["spec"]["replicas"] == 0
    assert (await env.get("ReplicaSet", "loose", "t-hold"))["spec"]["replicas"] == 0
    agent = await env.get("DaemonSet", "agent", "t-hold")
    assert agent["spec"]["template"]["spec"]["nodeSelector"] == {"landlord.dev/suspended": "true"}
    assert (await env.get("CronJob", "nightly", "t-hold"))["spec"]["suspend"] is True
    assert await env.get("Job", "once", "t-hold") is None and await env.get("Pod", "bare", "t-hold") is None
    # The owner scales up during the suspension: stopped again, and the record still says 3.
    await env.client.patch("Deployment", "web", {"spec": {"replicas": 5}}, "t-hold")
    await env.client.patch(
        "Deployment", "web", {"metadata": {"annotations": {"landlord.dev/suspended-replicas": "abc"}}}, "t-hold"
    )
    await env.apply(tenant("hold", suspend=True, branding={"productName": "x"}))  # a reconcile

    async def stopped_again() -> bool:
        return (await env.get("Deployment", "web", "t-hold"))["spec"]["replicas"] == 0

    await eventually(stopped_again, timeout=10)
    await env.apply(tenant("hold", suspend=False))
    await env.wait_phase("hold", "Active")

    async def restored() -> bool:
        web = await env.get("Deployment", "web", "t-hold")
        return web["spec"]["replicas"] == 3

    await eventually(restored, timeout=10)
    assert (await env.get("StatefulSet", "db", "t-hold"))["spec"]["replicas"] == 2
    assert (await env.get("ReplicaSet", "loose", "t-hold"))["spec"]["replicas"] == 4
    assert "nodeSelector" not in (await env.get("DaemonSet", "agent", "t-hold"))["spec"]["template"]["spec"]
    assert (await env.get("CronJob", "nightly", "t-hold"))["spec"]["suspend"] is False
    assert "suspension" not in (await env.get("Tenant", "hold"))["status"]


async def test_activation_keys_on_the_record_not_on_the_phase(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("hold"))
    await env.wait_phase("hold", "Active")
    await env.apply(workload("Deployment", "web", replicas=3))
    await env.apply(tenant("hold", suspend=True))
    await env.wait_phase("hold", "Suspended")
    await env.stop_operator()
    # A fault lost the phase (the status says Active), but the record is there; the tenant is active.
    await env.client.patch("Tenant", "hold", {"status": {"phase": "Active"}}, subresource="status")
    await env.apply(tenant("hold", suspend=False))
    await env.start_operator()

    async def restored() -> bool:
        return (await env.get("Deployment", "web", "t-hold"))["spec"]["replicas"] == 3

    await eventually(restored, timeout=10)


async def test_a_daemonset_with_its_own_node_selector_is_stopped_once_and_restored_exactly(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("hold"))
    await env.wait_phase("hold", "Active")
    agent = workload("DaemonSet", "agent")
    agent["spec"]["template"] = {**TEMPLATE, "spec": {**TEMPLATE["spec"], "nodeSelector": {"disk": "ssd"}}}
    await env.apply(agent)
    await env.apply(tenant("hold", suspend=True))
    await env.wait_phase("hold", "Suspended")
    await env.quiet()
    stopped = await env.get("DaemonSet", "agent", "t-hold")
    assert stopped["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "ssd", "landlord.dev/suspended": "true"}
    await env.apply(tenant("hold", suspend=True, branding={"productName": "x"}))  # a reconcile
    await env.quiet()
    again = await env.get("DaemonSet", "agent", "t-hold")
    assert again["metadata"]["resourceVersion"] == stopped["metadata"]["resourceVersion"]  # not written again
    await env.apply(tenant("hold", suspend=False))
    await env.wait_phase("hold", "Active")

    async def restored() -> bool:
        live = await env.get("DaemonSet", "agent", "t-hold")
        return bool(live["spec"]["template"]["spec"].get("nodeSelector") == {"disk": "ssd"})

    await eventually(restored, timeout=10)
