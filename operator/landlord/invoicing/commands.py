"""`landlord invoice render`, `export` and `credit`: issued documents, from the cluster or the archive.

Each reads the cluster of the kubeconfig and, when the configuration has `objectStorage`, the
archive: an archived invoice renders and exports exactly like one still in the cluster.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from ..billing.money import format_money
from ..config import Config
from ..kube import KubeClient
from ..providers import load_providers
from ..providers.objectstorage import ObjectStorage
from .documents import render_html, render_pdf
from .export import export_csv
from .numbering import Sequence
from .objects import INVOICE_LABEL, credit_note_object, credited
from .run import ARCHIVE_PREFIX

_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^[0-9]{4}$")


class CommandError(Exception):
    """What went wrong, said for the person at the terminal."""


class Documents:
    """Invoices and credit notes, wherever they are now."""

    def __init__(self, client: KubeClient, storage: ObjectStorage | None) -> None:
        self.client = client
        self.storage = storage

    async def _archived(self, prefix: str) -> list[dict[str, Any]]:
        if self.storage is None:
            return []
        docs = []
        for key in await self.storage.list(prefix):
            if key.endswith(".json"):
                body = await self.storage.get(key)
                if body is not None:
                    docs.append(json.loads(body))
        return docs

    async def find(self, name: str) -> dict[str, Any]:
        for kind in ("Invoice", "CreditNote"):
            found = await self.client.get(kind, name)
            if found is not None:
                return found
        if self.storage is not None:
            for key in await self.storage.list(f"{ARCHIVE_PREFIX}/"):
                if key.rsplit("/", 1)[-1] == f"{name}.json":
                    body = await self.storage.get(key)
                    if body is not None:
                        doc: dict[str, Any] = json.loads(body)
                        return doc
        where = (
            "the cluster or the archive" if self.storage is not None else "the cluster (no objectStorage configured)"
        )
        raise CommandError(f"no Invoice or CreditNote named {name!r} in {where}; `kubectl get invoices` lists them")

    async def issued_in(self, months: list[str]) -> list[dict[str, Any]]:
        """Every document issued in these months (`YYYY-MM`), from the cluster and the archive."""
        docs: dict[tuple[str, str], dict[str, Any]] = {}
        for kind in ("Invoice", "CreditNote"):
            for doc in await self.client.list(kind):
                if str((doc.get("spec") or {}).get("issuedAt", ""))[:7] in months:
                    docs[(kind, doc["metadata"]["name"])] = doc
        for month in months:
            for doc in await self._archived(f"{ARCHIVE_PREFIX}/{month}/"):
                docs.setdefault((doc["kind"], doc["metadata"]["name"]), doc)
        return list(docs.values())


async def _open(config: Config, kubeconfig: str | None) -> tuple[KubeClient, Documents, Any]:
    import os
    from pathlib import Path

    path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if not Path(path).exists():
        raise CommandError(f"no kubeconfig at {path}; give --kubeconfig or set KUBECONFIG")
    client = KubeClient.from_kubeconfig(path, user_agent="landlord-invoice")
    providers = load_providers({"objectStorage": config.capability("objectStorage")})
    storage = providers.get("objectStorage")
    return client, Documents(client, storage if isinstance(storage, ObjectStorage) else None), providers


async def render(config: Config, kubeconfig: str | None, name: str, fmt: str) -> bytes:
    """The document as a PDF or an HTML page (UTF-8)."""
    client, documents, providers = await _open(config, kubeconfig)
    try:
        doc = await documents.find(name)
    finally:
        await client.close()
        await providers.close()
    return render_pdf(doc) if fmt == "pdf" else render_html(doc).encode()


def months_of(period: str) -> list[str]:
    """`2026-07` -> that month; `2026` -> its twelve months."""
    if _MONTH.match(period):
        return [period]
    if _YEAR.match(period):
        return [f"{period}-{m:02d}" for m in range(1, 13)]
    raise CommandError(f"--period {period}: give a month such as 2026-07, or a year such as 2026")


async def export(config: Config, kubeconfig: str | None, period: str) -> str:
    months = months_of(period)
    client, documents, providers = await _open(config, kubeconfig)
    try:
        docs = await documents.issued_in(months)
    finally:
        await client.close()
        await providers.close()
    return export_csv(docs)


def _amount(text: str | None, currency: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CommandError(f"--amount {text}: not a decimal amount such as 20.00") from None
    if not value.is_finite() or value <= 0:
        raise CommandError(f"--amount {text}: give an amount above 0 (tax included), such as 20.00")
    if Decimal(format_money(value, currency)) != value:
        raise CommandError(f"--amount {text}: {currency} has fewer decimals; e.g. {format_money(value, currency)}")
    return value


async def credit(
    config: Config,
    kubeconfig: str | None,
    namespace: str,
    invoice_name: str,
    reason: str,
    amount_text: str | None,
    now: datetime | None = None,
    out: TextIO = sys.stdout,
) -> dict[str, Any]:
    """Issues a credit note against an invoice in the cluster: all of it, or `amount` (tax included)."""
    if not reason.strip():
        raise CommandError("--reason: say why the invoice is corrected; it is printed on the credit note")
    client, _, providers = await _open(config, kubeconfig)
    try:
        invoice = await client.get("Invoice", invoice_name)
        if invoice is None:
            raise CommandError(
                f"no Invoice {invoice_name!r} in the cluster; `kubectl get invoices` lists them (an archived "
                "invoice is settled and cannot be credited)"
            )
        spec = invoice["spec"]
        currency = str(spec["currency"])
        amount = _amount(amount_text, currency)
        notes = await client.list("CreditNote", label_selector=f"{INVOICE_LABEL}={invoice_name}")
        already = Decimal(credited(notes, currency))
        left = Decimal(str(spec["total"])) - already
        asked = left if amount is None else amount
        if left <= 0:
            raise CommandError(f"invoice {spec['number']} is fully credited already ({already} {currency})")
        if asked > left:
            raise CommandError(
                f"--amount {amount}: more than what is left to credit on invoice {spec['number']} ({left} {currency})"
            )
        partial = None if amount is None and already == 0 else asked
        split = None
        if partial is not None and asked == left:  # the last credit: exactly the net and tax left
            net = Decimal(str(spec["taxable"])) + sum((Decimal(str(n["spec"]["taxable"])) for n in notes), Decimal(0))
            split = (net, asked - net)
        moment = now or datetime.now(UTC)
        name = f"{invoice_name}-cn{len(notes) + 1}"

        def build(number: str) -> dict[str, Any]:
            return credit_note_object(invoice, name, number, moment, reason.strip(), partial, split)

        issued = await Sequence(client, namespace).issue("CreditNote", name, moment.year, build)
        note = issued.document
        if not issued.created and (
            note["spec"].get("reason") != reason.strip()
            or note["spec"]["total"] != build(note["spec"]["number"])["spec"]["total"]
        ):
            raise CommandError(
                f"credit note {name} was issued meanwhile by someone else ({note['spec']['total']} {currency}, "
                f"{note['spec'].get('reason')!r}); check `kubectl get creditnotes` and run again if still needed"
            )
    finally:
        await client.close()
        await providers.close()
    print(
        f"credit note {note['spec']['number']} ({name}) for invoice {spec['number']}: {note['spec']['total']} "
        f"{currency}",
        file=out,
    )
    return note
