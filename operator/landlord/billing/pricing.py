"""The pricing engine: typed inputs of one tenant and one period -> the invoice, to the cent.

Pure: no file, clock or cluster. The rules (DESIGN.md, "Billing rules"; docs/billing.md):

- Days are whole UTC days (`periods`). The days a tenant is billed for start on its first
  day after the trial; a period before the tenant existed cannot be invoiced.
- Plan lines: one per plan of the plan history that has billed days in the period, the cycle
  price x days on that plan / days in the period when the plan prorates. A plan that does not
  prorate is charged its whole price for the period, once, if it is the plan at the end of the
  period's billed days (earlier plans in that period are then not charged).
- Setup fee: the plan's, on the invoice of the first billed day (the day after the trial, or
  the first day without one); an add-on's setup fee x units added, on the invoice of the day
  they were added (or of the first billed day when added before it).
- Add-on lines: unit price x quantity, prorated like the plan at the end of the period, one
  line per add-on and stretch of constant quantity.
- Seats and metered usage are charged by the plan at the end of the period, only when the
  period has billed days: seats beyond the included users (per module when seatsPerModule),
  metered usage beyond the limit only when the overuse policy is Bill.
- Every line is rounded to the minor unit (ROUND_HALF_UP); subtotal = sum of the lines.
- Discounts, each on the running amount and rounded: customer type percent (the plan's
  `discounts`), coupon (percent, or a fixed amount never taking the amount below zero),
  reseller percent when the reseller is billed.
- Tax on the discounted amount (`tax.decide`); total = taxable + tax.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .issues import Issue, PricingError
from .money import ZERO, format_money, minor_units, percent_of, plain, round_money
from .periods import EARLIEST, LATEST, Period, day_of, describe_span, whole_name
from .tax import TaxParty, decide

BYTE_METERS = frozenset({"traffic", "storage", "databaseStorage"})
# Units a metered price may be quoted in, for the meters measured in bytes.
BYTE_UNITS: dict[str, Decimal] = {
    "B": Decimal(1),
    "KB": Decimal(10) ** 3,
    "kB": Decimal(10) ** 3,
    "MB": Decimal(10) ** 6,
    "GB": Decimal(10) ** 9,
    "TB": Decimal(10) ** 12,
    "PB": Decimal(10) ** 15,
    "KiB": Decimal(2) ** 10,
    "MiB": Decimal(2) ** 20,
    "GiB": Decimal(2) ** 30,
    "TiB": Decimal(2) ** 40,
    "PiB": Decimal(2) ** 50,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
}
# Metered quantities are billed in thousandths of the price's unit.
METERED_QUANTUM = Decimal("0.001")


# -- Inputs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeteredPrice:
    """A price per unit of usage beyond the limit (`spec.pricing.metered[]` of a plan)."""

    meter: str
    unit: str
    unit_price: Decimal


@dataclass(frozen=True)
class PlanTerms:
    """What a plan costs (`spec.pricing`), and the overuse policy that decides metered charges."""

    name: str
    currency: str
    prices: Mapping[str, Decimal]
    display_name: str | None = None
    setup_fee: Decimal = ZERO
    prorate: bool = True
    seat_price: Decimal | None = None
    seats_per_module: bool = False
    metered: tuple[MeteredPrice, ...] = ()
    discounts: Mapping[str, Decimal] = field(default_factory=dict)
    overuse: str = "Notify"

    @property
    def title(self) -> str:
        return self.display_name or self.name


@dataclass(frozen=True)
class AddOnTerms:
    """What one unit of an add-on costs."""

    name: str
    prices: Mapping[str, Decimal]
    display_name: str | None = None
    currency: str | None = None
    setup_fee: Decimal = ZERO

    @property
    def title(self) -> str:
        return self.display_name or self.name


@dataclass(frozen=True)
class PlanChange:
    """An entry of the plan history: the plan from `since` on (the first entry: from the start)."""

    plan: PlanTerms
    since: datetime | None = None


@dataclass(frozen=True)
class AddOnChange:
    """The whole set of add-ons, with quantities, from `since` on (the first entry: from the start)."""

    add_ons: tuple[tuple[AddOnTerms, int], ...]
    since: datetime | None = None


@dataclass(frozen=True)
class Usage:
    """What the tenant used in the period: meters in base units (bytes, counts), peak seats."""

    meters: Mapping[str, Decimal] = field(default_factory=dict)
    seats_total: int | None = None
    seats_by_module: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Entitlement:
    """The tenant's effective values at the end of the period: included seats and meter limits.

    `users` None is unlimited; a meter missing from `limits` has limit 0, None is unlimited.
    """

    users: Decimal | None = ZERO
    limits: Mapping[str, Decimal | None] = field(default_factory=dict)


@dataclass(frozen=True)
class BillTo:
    """The billed party: the tenant, or its reseller (`reseller` True)."""

    name: str
    country: str | None = None
    tax_id: str | None = None
    customer_type: str = "Business"
    reseller: bool = False
    where: str = "Tenant"  # the document holding its billing fields, for issues


@dataclass(frozen=True)
class Coupon:
    """A coupon of the configuration: a percent, or a fixed amount (in `currency` when given)."""

    code: str
    percent: Decimal | None = None
    amount: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class InvoiceInput:
    """Everything one invoice depends on."""

    tenant: str
    period: Period
    plans: tuple[PlanChange, ...]
    bill_to: BillTo
    seller_country: str
    tax_rates: Mapping[str, Decimal] = field(default_factory=dict)
    started: datetime | None = None  # creation; None: before every period asked about
    trial_ends_at: datetime | None = None
    add_ons: tuple[AddOnChange, ...] = ()
    usage: Usage = field(default_factory=Usage)
    entitlement: Entitlement = field(default_factory=Entitlement)
    coupon: Coupon | None = None
    reseller_discount: Decimal = ZERO  # percent, applied when the reseller is billed


# -- Output ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """One invoice line; `amount` is already rounded (it may differ from quantity x unit price
    for a prorated line, whose description gives the days)."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    kind: str  # plan | addon | setup | seats | metered


