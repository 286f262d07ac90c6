"""Suspension the operator decides by itself: over a limit (`overuse.suspendOnExceed`, after
`overuse.suspendAfter`) and unpaid invoices past grace (`PaymentOverdue`); activation as soon as
the cause is gone, through the same path as a manual un-suspension."""

from __future__ import annotations

import time
from typing import Any

from landlord.api.schemas import all_crds
from landlord.controller.telemetry import ACTIVE_USERS_ANNOTATION
from tests.helpers import eventually
from tests.integration.conftest import Env
from tests.integration.test_suspension import TEMPLATE
from tests.integration.test_tenancy import plan, tenant


def capped(suspend_on_exceed: bool = True, **pricing: Any) -> dict[str, Any]:
    body = plan("capped", users=5)
    body["spec"]["overuse"] = {"policy": "Notify", "notifyAt": [80], "suspendOnExceed": suspend_on_exceed}
    body["spec"]["pricing"].update(pricing)
    return body


def configure(env: Env, **raw: Any) -> None:
    env.config = env.config.__class__({**env.config.raw, **raw})


def web(namespace: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "x"}}, "template": TEMPLATE},
    }


async def seats(env: Env, name: str, count: int) -> None:
    await env.client.patch("Tenant", name, {"metadata": {"annotations": {ACTIVE_USERS_ANNOTATION: str(count)}}})


async def replicas(env: Env, name: str) -> int:
    deployment = await env.get("Deployment", "web", f"t-{name}")
    assert deployment is not None
    return int(deployment["spec"]["replicas"])


async def status_of(env: Env, name: str) -> dict[str, Any]:
    body = await env.get("Tenant", name)
    assert body is not None
    return dict(body.get("status") or {})


async def assert_no_op_writes_nothing(env: Env, name: str) -> None:
    """A reconcile with nothing changed (asked for twice) writes nothing, client- and server-side."""
    await env.quiet(settle=1.0)
    client = env.controller.client
    writes = client.counts["writes"]
    server = env.devcluster.api.requests["writes"] if env.devcluster else None
    before = env.controller.reconciles
    env.controller.queue.add(("Tenant", name))
    await eventually(lambda: env.controller.reconciles > before)
    await env.quiet(settle=0.5)
    env.controller.queue.add(("Tenant", name))
    await eventually(lambda: env.controller.reconciles > before + 1)
    await env.quiet(settle=0.5)
    assert client.counts["writes"] == writes
    if env.devcluster is not None:
        assert env.devcluster.api.requests["writes"] == server


async def event(env: Env, name: str, reason: str, text: str = "") -> None:
    """Waits for an Event about the tenant (posted right after the status write it is about)."""

    async def posted() -> bool:
        found = await env.client.list("Event", "default")
        return any(
            e["involvedObject"]["name"] == name and e["reason"] == reason and text in e["message"] for e in found
        )

    await eventually(posted, timeout=5)


async def test_over_a_limit_is_recorded_suspends_after_suspend_after_and_comes_back_under(env: Env) -> None:
    # An hour-long drift pass: the suspension at since + suspendAfter comes from the requeue it schedules.
    configure(env, overuse={"suspendAfter": 2}, driftInterval=3600)
    await env.apply(capped())
    await env.start_operator()
    await env.apply(tenant("hog", "capped"))
    await env.wait_phase("hog", "Active")
    await env.apply(web("t-hog"))
    await seats(env, "hog", 8)

    async def recorded() -> dict[str, Any] | None:
        return (await status_of(env, "hog")).get("overLimit")

    record = await eventually(recorded, timeout=5)
    assert record["resources"] == ["users"]
    started = time.monotonic()
    status = await status_of(env, "hog")
    assert status["phase"] == "Active"  # not yet: the clock runs
    await event(env, "hog", "OverLimit", "users 8 of 5")

    suspended = await env.wait_phase("hog", "Suspended", timeout=10)
    assert time.monotonic() - started < 6
    assert suspended["status"]["reason"] == "OverLimit"
    message = suspended["status"]["message"]
    assert "users 8 of 5" in message and "spec.addOns" in message and "spec.overrides.limits" in message
    assert suspended["status"]["overLimit"] == record  # since kept
    await event(env, "hog", "OverLimit", "Active -> Suspended")

    async def stopped() -> bool:
        return await replicas(env, "hog") == 0

    await eventually(stopped, timeout=10)
    assert (await status_of(env, "hog"))["suspension"]["workloads"] == [
        {"kind": "Deployment", "name": "web", "replicas": 2}
    ]
    await assert_no_op_writes_nothing(env, "hog")

    await seats(env, "hog", 5)  # at the limit is within it
    active = await env.wait_phase("hog", "Active", timeout=5)
    assert "overLimit" not in active["status"] and "suspendedAt" not in active["status"]

    async def restored() -> bool:
        return await replicas(env, "hog") == 2

    await eventually(restored, timeout=10)
    await assert_no_op_writes_nothing(env, "hog")


