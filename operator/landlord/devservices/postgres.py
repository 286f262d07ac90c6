"""A throwaway PostgreSQL server on 127.0.0.1 for the tests and the playground.

Why a real server rather than a fake: the database provider's promises (tenant A's password
cannot open tenant B's database, connection limits, sizes) are enforced by PostgreSQL itself,
so only PostgreSQL can prove them. Starting one takes about a second (initdb + start with
fsync off), so the test session and `landlord dev` each start their own on a free port.

How, and why each step is so:

- The binaries come from PATH, else the newest `/usr/lib/postgresql/<version>/bin` (Debian
  installs them there and puts only wrappers on PATH).
- `initdb` refuses to run as root, so as root the data directory belongs to the `postgres`
  user and initdb/pg_ctl run through `runuser -u postgres --` (or `setpriv`).
- Local (Unix socket) connections are trusted, and the socket lives inside the data directory,
  which only its owner can enter: that is how the admin role is created without a password.
  TCP connections need a SCRAM password, which is what the tests of tenant isolation rely on.
- The server writes its log to a file in the data directory, never to a pipe: a pipe that no
  one reads fills up and blocks the server, and an inherited pipe keeps CI steps waiting.
- Durability is switched off (`fsync`, `synchronous_commit`, `full_page_writes`): the data
  is thrown away at the end anyway, and this makes it several times faster.
- The admin password is random per start and never logged (nor written into the server's log).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .process import LocalServer, end_pid, process_alive, start_on_free_port, tail, wait_gone

logger = logging.getLogger(__name__)

VERSIONED_BIN_GLOB = "/usr/lib/postgresql/*/bin"
"""Where Debian (and Ubuntu) install the server binaries of each major version."""

INSTALL_HINT = "apt-get install postgresql"
OS_USER = "postgres"
"""The operating-system user that runs PostgreSQL when this process is root."""

ADMIN_USER = "landlord_admin"
BOOTSTRAP_USER = "postgres"
"""The superuser initdb creates; it can only log in over the (trusted) local socket."""

SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "password_encryption": "scram-sha-256",
}
CONF_NAME = "landlord.conf"
LOG_NAME = "postgres.log"
PG_CTL_LOG_NAME = "pg_ctl.log"
STOP_SIGNALS = ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0))
"""After pg_ctl stop failed: the server had its chance to shut down cleanly."""
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; the socket file adds "/.s.PGSQL.NNNNN"


class LocalPostgresError(RuntimeError):
    """PostgreSQL could not be found, started or stopped; the message says why (and where the log is)."""


@dataclass(frozen=True)
class PostgresBinaries:
    """One PostgreSQL installation: the folder holding `initdb`, `pg_ctl` and `postgres`."""

    bindir: Path

    @property
    def initdb(self) -> Path:
        return self.bindir / "initdb"

    @property
    def pg_ctl(self) -> Path:
        return self.bindir / "pg_ctl"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _version_key(bindir: str) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin: the newest major version sorts last."""
    name = Path(bindir).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def find_binaries(path: str | None = None) -> PostgresBinaries | None:
    """The first folder on PATH (`path`, default $PATH) with initdb and pg_ctl, else the newest versioned one."""
    folders = [p for p in (os.environ.get("PATH", "") if path is None else path).split(os.pathsep) if p]
    folders += sorted(glob.glob(VERSIONED_BIN_GLOB), key=_version_key, reverse=True)
    for folder in folders:
        candidate = PostgresBinaries(Path(folder))
        if _executable(candidate.initdb) and _executable(candidate.pg_ctl):
            return candidate
    return None


