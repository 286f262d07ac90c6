"""`landlord invoice preview`: the invoice the engine would write for one tenant and period, offline.

The I/O around the pure engine: read the tenant, catalogue, usage and configuration files
(with line numbers), check the documents as `landlord validate` does, and print every problem
as one `path:line: field: problem` line (exit 1) or the invoice as a table or JSON (exit 0).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..config import ENV_VAR, Config, ConfigError, parse
from ..documents import Document, Problem, read, read_file
from ..pipeline import StaticCatalogue
from ..validate import validate
from .inputs import Prepared, prepare
from .issues import Issue, PricingError
from .money import plain
from .periods import dates
from .pricing import Invoice, InvoiceInput, price_invoice
from .tax import rate_text

PROG = "landlord invoice preview"
CATALOGUE_KINDS = ("Plan", "AddOn", "Reseller")
# Fields of catalogue documents that name other documents: not the preview's business.
_UNRELATED = ("spec.upgradesTo", "spec.downgradesTo", "spec.plans")


@dataclass
class Request:
    """The command's arguments."""

    tenant: str
    catalogs: Sequence[str]
    period: str
    usage: str | None
    config: str | None
    output: str = "table"
    name: str | None = None


class _Failed(Exception):
    """Problems were printed; the command exits 1."""


@dataclass
class _Files:
    """Where each input came from, to turn an `Issue` into `path:line: field: message`."""

    tenant: Document
    catalogue: list[Document]
    usage: Document | None
    usage_path: str | None
    config: Document | None
    config_path: str | None
    period: str

    def line(self, issue: Issue) -> str:
        warning = "warning: " if issue.severity == "warning" else ""
        field = issue.field or "(document)"
        if issue.where == "Tenant":
            doc = self.tenant
            return Problem(
                doc.path, doc.line_of(issue.field), "Tenant", doc.name, issue.field, issue.message, issue.severity
            ).text()
        if "/" in issue.where:
            kind, _, name = issue.where.partition("/")
            found = next((d for d in self.catalogue if d.kind == kind and d.name == name), None)
            if found is not None:
                return Problem(
                    found.path, found.line_of(issue.field), kind, name, issue.field, issue.message, issue.severity
                ).text()
            return f"{PROG}: {kind}/{name}: {warning}{field}: {issue.message}"
        if issue.where == "usage" and self.usage_path is not None:
            line = self.usage.line_of(issue.field) if self.usage is not None else 1
            return f"{self.usage_path}:{line}: {warning}{field}: {issue.message}"
        if issue.where == "config":
            if self.config_path is None:
                return f"{PROG}: configuration (none given; use --config FILE): {warning}{field}: {issue.message}"
            line = self.config.line_of(issue.field) if self.config is not None else 1
            return f"{self.config_path}:{line}: {warning}{field}: {issue.message}"
        if issue.where == "period":
            return f"{PROG}: --period {self.period}: {warning}{issue.message}"
        return f"{PROG}: {issue.where}: {warning}{field}: {issue.message}"


def _single(loaded_path: str, out: TextIO) -> Document | None:
    """The one document of a usage or configuration file (None for an empty file)."""
    if not Path(loaded_path).exists():
        print(f"{loaded_path}: no such file or folder; check the path", file=out)
        raise _Failed
    if Path(loaded_path).is_dir():
        print(f"{loaded_path}: a folder; give the file", file=out)
        raise _Failed
    loaded = read_file(Path(loaded_path))
    if loaded.problems:
        for problem in loaded.problems:
            print(problem.text(), file=out)
        raise _Failed
    if len(loaded.documents) > 1:
        extra = loaded.documents[1]
        print(f"{extra.path}:{extra.line}: a second document; this file holds one, remove the others", file=out)
        raise _Failed
    return loaded.documents[0] if loaded.documents else None