@dataclass(frozen=True)
class Discount:
    description: str
    amount: Decimal


@dataclass(frozen=True)
class Invoice:
    """The priced invoice: lines, discounts in the order applied, tax and total."""

    tenant: str
    bill_to: str
    currency: str
    period: Period
    lines: tuple[Line, ...]
    subtotal: Decimal
    discounts: tuple[Discount, ...]
    taxable: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal
    notes: tuple[str, ...]
    reverse_charge: bool = False

    def money(self, amount: Decimal) -> str:
        return format_money(amount, self.currency)

    def price(self, amount: Decimal) -> str:
        """A unit price: the currency's decimals, more only when the price has more."""
        exponent = amount.normalize().as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if decimals > minor_units(self.currency):
            return plain(amount)
        return self.money(amount)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (`landlord invoice preview --output json`): money as decimal strings."""
        return {
            "billTo": self.bill_to,
            "currency": self.currency,
            "period": self.period.label,
            "lines": [
                {
                    "description": line.description,
                    "quantity": plain(line.quantity),
                    "unitPrice": self.price(line.unit_price),
                    "amount": self.money(line.amount),
                }
                for line in self.lines
            ],
            "subtotal": self.money(self.subtotal),
            "discounts": [{"description": d.description, "amount": self.money(d.amount)} for d in self.discounts],
            "taxable": self.money(self.taxable),
            "taxRate": plain(self.tax_rate),
            "tax": self.money(self.tax),
            "total": self.money(self.total),
            "notes": list(self.notes),
        }


# -- The engine ------------------------------------------------------------------------------
Span = tuple[date, date]


def _segments(starts: list[date]) -> list[Span]:
    """Consecutive day ranges from change days: the first from the beginning, the last open."""
    bounds = [EARLIEST]
    for start in starts[1:]:
        bounds.append(max(start, bounds[-1]))  # a change on the same day: the later one wins the day
    bounds.append(LATEST)
    return [(bounds[n], bounds[n + 1]) for n in range(len(starts))]


def _price(plan_or_addon: PlanTerms | AddOnTerms, cycle: str) -> Decimal:
    price = plan_or_addon.prices.get(cycle)
    if price is None:
        kind = "Plan" if isinstance(plan_or_addon, PlanTerms) else "AddOn"
        offered = ", ".join(sorted(plan_or_addon.prices)) or "none"
        raise PricingError(
            Issue(
                f"{kind}/{plan_or_addon.name}",
                "spec.pricing.prices",
                f"no {cycle} price (prices for: {offered}); add one, or bill the tenant on a cycle it has",
            )
        )
    return price


def _days_note(days: int, period: Period) -> str:
    return "" if days == period.days else f" ({days}/{period.days} days)"


def unit_size(price: MeteredPrice, plan: PlanTerms) -> Decimal:
    """How many base units (bytes, or one for counts) one unit of the price is."""
    if price.meter not in BYTE_METERS:
        return Decimal(1)
    size = BYTE_UNITS.get(price.unit)
    if size is None:
        index = next(n for n, p in enumerate(plan.metered) if p is price)
        raise PricingError(
            Issue(
                f"Plan/{plan.name}",
                f"spec.pricing.metered[{index}].unit",
                f"unknown unit {price.unit!r} for {price.meter}; use one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB",
            )
        )
    return size


class _Pricer:
    """One invoice being priced: the days, the plans and add-ons on them, and the lines so far."""

    def __init__(self, given: InvoiceInput) -> None:
        if not given.plans:
            raise PricingError(Issue("Tenant", "spec.plan", "no plan to bill; set spec.plan"))
        self.given = given
        self.period = given.period
        self.cycle = given.period.cycle
        self.start = day_of(given.started) if given.started else EARLIEST
        trial_end = day_of(given.trial_ends_at) if given.trial_ends_at else EARLIEST
        self.first_billed = max(self.start, trial_end)
        if self.start >= self.period.end:
            raise PricingError(
                Issue(
                    "period", "", f"the tenant started on {self.start.isoformat()}, after this period; nothing to bill"
                )
            )
        self.billed = self.period.overlap(self.first_billed, LATEST)
        self.trial = self.period.overlap(self.start, trial_end) if given.trial_ends_at else None
        spans = _segments([day_of(c.since) if c.since else EARLIEST for c in given.plans])
        self.plan_spans = [(span, change.plan) for span, change in zip(spans, given.plans, strict=True)]
        self.last_day = (self.billed[1] if self.billed else self.period.end) - timedelta(days=1)
        self.current = self.plan_on(self.last_day)
        self.currency = self.current.currency
        self.lines: list[Line] = []

    def plan_on(self, day: date) -> PlanTerms:
        for (low, high), plan in self.plan_spans:
            if low <= day < high:
                return plan
        return self.plan_spans[-1][1]

    def check_currencies(self) -> None:
        for (low, high), plan in self.plan_spans:
            if self.period.overlap(low, high) and plan.currency != self.currency:
                raise PricingError(
                    Issue(
                        f"Plan/{plan.name}",
                        "spec.pricing.currency",
                        f"priced in {plan.currency}, but the invoice is in {self.currency} (plan "
                        f"{self.current.name}); a subscription keeps one currency",
                    )
                )
        for change in self.given.add_ons:
            for addon, _ in change.add_ons:
                if addon.currency and addon.currency != self.currency:
                    raise PricingError(
                        Issue(
                            f"AddOn/{addon.name}",
                            "spec.pricing.currency",
                            f"priced in {addon.currency}, but the plan in {self.currency}; use the plan's currency",
                        )
                    )

    def round(self, amount: Decimal) -> Decimal:
        return round_money(amount, self.currency)

    def add(self, description: str, quantity: Decimal, unit_price: Decimal, amount: Decimal, kind: str) -> None:
        self.lines.append(Line(description, quantity, unit_price, self.round(amount), kind))

    # -- lines ---------------------------------------------------------------------------
    def plan_lines(self) -> None:
        if self.billed is None:
            return
        low, high = self.billed
        on_plans = [
            (max(start, low), min(end, high), plan)
            for (start, end), plan in self.plan_spans
            if max(start, low) < min(end, high)
        ]
        for index, (start, end, plan) in enumerate(on_plans):
            price = _price(plan, self.cycle)
            if plan.prorate:
                days = (end - start).days
                span = describe_span(start, end, self.period)
                amount = price * days / self.period.days
                self.add(f"{plan.title} plan, {span}{_days_note(days, self.period)}", Decimal(1), price, amount, "plan")
            elif index == len(on_plans) - 1:
                self.add(f"{plan.title} plan, {whole_name(self.period)}", Decimal(1), price, price, "plan")

    def setup_fees(self) -> None:
        if self.first_billed == EARLIEST or not self.period.contains(self.first_billed):
            return
        plan = self.plan_on(self.first_billed)
        if plan.setup_fee > 0:
            self.add(f"Setup fee, {plan.title} plan", Decimal(1), plan.setup_fee, plan.setup_fee, "setup")

    def addon_lines(self) -> None:
        changes = self.given.add_ons
        if not changes:
            return
        spans = _segments([day_of(c.since) if c.since else EARLIEST for c in changes])
        names: list[str] = []
        terms: dict[str, AddOnTerms] = {}
        for change in changes:
            for addon, _ in change.add_ons:
                if addon.name not in terms:
                    names.append(addon.name)
                terms[addon.name] = addon
        prorate = self.current.prorate
        for name in names:
            # Stretches of constant quantity of this add-on.
            stretches: list[tuple[date, date, int]] = []
            for (start, end), change in zip(spans, changes, strict=True):
                if start >= end:
                    continue
                quantity = sum(q for a, q in change.add_ons if a.name == name)
                if stretches and stretches[-1][2] == quantity and stretches[-1][1] == start:
                    stretches[-1] = (stretches[-1][0], end, quantity)
                else:
                    stretches.append((start, end, quantity))
            addon = terms[name]
            self._addon_charges(addon, stretches, prorate)
            self._addon_setup(addon, stretches)

    def _addon_charges(self, addon: AddOnTerms, stretches: list[tuple[date, date, int]], prorate: bool) -> None:
        if self.billed is None:
            return
        low, high = self.billed
        billed = [
            (max(start, low), min(end, high), quantity)
            for start, end, quantity in stretches
            if quantity > 0 and max(start, low) < min(end, high)
        ]
        if not billed:
            return
        price = _price(addon, self.cycle)
        if not prorate:
            start, end, quantity = billed[-1]
            if end == high:  # in force at the end of the billed days: the whole period
                self.add(
                    f"{addon.title}, {whole_name(self.period)}", Decimal(quantity), price, price * quantity, "addon"
                )
            return
        for start, end, quantity in billed:
            days = (end - start).days
            span = describe_span(start, end, self.period)
            amount = price * quantity * days / self.period.days
            self.add(f"{addon.title}, {span}{_days_note(days, self.period)}", Decimal(quantity), price, amount, "addon")

    def _addon_setup(self, addon: AddOnTerms, stretches: list[tuple[date, date, int]]) -> None:
        if addon.setup_fee <= 0 or self.first_billed == EARLIEST:
            return
        before = 0
        for start, _, quantity in stretches:
            added = quantity - before
            before = quantity
            charged_on = max(start, self.first_billed)
            if added > 0 and self.period.contains(charged_on):
                fee = addon.setup_fee
                self.add(f"Setup fee, {addon.title}", Decimal(added), fee, fee * added, "setup")

    def seat_lines(self) -> None:
        plan = self.current
        usage = self.given.usage
        included = self.given.entitlement.users
        if self.billed is None or not plan.seat_price or included is None:
            return
        if not usage.seats_by_module and usage.seats_total is None:
            return
        if plan.seats_per_module:
            if not usage.seats_by_module:
                raise PricingError(
                    Issue(
                        "usage",
                        "seats",
                        f"plan {plan.name} charges seats per module (seatsPerModule); give the peak seats by "
                        "module, e.g. seats: {crm: 14, invoicing: 9}",
                    )
                )
            for module in sorted(usage.seats_by_module):
                extra = max(Decimal(usage.seats_by_module[module]) - included, ZERO)
                if extra > 0:
                    self.add(
                        f"Seats beyond the {plain(included)} included, {module}",
                        extra,
                        plan.seat_price,
                        extra * plan.seat_price,
                        "seats",
                    )
            return
        if usage.seats_total is None:
            raise PricingError(
                Issue(
                    "usage",
                    "seats",
                    f"plan {plan.name} charges seats in total (seatsPerModule is false); give the peak number "
                    "of users, e.g. seats: {total: 14}",
                )
            )
        extra = max(Decimal(usage.seats_total) - included, ZERO)
        if extra > 0:
            self.add(
                f"Seats beyond the {plain(included)} included",
                extra,
                plan.seat_price,
                extra * plan.seat_price,
                "seats",
            )

    def metered_lines(self) -> None:
        plan = self.current
        if self.billed is None or plan.overuse != "Bill":
            return
        for price in plan.metered:
            used = self.given.usage.meters.get(price.meter)
            if used is None:
                continue
            limit = self.given.entitlement.limits.get(price.meter, ZERO)
            if limit is None:
                continue
            size = unit_size(price, plan)
            over = (max(used - limit, ZERO) / size).quantize(METERED_QUANTUM, rounding=ROUND_HALF_UP)
            if over <= 0:
                continue
            included = plain((limit / size).quantize(METERED_QUANTUM, rounding=ROUND_HALF_UP))
            self.add(
                f"{price.meter} beyond the {included} {price.unit} included",
                over,
                price.unit_price,
                over * price.unit_price,
                "metered",
            )

    # -- totals --------------------------------------------------------------------------
    def discounts(self, subtotal: Decimal) -> tuple[list[Discount], list[str], Decimal]:
        running = subtotal
        found: list[Discount] = []
        notes: list[str] = []
        bill_to = self.given.bill_to

        def take(description: str, amount: Decimal) -> None:
            nonlocal running
            amount = min(amount, running)  # never below zero
            if amount > 0:
                found.append(Discount(description, amount))
                running -= amount

        percent = self.current.discounts.get(bill_to.customer_type, ZERO)
        if percent > 0:
            take(f"{bill_to.customer_type} discount ({plain(percent)} %)", percent_of(running, percent, self.currency))
        coupon = self.given.coupon
        if coupon is not None:
            if coupon.percent is not None:
                take(
                    f"Coupon {coupon.code} ({plain(coupon.percent)} %)",
                    percent_of(running, coupon.percent, self.currency),
                )
            elif coupon.amount is not None:
                if coupon.currency and coupon.currency != self.currency:
                    notes.append(
                        f"Coupon {coupon.code} is in {coupon.currency} and was not applied to this "
                        f"{self.currency} invoice"
                    )
                else:
                    take(f"Coupon {coupon.code}", self.round(coupon.amount))
        if bill_to.reseller and self.given.reseller_discount > 0:
            pct = self.given.reseller_discount
            take(f"Reseller discount ({plain(pct)} %)", percent_of(running, pct, self.currency))
        return found, notes, running

    def price(self) -> Invoice:
        self.check_currencies()
        self.plan_lines()
        self.setup_fees()
        self.addon_lines()
        self.seat_lines()
        self.metered_lines()
        subtotal = sum((line.amount for line in self.lines), ZERO)
        subtotal = self.round(subtotal)
        found, notes, taxable = self.discounts(subtotal)
        given = self.given
        party = TaxParty(given.bill_to.country, given.bill_to.tax_id, given.bill_to.customer_type, given.bill_to.where)
        decision = decide(given.seller_country, party, given.tax_rates)
        tax = percent_of(taxable, decision.rate, self.currency)
        leading: list[str] = []
        if self.trial is not None:
            days = (self.trial[1] - self.trial[0]).days
            leading.append(f"Free trial: {describe_span(*self.trial, self.period)} ({days} days), not charged")
        if given.bill_to.reseller:
            leading.append(f"Services of tenant {given.tenant}, billed to reseller {given.bill_to.name}")
        return Invoice(
            tenant=given.tenant,
            bill_to=given.bill_to.name,
            currency=self.currency,
            period=self.period,
            lines=tuple(self.lines),
            subtotal=subtotal,
            discounts=tuple(found),
            taxable=taxable,
            tax_rate=decision.rate,
            tax=tax,
            total=taxable + tax,
            notes=(*leading, *notes, *decision.notes),
            reverse_charge=decision.reverse_charge,
        )


def price_invoice(given: InvoiceInput) -> Invoice:
    """The invoice for `given.period`; PricingError (with the field to fix) when it cannot be priced."""
    return _Pricer(given).price()
