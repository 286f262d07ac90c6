"""Which tax rate an invoice carries, and the mention that must be printed with it.

Rates are the operator's (configuration `billing.taxRates`, percent by country); what is built
in is EU membership and the rule that decides between them:

- The seller in the EU, the billed party in the EU:
  - a business (customer type Business) with a VAT number, in another EU country than the
    seller: 0 %, reverse charge (the buyer accounts for the VAT), with the mention;
  - anyone else: the rate of the billed party's country (electronically supplied services
    are taxed where the customer is). The rate must be configured.
- The seller in the EU, the billed party outside it: 0 % (outside the scope of EU VAT), unless
  the configuration lists a rate for that country (a seller registered there).
- A seller outside the EU: the configured rate of the billed party's country, else 0 %.
- No billing country known: taxed as in the seller's country, with a note saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .issues import Issue, PricingError
from .money import ZERO, plain

EU_MEMBERS = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
)
"""The 27 member states (ISO 3166-1 alpha-2)."""

# VAT numbers start with the country code, except Greece's (EL).
_VAT_PREFIX = {"GR": "EL"}

REVERSE_CHARGE = "Reverse charge: VAT to be accounted for by the recipient (Article 196, Council Directive 2006/112/EC)"
OUTSIDE_EU = "VAT not applicable: the customer is established outside the EU"


def vat_prefix(country: str) -> str:
    """The two letters an EU VAT number of this country starts with."""
    return _VAT_PREFIX.get(country, country)


@dataclass(frozen=True)
class TaxParty:
    """Who is billed, as far as tax is concerned."""

    country: str | None
    tax_id: str | None
    customer_type: str
    where: str = "Tenant"  # whose document holds these fields, for issues


@dataclass(frozen=True)
class TaxDecision:
    """The rate (percent), whether the reverse charge applies, and the mentions to print."""

    rate: Decimal
    reverse_charge: bool
    notes: tuple[str, ...] = ()


def decide(seller_country: str, party: TaxParty, rates: Mapping[str, Decimal]) -> TaxDecision:
    """The tax rate for this billed party, by the rules above; PricingError when a rate is missing."""
    country = party.country
    notes: list[str] = []
    if country is None:
        country = seller_country
        notes.append(f"No billing country on record: taxed as in {seller_country}, the seller's country")
    seller_in_eu = seller_country in EU_MEMBERS
    if seller_in_eu and country in EU_MEMBERS:
        if party.customer_type == "Business" and party.tax_id and country != seller_country:
            prefix = vat_prefix(country)
            if not party.tax_id.upper().startswith(prefix):
                raise PricingError(
                    Issue(
                        party.where,
                        "spec.billing.taxId",
                        f"{party.tax_id!r} is not a VAT number of {country} (those start with {prefix}); "
                        "fix the tax id or the country",
                    )
                )
            return TaxDecision(ZERO, True, (*notes, f"{REVERSE_CHARGE}. Customer VAT number: {party.tax_id}"))
        if country not in rates:
            raise PricingError(
                Issue(
                    "config",
                    "billing.taxRates",
                    f'no rate for {country}, needed to tax this customer; add it, e.g. {country}: "20"',
                )
            )
        rate = rates[country]
        return TaxDecision(rate, False, tuple(notes))
    if country in rates:
        return TaxDecision(rates[country], False, tuple(notes))
    if seller_in_eu:
        notes.append(OUTSIDE_EU)
    return TaxDecision(ZERO, False, tuple(notes))


def rate_text(rate: Decimal) -> str:
    """A rate as printed: 20, 5.5."""
    return plain(rate)
