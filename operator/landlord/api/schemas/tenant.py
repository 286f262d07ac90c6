"""The Tenant spec: one customer subscription (plan, add-ons, owner, domains, billing, ...)."""

from __future__ import annotations

from .fragments import branding, features, limits
from .nodes import b, i, obj, rule, s
from .vocabulary import CUSTOMER_TYPES, CYCLES, DNS_LABEL, HOSTNAME

SUBJECT = obj(
    "Who is given admin rights in the tenant's namespace.",
    {
        "kind": s("User, Group or ServiceAccount.", enum=["User", "Group", "ServiceAccount"]),
        "name": s("Name of the subject.", minLength=1, maxLength=253),
        "namespace": s("Namespace of a ServiceAccount.", pattern=DNS_LABEL, maxLength=63),
    },
    required=["kind", "name"],
    **{
        "x-kubernetes-validations": [
            rule("self.kind != 'ServiceAccount' || has(self.namespace)", "a ServiceAccount subject needs a namespace")
        ]
    },
)

# On the whole Tenant (it reads metadata.name and status), so that removing spec.domains and
# adding it again cannot change an assigned subdomain either; the operator holds the same rule.
SUBDOMAIN_RULE = rule(
    "!has(self.status) || !has(self.status.subdomain) || "
    "(has(self.spec.domains) && has(self.spec.domains.subdomain) ? self.spec.domains.subdomain : self.metadata.name)"
    " == self.status.subdomain",
    "spec.domains.subdomain cannot change once assigned (status.subdomain); set it back to the assigned "
    "subdomain, or create a new tenant for another subdomain",
    messageExpression="'spec.domains.subdomain: the subdomain ' + self.status.subdomain + ' is assigned to this "
    "tenant and cannot change (also not by removing spec.domains); set it back to ' + self.status.subdomain + "
    "', or create a new tenant for another subdomain'",
    fieldPath=".spec.domains.subdomain",
)

# A tenant's invoices follow its cycle (`<tenant>-2025-06` or `<tenant>-2025`): switching would
# bill months already paid for in a year, or miss them. The billing sidecar holds the same rule.
_CYCLE = "(has({0}.billing) && has({0}.billing.cycle) ? {0}.billing.cycle : 'Monthly')"
CYCLE_RULE = rule(
    f"{_CYCLE.format('self')} == {_CYCLE.format('oldSelf')}",
    "spec.billing.cycle cannot change once the tenant exists (its invoices follow the cycle); set it back, "
    "or create a new tenant for the other cycle",
    messageExpression="'spec.billing.cycle: this tenant is billed ' + "
    + _CYCLE.format("oldSelf")
    + " + ' and cannot change cycle (its invoices follow it); set it back to ' + "
    + _CYCLE.format("oldSelf")
    + " + ', or create a new tenant for the other cycle'",
    fieldPath=".billing.cycle",
)

TENANT_SPEC = obj(
    "One customer subscription.",
    {
        "plan": s("Name of the Plan.", pattern=DNS_LABEL, maxLength=63),
        "addOns": {
            "type": "array",
            "description": "Add-ons with quantities.",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "maxItems": 50,
            "items": obj(
                "An add-on and how many units.",
                {
                    "name": s("Name of the AddOn.", pattern=DNS_LABEL, maxLength=63),
                    "quantity": i("Units, between 1 and the add-on's maxQuantity.", minimum=1, maximum=1000, default=1),
                },
                required=["name"],
            ),
        },
        "owner": obj(
            "The customer.",
            {
                "name": s("Person or company name.", maxLength=200),
                "email": s("Contact address.", format="email", maxLength=254),
                "subjects": {
                    "type": "array",
                    "description": "Given admin in the tenant namespace.",
                    "maxItems": 20,
                    "items": SUBJECT,
                },
            },
        ),
        "reseller": s(
            "Name of the Reseller that sells this tenant; it is then billed, with its discount.",
            pattern=DNS_LABEL,
            maxLength=63,
        ),
        "domains": obj(
            "Where the tenant is reached.",
            {
                "subdomain": s(
                    "Label under the base domain; defaults to the tenant's name. Once the operator has assigned "
                    "it (status.subdomain) it cannot change, also not by removing spec.domains and adding it again.",
                    pattern=DNS_LABEL,
                    maxLength=63,
                ),
                "custom": {
                    "type": "array",
                    "description": "Custom hostnames; routed once their ownership is verified.",
                    "x-kubernetes-list-type": "set",
                    "maxItems": 100,
                    "items": {"type": "string", "pattern": HOSTNAME, "maxLength": 253},
                },
            },
        ),
        "branding": branding("Overrides the reseller's branding defaults."),
        "overrides": obj(
            "Per-tenant values that win over the plan and add-ons.",
            {
                "limits": limits("Pins single limits."),
                "features": features("Extra modules."),
            },
        ),
        "syncPolicy": s(
            "Auto: follows plan and add-on edits. Locked: keeps the values it had when locked.",
            enum=["Auto", "Locked"],
            default="Auto",
        ),
        "suspend": b("Suspend: workloads scaled to zero, data kept.", default=False),
        "expiresAt": s(
            "RFC 3339 time after which the tenant is suspended (Expired).", format="date-time", nullable=True
        ),
        "billing": obj(
            "Billing identity.",
            {
                "cycle": s("Billing cycle.", enum=list(CYCLES), default="Monthly"),
                "country": s("ISO 3166-1 alpha-2 country of the billed party, e.g. FR.", pattern=r"^[A-Z]{2}$"),
                "taxId": s("VAT or tax identifier.", pattern=r"^[A-Z0-9]{4,20}$"),
                "customerType": s(
                    "Business, Individual, Charity or Education.", enum=list(CUSTOMER_TYPES), default="Business"
                ),
                "coupon": s("Coupon code.", pattern=r"^[A-Z0-9-]{1,40}$"),
                "skipTrial": b(
                    "true: the customer pays from day one; the plan's trial does not apply. "
                    "Only read when the tenant is created."
                ),
                "dunningExempt": b(
                    "true: an unpaid invoice past the grace period (its status.suspendsTenant) does not suspend "
                    "the tenant (no PaymentOverdue); for customers paid by other arrangements. Reminders and "
                    "Overdue invoices still happen."
                ),
            },
        ),
        "backup": obj(
            "Backup preferences.",
            {
                "window": s("UTC start of the backup window, HH:MM.", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
            },
        ),
        "deletionPolicy": s(
            "What happens to data when the tenant is deleted: Retain (database and backups kept) or Delete.",
            enum=["Retain", "Delete"],
            default="Retain",
        ),
    },
    required=["plan"],
    **{"x-kubernetes-validations": [CYCLE_RULE]},
)
