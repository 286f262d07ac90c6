"""The accounting export: every invoice and credit note as one CSV row, sorted by number. Pure.

RFC 4180 (the csv module, a header row, CRLF line ends). Amounts are the spec's decimal strings,
left as they are, so a credit note's "-102.60" stays a number for the spreadsheet; every other
cell, free text such as a tenant's name, is made formula-safe: one starting with =, +, -, @, a
tab or a carriage return gets a leading apostrophe, so a spreadsheet shows it instead of running
it. An amount that is not a decimal is treated as text (made safe) rather than trusted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ..billing.money import MoneyError, format_money, parse_decimal
from .documents import day_of, is_credit_note, is_reverse_charge, mapping, text

COLUMNS = (
    "number",
    "kind",
    "issuedAt",
    "dueAt",
    "period",
    "tenant",
    "billTo",
    "billToCountry",
    "billToTaxId",
    "currency",
    "subtotal",
    "discounts",
    "taxable",
    "taxRate",
    "tax",
    "total",
    "state",
    "paidAt",
    "reverseCharge",
    "corrects",
)
AMOUNT_COLUMNS = frozenset({"subtotal", "discounts", "taxable", "taxRate", "tax", "total"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^(\d+)-(\d+)$")


def safe_text(value: str) -> str:
    """A text cell a spreadsheet will not read as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _amount(value: object) -> str:
    """A decimal string as written; anything else as safe text."""
    raw = text(value).strip()
    try:
        parse_decimal(raw)
    except MoneyError:
        return safe_text(raw)
    return raw


def _iso_day(value: object) -> str:
    day = day_of(value)
    return day.isoformat() if day is not None else text(value)


def _discounts(spec: Mapping[str, Any], currency: str) -> str:
    total = Decimal(0)
    for discount in spec.get("discounts") or []:
        try:
            total += parse_decimal(text(mapping(discount).get("amount")).strip())
        except MoneyError:
            return ""
    return format_money(total, currency)


def _sort_key(row: Mapping[str, str]) -> tuple[int, int, int, str, str]:
    number = row["number"].lstrip("'")
    match = _NUMBER.match(number)
    if match:
        return (0, int(match.group(1)), int(match.group(2)), number, row["kind"])
    return (1, 0, 0, number, row["kind"])


def _row(doc: Mapping[str, Any], numbers: Mapping[str, str]) -> dict[str, str]:
    spec = mapping(doc.get("spec"))
    status = mapping(doc.get("status"))
    bill_to = mapping(spec.get("billTo"))
    credit = is_credit_note(doc)
    currency = text(spec.get("currency"))
    corrects = ""
    if credit:
        invoice = text(spec.get("invoice"))
        corrects = text(spec.get("invoiceNumber")) or numbers.get(invoice, "") or invoice
    state = text(status.get("state")) or "Issued"
    row = {
        "number": text(spec.get("number")),
        "kind": "credit-note" if credit else "invoice",
        "issuedAt": _iso_day(spec.get("issuedAt")),
        "dueAt": _iso_day(spec.get("dueAt")),
        "period": text(spec.get("period")),
        "tenant": text(spec.get("tenant")),
        "billTo": text(bill_to.get("name")),
        "billToCountry": text(bill_to.get("country")),
        "billToTaxId": text(bill_to.get("taxId")),
        "currency": currency,
        "subtotal": text(spec.get("subtotal")),
        "discounts": _discounts(spec, currency),
        "taxable": text(spec.get("taxable")),
        "taxRate": text(spec.get("taxRate")),
        "tax": text(spec.get("tax")),
        "total": text(spec.get("total")),
        "state": state,
        "paidAt": _iso_day(status.get("paidAt")),
        "reverseCharge": "yes" if is_reverse_charge(spec) else "no",
        "corrects": corrects,
    }
    return {column: _amount(value) if column in AMOUNT_COLUMNS else safe_text(value) for column, value in row.items()}


def export_csv(docs: Iterable[Mapping[str, Any]]) -> str:
    """The accounting export of these Invoice and CreditNote objects, header first, sorted by number."""
    documents = list(docs)
    numbers = {
        text(mapping(doc.get("metadata")).get("name")): text(mapping(doc.get("spec")).get("number"))
        for doc in documents
        if not is_credit_note(doc)
    }
    rows = sorted((_row(doc, numbers) for doc in documents), key=_sort_key)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
