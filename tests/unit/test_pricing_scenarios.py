"""Worked invoices, every amount computed by hand in the comments (DESIGN.md, "Billing rules").

Each scenario is a Tenant document, a period and the usage, priced against the small catalogue
below through the same path as `landlord invoice preview` (`billing.prepare`, then
`billing.price_invoice`). Seller: FR. Rates: FR 20 %, DE 19 %. Rounding: ROUND_HALF_UP to the
cent, line by line, then discount by discount, then the tax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from landlord.billing import Invoice, PricingError, prepare, price_invoice
from landlord.config import parse
from landlord.pipeline import StaticCatalogue

API = "landlord.dev/v1alpha1"
CONFIG = parse(
    {
        "billing": {
            "seller": {"name": "Example Hosting SAS", "country": "FR", "taxId": "FR40303265045"},
            "taxRates": {"FR": "20", "DE": "19"},
            "coupons": {"WELCOME10": {"percent": "10"}, "FIVEOFF": {"amount": "5.00"}},
        }
    }
)
ANNIVERSARY = parse({"billing": {**CONFIG.raw["billing"], "anniversary": True}})


def _plan(name: str, monthly: str, yearly: str, **pricing: Any) -> dict[str, Any]:
    spec = pricing.pop("spec", {})
    return {
        "apiVersion": API,
        "kind": "Plan",
        "metadata": {"name": name},
        "spec": {
            "limits": {"cpu": "2", "users": 10, "traffic": "100Gi"},
            "features": ["crm", "invoicing"],
            "overuse": {"policy": "Notify"},
            "pricing": {
                "currency": "EUR",
                "prices": {"Monthly": monthly, "Yearly": yearly},
                "trialDays": 14,
                "seatPrice": "5.00",
                "metered": [{"meter": "traffic", "unit": "GiB", "unitPrice": "0.08"}],
                "discounts": {"Charity": 20, "Education": 20},
                **pricing,
            },
            **spec,
        },
    }


CATALOGUE = StaticCatalogue(
    [
        _plan("starter", "19.00", "190.00", spec={"limits": {"users": 3}, "features": ["crm"]}),
        _plan("pro", "49.00", "490.00"),
        _plan("pro-bill", "49.00", "490.00", spec={"overuse": {"policy": "Bill"}}),
        _plan("modules", "49.00", "490.00", seatsPerModule=True),
        _plan("enterprise", "149.00", "1490.00", setupFee="99.00"),
        _plan("fixed", "30.00", "300.00", prorate=False),
        {
            "apiVersion": API,
            "kind": "AddOn",
            "metadata": {"name": "extra-users-5"},
            "spec": {
                "displayName": "+5 users",
                "maxQuantity": 10,
                "limits": {"users": 5},
                "pricing": {"currency": "EUR", "prices": {"Monthly": "20.00", "Yearly": "200.00"}, "setupFee": "10.00"},
            },
        },
        {
            "apiVersion": API,
            "kind": "Reseller",
            "metadata": {"name": "webagency"},
            "spec": {
                "discountPercent": 20,
                "billing": {"country": "FR", "taxId": "FR12345678901", "customerType": "Business"},
            },
        },
    ]
)

FR_PERSON = {"country": "FR", "customerType": "Individual"}
FR_COMPANY = {"country": "FR", "taxId": "FR40303265045", "customerType": "Business"}
OLD = "2024-06-15T08:00:00Z"  # created long before the periods below, trial long over


def tenant(
    plan: str = "pro",
    billing: dict[str, Any] | None = None,
    created: str | None = OLD,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "acme"}
    if created:
        metadata["creationTimestamp"] = created
    body: dict[str, Any] = {
        "apiVersion": API,
        "kind": "Tenant",
        "metadata": metadata,
        "spec": {"plan": plan, "billing": billing if billing is not None else dict(FR_PERSON), **spec},
    }
    if status is not None:
        body["status"] = status
    return body


def invoice(doc: dict[str, Any], period: str, usage: Any = None, config: Any = CONFIG) -> Invoice:
    return price_invoice(prepare(doc, CATALOGUE, usage, config.billing, period).input)


@dataclass(frozen=True)
class Scenario:
    name: str
    tenant: dict[str, Any]
    period: str
    lines: list[str]  # amounts, in order
    discounts: list[str]
    rate: str
    tax: str
    total: str
    usage: Any = None
    notes: list[str] = field(default_factory=list)  # fragments that must appear in the notes
    config: Any = CONFIG


SCENARIOS = [
    # A plain month: the whole of March on pro, a French individual.
    #   pro 49.00 x 31/31                                   = 49.00
    #   tax 20 % of 49.00                                   =  9.80
    #   total                                               = 58.80
    Scenario("plain-month", tenant(), "2025-03", ["49.00"], [], "20", "9.80", "58.80"),
    # Upgrade on day 10 of a 30-day month (June 2025), starter -> pro at 14:00 UTC: the 10th is on pro.
    #   starter 19.00 x 9/30  (1-9 June)   = 5.70
    #   pro     49.00 x 21/30 (10-30 June) = 34.30
    #   subtotal 40.00; a German individual: DE rate 19 % -> 7.60; total 47.60
    Scenario(
        "upgrade-day-10-of-30",
        tenant(
            billing={"country": "DE", "customerType": "Individual"},
            status={
                "planHistory": [
                    {"plan": "starter", "since": OLD},
                    {"plan": "pro", "since": "2025-06-10T14:00:00Z"},
                ]
            },
        ),
        "2025-06",
        ["5.70", "34.30"],
        [],
        "19",
        "7.60",
        "47.60",
    ),
    # A 14-day trial from 20 January 2025, 12:00 UTC: free 20 Jan - 2 Feb, billed from 3 Feb.
    # January: 12 trial days, nothing billed; no setup fee yet.
    Scenario(
        "trial-first-month",
        tenant("enterprise", billing=dict(FR_COMPANY), created="2025-01-20T12:00:00Z"),
        "2025-01",
        [],
        [],
        "20",
        "0.00",
        "0.00",
        notes=["Free trial: 20 Jan to 31 Jan 2025 (12 days)"],
    ),
    # February (28 days): 2 trial days, 26 billed, and the setup fee on this first billed invoice.
    #   enterprise 149.00 x 26/28 = 138.357... -> 138.36
    #   setup fee                 =  99.00
    #   subtotal 237.36; FR business with FR VAT id: 20 % = 47.472 -> 47.47; total 284.83
    Scenario(
        "trial-second-month",
        tenant("enterprise", billing=dict(FR_COMPANY), created="2025-01-20T12:00:00Z"),
        "2025-02",
        ["138.36", "99.00"],
        [],
        "20",
        "47.47",
        "284.83",
        notes=["Free trial: 1 Feb to 2 Feb 2025 (2 days)"],
    ),
    # "+5 users" x 2 and 3 extra seats per module (seatsPerModule): included 10 + 2 x 5 = 20.
    #   modules plan             49.00
    #   +5 users  2 x 20.00   =  40.00
    #   seats crm       3 x 5 =  15.00   (peak 23 - 20)
    #   seats invoicing 3 x 5 =  15.00   (peak 23 - 20)
    #   subtotal 119.00; a US company: 0 %; total 119.00
    Scenario(
        "users-pack-and-seats-per-module",
        tenant(
            "modules",
            billing={"country": "US", "customerType": "Business"},
            addOns=[{"name": "extra-users-5", "quantity": 2}],
        ),
        "2025-03",
        ["49.00", "40.00", "15.00", "15.00"],
        [],
        "0",
        "0.00",
        "119.00",
        usage={"seats": {"crm": 23, "invoicing": 23}},
        notes=["VAT not applicable"],
    ),
    # Traffic overage under Bill: 130Gi used, 100Gi included: 30 GiB x 0.08 = 2.40.
    #   49.00 + 2.40 = 51.40; 20 % = 10.28; total 61.68
    Scenario(
        "traffic-overage-bill",
        tenant("pro-bill"),
        "2025-03",
        ["49.00", "2.40"],
        [],
        "20",
        "10.28",
        "61.68",
        usage={"meters": {"traffic": "130Gi"}},
    ),
    # The same usage under Notify: no overage line. 49.00; 9.80; 58.80
    Scenario(
        "traffic-overage-notify",
        tenant("pro"),
        "2025-03",
        ["49.00"],
        [],
        "20",
        "9.80",
        "58.80",
        usage={"meters": {"traffic": "130Gi"}},
    ),
    # A charity with coupon WELCOME10, each discount on the running amount:
    #   49.00 - charity 20 % (9.80) = 39.20 - coupon 10 % (3.92) = 35.28
    #   tax 20 % of 35.28 = 7.056 -> 7.06; total 42.34
    Scenario(
        "charity-and-percent-coupon",
        tenant(billing={"country": "FR", "customerType": "Charity", "coupon": "WELCOME10"}),
        "2025-03",
        ["49.00"],
        ["9.80", "3.92"],
        "20",
        "7.06",
        "42.34",
    ),
    # A charity with the fixed coupon FIVEOFF: 49.00 - 9.80 = 39.20 - 5.00 = 34.20; 20 % = 6.84; 41.04
    Scenario(
        "charity-and-fixed-coupon",
        tenant(billing={"country": "FR", "customerType": "Charity", "coupon": "FIVEOFF"}),
        "2025-03",
        ["49.00"],
        ["9.80", "5.00"],
        "20",
        "6.84",
        "41.04",
    ),
    # A tenant of reseller webagency: the reseller (FR company) is billed, with its 20 %.
    # The tenant's own billing identity (a German individual) is not the billed party.
    #   49.00 - reseller 20 % (9.80) = 39.20; FR 20 % = 7.84; total 47.04
    Scenario(
        "reseller-billed",
        tenant(billing={"country": "DE", "customerType": "Individual"}, reseller="webagency"),
        "2025-03",
        ["49.00"],
        ["9.80"],
        "20",
        "7.84",
        "47.04",
        notes=["billed to reseller webagency"],
    ),
    # A French company with its French VAT id: domestic, 20 %. 49.00; 9.80; 58.80
    Scenario("fr-business", tenant(billing=dict(FR_COMPANY)), "2025-03", ["49.00"], [], "20", "9.80", "58.80"),
    # A German company with a German VAT id, billed from France: reverse charge, 0 %. 49.00; 0.00; 49.00
    Scenario(
        "de-business-reverse-charge",
        tenant(billing={"country": "DE", "taxId": "DE123456789", "customerType": "Business"}),
        "2025-03",
        ["49.00"],
        [],
        "0",
        "0.00",
        "49.00",
        notes=["Reverse charge", "DE123456789"],
    ),
    # A German individual (no VAT id): taxed at the German rate: 49.00; 19 % = 9.31; 58.31
    Scenario(
        "de-individual",
        tenant(billing={"country": "DE", "customerType": "Individual"}),
        "2025-03",
        ["49.00"],
        [],
        "19",
        "9.31",
        "58.31",
    ),
    # A US customer: outside the EU, 0 %. 49.00; 0.00; 49.00
    Scenario(
        "us-customer",
        tenant(billing={"country": "US", "customerType": "Individual"}),
        "2025-03",
        ["49.00"],
        [],
        "0",
        "0.00",
        "49.00",
        notes=["VAT not applicable"],
    ),
    # A yearly cycle, the whole year: pro 490.00 + "+5 users" 200.00 = 690.00; 20 % = 138.00; 828.00
    Scenario(
        "yearly-whole",
        tenant(billing={**FR_PERSON, "cycle": "Yearly"}, addOns=[{"name": "extra-users-5", "quantity": 1}]),
        "2025",
        ["490.00", "200.00"],
        [],
        "20",
        "138.00",
        "828.00",
    ),
    # A yearly cycle, created 1 March 2025 and paying from day one: 306 of 365 days.
    #   pro 490.00 x 306/365 = 410.794... -> 410.79
    #   +5 users 200.00 x 306/365 = 167.671... -> 167.67
    #   +5 users setup fee 1 x 10.00 = 10.00 (first billed day in this period)
    #   subtotal 588.46; 20 % = 117.692 -> 117.69; total 706.15
    Scenario(
        "yearly-first-year-prorated",
        tenant(
            billing={**FR_PERSON, "cycle": "Yearly", "skipTrial": True},
            created="2025-03-01T09:00:00Z",
            addOns=[{"name": "extra-users-5", "quantity": 1}],
        ),
        "2025",
        ["410.79", "167.67", "10.00"],
        [],
        "20",
        "117.69",
        "706.15",
    ),
    # Anniversary billing, created 31 January: "2025-02" is 28 Feb - 30 Mar (31 days), all billed.
    #   49.00; 20 % = 9.80; 58.80
    Scenario(
        "anniversary-month",
        tenant(created="2024-01-31T10:00:00Z"),
        "2025-02",
        ["49.00"],
        [],
        "20",
        "9.80",
        "58.80",
        config=ANNIVERSARY,
    ),
    # A plan that does not prorate, upgraded to on 10 June from starter (prorated):
    #   starter 19.00 x 9/30 = 5.70; fixed 30.00 for the whole period (plan at the end)
    #   subtotal 35.70; 20 % = 7.14; total 42.84
    Scenario(
        "no-proration-plan",
        tenant(
            status={
                "planHistory": [
                    {"plan": "starter", "since": OLD},
                    {"plan": "fixed", "since": "2025-06-10T00:00:00Z"},
                ]
            },
            plan="fixed",
        ),
        "2025-06",
        ["5.70", "30.00"],
        [],
        "20",
        "7.14",
        "42.84",
    ),
    # Add-ons from status.addOnHistory: 1 pack until 16 June, 3 packs from 16 June (15 + 15 days).
    #   pro 49.00
    #   +5 users 1 x 20.00 x 15/30 = 10.00
    #   +5 users 3 x 20.00 x 15/30 = 30.00
    #   setup fee for the 2 packs added on 16 June: 2 x 10.00 = 20.00
    #   seats in total: included 10 + 3 x 5 = 25 (at the end of the period), peak 27: 2 x 5.00 = 10.00
    #   subtotal 119.00; FIVEOFF: 114.00; 20 % = 22.80; total 136.80
    Scenario(
        "addon-history",
        tenant(
            billing={**FR_PERSON, "coupon": "FIVEOFF"},
            addOns=[{"name": "extra-users-5", "quantity": 3}],
            status={
                "addOnHistory": [
                    {"since": OLD, "addOns": [{"name": "extra-users-5", "quantity": 1}]},
                    {"since": "2025-06-16T08:00:00Z", "addOns": [{"name": "extra-users-5", "quantity": 3}]},
                ]
            },
        ),
        "2025-06",
        ["49.00", "10.00", "30.00", "20.00", "10.00"],
        ["5.00"],
        "20",
        "22.80",
        "136.80",
        usage={"seats": {"total": 27}},
    ),
    # A fixed coupon never takes the amount below zero: trial month, nothing to discount.
    Scenario(
        "fixed-coupon-on-nothing",
        tenant(billing={**FR_PERSON, "coupon": "FIVEOFF"}, created="2025-01-20T12:00:00Z"),
        "2025-01",
        [],
        [],
        "20",
        "0.00",
        "0.00",
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_worked_scenario(scenario: Scenario) -> None:
    result = invoice(scenario.tenant, scenario.period, scenario.usage, scenario.config)
    shown = result.as_dict()
    assert [line["amount"] for line in shown["lines"]] == scenario.lines
    assert [d["amount"] for d in shown["discounts"]] == scenario.discounts
    assert (shown["taxRate"], shown["tax"], shown["total"]) == (scenario.rate, scenario.tax, scenario.total)
    # The invariant, on the printed strings: total = subtotal - discounts + tax.
    subtotal = sum((Decimal(a) for a in scenario.lines), Decimal("0.00"))
    assert shown["subtotal"] == str(subtotal)
    taxable = subtotal - sum((Decimal(d) for d in scenario.discounts), Decimal(0))
    assert shown["taxable"] == str(taxable)
    assert Decimal(shown["total"]) == taxable + Decimal(shown["tax"])
    for fragment in scenario.notes:
        assert any(fragment in note for note in shown["notes"]), (fragment, shown["notes"])


def test_lines_say_what_and_when() -> None:
    upgraded = invoice(SCENARIOS[1].tenant, "2025-06")
    assert [line.description for line in upgraded.lines] == [
        "starter plan, 1 Jun to 9 Jun 2025 (9/30 days)",
        "pro plan, 10 Jun to 30 Jun 2025 (21/30 days)",
    ]
    trial = invoice(SCENARIOS[3].tenant, "2025-02")
    assert [line.description for line in trial.lines] == [
        "enterprise plan, 3 Feb to 28 Feb 2025 (26/28 days)",
        "Setup fee, enterprise plan",
    ]
    seats = invoice(SCENARIOS[4].tenant, "2025-03", SCENARIOS[4].usage)
    assert seats.as_dict()["lines"][1] == {
        "description": "+5 users, Mar 2025",
        "quantity": "2",
        "unitPrice": "20.00",
        "amount": "40.00",
    }
    assert seats.lines[2].description == "Seats beyond the 20 included, crm"
    overage = invoice(SCENARIOS[5].tenant, "2025-03", SCENARIOS[5].usage).as_dict()["lines"][1]
    assert overage == {
        "description": "traffic beyond the 100 GiB included",
        "quantity": "30",
        "unitPrice": "0.08",
        "amount": "2.40",
    }
    charity = invoice(SCENARIOS[7].tenant, "2025-03").as_dict()
    assert [d["description"] for d in charity["discounts"]] == ["Charity discount (20 %)", "Coupon WELCOME10 (10 %)"]
    assert invoice(SCENARIOS[9].tenant, "2025-03").bill_to == "webagency"


def test_the_setup_fee_is_on_the_first_billed_invoice_only() -> None:
    doc = tenant("enterprise", billing=dict(FR_COMPANY), created="2025-01-20T12:00:00Z")
    kinds = {period: [line.kind for line in invoice(doc, period).lines] for period in ("2025-01", "2025-02", "2025-03")}
    assert kinds == {"2025-01": [], "2025-02": ["plan", "setup"], "2025-03": ["plan"]}
    skipped = tenant("enterprise", billing={**FR_COMPANY, "skipTrial": True}, created="2025-01-20T12:00:00Z")
    # No trial: 12 of 31 days of January, 149.00 x 12/31 = 57.677... -> 57.68, and the fee in January.
    assert [line.amount for line in invoice(skipped, "2025-01").lines] == [Decimal("57.68"), Decimal("99.00")]


def test_a_recorded_trial_end_wins_over_the_plan_trial_days() -> None:
    doc = tenant(created="2025-01-20T12:00:00Z", status={"trialEndsAt": "2025-01-25T12:00:00Z"})
    # Billed 25-31 January: 49.00 x 7/31 = 11.064... -> 11.06
    assert [line.amount for line in invoice(doc, "2025-01").lines] == [Decimal("11.06")]


def test_seats_in_total_and_unlimited_users() -> None:
    # pro: 10 included, peak 13 in all: 3 x 5.00 = 15.00
    assert invoice(tenant(), "2025-03", {"seats": {"total": 13}}).lines[-1].amount == Decimal("15.00")
    unlimited = tenant(overrides={"limits": {"users": "unlimited"}})
    assert [line.kind for line in invoice(unlimited, "2025-03", {"seats": {"total": 500}}).lines] == ["plan"]


def test_what_cannot_be_priced_names_the_field() -> None:
    def issues(doc: dict[str, Any], period: str, usage: Any = None, config: Any = CONFIG) -> list[tuple[str, str]]:
        with pytest.raises(PricingError) as caught:
            invoice(doc, period, usage, config)
        return [(i.where, i.field) for i in caught.value.issues]

    assert issues(tenant(billing={"country": "IT", "customerType": "Individual"}), "2025-03") == [
        ("config", "billing.taxRates")
    ]
    assert issues(tenant(billing={**FR_PERSON, "coupon": "NOPE"}), "2025-03") == [("Tenant", "spec.billing.coupon")]
    assert issues(tenant(), "2025") == [("period", "")]
    assert issues(tenant(), "2024-01") == [("period", "")]  # before the tenant was created
    assert issues(tenant("modules"), "2025-03", {"seats": {"total": 3}}) == [("usage", "seats")]
    assert issues(tenant(), "2025-03", {"seats": {"crm": 3}}) == [("usage", "seats")]
    assert issues(tenant(), "2025-03", {"meters": {"trafic": "1Gi"}, "extra": 1}) == [
        ("usage", "extra"),
        ("usage", "meters.trafic"),
    ]
    assert issues(tenant(), "2025-03", {"seats": {"sales": 3}}) == [("usage", "seats.sales")]
    german_id_in_italy = {"country": "IT", "taxId": "DE123456789", "customerType": "Business"}
    assert issues(tenant(billing=german_id_in_italy), "2025-03") == [("Tenant", "spec.billing.taxId")]
    assert issues(tenant("gone"), "2025-03") == [("Tenant", "spec.plan")]
    no_seller = parse({"billing": {"taxRates": {"FR": "20"}}})
    assert issues(tenant(), "2025-03", config=no_seller) == [("config", "billing.seller.country")]
