"""The Landlord CRDs, built here and written to `crds/` (`landlord crds`): one source of truth.

Every field carries a description so that `kubectl explain` teaches; what the API server must
refuse is expressed as schema constraints and CEL rules, with messages that say how to fix it.
"""

from __future__ import annotations

from typing import Any

GROUP = "landlord.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
HOSTNAME = r"^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]([-a-z0-9]*[a-z0-9])?$"
DECIMAL = r"^\d+(\.\d{1,2})?$"
QUANTITY = r"^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][0-9]+|[kMGTPE]|Ki|Mi|Gi|Ti|Pi|Ei|m)?$"
LIMIT_KEYS = ("cpu", "memory", "storage", "pods", "databases", "databaseStorage", "customDomains", "users", "traffic")
COUNT_LIMITS = frozenset({"pods", "databases", "customDomains", "users"})
CYCLES = ("Monthly", "Yearly")
CUSTOMER_TYPES = ("Business", "Individual", "Charity", "Education")


def s(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def i(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **extra}


def b(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "boolean", "description": description, **extra}


def obj(
    description: str, properties: dict[str, Any], required: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "description": description, "properties": properties, **extra}
    if required:
        out["required"] = required
    return out


def names(description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "description": description,
        "x-kubernetes-list-type": "set",
        "maxItems": 100,
        "items": {"type": "string", "maxLength": 63, "pattern": DNS_LABEL},
    }


def rule(expression: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"rule": expression, "message": message, **extra}


def money(description: str) -> dict[str, Any]:
    return s(
        f'{description} A decimal string with at most two decimals, e.g. "49.00"; never a float.',
        pattern=DECIMAL,
        maxLength=16,
    )


def limit(key: str, description: str) -> dict[str, Any]:
    if key in COUNT_LIMITS:
        kind = "a whole number"
        example = "10"
        check = "self.matches('^[0-9]+$')"
    else:
        kind = "a Kubernetes quantity"
        example = "8Gi" if key != "cpu" else "4"
        check = f"self.matches('{QUANTITY}')"
    return {
        "x-kubernetes-int-or-string": True,
        "description": f'{description} {kind.capitalize()} such as {example}, or "unlimited". '
        "Omitted means 0: not offered.",
        "x-kubernetes-validations": [
            rule(
                f"type(self) == int ? self >= 0 : (self == 'unlimited' || {check})",
                f'must be {kind} (e.g. {example}) or "unlimited"',
            )
        ],
    }


LIMIT_DESCRIPTIONS = {
    "cpu": "CPU the tenant's pods may request in total (ResourceQuota requests.cpu).",
    "memory": "Memory the tenant's pods may request in total (ResourceQuota requests.memory).",
    "storage": "Persistent volume storage in total (ResourceQuota requests.storage).",
    "pods": "Number of pods (ResourceQuota pods).",
    "databases": "Number of databases.",
    "databaseStorage": "Storage for the tenant's databases.",
    "customDomains": "Number of custom domains the tenant may route.",
    "users": "Seats included (billed beyond this number).",
    "traffic": "Network traffic per billing period, metered.",
}


def limits(description: str) -> dict[str, Any]:
    return obj(description, {key: limit(key, LIMIT_DESCRIPTIONS[key]) for key in LIMIT_KEYS})


def features(description: str) -> dict[str, Any]:
    return names(description)


def prices(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": money("Price for this billing cycle."),
        "x-kubernetes-validations": [
            rule("self.all(k, k in ['Monthly', 'Yearly'])", "billing cycles are Monthly and Yearly")
        ],
    }


def branding(description: str) -> dict[str, Any]:
    url = r"^https?://\S+$"
    return obj(
        description,
        {
            "productName": s("Product name shown to the tenant's users.", maxLength=100),
            "logoURL": s("URL of the logo.", pattern=url, maxLength=2048),
            "faviconURL": s("URL of the favicon.", pattern=url, maxLength=2048),
            "primaryColor": s("Primary colour as #rrggbb.", pattern=r"^#[0-9a-fA-F]{6}$"),
            "emailFrom": s("Sender address of e-mails sent to users.", format="email", maxLength=254),
            "supportEmail": s("Support address shown to users.", format="email", maxLength=254),
        },
    )


# -- Plan ------------------------------------------------------------------------------------
PLAN_SPEC = obj(
    "A service plan: what a tenant gets and what it costs.",
    {
        "displayName": s("Name shown to people.", maxLength=100),
        "description": s("A sentence about the plan.", maxLength=1000),
        "retired": b("True: tenants on it keep it, new tenants (and plan changes to it) are refused.", default=False),
        "limits": limits("Resource limits. Every limit is explicit: an omitted one is 0 (not offered)."),
        "features": features("Modules the tenant application enables, e.g. crm, invoicing."),
        "overuse": obj(
            "What happens when usage exceeds a limit. Existing data is never deleted.",
            {
                "policy": s(
                    "Block: hard quota. Notify: alert at thresholds. Bill: allowed and charged as overage.",
                    enum=["Block", "Notify", "Bill"],
                    default="Notify",
                ),
                "notifyAt": {
                    "type": "array",
                    "description": "Usage thresholds in percent of a limit that raise notifications.",
                    "x-kubernetes-list-type": "set",
                    "maxItems": 10,
                    "items": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                "suspendOnExceed": b("Suspend the tenant when a limit is exceeded.", default=False),
            },
        ),
        "database": obj(
            "The tenant's PostgreSQL database.",
            {
                "mode": s(
                    "Dedicated: a database per tenant. Shared: a schema in a shared database.",
                    enum=["Dedicated", "Shared"],
                    default="Dedicated",
                ),
                "connectionLimit": i("Connections the tenant may open.", minimum=1, maximum=10000),
            },
        ),
        "backup": obj(
            "Backups of the tenant's data.",
            {
                "schedule": s('Cron schedule (UTC), e.g. "0 3 * * *".', maxLength=100, pattern=r"^(\S+\s+){4}\S+$"),
                "retention": obj(
                    "How many backups to keep.",
                    {
                        "daily": i("Daily backups kept.", minimum=0, maximum=366),
                        "weekly": i("Weekly backups kept.", minimum=0, maximum=104),
                        "monthly": i("Monthly backups kept.", minimum=0, maximum=120),
                    },
                ),
            },
        ),
        "pricing": obj(
            "Prices of the plan.",
            {
                "currency": s("ISO 4217 currency code, e.g. EUR.", pattern=r"^[A-Z]{3}$"),
                "prices": prices("Price per billing cycle: Monthly, Yearly."),
                "setupFee": money("Charged on the first invoice."),
                "trialDays": i("Days of free trial for new tenants.", minimum=0, maximum=365, default=0),
                "prorate": b("Charge partial periods by days on the plan.", default=True),
                "seatPrice": money("Price per seat beyond the included users, per period."),
                "seatsPerModule": b("Charge seats per enabled module.", default=False),
                "metered": {
                    "type": "array",
                    "description": "Usage billed beyond the limit when the overuse policy is Bill.",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["meter"],
                    "maxItems": 20,
                    "items": obj(
                        "A metered price.",
                        {
                            "meter": s("What is metered.", enum=["traffic", "storage", "databaseStorage", "users"]),
                            "unit": s("Unit of the price, e.g. GiB.", maxLength=20),
                            "unitPrice": money("Price per unit beyond the limit."),
                        },
                        required=["meter", "unit", "unitPrice"],
                    ),
                },
                "discounts": {
                    "type": "object",
                    "description": "Percent discount by customer type (Business, Individual, Charity, Education).",
                    "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100},
                    "x-kubernetes-validations": [
                        rule(
                            "self.all(k, k in ['Business', 'Individual', 'Charity', 'Education'])",
                            "customer types are Business, Individual, Charity and Education",
                        )
                    ],
                },
            },
            required=["currency", "prices"],
        ),
        "upgradesTo": names("Plans a tenant may upgrade to."),
        "downgradesTo": names("Plans a tenant may downgrade to."),
    },
)

# -- AddOn -----------------------------------------------------------------------------------
ADDON_SPEC = obj(
    "A pack that adds to a plan.",
    {
        "displayName": s("Name shown to people.", maxLength=100),
        "description": s("A sentence about the add-on.", maxLength=1000),
        "plans": names("Plans it can be added to; empty means every plan."),
        "maxQuantity": i(
            '1: at most once. More: packs such as "+5 users" up to this many.', minimum=1, maximum=1000, default=1
        ),
        "limits": limits('Increments per unit. An unset limit adds nothing; "unlimited" lifts the limit.'),
        "features": features("Modules it enables."),
        "pricing": obj(
            "Price per unit; the currency must be the plan's.",
            {
                "currency": s("ISO 4217 currency code; must match the plan's.", pattern=r"^[A-Z]{3}$"),
                "prices": prices("Price per unit and billing cycle."),
                "setupFee": money("Charged once when added."),
            },
        ),
    },
)

# -- Reseller --------------------------------------------------------------------------------
RESELLER_SPEC = obj(
    "A reseller: its clients' tenants are billed to it and carry its branding.",
    {
        "displayName": s("Name shown to people.", maxLength=100),
        "discountPercent": i("Discount on everything billed to the reseller.", minimum=0, maximum=100, default=0),
        "baseDomain": s(
            "Base domain of its clients' subdomains, e.g. apps.webagency.example.", pattern=HOSTNAME, maxLength=253
        ),
        "branding": branding("White-label defaults for its clients."),
        "notifyEmail": s("Where notifications about its clients go.", format="email", maxLength=254),
        "allocation": obj(
            "What all its tenants together may use.",
            {
                "tenants": i("How many tenants it may have.", minimum=0),
                "limits": limits("Sum of its tenants' effective limits."),
                "oversell": b("Allow the sum to exceed the allocation.", default=False),
            },
        ),
    },
)

# -- Tenant ----------------------------------------------------------------------------------
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
                    "Label under the base domain; defaults to the tenant's name. Immutable once set.",
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
        )
        | {
            "x-kubernetes-validations": [
                rule(
                    "!has(oldSelf.subdomain) || (has(self.subdomain) && self.subdomain == oldSelf.subdomain)",
                    "domains.subdomain is immutable once set; create a new tenant to change it",
                )
            ]
        },
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
)

