"""The database capability end to end: the operator against the emulator and a real PostgreSQL.

Every check connects to PostgreSQL with the credentials the operator delivered in the tenant's
Secret, as the tenant's application would. The drift interval is an hour: what happens, happens
through the watches, the metering pass and the operator's own retries.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from landlord.devservices.postgres import LocalPostgres
from tests.helpers import eventually
from tests.integration import conftest
from tests.integration.conftest import Env
from tests.integration.test_tenancy import plan, tenant

HOUR = 3600


def database_config(*servers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "provider": "postgresql",
        "defaultMode": "Dedicated",
        "sharedDatabase": "landlord_shared",
        "servers": list(servers)
        or [
            {
                "name": "main",
                "adminSecret": {"namespace": "landlord-system", "name": "pg-admin"},
                "capacity": {"databases": 500, "bytes": "500Gi"},
                "draining": False,
            }
        ],
        "meterInterval": 0.5,
        **extra,
    }


def db_plan(name: str = "basic", mode: str = "Dedicated", storage: str = "1Gi", policy: str = "Notify", **db: Any):  # type: ignore[no-untyped-def]
    body = plan(name, databases=1, databaseStorage=storage)
    body["spec"]["database"] = {"mode": mode, "connectionLimit": 5, **db}
    body["spec"]["overuse"] = {"policy": policy}
    return body


@pytest.fixture
def clean_postgres(postgres: LocalPostgres) -> Iterator[LocalPostgres]:
    """Each test starts from a server without tenant databases, roles or the shared database."""
    drop_tenants(postgres)
    yield postgres


def drop_tenants(server: LocalPostgres) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        for (name,) in conn.execute(
            r"SELECT datname FROM pg_database WHERE datname LIKE 't\_%' OR datname = 'landlord_shared'"
        ):
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        for (name,) in conn.execute(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 't\_%'"):
            conn.execute(f'DROP OWNED BY "{name}"')
            conn.execute(f'DROP ROLE "{name}"')


async def install_admin_secret(env: Env, server: LocalPostgres, name: str = "pg-admin") -> None:
    await env.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "landlord-system"}})
    await env.apply(server.admin_secret(name=name))


@pytest.fixture
async def db(env: Env, clean_postgres: LocalPostgres) -> AsyncIterator[Env]:
    await install_admin_secret(env, clean_postgres)
    env.config = conftest.test_config(driftInterval=HOUR, database=database_config())
    yield env


async def credentials(env: Env, name: str) -> dict[str, str]:
    async def found() -> dict[str, Any] | None:
        return await env.get("Secret", "landlord-database", f"t-{name}")

    secret = await eventually(found, timeout=15)
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def connect(creds: dict[str, str], **override: str) -> psycopg.Connection[Any]:
    params = {k: creds[k] for k in ("host", "port", "username", "password", "database")} | override
    return psycopg.connect(
        host=params["host"],
        port=params["port"],
        user=params["username"],
        password=params["password"],
        dbname=params["database"],
        sslmode=creds["sslmode"],
        autocommit=True,
        connect_timeout=5,
    )


async def database_condition(env: Env, name: str) -> dict[str, Any]:
    obj = await env.get("Tenant", name)
    conds = {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}
    return conds.get("DatabaseReady") or {}


async def wait_database(env: Env, name: str, reason: str, timeout: float = 20) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        cond = await database_condition(env, name)
        return cond if cond.get("reason") == reason else None

    try:
        result: dict[str, Any] = await eventually(check, timeout=timeout, interval=0.1)
    except AssertionError:
        raise AssertionError(
            f"DatabaseReady of {name} is {await database_condition(env, name)}, not {reason}"
        ) from None
    return result


async def wait_over(env: Env, name: str, mib: int) -> None:
    """Until the metering pass has seen the tenant's database above `mib` MiB."""

    async def over() -> bool:
        size = ((await env.get("Tenant", name))["status"].get("database") or {}).get("size") or "0Mi"
        return int(size.removesuffix("Mi")) > mib

    await eventually(over, timeout=20)


