"""Invoice and credit-note documents (HTML, PDF) and the accounting CSV export, from sample objects."""

from __future__ import annotations

import copy
import csv
import html
import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from pypdf import PdfReader

from landlord.billing.tax import REVERSE_CHARGE
from landlord.invoicing.documents import encode_cp1252, render_html, render_pdf, text_width, wrap
from landlord.invoicing.export import COLUMNS, export_csv

SELLER = {
    "name": "Hébergement Exemple SAS",
    "country": "FR",
    "taxId": "FR40303265045",
    "address": "12 rue de l'Église\n75002 Paris",
}
HOSTILE = '<script>alert("x")</script>'


def invoice(**spec: Any) -> dict[str, Any]:
    """The worked example of docs/billing.md as an issued Invoice, with `spec` overrides."""
    body: dict[str, Any] = {
        "number": "2025-000042",
        "tenant": "bistro",
        "period": "2025-06",
        "periodStart": "2025-06-01",
        "periodEnd": "2025-06-30",
        "issuedAt": "2025-07-01T00:05:00Z",
        "dueAt": "2025-07-31",
        "currency": "EUR",
        "seller": dict(SELLER),
        "billTo": {
            "kind": "Tenant",
            "name": "bistro",
            "country": "FR",
            "taxId": "FR40303265045",
            "customerType": "Business",
        },
        "lines": [
            {
                "description": "Starter plan, 1 Jun to 9 Jun 2025 (9/30 days)",
                "quantity": "1",
                "unitPrice": "19.00",
                "amount": "5.70",
            },
            {
                "description": "Professional plan — 10 Jun to 30 Jun 2025 (21/30 days)",
                "quantity": "1",
                "unitPrice": "49.00",
                "amount": "34.30",
            },
            {"description": "+5 users, Jun 2025 (20 € each)", "quantity": "2", "unitPrice": "20.00", "amount": "40.00"},
            {"description": "Seats beyond the 20 included", "quantity": "3", "unitPrice": "5.00", "amount": "15.00"},
        ],
        "subtotal": "95.00",
        "discounts": [{"description": "Coupon WELCOME10 (10 %)", "amount": "9.50"}],
        "taxable": "85.50",
        "taxRate": "20",
        "tax": "17.10",
        "total": "102.60",
        "reverseCharge": False,
        "notes": ["Payment due 30 days after the invoice date"],
    }
    body.update(spec)
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Invoice",
        "metadata": {"name": f"{body['tenant']}-{body['period']}"},
        "spec": body,
        "status": {"state": "Issued"},
    }


REVERSE_MENTION = f"{REVERSE_CHARGE}. Customer VAT number: DE129273398"


def reverse_charge_invoice() -> dict[str, Any]:
    return invoice(
        number="2025-000051",
        tenant="brauhaus",
        billTo={
            "kind": "Tenant",
            "name": "brauhaus",
            "country": "DE",
            "taxId": "DE129273398",
            "customerType": "Business",
        },
        lines=[{"description": "Business plan, Jun 2025", "quantity": "1", "unitPrice": "99.00", "amount": "99.00"}],
        subtotal="99.00",
        discounts=[],
        taxable="99.00",
        taxRate="0",
        tax="0.00",
        total="99.00",
        reverseCharge=True,
        notes=[REVERSE_MENTION, "Payment due 30 days after the invoice date"],
    )


def reseller_invoice() -> dict[str, Any]:
    return invoice(
        number="2025-000044",
        tenant="florist",
        period="2025-03",
        periodStart="2025-03-01",
        periodEnd="2025-03-31",
        billTo={"kind": "Reseller", "name": "webagency", "country": "FR", "taxId": "FR83404833048"},
        lines=[{"description": "Starter plan, Mar 2025", "quantity": "1", "unitPrice": "19.00", "amount": "19.00"}],
        subtotal="19.00",
        discounts=[{"description": "Reseller webagency (15 %)", "amount": "2.85"}],
        taxable="16.15",
        tax="3.23",
        total="19.38",
        notes=["Services of tenant florist, billed to reseller webagency"],
    )


