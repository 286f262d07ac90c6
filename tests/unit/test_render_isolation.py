"""What isolates a tenant, as rendered: Pod Security labels, granted hosts, quota, DNS and egress, the
owners' role. Pure: through the pipeline, as the operator and `landlord render` see it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import kubernetes_validate
import pytest

from landlord.config import Config, ConfigError, parse
from landlord.pipeline import Desired, StaticCatalogue, desire
from landlord.render.namespace import INGRESS_HOSTS_ANNOTATION

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def plan(**spec: Any) -> dict[str, Any]:
    body = {
        "limits": {"cpu": "2", "memory": "4Gi", "storage": "10Gi", "pods": 20, "customDomains": 3},
        "pricing": {"currency": "EUR", "prices": {"Monthly": "10.00"}},
        **spec,
    }
    return {"apiVersion": "landlord.dev/v1alpha1", "kind": "Plan", "metadata": {"name": "basic"}, "spec": body}


def tenant(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": "acme"},
        "spec": {"plan": "basic", "owner": {"subjects": [{"kind": "User", "name": "jane@acme.example"}]}, **spec},
    }
    if status is not None:
        body["status"] = status
    return body


def desired(plan_body: dict[str, Any] | None = None, config: Config | None = None, **tenant_spec: Any) -> Desired:
    status = tenant_spec.pop("status", None)
    body = tenant(status, **tenant_spec)
    return desire(body, StaticCatalogue([plan_body or plan(), body]), config or parse({}), NOW)


def child(state: Desired, kind: str, name: str | None = None) -> dict[str, Any]:
    return next(o for o in state.objects() if o["kind"] == kind and name in (None, o["metadata"]["name"]))


# -- Namespace ------------------------------------------------------------------------------------
def test_namespaces_enforce_the_restricted_pod_security_standard_by_default() -> None:
    labels = child(desired(), "Namespace")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "latest"
    assert labels["landlord.dev/tenant"] == "acme"


def test_a_plan_chooses_its_pod_security_level() -> None:
    labels = child(desired(plan(podSecurity="baseline")), "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "baseline"


def test_the_namespace_names_the_hosts_the_tenant_may_route() -> None:
    state = desired(
        domains={"subdomain": "shop", "custom": ["crm.acme.example", "www.acme.example"]},
        status={
            "domains": [
                {"host": "www.acme.example", "state": "Verified"},
                {"host": "crm.acme.example", "state": "Pending"},
                {"host": "old.acme.example", "state": "Verified"},  # no longer in the spec
            ]
        },
    )
    annotations = child(state, "Namespace")["metadata"]["annotations"]
    assert annotations == {INGRESS_HOSTS_ANNOTATION: "shop.apps.example.com,www.acme.example"}
    plain = child(desired(), "Namespace")["metadata"]["annotations"]
    assert plain == {INGRESS_HOSTS_ANNOTATION: "acme.apps.example.com"}


# -- Quota ----------------------------------------------------------------------------------------
def hard(state: Desired) -> dict[str, str]:
    result: dict[str, str] = child(state, "ResourceQuota")["spec"]["hard"]
    return result


def test_the_quota_holds_ephemeral_storage_object_counts_and_no_external_services_by_default() -> None:
    assert hard(desired()) == {
        "requests.cpu": "2",
        "requests.memory": "4Gi",
        "requests.storage": "10Gi",
        "pods": "20",
        "requests.ephemeral-storage": "10Gi",
        "configmaps": "100",
        "secrets": "100",
        "services": "20",
        "persistentvolumeclaims": "20",
        "count/deployments.apps": "100",
        "count/statefulsets.apps": "50",
        "count/replicasets.apps": "500",
        "count/daemonsets.apps": "20",
        "count/jobs.batch": "200",
        "count/cronjobs.batch": "50",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def test_a_plan_sets_container_limit_totals_and_allows_external_services() -> None:
    quota = {
        "limits": {"cpu": 8, "memory": "16384Mi"},
        "ephemeralStorage": "2Gi",
        "loadBalancers": 1,
        "nodePorts": 2,
        "objects": {"secrets": 10, "count/deployments.apps": 3},
    }
    result = hard(desired(plan(quota=quota)))
    assert result["count/deployments.apps"] == "3" and result["count/jobs.batch"] == "200"
    assert result["limits.cpu"] == "8" and result["limits.memory"] == "16Gi"
    assert result["requests.ephemeral-storage"] == "2Gi"
    assert result["services.loadbalancers"] == "1" and result["services.nodeports"] == "2"
    assert result["secrets"] == "10" and result["configmaps"] == "100"


def test_unlimited_container_limits_add_no_entry() -> None:
    result = hard(desired(plan(quota={"limits": {"cpu": "unlimited"}})))
    assert "limits.cpu" not in result and "limits.memory" not in result


def test_the_operator_configuration_sets_the_defaults_and_the_limit_range_requests_ephemeral_storage() -> None:
    config = parse({"quota": {"ephemeralStorage": "1Gi", "objects": {"services": 5}}})
    result = hard(desired(config=config))
    assert result["requests.ephemeral-storage"] == "1Gi" and result["services"] == "5" and result["secrets"] == "100"
    # A quota on requests.ephemeral-storage refuses pods that request none: the LimitRange gives a default.
    limit_range = child(desired(), "LimitRange")
    assert limit_range["spec"]["limits"][0]["defaultRequest"]["ephemeral-storage"] == "64Mi"
    with pytest.raises(ConfigError, match=re.escape("quota.ephemeralStorage: must be a Kubernetes quantity")):
        parse({"quota": {"ephemeralStorage": "lots"}})


# -- Network --------------------------------------------------------------------------------------
def egress_blocks(state: Desired) -> list[dict[str, Any]]:
    """The ipBlocks of the egress rule for any port (the DNS rule names its ports)."""
    policy = child(state, "NetworkPolicy", "landlord-isolation")
    return [
        peer["ipBlock"]
        for rule in policy["spec"]["egress"]
        if "ports" not in rule
        for peer in rule["to"]
        if "ipBlock" in peer
    ]


def test_one_policy_denies_what_it_does_not_allow() -> None:
    """Every pod selected, both directions: only the same namespace, the ingress controller and DNS."""
    (policy,) = [o for o in desired().objects() if o["kind"] == "NetworkPolicy"]
    assert policy["metadata"]["name"] == "landlord-isolation"
    assert policy["spec"]["podSelector"] == {}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [
        {"from": [{"podSelector": {}}]},
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]},
    ]
    same_namespace, dns = policy["spec"]["egress"]
    assert same_namespace == {"to": [{"podSelector": {}}]}
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def test_egress_cidrs_never_reach_the_cloud_metadata_address() -> None:
    config = parse({"network": {"egressCIDRs": ["0.0.0.0/0", "::/0", "10.0.0.0/8", "169.254.0.0/16"]}})
    assert egress_blocks(desired(config=config)) == [
        {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]},
        {"cidr": "::/0", "except": ["fd00:ec2::254/128"]},
        {"cidr": "10.0.0.0/8"},
        {"cidr": "169.254.0.0/16", "except": ["169.254.169.254/32"]},
    ]


def test_more_metadata_addresses_can_be_configured() -> None:
    config = parse({"network": {"egressCIDRs": ["100.64.0.0/10"], "metadataCIDRs": ["100.100.100.200/32"]}})
    assert egress_blocks(desired(config=config)) == [{"cidr": "100.64.0.0/10", "except": ["100.100.100.200/32"]}]


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ({"egressCIDRs": ["169.254.169.254/32"]}, "lies within the cloud metadata address 169.254.169.254/32"),
        ({"dnsIPBlocks": ["fd00:ec2::254/128"]}, "lies within the cloud metadata address fd00:ec2::254/128"),
        ({"egressCIDRs": ["everywhere"]}, "network.egressCIDRs: 'everywhere' is not a CIDR"),
    ],
)
def test_the_configuration_refuses_egress_to_the_metadata_address_itself(network: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse({"network": network})


def test_dns_is_allowed_to_the_dns_pods_and_to_node_local_dns() -> None:
    config = parse({"network": {"dnsIPBlocks": ["169.254.20.10/32"]}})
    policy = child(desired(config=config), "NetworkPolicy", "landlord-isolation")
    (rule,) = [rule for rule in policy["spec"]["egress"] if "ports" in rule]
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        },
        {"ipBlock": {"cidr": "169.254.20.10/32"}},
    ]
    assert rule["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    default = child(desired(), "NetworkPolicy", "landlord-isolation")
    assert [len(rule["to"]) for rule in default["spec"]["egress"]] == [1, 1], "no ipBlock unless configured"
    assert egress_blocks(desired()) == []


# -- Access ---------------------------------------------------------------------------------------
def test_owners_hold_the_owner_role_and_the_read_only_role_while_suspended() -> None:
    active = child(desired(), "RoleBinding")
    assert active["roleRef"]["name"] == "landlord-tenant-owner"
    suspended = child(desired(suspend=True), "RoleBinding")
    assert suspended["roleRef"]["name"] == "landlord-tenant-viewer"
    assert suspended["metadata"]["name"] == active["metadata"]["name"] == "landlord-owners"
    expired = child(desired(expiresAt="2026-01-01T00:00:00Z"), "RoleBinding")
    assert expired["roleRef"]["name"] == "landlord-tenant-viewer"
    custom = parse({"ownerClusterRole": "shop-owner", "viewerClusterRole": "shop-viewer"})
    assert child(desired(config=custom, suspend=True), "RoleBinding")["roleRef"]["name"] == "shop-viewer"


@pytest.mark.parametrize("suspend", [False, True])
def test_every_rendered_object_passes_the_kubernetes_schemas(suspend: bool) -> None:
    config = parse({"network": {"egressCIDRs": ["0.0.0.0/0", "::/0"], "dnsIPBlocks": ["169.254.20.10/32"]}})
    quota = {"limits": {"cpu": "8", "memory": "16Gi"}, "loadBalancers": 1, "nodePorts": 1}
    for obj in desired(plan(podSecurity="baseline", quota=quota), config, suspend=suspend).objects():
        kubernetes_validate.validate(obj, "1.30", strict=True)


def test_a_suspended_tenants_namespace_is_labelled_for_the_frozen_namespaces_policy() -> None:
    assert child(desired(), "Namespace")["metadata"]["labels"]["landlord.dev/suspended"] == "false"
    assert child(desired(suspend=True), "Namespace")["metadata"]["labels"]["landlord.dev/suspended"] == "true"


def test_a_suspended_tenant_can_start_no_pod() -> None:
    active = child(desired(), "ResourceQuota")["spec"]["hard"]
    suspended = child(desired(suspend=True), "ResourceQuota")["spec"]["hard"]
    assert active["pods"] != "0" and suspended["pods"] == "0"
    assert {k: v for k, v in suspended.items() if k != "pods"} == {k: v for k, v in active.items() if k != "pods"}
