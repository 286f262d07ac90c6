"""From documents to the pricing engine's typed inputs: a Tenant, its catalogue, the usage, the
operator's billing configuration and a period name.

Pure: the documents are already parsed. Everything wrong is collected as `Issue`s naming the
input and the field (`Tenant` `spec.billing.coupon`, `usage` `meters.trafic`, `config`
`billing.taxRates`), so that the command can print each at its line; the engine adds its own
(a missing price, a missing tax rate) the same way.

What is read from the Tenant:
- `metadata.creationTimestamp`: the first day of service (else the first planHistory entry;
  without either, the tenant is taken to exist before any period asked about);
- `status.planHistory` (else `spec.plan` from the start), `status.addOnHistory` (else
  `spec.addOns` from the start), `status.trialEndsAt` (else creation + the plan's trialDays, as
  the operator computes it: `landlord.pipeline.trial_end`);
- `spec.billing` (cycle, country, taxId, customerType, coupon) or, for a tenant of a reseller,
  the Reseller's `spec.billing` and `spec.discountPercent`: the reseller is billed.
Included seats and meter limits are the effective values (plan + add-ons + overrides, or the
Locked snapshot) at the end of the period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..api.composition import AddOnUse, entitlements
from ..api.models import AddOnSpec, ModelError, PlanSpec, ResellerSpec, TenantSpec, TenantStatus
from ..api.resolution import parse_time
from ..config import BillingSettings
from ..pipeline.catalogue import Catalogue
from ..pipeline.desired import trial_end
from ..quantity import parse_quantity
from .issues import Issue, PricingError
from .money import MoneyError, parse_decimal
from .periods import Period, PeriodError, day_of, parse_period
from .pricing import (
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
)

METERS = ("traffic", "storage", "databaseStorage", "users")
USAGE_KEYS = ("meters", "seats")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass
class _Reader:
    """Collects issues while reading; `fail()` raises them all at once."""

    issues: list[Issue] = field(default_factory=list)

    def error(self, where: str, field_path: str, message: str) -> None:
        self.issues.append(Issue(where, field_path, message))

    def warn(self, where: str, field_path: str, message: str) -> None:
        self.issues.append(Issue(where, field_path, message, "warning"))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def fail(self) -> None:
        if self.errors:
            raise PricingError(*self.errors)

    def money(self, where: str, field_path: str, value: Any) -> Decimal:
        try:
            return parse_decimal(value)
        except MoneyError as exc:
            self.error(where, field_path, str(exc))
            return Decimal(0)

    def time(self, where: str, field_path: str, value: Any) -> datetime | None:
        if value in (None, ""):
            return None
        try:
            return parse_time(str(value))
        except ValueError:
            self.error(where, field_path, f"{value!r} is not an RFC 3339 time such as 2025-01-20T10:00:00Z")
            return None


# -- Catalogue -------------------------------------------------------------------------------
def plan_terms(name: str, body: Mapping[str, Any], reader: _Reader) -> PlanTerms | None:
    """The prices of a Plan document."""
    where = f"Plan/{name}"
    try:
        spec = PlanSpec.from_dict(_mapping(body.get("spec")))
    except ModelError as exc:
        reader.error(where, "spec", f"{exc}; run `landlord validate` on it")
        return None
    pricing = spec.pricing
    if pricing is None:
        reader.error(where, "spec.pricing", "the plan has no pricing; add spec.pricing with a currency and prices")
        return None
    metered = tuple(
        MeteredPrice(m.meter, m.unit, reader.money(where, f"spec.pricing.metered[{n}].unitPrice", m.unit_price))
        for n, m in enumerate(pricing.metered)
    )
    return PlanTerms(
        name=name,
        display_name=spec.display_name,
        currency=pricing.currency,
        prices={cycle: reader.money(where, f"spec.pricing.prices.{cycle}", p) for cycle, p in pricing.prices.items()},
        setup_fee=reader.money(where, "spec.pricing.setupFee", pricing.setup_fee or "0"),
        prorate=pricing.prorate,
        seat_price=reader.money(where, "spec.pricing.seatPrice", pricing.seat_price) if pricing.seat_price else None,
        seats_per_module=pricing.seats_per_module,
        metered=metered,
        discounts={kind: Decimal(int(p)) for kind, p in pricing.discounts.items()},
        overuse=spec.overuse.policy if spec.overuse else "Notify",
    )


def addon_terms(name: str, body: Mapping[str, Any], reader: _Reader) -> AddOnTerms | None:
    """The price per unit of an AddOn document (an add-on without pricing is free)."""
    where = f"AddOn/{name}"
    try:
        spec = AddOnSpec.from_dict(_mapping(body.get("spec")))
    except ModelError as exc:
        reader.error(where, "spec", f"{exc}; run `landlord validate` on it")
        return None
    pricing = spec.pricing
    if pricing is None:
        return AddOnTerms(
            name=name, prices={"Monthly": Decimal(0), "Yearly": Decimal(0)}, display_name=spec.display_name
        )
    return AddOnTerms(
        name=name,
        display_name=spec.display_name,
        currency=pricing.currency,
        prices={cycle: reader.money(where, f"spec.pricing.prices.{cycle}", p) for cycle, p in pricing.prices.items()},
        setup_fee=reader.money(where, "spec.pricing.setupFee", pricing.setup_fee or "0"),
    )


def _known(catalogue: Catalogue, kind: str) -> str:
    names = catalogue.names(kind)
    return f"known: {', '.join(names)}" if names else "none in the catalogue"


# -- Usage -----------------------------------------------------------------------------------
def read_usage(data: Any, features: list[str] | None, reader: _Reader) -> Usage:
    """`{meters: {traffic: 130Gi}, seats: {crm: 14, invoicing: 9}}` or `seats: {total: N}`; absent: none."""
    if data is None:
        return Usage()
    if not isinstance(data, dict):
        reader.error("usage", "", "the usage must be a mapping with meters and seats, e.g. {meters: {traffic: 130Gi}}")
        return Usage()
    for key in data:
        if key not in USAGE_KEYS:
            reader.error("usage", str(key), f"unknown key; known keys: {', '.join(USAGE_KEYS)}")
    meters: dict[str, Decimal] = {}
    raw_meters = data.get("meters")
    if raw_meters is not None and not isinstance(raw_meters, dict):
        reader.error("usage", "meters", "must be a mapping of meter to amount, e.g. {traffic: 130Gi}")
    for meter, amount in _mapping(raw_meters).items():
        path = f"meters.{meter}"
        if meter not in METERS:
            reader.error("usage", path, f"unknown meter {meter!r}; meters are {', '.join(METERS)}")
            continue
        if isinstance(amount, bool | float) or not isinstance(amount, str | int):
            reader.error("usage", path, f"{amount!r} is not a quantity; write it like 130Gi (bytes) or 14 (a count)")
            continue
        try:
            value = parse_quantity(amount)
        except ValueError:
            reader.error("usage", path, f"{amount!r} is not a quantity; write it like 130Gi (bytes) or 14 (a count)")
            continue
        if value < 0:
            reader.error("usage", path, f"{amount} is negative; usage is 0 or more")
            continue
        meters[meter] = value
    total: int | None = None
    by_module: dict[str, int] = {}
    raw_seats = data.get("seats")
    if raw_seats is not None and not isinstance(raw_seats, dict):
        reader.error("usage", "seats", "must be a mapping: peak seats by module, e.g. {crm: 14}, or {total: 14}")
    for module, peak in _mapping(raw_seats).items():
        path = f"seats.{module}"
        if isinstance(peak, bool) or not isinstance(peak, int) or peak < 0:
            reader.error("usage", path, f"{peak!r} is not a number of seats; give a whole number of 0 or more")
            continue
        if module == "total":
            total = peak
        elif features is not None and module not in features:
            known = ", ".join(features) or "none"
            reader.error("usage", path, f"{module!r} is not one of the tenant's modules ({known}); fix the name")
        else:
            by_module[str(module)] = peak
    return Usage(meters=meters, seats_total=total, seats_by_module=by_module)


# -- The tenant ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """The engine's input, and warnings worth showing (they do not stop the preview)."""

    input: InvoiceInput
    warnings: tuple[Issue, ...] = ()