def paid_invoice() -> dict[str, Any]:
    doc = invoice()
    doc["status"] = {"state": "Paid", "paidAt": "2025-07-12T10:00:00Z"}
    return doc


def credit_note(**spec: Any) -> dict[str, Any]:
    original = invoice()["spec"]
    body: dict[str, Any] = {
        **original,
        "number": "2025-000043",
        "issuedAt": "2025-07-15T09:00:00Z",
        "invoice": "bistro-2025-06",
        "invoiceNumber": "2025-000042",
        "reason": "Service outage — goodwill credit",
        "lines": [{**line, "amount": "-" + line["amount"]} for line in original["lines"]],
        "subtotal": "-95.00",
        "discounts": [{"description": "Coupon WELCOME10 (10 %)", "amount": "-9.50"}],
        "taxable": "-85.50",
        "tax": "-17.10",
        "total": "-102.60",
        "notes": ["Credit note for invoice 2025-000042 of 2025-07-01: Service outage — goodwill credit"],
    }
    del body["dueAt"]
    body.update(spec)
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "CreditNote",
        "metadata": {"name": "bistro-2025-06-cn-1"},
        "spec": body,
    }


def long_invoice() -> dict[str, Any]:
    lines = [
        {"description": f"Add-on pack n°{i} — café €", "quantity": "1", "unitPrice": "1.00", "amount": f"{i}.25"}
        for i in range(1, 121)
    ]
    return invoice(number="2025-000099", lines=lines, discounts=[], subtotal="7290.00", taxable="7290.00")


def yen_invoice() -> dict[str, Any]:
    return invoice(
        number="2025-000077",
        tenant="sushi",
        currency="JPY",
        billTo={"kind": "Tenant", "name": "sushi", "country": "JP", "customerType": "Business"},
        lines=[{"description": "Professional plan, Jun 2025", "quantity": "1", "unitPrice": "7400", "amount": "7400"}],
        subtotal="7400",
        discounts=[],
        taxable="7400",
        taxRate="0",
        tax="0",
        total="7400",
        notes=["VAT not applicable: the customer is established outside the EU"],
    )


def hostile_invoice() -> dict[str, Any]:
    doc = invoice(
        number="2025-000060",
        tenant=HOSTILE,
        billTo={"kind": "Tenant", "name": HOSTILE, "country": "FR", "customerType": "Individual"},
        lines=[{"description": f"Plan {HOSTILE} <img src=x onerror=alert(1)>", "quantity": "1", "unitPrice": "1.00"}],
        notes=[f"Note & {HOSTILE}"],
    )
    doc["spec"]["lines"][0]["amount"] = "1.00"
    return doc


# --- HTML ------------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def parsed(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def test_html_invoice_has_everything_a_customer_needs() -> None:
    page = render_html(invoice())
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Invoice 2025-000042</title>" in page
    for expected in (
        "Invoice",
        "2025-000042",
        "1 July 2025",  # issue date
        "31 July 2025",  # due date
        "2025-06 (1 June 2025 to 30 June 2025)",
        "Hébergement Exemple SAS",
        "12 rue de l&#x27;Église",
        "75002 Paris",
        "Tax ID: FR40303265045",
        "bistro",
        "Customer type: Business",
        "Professional plan — 10 Jun to 30 Jun 2025 (21/30 days)",
        "+5 users, Jun 2025 (20 € each)",
        "34.30",
        "49.00",
        "Subtotal",
        "95.00",
        "Coupon WELCOME10 (10 %)",
        "-9.50",
        "Taxable amount",
        "85.50",
        "Tax (20 %)",
        "17.10",
        "102.60 EUR",
        "Payment due 30 days after the invoice date",
    ):
        assert expected in page, expected
    assert "Paid on" not in page
    tags = parsed(page)
    assert tags.tags.count("tr") == 1 + 4 + 5  # header, lines, totals
    assert "Corrects invoice" not in page


