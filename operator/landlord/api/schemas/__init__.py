"""The Landlord CRDs, built here and written to `crds/` (`landlord crds`): one source of truth.

Every field carries a description so that `kubectl explain` teaches; what the API server must
refuse is expressed as schema constraints and CEL rules, with messages that say how to fix it.

One module per idea: `vocabulary` (group, version, patterns, limit keys), `nodes` (generic
schema builders), `fragments` (limits, money, prices, branding), one module per kind's spec
(`plan`, `addon`, `reseller`, `tenant`), `status`, and `crds` (assembly, printer columns).
Everything is re-exported here: `from landlord.api.schemas import X` keeps working.
"""

from __future__ import annotations

from .addon import ADDON_SPEC
from .crds import AGE, all_crds, crd, crd_by_kind, name_rule, name_rule_message
from .fragments import LIMIT_DESCRIPTIONS, branding, features, limit, limits, money, prices
from .nodes import b, i, names, obj, rule, s
from .plan import PLAN_SPEC
from .reseller import RESELLER_SPEC
from .status import CONDITION, EFFECTIVE, TENANT_STATUS, USAGE_STATUS
from .tenant import SUBDOMAIN_RULE, SUBJECT, TENANT_SPEC
from .vocabulary import (
    API_VERSION,
    COUNT_LIMITS,
    CUSTOMER_TYPES,
    CYCLES,
    DECIMAL,
    DNS_LABEL,
    GROUP,
    HOSTNAME,
    LIMIT_KEYS,
    POD_SECURITY_LEVELS,
    QUANTITY,
    VERSION,
)

__all__ = [
    "ADDON_SPEC",
    "AGE",
    "API_VERSION",
    "CONDITION",
    "COUNT_LIMITS",
    "CUSTOMER_TYPES",
    "CYCLES",
    "DECIMAL",
    "DNS_LABEL",
    "EFFECTIVE",
    "GROUP",
    "HOSTNAME",
    "LIMIT_DESCRIPTIONS",
    "LIMIT_KEYS",
    "PLAN_SPEC",
    "POD_SECURITY_LEVELS",
    "QUANTITY",
    "RESELLER_SPEC",
    "SUBDOMAIN_RULE",
    "SUBJECT",
    "TENANT_SPEC",
    "TENANT_STATUS",
    "USAGE_STATUS",
    "VERSION",
    "all_crds",
    "b",
    "branding",
    "crd",
    "crd_by_kind",
    "features",
    "i",
    "limit",
    "limits",
    "money",
    "name_rule",
    "name_rule_message",
    "names",
    "obj",
    "prices",
    "rule",
    "s",
]