def _config(request: Request, err: TextIO) -> tuple[Config, Document | None, str | None]:
    path = request.config or os.environ.get(ENV_VAR) or None
    if path is None:
        return parse({}), None, None
    doc = _single(path, err)
    try:
        return parse(doc.body if doc is not None else {}, path), doc, path
    except ConfigError as exc:
        for key, message in exc.fields:
            line = doc.line_of(key) if doc is not None and key != "(top level)" else (doc.line if doc else 1)
            print(f"{path}:{line}: {key}: {message}", file=err)
        raise _Failed from None


def _chosen_tenant(request: Request, documents: list[Document], err: TextIO) -> Document:
    here = Path(request.tenant).resolve()
    tenants = [d for d in documents if d.is_landlord and d.kind == "Tenant" and Path(d.path).resolve() == here]
    names = ", ".join(d.name or "?" for d in tenants)
    if request.name is not None:
        found = [d for d in tenants if d.name == request.name]
        if not found:
            print(f"{request.tenant}: no Tenant named {request.name!r}; the tenants found: {names or 'none'}", file=err)
            raise _Failed
        return found[0]
    if not tenants:
        print(f"{request.tenant}: no Tenant found (apiVersion landlord.dev/v1alpha1, kind Tenant)", file=err)
        raise _Failed
    if len(tenants) > 1:
        print(f"{request.tenant}: {len(tenants)} Tenants ({names}); choose one with --name NAME", file=err)
        raise _Failed
    return tenants[0]


def _referenced(tenant: dict[str, Any]) -> set[tuple[str, str]]:
    """The catalogue documents a tenant's invoice depends on."""
    spec = tenant.get("spec") if isinstance(tenant.get("spec"), dict) else {}
    status = tenant.get("status") if isinstance(tenant.get("status"), dict) else {}
    assert isinstance(spec, dict) and isinstance(status, dict)
    found = {("Plan", str(spec.get("plan", ""))), ("Reseller", str(spec.get("reseller", "")))}
    for entry in status.get("planHistory") or []:
        if isinstance(entry, dict):
            found.add(("Plan", str(entry.get("plan", ""))))
    entries: list[Any] = list(spec.get("addOns") or [])
    for period in status.get("addOnHistory") or []:
        if isinstance(period, dict):
            entries.extend(period.get("addOns") or [])
    for entry in entries:
        if isinstance(entry, dict):
            found.add(("AddOn", str(entry.get("name", ""))))
    return found


def _check_documents(tenant: Document, catalogue: list[Document], config: Config, err: TextIO) -> None:
    """The schema and rule problems of the tenant and of the documents its invoice reads."""
    used = {("Tenant", tenant.name)} | _referenced(tenant.body)
    problems = [
        p
        for p in validate([tenant, *catalogue], config)
        if (p.kind, p.name) in used and not (p.kind != "Tenant" and p.field.startswith(_UNRELATED))
    ]
    for problem in problems:
        print(problem.text(), file=err)
    if any(p.severity == "error" for p in problems):
        raise _Failed


def _prepare(request: Request, err: TextIO) -> tuple[Invoice, InvoiceInput, Config]:
    config, config_doc, config_path = _config(request, err)
    loaded = read([request.tenant, *request.catalogs])
    if loaded.problems:
        for problem in loaded.problems:
            print(problem.text(), file=err)
        raise _Failed
    tenant = _chosen_tenant(request, loaded.documents, err)
    catalogue = [d for d in loaded.documents if d.is_landlord and d.kind in CATALOGUE_KINDS]
    _check_documents(tenant, catalogue, config, err)
    usage_doc = _single(request.usage, err) if request.usage else None
    files = _Files(tenant, catalogue, usage_doc, request.usage, config_doc, config_path, request.period)
    try:
        prepared: Prepared = prepare(
            tenant.body,
            StaticCatalogue(d.body for d in catalogue),
            usage_doc.body if usage_doc is not None else None,
            config.billing,
            request.period,
        )
        for warning in prepared.warnings:
            print(files.line(warning), file=err)
        return price_invoice(prepared.input), prepared.input, config
    except PricingError as exc:
        for issue in exc.issues:
            print(files.line(issue), file=err)
        raise _Failed from None


