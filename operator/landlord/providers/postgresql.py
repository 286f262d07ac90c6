"""PostgreSQL, the one implementation of the database provider (psycopg 3, asynchronous).

Every identifier is quoted (`psycopg.sql.Identifier`); passwords never travel in clear text:
the role's password is sent as a SCRAM-SHA-256 verifier computed here (a server that logs DDL
logs the verifier, never the password). Each step checks what exists first, so running it again
changes nothing; nothing that exists is ever dropped or recreated outside `drop`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from glob import glob
from typing import TYPE_CHECKING, Any

from ..imports import OnFirstUse
from ..redaction import redact
from .base import ProviderError, ProviderSpec
from .database import DatabaseRequest, DatabaseState, ServerAccess
from .registry import register

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql
else:  # imported when a database is first served: 10 MiB of memory where none is configured
    psycopg = OnFirstUse("psycopg")
    sql = OnFirstUse("psycopg.sql")

_POOL_SIZE = 4  # idle admin connections kept per server and database
_CONNECT_TIMEOUT = 5


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802, RFC 7677)."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def scram_matches(password: str, verifier: str | None) -> bool:
    """Whether a stored SCRAM-SHA-256 verifier is the one of this password (False for any other form)."""
    try:
        method, rest = (verifier or "").split("$", 1)
        head, keys = rest.split("$")
        iterations, salt = head.split(":")
        stored = base64.b64decode(keys.split(":")[0])
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return method == "SCRAM-SHA-256" and hmac.compare_digest(hashlib.sha256(client_key).digest(), stored)


# Functions that create large objects: outside any schema's quota and any dump of a schema.
_LARGE_OBJECT_CREATORS = (
    "lo_create(oid)",
    "lo_creat(integer)",
    "lo_from_bytea(oid, bytea)",
    "lo_import(text)",
    "lo_import(text, oid)",
)


def _classify(exc: BaseException) -> ProviderError:
    """A psycopg error as a ProviderError: retryable unless a person must act."""
    text = redact(exc)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return ProviderError(f"permission denied on the database server: {text}", False, "PermissionDenied")
    if isinstance(exc, psycopg.errors.InvalidPassword | psycopg.errors.InvalidAuthorizationSpecification):
        return ProviderError(
            f"the server refused the admin credentials: {text}; check the server's adminSecret",
            False,
            "AuthenticationFailed",
        )
    if isinstance(exc, psycopg.errors.ObjectInUse):
        return ProviderError(f"the database server says an object is in use: {text}", True, "ObjectInUse")
    if isinstance(exc, psycopg.errors.TooManyConnections):
        return ProviderError(f"the server has no connection left: {text}", True, "ServerBusy")
    if isinstance(exc, psycopg.OperationalError | OSError | TimeoutError):
        return ProviderError(f"the database server is unreachable: {text}", True, "ServerUnreachable")
    return ProviderError(f"the database server answered an error: {text}", True, "ServerError")


class PostgresProvider:
    """Tenants' roles, databases and schemas on PostgreSQL servers."""

    name = "postgresql"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})
        psycopg.AsyncConnection  # noqa: B018 (imported now, at start, not in the middle of a reconcile)
        self._idle: dict[tuple[str, str, int, str, str], list[psycopg.AsyncConnection[Any]]] = {}
        self.queries = 0  # statements sent, for benchmarks and tests
        self.changes = 0  # of which statements that change something (not a SELECT)
        self._hardened: set[tuple[str, str]] = set()  # (server, database) checked this run
        self._shared_locks: dict[tuple[str, str], asyncio.Lock] = {}  # (server, shared database)

    # -- connections --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _connect(self, server: ServerAccess, dbname: str = "postgres") -> AsyncIterator[Any]:
        key = (server.name, server.host, server.port, server.username, dbname)
        pool = self._idle.setdefault(key, [])
        conn = pool.pop() if pool else None
        try:
            if conn is None or conn.closed:
                conn = await psycopg.AsyncConnection.connect(
                    host=server.host,
                    port=server.port,
                    user=server.username,
                    password=server.password,
                    dbname=dbname,
                    sslmode=server.sslmode,
                    autocommit=True,
                    connect_timeout=_CONNECT_TIMEOUT,
                    application_name="landlord",
                )
            yield conn
        except psycopg.Error as exc:
            if conn is not None:
                await conn.close()
                conn = None
            raise _classify(exc) from None
        except OSError as exc:
            raise _classify(exc) from None
        finally:
            if conn is not None and not conn.closed:
                if len(pool) < _POOL_SIZE and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                    pool.append(conn)
                else:
                    await conn.close()

    async def _execute(self, conn: Any, statement: Any, params: Any = None) -> Any:
        self.queries += 1
        text = statement if isinstance(statement, str) else statement.as_string(None)
        if not text.lstrip().upper().startswith("SELECT"):
            self.changes += 1
        return await conn.execute(statement, params)

    async def close(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                await conn.close()
        self._idle.clear()

    # -- what exists ----------------------------------------------------------------------------
    async def observe(self, server: ServerAccess, request: DatabaseRequest) -> DatabaseState:
        await self.harden(server, request)
        async with self._connect(server) as conn:
            cur = await self._execute(
                conn,
                """
                SELECT r.oid IS NOT NULL, d.oid IS NOT NULL, d.datdba = r.oid, coalesce(r.rolcanlogin, false),
                       r.rolconnlimit, d.datconnlimit,
                       EXISTS (SELECT 1 FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0
                               AND %(on)s = ANY (s.setconfig)),
                       EXISTS (SELECT 1 FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0
                               AND %(on)s = ANY (s.setconfig)),
                       EXISTS (SELECT 1 FROM pg_db_role_setting s WHERE s.setrole = r.oid
                               AND %(off)s = ANY (s.setconfig)),
                       CASE WHEN d.oid IS NULL THEN false ELSE has_database_privilege('public', d.oid, 'CONNECT') END,
                       (SELECT count(*) FROM pg_stat_activity a WHERE a.usename = %(role)s),
                       shobj_description(r.oid, 'pg_authid'),
                       (SELECT a.rolpassword FROM pg_authid a WHERE a.oid = r.oid)
                FROM (SELECT 1) AS one
                LEFT JOIN pg_roles r ON r.rolname = %(role)s
                LEFT JOIN pg_database d ON d.datname = %(db)s
                """,
                {
                    "role": request.role,
                    "db": request.database,
                    "on": "default_transaction_read_only=on",
                    "off": "default_transaction_read_only=off",
                },
            )
            row = await cur.fetchone()
        assert row is not None
        (
            role,
            database,
            owner,
            login,
            role_limit,
            db_limit,
            ro_db,
            ro_role,
            override,
            public,
            sessions,
            mark,
            verifier,
        ) = row
        schema = False
        if request.mode == "Shared":
            owner = bool(role)  # the shared database belongs to the administrator
            if database:
                async with self._connect(server, request.database) as conn:
                    cur = await self._execute(
                        conn,
                        "SELECT n.nspowner = r.oid FROM pg_namespace n JOIN pg_roles r ON r.rolname = %s "
                        "WHERE n.nspname = %s",
                        (request.role, request.schema),
                    )
                    found = await cur.fetchone()
                schema = bool(found and found[0])
        # A tenant can set its own role's default back to read-write: that counts as not read-only.
        read_only = bool(ro_db if request.mode == "Dedicated" else ro_role) and not override
        return DatabaseState(
            role=bool(role),
            database=bool(database) and (request.mode == "Shared" or not public),
            schema=schema,
            owner_ok=bool(owner),
            login=bool(login),
            role_connection_limit=role_limit,
            database_connection_limit=db_limit if request.mode == "Dedicated" else None,
            read_only=read_only,
            sessions=int(sessions or 0),
            role_mark=mark,
            verifier=verifier,
        )

    async def harden(self, server: ServerAccess, request: DatabaseRequest) -> None:
        """Once per server and run: PUBLIC may not connect to `template1` and `postgres` (a tenant
        holding template1 would block every CREATE DATABASE, and what it put there would be copied
        into the next tenant's); in the shared database, nothing in `public` and no large objects
        (unmetered, and not carried by a migration). Looks first: changes only what is not so."""
        key = (server.name, request.database if request.mode == "Shared" else "")
        if key in self._hardened:
            return
        async with self._connect(server) as conn:
            for name in ("template1", "postgres"):
                cur = await self._execute(conn, "SELECT has_database_privilege('public', %s, 'CONNECT')", (name,))
                row = await cur.fetchone()
                if row and row[0]:
                    await self._execute(
                        conn,
                        sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)),
                    )
            shared = None
            if request.mode == "Shared":
                cur = await self._execute(
                    conn,
                    "SELECT has_database_privilege('public', %s, 'CONNECT') FROM pg_database WHERE datname = %s",
                    (request.database, request.database),
                )
                shared = await cur.fetchone()
                if shared and shared[0]:
                    await self._execute(
                        conn, sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(request.database))
                    )
        if shared is not None:
            async with self._connect(server, request.database) as conn:
                cur = await self._execute(
                    conn,
                    "SELECT has_schema_privilege('public', 'public', 'USAGE') OR "
                    "has_schema_privilege('public', 'public', 'CREATE'), "
                    "has_function_privilege('public', 'lo_from_bytea(oid, bytea)', 'EXECUTE')",
                )
                row = await cur.fetchone()
                if row and row[0]:
                    await self._execute(conn, "REVOKE ALL ON SCHEMA public FROM PUBLIC")
                if row and row[1]:
                    for function in _LARGE_OBJECT_CREATORS:
                        await self._execute(conn, f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC")
        if request.mode == "Dedicated" or shared is not None:
            self._hardened.add(key)

    # -- making it so ---------------------------------------------------------------------------
    async def ensure(
        self, server: ServerAccess, request: DatabaseRequest, password: str, set_password: bool
    ) -> list[str]:
        state = await self.observe(server, request)
        if state.foreign(request):
            raise ProviderError(
                f"a role {request.role} exists on server {server.name} that Landlord did not make for this tenant "
                f"(a retained database of an earlier tenant of the same name?); drop or rename it there, or "
                f"choose another tenant name",
                False,
                "NameTaken",
            )
        if state.role and not set_password and not scram_matches(password, state.verifier):
            set_password = True  # the Secret is the source of truth: the role follows it
        if state.matches(request) and not set_password:
            return []
        steps: list[str] = []
        role = sql.Identifier(request.role)
        limit = sql.Literal(request.connection_limit)
        login = sql.SQL("LOGIN" if request.login else "NOLOGIN")
        async with self._connect(server) as conn:
            if not state.role:
                async with conn.transaction():  # the role and its mark together: never an unmarked role of ours
                    await self._execute(
                        conn,
                        sql.SQL(
                            "CREATE ROLE {} {} PASSWORD {} CONNECTION LIMIT {} NOSUPERUSER NOCREATEDB NOCREATEROLE "
                            "NOREPLICATION NOBYPASSRLS"
                        ).format(role, login, sql.Literal(scram_verifier(password)), limit),
                    )
                    await self._execute(
                        conn,
                        sql.SQL("COMMENT ON ROLE {} IS {}").format(
                            role, sql.Literal(f"landlord tenant {request.mark}")
                        ),
                    )
                steps.append(f"created role {request.role}")
            else:
                if set_password:
                    await self._execute(
                        conn,
                        sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(scram_verifier(password))),
                    )
                    steps.append(f"set the password of role {request.role}")
                if state.login != request.login or state.role_connection_limit != request.connection_limit:
                    await self._execute(
                        conn, sql.SQL("ALTER ROLE {} {} CONNECTION LIMIT {}").format(role, login, limit)
                    )
                    steps.append(
                        f"role {request.role}: {'LOGIN' if request.login else 'NOLOGIN'}, "
                        f"connection limit {request.connection_limit}"
                    )
            if request.mode == "Dedicated":
                steps += await self._ensure_dedicated(conn, request, state)
            else:
                steps += await self._ensure_shared(server, conn, request, state)
            if not request.login and state.sessions:
                await self._terminate(conn, request.role)
                steps.append(f"ended the sessions of {request.role}")
        return steps

    async def _ensure_dedicated(self, conn: Any, request: DatabaseRequest, state: DatabaseState) -> list[str]:
        steps = []
        role, database = sql.Identifier(request.role), sql.Identifier(request.database)
        limit = sql.Literal(request.connection_limit)
        found = await self._owned(conn, "database", request.database, request.role)
        if found is False:
            raise _taken(f"a database {request.database}")
        if found is None:
            # template0: nothing anybody put into template1 reaches the tenant.
            await self._execute(
                conn,
                sql.SQL("CREATE DATABASE {} OWNER {} CONNECTION LIMIT {} TEMPLATE template0").format(
                    database, role, limit
                ),
            )
            steps.append(f"created database {request.database}")
        if not state.database:  # new, or PUBLIC may still connect (an interrupted creation)
            await self._execute(conn, sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
            steps.append(f"revoked PUBLIC's rights on {request.database}")
        if found is not None and state.database_connection_limit != request.connection_limit:
            await self._execute(conn, sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {}").format(database, limit))
            steps.append(f"database {request.database}: connection limit {request.connection_limit}")
        if state.read_only != request.read_only:
            target = sql.SQL("ALTER DATABASE {}").format(database)
            steps.append(await self._set_read_only(conn, request, target, f"database {request.database}"))
        return steps

    async def _owned(self, conn: Any, kind: str, name: str, role: str) -> bool | None:
        """Whether `role` owns the database or schema `name`: None when there is none of that name."""
        query = {
            "database": "SELECT pg_get_userbyid(datdba) = %s FROM pg_database WHERE datname = %s",
            "schema": "SELECT pg_get_userbyid(nspowner) = %s FROM pg_namespace WHERE nspname = %s",
        }[kind]
        cur = await self._execute(conn, query, (role, name))
        row = await cur.fetchone()
        return None if row is None else bool(row[0])

    async def _set_read_only(self, conn: Any, request: DatabaseRequest, target: sql.Composed, label: str) -> str:
        """Read-only (or back) as the default of `target` (the database, or in Shared mode the role);
        the tenant's sessions are ended so that they reconnect under the new default."""
        if request.read_only:
            await self._reset_overrides(conn, request)
            statement = sql.SQL("{} SET default_transaction_read_only = on").format(target)
        else:
            statement = sql.SQL("{} RESET default_transaction_read_only").format(target)
        await self._execute(conn, statement)
        await self._terminate(conn, request.role)
        return f"{label}: {'read-only' if request.read_only else 'read-write'}"

    async def _reset_overrides(self, conn: Any, request: DatabaseRequest) -> None:
        """A tenant's own `ALTER ROLE ... SET default_transaction_read_only = off` goes."""
        role, database = sql.Identifier(request.role), sql.Identifier(request.database)
        await self._execute(conn, sql.SQL("ALTER ROLE {} RESET default_transaction_read_only").format(role))
        await self._execute(
            conn, sql.SQL("ALTER ROLE {} IN DATABASE {} RESET default_transaction_read_only").format(role, database)
        )

    async def _ensure_shared(
        self, server: ServerAccess, conn: Any, request: DatabaseRequest, state: DatabaseState
    ) -> list[str]:
        steps = []
        role, database = sql.Identifier(request.role), sql.Identifier(request.database)
        schema = sql.Identifier(request.schema or request.role)
        # Tenants on one server reconcile side by side: one creates the shared database, the
        # others wait for it here (and a database another process made meanwhile is not an error).
        async with self._shared_locks.setdefault((server.name, request.database), asyncio.Lock()):
            cur = await self._execute(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (request.database,))
            if await cur.fetchone() is None:
                try:
                    await self._execute(conn, sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(database))
                    steps.append(f"created the shared database {request.database}")
                except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                    pass  # created by another operator process between the look and the create
                self._hardened.discard((server.name, request.database))
                await self.harden(server, request)
        if not state.schema:
            await self._execute(conn, sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role))
            await self._execute(conn, sql.SQL("ALTER ROLE {} SET search_path = {}").format(role, schema))
            async with self._connect(server, request.database) as shared:
                if await self._owned(shared, "schema", request.schema or request.role, request.role) is False:
                    raise _taken(f"a schema {request.schema} in {request.database}")
                create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(schema, role)
                await self._execute(shared, create)
            steps.append(f"created schema {request.schema} in {request.database}")
        if state.read_only != request.read_only:
            target = sql.SQL("ALTER ROLE {}").format(role)
            steps.append(await self._set_read_only(conn, request, target, f"role {request.role}"))
        return steps

    async def _terminate(self, conn: Any, role: str) -> int:
        cur = await self._execute(
            conn,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE usename = %s AND pid <> pg_backend_pid()",
            (role,),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def terminate(self, server: ServerAccess, request: DatabaseRequest) -> int:
        async with self._connect(server) as conn:
            return await self._terminate(conn, request.role)

    # -- metering -------------------------------------------------------------------------------
    async def sizes(self, server: ServerAccess, shared_database: str) -> dict[str, int]:
        found: dict[str, int] = {}
        async with self._connect(server) as conn:
            cur = await self._execute(
                conn,
                r"SELECT datname, pg_database_size(oid) FROM pg_database WHERE datname LIKE 't\_%%' "
                "AND datallowconn",
            )
            for name, size in await cur.fetchall():
                found[str(name)] = int(size)
            cur = await self._execute(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (shared_database,))
            shared = await cur.fetchone() is not None
        if shared:
            async with self._connect(server, shared_database) as conn:
                cur = await self._execute(
                    conn,
                    r"""
                    SELECT n.nspname, coalesce(sum(pg_total_relation_size(c.oid)), 0)
                    FROM pg_namespace n
                    LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'm')
                    WHERE n.nspname LIKE 't\_%%'
                    GROUP BY n.nspname
                    """,
                )
                for name, size in await cur.fetchall():
                    found[str(name)] = found.get(str(name), 0) + int(size)
        return found

    # -- removal and migration ------------------------------------------------------------------
    async def disable(self, server: ServerAccess, request: DatabaseRequest) -> bool:
        state = await self.observe(server, request)
        if not state.role or state.foreign(request):
            return False  # nothing of ours to disable
        async with self._connect(server) as conn:
            if state.login:
                await self._execute(conn, sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(request.role)))
            await self._terminate(conn, request.role)
        return True

    async def reset_database(self, server: ServerAccess, request: DatabaseRequest) -> bool:
        async with self._connect(server) as conn:
            if not await self._owned(conn, "database", request.database, request.role):
                return False  # absent, or not the tenant's: never dropped here
            await self._execute(conn, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(request.database)))
        return True

    async def drop(self, server: ServerAccess, request: DatabaseRequest) -> list[str]:
        state = await self.observe(server, request)
        if state.foreign(request):
            raise ProviderError(
                f"role {request.role} on server {server.name} was not made for this tenant; it is not dropped",
                False,
                "NameTaken",
            )
        steps = []
        role = sql.Identifier(request.role)
        async with self._connect(server) as conn:
            if await self._terminate(conn, request.role):
                steps.append(f"ended the sessions of {request.role}")
            if request.mode == "Dedicated" and await self.reset_database(server, request):
                steps.append(f"dropped database {request.database}")
            if request.mode == "Shared" and await self.drop_schema(server, request):
                steps.append(f"dropped schema {request.schema} in {request.database}")
            if state.role:
                # What the role still owns or was granted, in every database that records it.
                cur = await self._execute(
                    conn,
                    "SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
                    "WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = "
                    "(SELECT oid FROM pg_roles WHERE rolname = %s) AND d.datallowconn",
                    (request.role,),
                )
                for (dbname,) in await cur.fetchall():
                    async with self._connect(server, str(dbname)) as other:
                        await self._execute(other, sql.SQL("DROP OWNED BY {}").format(role))
                await self._execute(conn, sql.SQL("DROP OWNED BY {}").format(role))
                await self._execute(conn, sql.SQL("DROP ROLE {}").format(role))
                steps.append(f"dropped role {request.role}")
        return steps

    async def drop_schema(self, server: ServerAccess, request: DatabaseRequest) -> bool:
        async with self._connect(server) as conn:
            cur = await self._execute(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (request.database,))
            if await cur.fetchone() is None:
                return False
        async with self._connect(server, request.database) as shared:
            if not await self._owned(shared, "schema", request.schema or request.role, request.role):
                return False  # absent, or not the tenant's
            await self._execute(
                shared, sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(request.schema or request.role))
            )
        return True

    async def copy_schema(self, server: ServerAccess, source: DatabaseRequest, target: DatabaseRequest) -> None:
        """pg_dump of the schema piped into pg_restore (custom format).

        Both run as the tenant's role (`--role`, after the administrator logs in), and the restore
        keeps no owner and no grants: whatever the tenant's schema runs while its data loads
        (CHECK constraints, defaults calling its functions) runs with the tenant's rights, never
        the administrator's. The password goes in the environment, never as an argument.
        """
        dump, restore = _binary("pg_dump"), _binary("pg_restore")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGPASSWORD": server.password,
            "PGSSLMODE": server.sslmode,
            "PGCONNECT_TIMEOUT": "10",
        }
        common = ["-h", server.host, "-p", str(server.port), "-U", server.username, f"--role={source.role}"]
        reader, writer = os.pipe()
        try:
            dumper = await asyncio.create_subprocess_exec(
                dump, *common, "-d", source.database, "-n", source.schema or source.role, "-Fc",
                stdout=writer, stderr=asyncio.subprocess.PIPE, env=env,
            )  # fmt: skip
            os.close(writer)
            writer = -1
            restorer = await asyncio.create_subprocess_exec(
                restore, *common, "-d", target.database, "--no-owner", "--no-privileges", "--exit-on-error",
                stdin=reader, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
            )  # fmt: skip
            os.close(reader)
            reader = -1
            (_, dump_err), (_, restore_err) = await asyncio.gather(dumper.communicate(), restorer.communicate())
        finally:
            for fd in (reader, writer):
                if fd >= 0:
                    os.close(fd)
        if dumper.returncode or restorer.returncode:
            detail = (dump_err or b"").decode(errors="replace") + (restore_err or b"").decode(errors="replace")
            raise ProviderError(
                f"copying schema {source.schema} into its own database failed: {redact(detail.strip()[:500])}; "
                f"the data is still in the shared database and the tenant's login is off until the copy "
                f"succeeds: fix the cause, or set the plan's database.mode back to Shared",
                False,
                "CopyFailed",
            )