def _plan_history(status: TenantStatus, spec: TenantSpec, reader: _Reader) -> list[tuple[str, datetime | None]]:
    """(plan name, since) in order; `spec.plan` from the start when no history is recorded."""
    history: list[tuple[str, datetime | None]] = []
    previous: datetime | None = None
    for n, entry in enumerate(status.plan_history):
        path = f"status.planHistory[{n}]"
        if not entry.plan:
            reader.error("Tenant", f"{path}.plan", "missing; every entry names a plan")
            continue
        since = reader.time("Tenant", f"{path}.since", entry.since)
        if since is None and n > 0 and entry.since in (None, ""):
            reader.error("Tenant", f"{path}.since", "missing; every entry after the first says since when")
        if since is not None and previous is not None and since < previous:
            reader.error("Tenant", f"{path}.since", "earlier than the entry before it; the history is in time order")
        previous = since or previous
        history.append((entry.plan, since))
    if not history:
        return [(spec.plan, None)]
    if history[-1][0] != spec.plan:
        reader.warn(
            "Tenant",
            "spec.plan",
            f"is {spec.plan!r} but status.planHistory ends with {history[-1][0]!r}: the change is not recorded "
            "yet, so the preview follows the history",
        )
    return history


def _addon_history(
    status: TenantStatus, spec: TenantSpec, reader: _Reader
) -> list[tuple[list[tuple[str, int, str]], datetime | None]]:
    """([(add-on, quantity, field path)], since) in order; `spec.addOns` from the start without history."""
    if not status.add_on_history:
        return [([(a.name, a.quantity, f"spec.addOns[{n}].name") for n, a in enumerate(spec.add_ons)], None)]
    history: list[tuple[list[tuple[str, int, str]], datetime | None]] = []
    previous: datetime | None = None
    for n, entry in enumerate(status.add_on_history):
        path = f"status.addOnHistory[{n}]"
        since = reader.time("Tenant", f"{path}.since", entry.since)
        if since is None and n > 0 and entry.since in (None, ""):
            reader.error("Tenant", f"{path}.since", "missing; every entry after the first says since when")
        if since is not None and previous is not None and since < previous:
            reader.error("Tenant", f"{path}.since", "earlier than the entry before it; the history is in time order")
        previous = since or previous
        items = []
        for m, item in enumerate(entry.add_ons):
            if not item.name:
                reader.error("Tenant", f"{path}.addOns[{m}].name", "missing; name the add-on")
                continue
            items.append((item.name, 1 if item.quantity is None else item.quantity, f"{path}.addOns[{m}].name"))
        history.append((items, since))
    wanted = sorted((a.name, a.quantity) for a in spec.add_ons)
    if history and sorted((n, q) for n, q, _ in history[-1][0]) != wanted:
        reader.warn(
            "Tenant",
            "spec.addOns",
            "differs from the last entry of status.addOnHistory: the change is not recorded yet, so the preview "
            "follows the history",
        )
    return history


