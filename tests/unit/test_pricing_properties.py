"""Properties of the pricing engine, over generated tenants, histories, usage, coupons and taxes.

- total = sum of lines - discounts + tax, and subtotal = sum of lines, on every invoice;
- no amount is ever negative, and every amount is whole cents;
- the prorated parts of a period add up to the whole within one cent per line, whatever the
  plan or add-on changes, and each part is the exact share rounded once;
- consecutive periods (calendar or anniversary) tile time without gaps or overlaps.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from landlord.billing import (
    AddOnChange,
    AddOnTerms,
    BillTo,
    Coupon,
    Entitlement,
    InvoiceInput,
    MeteredPrice,
    PlanChange,
    PlanTerms,
    Usage,
    parse_period,
    price_invoice,
)
from landlord.billing.money import round_money
from landlord.billing.periods import Period

CENT = Decimal("0.01")
RATES = {"FR": Decimal(20), "DE": Decimal(19), "IT": Decimal(22), "CH": Decimal("8.1")}

money = st.integers(min_value=0, max_value=10_000_000).map(lambda cents: Decimal(cents) / 100)
percent = st.integers(min_value=0, max_value=10_000).map(lambda hundredths: Decimal(hundredths) / 100)


@st.composite
def periods(draw: st.DrawFn) -> Period:
    cycle = draw(st.sampled_from(["Monthly", "Yearly"]))
    year = draw(st.integers(min_value=1990, max_value=2200))
    anchor = draw(st.none() | st.dates(min_value=date(1980, 1, 1), max_value=date(1989, 12, 31)))
    if cycle == "Monthly":
        return parse_period(f"{year}-{draw(st.integers(1, 12)):02d}", cycle, anchor)
    return parse_period(str(year), cycle, anchor)


def moment(day: date, seconds: int) -> datetime:
    return datetime.combine(day, time(0), UTC) + timedelta(seconds=seconds)


@st.composite
def change_days(draw: st.DrawFn, period: Period, most: int) -> list[date]:
    """Sorted days of changes inside the period (a change on the first day is allowed)."""
    offsets = draw(st.lists(st.integers(0, period.days - 1), max_size=most, unique=True))
    return [period.start + timedelta(days=n) for n in sorted(offsets)]


def plan(name: str, price: Decimal, **extra: object) -> PlanTerms:
    return PlanTerms(name=name, currency="EUR", prices={"Monthly": price, "Yearly": price}, **extra)  # type: ignore[arg-type]


@st.composite
def invoices(draw: st.DrawFn) -> InvoiceInput:
    """Anything the engine may be given: histories, trials, usage, discounts, coupons, taxes."""
    period = draw(periods())
    plans = []
    for n in range(draw(st.integers(1, 4))):
        plans.append(
            plan(
                f"p{n}",
                draw(money),
                setup_fee=draw(money),
                prorate=draw(st.booleans()),
                seat_price=draw(st.none() | money),
                metered=(MeteredPrice("traffic", draw(st.sampled_from(["GiB", "GB", "MiB"])), draw(money)),),
                discounts={"Charity": draw(percent), "Business": draw(percent)},
                overuse=draw(st.sampled_from(["Block", "Notify", "Bill"])),
            )
        )
    days = draw(change_days(period, len(plans) - 1))
    history = [PlanChange(plans[0])] + [
        PlanChange(p, moment(d, draw(st.integers(0, 86399)))) for p, d in zip(plans[1:], days, strict=False)
    ]
    addons = [
        AddOnTerms(f"a{n}", {"Monthly": draw(money), "Yearly": draw(money)}, setup_fee=draw(money))
        for n in range(draw(st.integers(0, 2)))
    ]
    addon_days = draw(change_days(period, 3)) if addons else []
    addon_history = [
        AddOnChange(
            tuple((a, draw(st.integers(0, 10))) for a in addons),
            None if n == 0 else moment(d, 0),
        )
        for n, d in enumerate([period.start, *addon_days])
    ]
    started = draw(st.none() | st.integers(-800, period.days - 1).map(lambda n: period.start + timedelta(days=n)))
    trial = draw(st.none() | st.integers(-60, period.days + 60))
    coupon = draw(
        st.none()
        | st.builds(lambda p: Coupon("PCT", percent=p), percent)
        | st.builds(lambda a: Coupon("FIX", amount=a), money)
    )
    country = draw(st.sampled_from([None, "FR", "DE", "IT", "US", "CH"]))
    tax_id = draw(st.none() | st.just(f"{country}123456789" if country else "X1234"))
    return InvoiceInput(
        tenant="t",
        period=period,
        plans=tuple(history),
        bill_to=BillTo(
            "t",
            country,
            tax_id,
            draw(st.sampled_from(["Business", "Individual", "Charity", "Education"])),
            reseller=draw(st.booleans()),
        ),
        seller_country="FR",
        tax_rates=RATES,
        started=moment(started, 3600) if started else None,
        trial_ends_at=moment(period.start + timedelta(days=trial), 7200) if trial is not None else None,
        add_ons=tuple(addon_history),
        usage=Usage(
            meters={"traffic": Decimal(draw(st.integers(0, 2**42)))},
            seats_total=draw(st.none() | st.integers(0, 500)),
        ),
        entitlement=Entitlement(
            users=draw(st.none() | st.integers(0, 100).map(Decimal)),
            limits={"traffic": draw(st.none() | st.integers(0, 2**40).map(Decimal))},
        ),
        coupon=coupon,
        reseller_discount=draw(percent),
    )


def whole_cents(amount: Decimal) -> bool:
    return amount == amount.quantize(CENT)


@settings(max_examples=400, deadline=None)
@given(invoices())
def test_total_is_lines_minus_discounts_plus_tax_and_never_negative(given_input: InvoiceInput) -> None:
    invoice = price_invoice(given_input)
    discounts = sum((d.amount for d in invoice.discounts), Decimal(0))
    assert invoice.subtotal == sum((line.amount for line in invoice.lines), Decimal(0))
    assert invoice.taxable == invoice.subtotal - discounts
    assert invoice.total == invoice.subtotal - discounts + invoice.tax
    amounts = [line.amount for line in invoice.lines] + [d.amount for d in invoice.discounts]
    amounts += [invoice.subtotal, invoice.taxable, invoice.tax, invoice.total]
    assert all(amount >= 0 for amount in amounts)
    assert all(whole_cents(amount) for amount in amounts)
    assert all(d.amount > 0 for d in invoice.discounts)
    assert invoice.tax == round_money(invoice.taxable * invoice.tax_rate / 100, "EUR")
    shown = invoice.as_dict()
    assert Decimal(shown["total"]) == Decimal(shown["subtotal"]) - sum(
        (Decimal(d["amount"]) for d in shown["discounts"]), Decimal(0)
    ) + Decimal(shown["tax"])


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_prorated_parts_add_up_to_the_whole_within_a_cent_per_line(data: st.DataObject) -> None:
    period = data.draw(periods())
    prices = data.draw(st.lists(money, min_size=1, max_size=6))
    days = data.draw(change_days(period, len(prices) - 1))
    prices = prices[: len(days) + 1]
    history = [PlanChange(plan("p0", prices[0]))] + [
        PlanChange(plan(f"p{n + 1}", price), moment(day, data.draw(st.integers(0, 86399))))
        for n, (price, day) in enumerate(zip(prices[1:], days, strict=True))
    ]
    invoice = price_invoice(InvoiceInput("t", period, tuple(history), BillTo("t", "US"), "FR"))
    # The exact (unrounded) value of each plan's days, computed here from the change days.
    bounds = [period.start, *days, period.end]
    exact = [price * (bounds[n + 1] - bounds[n]).days / period.days for n, price in enumerate(prices)]
    assert len(invoice.lines) == sum(1 for low, high in pairwise(bounds) if high > low)
    for line in invoice.lines:
        assert line.amount == round_money(line.amount, "EUR")
    assert abs(sum((line.amount for line in invoice.lines), Decimal(0)) - sum(exact)) <= CENT * len(invoice.lines)
    if len(set(prices)) == 1:  # one price split in parts: the parts make the whole price
        assert abs(invoice.subtotal - prices[0]) <= CENT * len(invoice.lines)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_addon_quantity_changes_prorate_to_the_exact_share(data: st.DataObject) -> None:
    period = data.draw(periods())
    unit = data.draw(money)
    addon = AddOnTerms("pack", {"Monthly": unit, "Yearly": unit})
    days = data.draw(change_days(period, 4))
    quantities = data.draw(st.lists(st.integers(0, 10), min_size=len(days) + 1, max_size=len(days) + 1))
    history = tuple(
        AddOnChange(((addon, q),), None if n == 0 else moment(day, 0))
        for n, (q, day) in enumerate(zip(quantities, [period.start, *days], strict=True))
    )
    invoice = price_invoice(
        InvoiceInput("t", period, (PlanChange(plan("p", Decimal(0))),), BillTo("t", "US"), "FR", add_ons=history)
    )
    bounds = [period.start, *days, period.end]
    exact = sum(
        (unit * q * (bounds[n + 1] - bounds[n]).days / period.days for n, q in enumerate(quantities)), Decimal(0)
    )
    addon_lines = [line for line in invoice.lines if line.kind == "addon"]
    assert abs(sum((line.amount for line in addon_lines), Decimal(0)) - exact) <= CENT * max(len(addon_lines), 1)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["Monthly", "Yearly"]),
    st.integers(1990, 2200),
    st.integers(1, 12),
    st.none() | st.dates(min_value=date(1980, 1, 1), max_value=date(1989, 12, 31)),
)
def test_consecutive_periods_tile_time(cycle: str, year: int, month: int, anchor: date | None) -> None:
    if cycle == "Monthly":
        after = (year + 1, 1) if month == 12 else (year, month + 1)
        first = parse_period(f"{year}-{month:02d}", cycle, anchor)
        second = parse_period(f"{after[0]}-{after[1]:02d}", cycle, anchor)
        assert 28 <= first.days <= 31
    else:
        first = parse_period(str(year), cycle, anchor)
        second = parse_period(str(year + 1), cycle, anchor)
        assert first.days in (365, 366)
    assert first.end == second.start
    if anchor is not None:  # the anniversary day, or the month's last day when it has none
        assert first.start.day == min(anchor.day, calendar.monthrange(first.start.year, first.start.month)[1])
    else:
        assert first.start.day == 1
