"""The Reseller spec: discount, base domain, branding defaults and allocation."""

from __future__ import annotations

from .fragments import branding, limits
from .nodes import b, i, obj, s
from .vocabulary import CUSTOMER_TYPES, HOSTNAME

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
        "billing": obj(
            "Billing identity of the reseller, which is billed for its clients' tenants (with its discount): "
            "its country and tax id decide the tax on those invoices.",
            {
                "country": s("ISO 3166-1 alpha-2 country of the reseller, e.g. FR.", pattern=r"^[A-Z]{2}$"),
                "taxId": s("VAT or tax identifier.", pattern=r"^[A-Z0-9]{4,20}$"),
                "customerType": s(
                    "Business, Individual, Charity or Education.", enum=list(CUSTOMER_TYPES), default="Business"
                ),
            },
        ),
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
