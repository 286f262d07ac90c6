"""An issued Invoice or CreditNote as the document a customer receives: an HTML page or a PDF.

Pure: the input is the whole object (apiVersion, kind, metadata, spec, status) and nothing
else is read, no clock, no file, no cluster. The same object always gives the same bytes, so
the archive's write-once check sees an identical PDF on a rerun.

Both renderers share one reading of the object (`_Sheet`): the title and number, the dates, the
seller and the billed party, the lines, the totals (subtotal, each discount, taxable amount,
tax with its rate, total with the currency), every note verbatim and, once paid, "Paid on ...".

The PDF is written by hand, without a dependency: PDF 1.4, A4 pages, the standard Helvetica and
Helvetica-Bold fonts with WinAnsiEncoding (text encoded cp1252, so "é", "€" and "—" show; a
character outside cp1252 prints as "?"), uncompressed content streams, text wrapped with the
fonts' metrics, amounts right-aligned, the lines table continued on as many pages as it needs
(its header repeated), "page N of M" at the foot of each page.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ..billing.money import MoneyError, parse_decimal

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
REVERSE_CHARGE_PREFIX = "Reverse charge"


# --- reading the object -------------------------------------------------------------------------


def mapping(value: object) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one (a missing or malformed field)."""
    return value if isinstance(value, Mapping) else {}


def text(value: object) -> str:
    """A field as text: "" for a missing one, `true`/`false` for a boolean."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def day_of(value: object) -> date | None:
    """The (UTC) day of a date or an RFC 3339 timestamp; None when absent or not a date."""
    raw = text(value).strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def moment_of(value: object) -> datetime | None:
    """An RFC 3339 timestamp as a UTC datetime (a naive one is taken as UTC); None otherwise."""
    raw = text(value).strip()
    if len(raw) <= 10:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def long_date(value: object) -> str:
    """`1 July 2025` for a date or timestamp; the text as given when it is not one."""
    day = day_of(value)
    if day is None:
        return text(value)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def is_credit_note(doc: Mapping[str, Any]) -> bool:
    """Whether the object is a CreditNote (else it is read as an Invoice)."""
    return text(doc.get("kind")) == "CreditNote"


def is_reverse_charge(spec: Mapping[str, Any]) -> bool:
    """`spec.reverseCharge` when written, else whether a note carries the reverse-charge mention."""
    flag = spec.get("reverseCharge")
    if isinstance(flag, bool):
        return flag
    return any(text(note).startswith(REVERSE_CHARGE_PREFIX) for note in _items(spec.get("notes")))


def _items(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _negated(amount: object) -> str:
    """A discount as it is printed: subtracted (`9.50` -> `-9.50`, a credit note's `-9.50` -> `9.50`)."""
    raw = text(amount).strip()
    try:
        return str(-parse_decimal(raw))
    except MoneyError:
        return f"-{raw}" if raw else ""


@dataclass(frozen=True)
class _Party:
    heading: str
    name: str
    details: list[str]


@dataclass(frozen=True)
class _Line:
    description: str
    quantity: str
    unit_price: str
    amount: str


@dataclass(frozen=True)
class _Total:
    label: str
    amount: str
    strong: bool = False


@dataclass
class _Sheet:
    """What the document shows, read once from the object, shared by HTML and PDF."""

    kind: str  # "Invoice" | "Credit note"
    number: str
    currency: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    state: str = ""
    seller: _Party = field(default_factory=lambda: _Party("From", "", []))
    buyer: _Party = field(default_factory=lambda: _Party("Bill to", "", []))
    lines: list[_Line] = field(default_factory=list)
    totals: list[_Total] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.kind} {self.number}".strip()


def _address_lines(party: Mapping[str, Any]) -> list[str]:
    return [line.strip() for line in text(party.get("address")).splitlines() if line.strip()]