def test_html_is_self_contained_and_printable() -> None:
    page = render_html(invoice())
    tags = parsed(page)
    assert "link" not in tags.tags and "script" not in tags.tags and "img" not in tags.tags
    assert "src" not in tags.attributes and "href" not in tags.attributes
    assert "http://" not in page and "https://" not in page and "url(" not in page
    assert "<style>" in page and "@page" in page


def test_html_escapes_hostile_text() -> None:
    page = render_html(hostile_invoice())
    tags = parsed(page)
    assert "script" not in tags.tags and "img" not in tags.tags
    assert "onerror" not in tags.attributes
    assert "<script>" not in page and "<img" not in page
    assert html.escape(HOSTILE) in page
    # The text reads as written once the browser decodes it.
    assert HOSTILE in "".join(tags.data)
    assert "Note &amp; " in page


def test_html_reverse_charge_mention_verbatim() -> None:
    page = render_html(reverse_charge_invoice())
    assert html.escape(REVERSE_MENTION) in page
    assert "Tax (0 %)" in page and "99.00 EUR" in page
    assert "Country: DE" in page and "Tax ID: DE129273398" in page


def test_html_reseller_billed_names_the_tenant() -> None:
    page = render_html(reseller_invoice())
    assert "webagency" in page
    assert "Reseller, for the services of tenant florist" in page
    assert "Services of tenant florist, billed to reseller webagency" in page
    assert "Reseller webagency (15 %)" in page and "-2.85" in page


def test_html_paid_and_credit_note() -> None:
    assert "Paid on 12 July 2025" in render_html(paid_invoice())
    page = render_html(credit_note())
    assert "<title>Credit note 2025-000043</title>" in page
    assert "Corrects invoice" in page and "2025-000042" in page
    assert "Service outage — goodwill credit" in page
    assert "Due date" not in page
    assert "-102.60 EUR" in page and "-34.30" in page
    assert ">9.50<" in page  # the credit note's discount, subtracted from a negative subtotal


def test_html_yen_has_no_decimals() -> None:
    page = render_html(yen_invoice())
    assert "7400 JPY" in page and "Unit price (JPY)" in page
    assert "7400.00" not in page


# --- PDF -------------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data), strict=True)
    content = "\n".join(page.extract_text() for page in reader.pages)
    return reader, content


def flat(value: str) -> str:
    return re.sub(r"\s+", " ", value)


def test_pdf_structure_and_xref_offsets() -> None:
    data = render_pdf(invoice())
    assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
    found = re.search(rb"startxref\n(\d+)\n%%EOF\n$", data)
    assert found is not None
    start = int(found.group(1))
    assert data[start:].startswith(b"xref\n0 ")
    table = data[start:].split(b"trailer")[0].splitlines()
    count = int(table[1].split()[1])
    entries = table[2 : 2 + count]
    assert len(entries) == count and f"/Size {count} ".encode() in data[start:]
    assert entries[0] == b"0000000000 65535 f "
    for number, entry in enumerate(entries[1:], start=1):
        assert len(entry) == 19  # 20 bytes with the newline
        offset = int(entry[:10])
        assert data[offset:].startswith(f"{number} 0 obj\n".encode()), number
    reader = PdfReader(io.BytesIO(data), strict=True)
    assert reader.pdf_header == "%PDF-1.4"
    assert reader.metadata is not None and reader.metadata.title == "Invoice 2025-000042"
    assert str(reader.metadata["/CreationDate"]) == "D:20250701000500Z"
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert {fonts[k]["/BaseFont"] for k in fonts} == {"/Helvetica", "/Helvetica-Bold"}
    assert {fonts[k]["/Encoding"] for k in fonts} == {"/WinAnsiEncoding"}


