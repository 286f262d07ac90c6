"""`landlord billing` and `landlord invoice render/export/credit` as a user runs them: exit
codes, what they print, and one line naming the problem when something is wrong."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import yaml

from tests.helpers import eventually
from tests.integration.conftest import REAL, Env
from tests.integration.test_billing_sidecar import BILLING, priced_plan
from tests.integration.test_metrics import free_port, scrape, value
from tests.integration.test_tenancy import tenant

LANDLORD = [sys.executable, "-m", "landlord"]


async def _run(args: list[str], kubeconfig: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    env.pop("LANDLORD_CONFIG", None)
    return await asyncio.to_thread(
        subprocess.run, [*LANDLORD, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False
    )


def _kubeconfig(env: Env, tmp_path: Path) -> str:
    if REAL:
        return REAL
    assert env.devcluster is not None
    return str(env.devcluster.write_kubeconfig(tmp_path / "kubeconfig"))


async def test_billing_once_runs_and_reports(env: Env, tmp_path: Path) -> None:
    await env.apply(priced_plan("pro", "30.00"))
    await env.apply(tenant("bistro", "pro", billing={"country": "FR"}))
    config = tmp_path / "landlord.yaml"
    config.write_text(yaml.safe_dump({"billing": BILLING}))
    result = await _run(["billing", "--once", "--config", str(config)], _kubeconfig(env, tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    # Created this month: nothing closed yet (unless the month turned meanwhile); the run succeeded.
    assert result.stdout.startswith("1 tenant(s), ") and ", 0 tenant(s) failed," in result.stdout
    if result.stdout.startswith("1 tenant(s), 0 closed period(s)"):  # (unless the month turned meanwhile)
        assert "a period is invoiced once it is over" in result.stdout


async def test_billing_refuses_to_start_without_a_seller_country(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "landlord.yaml"
    config.write_text(yaml.safe_dump({"billing": {"taxRates": {"FR": "20"}}}))
    result = await _run(["billing", "--once", "--config", str(config)], _kubeconfig(env, tmp_path), tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "billing.seller.country: not set; the seller's country decides the tax of every invoice; set it, e.g. FR"
    )


async def test_billing_names_a_wrong_provider_key(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "landlord.yaml"
    config.write_text(
        yaml.safe_dump(
            {"billing": BILLING, "metricsSource": {"provider": "prometheus", "url": "http://x", "meter": {}}}
        )
    )
    result = await _run(["billing", "--once", "--config", str(config)], _kubeconfig(env, tmp_path), tmp_path)
    assert result.returncode == 2
    assert "metricsSource.meter: unknown key" in result.stderr


async def test_invoice_commands_say_what_is_missing(env: Env, tmp_path: Path) -> None:
    kubeconfig = _kubeconfig(env, tmp_path)
    render = await _run(["invoice", "render", "nosuch-2026-10"], kubeconfig, tmp_path)
    assert render.returncode == 1
    assert render.stderr.strip() == (
        "landlord invoice render: no Invoice or CreditNote named 'nosuch-2026-10' in the cluster (no objectStorage "
        "configured); `kubectl get invoices` lists them"
    )
    export = await _run(["invoice", "export", "--period", "2026-13"], kubeconfig, tmp_path)
    assert export.returncode == 1
    assert "--period 2026-13: give a month such as 2026-07, or a year such as 2026" in export.stderr
    empty = await _run(["invoice", "export", "--period", "2026-10"], kubeconfig, tmp_path)
    assert empty.returncode == 0 and empty.stdout.startswith("number,kind,")
    credit = await _run(["invoice", "credit", "nosuch-2026-10", "--reason", "x"], kubeconfig, tmp_path)
    assert credit.returncode == 1 and "no Invoice 'nosuch-2026-10' in the cluster" in credit.stderr
    missing = await _run(["invoice", "render", "x", "--kubeconfig", str(tmp_path / "none")], kubeconfig, tmp_path)
    assert missing.returncode == 1 and "no kubeconfig at" in missing.stderr


async def test_the_sidecar_serves_its_probes_and_stops_on_sigterm(env: Env, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "landlord.yaml"
    config.write_text(yaml.safe_dump({"billing": {**BILLING, "metricsPort": port}}))
    process = await asyncio.create_subprocess_exec(
        *LANDLORD,
        "billing",
        "--config",
        str(config),
        env={**os.environ, "KUBECONFIG": _kubeconfig(env, tmp_path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:

        async def ready() -> bool:
            try:
                async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(ready, timeout=30, interval=0.2)
        _, series = await scrape(port)
        assert value(series, "landlord_billing_runs_total") == 1
        assert value(series, "landlord_billing_run_failures_total") == 0
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