async def test_with_the_default_suspend_after_the_tenant_is_not_suspended_at_once(env: Env) -> None:
    assert env.config.suspend_after == 900
    await env.apply(capped())
    await env.start_operator()
    body = tenant("slow", "capped")
    body["metadata"]["annotations"] = {ACTIVE_USERS_ANNOTATION: "9"}
    await env.apply(body)
    active = await env.wait_phase("slow", "Active")
    await env.quiet(settle=2.5)  # two drift passes (driftInterval 1s)
    status = await status_of(env, "slow")
    assert status["phase"] == "Active" and status["overLimit"]["resources"] == ["users"]
    assert status["overLimit"]["since"] == (active["status"].get("overLimit") or status["overLimit"])["since"]
    await assert_no_op_writes_nothing(env, "slow")


async def test_without_suspend_on_exceed_nothing_is_suspended_or_recorded(env: Env) -> None:
    configure(env, overuse={"suspendAfter": 0})
    await env.apply(capped(suspend_on_exceed=False))
    await env.start_operator()
    body = tenant("free", "capped")
    body["metadata"]["annotations"] = {ACTIVE_USERS_ANNOTATION: "50"}
    await env.apply(body)
    await env.wait_phase("free", "Active")
    await env.quiet(settle=2.5)
    status = await status_of(env, "free")
    assert status["phase"] == "Active" and "overLimit" not in status
    # Turning it on in the plan starts the clock then (suspendAfter 0: at once).
    await env.apply(capped())
    suspended = await env.wait_phase("free", "Suspended", timeout=10)
    assert suspended["status"]["reason"] == "OverLimit"


async def test_seats_beyond_the_included_ones_are_billed_not_suspended(env: Env) -> None:
    configure(env, overuse={"suspendAfter": 0})
    await env.apply(capped(seatPrice="5.00"))
    await env.start_operator()
    body = tenant("seats", "capped")
    body["metadata"]["annotations"] = {ACTIVE_USERS_ANNOTATION: "50"}
    await env.apply(body)
    await env.wait_phase("seats", "Active")
    await env.quiet(settle=2.5)
    status = await status_of(env, "seats")
    assert status["phase"] == "Active" and "overLimit" not in status


# -- PaymentOverdue ----------------------------------------------------------------------------


def invoice(name: str, tenant_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Invoice",
        "metadata": {"name": name, "labels": {"landlord.dev/tenant": tenant_name, "landlord.dev/period": "2025-06"}},
        "spec": {
            "number": "2025-000001",
            "tenant": tenant_name,
            "period": "2025-06",
            "periodStart": "2025-06-01",
            "periodEnd": "2025-06-30",
            "issuedAt": "2025-07-01T00:05:00Z",
            "dueAt": "2025-07-31",
            "currency": "EUR",
            "billTo": {"kind": "Tenant", "name": tenant_name},
            "lines": [{"description": "Basic", "quantity": "1", "unitPrice": "10.00", "amount": "10.00"}],
            "subtotal": "10.00",
            "total": "10.00",
        },
    }


async def overdue(env: Env, name: str, tenant_name: str) -> None:
    if "invoices.landlord.dev" not in {c["metadata"]["name"] for c in all_crds()}:
        raise AssertionError("the Invoice CRD is not in all_crds()")
    await env.apply(invoice(name, tenant_name))
    status = {"state": "Overdue", "overdueSince": "2025-08-01", "suspendsTenant": True}
    await env.client.patch("Invoice", name, {"status": status}, subresource="status")


async def wait_reason(env: Env, name: str, phase: str, reason: str, timeout: float) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        status = await status_of(env, name)
        return status if status.get("phase") == phase and status.get("reason") == reason else None

    found: dict[str, Any] = await eventually(check, timeout=timeout, interval=0.05)
    return found


