"""Invoice numbers: gapless, once per document, across racing writers and a crash between writes."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

import pytest

from landlord.invoicing.numbering import COUNTER, DocumentRefused, Sequence
from landlord.kube import KubeClient, KubeError
from landlord.render.cluster import OPERATOR_NAMESPACE
from tests.integration.conftest import Env


def _doc(name: str, number: str) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Invoice",
        "metadata": {"name": name, "labels": {"landlord.dev/tenant": name}},
        "spec": {
            "number": number,
            "tenant": name,
            "period": "2026-10",
            "dueAt": "2026-12-01",
            "issuedAt": "2026-11-01T00:00:00Z",
            "currency": "EUR",
            "billTo": {"kind": "Tenant", "name": name},
            "lines": [],
            "total": "1.00",
        },
    }


async def _numbers(env: Env) -> dict[str, str]:
    return {i["metadata"]["name"]: i["spec"]["number"] for i in await env.client.list("Invoice")}


async def test_racing_writers_number_every_document_once_without_gaps(env: Env) -> None:
    writers = [KubeClient(env.login(), user_agent=f"writer-{k}") for k in range(4)]
    try:
        sequences = [Sequence(client, OPERATOR_NAMESPACE) for client in writers]
        names = [f"t{k:02d}-2026-10" for k in range(30)]

        async def write(sequence: Sequence, order: list[str]) -> None:
            for name in order:
                await sequence.issue("Invoice", name, 2026, partial(_doc, name))

        # Every writer issues every document, in a different order: each name must be numbered once.
        await asyncio.gather(*(write(s, names[k:] + names[:k]) for k, s in enumerate(sequences)))
    finally:
        for client in writers:
            await client.close()
    numbers = await _numbers(env)
    assert sorted(numbers) == sorted(names)
    assert sorted(numbers.values()) == [f"2026-{n:06d}" for n in range(1, 31)]
    assert await Sequence(env.client, OPERATOR_NAMESPACE).last(2026) == 30


async def test_a_crash_between_the_counter_and_the_document_leaves_no_gap(env: Env) -> None:
    first = Sequence(env.client, OPERATOR_NAMESPACE)
    await first.issue("Invoice", "a-2026-10", 2026, lambda n: _doc("a-2026-10", n))

    class Crash(Exception):
        pass

    real_create = env.client.create

    async def crashing_create(obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        if obj["kind"] == "Invoice" and not dry_run:
            raise Crash  # the process dies after reserving the number, before writing the invoice
        return await real_create(obj, dry_run)

    env.client.create = crashing_create  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await first.issue("Invoice", "b-2026-10", 2026, lambda n: _doc("b-2026-10", n))
    env.client.create = real_create  # type: ignore[method-assign]
    assert sorted(await _numbers(env)) == ["a-2026-10"]

    # Started again, the sidecar bills another tenant first: b is created with its number before c.
    restarted = Sequence(env.client, OPERATOR_NAMESPACE)
    await restarted.issue("Invoice", "c-2026-10", 2026, lambda n: _doc("c-2026-10", n))
    assert await _numbers(env) == {"a-2026-10": "2026-000001", "b-2026-10": "2026-000002", "c-2026-10": "2026-000003"}

    # Billing b again (its period is still due) numbers nothing.
    again = await Sequence(env.client, OPERATOR_NAMESPACE).issue("Invoice", "b-2026-10", 2026, lambda n: _doc("x", n))
    assert again.document["spec"]["number"] == "2026-000002" and not again.created
    assert await Sequence(env.client, OPERATOR_NAMESPACE).last(2026) == 3


async def test_a_crash_then_the_same_document_again_takes_its_reserved_number(env: Env) -> None:
    sequence = Sequence(env.client, OPERATOR_NAMESPACE)
    real_create = env.client.create
    calls = 0

    async def crashing_create(obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        nonlocal calls
        if obj["kind"] == "Invoice" and not dry_run and calls == 0:
            calls += 1
            raise ConnectionError
        return await real_create(obj, dry_run)

    env.client.create = crashing_create  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await sequence.issue("Invoice", "a-2026-10", 2026, lambda n: _doc("a-2026-10", n))
    env.client.create = real_create  # type: ignore[method-assign]
    made = await Sequence(env.client, OPERATOR_NAMESPACE).issue(
        "Invoice", "a-2026-10", 2026, lambda n: _doc("a-2026-10", n)
    )
    assert made.document["spec"]["number"] == "2026-000001" and made.created
    assert await Sequence(env.client, OPERATOR_NAMESPACE).last(2026) == 1


async def test_years_are_numbered_apart_and_the_counter_keeps_the_last_number(env: Env) -> None:
    sequence = Sequence(env.client, OPERATOR_NAMESPACE)
    await sequence.issue("Invoice", "a-2026-12", 2026, lambda n: _doc("a-2026-12", n))
    await sequence.issue("Invoice", "a-2027-01", 2027, lambda n: _doc("a-2027-01", n))
    for name in ("a-2027-01", "a-2026-12"):  # archived: settled first, then gone from the cluster
        await sequence.settle("Invoice", name)
        await env.client.delete("Invoice", name)
    restarted = Sequence(env.client, OPERATOR_NAMESPACE)  # nothing remembered: only the server's state
    await restarted.issue("Invoice", "b-2027-01", 2027, lambda n: _doc("b-2027-01", n))
    assert await _numbers(env) == {"b-2027-01": "2027-000002"}
    counter = await env.client.get("ConfigMap", COUNTER, OPERATOR_NAMESPACE)
    assert counter is not None
    assert json.loads(counter["data"]["2026"])["last"] == 1


async def test_an_issued_invoice_spec_cannot_be_edited(env: Env) -> None:
    await Sequence(env.client, OPERATOR_NAMESPACE).issue("Invoice", "a-2026-10", 2026, lambda n: _doc("a-2026-10", n))
    with pytest.raises(KubeError) as refused:
        await env.client.patch("Invoice", "a-2026-10", {"spec": {"total": "0.01"}})
    assert refused.value.status == 422 and "never edited" in str(refused.value)
    await env.client.patch("Invoice", "a-2026-10", {"status": {"paidAt": "2026-11-02T00:00:00Z"}}, subresource="status")


async def test_a_document_the_server_refuses_reserves_no_number_and_blocks_nothing(env: Env) -> None:
    sequence = Sequence(env.client, OPERATOR_NAMESPACE)

    def too_long(number: str) -> dict[str, Any]:
        doc = _doc("a-2026-10", number)
        doc["spec"]["seller"] = {"address": "x" * 5000}  # beyond the CRD's maxLength
        return doc

    with pytest.raises(DocumentRefused, match=r"seller\.address"):
        await sequence.issue("Invoice", "a-2026-10", 2026, too_long)
    assert await sequence.last(2026) == 0
    made = await sequence.issue("Invoice", "b-2026-10", 2026, lambda n: _doc("b-2026-10", n))
    assert made.document["spec"]["number"] == "2026-000001"


async def test_a_crash_at_the_turn_of_the_year_leaves_no_gap_in_the_old_year(env: Env) -> None:
    first = Sequence(env.client, OPERATOR_NAMESPACE)
    await first.issue("Invoice", "a-2026-11", 2026, lambda n: _doc("a-2026-11", n))
    real_create = env.client.create

    async def crashing_create(obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        if obj["kind"] == "Invoice" and not dry_run:
            raise ConnectionResetError  # 31 Dec 23:59: numbered, never written
        return await real_create(obj, dry_run)

    env.client.create = crashing_create  # type: ignore[method-assign]
    with pytest.raises(ConnectionResetError):
        await first.issue("Invoice", "b-2026-12", 2026, lambda n: _doc("b-2026-12", n))
    env.client.create = real_create  # type: ignore[method-assign]
    # 1 January: another tenant is invoiced first; b keeps its 2026 number.
    await Sequence(env.client, OPERATOR_NAMESPACE).issue("Invoice", "c-2026-12", 2027, lambda n: _doc("c-2026-12", n))
    assert await _numbers(env) == {"a-2026-11": "2026-000001", "b-2026-12": "2026-000002", "c-2026-12": "2027-000001"}


async def test_a_replica_with_an_old_view_never_brings_back_an_archived_document(env: Env) -> None:
    other = KubeClient(env.login(), user_agent="replica-b")
    try:
        a = Sequence(env.client, OPERATOR_NAMESPACE)
        b = Sequence(other, OPERATOR_NAMESPACE)
        await a.issue("Invoice", "x-2026-10", 2026, lambda n: _doc("x-2026-10", n))
        assert ("Invoice", "x-2026-10") in await b.pending()  # b has read the counter: x is pending there
        await a.settle("Invoice", "x-2026-10")  # a archives x
        await env.client.delete("Invoice", "x-2026-10")
        await b.issue("Invoice", "y-2026-10", 2026, lambda n: _doc("y-2026-10", n))
    finally:
        await other.close()
    assert await _numbers(env) == {"y-2026-10": "2026-000002"}