def _sheet(doc: Mapping[str, Any]) -> _Sheet:
    spec = mapping(doc.get("spec"))
    status = mapping(doc.get("status"))
    credit = is_credit_note(doc)
    currency = text(spec.get("currency"))
    sheet = _Sheet("Credit note" if credit else "Invoice", text(spec.get("number")), currency)

    period = text(spec.get("period"))
    start, end = spec.get("periodStart"), spec.get("periodEnd")
    if start and end:
        period = f"{period} ({long_date(start)} to {long_date(end)})".strip()
    facts = [
        ("Credit note number" if credit else "Invoice number", sheet.number),
        ("Issue date", long_date(spec.get("issuedAt"))),
        ("Due date", "" if credit else long_date(spec.get("dueAt"))),
        ("Period", period),
        ("Currency", currency),
    ]
    if credit:
        facts.append(("Corrects invoice", text(spec.get("invoiceNumber")) or text(spec.get("invoice"))))
        facts.append(("Reason", text(spec.get("reason"))))
    sheet.facts = [(label, value) for label, value in facts if value.strip()]
    if status.get("paidAt"):
        sheet.state = f"Paid on {long_date(status.get('paidAt'))}"

    seller = mapping(spec.get("seller"))
    sheet.seller = _Party(
        "From",
        text(seller.get("name")),
        [
            *_address_lines(seller),
            *([f"Country: {text(seller.get('country'))}"] if seller.get("country") else []),
            *([f"Tax ID: {text(seller.get('taxId'))}"] if seller.get("taxId") else []),
        ],
    )
    bill_to = mapping(spec.get("billTo"))
    tenant = text(spec.get("tenant"))
    buyer_name = text(bill_to.get("name"))
    reseller = text(bill_to.get("kind")) == "Reseller" or bool(tenant and buyer_name and buyer_name != tenant)
    sheet.buyer = _Party(
        "Bill to",
        buyer_name,
        [
            *_address_lines(bill_to),
            *([f"Country: {text(bill_to.get('country'))}"] if bill_to.get("country") else []),
            *([f"Tax ID: {text(bill_to.get('taxId'))}"] if bill_to.get("taxId") else []),
            *([f"Customer type: {text(bill_to.get('customerType'))}"] if bill_to.get("customerType") else []),
            *([f"Reseller, for the services of tenant {tenant}"] if reseller and tenant else []),
        ],
    )

    for line in _items(spec.get("lines")):
        entry = mapping(line)
        sheet.lines.append(
            _Line(
                text(entry.get("description")),
                text(entry.get("quantity")),
                text(entry.get("unitPrice")),
                text(entry.get("amount")),
            )
        )
    totals = [_Total("Subtotal", text(spec.get("subtotal")))]
    for discount in _items(spec.get("discounts")):
        entry = mapping(discount)
        totals.append(_Total(text(entry.get("description")) or "Discount", _negated(entry.get("amount"))))
    totals.append(_Total("Taxable amount", text(spec.get("taxable"))))
    rate = text(spec.get("taxRate"))
    totals.append(_Total(f"Tax ({rate} %)" if rate else "Tax", text(spec.get("tax"))))
    total = text(spec.get("total"))
    totals.append(_Total("Total", f"{total} {currency}".strip(), strong=True))
    sheet.totals = totals
    sheet.notes = [text(note) for note in _items(spec.get("notes")) if text(note).strip()]
    return sheet


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
@page { size: A4; margin: 18mm 16mm; }
* { box-sizing: border-box; }
body { font-family: Helvetica, Arial, sans-serif; font-size: 10pt; color: #111; margin: 0; }
main { max-width: 190mm; margin: 0 auto; padding: 8mm 0; }
header { display: flex; justify-content: space-between; align-items: flex-start; }
h1 { font-size: 20pt; margin: 0 0 4mm; }
h2 { font-size: 10pt; text-transform: uppercase; letter-spacing: .05em; color: #555; margin: 0 0 1mm; }
.state { font-size: 13pt; font-weight: bold; color: #17652f; border: 2px solid #17652f; padding: 1mm 3mm; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .5mm 6mm; margin: 0 0 6mm; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
.parties { display: flex; gap: 10mm; margin-bottom: 6mm; }
.party { flex: 1; }
.party p { margin: 0; line-height: 1.4; }
.party .name { font-weight: bold; }
table { width: 100%; border-collapse: collapse; }
table.lines th { text-align: left; background: #eee; border-bottom: 1px solid #999; padding: 1.5mm 2mm; }
table.lines td { border-bottom: 1px solid #ddd; padding: 1.5mm 2mm; vertical-align: top; }
table.lines thead { display: table-header-group; }
table.lines tr { page-break-inside: avoid; break-inside: avoid; }
.num { text-align: right !important; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.totals { width: auto; margin: 4mm 0 6mm auto; }
table.totals td { padding: 1mm 2mm; }
table.totals tr.strong td { font-weight: bold; font-size: 12pt; border-top: 2px solid #111; }
.notes ul { margin: 0; padding-left: 5mm; }
.notes li { margin-bottom: 1mm; }
.desc { white-space: pre-wrap; overflow-wrap: anywhere; }
""".strip()


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def render_html(doc: Mapping[str, Any]) -> str:
    """The document as one self-contained, printable HTML page; every value from the object escaped."""
    sheet = _sheet(doc)
    currency = f" ({_e(sheet.currency)})" if sheet.currency else ""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(sheet.title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f'<h1>{_e(sheet.kind)} <span class="number">{_e(sheet.number)}</span></h1>',
    ]
    if sheet.state:
        out.append(f'<p class="state">{_e(sheet.state)}</p>')
    out.append("</header>")
    out.append('<dl class="facts">')
    out.extend(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in sheet.facts)
    out.append("</dl>")
    out.append('<section class="parties">')
    for css, party in (("seller", sheet.seller), ("buyer", sheet.buyer)):
        out.append(f'<div class="party {css}">')
        out.append(f"<h2>{_e(party.heading)}</h2>")
        out.append(f'<p class="name">{_e(party.name)}</p>')
        if party.details:
            out.append("<p>" + "<br>".join(_e(line) for line in party.details) + "</p>")
        out.append("</div>")
    out.append("</section>")
    out.append('<table class="lines">')
    out.append(
        '<thead><tr><th>Description</th><th class="num">Quantity</th>'
        f'<th class="num">Unit price{currency}</th><th class="num">Amount{currency}</th></tr></thead>'
    )
    out.append("<tbody>")
    if not sheet.lines:
        out.append('<tr><td colspan="4">Nothing charged in this period</td></tr>')
    for line in sheet.lines:
        out.append(
            f'<tr><td class="desc">{_e(line.description)}</td><td class="num">{_e(line.quantity)}</td>'
            f'<td class="num">{_e(line.unit_price)}</td><td class="num">{_e(line.amount)}</td></tr>'
        )
    out.append("</tbody>")
    out.append("</table>")
    out.append('<table class="totals">')
    for total in sheet.totals:
        css = ' class="strong"' if total.strong else ""
        out.append(f'<tr{css}><td>{_e(total.label)}</td><td class="num">{_e(total.amount)}</td></tr>')
    out.append("</table>")
    if sheet.notes:
        out.append('<section class="notes">')
        out.append("<h2>Notes</h2>")
        out.append("<ul>")
        out.extend(f"<li>{_e(note)}</li>" for note in sheet.notes)
        out.append("</ul>")
        out.append("</section>")
    out.extend(["</main>", "</body>", "</html>", ""])
    return "\n".join(out)


# --- PDF: metrics and text ------------------------------------------------------------------------

# Advance widths (1/1000 em) of the printable ASCII characters 32..126, from the Adobe AFM metrics
# of the two standard fonts.
_ASCII_WIDTHS = {
    False: (
        "278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556 "
        "556 556 278 278 584 584 584 556 1015 667 667 722 722 667 611 778 722 278 500 667 556 833 722 778 "
        "667 778 722 667 611 722 667 944 667 667 611 278 278 278 469 556 333 556 556 500 556 556 278 556 "
        "556 222 222 500 222 833 556 556 556 556 333 500 278 556 500 722 500 500 500 334 260 334 584"
    ),
    True: (
        "278 333 474 556 556 889 722 238 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556 "
        "556 556 333 333 584 584 584 611 975 722 722 722 722 667 611 778 722 278 556 722 611 833 722 778 "
        "667 778 722 667 611 722 667 944 667 667 611 333 278 333 584 556 333 556 611 556 611 556 333 611 "
        "611 278 278 556 278 889 611 611 611 611 389 556 333 611 556 778 556 556 500 389 280 389 584"
    ),
}
# The other cp1252 characters, by code, that are not an ASCII letter with an accent: (regular, bold).
# (The accented i is as wide as the dotless i, not as "i".)
_OTHER_WIDTHS: dict[int, tuple[int, int]] = {
    0x80: (556, 556),  # euro sign
    0x82: (222, 278),  # single low-9 quotation mark
    0x83: (556, 556),  # latin small letter f with hook
    0x84: (333, 500),  # double low-9 quotation mark
    0x85: (1000, 1000),  # horizontal ellipsis
    0x86: (556, 556),  # dagger
    0x87: (556, 556),  # double dagger
    0x88: (333, 333),  # modifier letter circumflex accent
    0x89: (1000, 1000),  # per mille sign
    0x8B: (333, 333),  # single left-pointing angle quotation mark
    0x8C: (1000, 1000),  # latin capital ligature oe
    0x91: (222, 278),  # left single quotation mark
    0x92: (222, 278),  # right single quotation mark
    0x93: (333, 500),  # left double quotation mark
    0x94: (333, 500),  # right double quotation mark
    0x95: (350, 350),  # bullet
    0x96: (556, 556),  # en dash
    0x97: (1000, 1000),  # em dash
    0x98: (333, 333),  # small tilde
    0x99: (1000, 1000),  # trade mark sign
    0x9B: (333, 333),  # single right-pointing angle quotation mark
    0x9C: (944, 944),  # latin small ligature oe
    0xA0: (278, 278),  # no-break space
    0xA1: (333, 333),  # inverted exclamation mark
    0xA2: (556, 556),  # cent sign
    0xA3: (556, 556),  # pound sign
    0xA4: (556, 556),  # currency sign
    0xA5: (556, 556),  # yen sign
    0xA6: (260, 280),  # broken bar
    0xA7: (556, 556),  # section sign
    0xA8: (333, 333),  # diaeresis
    0xA9: (737, 737),  # copyright sign
    0xAA: (370, 370),  # feminine ordinal indicator
    0xAB: (556, 556),  # left-pointing double angle quotation mark
    0xAC: (584, 584),  # not sign
    0xAD: (333, 333),  # soft hyphen
    0xAE: (737, 737),  # registered sign
    0xAF: (333, 333),  # macron
    0xB0: (400, 400),  # degree sign
    0xB1: (584, 584),  # plus-minus sign
    0xB2: (333, 333),  # superscript two
    0xB3: (333, 333),  # superscript three
    0xB4: (333, 333),  # acute accent
    0xB5: (556, 611),  # micro sign
    0xB6: (537, 556),  # pilcrow sign
    0xB7: (278, 278),  # middle dot
    0xB8: (333, 333),  # cedilla
    0xB9: (333, 333),  # superscript one
    0xBA: (365, 365),  # masculine ordinal indicator
    0xBB: (556, 556),  # right-pointing double angle quotation mark
    0xBC: (834, 834),  # vulgar fraction one quarter
    0xBD: (834, 834),  # vulgar fraction one half
    0xBE: (834, 834),  # vulgar fraction three quarters
    0xBF: (611, 611),  # inverted question mark
    0xC6: (1000, 1000),  # latin capital letter ae
    0xD0: (722, 722),  # latin capital letter eth
    0xD7: (584, 584),  # multiplication sign
    0xD8: (778, 778),  # latin capital letter o with stroke
    0xDE: (667, 667),  # latin capital letter thorn
    0xDF: (611, 611),  # latin small letter sharp s
    0xE6: (889, 889),  # latin small letter ae
    0xEC: (278, 278),  # latin small letter i with grave
    0xED: (278, 278),  # latin small letter i with acute
    0xEE: (278, 278),  # latin small letter i with circumflex
    0xEF: (278, 278),  # latin small letter i with diaeresis
    0xF0: (556, 611),  # latin small letter eth
    0xF7: (584, 584),  # division sign
    0xF8: (611, 611),  # latin small letter o with stroke
    0xFE: (556, 611),  # latin small letter thorn
}


def _width_table(bold: bool) -> tuple[int, ...]:
    ascii_widths = [int(w) for w in _ASCII_WIDTHS[bold].split()]
    fallback = 611 if bold else 556
    widths: list[int] = []
    for code in range(256):
        if 32 <= code <= 126:
            widths.append(ascii_widths[code - 32])
            continue
        try:
            char = bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            widths.append(fallback)
            continue
        if code in _OTHER_WIDTHS:
            widths.append(_OTHER_WIDTHS[code][bold])
            continue
        base = unicodedata.normalize("NFD", char)[0]  # an accented letter is as wide as its letter
        widths.append(ascii_widths[ord(base) - 32] if 32 <= ord(base) <= 126 else fallback)
    return tuple(widths)


_WIDTHS = {False: _width_table(False), True: _width_table(True)}


def encode_cp1252(value: str) -> bytes:
    """The text as the fonts' bytes: NFC, cp1252, "?" for anything else, a space for a tab or newline."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", value):
        if char in "\t\r\n":
            out += b" "
        elif unicodedata.category(char) == "Cc":
            out += b"?"
        else:
            try:
                out += char.encode("cp1252")
            except UnicodeEncodeError:
                out += b"?"
    return bytes(out)


def text_width(value: bytes, size: float, bold: bool = False) -> float:
    """The width in points of encoded text set in Helvetica (or Helvetica-Bold) at `size`."""
    widths = _WIDTHS[bold]
    return sum(widths[code] for code in value) * size / 1000


def _pdf_string(value: bytes) -> str:
    out = []
    for code in value:
        if code in (0x28, 0x29, 0x5C):
            out.append("\\" + chr(code))
        elif 32 <= code <= 126:
            out.append(chr(code))
        else:
            out.append(f"\\{code:03o}")
    return "(" + "".join(out) + ")"


def wrap(value: str, width: float, size: float, bold: bool = False) -> list[bytes]:
    """Encoded lines no wider than `width`: greedy on spaces, a too-long word cut, newlines kept."""
    lines: list[bytes] = []
    for paragraph in value.split("\n"):
        words = encode_cp1252(paragraph).split(b" ")
        current = b""
        for word in words:
            candidate = word if not current else current + b" " + word
            if text_width(candidate, size, bold) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = b""
            while text_width(word, size, bold) > width:
                cut = 1
                while cut < len(word) and text_width(word[: cut + 1], size, bold) <= width:
                    cut += 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines or [b""]


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --- PDF: layout --------------------------------------------------------------------------------

_PAGE_WIDTH, _PAGE_HEIGHT = 595.28, 841.89  # A4
_LEFT, _RIGHT = 50.0, 545.0
_TOP, _BOTTOM = 792.0, 64.0
_SIZE = 9.0
_LEADING = 12.0
# The lines table: the description's width, then the right edges of the three amounts' columns.
_DESC_WIDTH = 268.0
_QTY_RIGHT, _PRICE_RIGHT, _AMOUNT_RIGHT = 375.0, 460.0, 545.0


class _Canvas:
    """Pages of content-stream operators, with a cursor going down and page breaks."""

    def __init__(self) -> None:
        self.pages: list[list[str]] = []
        self.y = _TOP
        self.on_break: Callable[[], None] | None = None
        self.new_page()

    def new_page(self) -> None:
        self.pages.append([])
        self.y = _TOP

    def ensure(self, height: float) -> None:
        """Room for `height` points below the cursor, on a new page (its header redrawn) if need be."""
        if self.y - height >= _BOTTOM or self.y >= _TOP:
            return
        self.new_page()
        if self.on_break is not None:
            self.on_break()

    def text(self, x: float, y: float, value: bytes, size: float = _SIZE, bold: bool = False) -> None:
        font = "F2" if bold else "F1"
        self.pages[-1].append(f"BT /{font} {_num(size)} Tf {_num(x)} {_num(y)} Td {_pdf_string(value)} Tj ET")

    def right(self, x: float, y: float, value: bytes, size: float = _SIZE, bold: bool = False) -> None:
        self.text(x - text_width(value, size, bold), y, value, size, bold)

    def rule(self, y: float, width: float = 0.5, left: float = _LEFT, right: float = _RIGHT) -> None:
        self.pages[-1].append(f"{_num(width)} w {_num(left)} {_num(y)} m {_num(right)} {_num(y)} l S")

    def band(self, y: float, height: float) -> None:
        self.pages[-1].append(f"0.92 g {_num(_LEFT)} {_num(y)} {_num(_RIGHT - _LEFT)} {_num(height)} re f 0 g")


def _layout(sheet: _Sheet) -> list[list[str]]:
    canvas = _Canvas()
    # Title, and the paid stamp on the right.
    canvas.y -= 20
    title_size = 20.0
    title = wrap(sheet.title, _RIGHT - _LEFT - (170 if sheet.state else 0), title_size, True)
    for index, part in enumerate(title):
        canvas.text(_LEFT, canvas.y, part, title_size, True)
        if index == 0 and sheet.state:
            canvas.right(_RIGHT, canvas.y + 2, encode_cp1252(sheet.state), 12, True)
        canvas.y -= 24
    canvas.y -= 4

    # The facts: label and wrapped value.
    for label, value in sheet.facts:
        for index, part in enumerate(wrap(value, _RIGHT - _LEFT - 110, 10)):
            canvas.ensure(13)
            if index == 0:
                canvas.text(_LEFT, canvas.y, encode_cp1252(label), 10, True)
            canvas.text(_LEFT + 110, canvas.y, part, 10)
            canvas.y -= 13
    canvas.y -= 14

    # Seller and buyer side by side.
    column = (_RIGHT - _LEFT - 25) / 2
    sides: list[list[tuple[bytes, bool, float]]] = []
    for party in (sheet.seller, sheet.buyer):
        rows: list[tuple[bytes, bool, float]] = [(encode_cp1252(party.heading.upper()), True, 8.0)]
        rows.extend((part, True, 10.0) for part in wrap(party.name, column, 10, True))
        for detail in party.details:
            rows.extend((part, False, 10.0) for part in wrap(detail, column, 10))
        sides.append(rows)
    for index in range(max(len(side) for side in sides)):
        canvas.ensure(13)
        for offset, side in ((0.0, sides[0]), (column + 25, sides[1])):
            if index < len(side):
                content, bold, size = side[index]
                canvas.text(_LEFT + offset, canvas.y, content, size, bold)
        canvas.y -= 13
    canvas.y -= 14

    # The lines table, its header repeated on every page it continues on.
    currency = f" ({sheet.currency})" if sheet.currency else ""

    def header() -> None:
        canvas.band(canvas.y - 4, 16)
        canvas.text(_LEFT + 2, canvas.y, b"Description", _SIZE, True)
        canvas.right(_QTY_RIGHT, canvas.y, b"Quantity", _SIZE, True)
        canvas.right(_PRICE_RIGHT, canvas.y, encode_cp1252("Unit price" + currency), _SIZE, True)
        canvas.right(_AMOUNT_RIGHT - 2, canvas.y, encode_cp1252("Amount" + currency), _SIZE, True)
        canvas.y -= 18

    canvas.ensure(16 + 2 * _LEADING)
    header()
    canvas.on_break = header
    if not sheet.lines:
        canvas.text(_LEFT + 2, canvas.y, b"Nothing charged in this period")
        canvas.y -= _LEADING
    for line in sheet.lines:
        described = wrap(line.description, _DESC_WIDTH, _SIZE)
        canvas.ensure(min(len(described) * _LEADING, _TOP - _BOTTOM - 40))
        for index, part in enumerate(described):
            canvas.ensure(_LEADING)
            canvas.text(_LEFT + 2, canvas.y, part)
            if index == 0:
                canvas.right(_QTY_RIGHT, canvas.y, encode_cp1252(line.quantity))
                canvas.right(_PRICE_RIGHT, canvas.y, encode_cp1252(line.unit_price))
                canvas.right(_AMOUNT_RIGHT - 2, canvas.y, encode_cp1252(line.amount))
            canvas.y -= _LEADING
        canvas.rule(canvas.y + _LEADING - 3.5, 0.25)
    canvas.on_break = None
    canvas.y -= 8

    # The totals, right-aligned under the amounts.
    for total in sheet.totals:
        size = 11.0 if total.strong else _SIZE
        labelled = wrap(total.label, _PRICE_RIGHT - _LEFT - 90, size, total.strong)
        height = len(labelled) * (size + 3) + (6 if total.strong else 0)
        canvas.ensure(height)
        if total.strong:
            canvas.rule(canvas.y + 8, 1.0, _PRICE_RIGHT - 120, _RIGHT)
            canvas.y -= 3
        for index, part in enumerate(labelled):
            canvas.right(_PRICE_RIGHT, canvas.y, part, size, total.strong)
            if index == 0:
                canvas.right(_AMOUNT_RIGHT - 2, canvas.y, encode_cp1252(total.amount), size, total.strong)
            canvas.y -= size + 3
    canvas.y -= 14

    # The notes, verbatim.
    if sheet.notes:
        canvas.ensure(13 + _LEADING)
        canvas.text(_LEFT, canvas.y, b"NOTES", 8, True)
        canvas.y -= 13
        for note in sheet.notes:
            for index, part in enumerate(wrap(note, _RIGHT - _LEFT - 12, _SIZE)):
                canvas.ensure(_LEADING)
                if index == 0:
                    canvas.text(_LEFT, canvas.y, encode_cp1252("•"))
                canvas.text(_LEFT + 12, canvas.y, part)
                canvas.y -= _LEADING
            canvas.y -= 3

    # Each page's foot: what it is and which page.
    count = len(canvas.pages)
    for number, page in enumerate(canvas.pages, start=1):
        foot = encode_cp1252(f"{sheet.title} — page {number} of {count}")
        page.append("0.4 g")
        page.append(f"BT /F1 8 Tf {_num(_RIGHT - text_width(foot, 8))} 36 Td {_pdf_string(foot)} Tj ET")
        page.append("0 g")
    return canvas.pages


# --- PDF: the file --------------------------------------------------------------------------------


def _utf16(value: str) -> str:
    """A text string outside content streams (the Info dictionary), as UTF-16BE hex with its BOM."""
    return "<FEFF" + value.encode("utf-16-be").hex().upper() + ">"


def _info(doc: Mapping[str, Any], sheet: _Sheet) -> str:
    spec = mapping(doc.get("spec"))
    entries = [f"/Title {_utf16(sheet.title)}", f"/Producer {_utf16('Landlord')}"]
    seller = text(mapping(spec.get("seller")).get("name"))
    if seller:
        entries.append(f"/Author {_utf16(seller)}")
    issued = moment_of(spec.get("issuedAt"))
    if issued is None:
        day = day_of(spec.get("issuedAt"))
        issued = datetime(day.year, day.month, day.day, tzinfo=UTC) if day is not None else None
    if issued is not None:
        stamp = issued.strftime("D:%Y%m%d%H%M%SZ")
        entries.append(f"/CreationDate ({stamp})")
        entries.append(f"/ModDate ({stamp})")
    return "<< " + " ".join(entries) + " >>"


def render_pdf(doc: Mapping[str, Any]) -> bytes:
    """The document as a PDF 1.4 file, byte for byte the same for the same object."""
    sheet = _sheet(doc)
    pages = _layout(sheet)
    font = "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>"
    # 1 catalog, 2 page tree, 3 and 4 the fonts, 5 the info, then each page and its content.
    kids = " ".join(f"{6 + 2 * index} 0 R" for index in range(len(pages)))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode("ascii"),
        font.format("Helvetica").encode("ascii"),
        font.format("Helvetica-Bold").encode("ascii"),
        _info(doc, sheet).encode("ascii"),
    ]
    media = f"[0 0 {_num(_PAGE_WIDTH)} {_num(_PAGE_HEIGHT)}]"
    for index, operators in enumerate(pages):
        content = ("\n".join(operators) + "\n").encode("ascii")
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox {media} "
                f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {7 + 2 * index} 0 R >>"
            ).encode("ascii")
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode("ascii") + content + b"endstream")
    return _assemble(objects)


def _assemble(objects: Sequence[bytes]) -> bytes:
    """Header, numbered objects, the cross-reference table with each object's byte offset, trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
    start = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode("ascii")
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode("ascii")
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{start}\n%%EOF\n".encode(
        "ascii"
    )
    return bytes(out)
