"""One billing run: invoices for the closed periods, the invoices' life, and the archive.

A run reads everything it needs in a fixed number of requests (Tenants, Plans, AddOns,
Resellers, Invoices, CreditNotes, and per due period one archive listing and one usage read
for all tenants), prices each missing invoice with the pure engine, and writes it under the
next number (`numbering`). Then it moves each invoice's status (Issued, Overdue, Paid, Void,
`suspendsTenant`: `schedule.invoice_status`) and archives the old settled ones.

Failures are loud and leave nothing half done: a usage source that cannot be read fails the
run before any invoice is written (an Event on the counter, the failure metrics); a tenant
that cannot be priced gets an Event naming the problem and the others are invoiced; a crash
anywhere is continued by the next run (names are fixed, numbers are reserved with their
document).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..billing import PricingError, prepare, price_invoice
from ..billing.inputs import METERS
from ..billing.periods import Period, day_of
from ..config import Config
from ..kube import KubeClient, KubeError
from ..pipeline.catalogue import StaticCatalogue
from ..providers.base import ProviderError
from ..providers.objectstorage import ObjectStorage
from ..providers.usage import UsageSource, UsageWindow
from .documents import render_html
from .numbering import COUNTER, DocumentRefused, NumberingError, Sequence
from .objects import INVOICE_LABEL, credited, invoice_name, invoice_object
from .schedule import PAID, VOID, due_periods, invoice_status

logger = logging.getLogger(__name__)

ARCHIVE_PREFIX = "invoices"


def archive_key(issued: str, name: str, suffix: str) -> str:
    """Where an archived document lives: by month of issue (`2026-07`), as accounting reads them."""
    return f"{ARCHIVE_PREFIX}/{issued[:7]}/{name}.{suffix}"


def issue_months(period: Period, now: datetime) -> set[str]:
    """The months an invoice of `period` can have been issued in: from its end to now."""
    months = set()
    year, month = period.end.year, period.end.month
    while (year, month) <= (now.year, now.month):
        months.add(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


class RunFailed(Exception):
    """The run could not do its job (usage unreadable, the counter refused): retried soon."""


@dataclass
class RunReport:
    """What one run did: printed by `landlord billing --once`, exported as metrics."""

    invoices: list[str] = field(default_factory=list)  # names written in this run
    amounts: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # currency -> total
    failed: dict[str, str] = field(default_factory=dict)  # tenant -> problem
    skipped: int = 0  # due periods with nothing to charge (a trial)
    statuses: int = 0  # invoice statuses moved
    archived: list[str] = field(default_factory=list)
    queries: int = 0  # usage queries made
    tenants: int = 0  # tenants looked at
    missing: int = 0  # closed periods without an invoice (written, failed or with nothing to charge)

    def summary(self) -> str:
        totals = ", ".join(f"{amount} {currency}" for currency, amount in sorted(self.amounts.items())) or "nothing"
        why = ""
        if self.tenants and not self.missing:
            why = " (no closed period without its invoice: a period is invoiced once it is over)"
        return (
            f"{self.tenants} tenant(s), {self.missing} closed period(s) to invoice{why}; "
            f"{len(self.invoices)} invoice(s) written ({totals}), {len(self.failed)} tenant(s) failed, "
            f"{self.skipped} period(s) with nothing to charge, {self.statuses} status change(s), "
            f"{len(self.archived)} archived, {self.queries} usage quer(ies)"
        )


def _active(obj: Mapping[str, Any]) -> bool:
    return not (obj.get("metadata") or {}).get("deletionTimestamp")


class Biller:
    """The billing sidecar's work, one `run()` at a time (replicas may run side by side)."""

    def __init__(
        self,
        client: KubeClient,
        config: Config,
        namespace: str,
        usage: UsageSource | None = None,
        storage: ObjectStorage | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.config = config
        self.billing = config.billing
        self.namespace = namespace
        self.usage = usage
        self.storage = storage
        self.clock = clock
        self.sequence = Sequence(client, namespace)

    # -- reading ----------------------------------------------------------------------------
    async def _archived(self, months: set[str]) -> set[str]:
        """Names of the documents archived that were issued in these months (one listing each)."""
        if self.storage is None:
            return set()
        names: set[str] = set()
        for month in sorted(months):
            for key in await self.storage.list(f"{ARCHIVE_PREFIX}/{month}/"):
                if key.endswith(".json"):
                    names.add(key.rsplit("/", 1)[-1].removesuffix(".json"))
        return names

    async def _usage(self, windows: set[tuple[str, datetime, datetime]], report: RunReport) -> dict[Any, Any]:
        """Usage by window and tenant: one read (a fixed set of queries) per distinct window."""
        found: dict[tuple[str, datetime, datetime], dict[str, dict[str, Any]]] = {}
        if self.usage is None:
            return found
        before = self.usage.queries
        try:
            for label, start, end in sorted(windows):
                found[(label, start, end)] = await self.usage.read(UsageWindow(label, start, end))
        except ProviderError as exc:
            raise RunFailed(f"usage could not be read ({exc.message}); no invoice was written") from exc
        finally:
            report.queries += self.usage.queries - before
        return found

    # -- the run ----------------------------------------------------------------------------
    async def run(self) -> RunReport:
        """One pass; raises RunFailed (after an Event) when it could not complete."""
        report = RunReport()
        self.sequence.forget()  # every run starts from what the server holds
        try:
            await self._run(report)
        except (RunFailed, NumberingError, KubeError, ProviderError) as exc:
            message = str(exc)
            await self._event("Warning", "BillingRunFailed", f"the billing run failed: {message}")
            raise RunFailed(message) from exc
        except Exception as exc:  # the API server unreachable, a timeout, a bug: a failed run all the same
            message = f"{type(exc).__name__}: {exc}"
            await self._event("Warning", "BillingRunFailed", f"the billing run failed: {message}")
            raise RunFailed(message) from exc
        return report

    async def _run(self, report: RunReport) -> None:
        now = self.clock()
        tenants = [t for t in await self.client.list("Tenant") if _active(t)]
        documents = [
            *await self.client.list("Plan"),
            *await self.client.list("AddOn"),
            *await self.client.list("Reseller"),
        ]
        catalogue = StaticCatalogue(documents)
        invoices = await self.client.list("Invoice")
        existing = {(inv.get("metadata") or {}).get("name") for inv in invoices}

        cycles: dict[str, set[str]] = defaultdict(set)  # tenant -> the cycles its invoices in the cluster follow
        invoiced: dict[str, set[str]] = defaultdict(set)
        for inv in invoices:
            label = str((inv.get("spec") or {}).get("period") or "")
            owner = str((inv.get("spec") or {}).get("tenant"))
            cycles[owner].add("Yearly" if len(label) == 4 else "Monthly")
            invoiced[owner].add(str(inv["metadata"]["name"]))
        due: list[tuple[dict[str, Any], Period]] = []
        for tenant in tenants:
            name = str(tenant["metadata"]["name"])
            cycle = str(((tenant.get("spec") or {}).get("billing") or {}).get("cycle") or "Monthly")
            if cycles.get(name, {cycle}) != {cycle}:
                problem = (
                    f"spec.billing.cycle is {cycle} but its invoices in the cluster follow "
                    f"{'/'.join(sorted(cycles[name]))} ({', '.join(sorted(invoiced[name])[:5])}): invoicing on "
                    "another cycle would bill days already invoiced, or miss some (a tenant deleted and created "
                    "again under the same name on another cycle?); set the cycle back, or settle and archive "
                    "those invoices first"
                )
                report.failed[name] = problem
                await self._event("Warning", "InvoiceFailed", problem, tenant)
                continue
            for period in due_periods(tenant, self.billing.anniversary, now, self.billing.lookback_periods):
                due.append((tenant, period))
        missing = [(t, p) for t, p in due if invoice_name(t["metadata"]["name"], p.label) not in existing]
        months = {m for _, p in missing for m in issue_months(p, now)}
        archived = await self._archived(months) if missing else set()
        missing = [(t, p) for t, p in missing if invoice_name(t["metadata"]["name"], p.label) not in archived]

        report.tenants, report.missing = len(tenants), len(missing)
        windows = {(p.label, _midnight(p.start), _midnight(p.end)) for _, p in missing}
        usage = await self._usage(windows, report) if missing else {}
        # The run's view of the Invoices: the list above, plus each invoice `_invoice` got back from
        # the server (the create response, or the one another replica or an earlier, interrupted
        # run wrote), then each status patch's response. No second list for the statuses: they
        # work on what the server answered (the archive lists afresh: see `_archive`). An invoice
        # someone else writes meanwhile for a period this run does not issue (a pending copy the
        # counter recreates for a tenant that fails pricing now, another replica's new tenant)
        # gets its status at the next run, as when the run wrote nothing.
        view = {str(inv["metadata"]["name"]): inv for inv in invoices}
        for tenant, period in missing:
            name = str(tenant["metadata"]["name"])
            window = (period.label, _midnight(period.start), _midnight(period.end))
            tenant_usage = _priced_meters(usage.get(window, {}).get(name))
            document = await self._invoice(tenant, catalogue, period, tenant_usage, now, report)
            if document is not None:
                view[str(document["metadata"]["name"])] = document
        await self._statuses(view, now, report)
        if self.storage is not None and self.billing.archive_after_days is not None:
            await self._archive(now, report)

    async def _invoice(
        self,
        tenant: dict[str, Any],
        catalogue: StaticCatalogue,
        period: Period,
        usage: Any,
        now: datetime,
        report: RunReport,
    ) -> dict[str, Any] | None:
        """Prices and issues the tenant's invoice for `period`. Returns the invoice as the server
        has it (written now or before, by this run or another), or None when there is none."""
        name = str(tenant["metadata"]["name"])
        try:
            prepared = prepare(tenant, catalogue, usage, self.billing, period.label)
            invoice = price_invoice(prepared.input)
        except PricingError as exc:
            problems = "; ".join(f"{i.field}: {i.message}" if i.field else i.message for i in exc.issues)
            report.failed[name] = problems
            await self._event(
                "Warning",
                "InvoiceFailed",
                f"no invoice for {period.label}: {problems}; fix it and the next run invoices the period",
                tenant,
            )
            return None
        if not invoice.lines:
            report.skipped += 1  # a period of trial days only: nothing to invoice
            return None
        try:
            issued = await self.sequence.issue(
                "Invoice",
                invoice_name(name, period.label),
                now.year,
                lambda number: invoice_object(invoice, prepared.input, self.billing, number, now),
            )
        except DocumentRefused as exc:  # nothing was numbered: the other tenants go on
            report.failed[name] = str(exc)
            await self._event(
                "Warning",
                "InvoiceFailed",
                f"no invoice for {period.label}: {exc}; fix it and the next run retries",
                tenant,
            )
            return None
        obj = issued.document
        if not issued.created:  # another replica (or an earlier, interrupted run) wrote it
            # The server's copy (a read) carries its resourceVersion; a pending copy that could not
            # be read back (deleted meanwhile) does not, and is not the server's: left to the next run.
            return obj if (obj.get("metadata") or {}).get("resourceVersion") else None
        report.invoices.append(obj["metadata"]["name"])
        report.amounts[str(obj["spec"]["currency"])] += Decimal(str(obj["spec"]["total"]))
        logger.info(
            "invoice %s (%s) for %s, %s: %s %s",
            obj["spec"]["number"],
            obj["metadata"]["name"],
            name,
            period.label,
            obj["spec"]["total"],
            obj["spec"]["currency"],
        )
        return obj

    async def _statuses(self, view: dict[str, dict[str, Any]], now: datetime, report: RunReport) -> None:
        """Moves each invoice's state; writes only what changes. `view` (name -> Invoice) is
        updated in place: each written invoice becomes the server's answer, and one that is gone or
        changed meanwhile (404, 409) leaves it, for this run (the next run sees it as it is then)."""
        notes = _by_invoice(await self.client.list("CreditNote"))
        today = day_of(now)
        for invoice in [view[name] for name in sorted(view)]:  # in the order the server lists them
            meta = invoice["metadata"]
            spec = invoice.get("spec") or {}
            ours = notes.get(meta["name"], [])
            currency = str(spec.get("currency") or "EUR")
            credited_total = credited(ours, currency)
            wanted = invoice_status(invoice, today, self.billing.grace_days, Decimal(credited_total))
            if (invoice.get("status") or {}).get("state") == VOID:  # credited in full once: it stays so, even
                wanted = {**wanted, "state": VOID, "suspendsTenant": False}  # when its credit notes are archived
            if ours:
                wanted["creditedTotal"] = credited_total
                wanted["creditNotes"] = sorted(n["metadata"]["name"] for n in ours)
            old = invoice.get("status") or {}
            changed = {k: v for k, v in wanted.items() if old.get(k) != v and not (v in (None, False) and k not in old)}
            if not changed:
                continue
            patch = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": changed}
            try:
                view[meta["name"]] = await self.client.patch("Invoice", meta["name"], patch, subresource="status")
            except KubeError as exc:
                if exc.status in (404, 409):
                    del view[meta["name"]]  # paid (or archived) meanwhile: the next run sees it as it is now
                    continue
                raise
            report.statuses += 1
            if changed.get("state") == "Overdue" or changed.get("suspendsTenant"):
                tenant = {"apiVersion": "landlord.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": spec["tenant"]}}
                what = (
                    "suspends the tenant (billing.graceDays passed)" if changed.get("suspendsTenant") else "is overdue"
                )
                await self._event(
                    "Warning",
                    "InvoiceOverdue",
                    f"invoice {spec.get('number')} ({meta['name']}, {spec.get('total')} {currency}, due "
                    f"{spec.get('dueAt')}) {what}",
                    tenant,
                )

    async def _archive(self, now: datetime, report: RunReport) -> None:
        """Settled invoices older than `archiveAfterDays` (and their credit notes) go to the store,
        as JSON and HTML, write-once; then their objects are deleted. Listed afresh, not taken from
        the run's view: what is archived is written once and for good, so it is the latest the
        server has (a payment integration may have corrected a paid invoice while the run went on)."""
        assert self.storage is not None and self.billing.archive_after_days is not None
        horizon = now - timedelta(days=self.billing.archive_after_days)
        candidates = []
        for invoice in await self.client.list("Invoice"):
            status = invoice.get("status") or {}
            settled_at = _time(status.get("paidAt")) or _time(invoice["spec"].get("issuedAt"))
            if status.get("state") in (PAID, VOID) and settled_at is not None and settled_at <= horizon:
                candidates.append(invoice)
        if not candidates:
            return
        pending = await self.sequence.pending()
        # Listed again, not taken from `_statuses`: the archive deletes the invoice, so it must see
        # the credit notes issued against it while this run went on (`landlord invoice credit`
        # takes a settled invoice too); one it missed would stay in the cluster for good, its
        # invoice gone. Only in a run with something to archive.
        notes = _by_invoice(await self.client.list("CreditNote"))
        retain = timedelta(days=self.billing.archive_after_days)
        for invoice in candidates:
            name = invoice["metadata"]["name"]
            ours = notes.get(name, [])
            for doc in [invoice, *ours]:
                if (doc["kind"], doc["metadata"]["name"]) in pending:  # the counter's copy would bring it back
                    await self.sequence.settle(doc["kind"], doc["metadata"]["name"])
            for doc in [*ours, invoice]:  # the invoice last: its JSON marks the period as invoiced
                await self._store(doc, now + retain)
            for doc in ours:
                await self.client.delete("CreditNote", doc["metadata"]["name"])
            await self.client.delete("Invoice", name)
            report.archived.append(name)

    async def _store(self, doc: dict[str, Any], retain_until: datetime) -> None:
        assert self.storage is not None
        kept = {
            "apiVersion": doc["apiVersion"],
            "kind": doc["kind"],
            "metadata": {k: v for k, v in doc["metadata"].items() if k in ("name", "labels", "creationTimestamp")},
            "spec": doc["spec"],
            "status": doc.get("status") or {},
        }
        name, issued = doc["metadata"]["name"], str(doc["spec"]["issuedAt"])
        body = json.dumps(kept, indent=2, sort_keys=True).encode()
        page = render_html(kept).encode()  # first the page: the JSON marks the document as archived
        try:
            await self.storage.put_once(
                archive_key(issued, name, "html"), page, "text/html; charset=utf-8", retain_until
            )
        except ProviderError as exc:
            if exc.reason != "ObjectExists":
                raise
            # Written by an earlier, interrupted pass with another renderer: the JSON is the record.
            logger.info("%s: the archived page differs from today's rendering; keeping the archived one", name)
        await self.storage.put_once(archive_key(issued, name, "json"), body, "application/json", retain_until)

    async def _event(self, type_: str, reason: str, message: str, involved: dict[str, Any] | None = None) -> None:
        """An Event on the tenant concerned, or on the counter for the run as a whole; never fatal."""
        target = involved or {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": COUNTER, "namespace": self.namespace},
        }
        try:
            await self.client.event(target, type_, reason, message)
        except Exception as exc:  # an event is a courtesy: the log and metrics still say it
            logger.warning("could not post the %s event: %s", reason, exc)
        log = logger.warning if type_ == "Warning" else logger.info
        log("%s: %s", reason, message)


def _by_invoice(notes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Credit notes by the name of the invoice they credit (their label), in the listed order."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for note in notes:
        invoice = ((note.get("metadata") or {}).get("labels") or {}).get(INVOICE_LABEL)
        if invoice:
            out[str(invoice)].append(note)
    return out


def _priced_meters(usage: Any) -> Any:
    """The usage without meters no plan can price (a custom meter is measured, not billed)."""
    if not isinstance(usage, dict) or not isinstance(usage.get("meters"), dict):
        return usage
    return {**usage, "meters": {k: v for k, v in usage["meters"].items() if k in METERS}}


def _midnight(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
