"""`landlord dev`: the playground brings up the examples, and kubectl works against it."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from landlord.config import parse
from landlord.playground import playground
from tests.conformance.test_kubectl import Kubectl
from tests.helpers import eventually
from tests.integration.conftest import ROOT


async def test_playground_with_kubectl(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    stop = asyncio.Event()
    out = io.StringIO()
    task = asyncio.create_task(playground(parse({}), 0, str(kubeconfig), ROOT, refresh=0.2, out=out, stop=stop))
    try:
        await eventually(lambda: "documents applied" in out.getvalue(), timeout=60)
        kubectl = Kubectl(kubeconfig, tmp_path)

        async def all_listed() -> str | None:
            _, text, _ = await kubectl("get", "tenants")
            rows = [line.split() for line in text.splitlines()[1:]]
            phases = {row[0]: row[2] for row in rows}
            expected = {"acme", "bakery", "florist", "goodcause", "latepayer", "newco", "shopco"}
            return (
                text if set(phases) == expected and all(p in ("Trial", "Suspended") for p in phases.values()) else None
            )

        listing = await eventually(all_listed, timeout=60)
        header = listing.splitlines()[0].split()
        assert header == ["NAME", "PLAN", "PHASE", "URL", "SYNC", "AGE"]
        assert "https://flowers.apps.webagency.example" in listing
        _, namespaces, _ = await kubectl("get", "ns")
        assert "t-acme" in namespaces and "t-shopco" in namespaces
        _, described, _ = await kubectl("describe", "tenant", "latepayer")
        assert "Suspended" in described and "Manual" in described
        _, plans, _ = await kubectl("get", "plans")
        assert "professional" in plans and "EUR" in plans
        manifest = (
            "apiVersion: landlord.dev/v1alpha1\nkind: Tenant\nmetadata: {name: late-arrival}\n"
            "spec: {plan: starter, owner: {name: X, email: x@example.com}}\n"
        )
        await kubectl("apply", "--server-side", "-f", "-", stdin=manifest)

        async def provisioned() -> bool:
            _, text, _ = await kubectl("get", "tenant", "late-arrival", "-o", "jsonpath={.status.phase}")
            return text == "Trial"

        await eventually(provisioned, timeout=30)
        assert "NAME" in out.getvalue() and "acme" in out.getvalue()
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    assert "landlord dev: stopped" in out.getvalue()
