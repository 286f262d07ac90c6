"""Network isolation: default deny, plus same namespace, the ingress controller and DNS. Pure."""

from __future__ import annotations

from typing import Any

from ..config import Config
from .view import TenantView, meta_of, namespace_of


def render_network(config: Config, tenant: TenantView) -> list[dict[str, Any]]:
    """The NetworkPolicies of a tenant namespace."""
    return _network_policies(config, tenant, namespace_of(config, tenant.name))


def _policy(tenant: TenantView, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta_of(tenant, name, namespace),
        "spec": spec,
    }


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
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": network.dns_namespace}
                                },
                                "podSelector": {"matchLabels": dict(network.dns_pod_labels)},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
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
                    "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in network.egress_cidrs]}],
                },
            )
        )
    return policies