def test_pdf_text_of_an_invoice() -> None:
    reader, content = pdf_text(render_pdf(invoice()))
    assert len(reader.pages) == 1
    words = flat(content)
    for expected in (
        "Invoice 2025-000042",
        "Issue date 1 July 2025",
        "Due date 31 July 2025",
        "Hébergement Exemple SAS",
        "12 rue de l'Église",
        "Tax ID: FR40303265045",
        "bistro",
        "Professional plan — 10 Jun to 30 Jun 2025 (21/30 days)",
        "(20 € each)",
        "5.70",
        "34.30",
        "40.00",
        "15.00",
        "Subtotal 95.00",
        "Coupon WELCOME10 (10 %) -9.50",
        "Taxable amount 85.50",
        "Tax (20 %) 17.10",
        "Total 102.60 EUR",
        "Payment due 30 days after the invoice date",
        "page 1 of 1",
    ):
        assert expected in words, expected


def test_pdf_reverse_charge_paid_reseller_credit_note_yen() -> None:
    assert REVERSE_MENTION in flat(pdf_text(render_pdf(reverse_charge_invoice()))[1])
    assert "Paid on 12 July 2025" in pdf_text(render_pdf(paid_invoice()))[1]
    reseller = flat(pdf_text(render_pdf(reseller_invoice()))[1])
    assert "webagency" in reseller and "Reseller, for the services of tenant florist" in reseller
    credit = flat(pdf_text(render_pdf(credit_note()))[1])
    for expected in ("Credit note 2025-000043", "Corrects invoice 2025-000042", "Service outage — goodwill credit"):
        assert expected in credit
    assert "-102.60 EUR" in credit and "Due date" not in credit
    yen = flat(pdf_text(render_pdf(yen_invoice()))[1])
    assert "Total 7400 JPY" in yen and "7400.00" not in yen


def test_pdf_outside_cp1252_becomes_a_question_mark() -> None:
    doc = invoice(lines=[{"description": "Ünïcödé ✓ 日本 — e\u0301", "quantity": "1", "unitPrice": "1", "amount": "1"}])
    content = pdf_text(render_pdf(doc))[1]
    assert "Ünïcödé ? ?? — é" in content  # decomposed "e + accent" is composed first
    assert encode_cp1252("€—é✓\x07") == b"\x80\x97\xe9??"


def test_pdf_hostile_text_is_only_text() -> None:
    doc = hostile_invoice()
    doc["spec"]["lines"][0]["description"] = "a) b( c\\ d" + HOSTILE
    data = render_pdf(doc)
    content = flat(pdf_text(data)[1])
    assert "a) b( c\\ d" + HOSTILE in content
    assert b"/JavaScript" not in data and b"/JS" not in data and b"/OpenAction" not in data


def test_pdf_pages_for_120_lines() -> None:
    data = render_pdf(long_invoice())
    reader, _ = pdf_text(data)
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    total = len(pages)
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {total}" in page
        assert "Description" in page and "Amount (EUR)" in page  # the table header, repeated
    everything = "\n".join(pages)
    for i in range(1, 121):
        assert f"Add-on pack n°{i} — café €" in everything
        assert re.search(rf"(?m)\b{i}\.25$", everything), i
    assert "Total 102.60 EUR" in flat(pages[-1])


def _positions(data: bytes) -> list[tuple[int, str, float, float, float, bool]]:
    """Every text shown, with its page, its start point, its size and whether it is bold."""
    reader = PdfReader(io.BytesIO(data))
    found: list[tuple[int, str, float, float, float, bool]] = []
    for index, page in enumerate(reader.pages):

        def visit(value: str, cm: Any, tm: Any, font: Any, size: Any, index: int = index) -> None:
            if value.strip():  # pypdf may put a space before a piece of text on the same line
                bold = font["/BaseFont"] == "/Helvetica-Bold"
                found.append((index, value.strip(), float(tm[4]), float(tm[5]), float(size), bold))

        page.extract_text(visitor_text=visit)
    return found


