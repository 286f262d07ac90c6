"""The desired-state pipeline: (tenant, catalogue, configuration, now) -> desired state or refusal.

Pure: no client, no kopf, no clock of its own. The operator, `landlord render` and
`landlord validate` share it, so the same tenant gets the same answer in all three.
"""

from .allocation import reseller_shares
from .catalogue import USAGE_KINDS, Catalogue, StaticCatalogue, host_claims, tenant_refs
from .desired import Desired, desire, refusal_of, trial_end
from .rules import Resolution, Violation, resolve

__all__ = [
    "USAGE_KINDS",
    "Catalogue",
    "Desired",
    "Resolution",
    "StaticCatalogue",
    "Violation",
    "desire",
    "host_claims",
    "refusal_of",
    "reseller_shares",
    "resolve",
    "tenant_refs",
    "trial_end",
]
