"""Invoice and CreditNote objects, built from the engine's output. Pure.

The object's name is a function of the tenant and the period (`<tenant>-<period>`), so a rerun,
a restart or a second replica finds the invoice already there instead of writing another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..api.schemas import API_VERSION
from ..billing import Invoice, InvoiceInput
from ..billing.money import format_money
from ..config import BillingSettings

TENANT_LABEL = "landlord.dev/tenant"
PERIOD_LABEL = "landlord.dev/period"
BILL_TO_LABEL = "landlord.dev/bill-to"
INVOICE_LABEL = "landlord.dev/invoice"  # on a credit note: the invoice it corrects


def invoice_name(tenant: str, period: str) -> str:
    """The one name the invoice of `tenant` for `period` can have."""
    return f"{tenant}-{period}"


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _seller(billing: BillingSettings) -> dict[str, str]:
    seller = billing.seller
    fields = {"name": seller.name, "country": seller.country, "taxId": seller.tax_id, "address": seller.address}
    return {k: v for k, v in fields.items() if v}


def invoice_object(
    invoice: Invoice, given: InvoiceInput, billing: BillingSettings, number: str, issued_at: datetime
) -> dict[str, Any]:
    """The Invoice object with everything printed on it; the engine's JSON plus identities and dates."""
    priced = invoice.as_dict()
    bill_to = given.bill_to
    party = {
        "kind": "Reseller" if bill_to.reseller else "Tenant",
        "name": bill_to.name,
        "country": bill_to.country,
        "taxId": bill_to.tax_id,
        "customerType": bill_to.customer_type,
    }
    spec: dict[str, Any] = {
        "number": number,
        "tenant": invoice.tenant,
        "period": invoice.period.label,
        "periodStart": invoice.period.start.isoformat(),
        "periodEnd": invoice.period.last.isoformat(),
        "issuedAt": _rfc3339(issued_at),
        "dueAt": (issued_at.date() + timedelta(days=billing.due_days)).isoformat(),
        "currency": invoice.currency,
        "seller": _seller(billing),
        "billTo": {k: v for k, v in party.items() if v is not None},
        "lines": priced["lines"],
        "subtotal": priced["subtotal"],
        "discounts": priced["discounts"],
        "taxable": priced["taxable"],
        "taxRate": priced["taxRate"],
        "tax": priced["tax"],
        "total": priced["total"],
        "reverseCharge": invoice.reverse_charge,
        "notes": priced["notes"],
    }
    name = invoice_name(invoice.tenant, invoice.period.label)
    return {
        "apiVersion": API_VERSION,
        "kind": "Invoice",
        "metadata": {
            "name": name,
            "labels": {
                TENANT_LABEL: invoice.tenant,
                PERIOD_LABEL: invoice.period.label,
                BILL_TO_LABEL: bill_to.name,
            },
        },
        "spec": spec,
    }


def _negated(text: str, currency: str) -> str:
    value = -Decimal(text)
    return format_money(value if value != 0 else Decimal(0), currency)  # never "-0.00"


def credit_note_object(
    invoice: Mapping[str, Any],
    name: str,
    number: str,
    issued_at: datetime,
    reason: str,
    amount: Decimal | None = None,
    split: tuple[Decimal, Decimal] | None = None,
) -> dict[str, Any]:
    """A credit note against `invoice`: all of it (`amount` None), or `amount` of its total.

    A partial credit note is one line, taxed at the invoice's rate, whose total (tax included)
    is `amount`: net = amount / (1 + rate), rounded, and the tax is the rest, so that the credit
    note's total is exactly the amount asked for. `split` (net, tax) overrides that division: the
    credit note that credits what is left takes exactly the net and tax left, so that the credit
    notes of an invoice add up to its net and tax, not only to its total.
    """
    spec = invoice["spec"]
    currency = str(spec["currency"])
    common = {
        "tenant": spec["tenant"],
        "period": spec.get("period"),
        "periodStart": spec.get("periodStart"),
        "periodEnd": spec.get("periodEnd"),
        "currency": currency,
        "seller": spec.get("seller") or {},
        "billTo": spec["billTo"],
        "reverseCharge": bool(spec.get("reverseCharge")),
        "taxRate": spec.get("taxRate", "0"),
    }
    if amount is None:
        lines = [
            {**line, "quantity": line["quantity"], "amount": _negated(line["amount"], currency)}
            for line in spec.get("lines") or []
        ]
        money = {
            "subtotal": _negated(spec["subtotal"], currency),
            "discounts": [
                {"description": d["description"], "amount": _negated(d["amount"], currency)}
                for d in spec.get("discounts") or []
            ],
            "taxable": _negated(spec["taxable"], currency),
            "tax": _negated(spec["tax"], currency),
            "total": _negated(spec["total"], currency),
        }
    else:
        rate = Decimal(str(spec.get("taxRate") or "0"))
        if split is not None:
            net, tax = split
        else:
            net = Decimal(format_money(amount / (1 + rate / 100), currency))
            tax = Decimal(format_money(amount, currency)) - net
        description = f"Correction of invoice {spec['number']}: {reason}"
        lines = [
            {
                "description": description,
                "quantity": "1",
                "unitPrice": format_money(-net, currency),
                "amount": format_money(-net, currency),
            }
        ]
        money = {
            "subtotal": format_money(-net, currency),
            "discounts": [],
            "taxable": format_money(-net, currency),
            "tax": format_money(-tax, currency),
            "total": format_money(-(net + tax), currency),
        }
    notes = [f"Credit note for invoice {spec['number']} of {spec.get('issuedAt', '')[:10]}: {reason}"]
    notes.extend(n for n in spec.get("notes") or [] if "everse charge" in n)
    body = {
        "number": number,
        **{k: v for k, v in common.items() if v is not None},
        "issuedAt": _rfc3339(issued_at),
        "invoice": invoice["metadata"]["name"],
        "invoiceNumber": spec["number"],
        "reason": reason,
        "lines": lines,
        **money,
        "notes": notes,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "CreditNote",
        "metadata": {
            "name": name,
            "labels": {
                TENANT_LABEL: str(spec["tenant"]),
                INVOICE_LABEL: str(invoice["metadata"]["name"]),
                BILL_TO_LABEL: str(spec["billTo"]["name"]),
            },
        },
        "spec": body,
    }


def credited(credit_notes: Sequence[Mapping[str, Any]], currency: str) -> str:
    """The total credited by these notes, as a positive amount."""
    total = sum((-Decimal(str(c["spec"]["total"])) for c in credit_notes), Decimal(0))
    return format_money(total, currency)
