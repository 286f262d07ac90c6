"""Schema fragments shared by several Landlord kinds: limits, money, prices, features, branding."""

from __future__ import annotations

from typing import Any

from .nodes import names, obj, rule, s
from .vocabulary import COUNT_LIMITS, DECIMAL, LIMIT_KEYS, QUANTITY


def money(description: str) -> dict[str, Any]:
    """A decimal string with at most two decimals (never a float)."""
    return s(
        f'{description} A decimal string with at most two decimals, e.g. "49.00"; never a float.',
        pattern=DECIMAL,
        maxLength=16,
    )


def limit(key: str, description: str) -> dict[str, Any]:
    """One limit: a whole number or a quantity depending on `key`, or "unlimited"."""
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
    """An object with every limit key (cpu, memory, ... traffic)."""
    return obj(description, {key: limit(key, LIMIT_DESCRIPTIONS[key]) for key in LIMIT_KEYS})


def features(description: str) -> dict[str, Any]:
    """A set of module names the tenant application enables."""
    return names(description)


def prices(description: str) -> dict[str, Any]:
    """A map of billing cycle (Monthly, Yearly) to price."""
    return {
        "type": "object",
        "description": description,
        "additionalProperties": money("Price for this billing cycle."),
        "x-kubernetes-validations": [
            rule("self.all(k, k in ['Monthly', 'Yearly'])", "billing cycles are Monthly and Yearly")
        ],
    }


def branding(description: str) -> dict[str, Any]:
    """White-label settings: product name, logo, colours, e-mail addresses."""
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
