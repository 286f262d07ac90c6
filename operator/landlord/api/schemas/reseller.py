"""The Reseller spec: discount, base domain, branding defaults and allocation."""

from __future__ import annotations

from .fragments import branding, limits
from .nodes import b, i, obj, s
from .vocabulary import HOSTNAME

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