def _at(history: list[tuple[Any, datetime | None]], day: date) -> Any:
    """The entry of a history in force on `day` (the first entry: from the start)."""
    chosen = history[0][0]
    for value, since in history[1:]:
        if since is not None and day_of(since) <= day:
            chosen = value
    return chosen


def prepare(
    tenant: Mapping[str, Any],
    catalogue: Catalogue,
    usage: Any,
    billing: BillingSettings,
    period_text: str,
) -> Prepared:
    """The engine's input for `tenant` and the period named `period_text`; PricingError lists every problem."""
    reader = _Reader()
    metadata = _mapping(tenant.get("metadata"))
    name = str(metadata.get("name") or "")
    try:
        spec = TenantSpec.from_dict(_mapping(tenant.get("spec")))
        status = TenantStatus.from_dict(_mapping(tenant.get("status")))
    except ModelError as exc:
        raise PricingError(Issue("Tenant", "", f"{exc}; run `landlord validate` on it")) from None
    seller_country = billing.seller.country
    if not seller_country:
        reader.error(
            "config", "billing.seller.country", "not set; the seller's country decides the tax; set it, e.g. FR"
        )
    created = reader.time("Tenant", "metadata.creationTimestamp", metadata.get("creationTimestamp"))

    plans: dict[str, PlanTerms] = {}
    history = _plan_history(status, spec, reader)
    for n, (plan_name, _) in enumerate(history):
        if plan_name in plans:
            continue
        body = catalogue.plan(plan_name)
        field_path = f"status.planHistory[{n}].plan" if status.plan_history else "spec.plan"
        if body is None:
            reader.error(
                "Tenant",
                field_path,
                f"plan {plan_name!r} is not in the catalogue ({_known(catalogue, 'Plan')}); add --catalog with it",
            )
            continue
        terms = plan_terms(plan_name, body, reader)
        if terms is not None:
            plans[plan_name] = terms
    started = created or (history[0][1] if history else None)

    addon_history = _addon_history(status, spec, reader)
    addons: dict[str, AddOnTerms] = {}
    addon_docs: dict[str, dict[str, Any]] = {}
    for items, _ in addon_history:
        for addon_name, _, path in items:
            if addon_name in addons or addon_name in addon_docs:
                continue
            body = catalogue.addon(addon_name)
            if body is None:
                reader.error(
                    "Tenant",
                    path,
                    f"add-on {addon_name!r} is not in the catalogue ({_known(catalogue, 'AddOn')}); "
                    "add --catalog with it",
                )
                continue
            addon_docs[addon_name] = body
            unit = addon_terms(addon_name, body, reader)
            if unit is not None:
                addons[addon_name] = unit

    billing_spec = spec.billing
    cycle = billing_spec.cycle if billing_spec else "Monthly"
    period: Period | None = None
    anchor = day_of(started) if billing.anniversary and started else None
    if billing.anniversary and started is None:
        reader.error(
            "period",
            "",
            "anniversary billing (billing.anniversary) counts periods from the tenant's creation; the tenant "
            "file needs metadata.creationTimestamp",
        )
    else:
        try:
            period = parse_period(period_text, cycle, anchor)
        except PeriodError as exc:
            reader.error("period", "", str(exc))

    trial_ends_at = reader.time("Tenant", "status.trialEndsAt", status.trial_ends_at)
    if status.trial_ends_at is None and started is not None and spec.plan in plans:
        # As the operator computes it, from the creation time.
        at_creation = {**dict(tenant), "metadata": {**metadata, "creationTimestamp": started.isoformat()}}
        computed = trial_end(at_creation, catalogue.plan(spec.plan) or {}, started)
        trial_ends_at = parse_time(computed) if computed else None

    bill_to, reseller_discount = _bill_to(name, spec, catalogue, reader)
    coupon = _coupon(billing_spec.coupon if billing_spec else None, billing, reader)

    features: list[str] | None = None
    entitlement = Entitlement()
    if period is not None and history and all(p in plans for p, _ in history):
        last_plan = _at(history, period.last)
        at_end = [(n, q) for n, q, _ in _at(addon_history, period.last) if n in addon_docs]
        uses = [AddOnUse(n, q, _mapping(addon_docs[n].get("spec"))) for n, q in at_end]
        plan_body = catalogue.plan(last_plan) or {}
        tenant_spec = {**_mapping(tenant.get("spec")), "plan": last_plan}
        locked = _mapping(_mapping(tenant.get("status")).get("planSync")).get("locked")
        try:
            effective = entitlements(tenant_spec, _mapping(plan_body.get("spec")), uses, locked)
        except ValueError as exc:
            reader.error(f"Plan/{last_plan}", "spec.limits", f"{exc}; run `landlord validate` on it")
        else:
            features = effective.features
            entitlement = Entitlement(
                users=effective.limits.get("users", Decimal(0)),
                limits={meter: effective.limits.get(meter, Decimal(0)) for meter in METERS},
            )
    parsed_usage = read_usage(usage, features, reader)
    reader.fail()
    assert period is not None and seller_country
    given = InvoiceInput(
        tenant=name,
        period=period,
        plans=tuple(PlanChange(plans[p], since if n else None) for n, (p, since) in enumerate(history)),
        bill_to=bill_to,
        seller_country=seller_country,
        tax_rates=billing.tax_rates,
        started=started,
        trial_ends_at=trial_ends_at,
        add_ons=tuple(
            AddOnChange(tuple((addons[n], q) for n, q, _ in items if n in addons), since if index else None)
            for index, (items, since) in enumerate(addon_history)
        ),
        usage=parsed_usage,
        entitlement=entitlement,
        coupon=coupon,
        reseller_discount=reseller_discount,
    )
    return Prepared(given, tuple(reader.warnings))


