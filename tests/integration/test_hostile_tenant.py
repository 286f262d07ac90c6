"""A hostile tenant owner, acting through the API as itself (impersonated), cannot undo its isolation.

The operator runs against the API server with the owners' ClusterRoles and the admission
policies installed (tests/integration/conftest.py installs what `kubectl apply -f crds/` does).
Each refusal comes from RBAC (403 Forbidden, "cannot ..."), from a ValidatingAdmissionPolicy
(denied request, naming the policy), from Pod Security Admission (the namespace enforces
restricted) or from ResourceQuota admission (NodePort and LoadBalancer Services are held at 0
by the quota), on the emulator as on a real cluster (LANDLORD_TEST_KUBECONFIG).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest

from landlord.kube import KubeClient, KubeError
from landlord.render.cluster import INGRESS_POLICY, MANAGED_POLICY, SERVICES_POLICY
from tests.helpers import eventually
from tests.integration.conftest import REAL, Env
from tests.integration.test_tenancy import plan, tenant

OWNER = "acme@example.com"  # tenant("acme")'s owner subject
NS = "t-acme"


def acting_as(env: Env, user: str, *groups: str) -> KubeClient:
    """A client of the same server that impersonates `user` (Impersonate-User, as `kubectl --as`)."""
    if env.devcluster is not None:
        info = kopf.ConnectionInfo(server=env.devcluster.url, ca_data=env.devcluster.ca_data)
        client = KubeClient(info, user_agent="hostile-tenant")
    else:
        assert REAL is not None
        client = KubeClient.from_kubeconfig(REAL, user_agent="hostile-tenant")
    client._headers["Impersonate-User"] = user
    # aiohttp sends a repeated header once per value only from a multidict: one group is enough here.
    if groups:
        client._headers["Impersonate-Group"] = groups[0]
    return client


@pytest.fixture
async def owner(env: Env) -> AsyncIterator[KubeClient]:
    """The tenant `acme` provisioned by the operator, and a client acting as its owner."""
    await env.apply(plan())
    await env.apply(tenant("bakery"))
    await env.apply(tenant("acme"))
    await env.start_operator()
    await env.wait_phase("acme", "Active")
    await env.wait_phase("bakery", "Active")
    client = acting_as(env, OWNER)
    try:
        yield client
    finally:
        await client.close()


async def refused(action: Any) -> KubeError:
    """The KubeError a write raised; fails when it went through."""
    try:
        await action
    except KubeError as exc:
        return exc
    raise AssertionError("the write was accepted")


def by_rbac(error: KubeError) -> bool:
    """Refused by authorization: `User "..." cannot <verb> ...`."""
    return error.status == 403 and " cannot " in str(error.body.get("message", ""))


def by_escalation_check(error: KubeError) -> bool:
    """Refused by RBAC's escalation check on a (Cluster)Role or binding."""
    message = str(error.body.get("message", ""))
    return error.status == 403 and "attempting to grant RBAC permissions not currently held" in message


def by_policy(error: KubeError, policy: str) -> bool:
    message = str(error.body.get("message", ""))
    return error.status in (403, 422) and f"ValidatingAdmissionPolicy '{policy}'" in message


def config_map(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


def ingress(name: str, host: str) -> dict[str, Any]:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]
        },
    }


def binding(name: str, role: str, kind: str = "ClusterRole") -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": NS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory@example.com"}],
    }


async def test_the_owner_runs_its_application(env: Env, owner: KubeClient) -> None:
    """What an app owner needs goes through: the refusals below are not a broken role."""
    await owner.create(config_map("settings"))
    await owner.create(service("web"))
    await owner.create(ingress("web", "acme.apps.example.com"))
    await owner.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        }
    )
    await owner.create(binding("colleague", "landlord-tenant-owner"))  # within its own rights
    assert [o["metadata"]["name"] for o in await owner.list("NetworkPolicy", NS)]  # it may look
    await owner.delete("ConfigMap", "settings", NS)