def test_pdf_amounts_right_aligned() -> None:
    positions = _positions(render_pdf(long_invoice()))
    amounts = [(text, x) for _, text, x, _, _, _ in positions if re.fullmatch(r"\d+\.25", text)]
    assert len(amounts) == 120
    for text, x in amounts:
        assert x + text_width(text.encode("cp1252"), 9) == pytest.approx(543, abs=0.01), text


def crowded_invoice() -> dict[str, Any]:
    """Long text everywhere: each piece must wrap inside its column and break onto new pages."""
    return invoice(
        number="2025-000100",
        seller={**SELLER, "name": "Hébergement " * 30, "address": "line one\nline two\n" * 40},
        billTo={"kind": "Reseller", "name": "W" * 200, "country": "FR", "taxId": "FR" + "9" * 150},
        tenant="t" * 120,
        lines=[
            {"description": "word " * 300 + "z" * 500, "quantity": "1", "unitPrice": "1.00", "amount": "1.00"},
            *long_invoice()["spec"]["lines"][:30],
        ],
        discounts=[{"description": "Coupon " + "LONG" * 60, "amount": "1.00"}],
        notes=[REVERSE_CHARGE * 20, "short note"],
    )


@pytest.mark.parametrize("make", [long_invoice, crowded_invoice, credit_note, reseller_invoice, paid_invoice])
def test_pdf_everything_stays_on_the_page(make: Any) -> None:
    for _, text, x, y, size, bold in _positions(render_pdf(make())):
        assert 49 <= x <= 545 and 30 <= y <= 800, (text, x, y)
        assert x + text_width(encode_cp1252(text), size, bold) <= 545.01, (text, x, size)


def test_pdf_widths_are_the_standard_fonts_metrics() -> None:
    metrics = pytest.importorskip("pypdf._codecs.core_font_metrics").CORE_FONT_METRICS
    for bold, name in ((False, "Helvetica"), (True, "Helvetica-Bold")):
        widths = metrics[name].character_widths
        for code in range(32, 256):
            try:
                char = bytes([code]).decode("cp1252")
            except UnicodeDecodeError:
                continue
            if char in widths:
                assert text_width(bytes([code]), 1000, bold) == widths[char], (name, char)


def test_pdf_is_deterministic() -> None:
    for doc in (invoice(), long_invoice(), credit_note(), paid_invoice()):
        first = render_pdf(doc)
        assert render_pdf(copy.deepcopy(doc)) == first
    assert render_pdf(invoice()) != render_pdf(invoice(number="2025-000043"))


def test_pdf_wraps_long_text_within_the_column() -> None:
    long_word = "x" * 400
    lines = wrap(f"short {long_word} words here", 100, 9)
    assert all(text_width(line, 9) <= 100 for line in lines)
    assert b"".join(lines).replace(b" ", b"") == f"short{long_word}wordshere".encode()
    doc = invoice(notes=[REVERSE_CHARGE * 20], seller={**SELLER, "address": "line one\nline two\n" * 40})
    reader, content = pdf_text(render_pdf(doc))
    without_feet = re.sub(r"Invoice 2025-000042 — page \d+ of \d+", " ", content)
    assert REVERSE_CHARGE * 20 in flat(without_feet)
    assert len(reader.pages) >= 2


# --- CSV -------------------------------------------------------------------------------------------


def rows(out: str) -> list[dict[str, str]]:
    table = list(csv.reader(io.StringIO(out, newline="")))
    assert table[0] == list(COLUMNS)
    assert all(len(row) == len(COLUMNS) for row in table)
    return [dict(zip(COLUMNS, row, strict=True)) for row in table[1:]]


