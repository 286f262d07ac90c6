"""Network isolation: default deny, plus same namespace, the ingress controller and DNS. Pure.

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
    network = config.network
    ingress_ns = config.ingress.namespace
    policies = [
        _policy(tenant, namespace, "landlord-default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _policy(
            tenant,
            namespace,
            "landlord-allow-same-namespace",
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        ),
        _policy(
            tenant,
            namespace,
            "landlord-allow-ingress-controller",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ingress_ns}}}]}
                ],
            },
        ),
        _policy(
            tenant,
            namespace,
            "landlord-allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": _dns_peers(config), "ports": [dict(port) for port in DNS_PORTS]}],
            },
        ),
    ]
    if network.egress_cidrs:
        policies.append(
            _policy(
                tenant,
                namespace,
                "landlord-allow-egress",
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {"to": [{"ipBlock": ip_block(cidr, network.metadata_cidrs)} for cidr in network.egress_cidrs]}
                    ],
                },
            )
        )
    return policies
