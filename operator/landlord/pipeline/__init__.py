"""The desired-state pipeline: (tenant, catalogue, configuration, now) -> desired state or refusal.

Pure: no client, no kopf, no clock of its own. The operator, `landlord render` and
`landlord validate` share it, so the same tenant gets the same answer in all three.
"""

from .allocation import reseller_shares
from .catalogue import USAGE_KINDS, Catalogue, StaticCatalogue, host_claims, normal_host, subdomain_of, tenant_refs
from .desired import Desired, desire, refusal_of, trial_end
from .rules import Resolution, Violation, namespace_name_rules, resolve

__all__ = [
    "USAGE_KINDS",
    "Catalogue",
    "Desired",
    "Resolution",
    "StaticCatalogue",
    "Violation",
    "desire",
    "host_claims",
    "namespace_name_rules",
    "normal_host",
    "refusal_of",
    "reseller_shares",
    "resolve",
    "subdomain_of",
    "tenant_refs",
    "trial_end",
]