def test_csv_rows_sorted_by_number_with_every_column() -> None:
    docs = [credit_note(), reseller_invoice(), paid_invoice(), reverse_charge_invoice(), yen_invoice()]
    out = export_csv(docs)
    assert out.endswith("\r\n") and out.count("\r\n") == 6 and "\n" not in out.replace("\r\n", "")
    found = rows(out)
    assert [r["number"] for r in found] == ["2025-000042", "2025-000043", "2025-000044", "2025-000051", "2025-000077"]
    paid, credit, reseller, reverse, yen = found
    assert paid == {
        "number": "2025-000042",
        "kind": "invoice",
        "issuedAt": "2025-07-01",
        "dueAt": "2025-07-31",
        "period": "2025-06",
        "tenant": "bistro",
        "billTo": "bistro",
        "billToCountry": "FR",
        "billToTaxId": "FR40303265045",
        "currency": "EUR",
        "subtotal": "95.00",
        "discounts": "9.50",
        "taxable": "85.50",
        "taxRate": "20",
        "tax": "17.10",
        "total": "102.60",
        "state": "Paid",
        "paidAt": "2025-07-12",
        "reverseCharge": "no",
        "corrects": "",
    }
    assert credit["kind"] == "credit-note" and credit["corrects"] == "2025-000042"
    assert (credit["subtotal"], credit["discounts"], credit["total"]) == ("-95.00", "-9.50", "-102.60")
    assert credit["dueAt"] == "" and credit["issuedAt"] == "2025-07-15"
    assert reseller["tenant"] == "florist" and reseller["billTo"] == "webagency" and reseller["state"] == "Issued"
    assert reverse["reverseCharge"] == "yes" and reverse["taxRate"] == "0" and reverse["discounts"] == "0.00"
    assert yen["currency"] == "JPY" and yen["total"] == "7400" and yen["discounts"] == "0"


def test_csv_credit_note_finds_the_invoice_number_by_name() -> None:
    note = credit_note()
    del note["spec"]["invoiceNumber"]
    found = rows(export_csv([note, invoice()]))
    assert found[1]["corrects"] == "2025-000042"
    assert rows(export_csv([note]))[0]["corrects"] == "bistro-2025-06"  # the invoice is not in the export


def test_csv_reverse_charge_read_from_the_notes_when_not_flagged() -> None:
    doc = reverse_charge_invoice()
    del doc["spec"]["reverseCharge"]
    assert rows(export_csv([doc]))[0]["reverseCharge"] == "yes"


def test_csv_is_formula_safe_for_text_only() -> None:
    evil = invoice(
        number="2025-000050",
        tenant='=HYPERLINK("http://evil.example","x")',
        billTo={"kind": "Tenant", "name": '+cmd|" /C calc"!A0', "country": "@FR", "taxId": "-1+1"},
        total="=1+1",
    )
    out = export_csv([evil, credit_note()])
    found = rows(out)
    row = next(r for r in found if r["number"] == "2025-000050")
    assert row["tenant"] == "'" + '=HYPERLINK("http://evil.example","x")'
    assert row["billTo"] == "'" + '+cmd|" /C calc"!A0'
    assert row["billToCountry"] == "'@FR" and row["billToTaxId"] == "'-1+1"
    assert row["total"] == "'=1+1"  # not a decimal: text, made safe
    credit = next(r for r in found if r["kind"] == "credit-note")
    assert credit["total"] == "-102.60" and credit["tax"] == "-17.10" and credit["taxable"] == "-85.50"


def test_csv_quotes_commas_quotes_and_newlines() -> None:
    doc = invoice(billTo={"kind": "Tenant", "name": 'Acme, "Inc."\nParis', "country": "FR"})
    out = export_csv([doc])
    assert '"Acme, ""Inc.""\nParis"' in out
    assert rows(out)[0]["billTo"] == 'Acme, "Inc."\nParis'


def test_csv_empty_is_the_header() -> None:
    assert export_csv([]) == ",".join(COLUMNS) + "\r\n"