async def test_rbac_keeps_the_owner_off_what_isolates_it(env: Env, owner: KubeClient) -> None:
    assert by_rbac(await refused(owner.delete("NetworkPolicy", "landlord-default-deny", NS)))
    assert by_rbac(
        await refused(owner.patch("NetworkPolicy", "landlord-default-deny", {"spec": {"ingress": [{}]}}, NS))
    )
    allow_all = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-all", "namespace": NS},
        "spec": {"podSelector": {}, "ingress": [{}], "egress": [{}], "policyTypes": ["Ingress", "Egress"]},
    }
    assert by_rbac(await refused(owner.create(allow_all)))
    assert by_rbac(
        await refused(owner.patch("ResourceQuota", "landlord-quota", {"spec": {"hard": {"pods": "999"}}}, NS))
    )
    assert by_rbac(await refused(owner.delete("LimitRange", "landlord-defaults", NS)))
    privileged = {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}
    assert by_rbac(await refused(owner.patch("Namespace", NS, privileged)))
    assert by_rbac(await refused(owner.delete("Namespace", NS)))
    # Binding a role with rights the owner does not hold is an escalation RBAC refuses.
    assert by_escalation_check(await refused(owner.create(binding("takeover", "cluster-admin"))))
    assert by_escalation_check(await refused(owner.create(binding("admin", "admin"))))
    policy = await env.get("NetworkPolicy", "landlord-default-deny", NS)
    assert policy is not None and "ingress" not in policy["spec"]


async def test_admission_keeps_the_owner_off_what_landlord_manages(env: Env, owner: KubeClient) -> None:
    patch = {"data": {"plan": "enterprise"}}
    assert by_policy(await refused(owner.patch("ConfigMap", "landlord-entitlements", patch, NS)), MANAGED_POLICY)
    assert by_policy(await refused(owner.delete("ConfigMap", "landlord-entitlements", NS)), MANAGED_POLICY)
    unlabel = {"metadata": {"labels": {"app.kubernetes.io/managed-by": None, "landlord.dev/tenant": None}}}
    assert by_policy(await refused(owner.patch("ConfigMap", "landlord-entitlements", unlabel, NS)), MANAGED_POLICY)
    # A RoleBinding the owner may write by RBAC, but not Landlord's: no extra subject on it.
    more = {"subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory@example.com"}]}
    assert by_policy(await refused(owner.patch("RoleBinding", "landlord-owners", more, NS)), MANAGED_POLICY)
    # Claiming Landlord's labels (to be counted as a child, or pruned for another tenant) is refused.
    for labels in ({"app.kubernetes.io/managed-by": "landlord"}, {"landlord.dev/tenant": "bakery"}):
        assert by_policy(await refused(owner.create(config_map("claim", labels))), MANAGED_POLICY)
    entitlements = await env.get("ConfigMap", "landlord-entitlements", NS)
    assert entitlements is not None and entitlements["data"]["plan"] == "basic"


async def test_only_the_operators_identity_writes_managed_objects_even_for_cluster_admins(
    env: Env, owner: KubeClient
) -> None:
    admin = acting_as(env, "platform-admin@example.com", "system:masters")
    try:
        error = await refused(admin.delete("NetworkPolicy", "landlord-default-deny", NS))
        assert by_policy(error, MANAGED_POLICY)
    finally:
        await admin.close()
    # The operator's identity (the test client here, named in landlord-system/landlord-admission) may;
    # the operator puts it back.
    await env.client.delete("NetworkPolicy", "landlord-default-deny", NS)

    async def back() -> bool:
        return await env.get("NetworkPolicy", "landlord-default-deny", NS) is not None

    await eventually(back, timeout=30)