def _quote_conf(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _quote_conninfo(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class LocalPostgres(LocalServer):
    """A PostgreSQL server of its own on 127.0.0.1: `with LocalPostgres() as pg:`, or start() and stop().

    `data_dir` None (the default) uses a temporary folder removed by stop(); a folder given is
    kept, and reused when it already holds a cluster. `port` 0 picks a free port.
    """

    host = "127.0.0.1"
    admin_user = ADMIN_USER

    def __init__(self, data_dir: str | Path | None = None, port: int = 0, start_timeout: float = 60.0) -> None:
        self.port = port
        self.start_timeout = start_timeout
        self.admin_password = ""
        self.pid: int | None = None
        self.binaries: PostgresBinaries | None = None
        self._given_dir = Path(data_dir).absolute() if data_dir is not None else None
        self._temp_dir: Path | None = None
        self.data_dir: Path = self._given_dir or Path()
        self.log_path: Path = self.data_dir / LOG_NAME

    def __repr__(self) -> str:  # no password in reprs (pytest prints fixtures' reprs on failures)
        state = f"pid {self.pid}" if self.pid else "stopped"
        return f"<LocalPostgres {self.host}:{self.port} {state} data_dir={self.data_dir}>"

    # -- availability -----------------------------------------------------------------------
    @staticmethod
    def available() -> str | None:
        """None when a server can be started here; otherwise one line saying why not and what to install."""
        if find_binaries() is None:
            return f"initdb not found (PATH, {VERSIONED_BIN_GLOB}): {INSTALL_HINT}"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(OS_USER)
            except KeyError:
                return (
                    f"running as root and there is no {OS_USER!r} user to run PostgreSQL as "
                    f"(initdb refuses root): {INSTALL_HINT} creates it"
                )
            if not (shutil.which("runuser") or shutil.which("setpriv")):
                return (
                    f"running as root and neither runuser nor setpriv is found to run PostgreSQL "
                    f"as {OS_USER!r}: apt-get install util-linux"
                )
        return None

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.pid is not None and process_alive(self.pid)

    def start(self) -> LocalPostgres:
        """initdb (unless the folder holds a cluster), start, wait for connections, create the admin role."""
        if self.pid is not None:
            raise LocalPostgresError(f"PostgreSQL is already running here (pid {self.pid})")
        reason = self.available()
        if reason is not None:
            raise LocalPostgresError(f"cannot start PostgreSQL: {reason}")
        self.binaries = find_binaries()
        try:
            self._prepare_dir()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            self._configure_include()
            self._start_server()
            self.admin_password = secrets.token_urlsafe(24)
            self._register_secret()
            self._create_admin()
            self._wait_for_tcp()
        except BaseException:
            self.stop()
            raise
        self._stop_at_exit()
        logger.info("PostgreSQL started on %s:%s (pid %s, data %s)", self.host, self.port, self.pid, self.data_dir)
        return self

    def stop(self) -> None:
        """`pg_ctl stop -m fast`; SIGTERM then SIGKILL if the server is still there; the temporary folder goes."""
        self._forget_at_exit()
        pid, self.pid = self.pid, None
        if pid is not None:
            if self.binaries is not None and (self.data_dir / "postmaster.pid").exists():
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    self._run(
                        [str(self.binaries.pg_ctl), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "5"],
                        timeout=15,
                    )
            if not wait_gone(pid, 0):
                logger.warning("PostgreSQL (pid %s) still running after pg_ctl stop; sending signals", pid)
                end_pid(pid, "PostgreSQL", lambda seconds: wait_gone(pid, seconds), STOP_SIGNALS)
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    # -- connection details ---------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """A libpq conninfo string for psycopg (`psycopg.connect(pg.dsn())`): the admin unless `user` is given."""
        if user is None:
            user = self.admin_user
            password = self.admin_password if password is None else password
        parts = {
            "host": self.host,
            "port": str(self.port),
            "dbname": dbname,
            "user": user,
            "password": password,
            "sslmode": "disable",
            "connect_timeout": "10",
        }
        return " ".join(f"{key}={_quote_conninfo(value)}" for key, value in parts.items() if value is not None)

    def admin_secret(self, namespace: str = "landlord-system", name: str = "pg-admin") -> dict[str, Any]:
        """The v1 Secret the operator's `database.servers[].adminSecret` points at."""
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": "landlord"},
            },
            "type": "Opaque",
            "stringData": {
                "host": self.host,
                "port": str(self.port),
                "username": self.admin_user,
                "password": self.admin_password,
                "sslmode": "disable",
            },
        }

    # -- steps ----------------------------------------------------------------------------------
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _command(self, argv: list[str]) -> list[str]:
        """As root, the same command as the `postgres` user (initdb and postgres refuse root)."""
        if not self._as_root():
            return argv
        if shutil.which("runuser"):
            return ["runuser", "-u", OS_USER, "--", *argv]
        return ["setpriv", f"--reuid={OS_USER}", f"--regid={OS_USER}", "--init-groups", "--", *argv]

    def _run(self, argv: list[str], timeout: float, output: Any = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
        # cwd "/": the postgres user may not enter the caller's folder (initdb warns, pg_ctl may fail).
        return subprocess.run(
            self._command(argv),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            cwd="/",
            check=False,
        )

    def _own(self, path: Path) -> None:
        if self._as_root():
            entry = pwd.getpwnam(OS_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _prepare_dir(self) -> None:
        if self._given_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="landlord-pg-"))
            self._own(self._temp_dir)
            self.data_dir = self._temp_dir / "data"
        else:
            self.data_dir = self._given_dir
        self.log_path = self.data_dir / LOG_NAME
        if len(str(self.data_dir)) > _SOCKET_PATH_MAX - len("/.s.PGSQL.65535"):
            raise LocalPostgresError(
                f"the data directory path {self.data_dir} is too long for the Unix socket inside it; "
                "choose a shorter one"
            )
        if not self.data_dir.exists():
            self.data_dir.mkdir(mode=0o700, parents=True)
            self._own(self.data_dir)

    def _initdb(self) -> None:
        assert self.binaries is not None
        argv = [
            str(self.binaries.initdb),
            "-D",
            str(self.data_dir),
            "-U",
            BOOTSTRAP_USER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",  # thrown away afterwards: no need to flush the new cluster to disk
        ]
        result = self._run(argv, timeout=self.start_timeout)
        if result.returncode != 0:
            hint = ""
            if self._as_root():
                hint = f" (as root, every folder above {self.data_dir} must be enterable by the {OS_USER!r} user)"
            tail = "\n".join(result.stdout.splitlines()[-10:])
            raise LocalPostgresError(f"initdb failed in {self.data_dir}{hint}:\n{tail}")

    def _configure_include(self) -> None:
        """postgresql.conf includes landlord.conf (written before each start, with the port chosen)."""
        main = self.data_dir / "postgresql.conf"
        line = f"include_if_exists {_quote_conf(CONF_NAME)}\n"
        text = main.read_text()
        if line not in text:
            main.write_text(text + "\n# landlord.devservices: settings for a throwaway test server\n" + line)

    def _write_settings(self) -> None:
        settings = {**SETTINGS, "port": str(self.port), "unix_socket_directories": str(self.data_dir)}
        lines = [f"{key} = {_quote_conf(value)}" for key, value in settings.items()]
        conf = self.data_dir / CONF_NAME
        conf.write_text("# written by landlord.devservices.postgres at each start\n" + "\n".join(lines) + "\n")
        self._own(conf)

    def _start_server(self) -> None:
        assert self.binaries is not None
        pg_ctl = str(self.binaries.pg_ctl)
        exit_code = 0

        def attempt(port: int) -> str | None:
            nonlocal exit_code
            self.port = port
            self._write_settings()
            # pg_ctl's own messages go to a file too: its server child must inherit no pipe of ours.
            with open(self.data_dir / PG_CTL_LOG_NAME, "a") as output:
                self._own(self.data_dir / PG_CTL_LOG_NAME)
                argv = [pg_ctl, "start", "-D", str(self.data_dir), "-l", str(self.log_path)]
                argv += ["-w", "-t", str(int(self.start_timeout)), "-s"]
                exit_code = self._run(argv, timeout=self.start_timeout + 15, output=output).returncode
            self.pid = self._read_pid()
            if exit_code == 0 and self.pid is not None:
                return None
            log = tail(self.log_path)
            self._stop_after_failed_start()
            return log

        start_on_free_port(
            self.host,
            self.port,
            attempt,
            lambda log, taken: LocalPostgresError(
                f"PostgreSQL did not start ({taken}pg_ctl exit {exit_code}); the end of its log:\n"
                f"{log}\n{tail(self.data_dir / PG_CTL_LOG_NAME, 5)}".rstrip()
            ),
        )

    def _stop_after_failed_start(self) -> None:
        assert self.binaries is not None
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._run([str(self.binaries.pg_ctl), "stop", "-D", str(self.data_dir), "-m", "immediate"], timeout=15)
        self.pid = None

    def _read_pid(self) -> int | None:
        """The postmaster's PID: the first line of postmaster.pid (pg_ctl detaches the server from us)."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first)
        except (OSError, IndexError, ValueError):
            return None

    def _register_secret(self) -> None:
        from ..redaction import register_secret  # the operator's log redaction masks it if it ever leaks

        register_secret(self.admin_password)

    def _create_admin(self) -> None:
        """The admin role, over the trusted local socket as the bootstrap superuser."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=str(self.data_dir), port=self.port, user=BOOTSTRAP_USER, dbname="postgres", autocommit=True
        ) as conn:
            # A failing statement is written to the server log with its text: never with the password.
            conn.execute("SET log_min_error_statement = 'panic'")
            conn.execute("SET log_statement = 'none'")
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.admin_user,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} WITH SUPERUSER LOGIN PASSWORD {}").format(
                    sql.Identifier(self.admin_user), sql.Literal(self.admin_password)
                )
            )

    def _wait_for_tcp(self) -> None:
        """Until the admin logs in over TCP with the password (what the operator and the tests do)."""
        import psycopg

        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with psycopg.connect(self.dsn()) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    from ..redaction import redact

                    raise LocalPostgresError(
                        f"PostgreSQL on {self.host}:{self.port} accepts no admin login over TCP "
                        f"({redact(exc).strip()}); the end of its log:\n{tail(self.log_path)}"
                    ) from None
                time.sleep(0.1)
