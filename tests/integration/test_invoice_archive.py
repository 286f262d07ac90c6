"""Credit notes, and settled invoices archived to S3 (moto_server): the object goes, the
document stays readable (render, export) and the period is never invoiced again."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from landlord.config import parse
from landlord.devservices.s3 import LocalS3
from landlord.invoicing import commands
from landlord.invoicing.run import Biller
from landlord.providers.objectstorage import S3ObjectStorage
from landlord.providers.usage import FileUsageSource
from landlord.render.cluster import OPERATOR_NAMESPACE
from tests.integration.conftest import REAL, Env
from tests.integration.test_billing_sidecar import BILLING, USAGE, Clock, priced_plan
from tests.integration.test_tenancy import tenant
from tests.s3_server import s3_bucket, s3_server  # noqa: F401

CREDENTIALS = {"accessKeyId": "landlord-test", "secretAccessKey": "landlord-test-secret"}


def _kubeconfig(env: Env, tmp_path: Path) -> str:
    if REAL:
        return REAL
    assert env.devcluster is not None
    return str(env.devcluster.write_kubeconfig(tmp_path / "kubeconfig"))


async def _billed(env: Env, tmp_path: Path, storage: dict[str, Any] | None = None) -> tuple[Biller, Clock, str, Any]:
    await env.apply(priced_plan("pro", "30.00", setupFee="15.00"))
    await env.start_operator()
    await env.apply(
        tenant("bistro", "pro", billing={"country": "FR", "customerType": "Business", "coupon": "WELCOME10"})
    )
    await env.wait_phase("bistro", "Active")
    usage_file = tmp_path / "usage.yaml"
    usage_file.write_text(yaml.safe_dump({"tenants": USAGE}))
    raw: dict[str, Any] = {
        "metrics": {"port": 0},
        "billing": {**BILLING, "lookbackPeriods": 6, "archiveAfterDays": 90},
        "metricsSource": {"provider": "file", "path": str(usage_file)},
    }
    if storage is not None:
        raw["objectStorage"] = {"provider": "s3", **storage}
    config = parse(raw)
    clock = await Clock.after(env, "bistro")
    period = (clock.now - timedelta(days=1)).strftime("%Y-%m")
    store = S3ObjectStorage(storage) if storage is not None else None
    biller = Biller(env.client, config, OPERATOR_NAMESPACE, FileUsageSource({"path": str(usage_file)}), store, clock)
    await biller.run()
    return biller, clock, period, config


async def test_a_full_credit_note_voids_the_invoice_and_takes_the_next_number(env: Env, tmp_path: Path) -> None:
    biller, clock, period, config = await _billed(env, tmp_path)
    kubeconfig = _kubeconfig(env, tmp_path)
    name = f"bistro-{period}"
    note = await commands.credit(
        config, kubeconfig, OPERATOR_NAMESPACE, name, "duplicate charge", None, now=clock.now, out=io.StringIO()
    )
    year = clock.now.year
    assert note["metadata"]["name"] == f"{name}-cn1"
    assert note["spec"]["number"] == f"{year}-000002"
    assert note["spec"]["invoiceNumber"] == f"{year}-000001"
    assert (note["spec"]["subtotal"], note["spec"]["tax"], note["spec"]["total"]) == ("-60.00", "-10.80", "-64.80")
    assert [line["amount"] for line in note["spec"]["lines"]] == ["-30.00", "-15.00", "-12.00", "-3.00"]
    await biller.run()
    invoice = await env.get("Invoice", name)
    assert invoice is not None
    assert invoice["status"]["state"] == "Void"
    assert (invoice["status"]["creditedTotal"], invoice["status"]["creditNotes"]) == ("64.80", [f"{name}-cn1"])
    with pytest.raises(commands.CommandError, match="fully credited"):
        await commands.credit(config, kubeconfig, OPERATOR_NAMESPACE, name, "again", None, out=io.StringIO())
    # Void for good: not Overdue again when its credit note leaves the cluster (archived, or a crash
    # of the archive between the two deletions).
    await env.client.delete("CreditNote", f"{name}-cn1")
    biller.clock.now += timedelta(days=60)
    await biller.run()
    invoice = await env.get("Invoice", name)
    assert invoice is not None and invoice["status"]["state"] == "Void" and not invoice["status"].get("suspendsTenant")


async def test_a_partial_credit_note_is_taxed_at_the_invoice_rate_and_bounded(env: Env, tmp_path: Path) -> None:
    _, clock, period, config = await _billed(env, tmp_path)
    kubeconfig = _kubeconfig(env, tmp_path)
    name = f"bistro-{period}"
    note = await commands.credit(
        config, kubeconfig, OPERATOR_NAMESPACE, name, "two days down", "12.00", now=clock.now, out=io.StringIO()
    )
    assert (note["spec"]["taxable"], note["spec"]["tax"], note["spec"]["total"]) == ("-10.00", "-2.00", "-12.00")
    with pytest.raises(commands.CommandError, match="more than what is left"):
        await commands.credit(config, kubeconfig, OPERATOR_NAMESPACE, name, "x", "60.00", out=io.StringIO())
    with pytest.raises(commands.CommandError, match="fewer decimals"):
        await commands.credit(config, kubeconfig, OPERATOR_NAMESPACE, name, "x", "1.005", out=io.StringIO())
    second = await commands.credit(
        config, kubeconfig, OPERATOR_NAMESPACE, name, "the rest", None, now=clock.now, out=io.StringIO()
    )
    assert second["spec"]["total"] == "-52.80"  # what was left of 64.80
    # The notes add up to the invoice's net and tax, not only to its total: 10.00 + 44.00, 2.00 + 8.80.
    assert (second["spec"]["taxable"], second["spec"]["tax"]) == ("-44.00", "-8.80")


async def test_settled_invoices_are_archived_once_and_stay_readable(
    env: Env,
    tmp_path: Path,
    s3_server: LocalS3,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    storage = {"endpoint": s3_server.endpoint, "bucket": s3_bucket, **CREDENTIALS}
    biller, clock, period, config = await _billed(env, tmp_path, storage)
    name = f"bistro-{period}"
    issued = await env.get("Invoice", name)
    assert issued is not None
    paid_at = (clock.now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await env.client.patch("Invoice", name, {"status": {"paidAt": paid_at}}, subresource="status")

    clock.now += timedelta(days=60)  # paid, but not old enough
    await biller.run()
    assert await env.get("Invoice", name) is not None

    clock.now += timedelta(days=40)  # 100 days: archived
    report = await biller.run()
    assert name in report.archived
    assert await env.get("Invoice", name) is None
    store = S3ObjectStorage(storage)
    month = issued["spec"]["issuedAt"][:7]
    keys = await store.list(f"invoices/{month}/")
    assert sorted(keys) == [f"invoices/{month}/{name}.html", f"invoices/{month}/{name}.json"]
    body = await store.get(f"invoices/{month}/{name}.json")
    assert body is not None
    kept = json.loads(body)
    assert kept["spec"] == issued["spec"] and kept["status"]["state"] == "Paid"

    # Its period stays invoiced: the next runs bill the later months only.
    names = {i["metadata"]["name"] for i in await env.client.list("Invoice")}
    assert name not in names and set(report.invoices) <= names and report.invoices
    again = await biller.run()
    assert again.invoices == []

    # render and export read it from the archive.
    kubeconfig = _kubeconfig(env, tmp_path)
    page = await commands.render(config, kubeconfig, name, "html")
    assert issued["spec"]["number"].encode() in page and b"64.80" in page
    pdf = await commands.render(config, kubeconfig, name, "pdf")
    assert pdf.startswith(b"%PDF-")
    rows = list(csv.DictReader(io.StringIO(await commands.export(config, kubeconfig, month))))
    assert next((r["number"], r["total"], r["state"]) for r in rows if r["tenant"] == "bistro") == (
        issued["spec"]["number"],
        "64.80",
        "Paid",
    )