async def test_dedicated_databases_deliver_credentials_and_isolate_tenants(db: Env) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("alpha"))
    await db.apply(tenant("beta-co"))
    await wait_database(db, "alpha", "Ready")
    await wait_database(db, "beta-co", "Ready")
    alpha, beta = await credentials(db, "alpha"), await credentials(db, "beta-co")
    assert alpha["database"] == "t_alpha" and alpha["username"] == "t_alpha"
    assert beta["database"] == "t_beta_co"
    assert alpha["uri"].startswith("postgresql://t_alpha:") and alpha["uri"].endswith("/t_alpha?sslmode=disable")
    obj = await db.get("Tenant", "alpha")
    record = {k: v for k, v in obj["status"]["database"].items() if k != "size"}  # size: from the meter
    assert record == {
        "mode": "Dedicated",
        "server": "main",
        "name": "t_alpha",
        "username": "t_alpha",
        "secretName": "landlord-database",
        "phase": "Ready",
    }
    with connect(alpha) as conn:
        conn.execute("CREATE TABLE notes (body text)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
    # Alpha's credentials open nothing of beta's.
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        connect(alpha, database="t_beta_co")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(beta, password=alpha["password"])
    # No password in status or events.
    events = await db.client.list("Event", "default")
    text = json.dumps(obj) + json.dumps(events)
    assert alpha["password"] not in text and beta["password"] not in text
    reasons = {e["reason"] for e in events if e["involvedObject"]["name"] == "alpha"}
    assert "DatabaseCreated" in reasons


async def test_shared_mode_gives_each_tenant_its_own_schema_and_nothing_else(db: Env) -> None:
    await db.apply(db_plan(mode="Shared"))
    await db.start_operator()
    await db.apply(tenant("gamma"))
    await db.apply(tenant("delta"))
    await wait_database(db, "gamma", "Ready")
    await wait_database(db, "delta", "Ready")
    gamma, delta = await credentials(db, "gamma"), await credentials(db, "delta")
    assert gamma["database"] == delta["database"] == "landlord_shared"
    with connect(gamma) as conn:
        conn.execute("CREATE TABLE secrets (body text)")  # lands in its own schema (search_path)
        conn.execute("INSERT INTO secrets VALUES ('gamma only')")
        assert conn.execute("SELECT current_schema()").fetchone() == ("t_gamma",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.leak (x int)")
    denied = pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for schema t_gamma")
    with connect(delta) as conn, denied:
        conn.execute("SELECT * FROM t_gamma.secrets")
    obj = await db.get("Tenant", "gamma")
    assert obj["status"]["database"]["schema"] == "t_gamma" and obj["status"]["database"]["mode"] == "Shared"


async def test_tenants_starting_together_share_one_database_without_an_error(db: Env) -> None:
    """Reconciled side by side, the first Shared tenants of a server all find the shared
    database missing: one creates it, the others wait for it (no 'already exists' reaches them)."""
    await db.apply(db_plan(mode="Shared"))
    names = [f"crowd{index}" for index in range(6)]
    for name in names:
        await db.apply(tenant(name))
    await db.start_operator()  # every tenant queued at once
    for name in names:
        await wait_database(db, name, "Ready")
    messages = [event.get("message", "") for event in await db.client.list("Event")]
    assert not [m for m in messages if "already exists" in m], messages
    for name in names:
        conditions = {c["type"]: c for c in (await db.get("Tenant", name))["status"]["conditions"]}
        assert conditions["DatabaseReady"]["status"] == "True"


async def test_connection_limit_from_the_plan_is_enforced(db: Env) -> None:
    await db.apply(db_plan(connectionLimit=2))
    await db.start_operator()
    await db.apply(tenant("limited"))
    await wait_database(db, "limited", "Ready")
    creds = await credentials(db, "limited")
    first, second = connect(creds), connect(creds)
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            connect(creds)
    finally:
        first.close()
        second.close()
    # The plan grows the limit: it follows.
    await db.apply(db_plan(connectionLimit=3))

    async def three() -> bool:
        conns = []
        try:
            for _ in range(3):
                conns.append(connect(creds))
            return True
        except psycopg.OperationalError:
            return False
        finally:
            for conn in conns:
                conn.close()

    await eventually(three, timeout=15)


async def test_block_policy_makes_the_database_read_only_and_back(db: Env) -> None:
    # The data goes in under Notify (Block would end the session half-way, as it should, once the
    # files pass the limit), then the plan switches to Block.
    await db.apply(db_plan(storage="12Mi", policy="Notify"))
    await db.start_operator()
    await db.apply(tenant("heavy"))
    await wait_database(db, "heavy", "Ready")
    creds = await credentials(db, "heavy")
    with connect(creds) as conn:  # about 25 MB that PostgreSQL may not compress away
        conn.execute("CREATE TABLE blob (body text)")
        conn.execute("ALTER TABLE blob ALTER COLUMN body SET STORAGE EXTERNAL")
        conn.execute("INSERT INTO blob SELECT repeat(md5(i::text), 200) FROM generate_series(1, 4000) i")
    await wait_over(db, "heavy", 12)
    assert (await database_condition(db, "heavy"))["reason"] == "Ready"  # Notify: reported, not enforced
    await db.apply(db_plan(storage="12Mi", policy="Block"))
    cond = await wait_database(db, "heavy", "StorageLimitReached")
    assert "read-only" in cond["message"] and "12Mi" in cond["message"]
    obj = await db.get("Tenant", "heavy")
    assert obj["status"]["database"]["phase"] == "ReadOnly" and obj["status"]["phase"] == "Active"
    with connect(creds) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO blob VALUES ('more')")
    with connect(creds) as conn:  # reading still works: nothing is deleted
        assert conn.execute("SELECT count(*) FROM blob").fetchone() == (4000,)
    await db.apply(db_plan(storage="1Gi", policy="Block"))  # the limit grows
    await wait_database(db, "heavy", "Ready")
    with connect(creds) as conn:
        conn.execute("INSERT INTO blob VALUES ('more')")


async def test_rotation_on_demand_keeps_the_database_and_its_sessions(db: Env) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("rot"))
    await wait_database(db, "rot", "Ready")
    old = await credentials(db, "rot")
    session = connect(old)
    session.execute("CREATE TABLE kept (x int)")
    await db.quiet(settle=1.5)  # the first metering pass has come and gone: only the annotation wakes it
    await db.client.patch(
        "Tenant", "rot", {"metadata": {"annotations": {"landlord.dev/rotate-database-password": "1"}}}
    )

    async def rotated() -> dict[str, str] | None:
        creds = await credentials(db, "rot")
        obj = await db.get("Tenant", "rot")
        done = obj["status"]["database"].get("rotation") == "1"
        return creds if creds["password"] != old["password"] and done else None

    new = await eventually(rotated, timeout=15)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(old)
    with connect(new) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
    assert session.execute("SELECT 1").fetchone() == (1,)  # the open session was not cut
    session.close()
    # Nothing more happens until the annotation changes again.
    await db.quiet()
    assert (await credentials(db, "rot"))["password"] == new["password"]


async def test_suspension_revokes_login_and_ends_sessions_activation_restores(db: Env) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("susp"))
    await wait_database(db, "susp", "Ready")
    creds = await credentials(db, "susp")
    session = connect(creds)
    await db.apply(tenant("susp", suspend=True))
    await wait_database(db, "susp", "LoginRevoked")
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        connect(creds)
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    await db.apply(tenant("susp", suspend=False))
    await wait_database(db, "susp", "Ready")
    with connect(creds) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


