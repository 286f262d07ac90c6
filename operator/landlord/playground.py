"""`landlord dev`: the playground. The emulator, the CRDs, the catalogue and examples, the operator.

Everything runs in this process: the in-memory API server on the main event loop, the
operator (kopf) with its own loop in a thread. kubectl works against it with the kubeconfig
written at start. The live table is the output; warnings and errors go to a log file that
its header line names.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import kopf

from .api.schemas import all_crds
from .config import Config, parse
from .devcluster import DevCluster
from .devcluster.identity import ADMIN
from .devservices.postgres import LocalPostgres
from .documents import load
from .kube import KubeClient, KubeError
from .render.cluster import OPERATOR_NAMESPACE, admission_assets, tenant_roles
from .runner import OperatorThread

if TYPE_CHECKING:
    from .invoicing.sidecar import Sidecar

PLAYGROUND_MANAGER = "landlord-playground"
FOLDERS = ("plans", "addons", "examples")
DEFAULT_LOG = Path(".landlord/operator.log")
DATABASE_NAMESPACE = OPERATOR_NAMESPACE  # the admin Secret lives beside the operator, as in production
DATABASE_SECRET = "pg-admin"
DATABASE_PROVIDER = "postgresql"
logger = logging.getLogger("landlord.playground")


class PortInUse(Exception):
    """The API server's port is taken; the message says how to choose another."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        free = next((p for p in range(port + 1, min(port + 100, 65536)) if _free(host, p)), port + 1)
        super().__init__(
            f"landlord dev: port {port} is already in use (another `make run` or `landlord devcluster`?); "
            f"choose another port: PORT={free} make run, or landlord dev --port {free}"
        )
        self.port = port


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class LogFile(logging.FileHandler):
    """Warnings and errors of the operator (and the API server) in a file, counted for the header."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as header:  # appended: the last run's log stays readable
            header.write(f"---- landlord dev started {datetime.now(UTC).isoformat(timespec='seconds')}\n")
        super().__init__(path, mode="a", encoding="utf-8")
        self.setLevel(logging.WARNING)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.path = path
        self.warning_count = 0
        self.error_count = 0

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if record.levelno >= logging.ERROR:
            self.error_count += 1
        else:
            self.warning_count += 1

    def summary(self) -> str:
        if not self.warning_count and not self.error_count:
            return f"operator log: {self.path} (no warnings)"
        counts = [
            f"{n} {word}{'s' if n != 1 else ''}"
            for n, word in ((self.error_count, "error"), (self.warning_count, "warning"))
            if n
        ]
        return f"operator log: {self.path} ({', '.join(counts)}: read it)"


@contextlib.contextmanager
def logging_to(path: Path) -> Iterator[LogFile]:
    """Sends warnings and errors from every logger to `path` while the playground runs."""
    handler = LogFile(path)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        handler.close()


def database_config(pg: LocalPostgres) -> dict[str, Any]:
    """The operator configuration for the playground's PostgreSQL, merged over the user's.

    The operator reaches the server through its admin Secret (`pg.admin_secret()`, applied into
    the cluster under DATABASE_NAMESPACE/DATABASE_SECRET), as it would in production; so the
    configuration names the Secret, never the password.
    """
    return {
        "database": {
            "provider": DATABASE_PROVIDER,
            "defaultMode": "Dedicated",
            "sharedDatabase": "landlord_shared",
            "servers": [
                {
                    "name": "main",
                    "adminSecret": {"namespace": DATABASE_NAMESPACE, "name": DATABASE_SECRET},
                    "capacity": {"databases": 500, "bytes": "500Gi"},
                    "draining": False,
                }
            ],
        }
    }


def with_database(config: Config, pg: LocalPostgres) -> Config:
    """`config` with its `database` section replaced by `database_config(pg)` (validated again)."""
    raw = copy.deepcopy(config.raw)
    raw.update(database_config(pg))
    return parse(raw, "playground configuration")


@dataclass(frozen=True)
class PlaygroundDatabase:
    """What the playground runs with: the configuration, the header part, the Secret to apply."""

    config: Config
    header: str
    secret: dict[str, Any] | None = None


def database_off(config: Config, wanted: bool) -> tuple[str, str] | None:
    """Why the playground starts no PostgreSQL: (short reason for the header, the one line to print), or None."""
    if not wanted:
        return "--no-database", (
            "landlord dev: database component off (--no-database); run landlord dev without it "
            "to get a local PostgreSQL"
        )
    from .providers import available

    if DATABASE_PROVIDER not in available("database"):
        return f"no {DATABASE_PROVIDER} provider", (
            f"landlord dev: database component off: this version of Landlord has no {DATABASE_PROVIDER!r} "
            "database provider yet"
        )
    reason = LocalPostgres.available()
    if reason is not None:
        return "PostgreSQL not installed", (
            f"landlord dev: database component off: PostgreSQL cannot run here ({reason}); "
            "install it (`make tools` does) and start again, or pass --no-database"
        )
    return None


@contextlib.asynccontextmanager
async def local_database(config: Config, wanted: bool, out: TextIO) -> AsyncIterator[PlaygroundDatabase]:
    """A LocalPostgres for the playground's operator, stopped on exit (Ctrl-C and errors too).

    A database the user's configuration already chooses is left as it is: nothing starts.
    """
    chosen = config.capability("database").get("provider")
    if chosen:
        yield PlaygroundDatabase(config, f"database: {chosen} (from the configuration)")
        return
    off = database_off(config, wanted)
    if off is not None:
        print(off[1], file=out, flush=True)
        yield PlaygroundDatabase(config, f"database: off ({off[0]})")
        return
    pg = LocalPostgres()
    # Shielded: a Ctrl-C while initdb runs in the thread must wait for it, then stop the server.
    starting = asyncio.ensure_future(asyncio.to_thread(pg.start))
    try:
        await asyncio.shield(starting)
        yield PlaygroundDatabase(
            with_database(config, pg),
            f"database: {DATABASE_PROVIDER} on {pg.host}:{pg.port}",
            pg.admin_secret(DATABASE_NAMESPACE, DATABASE_SECRET),
        )
    finally:
        with contextlib.suppress(Exception):
            await starting
        await asyncio.to_thread(pg.stop)


async def install_cluster_objects(client: KubeClient, operator_usernames: list[str]) -> list[str]:
    """The owners' ClusterRoles and the admission policies (what `kubectl apply -f crds/` installs
    beside the CRDs), with `operator_usernames` as the identity allowed to write what Landlord
    manages. Returns the kinds the API server does not serve (admission policies before
    Kubernetes 1.30), which are skipped."""
    skipped: list[str] = []
    for obj in [*tenant_roles(), *admission_assets(operator_usernames)]:
        if obj["kind"] in skipped:
            continue
        try:
            await client.apply(obj)
        except KubeError as exc:
            if exc.status != 404 or not obj["apiVersion"].startswith("admissionregistration."):
                raise
            skipped.append(obj["kind"])
    if skipped:
        logger.warning(
            "the API server does not serve %s: tenant isolation relies on RBAC and the quota alone", ", ".join(skipped)
        )
    return skipped


async def install(client: KubeClient, root: Path, namespace_prefix: str = "t-") -> int:
    """Installs the CRDs (the Tenant name rule for the configured prefix), the owners' roles and
    the admission policies (the playground's identity is the operator's), and applies every
    landlord.dev document under plans/, addons/, examples/."""
    for crd in all_crds(namespace_prefix):
        await client.apply(crd)
    await install_cluster_objects(client, [ADMIN.username])
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


USAGE_FILE = "usage.yaml"  # beside the kubeconfig: the playground's usage, when no Prometheus is configured
EXAMPLE_USAGE = {
    "tenants": {
        "acme": {"meters": {"traffic": "130Gi"}, "seats": {"total": 12}},
        "shopco": {"meters": {"traffic": "20Gi"}, "seats": {"total": 3}},
        "bakery": {"seats": {"total": 2}},
    }
}


def billing_config(config: Config, root: Path) -> Config:
    """The playground bills with the example seller, tax rates and coupons
    (`examples/billing/config.yaml`) unless the configuration names a seller of its own."""
    if config.billing.seller.country:
        return config
    example = root / "examples" / "billing" / "config.yaml"
    if not example.exists():
        return config
    import yaml

    raw = copy.deepcopy(config.raw)
    raw["billing"] = {**raw["billing"], **(yaml.safe_load(example.read_text()) or {}).get("billing", {})}
    return parse(raw, "playground configuration")


def billing_sidecar(config: Config, client: KubeClient, state: Path) -> tuple[Sidecar, str]:
    """The billing sidecar for the playground, and where its usage comes from (for the header).

    Usage: the configured `metricsSource`, else a file beside the kubeconfig, written with example
    usage the first time (edit it; each run reads it again).
    """
    from .invoicing.run import Biller
    from .invoicing.sidecar import Sidecar
    from .providers import load_providers
    from .providers.usage import FileUsageSource, UsageSource

    source: UsageSource
    if config.capability("metricsSource").get("provider"):
        built = load_providers({"metricsSource": config.capability("metricsSource")}).get("metricsSource")
        assert isinstance(built, UsageSource)
        source, where = built, f"usage from metricsSource ({config.capability('metricsSource')['provider']})"
    else:
        path = state / USAGE_FILE
        if not path.exists():
            import yaml

            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "# Usage per tenant for the playground's billing sidecar (metricsSource provider `file`).\n"
                "# Edit it: each billing run reads it again. `periods: {2026-11: {tenants: ...}}` sets one period.\n"
                + yaml.safe_dump(EXAMPLE_USAGE, sort_keys=False)
            )
        source, where = FileUsageSource({"path": str(path)}), f"usage from {path}"
    biller = Biller(client, config, OPERATOR_NAMESPACE, source)
    return Sidecar(biller, config.billing.interval), where


def billing_summary(invoices: list[dict[str, Any]], now: datetime) -> str:
    """The header's billing part: what was invoiced, and when the current month is."""
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    closes = (
        f"monthly tenants' {now:%Y-%m} is invoiced on {year:04d}-{month:02d}-01, "
        f"yearly ones' {now:%Y} on {now.year + 1}-01-01"
    )
    if not invoices:
        return f"billing: no invoice yet ({closes}; `landlord invoice preview` shows one now)"
    return f"billing: {len(invoices)} invoice(s) (`kubectl get invoices`); {closes}"


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
    log: Path = DEFAULT_LOG,
    database: bool = True,
) -> None:
    """Runs until `stop` (or SIGINT/SIGTERM); PortInUse when `port` is taken.

    With `database` (`landlord dev` without --no-database), a local PostgreSQL runs for the
    operator's database component; LocalPostgresError when it cannot start.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    cluster = DevCluster(port=port)
    try:
        await cluster.start()
    except OSError as exc:
        await cluster.stop()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(port, cluster.host) from exc
        raise
    try:
        with logging_to(log) as log_file:
            async with local_database(config, database, out) as db:
                await _serve(cluster, db, kubeconfig, root, refresh, out, stop, log_file)
    finally:
        await cluster.stop()
    print(f"landlord dev: stopped; {log_file.summary()}", file=out, flush=True)


async def _serve(
    cluster: DevCluster,
    db: PlaygroundDatabase,
    kubeconfig: str,
    root: Path,
    refresh: float,
    out: TextIO,
    stop: asyncio.Event,
    log_file: LogFile,
) -> None:
    path = cluster.write_kubeconfig(kubeconfig)
    client = KubeClient(kopf.ConnectionInfo(server=cluster.url, insecure=True), user_agent=PLAYGROUND_MANAGER)
    operator = OperatorThread(db.config, login=lambda: kopf.ConnectionInfo(server=cluster.url, insecure=True))
    billing_client = KubeClient(kopf.ConnectionInfo(server=cluster.url, insecure=True), user_agent="landlord-billing")
    sidecar, usage_from = billing_sidecar(billing_config(db.config, root), billing_client, Path(kubeconfig).parent)
    billing_stop = asyncio.Event()
    billing_task: asyncio.Task[None] | None = None
    try:
        applied = await install(client, root, db.config.namespace_prefix)
        if db.secret is not None:  # before the operator starts: its database provider reads it
            namespace = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": db.secret["metadata"]["namespace"]},
            }
            await client.apply(namespace)
            await client.apply(db.secret)
        await asyncio.to_thread(operator.start)
        billing_task = asyncio.create_task(sidecar.loop(billing_stop))
        started = f"landlord dev: API server {cluster.url}; {applied} documents applied; operator running; {db.header}"
        sidecar_line = f"billing sidecar running ({usage_from})"
        hint = f"  export KUBECONFIG={path.resolve()}; kubectl get tenants   (Ctrl-C stops)"
        tty = out.isatty()
        shown: tuple[list[str], list[str]] = ([], [])
        while not stop.is_set():
            billing = billing_summary(await client.list("Invoice"), datetime.now(UTC))
            header = [f"{started}; {log_file.summary()}", hint, f"{sidecar_line}; {billing}"]
            rows = table(await client.list("Tenant"))
            if tty:  # the header stays on top of the redrawn table
                out.write("\x1b[H\x1b[2J" + "\n".join([*header, "", *rows]) + "\n")
            else:  # a pipe or a file: only what changed
                if header != shown[0]:
                    out.write("\n".join(header) + "\n\n")
                if rows != shown[1]:
                    out.write("\n".join(rows) + "\n\n")
            out.flush()
            shown = (header, rows)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), refresh)
    finally:
        billing_stop.set()
        if billing_task is not None:
            await billing_task
        await billing_client.close()
        await asyncio.to_thread(operator.stop)
        await client.close()
