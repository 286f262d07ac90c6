"""The AddOn spec: a pack that adds limits and features to compatible plans."""

from __future__ import annotations

from .fragments import features, limits, money, prices
from .nodes import i, names, obj, s

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