CONDITION = obj(
    "A condition of the tenant.",
    {
        "type": s("Ready, NamespaceReady, QuotaReady, NetworkReady, AccessReady or PlanSynced."),
        "status": s("True, False or Unknown.", enum=["True", "False", "Unknown"]),
        "reason": s("One CamelCase word."),
        "message": s("What is wrong and what to do."),
        "observedGeneration": i("The generation the condition is about."),
        "lastTransitionTime": s("When the status last changed.", format="date-time"),
    },
    required=["type", "status"],
)

EFFECTIVE = obj(
    "What the tenant actually gets.",
    {
        "limits": {"type": "object", "description": "Effective limits.", "x-kubernetes-preserve-unknown-fields": True},
        "features": {"type": "array", "description": "Effective modules.", "items": {"type": "string"}},
    },
)

TENANT_STATUS = obj(
    "Observed state, written by the operator only.",
    {
        "phase": s(
            "Pending, Provisioning, Trial, Active, Suspended, Terminating or Failed.",
            enum=["Pending", "Provisioning", "Trial", "Active", "Suspended", "Terminating", "Failed"],
        ),
        "reason": s("Why the tenant is in its phase (e.g. Expired, Manual, PlanRetired)."),
        "message": s("What is wrong and what to do, when something is."),
        "observedGeneration": i("The generation last reconciled."),
        "namespace": s("The tenant's namespace."),
        "url": s("The tenant's address."),
        "conditions": {
            "type": "array",
            "description": "Conditions.",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            "items": CONDITION,
        },
        "effective": EFFECTIVE,
        "planSync": obj(
            "How the tenant follows its plan.",
            {
                "state": s(
                    "Synced, Customized, Locked or Unsynchronized.",
                    enum=["Synced", "Customized", "Locked", "Unsynchronized"],
                ),
                "unsynchronized": {
                    "type": "array",
                    "description": "Properties the cluster cannot deliver.",
                    "items": obj(
                        "A property not delivered.",
                        {
                            "property": s("e.g. limits.storage."),
                            "promised": s("What plan, add-ons and overrides promise."),
                            "available": s("What is delivered."),
                        },
                    ),
                },
                "locked": {
                    "type": "object",
                    "description": "Snapshot kept while syncPolicy is Locked.",
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
        ),
        "planHistory": {
            "type": "array",
            "description": "Plans over time, for proration.",
            "items": obj("A plan period.", {"plan": s("Plan name."), "since": s("Start.", format="date-time")}),
        },
        "trialEndsAt": s("End of the trial.", format="date-time"),
        "suspendedAt": s("When the tenant was suspended.", format="date-time"),
        "deletionPolicy": s("The deletion policy recorded for data clean-up."),
    },
) | {"x-kubernetes-preserve-unknown-fields": True}

USAGE_STATUS = obj(
    "Observed state, written by the operator only.",
    {
        "tenants": i("How many tenants use it."),
        "usedBy": {
            "type": "array",
            "description": "Names of tenants using it (first 50).",
            "items": {"type": "string"},
        },
        "message": s("Why a deletion is held, when it is."),
    },
) | {"x-kubernetes-preserve-unknown-fields": True}


def crd(
    kind: str,
    plural: str,
    short: str,
    spec: dict[str, Any],
    status: dict[str, Any],
    columns: list[dict[str, Any]],
    description: str,
    root_rules: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": s("APIVersion of this representation: landlord.dev/v1alpha1."),
            "kind": s(f"Kind: {kind}."),
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if root_rules:
        schema["x-kubernetes-validations"] = root_rules
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "listKind": f"{kind}List",
                "categories": ["landlord"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _col(name: str, path: str, kind: str = "string", priority: int = 0) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": kind, "jsonPath": path}
    if priority:
        column["priority"] = priority
    return column


AGE = _col("Age", ".metadata.creationTimestamp", "date")
NAME_RULE = rule(
    "self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 61",
    "the tenant name must be a DNS label (lower case letters, digits, '-') of at most 61 characters, "
    "because its namespace is t-<name>",
)


def all_crds() -> list[dict[str, Any]]:
    return [
        crd(
            "Plan",
            "plans",
            "plan",
            PLAN_SPEC,
            USAGE_STATUS,
            [
                _col("Currency", ".spec.pricing.currency"),
                _col("Monthly", ".spec.pricing.prices.Monthly"),
                _col("Tenants", ".status.tenants", "integer"),
                _col("Retired", ".spec.retired", "boolean"),
                AGE,
            ],
            "A Landlord service plan.",
        ),
        crd(
            "AddOn",
            "addons",
            "addon",
            ADDON_SPEC,
            USAGE_STATUS,
            [
                _col("Max", ".spec.maxQuantity", "integer"),
                _col("Tenants", ".status.tenants", "integer"),
                AGE,
            ],
            "A Landlord add-on pack.",
        ),
        crd(
            "Reseller",
            "resellers",
            "rsl",
            RESELLER_SPEC,
            USAGE_STATUS,
            [
                _col("Domain", ".spec.baseDomain"),
                _col("Tenants", ".status.tenants", "integer"),
                AGE,
            ],
            "A Landlord reseller.",
        ),
        crd(
            "Tenant",
            "tenants",
            "tn",
            TENANT_SPEC,
            TENANT_STATUS,
            [
                _col("Plan", ".spec.plan"),
                _col("Phase", ".status.phase"),
                _col("URL", ".status.url"),
                _col("Sync", ".status.planSync.state"),
                _col("Reseller", ".spec.reseller", priority=1),
                AGE,
            ],
            "A Landlord tenant: one customer subscription.",
            [NAME_RULE],
        ),
    ]


def crd_by_kind() -> dict[str, dict[str, Any]]:
    return {c["spec"]["names"]["kind"]: c for c in all_crds()}
