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
from landlord.render.cluster import (
    FROZEN_POLICY,
    INGRESS_POLICY,
    MANAGED_POLICY,
    ROLEBINDINGS_POLICY,
    SERVICES_POLICY,
    VOLUMES_POLICY,
)
from landlord.render.namespace import SUSPENDED_LABEL
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


def binding(
    name: str, role: str, kind: str = "ClusterRole", subjects: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": NS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": subjects
        or [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory@example.com"}],
    }


def user(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


def group(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


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
    assert by_rbac(await refused(owner.delete("NetworkPolicy", "landlord-isolation", NS)))
    assert by_rbac(await refused(owner.patch("NetworkPolicy", "landlord-isolation", {"spec": {"ingress": [{}]}}, NS)))
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
    policy = await env.get("NetworkPolicy", "landlord-isolation", NS)
    assert policy is not None and {} not in policy["spec"]["ingress"]


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
        error = await refused(admin.delete("NetworkPolicy", "landlord-isolation", NS))
        assert by_policy(error, MANAGED_POLICY)
    finally:
        await admin.close()
    # The operator's identity (the test client here, named in landlord-system/landlord-admission) may;
    # the operator puts it back.
    await env.client.delete("NetworkPolicy", "landlord-isolation", NS)

    async def back() -> bool:
        return await env.get("NetworkPolicy", "landlord-isolation", NS) is not None

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


async def test_a_backdoor_binding_keeps_no_write_rights_while_suspended(env: Env, owner: KubeClient) -> None:
    """Suspension swaps only Landlord's binding; what the owner bound itself (to itself, or to a
    ServiceAccount whose token it keeps) is held by `landlord-frozen-namespaces` instead."""
    await owner.create(config_map("before"))
    await owner.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot", "namespace": NS}})
    await owner.create(binding("backdoor", "landlord-tenant-owner", subjects=[user(OWNER)]))
    bot_subject = {"kind": "ServiceAccount", "name": "bot", "namespace": NS}
    await owner.create(binding("bot", "landlord-tenant-owner", subjects=[bot_subject]))
    await env.apply(tenant("acme", suspend=True))
    await env.wait_phase("acme", "Suspended")

    async def labelled() -> bool:
        namespace = await env.get("Namespace", NS)
        return (namespace or {}).get("metadata", {}).get("labels", {}).get(SUSPENDED_LABEL) == "true"

    await eventually(labelled, timeout=30)
    bot = acting_as(env, f"system:serviceaccount:{NS}:bot", "system:serviceaccounts")
    try:
        for client in (owner, bot):
            error = await refused(client.create(config_map("during")))
            assert by_policy(error, FROZEN_POLICY), error.body
            assert "belongs to a suspended tenant" in error.body["message"]
            assert by_policy(
                await refused(client.patch("ConfigMap", "before", {"data": {"k": "x"}}, NS)), FROZEN_POLICY
            )
            assert by_policy(await refused(client.create(binding("more", "landlord-tenant-viewer"))), FROZEN_POLICY)
        # Deletions stay allowed: the tenant may clean up.
        await bot.delete("ConfigMap", "before", NS)
        await owner.delete("RoleBinding", "bot", NS)
    finally:
        await bot.close()
    await env.apply(tenant("acme", suspend=False))
    await env.wait_phase("acme", "Active")

    async def writable() -> bool:
        try:
            await owner.create(config_map("after"))
        except KubeError:
            return False
        return True

    await eventually(writable, timeout=30)


async def test_removing_the_tenant_label_does_not_free_the_namespace(env: Env, owner: KubeClient) -> None:
    """For a Namespace's update a namespaceSelector reads the new labels: the namespaces binding
    selects by the object's labels, old or new, so even a cluster admin cannot unlabel it."""
    admin = acting_as(env, "platform-admin@example.com", "system:masters")
    try:
        unlabel = {"metadata": {"labels": {"landlord.dev/tenant": None, "app.kubernetes.io/managed-by": None}}}
        assert by_policy(await refused(admin.patch("Namespace", NS, unlabel)), MANAGED_POLICY)
        assert by_policy(await refused(admin.delete("Namespace", NS)), MANAGED_POLICY)
        # Cluster-scoped objects carrying the tenant label (a ClusterRole here; a Tenant, a
        # PersistentVolume) are not the operator's alone.
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "acme-auditor", "labels": {"landlord.dev/tenant": "acme"}},
            "rules": [],
        }
        roles = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
        status, body = await admin.request("POST", roles, role)
        assert status == 201, body
        status, body = await admin.request("DELETE", f"{roles}/acme-auditor")
        assert status == 200, body
    finally:
        await admin.close()
    namespace = await env.get("Namespace", NS)
    assert namespace is not None and namespace["metadata"]["labels"]["landlord.dev/tenant"] == "acme"


async def test_ingress_nginx_annotations_outside_the_safe_list_are_refused(env: Env, owner: KubeClient) -> None:
    for annotation in ("auth-url", "mirror-target", "upstream-vhost", "server-snippet"):
        risky = ingress(annotation, "acme.apps.example.com")
        risky["metadata"]["annotations"] = {f"nginx.ingress.kubernetes.io/{annotation}": "http://10.0.0.1/"}
        error = await refused(owner.create(risky))
        assert by_policy(error, INGRESS_POLICY) and annotation in error.body["message"], error.body
    safe = ingress("web", "acme.apps.example.com")
    safe["metadata"]["annotations"] = {
        "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
        "nginx.ingress.kubernetes.io/cors-allow-origin": "https://acme.example",
    }
    await owner.create(safe)
    sneak = {"metadata": {"annotations": {"nginx.ingress.kubernetes.io/auth-url": "http://10.0.0.1/"}}}
    assert by_policy(await refused(owner.patch("Ingress", "web", sneak, NS)), INGRESS_POLICY)


async def test_a_claim_cannot_name_another_tenants_volume(env: Env, owner: KubeClient) -> None:
    """A claim naming a PersistentVolume would bind it, another tenant's data included (the
    client speaks no PersistentVolumeClaim: raw requests)."""
    claims = f"/api/v1/namespaces/{NS}/persistentvolumeclaims"
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}

    def claim(name: str, **extra: Any) -> dict[str, Any]:
        meta = {"name": name, "namespace": NS}
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": {**spec, **extra}}

    status, body = await owner.request("POST", claims, claim("stolen", volumeName="pv-bakery"))
    assert by_policy(KubeError(status, body, "claim"), VOLUMES_POLICY) and "pv-bakery" in body["message"], body
    status, body = await owner.request("POST", claims, claim("data"))
    assert status == 201, body
    patch = {"spec": {"volumeName": "pv-bakery"}}
    status, body = await owner.request("PATCH", f"{claims}/data", patch, "application/merge-patch+json")
    assert by_policy(KubeError(status, body, "claim"), VOLUMES_POLICY), body


