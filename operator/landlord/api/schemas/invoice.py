"""Invoice and CreditNote schemas: documents written once by the billing sidecar, never edited.

The whole `spec` is set at creation and the CRD refuses any change of it (`self == oldSelf`):
an issued invoice is corrected by a credit note, never in place. `status` is the document's
life (Issued, Overdue, Paid, Void), written by the sidecar and by the payment integration.
"""

from __future__ import annotations

from typing import Any

from .nodes import b, obj, rule, s

SIGNED_MONEY = r"^-?\d+(\.\d{1,3})?$"  # a decimal string; negative on credit notes; 0-3 decimals by currency
NUMBER = r"^[0-9]{4}-[0-9]{6}$"
PERIOD = r"^[0-9]{4}(-[0-9]{2})?$"
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _money(description: str) -> dict[str, Any]:
    return s(description, pattern=SIGNED_MONEY, maxLength=24)


PARTY_FIELDS = {
    "name": s("The legal or account name.", maxLength=253),
    "country": s("ISO 3166 country code: it decides the tax.", maxLength=2),
    "taxId": s("VAT or tax number, as printed.", maxLength=64),
    "address": s("Postal address, as printed.", maxLength=1024),
}

LINE = obj(
    "One line of the document.",
    {
        "description": s("What is charged, with the days for a prorated line.", maxLength=512),
        "quantity": s("How many units (a decimal string).", maxLength=24),
        "unitPrice": _money("The price of one unit for the whole period."),
        "amount": _money("What the line charges, rounded to the currency's minor unit."),
    },
    required=["description", "quantity", "unitPrice", "amount"],
)

DISCOUNT = obj(
    "A discount, in the order applied.",
    {"description": s("Which discount.", maxLength=512), "amount": _money("What it takes off (positive).")},
    required=["description", "amount"],
)


def _document_spec(kind: str, extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "number": s("YEAR-NNNNNN: sequential per year of issue, without gaps, assigned once.", pattern=NUMBER),
        "tenant": s("The tenant the services were for.", maxLength=63),
        "period": s("The billing period: YYYY-MM (monthly) or YYYY (yearly).", pattern=PERIOD),
        "periodStart": s("First day of the period.", pattern=DAY),
        "periodEnd": s("Last day of the period.", pattern=DAY),
        "issuedAt": s("When the document was issued.", format="date-time"),
        "currency": s("ISO 4217 currency code.", pattern="^[A-Z]{3}$"),
        "seller": obj("Who issues the document (the configuration's billing.seller).", dict(PARTY_FIELDS)),
        "billTo": obj(
            "Who is billed: the tenant, or its reseller when the reseller is billed.",
            {
                "kind": s("Tenant or Reseller.", enum=["Tenant", "Reseller"]),
                **PARTY_FIELDS,
                "customerType": s("Business, Individual, Charity or Education.", maxLength=32),
            },
            required=["kind", "name"],
        ),
        "lines": {"type": "array", "description": "The lines.", "maxItems": 1000, "items": LINE},
        "subtotal": _money("Sum of the line amounts."),
        "discounts": {"type": "array", "description": "Discounts in order.", "maxItems": 20, "items": DISCOUNT},
        "taxable": _money("Subtotal minus the discounts."),
        "taxRate": s("Tax rate in percent, e.g. 20.", maxLength=12),
        "tax": _money("The tax."),
        "total": _money("Taxable plus tax."),
        "reverseCharge": b("The EU reverse charge applies: no VAT charged, the mention is in the notes."),
        "notes": {
            "type": "array",
            "description": "Mentions printed on the document (trial, reseller, reverse charge, ...).",
            "maxItems": 50,
            "items": s("A mention.", maxLength=1024),
        },
        **extra,
    }
    return obj(
        f"The {kind}, exactly as issued. Written once by the billing sidecar; never changed.",
        properties,
        required=["number", "tenant", "issuedAt", "currency", "billTo", "lines", "total", *required],
        **{"x-kubernetes-validations": [rule("self == oldSelf", f"an issued {kind} is never edited; {_fix(kind)}")]},
    )


def _fix(kind: str) -> str:
    if kind == "invoice":
        return "correct it with a credit note (`landlord invoice credit NAME --reason ...`)"
    return "issue another credit note"


INVOICE_SPEC = _document_spec(
    "invoice",
    {"dueAt": s("The day payment is due: the day of issue plus billing.dueDays.", pattern=DAY)},
    ["period", "dueAt"],
)

CREDIT_NOTE_SPEC = _document_spec(
    "credit note",
    {
        "invoice": s("The name of the Invoice this credit note corrects.", maxLength=253),
        "invoiceNumber": s("The number of the Invoice this credit note corrects.", pattern=NUMBER),
        "reason": s("Why the invoice is corrected, as printed.", maxLength=1024),
    },
    ["invoice", "invoiceNumber", "reason"],
)

INVOICE_STATUS = obj(
    "The invoice's life: written by the billing sidecar, and `paidAt` by the payment integration.",
    {
        "state": s(
            "Issued, Overdue (unpaid past dueAt), Paid (paidAt set) or Void (fully credited).",
            enum=["Issued", "Overdue", "Paid", "Void"],
        ),
        "paidAt": s(
            "When the payment was received; set it to mark the invoice paid (the tenant is reactivated "
            "at once if the invoice had suspended it).",
            format="date-time",
        ),
        "overdueSince": s("The first day the invoice was unpaid past its due date.", pattern=DAY),
        "suspendsTenant": b(
            "Unpaid billing.graceDays past the due date: the operator suspends the tenant (reason "
            "PaymentOverdue) unless its spec.billing.dunningExempt is true."
        ),
        "creditedTotal": _money("Sum of the totals of the credit notes against it (positive)."),
        "creditNotes": {
            "type": "array",
            "description": "The credit notes against it, by name.",
            "maxItems": 100,
            "items": s("A CreditNote's name.", maxLength=253),
        },
    },
)

CREDIT_NOTE_STATUS = obj("The credit note's state.", {"state": s("Issued.", enum=["Issued"])})
