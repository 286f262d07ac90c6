"""`landlord dev` (`make run`): the playground brings up the examples, kubectl works against it,
the operator's warnings go to a log file, a taken port is one clear line, setup shows progress."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import re
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from landlord.config import parse
from landlord.devservices.postgres import LocalPostgres
from landlord.kube import KubeClient
from landlord.playground import playground
from landlord.providers import available
from tests.conformance.test_kubectl import Kubectl
from tests.helpers import eventually
from tests.integration.conftest import ROOT

LANDLORD_DEV = [sys.executable, "-m", "landlord", "dev"]
EXPECTED_PHASES = {
    "acme": "Active",  # billing.skipTrial: pays from day one
    "bakery": "Trial",
    "florist": "Trial",
    "goodcause": "Trial",
    "latepayer": "Suspended",
    "newco": "Trial",
    "shopco": "Trial",
}


async def test_playground_with_kubectl(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    log = tmp_path / "logs" / "operator.log"
    stop = asyncio.Event()
    out = io.StringIO()
    task = asyncio.create_task(
        playground(parse({}), 0, str(kubeconfig), ROOT, refresh=0.2, out=out, stop=stop, log=log)
    )
    try:
        await eventually(lambda: "documents applied" in out.getvalue(), timeout=60)
        kubectl = Kubectl(kubeconfig, tmp_path)

        async def all_listed() -> str | None:
            _, text, _ = await kubectl("get", "tenants")
            rows = [line.split() for line in text.splitlines()[1:]]
            phases = {row[0]: row[2] for row in rows}
            return text if phases == EXPECTED_PHASES else None

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

        # Billing: the sidecar runs on a usage file beside the kubeconfig, and a playground tenant
        # taken with kubectl previews as an invoice.
        assert "billing sidecar running (usage from " in out.getvalue()
        assert "billing: no invoice yet" in out.getvalue()
        assert "acme" in (tmp_path / "usage.yaml").read_text()
        _, acme, _ = await kubectl("get", "tenant", "acme", "-o", "yaml")
        (tmp_path / "acme.yaml").write_text(acme)
        preview = subprocess.run(
            [
                sys.executable,
                "-m",
                "landlord",
                "invoice",
                "preview",
                "--tenant",
                str(tmp_path / "acme.yaml"),
                "--catalog",
                str(ROOT / "plans"),
                "--catalog",
                str(ROOT / "addons"),
                "--period",
                datetime.now(UTC).strftime("%Y" if "cycle: Yearly" in acme else "%Y-%m"),
                "--config",
                str(ROOT / "examples" / "billing" / "config.yaml"),
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert preview.returncode == 0, preview.stderr
        assert json.loads(preview.stdout)["billTo"] == "acme"

        # Warnings and errors go to the log file that the header names, not into the table.
        first_line = out.getvalue().splitlines()[0]
        assert f"operator log: {log} (" in first_line, first_line
        logging.getLogger("landlord.controller").warning("a warning for the log file")
        logging.getLogger("kopf.objects").error("an error for the log file")
        await eventually(lambda: "1 error" in out.getvalue(), timeout=10)
        shown = out.getvalue()
        assert "a warning for the log file" not in shown and "an error for the log file" not in shown
        written = log.read_text()
        assert "WARNING landlord.controller: a warning for the log file" in written
        assert "ERROR kopf.objects: an error for the log file" in written
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    assert "landlord dev: stopped" in out.getvalue()
    # The handler is gone with the playground: later warnings do not reach the file.
    logging.getLogger("landlord.controller").warning("after the playground")
    assert "after the playground" not in log.read_text()


def test_a_taken_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*LANDLORD_DEV, "--port", str(port), "--root", str(tmp_path), "--kubeconfig", str(tmp_path / "kc")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert f"port {port} is already in use" in line
    suggested = re.search(r"PORT=(\d+) make run, or landlord dev --port (\d+)$", line)
    assert suggested is not None, line
    assert suggested[1] == suggested[2] and int(suggested[1]) != port and not _taken(int(suggested[1]))
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "kc").exists()  # nothing started


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_first_make_run_shows_what_it_installs(tmp_path: Path) -> None:
    # A dry run of setup with a venv that does not exist yet: what the first `make run` would do.
    result = subprocess.run(
        ["make", "-n", f"VENV={tmp_path / 'venv'}", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    install = next(i for i, line in enumerate(lines) if "pip install" in line and ".[test]" in line)
    assert "--quiet" not in lines[install] and "-q " not in lines[install], "pip's progress must show"
    assert any(line.startswith("echo ") and "installing" in line for line in lines[:install]), lines
    assert any("landlord dev" in line and "--log" in line for line in lines[install:])


# -- the database component's local PostgreSQL (`landlord dev` without --no-database) ------------


def _secret_values(secret: dict[str, Any]) -> dict[str, str]:
    if secret.get("data"):
        return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    return dict(secret.get("stringData") or {})


async def test_playground_starts_postgres_and_gives_the_operator_its_admin_secret(tmp_path: Path) -> None:
    if LocalPostgres.available() is not None:
        pytest.fail(f"PostgreSQL is needed: {LocalPostgres.available()}", pytrace=False)
    registered = "postgresql" in available("database")
    stop = asyncio.Event()
    out = io.StringIO()
    kubeconfig = tmp_path / "kubeconfig"
    task = asyncio.create_task(
        playground(parse({}), 0, str(kubeconfig), tmp_path, refresh=0.2, out=out, stop=stop, log=tmp_path / "log")
    )
    try:
        await eventually(lambda: "documents applied" in out.getvalue(), timeout=60)
        first_line = next(line for line in out.getvalue().splitlines() if "documents applied" in line)
        if not registered:  # until the provider lands, the playground says so and runs without it
            assert "database: off (no postgresql provider)" in first_line, first_line
            assert out.getvalue().count("database component off") == 1
            return
        found = re.search(r"database: postgresql on 127\.0\.0\.1:(\d+)", first_line)
        assert found is not None, first_line
        port = int(found[1])
        client = KubeClient.from_kubeconfig(kubeconfig)
        try:
            secret = await client.get("Secret", "pg-admin", "landlord-system")
            assert await client.get("Namespace", "landlord-system") is not None
        finally:
            await client.close()
        assert secret is not None
        assert secret["metadata"]["labels"] == {"app.kubernetes.io/part-of": "landlord"}
        values = _secret_values(secret)
        assert values["host"] == "127.0.0.1" and values["port"] == str(port) and values["sslmode"] == "disable"
        dsn = f"host=127.0.0.1 port={port} user={values['username']} password={values['password']} dbname=postgres"
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            cursor = await conn.execute("SELECT current_user")
            assert await cursor.fetchone() == ("landlord_admin",)
        assert values["password"] not in out.getvalue()
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    if registered:  # stopped with the playground
        with pytest.raises(psycopg.OperationalError):
            await psycopg.AsyncConnection.connect(dsn, connect_timeout=3)


def _kubeconfig_and_log(folder: Path) -> list[str]:
    return ["--kubeconfig", str(folder / "kc"), "--log", str(folder / "operator.log")]


def test_no_database_is_one_line_and_the_playground_runs(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*LANDLORD_DEV, "--no-database", "--port", "0", "--root", str(tmp_path), *_kubeconfig_and_log(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "documents applied" in line:
                break
    finally:
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=60)
    lines += rest.splitlines()
    assert process.returncode == 0, errors
    [off] = [line for line in lines if "database component off" in line]
    assert off == (
        "landlord dev: database component off (--no-database); run landlord dev without it to get a local PostgreSQL"
    )
    header = next(line for line in lines if "documents applied" in line)
    assert "operator running; database: off (--no-database); operator log:" in header
    assert "Traceback" not in errors