def run(request: Request, out: TextIO, err: TextIO) -> int:
    """Prints the invoice (exit 0), or one line per problem on `err` (exit 1)."""
    try:
        invoice, given, config = _prepare(request, err)
    except _Failed:
        return 1
    except Exception as exc:  # a bug: one line rather than a traceback
        print(
            f"{PROG}: internal error ({type(exc).__name__}: {exc}) on {request.tenant}; please report it with these "
            "files",
            file=err,
        )
        return 2
    if request.output == "json":
        print(json.dumps(invoice.as_dict(), indent=2), file=out)
    else:
        print(table(invoice, given, config), file=out, end="")
    return 0


def _party(name: str, country: str | None, tax_id: str | None, kind: str | None = None) -> str:
    parts = [name, *(p for p in (country, f"VAT {tax_id}" if tax_id else None) if p)]
    text = ", ".join(parts)
    return f"{text} ({kind})" if kind else text


def table(invoice: Invoice, given: InvoiceInput, config: Config) -> str:
    """The invoice for people: header, lines, totals, notes."""
    settings = config.billing
    seller = settings.seller
    bill_to = given.bill_to
    period = invoice.period
    lines = [
        f"Invoice preview: {invoice.tenant}, period {period.label} ({period.cycle}: {dates(period)}), "
        f"{invoice.currency}",
        f"Seller:  {_party(seller.name or '(billing.seller.name not set)', seller.country, seller.tax_id)}",
        f"Bill to: {_party(bill_to.name, bill_to.country, bill_to.tax_id, bill_to.customer_type)}"
        + (" [reseller]" if bill_to.reseller else ""),
        "",
    ]
    body = [
        (line.description, plain(line.quantity), invoice.price(line.unit_price), invoice.money(line.amount))
        for line in invoice.lines
    ]
    header = ("Description", "Quantity", "Unit price", "Amount")
    totals: list[tuple[str, str]] = [("Subtotal", invoice.money(invoice.subtotal))]
    discounts = [(d.description, "-" + invoice.money(d.amount)) for d in invoice.discounts]
    after: list[tuple[str, str]] = []
    if invoice.discounts:
        after.append(("Taxable", invoice.money(invoice.taxable)))
    after.append((f"Tax ({rate_text(invoice.tax_rate)} %)", invoice.money(invoice.tax)))
    after.append(("Total", invoice.money(invoice.total)))
    width = [
        max([len(header[0]), *(len(r[0]) for r in body), *(len(d[0]) for d in discounts)]),
        max([len(header[1]), *(len(r[1]) for r in body)]),
        max([len(header[2]), *(len(r[2]) for r in body), *(len(t[0]) for t in totals + after)]),
        max([len(header[3]), *(len(r[3]) for r in body), *(len(t[1]) for t in totals + discounts + after)]),
    ]

    def row(cells: tuple[str, str, str, str]) -> str:
        return (
            f"{cells[0]:<{width[0]}}  {cells[1]:>{width[1]}}  {cells[2]:>{width[2]}}  {cells[3]:>{width[3]}}".rstrip()
        )

    lines.append(row(header))
    lines.append(row(("-" * width[0], "-" * width[1], "-" * width[2], "-" * width[3])))
    if not body:
        lines.append("(nothing to charge in this period)")
    lines.extend(row(r) for r in body)
    lines.append(row(("", "", "-" * width[2], "-" * width[3])))
    lines.extend(row(("", "", label, amount)) for label, amount in totals)
    lines.extend(row((label, "", "", amount)) for label, amount in discounts)
    lines.extend(row(("", "", label, amount)) for label, amount in after)
    notes = [*invoice.notes, f"Payment due {settings.due_days} days after the invoice date"]
    lines.append("")
    lines.append("Notes:")
    lines.extend(f"  - {note}" for note in notes)
    return "\n".join(lines) + "\n"
