"""`landlord.devservices.postgres.LocalPostgres`: the real PostgreSQL server the tests and the playground start.

Each test here starts nothing it does not stop: the session's server (`postgres` fixture) is
shared, and the tests of start/stop start their own and check that nothing is left behind.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from landlord.config import parse
from landlord.devservices import postgres as module
from landlord.devservices.postgres import LocalPostgres, LocalPostgresError, PostgresBinaries, process_alive
from landlord.playground import database_config, database_off, local_database, with_database
from landlord.providers import available, problems


def test_start_and_stop_leave_nothing_behind() -> None:
    with LocalPostgres() as pg:
        pid = pg.pid
        assert pid is not None and process_alive(pid)
        assert pg.data_dir.is_dir() and (pg.data_dir / "PG_VERSION").exists()
        assert pg.log_path.parent == pg.data_dir and pg.log_path.exists()  # a file, not a pipe
        assert int((pg.data_dir / "postmaster.pid").read_text().splitlines()[0]) == pid
        assert pg.host == "127.0.0.1" and pg.port > 0 and pg.admin_user == "landlord_admin"
        temp = pg.data_dir.parent
    assert not process_alive(pid)
    assert not temp.exists()
    assert pg.pid is None
    pg.stop()  # twice is harmless


def test_the_admin_logs_in_over_tcp_with_the_password(postgres: LocalPostgres) -> None:
    with psycopg.connect(postgres.dsn()) as conn:
        row = conn.execute(
            "SELECT current_user, inet_server_addr()::text, inet_server_port(), "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
        ).fetchone()
        assert row == ("landlord_admin", "127.0.0.1/32", postgres.port, True)  # over TCP, not the socket
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (
                    [
                        "fsync",
                        "synchronous_commit",
                        "full_page_writes",
                        "max_connections",
                        "listen_addresses",
                        "unix_socket_directories",
                    ],
                ),
            ).fetchall()
        )
    assert settings == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(postgres.data_dir),
    }


def test_tcp_logins_need_the_right_password(postgres: LocalPostgres) -> None:
    """What tenant isolation rests on: over TCP, one role's password does not open another role's login."""
    with psycopg.connect(postgres.dsn(), autocommit=True) as admin:
        for role, password in (("probe_tenant_a", "password-of-a"), ("probe_tenant_b", "password-of-b")):
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            )
            # The database tests revoke PUBLIC's CONNECT on `postgres` (as the operator does): grant it here.
            admin.execute(sql.SQL("GRANT CONNECT ON DATABASE postgres TO {}").format(sql.Identifier(role)))
        try:
            with psycopg.connect(postgres.dsn(user="probe_tenant_a", password="password-of-a")) as own:
                assert own.execute("SELECT current_user").fetchone() == ("probe_tenant_a",)
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(postgres.dsn(user="probe_tenant_b", password="password-of-a"))
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(postgres.dsn(password="not-the-admin-password"))
            with pytest.raises(psycopg.OperationalError, match=r"no password supplied|password authentication"):
                psycopg.connect(postgres.dsn(user="probe_tenant_b"))
            # The bootstrap superuser has no password: it can only use the local socket.
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(postgres.dsn(user="postgres"))
        finally:
            for role in ("probe_tenant_a", "probe_tenant_b"):
                admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_password_stays_out_of_logs_and_reprs(postgres: LocalPostgres) -> None:
    assert len(postgres.admin_password) >= 24
    assert postgres.admin_password not in repr(postgres)
    assert postgres.admin_password not in postgres.log_path.read_text()
    assert postgres.admin_password not in (postgres.data_dir / "pg_ctl.log").read_text()
    from landlord.redaction import redact

    assert postgres.admin_password not in redact(f"oops {postgres.dsn()}")


def test_admin_secret_shape(postgres: LocalPostgres) -> None:
    assert postgres.admin_secret() == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "pg-admin",
            "namespace": "landlord-system",
            "labels": {"app.kubernetes.io/part-of": "landlord"},
        },
        "type": "Opaque",
        "stringData": {
            "host": "127.0.0.1",
            "port": str(postgres.port),
            "username": "landlord_admin",
            "password": postgres.admin_password,
            "sslmode": "disable",
        },
    }
    other = postgres.admin_secret(namespace="db", name="main-admin")["metadata"]
    assert (other["namespace"], other["name"]) == ("db", "main-admin")


def test_dsn_quotes_what_needs_quoting(postgres: LocalPostgres) -> None:
    parsed = conninfo_to_dict(postgres.dsn("shop db", user="o'brien", password="a b\\c'd"))
    assert parsed == {
        "host": "127.0.0.1",
        "port": str(postgres.port),
        "dbname": "shop db",
        "user": "o'brien",
        "password": "a b\\c'd",
        "sslmode": "disable",
        "connect_timeout": "10",
    }
    assert "password" not in conninfo_to_dict(postgres.dsn(user="someone"))  # another user: no admin password
    assert conninfo_to_dict(postgres.dsn())["password"] == postgres.admin_password


def _fake_install(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
        (folder / name).chmod(0o755)


def test_without_binaries_available_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(module, "VERSIONED_BIN_GLOB", str(tmp_path / "lib" / "*" / "bin"))
    reason = LocalPostgres.available()
    assert reason is not None and "\n" not in reason
    assert reason.startswith("initdb not found") and reason.endswith("apt-get install postgresql")
    with pytest.raises(LocalPostgresError, match="initdb not found"):
        LocalPostgres().start()


def test_binaries_come_from_path_first_then_the_newest_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(module, "VERSIONED_BIN_GLOB", str(tmp_path / "lib" / "*" / "bin"))
    for version in ("9.6", "15", "16", "13"):
        _fake_install(tmp_path / "lib" / version / "bin")
    assert module.find_binaries(path=str(tmp_path / "empty")) == PostgresBinaries(tmp_path / "lib" / "16" / "bin")
    _fake_install(tmp_path / "onpath")
    found = module.find_binaries(path=os.pathsep.join([str(tmp_path / "empty"), str(tmp_path / "onpath")]))
    assert found == PostgresBinaries(tmp_path / "onpath")


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A folder the `postgres` user can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="landlord-pgtest-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_given_data_dir_is_kept_and_reused(reachable_dir: Path) -> None:
    data = reachable_dir / "pg"
    with LocalPostgres(data) as first:
        assert first.data_dir == data
        with psycopg.connect(first.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE kept")
        old_password = first.admin_password
    assert (data / "PG_VERSION").exists()  # not removed: it was given
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    with LocalPostgres(data) as second:  # no initdb again; the admin gets a new password
        assert second.admin_password != old_password
        with psycopg.connect(second.dsn("kept")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("kept",)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(second.dsn(password=old_password))


def test_stop_kills_the_server_when_pg_ctl_cannot(reachable_dir: Path) -> None:
    pg = LocalPostgres().start()
    pid = pg.pid
    assert pid is not None
    pg.binaries = PostgresBinaries(reachable_dir / "missing")  # `pg_ctl stop` fails: SIGTERM it is
    pg.stop()
    assert not process_alive(pid)
    assert not pg.data_dir.parent.exists()


def test_playground_database_config_is_the_contract() -> None:
    pg = LocalPostgres()  # the configuration names the admin Secret, so a server need not run
    assert database_config(pg) == {
        "database": {
            "provider": "postgresql",
            "defaultMode": "Dedicated",
            "sharedDatabase": "landlord_shared",
            "servers": [
                {
                    "name": "main",
                    "adminSecret": {"namespace": "landlord-system", "name": "pg-admin"},
                    "capacity": {"databases": 500, "bytes": "500Gi"},
                    "draining": False,
                }
            ],
        }
    }
    user = parse({"baseDomain": "apps.example.org", "database": {"provider": None}})
    merged = with_database(user, pg)
    assert merged.base_domain == "apps.example.org"  # the user's configuration stays
    assert merged.capability("database") == database_config(pg)["database"]
    if "postgresql" in available("database"):  # the provider accepts exactly these keys
        assert problems("database", merged.capability("database")) == []


def test_the_playground_says_in_one_line_why_the_database_is_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = parse({})
    short, line = database_off(config, wanted=False) or ("", "")
    assert short == "--no-database"
    assert line == (
        "landlord dev: database component off (--no-database); run landlord dev without it to get a local PostgreSQL"
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(module, "VERSIONED_BIN_GLOB", str(tmp_path / "*" / "bin"))
    short, line = database_off(config, wanted=True) or ("", "")
    if "postgresql" not in available("database"):  # before the provider lands, that is the reason given
        assert short == "no postgresql provider" and "no 'postgresql' database provider" in line
        return
    assert short == "PostgreSQL not installed"
    assert "\n" not in line and "initdb not found" in line and "apt-get install postgresql" in line
    assert "make tools" in line and "--no-database" in line


async def test_a_database_the_user_configured_starts_no_local_server() -> None:
    config = parse({"database": {"provider": "postgresql", "servers": []}})
    out = io.StringIO()
    async with local_database(config, True, out) as db:
        assert db.config is config and db.secret is None
        assert db.header == "database: postgresql (from the configuration)"
    assert out.getvalue() == ""


def test_make_tools_installs_postgresql_only_when_initdb_is_missing() -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "tools"], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    recipe = result.stdout
    guard = "command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||"
    assert recipe.index(guard) < recipe.index("tests/tools.py")
    assert "installing PostgreSQL" in recipe
    assert "apt-get install -y -qq --no-install-recommends postgresql" in recipe
