"""`landlord dev`: the playground. The emulator, the CRDs, the catalogue and examples, the operator.

Everything runs in this process: the in-memory API server on the main event loop, the
operator (kopf) with its own loop in a thread. kubectl works against it with the kubeconfig
written at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

import kopf

from .api.schemas import all_crds
from .config import Config
from .devcluster import DevCluster
from .documents import load
from .kube import KubeClient
from .runner import OperatorThread

PLAYGROUND_MANAGER = "landlord-playground"
FOLDERS = ("plans", "addons", "examples")


async def install(client: KubeClient, root: Path) -> int:
    """Installs the CRDs and applies every landlord.dev document under plans/, addons/, examples/."""
    for crd in all_crds():
        await client.apply(crd)
    count = 0
    folders = [root / f for f in FOLDERS if (root / f).exists()]
    ordered = sorted(
        load(folders),
        key=lambda d: (
            ["Plan", "AddOn", "Reseller", "Tenant"].index(d.kind)
            if d.kind in ("Plan", "AddOn", "Reseller", "Tenant")
            else 9
        ),
    )
    for doc in ordered:
        if doc.is_landlord:
            await client.apply(doc.body)
            count += 1
    return count


def table(tenants: list[dict[str, Any]]) -> list[str]:
    rows = [("NAME", "PLAN", "PHASE", "URL", "SYNC")]
    for tenant in sorted(tenants, key=lambda t: t["metadata"]["name"]):
        status = tenant.get("status") or {}
        rows.append(
            (
                tenant["metadata"]["name"],
                str((tenant.get("spec") or {}).get("plan", "")),
                str(status.get("phase", "")),
                str(status.get("url", "")),
                str((status.get("planSync") or {}).get("state", "")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return ["   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


async def playground(
    config: Config,
    port: int,
    kubeconfig: str,
    root: Path,
    refresh: float = 2.0,
    out: TextIO = sys.stdout,
    stop: asyncio.Event | None = None,
) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    async with DevCluster(port=port) as cluster:
        path = cluster.write_kubeconfig(kubeconfig)
        client = KubeClient(kopf.ConnectionInfo(server=cluster.url, insecure=True), user_agent=PLAYGROUND_MANAGER)
        operator = OperatorThread(config, login=lambda: kopf.ConnectionInfo(server=cluster.url, insecure=True))
        try:
            applied = await install(client, root)
            await asyncio.to_thread(operator.start)
            print(f"landlord dev: API server {cluster.url}; {applied} documents applied; operator running.", file=out)
            print(f"  export KUBECONFIG={path.resolve()}; kubectl get tenants   (Ctrl-C stops)", file=out, flush=True)
            tty = out.isatty()
            shown: list[str] = []
            while not stop.is_set():
                lines = table(await client.list("Tenant"))
                if tty:
                    out.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
                    out.flush()
                elif lines != shown:
                    out.write("\n".join(lines) + "\n\n")
                    out.flush()
                shown = lines
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), refresh)
        finally:
            await asyncio.to_thread(operator.stop)
            await client.close()
    print("landlord dev: stopped", file=out, flush=True)