def _bill_to(name: str, spec: TenantSpec, catalogue: Catalogue, reader: _Reader) -> tuple[BillTo, Decimal]:
    """The tenant itself, or its reseller (then with the reseller's discount)."""
    if spec.reseller:
        body = catalogue.reseller(spec.reseller)
        if body is None:
            reader.error(
                "Tenant",
                "spec.reseller",
                f"reseller {spec.reseller!r} is not in the catalogue ({_known(catalogue, 'Reseller')}); "
                "add --catalog with it",
            )
            return BillTo(name), Decimal(0)
        try:
            reseller = ResellerSpec.from_dict(_mapping(body.get("spec")))
        except ModelError as exc:
            reader.error(f"Reseller/{spec.reseller}", "spec", f"{exc}; run `landlord validate` on it")
            return BillTo(name), Decimal(0)
        identity = reseller.billing
        return (
            BillTo(
                spec.reseller,
                identity.country if identity else None,
                identity.tax_id if identity else None,
                identity.customer_type if identity else "Business",
                reseller=True,
                where=f"Reseller/{spec.reseller}",
            ),
            Decimal(reseller.discount_percent),
        )
    own = spec.billing
    if own is None:
        return BillTo(name), Decimal(0)
    return BillTo(name, own.country, own.tax_id, own.customer_type), Decimal(0)


def _coupon(code: str | None, billing: BillingSettings, reader: _Reader) -> Coupon | None:
    if not code:
        return None
    setting = billing.coupons.get(code)
    if setting is None:
        known = ", ".join(sorted(billing.coupons)) or "none configured"
        reader.error(
            "Tenant",
            "spec.billing.coupon",
            f"coupon {code!r} is not in the configuration's billing.coupons ({known}); fix the code or add the coupon",
        )
        return None
    return Coupon(code, setting.percent, setting.amount, setting.currency)