async def test_an_unpaid_invoice_past_grace_suspends_and_payment_reactivates_at_once(env: Env) -> None:
    configure(env, driftInterval=3600)  # every change below comes from a watch event, not the drift pass
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("late"))
    await env.wait_phase("late", "Active")
    await env.apply(web("t-late", replicas=3))
    await env.quiet()
    await env.apply(invoice("late-2025-06", "late"))  # issued, not past grace: nothing happens
    await env.quiet(settle=1.0)
    assert (await status_of(env, "late"))["phase"] == "Active"

    await env.client.patch(
        "Invoice", "late-2025-06", {"status": {"state": "Overdue", "suspendsTenant": True}}, subresource="status"
    )
    status = await wait_reason(env, "late", "Suspended", "PaymentOverdue", timeout=2)
    assert "late-2025-06" in status["message"] and "paidAt" in status["message"]
    assert "kubectl patch invoice late-2025-06 --subresource=status" in status["message"]

    async def stopped() -> bool:
        return await replicas(env, "late") == 0

    await eventually(stopped, timeout=5)
    await assert_no_op_writes_nothing(env, "late")

    await env.client.patch(
        "Invoice", "late-2025-06", {"status": {"paidAt": "2025-09-01T10:00:00Z"}}, subresource="status"
    )
    await wait_reason(env, "late", "Active", "Provisioned", timeout=2)

    async def restored() -> bool:
        return await replicas(env, "late") == 3

    await eventually(restored, timeout=5)
    await assert_no_op_writes_nothing(env, "late")


async def test_a_void_or_deleted_invoice_reactivates_too(env: Env) -> None:
    configure(env, driftInterval=3600)
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("void"))
    await env.wait_phase("void", "Active")
    await overdue(env, "void-2025-06", "void")
    await overdue(env, "void-2025-07", "void")
    await wait_reason(env, "void", "Suspended", "PaymentOverdue", timeout=2)

    async def both_named() -> bool:
        return "void-2025-06, void-2025-07" in str((await status_of(env, "void")).get("message"))

    await eventually(both_named, timeout=2)  # the second may be seen after the first suspended it
    await env.client.patch("Invoice", "void-2025-06", {"status": {"state": "Void"}}, subresource="status")
    await env.quiet(settle=0.5)
    assert (await status_of(env, "void"))["phase"] == "Suspended"  # the other one is still unpaid
    await env.client.delete("Invoice", "void-2025-07")
    await wait_reason(env, "void", "Active", "Provisioned", timeout=2)


async def test_an_invoice_deleted_during_a_watch_outage_does_not_keep_the_tenant_suspended(env: Env) -> None:
    cluster = env.devcluster
    if cluster is None:
        raise AssertionError("needs the emulator's outage hook (drop_watches)")
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("gap"))
    await env.wait_phase("gap", "Active")
    await overdue(env, "gap-2025-06", "gap")
    await wait_reason(env, "gap", "Suspended", "PaymentOverdue", timeout=2)
    # Deleted (archived) while no watch runs; the history is gone, so kopf lists again and keeps
    # the deleted invoice in its index. The next reconcile (the drift pass) must not trust it.
    store = cluster.cluster
    store.delete(store.find("landlord.dev", "invoices"), None, "gap-2025-06")
    assert cluster.drop_watches() > 0
    await wait_reason(env, "gap", "Active", "Provisioned", timeout=10)


async def test_a_dunning_exempt_tenant_is_not_suspended(env: Env) -> None:
    configure(env, driftInterval=3600)
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("vip", billing={"dunningExempt": True}))
    await env.wait_phase("vip", "Active")
    await overdue(env, "vip-2025-06", "vip")
    await env.quiet(settle=1.0)
    assert (await status_of(env, "vip"))["phase"] == "Active"
    await env.apply(tenant("vip", billing={"dunningExempt": False}))  # the exemption taken away
    await wait_reason(env, "vip", "Suspended", "PaymentOverdue", timeout=5)


async def test_manual_and_expiry_come_before_payment_which_comes_before_over_limit(env: Env) -> None:
    configure(env, overuse={"suspendAfter": 0}, driftInterval=3600)
    await env.apply(capped())
    await env.start_operator()
    body = tenant("both", "capped", suspend=True)
    body["metadata"]["annotations"] = {ACTIVE_USERS_ANNOTATION: "9"}
    await env.apply(body)
    await wait_reason(env, "both", "Suspended", "Manual", timeout=10)
    await overdue(env, "both-2025-06", "both")
    await env.quiet(settle=0.5)
    assert (await status_of(env, "both"))["reason"] == "Manual"
    body["spec"]["suspend"] = False
    body["spec"]["expiresAt"] = "2020-01-01T00:00:00Z"
    await env.apply(body)
    await wait_reason(env, "both", "Suspended", "Expired", timeout=5)
    body["spec"]["expiresAt"] = None
    await env.apply(body)
    await wait_reason(env, "both", "Suspended", "PaymentOverdue", timeout=5)
    await event(env, "both", "PaymentOverdue", "suspended: unpaid")  # the reason changed, the phase did not
    await env.client.patch(
        "Invoice", "both-2025-06", {"status": {"paidAt": "2025-09-01T10:00:00Z"}}, subresource="status"
    )
    await wait_reason(env, "both", "Suspended", "OverLimit", timeout=2)
    await seats(env, "both", 1)
    await wait_reason(env, "both", "Active", "Provisioned", timeout=5)