async def test_retain_keeps_the_database_delete_drops_it(db: Env, postgres: LocalPostgres) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("keep", deletionPolicy="Retain"))
    await db.apply(tenant("gone", deletionPolicy="Delete"))
    await wait_database(db, "keep", "Ready")
    await wait_database(db, "gone", "Ready")
    with connect(await credentials(db, "keep")) as conn:
        conn.execute("CREATE TABLE precious AS SELECT 42 AS answer")
    await db.client.delete("Tenant", "keep")
    await db.client.delete("Tenant", "gone")

    async def both_gone() -> bool:
        return await db.get("Tenant", "keep") is None and await db.get("Tenant", "gone") is None

    await eventually(both_gone, timeout=30)
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        databases = {r[0] for r in conn.execute(r"SELECT datname FROM pg_database WHERE datname LIKE 't\_%'")}
        rows = conn.execute(r"SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 't\_%'").fetchall()
        roles: dict[str, bool] = dict(rows)
    assert databases == {"t_keep"} and roles == {"t_keep": False}  # kept, login revoked; the other dropped
    with psycopg.connect(postgres.dsn("t_keep"), autocommit=True) as conn:
        assert conn.execute("SELECT answer FROM precious").fetchone() == (42,)
    events = await db.client.list("Event", "default")
    messages = {e["reason"]: e["message"] for e in events if e["involvedObject"]["name"] in ("keep", "gone")}
    assert "server main" in messages["DatabaseRetained"] and "t_keep" in messages["DatabaseRetained"]
    assert "dropped" in messages["DatabaseDeleted"]


