"""Network isolation: default deny, plus same namespace, the ingress controller and DNS. Pure.

One NetworkPolicy, `landlord-isolation`, holds it all (see `_network_policies`).

DNS is allowed to the configured pods (kube-dns, CoreDNS) and, for resolvers no pod selector can
match (NodeLocal DNSCache listens on a link-local address of each node), to `dnsIPBlocks`.
Every ipBlock Landlord writes excepts the cloud metadata addresses it contains: the metadata
service hands out the node's credentials, and tenants must never reach it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..config import Config
from .view import TenantView, meta_of, namespace_of

ISOLATION_POLICY = "landlord-isolation"
# The policies of Landlord before one policy held every rule: pruned when a tenant is reconciled.
FORMER_POLICIES = (
    "landlord-default-deny",
    "landlord-allow-same-namespace",
    "landlord-allow-ingress-controller",
    "landlord-allow-dns",
    "landlord-allow-egress",
)
DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def render_network(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """The NetworkPolicies of a tenant namespace."""
    return _network_policies(config, tenant, namespace_of(config, tenant.name))


def ip_block(cidr: str, metadata_cidrs: tuple[str, ...]) -> dict[str, Any]:
    """`{"cidr": cidr}`, with `except` listing each metadata range strictly inside it.

    (A CIDR inside a metadata range is refused by the configuration, see `landlord.config`.)
    """
    network = ipaddress.ip_network(cidr, strict=False)
    excepted = []
    for text in metadata_cidrs:
        metadata = ipaddress.ip_network(text, strict=False)
        if metadata.version == network.version and metadata != network and metadata.subnet_of(network):  # type: ignore[arg-type]
            excepted.append(str(metadata))
    block: dict[str, Any] = {"cidr": cidr}
    if excepted:
        block["except"] = sorted(excepted)
    return block


def _policy(tenant: TenantView, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta_of(tenant, name, namespace),
        "spec": spec,
    }


def _dns_peers(config: Config) -> list[dict[str, Any]]:
    network = config.network
    peers: list[dict[str, Any]] = [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": network.dns_namespace}},
            "podSelector": {"matchLabels": dict(network.dns_pod_labels)},
        }
    ]
    peers.extend({"ipBlock": ip_block(cidr, network.metadata_cidrs)} for cidr in network.dns_ip_blocks)
    return peers


def _network_policies(config: Config, tenant: TenantView, namespace: str) -> list[dict[str, Any]]:
    """One policy selecting every pod for both directions: what it does not allow is denied.

    NetworkPolicies are additive (a connection is allowed when any policy selecting the pod allows
    it), so this one policy with one rule per allowance means exactly what a default-deny policy
    beside one policy per allowance means, at one object (one write, one watch event) per tenant.
    """
    network = config.network
    ingress_ns = config.ingress.namespace
    egress: list[dict[str, Any]] = [
        {"to": [{"podSelector": {}}]},  # the same namespace
        {"to": _dns_peers(config), "ports": [dict(port) for port in DNS_PORTS]},
    ]
    if network.egress_cidrs:
        egress.append({"to": [{"ipBlock": ip_block(cidr, network.metadata_cidrs)} for cidr in network.egress_cidrs]})
    spec = {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"from": [{"podSelector": {}}]},  # the same namespace
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ingress_ns}}}]},
        ],
        "egress": egress,
    }
    return [_policy(tenant, namespace, ISOLATION_POLICY, spec)]