async def test_a_role_binding_cannot_open_the_namespace_to_everyone(env: Env, owner: KubeClient) -> None:
    for name, subject in (
        ("everyone", group("system:authenticated")),
        ("anonymous", group("system:unauthenticated")),
        ("all-service-accounts", group("system:serviceaccounts")),
        ("neighbour", {"kind": "ServiceAccount", "name": "default", "namespace": "t-bakery"}),
        ("neighbour-user", user("system:serviceaccount:t-bakery:default")),
    ):
        error = await refused(owner.create(binding(name, "landlord-tenant-viewer", subjects=[subject])))
        assert by_policy(error, ROLEBINDINGS_POLICY), (name, error.body)
    await owner.create(binding("colleague", "landlord-tenant-viewer", subjects=[user("bob@example.com")]))
    more = {"subjects": [user("bob@example.com"), group("system:authenticated")]}
    assert by_policy(await refused(owner.patch("RoleBinding", "colleague", more, NS)), ROLEBINDINGS_POLICY)


async def test_nothing_of_another_tenant_is_reachable(env: Env, owner: KubeClient) -> None:
    """The owner of acme reads and writes nothing in bakery's namespace, nor lists what exists."""
    other = "t-bakery"
    for kind, name in (("Secret", "x"), ("ConfigMap", "landlord-entitlements"), ("ResourceQuota", "landlord-quota")):
        error = await refused(owner.get(kind, name, other))
        assert by_rbac(error), error
        error = await refused(owner.list(kind, other))
        assert by_rbac(error), error
    body = config_map("planted")
    body["metadata"]["namespace"] = other
    assert by_rbac(await refused(owner.create(body)))
    assert by_rbac(await refused(owner.list("Namespace")))  # not even which tenants exist
    assert by_rbac(await refused(owner.list("Tenant")))
    assert by_rbac(await refused(owner.get("Tenant", "bakery")))
    assert by_rbac(await refused(owner.list("Secret")))  # nor across namespaces