def _taken(what: str) -> ProviderError:
    """What exists under a tenant's name but is not the tenant's: never taken over."""
    return ProviderError(
        f"{what} exists that belongs to another role; Landlord never takes one over: drop or rename it on "
        f"the server, or choose another tenant name",
        False,
        "NameTaken",
    )


def _binary(name: str) -> str:
    """A PostgreSQL client program: PATH first, then the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise ProviderError(f"{name} is not installed (apt-get install postgresql-client)", False, "MissingTool")
    return candidates[-1]


_SERVER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "adminSecret"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "adminSecret": {
            "type": "object",
            "additionalProperties": False,
            "required": ["namespace", "name"],
            "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}},
        },
        "capacity": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "databases": {"type": "integer", "minimum": 0},
                "bytes": {"type": ["string", "integer"]},
            },
        },
        "draining": {"type": "boolean"},
        "class": {"type": "string", "maxLength": 63},
    },
}

SPEC = register(
    ProviderSpec(
        "database",
        "postgresql",
        PostgresProvider,
        schema={
            "type": "object",
            "properties": {
                "defaultMode": {"enum": ["Dedicated", "Shared", "Cluster"]},
                "sharedDatabase": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$", "maxLength": 63},
                "servers": {"type": "array", "items": _SERVER},
                "meterInterval": {"type": "number", "exclusiveMinimum": 0},
                "adminSecretRefresh": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        description="PostgreSQL servers: a role and a database (or schema) per tenant",
    )
)