async def test_shared_to_dedicated_migrates_the_data_and_the_reverse_is_refused(db: Env) -> None:
    await db.apply(db_plan(mode="Shared"))
    await db.start_operator()
    await db.apply(tenant("mover"))
    await wait_database(db, "mover", "Ready")
    with connect(await credentials(db, "mover")) as conn:
        conn.execute("CREATE TABLE orders (id int primary key, item text)")
        conn.execute("INSERT INTO orders SELECT i, 'item ' || i FROM generate_series(1, 500) i")
    await db.apply(db_plan(mode="Dedicated"))

    async def migrated() -> dict[str, str] | None:
        creds = await credentials(db, "mover")
        obj = await db.get("Tenant", "mover")
        record = obj["status"]["database"]
        return creds if creds["database"] == "t_mover" and record["mode"] == "Dedicated" else None

    creds = await eventually(migrated, timeout=30)
    await wait_database(db, "mover", "Ready")
    with connect(creds) as conn:
        assert conn.execute("SELECT count(*), max(item) FROM orders").fetchone() == (500, "item 99")
        conn.execute("INSERT INTO orders VALUES (501, 'after the move')")
    with connect(creds, database="landlord_shared") as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 't_mover'").fetchone() == (0,)
    events = {e["reason"] for e in await db.client.list("Event", "default") if e["involvedObject"]["name"] == "mover"}
    assert {"DatabaseMigrating", "DatabaseMigrated"} <= events
    # Back to Shared: refused, with a message that says what to do; the data stays where it is.
    await db.apply(db_plan(mode="Shared"))
    cond = await wait_database(db, "mover", "ModeChangeRefused")
    assert "Dedicated to Shared is not supported" in cond["message"]
    with connect(creds) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (501,)


async def test_killed_between_create_role_and_create_database_converges(db: Env, postgres: LocalPostgres) -> None:
    await db.apply(db_plan())
    await db.apply(tenant("crash"))
    # The state a kill right after CREATE ROLE leaves: the intent recorded, the role made (with a
    # password nobody knows any more), no database, no Secret.
    made = await db.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t-crash"}})
    await db.client.patch(
        "Tenant",
        "crash",
        {
            "status": {
                "namespaceUID": made["metadata"]["uid"],  # the namespace the operator made and recorded
                "database": {
                    "mode": "Dedicated",
                    "server": "main",
                    "name": "t_crash",
                    "username": "t_crash",
                    "secretName": "landlord-database",
                    "phase": "Creating",
                },
            }
        },
        subresource="status",
    )
    uid = (await db.get("Tenant", "crash"))["metadata"]["uid"]
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn, conn.transaction():  # as the operator does it
        conn.execute("CREATE ROLE t_crash LOGIN PASSWORD 'lost-in-the-crash'")
        conn.execute(f"COMMENT ON ROLE t_crash IS 'landlord tenant {uid}'")
    await db.start_operator()
    await wait_database(db, "crash", "Ready")
    with connect(await credentials(db, "crash")) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("t_crash",)
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        assert conn.execute(r"SELECT count(*) FROM pg_database WHERE datname LIKE 't\_crash%'").fetchone() == (1,)


async def test_restart_never_recreates_or_resets_a_database_or_password(db: Env) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("stable"))
    await wait_database(db, "stable", "Ready")
    creds = await credentials(db, "stable")
    with connect(creds) as conn:
        conn.execute("CREATE TABLE t AS SELECT 1 AS x")
    await db.stop_operator()
    await db.start_operator()
    await db.quiet(settle=1.0)
    writes = db.controller.client.counts["writes"]
    provider = next(c for c in db.controller.components if c.name == "database").provider
    before = provider.changes
    db.controller.queue.add(("Tenant", "stable"))
    await db.quiet()
    assert db.controller.client.counts["writes"] == writes  # a no-op reconcile: zero API writes
    assert provider.changes == before  # and no statement that changes anything on the server
    assert (await credentials(db, "stable"))["password"] == creds["password"]
    with connect(creds) as conn:
        assert conn.execute("SELECT x FROM t").fetchone() == (1,)