async def test_services_that_reach_beyond_the_namespace_are_refused(env: Env, owner: KubeClient) -> None:
    external_name = service("db", type="ExternalName", externalName="postgres.t-bakery.svc.cluster.local")
    external_name["spec"].pop("selector")
    external_name["spec"].pop("ports")
    assert by_policy(await refused(owner.create(external_name)), SERVICES_POLICY)
    assert by_policy(await refused(owner.create(service("grab", externalIPs=["203.0.113.10"]))), SERVICES_POLICY)
    await owner.create(service("web"))
    assert by_policy(
        await refused(owner.patch("Service", "web", {"spec": {"externalIPs": ["10.0.0.1"]}}, NS)), SERVICES_POLICY
    )


async def test_an_ingress_for_another_tenants_host_is_refused(env: Env, owner: KubeClient) -> None:
    error = await refused(owner.create(ingress("steal", "bakery.apps.example.com")))
    assert by_policy(error, INGRESS_POLICY)
    assert "hosts granted: acme.apps.example.com" in error.body["message"]
    await owner.create(ingress("web", "acme.apps.example.com"))
    hijack = {"spec": {"rules": [{"host": "bakery.apps.example.com"}]}}
    assert by_policy(await refused(owner.patch("Ingress", "web", hijack, NS)), INGRESS_POLICY)


async def test_suspension_leaves_the_owner_read_only(env: Env, owner: KubeClient) -> None:
    await owner.create(config_map("before"))
    await env.apply(tenant("acme", suspend=True))
    await env.wait_phase("acme", "Suspended")
    assert by_rbac(await refused(owner.create(config_map("during"))))
    assert by_rbac(await refused(owner.delete("ConfigMap", "before", NS)))
    assert [o["metadata"]["name"] for o in await owner.list("ConfigMap", NS)]  # reading still works
    assert by_rbac(await refused(owner.get("Secret", "anything", NS))), "no Secrets while read-only"
    await env.apply(tenant("acme", suspend=False))
    await env.wait_phase("acme", "Active")

    async def writable() -> bool:
        try:
            await owner.create(config_map("after"))
        except KubeError:
            return False
        return True

    await eventually(writable, timeout=30)


async def test_node_ports_and_load_balancers_are_held_at_zero_by_the_quota(env: Env, owner: KubeClient) -> None:
    """Each port of a NodePort or LoadBalancer Service takes a node port (the default
    allocateLoadBalancerNodePorts), and a LoadBalancer one load balancer: both at 0."""
    requested = {"NodePort": "services.nodeports=1", "LoadBalancer": "services.loadbalancers=1,services.nodeports=1"}
    for kind in ("NodePort", "LoadBalancer"):
        name = kind.lower()
        error = await refused(owner.create(service(name, type=kind)))
        assert error.status == 403
        assert error.body["message"].startswith(
            f'services "{name}" is forbidden: exceeded quota: landlord-quota, requested: {requested[kind]}, '
        ), error.body["message"]
    await owner.create(service("clusterip"))  # what the quota leaves: a ClusterIP Service


async def test_the_quota_holds_node_ports_and_load_balancers_at_zero(env: Env, owner: KubeClient) -> None:
    quota = await owner.get("ResourceQuota", "landlord-quota", NS)
    assert quota is not None
    assert quota["spec"]["hard"]["services.nodeports"] == "0" and quota["spec"]["hard"]["services.loadbalancers"] == "0"


async def test_a_privileged_pod_is_refused_by_pod_security_admission(env: Env, owner: KubeClient) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root", "namespace": NS},
        "spec": {
            "containers": [{"name": "x", "image": "busybox", "securityContext": {"privileged": True}}],
            "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
        },
    }
    error = await refused(owner.create(pod))
    assert error.status == 403
    assert error.body["message"].startswith('pods "root" is forbidden: violates PodSecurity "restricted:latest": ')
    assert 'privileged (container "x" must not set securityContext.privileged=true)' in error.body["message"]


async def test_the_namespace_enforces_the_restricted_pod_security_standard(env: Env, owner: KubeClient) -> None:
    namespace = await env.get("Namespace", NS)
    assert namespace is not None
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
