"""The billing sidecar end to end against the API server: invoices for a closed period, line by
line; reruns and crashes number nothing twice; failures are loud; dunning; credit notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from landlord.config import parse
from landlord.invoicing.numbering import COUNTER
from landlord.invoicing.run import Biller, RunFailed
from landlord.kube import KubeError
from landlord.providers.base import ProviderError
from landlord.providers.usage import FileUsageSource, UsageWindow
from landlord.render.cluster import OPERATOR_NAMESPACE
from tests.helpers import eventually
from tests.integration.conftest import Env
from tests.integration.test_tenancy import tenant

BILLING = {
    "seller": {"name": "Example Hosting SAS", "country": "FR", "taxId": "FR40303265045", "address": "1 rue X, Paris"},
    "taxRates": {"FR": "20", "DE": "19"},
    "coupons": {"WELCOME10": {"percent": "10"}},
    "dueDays": 30,
    "graceDays": 14,
}


def priced_plan(name: str, price: str, **pricing: Any) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Plan",
        "metadata": {"name": name},
        "spec": {
            "displayName": name.title(),
            "limits": {"cpu": "2", "memory": "4Gi", "storage": "10Gi", "pods": 20, "users": 5, "traffic": "100Gi"},
            "features": ["crm"],
            "overuse": {"policy": "Bill"},
            "pricing": {
                "currency": "EUR",
                "prices": {"Monthly": price},
                "prorate": False,
                "seatPrice": "4.00",
                "metered": [{"meter": "traffic", "unit": "GiB", "unitPrice": "0.10"}],
                **pricing,
            },
        },
    }


def _first_of_next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, 0, 30, tzinfo=UTC)


class Clock:
    """The sidecar's clock: set just after the month `created` (the tenants' creation) has closed."""

    def __init__(self, created: datetime | None = None) -> None:
        self.now = _first_of_next_month(created or datetime.now(UTC))

    @classmethod
    async def after(cls, env: Env, tenant_name: str) -> Clock:
        """From the tenant's creationTimestamp, not the test's clock: a month may turn in between."""
        obj = await env.get("Tenant", tenant_name)
        assert obj is not None
        return cls(datetime.fromisoformat(obj["metadata"]["creationTimestamp"].replace("Z", "+00:00")))

    def __call__(self) -> datetime:
        return self.now


def _config(usage_file: Path, **billing: Any) -> Any:
    return parse(
        {
            "metrics": {"port": 0},
            "billing": {**BILLING, **billing},
            "metricsSource": {"provider": "file", "path": str(usage_file)},
        }
    )


async def _setup(env: Env, tmp_path: Path, usage: dict[str, Any]) -> tuple[Biller, Clock, str]:
    await env.apply(priced_plan("pro", "30.00", setupFee="15.00"))
    await env.start_operator()
    await env.apply(
        tenant("bistro", "pro", billing={"country": "FR", "customerType": "Business", "coupon": "WELCOME10"})
    )
    await env.apply(
        tenant("brauhaus", "pro", billing={"country": "DE", "taxId": "DE123456789", "customerType": "Business"})
    )
    await env.wait_phase("bistro", "Active")
    await env.wait_phase("brauhaus", "Active")
    usage_file = tmp_path / "usage.yaml"
    usage_file.write_text(yaml.safe_dump({"tenants": usage}))
    clock = await Clock.after(env, "bistro")
    period = (clock.now - timedelta(days=1)).strftime("%Y-%m")
    biller = Biller(
        env.client, _config(usage_file), OPERATOR_NAMESPACE, FileUsageSource({"path": str(usage_file)}), clock=clock
    )
    return biller, clock, period


USAGE = {
    "bistro": {"meters": {"traffic": "130Gi"}, "seats": {"total": 8}},
    "brauhaus": {"meters": {"traffic": "50Gi"}},
}


def _lines(invoice: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(x["description"], x["quantity"], x["unitPrice"], x["amount"]) for x in invoice["spec"]["lines"]]


async def test_a_closed_period_is_invoiced_line_by_line_once(env: Env, tmp_path: Path) -> None:
    biller, clock, period = await _setup(env, tmp_path, USAGE)
    report = await biller.run()
    assert sorted(report.invoices) == [f"bistro-{period}", f"brauhaus-{period}"]

    bistro = await env.get("Invoice", f"bistro-{period}")
    assert bistro is not None
    spec = bistro["spec"]
    assert [line[1:] for line in _lines(bistro)] == [
        ("1", "30.00", "30.00"),  # the plan, not prorated
        ("1", "15.00", "15.00"),  # the setup fee: first invoice
        ("3", "4.00", "12.00"),  # 8 seats, 5 included
        ("30", "0.10", "3.00"),  # traffic 130Gi over 100Gi, policy Bill
    ]
    assert spec["subtotal"] == "60.00"
    assert spec["discounts"] == [{"description": "Coupon WELCOME10 (10 %)", "amount": "6.00"}]
    assert (spec["taxable"], spec["taxRate"], spec["tax"], spec["total"]) == ("54.00", "20", "10.80", "64.80")
    assert spec["billTo"] == {"kind": "Tenant", "name": "bistro", "country": "FR", "customerType": "Business"}
    assert spec["seller"]["taxId"] == "FR40303265045"
    assert spec["issuedAt"] == clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert spec["dueAt"] == (clock.now + timedelta(days=30)).date().isoformat()
    assert bistro["metadata"]["labels"]["landlord.dev/tenant"] == "bistro"

    brauhaus = await env.get("Invoice", f"brauhaus-{period}")
    assert brauhaus is not None
    assert [line[3] for line in _lines(brauhaus)] == ["30.00", "15.00"]  # under the traffic limit, seats unknown
    assert (brauhaus["spec"]["taxRate"], brauhaus["spec"]["total"], brauhaus["spec"]["reverseCharge"]) == (
        "0",
        "45.00",
        True,
    )
    assert any("Reverse charge" in note for note in brauhaus["spec"]["notes"])
    numbers = sorted(i["spec"]["number"] for i in await env.client.list("Invoice"))
    assert numbers == [f"{clock.now.year}-000001", f"{clock.now.year}-000002"]
    statuses = {i["metadata"]["name"]: i.get("status", {}).get("state") for i in await env.client.list("Invoice")}
    assert set(statuses.values()) == {"Issued"}

    # Rerun: nothing to write at all.
    env.client.counts.clear()
    again = await biller.run()
    assert again.invoices == [] and again.statuses == 0
    assert env.client.counts["writes"] == 0, env.client.counts


async def test_a_restart_mid_run_neither_duplicates_nor_skips_a_number(env: Env, tmp_path: Path) -> None:
    usage: dict[str, Any] = {f"t{k}": {} for k in range(6)}
    biller, clock, _ = await _setup(env, tmp_path, usage)
    for k in range(6):
        await env.apply(tenant(f"t{k}", "pro", billing={"country": "FR", "customerType": "Business"}))
    for k in range(6):
        await env.wait_phase(f"t{k}", "Active")

    real_create = env.client.create
    made = 0

    async def dying_create(obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        nonlocal made
        if obj["kind"] == "Invoice" and not dry_run:
            made += 1
            if made == 4:
                raise ConnectionResetError("the sidecar was killed")  # after the 4th number was reserved
        return await real_create(obj, dry_run)

    env.client.create = dying_create  # type: ignore[method-assign]
    with pytest.raises(RunFailed, match="ConnectionResetError"):
        await biller.run()
    env.client.create = real_create  # type: ignore[method-assign]
    assert len(await env.client.list("Invoice")) == 3

    restarted = Biller(env.client, biller.config, OPERATOR_NAMESPACE, biller.usage, clock=clock)
    report = await restarted.run()
    assert len(report.invoices) == 5
    invoices = await env.client.list("Invoice")
    assert len(invoices) == 8  # bistro, brauhaus, t0..t5: one each
    assert sorted(i["spec"]["number"] for i in invoices) == [f"{clock.now.year}-{n:06d}" for n in range(1, 9)]


class _Down:
    """A usage source whose server is down, then back."""

    name = "down"

    def __init__(self, inner: FileUsageSource) -> None:
        self.inner = inner
        self.down = True
        self.queries = 0

    async def read(self, window: UsageWindow) -> dict[str, dict[str, Any]]:
        self.queries += 1
        if self.down:
            raise ProviderError("metricsSource: cannot reach http://127.0.0.1:1/ (connection refused)", True)
        return await self.inner.read(window)

    async def close(self) -> None:
        pass


async def test_an_unreadable_usage_source_fails_the_run_loudly_and_the_next_run_succeeds(
    env: Env, tmp_path: Path
) -> None:
    biller, _, period = await _setup(env, tmp_path, USAGE)
    assert isinstance(biller.usage, FileUsageSource)
    down = _Down(biller.usage)
    biller.usage = down
    with pytest.raises(RunFailed, match="connection refused"):
        await biller.run()
    assert await env.client.list("Invoice") == []  # nothing half done: no invoice without its usage

    async def event() -> list[dict[str, Any]]:
        events = await env.client.list("Event", OPERATOR_NAMESPACE)
        return [e for e in events if e["reason"] == "BillingRunFailed" and e["involvedObject"]["name"] == COUNTER]

    (failed,) = await eventually(event)
    assert "usage could not be read" in failed["message"]
    down.down = False
    report = await biller.run()
    assert len(report.invoices) == 2
    bistro = await env.get("Invoice", f"bistro-{period}")
    assert bistro is not None and bistro["spec"]["lines"][-1]["amount"] == "3.00"  # the usage was read


async def test_a_tenant_that_cannot_be_priced_gets_an_event_and_the_others_are_invoiced(
    env: Env, tmp_path: Path
) -> None:
    biller, _, period = await _setup(env, tmp_path, USAGE)
    await env.apply(tenant("nocoupon", "pro", billing={"country": "FR", "coupon": "NOPE"}))
    await env.wait_phase("nocoupon", "Active")
    report = await biller.run()
    assert sorted(report.invoices) == [f"bistro-{period}", f"brauhaus-{period}"]
    assert "spec.billing.coupon" in report.failed["nocoupon"]

    async def event() -> list[dict[str, Any]]:
        events = await env.client.list("Event", "default")
        return [e for e in events if e["reason"] == "InvoiceFailed" and e["involvedObject"]["name"] == "nocoupon"]

    (failed,) = await eventually(event)
    assert "NOPE" in failed["message"] and period in failed["message"]


async def test_dunning_overdue_then_suspends_then_paid(env: Env, tmp_path: Path) -> None:
    biller, clock, period = await _setup(env, tmp_path, USAGE)
    await biller.run()
    name = f"bistro-{period}"
    clock.now += timedelta(days=31)
    await biller.run()
    invoice = await env.get("Invoice", name)
    assert invoice is not None and invoice["status"]["state"] == "Overdue"
    assert not invoice["status"].get("suspendsTenant")
    clock.now += timedelta(days=14)
    await biller.run()
    invoice = await env.get("Invoice", name)
    assert invoice is not None and invoice["status"]["suspendsTenant"] is True
    paid_at = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    await env.client.patch("Invoice", name, {"status": {"paidAt": paid_at}}, subresource="status")
    await biller.run()
    invoice = await env.get("Invoice", name)
    assert invoice is not None
    assert (invoice["status"]["state"], invoice["status"]["suspendsTenant"]) == ("Paid", False)
    due = datetime.fromisoformat(invoice["spec"]["dueAt"]).date()
    assert invoice["status"]["overdueSince"] == (due + timedelta(days=1)).isoformat()  # the record stays


async def test_the_billing_cycle_cannot_change_under_the_invoices(env: Env, tmp_path: Path) -> None:
    biller, _, period = await _setup(env, tmp_path, USAGE)
    await biller.run()
    with pytest.raises(KubeError) as refused:
        await env.client.patch("Tenant", "bistro", {"spec": {"billing": {"cycle": "Yearly"}}})
    assert refused.value.status == 422
    assert "spec.billing.cycle: this tenant is billed Monthly and cannot change cycle" in str(refused.value)
    # Had it changed anyway (a tenant deleted and created again under the same name on the other
    # cycle, or the CRD replaced without the rule): the sidecar bills nothing on the new cycle and
    # says why.
    monthly = await env.get("Invoice", f"bistro-{period}")
    assert monthly is not None
    await env.client.delete("Tenant", "bistro")

    async def gone() -> bool:
        return await env.get("Tenant", "bistro") is None

    await eventually(gone, timeout=30)
    await env.apply(tenant("bistro", "pro", billing={"country": "FR", "cycle": "Yearly"}))
    biller.clock.now += timedelta(days=400)
    report = await biller.run()
    assert "spec.billing.cycle is Yearly but its invoices in the cluster follow Monthly" in report.failed["bistro"]
    assert not [name for name in report.invoices if name.startswith("bistro-")]