async def test_server_down_then_up_loses_nothing_and_recovers_by_itself(
    env: Env, clean_postgres: LocalPostgres
) -> None:
    spare = LocalPostgres(data_dir=Path("/tmp") / f"landlord-pg-down-{id(env)}")
    spare.start()
    try:
        await install_admin_secret(env, spare, name="pg-spare")
        password, port = spare.admin_password, spare.port
        server = {"name": "spare", "adminSecret": {"namespace": "landlord-system", "name": "pg-spare"}}
        env.config = conftest.test_config(driftInterval=HOUR, database=database_config(server))
        spare.stop()
        await env.apply(db_plan())
        await env.start_operator()
        await env.apply(tenant("patient"))
        cond = await wait_database(env, "patient", "ServerUnreachable")
        assert "unreachable" in cond["message"] and password not in cond["message"]
        obj = await env.get("Tenant", "patient")
        assert obj["status"]["phase"] != "Failed"  # not the user's to fix
        assert obj["status"]["database"]["server"] == "spare"  # the placement is kept
        spare.port = port
        spare.start()
        with psycopg.connect(spare.dsn(), autocommit=True) as conn:  # same credentials as before the outage
            conn.execute(f"ALTER ROLE landlord_admin PASSWORD '{password}'")
        spare.admin_password = password
        await wait_database(env, "patient", "Ready", timeout=40)
        with connect(await credentials(env, "patient")) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("t_patient",)
    finally:
        spare.stop()
        import shutil

        shutil.rmtree(spare.data_dir, ignore_errors=True)


async def test_placement_prefers_headroom_skips_draining_servers_and_honours_the_class(
    env: Env, clean_postgres: LocalPostgres
) -> None:
    await install_admin_secret(env, clean_postgres)
    secret = {"namespace": "landlord-system", "name": "pg-admin"}
    servers = (
        {"name": "old", "adminSecret": secret, "draining": True},
        {"name": "busy", "adminSecret": secret, "capacity": {"databases": 1}},
        {"name": "fast", "adminSecret": secret, "class": "ssd", "capacity": {"databases": 100}},
        {"name": "roomy", "adminSecret": secret, "capacity": {"databases": 100}},
    )
    env.config = conftest.test_config(driftInterval=HOUR, database=database_config(*servers))
    await env.apply(db_plan())
    await env.apply(db_plan("premium", serverClass="ssd"))
    await env.start_operator()
    await env.apply(tenant("first"))
    await wait_database(env, "first", "Ready")
    await env.apply(tenant("second"))
    await env.apply(tenant("pinned", plan_name="premium"))
    await wait_database(env, "second", "Ready")
    await wait_database(env, "pinned", "Ready")
    placed = {n: (await env.get("Tenant", n))["status"]["database"]["server"] for n in ("first", "second", "pinned")}
    assert placed["pinned"] == "fast"
    assert "old" not in placed.values()
    assert placed["pinned"] == "fast"  # only the class the plan pins
    # "busy" takes one database: whichever of the first two lands there, the other goes elsewhere.
    assert [placed["first"], placed["second"]].count("busy") <= 1


async def test_database_size_is_metered_into_status_and_metrics(db: Env) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("metered"))
    await wait_database(db, "metered", "Ready")

    async def sized() -> str | None:
        obj = await db.get("Tenant", "metered")
        return obj["status"]["database"].get("size")

    size = await eventually(sized, timeout=15)
    assert size.endswith("Mi") and int(size[:-2]) > 0
    component = next(c for c in db.controller.components if c.name == "database")
    assert component.usage()[("metered", "databaseStorage")] > 0
    from prometheus_client import generate_latest

    text = generate_latest(db.controller.metrics.registry).decode()
    assert 'landlord_tenant_usage{resource="databaseStorage",tenant="metered"}' in text
    await asyncio.sleep(0)


CNPG_CRD = Path(__file__).resolve().parents[1] / "fixtures" / "cnpg" / "postgresql.cnpg.io_clusters.yaml"


