"""deletionPolicy Retain keeps the data, and nothing of the tenant keeps working: no RoleBinding
(the owners' own neither), no running workload, no Ingress serving its host; an adopting tenant
inherits none of the earlier owner's access."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import eventually
from tests.integration.conftest import Env
from tests.integration.test_suspension import workload
from tests.integration.test_tenancy import plan, tenant

NS = "t-hold"


def binding(name: str, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": NS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "landlord-tenant-viewer"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


def ingress(name: str, host: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }


async def messages(env: Env, name: str, namespace: str = "default") -> list[str]:
    found = await env.client.list("Event", namespace)
    return [e["message"] for e in found if e["involvedObject"].get("name") == name]


async def test_retain_removes_every_access_stops_the_workloads_and_frees_the_host(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("hold"))
    first = await env.wait_phase("hold", "Active")
    # What the owner made itself: a RoleBinding for a friend, workloads, an Ingress for its host; and data.
    await env.apply(binding("friend", "friend@example.com"))
    await env.apply(workload("Deployment", "web", replicas=3))
    agent = workload("DaemonSet", "agent")
    agent["spec"]["template"] = {**agent["spec"]["template"], "spec": {**agent["spec"]["template"]["spec"],
        "nodeSelector": {"disk": "ssd"}}}  # fmt: skip
    await env.apply(agent)
    await env.apply(workload("CronJob", "nightly"))
    await env.apply(ingress("site", "hold.apps.example.com"))
    await env.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "data", "namespace": NS},
                     "data": {"rows": "42"}})  # fmt: skip
    await env.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot", "namespace": NS}})
    await env.client.delete("Tenant", "hold")

    async def tenant_gone() -> bool:
        return await env.get("Tenant", "hold") is None

    await eventually(tenant_gone, timeout=30)
    assert await env.client.list("RoleBinding", NS) == []  # Landlord's and the owner's own
    assert await env.client.list("Ingress", NS) == []
    assert (await env.get("Deployment", "web", NS))["spec"]["replicas"] == 0
    stopped = (await env.get("DaemonSet", "agent", NS))["spec"]["template"]["spec"]["nodeSelector"]
    assert stopped == {"disk": "ssd", "landlord.dev/suspended": "true"}
    assert (await env.get("CronJob", "nightly", NS))["spec"]["suspend"] is True
    assert (await env.get("ConfigMap", "data", NS))["data"] == {"rows": "42"}  # the data stays
    ns = await env.get("Namespace", NS)
    assert ns["metadata"]["labels"]["landlord.dev/orphaned"] == "true"
    record = {
        (e["kind"], e["name"]): e for e in json.loads(ns["metadata"]["annotations"]["landlord.dev/retained-workloads"])
    }
    assert record[("Deployment", "web")]["replicas"] == 3
    assert record[("DaemonSet", "agent")]["nodeSelector"] == {"disk": "ssd"}
    assert record[("CronJob", "nightly")]["suspend"] is False
    said = " ".join(await messages(env, "hold"))
    assert "friend" in said and "landlord-owners" in said and "site" in said
    assert "landlord.dev/retained-workloads" in said

    # Another tenant can be given the freed host (a new tenant of another name, same subdomain).
    await env.apply(tenant("other", domains={"subdomain": "hold"}))
    await env.wait_phase("other", "Active")

    # A new Tenant of the same name adopts the orphan: none of the earlier owner's access comes with it.
    await env.apply(binding("planted", "earlier@example.com"))  # (made while it was an orphan, by an admin)
    await env.apply(tenant("hold", domains={"subdomain": "hold2"}))
    failed = await env.wait_phase("hold", "Failed")
    await env.client.patch(
        "Namespace", NS, {"metadata": {"annotations": {"landlord.dev/adopt": failed["metadata"]["uid"]}}}
    )
    env.controller.queue.add(("Tenant", "hold"))
    adopted = await env.wait_phase("hold", "Active")
    assert adopted["metadata"]["uid"] != first["metadata"]["uid"]

    async def only_landlords() -> bool:
        names = {b["metadata"]["name"] for b in await env.client.list("RoleBinding", NS)}
        return names == {"landlord-owners"}

    await eventually(only_landlords, timeout=10)
    assert await env.get("ServiceAccount", "bot", NS) is None  # tokens the earlier owner kept name nothing
    assert (await env.get("ConfigMap", "data", NS))["data"] == {"rows": "42"}
