"""The write budget of a new tenant, kind by kind, and none for a reconcile with nothing to do:
a fast guard for what bench/provision.py measures at scale (issue "Provisioning at scale")."""

from __future__ import annotations

from collections import Counter
from typing import Any

from landlord.kube import KubeError
from tests.helpers import eventually
from tests.integration import conftest
from tests.integration.conftest import Env
from tests.integration.test_tenancy import plan, tenant

CHILDREN = {"namespaces": 1, "resourcequotas": 1, "limitranges": 1, "networkpolicies": 1, "rolebindings": 1,
            "configmaps": 1}  # fmt: skip
NAMES = [f"budget-{n}" for n in range(5)]


def _what(method: str, path: str, body: Any) -> str:
    """A write, named by verb and resource: `POST namespaces`, `PATCH tenants/status`, ..."""
    parts = path.split("?")[0].strip("/").split("/")
    if "namespaces" in parts and parts.index("namespaces") + 2 < len(parts):
        parts = parts[parts.index("namespaces") + 2 :]
    else:
        parts = parts[2 if parts[0] == "api" else 3 :]
    resource = parts[0]
    subresource = parts[2] if len(parts) > 2 else ""
    if resource == "tenants" and not subresource and method == "PATCH":
        subresource = "metadata"
    return f"{method} {resource}{'/' + subresource if subresource else ''}"


async def test_a_new_tenant_costs_one_write_per_child_the_finalizer_one_status_write_and_an_event(env: Env) -> None:
    env.config = conftest.test_config(driftInterval=3600)  # no drift pass: every write is counted here
    await env.apply(plan())
    await env.start_operator()
    await env.quiet()
    client = env.controller.client
    seen: Counter[str] = Counter()
    real = client.request

    async def counted(method: str, path: str, body: Any = None, *args: Any, **kwargs: Any) -> Any:
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            seen[_what(method, path, body)] += 1
        return await real(method, path, body, *args, **kwargs)

    client.request = counted
    for name in NAMES:
        await env.apply(tenant(name))
    for name in NAMES:
        await env.wait_phase(name, "Active")
    await env.quiet()
    # The responses to those writes are let go once the watch brought each object back (memory).
    assert len(env.controller.recent) == 0 and not env.controller._written
    # Once per cluster, not per tenant: the key of namespace claims, made at the first claim.
    assert seen.pop("POST secrets", 0) <= 1
    per_tenant = {what: count / len(NAMES) for what, count in seen.items() if not what.startswith("PATCH plans")}
    expected = {
        "POST namespaces": 1,  # created, never applied: it must not merge into a namespace that exists
        **{f"PATCH {kind}": n for kind, n in CHILDREN.items() if kind != "namespaces"},
        "PATCH tenants/metadata": 1,  # the finalizer
        "PATCH tenants/status": 1,  # once, after the children: the namespace's claim is on the namespace,
        # an HMAC only the operator can make (components/claim_key.py), not a status write before it
        "POST events": 1,  # the first transition
    }
    assert per_tenant == expected, per_tenant
    assert sum(per_tenant.values()) == sum(CHILDREN.values()) + 3

    # Nothing to do: every tenant reconciled again, not one write.
    seen.clear()
    reconciles = env.controller.reconciles
    for name in NAMES:
        env.controller.queue.add(("Tenant", name))
    await env.quiet()
    assert env.controller.reconciles >= reconciles + len(NAMES)
    assert not seen, seen


FORMER = {  # what Landlord rendered before one policy held every rule
    "landlord-default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    "landlord-allow-same-namespace": {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": {}}]}],
        "egress": [{"to": [{"podSelector": {}}]}],
    },
    "landlord-allow-ingress-controller": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": []}]},
    "landlord-allow-dns": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": []}]},
}


async def _upgrading(env: Env) -> str:
    """A tenant as an earlier Landlord left it: the four former policies, not the one, and a
    policy of the tenant's own; the operator stopped. Its namespace."""
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("upgraded"))
    await env.wait_phase("upgraded", "Active")
    await env.stop_operator()
    namespace = "t-upgraded"
    await env.client.delete("NetworkPolicy", "landlord-isolation", namespace)
    labels = {"landlord.dev/tenant": "upgraded", "app.kubernetes.io/managed-by": "landlord"}
    for name, spec in FORMER.items():
        meta = {"name": name, "namespace": namespace, "labels": labels}
        await env.client.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
                                 "spec": spec})  # fmt: skip
    own = {"name": "allow-metrics", "namespace": namespace}
    await env.client.create(
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": own, "spec": {"podSelector": {}}}
    )
    return namespace


async def test_an_upgrade_replaces_the_four_former_policies_by_one(env: Env) -> None:
    """The operator prunes the former policies once the one policy that means the same is in place,
    and leaves a tenant's own policy alone."""
    namespace = await _upgrading(env)
    await env.start_operator()

    async def upgraded() -> bool:
        names = {p["metadata"]["name"] for p in await env.client.list("NetworkPolicy", namespace)}
        return names == {"landlord-isolation", "allow-metrics"}

    await eventually(upgraded, timeout=15)
    await env.quiet()
    assert await upgraded()


async def test_the_former_policies_stay_while_the_one_cannot_be_written(env: Env) -> None:
    """Pruning the old default deny before its replacement is in place would open the namespace:
    while applying `landlord-isolation` fails, the former policies stay."""
    namespace = await _upgrading(env)
    operator = await env.start_operator()
    client = operator.state.client
    real = client.apply
    failing = True

    async def unavailable(obj: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if failing and obj["kind"] == "NetworkPolicy":
            raise KubeError(503, {"reason": "ServiceUnavailable", "message": "try again"}, "apply")
        return await real(obj, *args, **kwargs)

    client.apply = unavailable  # type: ignore[method-assign]
    env.controller.queue.add(("Tenant", "upgraded"))

    async def failed() -> bool:
        conditions = (await env.get("Tenant", "upgraded"))["status"].get("conditions") or []
        return any(c["type"] == "NetworkReady" and c["status"] == "False" for c in conditions)

    await eventually(failed, timeout=15)
    names = {p["metadata"]["name"] for p in await env.client.list("NetworkPolicy", namespace)}
    assert names == {*FORMER, "allow-metrics"}
    failing = False
    env.controller.queue.add(("Tenant", "upgraded"))

    async def upgraded() -> bool:
        names = {p["metadata"]["name"] for p in await env.client.list("NetworkPolicy", namespace)}
        return names == {"landlord-isolation", "allow-metrics"}

    await eventually(upgraded, timeout=30)