async def test_cluster_mode_declares_a_cloudnativepg_cluster_and_reads_its_readiness(db: Env) -> None:
    import yaml

    await db.apply(yaml.safe_load(CNPG_CRD.read_text()))  # the real CRD: its schema checks what we declare
    await db.apply(db_plan("ha", mode="Cluster", storage="20Gi", instances=3))
    await db.start_operator()
    await db.apply(tenant("bigco", plan_name="ha"))
    cond = await wait_database(db, "bigco", "ClusterNotReady")
    assert "0 of 3 instance(s) ready" in cond["message"]
    cluster = await db.get("Cluster", "landlord-db", "t-bigco")
    assert cluster is not None
    assert cluster["spec"]["instances"] == 3 and cluster["spec"]["storage"]["size"] == "20Gi"
    assert cluster["spec"]["bootstrap"]["initdb"] == {"database": "app", "owner": "app"}
    assert cluster["metadata"]["labels"]["landlord.dev/tenant"] == "bigco"
    # CloudNativePG brings the instances up and reports them (here: written as it would).
    await db.client.patch(
        "Cluster",
        "landlord-db",
        {"status": {"instances": 3, "readyInstances": 3, "phase": "Cluster in healthy state"}},
        "t-bigco",
        subresource="status",
    )
    await wait_database(db, "bigco", "Ready", timeout=30)
    obj = await db.get("Tenant", "bigco")
    assert obj["status"]["database"]["secretName"] == "landlord-db-app"
    assert obj["status"]["database"]["mode"] == "Cluster" and obj["status"]["database"]["phase"] == "Ready"
    # Suspension hibernates the cluster declaratively; activation wakes it.
    await db.apply(tenant("bigco", plan_name="ha", suspend=True))
    await wait_database(db, "bigco", "Hibernated")
    cluster = await db.get("Cluster", "landlord-db", "t-bigco")
    assert cluster["metadata"]["annotations"]["cnpg.io/hibernation"] == "on"
    await db.apply(tenant("bigco", plan_name="ha", suspend=False))
    await wait_database(db, "bigco", "Ready")
    # Out of the cluster into a server database: refused, the cluster is kept.
    await db.apply(db_plan("ha", mode="Dedicated", storage="20Gi"))
    cond = await wait_database(db, "bigco", "ModeChangeRefused")
    assert "moving out of a cluster is not supported" in cond["message"]
    assert await db.get("Cluster", "landlord-db", "t-bigco") is not None


async def test_cluster_mode_without_cloudnativepg_says_what_to_install(db: Env) -> None:
    await db.apply(db_plan("ha", mode="Cluster"))
    await db.start_operator()
    await db.apply(tenant("nocnpg", plan_name="ha"))
    cond = await wait_database(db, "nocnpg", "ClusterAPIMissing")
    assert "install CloudNativePG" in cond["message"]
    obj = await db.get("Tenant", "nocnpg")
    assert obj["status"]["phase"] != "Failed"  # installing it later is enough: the operator retries


async def test_a_hostile_schema_runs_nothing_as_the_administrator_during_a_migration(
    db: Env, postgres: LocalPostgres
) -> None:
    await db.apply(db_plan(mode="Shared"))
    await db.start_operator()
    await db.apply(tenant("sly"))
    await wait_database(db, "sly", "Ready")
    with connect(await credentials(db, "sly")) as conn:
        # A CHECK constraint calling the tenant's function runs for every row the restore loads.
        conn.execute(
            "CREATE FUNCTION probe(x int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN "
            "CREATE TABLE IF NOT EXISTS t_sly.who (name text); INSERT INTO t_sly.who VALUES (current_user); "
            "RETURN true; END $$"
        )
        conn.execute("CREATE TABLE t (x int CHECK (probe(x)))")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("DELETE FROM who")
    await db.apply(db_plan(mode="Dedicated"))

    async def moved() -> bool:
        return (await credentials(db, "sly"))["database"] == "t_sly"

    await eventually(moved, timeout=30)
    await wait_database(db, "sly", "Ready")
    with psycopg.connect(postgres.dsn("t_sly"), autocommit=True) as conn:
        ran_as = {r[0] for r in conn.execute("SELECT name FROM t_sly.who").fetchall()}
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 't_sly'")}
    assert ran_as <= {"t_sly"}, ran_as  # never the administrator
    assert owners == {"t_sly"}


async def test_a_retained_database_is_never_handed_to_a_new_tenant_of_the_same_name(db: Env) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("reused", deletionPolicy="Retain"))
    await wait_database(db, "reused", "Ready")
    with connect(await credentials(db, "reused")) as conn:
        conn.execute("CREATE TABLE private AS SELECT 'first customer' AS data")
    await db.client.delete("Tenant", "reused")

    async def tenant_gone() -> bool:
        return await db.get("Tenant", "reused") is None

    await eventually(tenant_gone, timeout=30)
    # Retain keeps the namespace too, orphaned (a new Tenant does not get it: NamespaceConflict);
    # the administrator starts afresh, and the database must not come back with it either.
    orphan = await db.get("Namespace", "t-reused")
    assert orphan is not None and orphan["metadata"]["labels"]["landlord.dev/former-tenant"] == "reused"
    await db.client.delete("Namespace", "t-reused")

    async def namespace_gone() -> bool:
        return await db.get("Namespace", "t-reused") is None

    await eventually(namespace_gone, timeout=30)
    await db.apply(tenant("reused"))  # another customer picks the same name
    cond = await wait_database(db, "reused", "NameTaken")
    assert "did not make for this tenant" in cond["message"]
    secret = await db.get("Secret", "landlord-database", "t-reused")
    if secret is not None:  # whatever the new tenant holds, it does not open the old data
        creds = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        with pytest.raises(psycopg.OperationalError):
            connect(creds)


async def test_tenants_cannot_reach_template1_or_postgres(db: Env) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("nosy"))
    await wait_database(db, "nosy", "Ready")
    creds = await credentials(db, "nosy")
    for other in ("template1", "postgres"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            connect(creds, database=other)


async def test_credentials_survive_an_admin_secret_problem(db: Env) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("safe"))
    await wait_database(db, "safe", "Ready")
    creds = await credentials(db, "safe")
    await db.client.delete("Secret", "pg-admin", "landlord-system")
    component = next(c for c in db.controller.components if c.name == "database")
    component._access.clear()  # as after the cache's time ran out
    await db.apply(tenant("safe", branding={"productName": "Safe"}))  # any change: a reconcile
    cond = await wait_database(db, "safe", "AdminSecretMissing")
    assert "landlord-system/pg-admin" in cond["message"]
    await db.quiet()
    assert (await credentials(db, "safe")) == creds  # the tenant's Secret is still there, unchanged
    with connect(creds) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


async def test_a_tenants_own_read_write_override_is_cleared_when_blocked(db: Env) -> None:
    await db.apply(db_plan(storage="12Mi", policy="Notify"))
    await db.start_operator()
    await db.apply(tenant("sneaky"))
    await wait_database(db, "sneaky", "Ready")
    creds = await credentials(db, "sneaky")
    with connect(creds) as conn:
        conn.execute("CREATE TABLE blob (body text)")
        conn.execute("ALTER TABLE blob ALTER COLUMN body SET STORAGE EXTERNAL")
        conn.execute("ALTER ROLE t_sneaky SET default_transaction_read_only = off")  # planned ahead
        conn.execute("INSERT INTO blob SELECT repeat(md5(i::text), 200) FROM generate_series(1, 4000) i")
    await wait_over(db, "sneaky", 12)
    await db.apply(db_plan(storage="12Mi", policy="Block"))
    await wait_database(db, "sneaky", "StorageLimitReached")
    with connect(creds) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO blob VALUES ('more')")


async def test_a_password_edited_in_the_secret_becomes_the_roles(db: Env) -> None:
    await db.apply(db_plan())
    await db.start_operator()
    await db.apply(tenant("editor"))
    await wait_database(db, "editor", "Ready")
    secret = await db.get("Secret", "landlord-database", "t-editor")
    chosen = "my-own-long-password-42"
    data = dict(secret["data"]) | {"password": base64.b64encode(chosen.encode()).decode()}
    await db.client.patch("Secret", "landlord-database", {"data": data}, "t-editor")

    async def follows() -> bool:
        creds = await credentials(db, "editor")
        try:
            with connect(creds):
                return creds["password"] == chosen
        except psycopg.OperationalError:
            return False

    await eventually(follows, timeout=15)
