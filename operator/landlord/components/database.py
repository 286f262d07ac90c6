"""The database capability: a PostgreSQL database (or schema) for every tenant.

What it keeps true, through the database provider:
- Placement: a new tenant goes to the configured server with the most headroom that its plan
  allows (`serverClass`), never a draining one; the choice is recorded in `status.database`
  before anything is created there and never changes silently.
- Credentials: a random password, kept in the Secret `landlord-database` in the tenant
  namespace (host, port, database, username, password, uri, sslmode) before the role gets it;
  rotated on demand with the annotation `landlord.dev/rotate-database-password`.
- Limits: connection limits from the plan; with the `Block` overuse policy, a database over
  `databaseStorage` is made read-only until usage is back under the limit or the limit grows.
- Suspension revokes LOGIN and ends the sessions; activation restores LOGIN.
- Plan changes from Shared to Dedicated migrate the data (the tenant's login is off meanwhile);
  the reverse is refused with a condition message.
- Deletion: `Retain` keeps database and role (login revoked), `Delete` drops them.
Sizes are measured for all tenants of a server in one query per pass (`background`).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from ..api.composition import format_limit
from ..api.conditions import ConditionType
from ..diffing import up_to_date
from ..kinds import key_of
from ..kube import KubeError
from ..pipeline import Desired
from ..pipeline.rules import mapping
from ..providers import DatabaseProvider, DatabaseRequest, ProviderError, ServerAccess
from ..quantity import parse_quantity
from ..redaction import redact, register_secret
from ..render.view import MANAGED_BY, PLAN_LABEL, TENANT_LABEL
from .base import Component, Context, Observation
from .namespace import TENANT_UID_ANNOTATION

logger = logging.getLogger(__name__)

SECRET_NAME = "landlord-database"
CLUSTER_NAME = "landlord-db"  # Cluster mode: CloudNativePG writes its credentials to `landlord-db-app`
ROTATE_ANNOTATION = "landlord.dev/rotate-database-password"
RETRY_UNREACHABLE = 10.0  # seconds between attempts while a server is down
ADMIN_KEYS = ("host", "port", "username", "password")


def role_name(tenant: str) -> str:
    """The tenant's role, database and schema name: `t_` + the name with '-' as '_'.

    Stable and unique: tenant names are DNS labels, which never contain '_'.
    """
    return "t_" + tenant.replace("-", "_")


def tenant_of(role: str) -> str | None:
    """The tenant a role name belongs to (the inverse of `role_name`)."""
    return role[2:].replace("_", "-") if role.startswith("t_") else None


def _uid(tenant: dict[str, Any]) -> str:
    """The Tenant's uid: the mark on its role, so that a later tenant of the same name never takes it over."""
    return str(mapping(tenant.get("metadata")).get("uid") or "")


def _written_for(secret: dict[str, Any] | None, tenant: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether the credentials Secret was written for this Tenant (its uid annotation), so that its
    password may be kept. One without the annotation counts only for a tenant whose database was
    made before (an older Landlord wrote no annotation); never for one being created, which may
    find the Secret of an earlier tenant in an adopted namespace."""
    annotations = mapping(mapping((secret or {}).get("metadata")).get("annotations"))
    uid = annotations.get(TENANT_UID_ANNOTATION)
    if uid is not None:
        return bool(uid) and uid == _uid(tenant)
    return bool(record) and record.get("phase") not in (None, "Creating")


def human_bytes(size: int | None) -> str | None:
    """A size in whole MiB, rounded up, as a Kubernetes quantity (status changes only per MiB)."""
    if size is None:
        return None
    return f"{-(-size // 2**20)}Mi"


@dataclass(frozen=True)
class ServerConfig:
    """One server of `database.servers` in the operator configuration."""

    name: str
    admin_namespace: str
    admin_name: str
    capacity_databases: int | None
    capacity_bytes: int | None
    draining: bool
    server_class: str | None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ServerConfig:
        capacity = raw.get("capacity") or {}
        size = capacity.get("bytes")
        return cls(
            name=str(raw["name"]),
            admin_namespace=str(raw["adminSecret"]["namespace"]),
            admin_name=str(raw["adminSecret"]["name"]),
            capacity_databases=capacity.get("databases"),
            capacity_bytes=int(parse_quantity(size)) if size is not None else None,
            draining=bool(raw.get("draining", False)),
            server_class=raw.get("class"),
        )


class DatabaseComponent(Component):
    """One PostgreSQL database (Dedicated) or schema (Shared) per tenant, through the provider."""

    name = "database"
    condition = ConditionType.DATABASE_READY
    kinds = ("Secret",)
    renders = False  # the Secret holds a password: made in act(), not by the pure renderers
    status_key = "database"

    def __init__(self, provider: DatabaseProvider, settings: dict[str, Any]) -> None:
        self.provider = provider
        self.default_mode = str(settings.get("defaultMode", "Dedicated"))
        self.shared_database = str(settings.get("sharedDatabase", "landlord_shared"))
        self.servers = {s.name: s for s in (ServerConfig.parse(raw) for raw in settings.get("servers") or [])}
        self.meter_interval: float | None = settings.get("meterInterval")
        self.admin_refresh = float(settings.get("adminSecretRefresh", 300))
        self._access: dict[str, tuple[float, ServerAccess]] = {}
        self.sizes: dict[str, int] = {}  # role -> bytes, from the last metering pass
        self._finished: set[str] = set()  # tenants (by uid) whose deletion step is done
        self._reserved: dict[str, str] = {}  # tenant -> server chosen, until its status records it

    # -- servers ----------------------------------------------------------------------------
    async def access(self, server: ServerConfig) -> ServerAccess:
        """The server's admin credentials, from its admin Secret (re-read every few minutes)."""
        cached = self._access.get(server.name)
        if cached is not None and time.monotonic() - cached[0] < self.admin_refresh:
            return cached[1]
        where = f"{server.admin_namespace}/{server.admin_name}"
        secret = await self.services.client.get("Secret", server.admin_name, server.admin_namespace)
        if secret is None:
            raise ProviderError(
                f"the admin Secret {where} of database server {server.name!r} does not exist; create it with "
                f"the keys {', '.join(ADMIN_KEYS)} (and sslmode)",
                False,
                "AdminSecretMissing",
            )
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        missing = [k for k in ADMIN_KEYS if not data.get(k)]
        if missing:
            raise ProviderError(
                f"the admin Secret {where} of database server {server.name!r} lacks {', '.join(missing)}; add them",
                False,
                "AdminSecretIncomplete",
            )
        register_secret(data["password"])
        access = ServerAccess(
            server.name,
            data["host"],
            int(data["port"]),
            data["username"],
            data["password"],
            data.get("sslmode") or "prefer",
        )
        self._access[server.name] = (time.monotonic(), access)
        return access

    def place(self, server_class: str | None) -> ServerConfig | None:
        """The server with the most headroom (databases and bytes) that takes new tenants."""
        placed: dict[str, int] = {}
        used_bytes: dict[str, int] = {}
        recorded: set[str] = set()
        for tenant in self.services.tenants():
            record = mapping(mapping(tenant.get("status")).get("database"))
            server = record.get("server")
            if server:
                recorded.add(tenant["metadata"]["name"])
                placed[server] = placed.get(server, 0) + 1
                size = self.sizes.get(role_name(tenant["metadata"]["name"]), 0)
                used_bytes[server] = used_bytes.get(server, 0) + size
        for name, server in list(self._reserved.items()):
            if name in recorded:
                del self._reserved[name]  # the status has it now
            else:
                placed[server] = placed.get(server, 0) + 1
        best: tuple[float, str] | None = None
        for server in self.servers.values():
            if server.draining or (server_class and server.server_class != server_class):
                continue
            room = 1.0
            if server.capacity_databases is not None:
                if placed.get(server.name, 0) >= server.capacity_databases:
                    continue
                room = min(room, 1 - placed.get(server.name, 0) / max(server.capacity_databases, 1))
            if server.capacity_bytes is not None:
                if used_bytes.get(server.name, 0) >= server.capacity_bytes:
                    continue
                room = min(room, 1 - used_bytes.get(server.name, 0) / max(server.capacity_bytes, 1))
            if best is None or room > best[0] or (room == best[0] and server.name < best[1]):
                best = (room, server.name)
        return self.servers[best[1]] if best else None

    # -- one reconcile ----------------------------------------------------------------------
    async def act(self, ctx: Context) -> None:
        try:
            ctx.notes[self.name] = await self._act(ctx)
        except ProviderError as exc:
            if exc.reason == "AuthenticationFailed":
                self._access.clear()  # the admin Secret may have changed: read it again next time
            ctx.notes[self.name] = Observation(
                False,
                exc.reason,
                exc.message,
                failed=not exc.retryable,
                recheck_after=RETRY_UNREACHABLE if exc.retryable else None,
            )
        except KubeError as exc:
            transient = exc.status in (409, 429) or exc.status >= 500
            ctx.notes[self.name] = Observation(
                False, "ApplyFailed", f"Secret {SECRET_NAME}: {redact(exc)}", failed=not transient,
                recheck_after=RETRY_UNREACHABLE if transient else None,
            )  # fmt: skip

    def observe(self, ctx: Context) -> Observation:
        note: Observation | None = ctx.notes.get(self.name)
        return note or Observation(False, "Unknown", "the database was not looked at")

    def status_fields(self, ctx: Context) -> dict[str, Any]:
        record = ctx.notes.get(f"{self.name}.status") or ctx.status.get("database")
        return {"database": record} if record else {}

    def _plan_database(self, desired: Desired) -> dict[str, Any]:
        return mapping(mapping(desired.plan.get("spec")).get("database"))

    def _read_only(self, desired: Desired, role: str, record: dict[str, Any]) -> bool:
        policy = mapping(mapping(desired.plan.get("spec")).get("overuse")).get("policy", "Notify")
        if policy != "Block":
            return False
        size = self.sizes.get(role)
        if size is None:  # not measured yet (just started): keep what was decided before
            return record.get("phase") == "ReadOnly"
        limit = desired.entitlements.limits.get("databaseStorage")
        return limit is not None and Decimal(size) > limit

    async def _act(self, ctx: Context) -> Observation:
        desired = ctx.desired
        record = dict(mapping(ctx.status.get("database")))
        if record.get("secretName") == SECRET_NAME:
            # The credentials stay, whatever fails below (an admin Secret missing, a server gone).
            ctx.keep.add(("Secret", desired.namespace, SECRET_NAME))
        plan_db = self._plan_database(desired)
        count = desired.entitlements.limits.get("databases", Decimal(0))
        if not record and count is not None and count < 1:
            return Observation(True, "NotIncluded", "the plan includes no database")
        wanted = str(plan_db.get("mode") or self.default_mode)
        mode = str(record.get("mode") or wanted)
        if mode == "Cluster":
            return await self._cluster(ctx, record, plan_db, wanted)
        server = (
            self.servers.get(str(record["server"])) if record.get("server") else self.place(plan_db.get("serverClass"))
        )
        if server is None and record.get("server"):
            raise ProviderError(
                f"database server {record['server']!r} (status.database.server) is not in the operator configuration; "
                f"add it back to database.servers: a tenant's database is never moved silently",
                False,
                "ServerNotConfigured",
            )
        if server is None:
            pinned = f" of class {plan_db['serverClass']!r}" if plan_db.get("serverClass") else ""
            why = "all full or draining" if self.servers else "none is configured"
            raise ProviderError(
                f"no database server{pinned} has room for a new tenant ({why}); add a server to "
                f"database.servers or raise a capacity",
                False,
                "NoCapacity",
            )
        role = role_name(desired.name)
        if len(role.encode()) > 63:
            raise ProviderError(
                f"the role name {role} is longer than PostgreSQL's 63 bytes; use a tenant name of at most 61 "
                f"characters",
                False,
                "NameTooLong",
            )
        if not record:
            self._reserved[desired.name] = server.name  # until the status says so: no two tenants on one last slot
            record = {
                "mode": mode,
                "server": server.name,
                "name": role if mode == "Dedicated" else self.shared_database,
                "username": role,
                "secretName": SECRET_NAME,
                "phase": "Creating",
            }
            if mode == "Shared":
                record["schema"] = role
            await ctx.record_status({"database": record})  # intent before any effect
        access = await self.access(server)
        limit = int(plan_db.get("connectionLimit") or -1)
        password, fresh, rotation = await self._password(ctx, record)
        refused = ""
        if mode == "Shared" and wanted == "Shared" and record.get("migratingTo"):
            # A migration that failed and was called off: what it had copied goes, the schema stays.
            half = DatabaseRequest(desired.name, "Dedicated", role, role, None, limit, mark=_uid(ctx.tenant))
            await self.provider.reset_database(access, half)
            record.pop("migratingTo", None)
        if mode == "Shared" and wanted == "Dedicated":
            record = await self._migrate(ctx, access, record, role, limit, password)
            mode = "Dedicated"
        elif wanted == "Cluster":
            refused = (
                f"the plan asks for a CloudNativePG Cluster but the tenant has a {mode} database: moving existing "
                f"data into a cluster is not supported; the {mode} database is kept (change the plan's "
                f"database.mode back, or move the data yourself and recreate the tenant)"
            )
        elif mode == "Dedicated" and wanted == "Shared":
            refused = (
                "the plan asks for a Shared database but the tenant has a Dedicated one: moving from Dedicated to "
                "Shared is not supported; the Dedicated database is kept (change the plan's database.mode back, or "
                "move the tenant to a plan with a Dedicated database)"
            )
        request = DatabaseRequest(
            desired.name,
            "Dedicated" if mode == "Dedicated" else "Shared",
            role if mode == "Dedicated" else self.shared_database,
            role,
            None if mode == "Dedicated" else role,
            limit,
            login=not desired.suspended,
            read_only=self._read_only(desired, role, record),
            mark=_uid(ctx.tenant),
        )
        await self._apply_secret(ctx, access, request, password, rotation)
        set_password = (
            fresh or record.get("phase") == "Creating" or bool(rotation and record.get("rotation") != rotation)
        )
        steps = await self.provider.ensure(access, request, password, set_password)
        if record.get("previousMode") == "Shared" and mode == "Dedicated":
            await self.provider.drop_schema(access, self._shared_request(desired.name, role, limit, _uid(ctx.tenant)))
            record.pop("previousMode", None)
        if any(step.startswith("created database") or step.startswith("created schema") for step in steps):
            await ctx.client.event(
                ctx.tenant,
                "Normal",
                "DatabaseCreated",
                f"{mode} database {request.database} for role {role} on server {server.name}",
            )
        if set_password and rotation and record.get("rotation") != rotation:
            await ctx.client.event(ctx.tenant, "Normal", "PasswordRotated", f"database password of {role} rotated")
        size = self.sizes.get(role)
        phase = "ReadOnly" if request.read_only else ("Suspended" if not request.login else "Ready")
        record.update({"phase": phase, "mode": mode, "name": request.database})
        record.pop("migratingTo", None)
        if rotation:
            record["rotation"] = rotation
        if size is not None:
            record["size"] = human_bytes(size)
        ctx.notes[f"{self.name}.status"] = record
        where = f"{mode} database {request.database} on server {server.name}; credentials in Secret {SECRET_NAME}"
        if refused:
            return Observation(False, "ModeChangeRefused", refused)
        if request.read_only:
            limit_text = format_limit("databaseStorage", desired.entitlements.limits.get("databaseStorage"))
            return Observation(
                False,
                "StorageLimitReached",
                f"{where}: {human_bytes(size)} used of {limit_text} with the Block overuse policy, so it is "
                f"read-only until usage is back under the limit or the limit grows",
            )
        if count is not None and count < 1:
            return Observation(True, "Kept", f"{where}; the plan includes no database any more, the data is kept")
        if not request.login:
            return Observation(True, "LoginRevoked", f"{where}; login is off while the tenant is suspended")
        return Observation(True, "Ready", where)

    async def _cluster(self, ctx: Context, record: dict[str, Any], plan_db: dict[str, Any], wanted: str) -> Observation:
        """Cluster mode: a CloudNativePG `Cluster` of the tenant's own in its namespace.

        CloudNativePG runs it and writes the application credentials into `<cluster>-app`; the
        operator declares the cluster, hibernates it while the tenant is suspended
        (`cnpg.io/hibernation`), and reads its readiness.
        """
        desired = ctx.desired
        limit = desired.entitlements.limits.get("databaseStorage")
        size = format_limit("databaseStorage", limit) if limit else "1Gi"
        instances = int(plan_db.get("instances") or 1)
        cluster = {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {
                "name": CLUSTER_NAME,
                "namespace": desired.namespace,
                "labels": {TENANT_LABEL: desired.name, PLAN_LABEL: str(desired.spec.get("plan", "")), **MANAGED_BY},
                "annotations": {"cnpg.io/hibernation": "on" if desired.suspended else "off"},
            },
            "spec": {
                "instances": instances,
                "storage": {"size": str(size)},
                "bootstrap": {"initdb": {"database": "app", "owner": "app"}},
            },
        }
        if not record:
            record = {
                "mode": "Cluster",
                "cluster": CLUSTER_NAME,
                "name": "app",
                "username": "app",
                "secretName": f"{CLUSTER_NAME}-app",
                "phase": "Creating",
            }
            await ctx.record_status({"database": record})
        live = await ctx.client.get("Cluster", CLUSTER_NAME, desired.namespace)
        if not up_to_date(live, cluster):
            try:
                live = await ctx.client.apply(cluster)
            except KubeError as exc:
                if exc.status == 404:
                    raise ProviderError(
                        "postgresql.cnpg.io/v1 Cluster is not served by this cluster: install CloudNativePG, or use "
                        "database.mode Dedicated or Shared in the plan",
                        True,
                        "ClusterAPIMissing",
                    ) from None
                raise
            if record.get("phase") == "Creating":
                message = f"CloudNativePG Cluster {CLUSTER_NAME}: {instances} instance(s)"
                await ctx.client.event(ctx.tenant, "Normal", "ClusterApplied", message)
        status = mapping((live or {}).get("status"))
        ready = int(status.get("readyInstances") or 0)
        where = f"CloudNativePG cluster {CLUSTER_NAME}; credentials in Secret {CLUSTER_NAME}-app"
        phase = "Suspended" if desired.suspended else ("Ready" if ready >= instances else "Creating")
        record = {**record, "phase": phase}
        ctx.notes[f"{self.name}.status"] = record
        if wanted != "Cluster":
            return Observation(
                False,
                "ModeChangeRefused",
                f"the plan asks for a {wanted} database but the tenant has a CloudNativePG cluster: moving out of a "
                f"cluster is not supported; the cluster is kept (change the plan's database.mode back)",
            )
        if desired.suspended:
            return Observation(True, "Hibernated", f"{where}; hibernated while the tenant is suspended")
        if ready < instances:
            return Observation(
                False,
                "ClusterNotReady",
                f"{where}: {ready} of {instances} instance(s) ready ({status.get('phase') or 'no status yet'})",
                recheck_after=RETRY_UNREACHABLE,
            )
        return Observation(True, "Ready", f"{where}: {ready} of {instances} instance(s) ready")

    async def _password(self, ctx: Context, record: dict[str, Any]) -> tuple[str, bool, str | None]:
        """The tenant's password (from its Secret), or a new one (first time, or a rotation asked for)."""
        live = ctx.lookup(("Secret", ctx.desired.namespace, SECRET_NAME))
        data = {k: base64.b64decode(v).decode() for k, v in ((live or {}).get("data") or {}).items()}
        if not _written_for(live, ctx.tenant, record):
            data = {}  # a Secret this tenant did not write (an adopted namespace's): its password is known to others
        annotations = mapping(mapping(ctx.tenant.get("metadata")).get("annotations"))
        rotation = annotations.get(ROTATE_ANNOTATION) or None
        password = data.get("password")
        fresh = False
        if not password or (rotation and data.get("rotation") != rotation and record.get("rotation") != rotation):
            password = secrets.token_urlsafe(24)
            fresh = True
        register_secret(password)
        return password, fresh, rotation

    async def _apply_secret(
        self, ctx: Context, access: ServerAccess, request: DatabaseRequest, password: str, rotation: str | None
    ) -> None:
        """Writes the credentials Secret when it differs (before the role gets a new password)."""
        desired = ctx.desired
        values = {
            "host": access.host,
            "port": str(access.port),
            "database": request.database,
            "username": request.role,
            "password": password,
            "sslmode": access.sslmode,
            "uri": (
                f"postgresql://{quote(request.role)}:{quote(password, safe='')}@{access.host}:{access.port}/"
                f"{quote(request.database)}?sslmode={access.sslmode}"
            ),
        }
        if rotation:
            values["rotation"] = rotation
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": SECRET_NAME,
                "namespace": desired.namespace,
                "labels": {TENANT_LABEL: desired.name, PLAN_LABEL: str(desired.spec.get("plan", "")), **MANAGED_BY},
                "annotations": {TENANT_UID_ANNOTATION: _uid(ctx.tenant)},  # whose password it is (`_written_for`)
            },
            "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }
        key = key_of(secret)
        ctx.keep.add(key)
        if not up_to_date(ctx.lookup(key), secret):
            ctx.remember(key, await ctx.client.apply(secret))

    def _shared_request(self, tenant: str, role: str, limit: int, mark: str, login: bool = False) -> DatabaseRequest:
        return DatabaseRequest(tenant, "Shared", self.shared_database, role, role, limit, login=login, mark=mark)

    async def _migrate(
        self, ctx: Context, access: ServerAccess, record: dict[str, Any], role: str, limit: int, password: str
    ) -> dict[str, Any]:
        """Shared -> Dedicated: the schema with its data moves into a database of its own.

        The tenant's login is off for the duration; the shared schema is dropped only after the
        new database holds the data and the status says so, so a kill at any point converges.
        """
        tenant = ctx.desired.name
        if record.get("phase") != "Migrating":
            record = {**record, "phase": "Migrating", "migratingTo": "Dedicated"}
            await ctx.record_status({"database": record})
            await ctx.client.event(
                ctx.tenant, "Normal", "DatabaseMigrating", f"moving schema {role} into a dedicated database {role}"
            )
        mark = _uid(ctx.tenant)
        source = self._shared_request(tenant, role, limit, mark)
        target = DatabaseRequest(tenant, "Dedicated", role, role, None, limit, login=False, mark=mark)
        await self.provider.ensure(access, source, password, False)  # login off, sessions ended
        await self.provider.reset_database(access, target)  # a half-copied database from a killed attempt
        await self.provider.ensure(access, target, password, False)
        await self.provider.copy_schema(access, source, target)
        record = {**record, "mode": "Dedicated", "name": role, "phase": "Ready", "previousMode": "Shared"}
        record.pop("schema", None)
        record.pop("migratingTo", None)
        await ctx.record_status({"database": record})  # the data is in the new database: switch
        await ctx.client.event(ctx.tenant, "Normal", "DatabaseMigrated", f"schema {role} moved to database {role}")
        return record

    # -- deletion ---------------------------------------------------------------------------
    async def finalize(self, tenant: dict[str, Any]) -> float | None:
        status = mapping(tenant.get("status"))
        record = mapping(status.get("database"))
        uid = str(mapping(tenant.get("metadata")).get("uid"))
        if not record.get("server") or record.get("phase") in ("Retained", "Deleted") or uid in self._finished:
            # (Cluster mode has no server: its cluster lives, and goes, with the namespace.)
            return None
        policy = mapping(tenant.get("spec")).get("deletionPolicy") or status.get("deletionPolicy") or "Retain"
        server = self.servers.get(str(record["server"]))
        client = self.services.client
        name = str(tenant["metadata"]["name"])
        role = str(record.get("username") or role_name(name))
        request = DatabaseRequest(
            name,
            "Dedicated" if record.get("mode") == "Dedicated" else "Shared",
            str(record.get("name") or role),
            role,
            None if record.get("mode") == "Dedicated" else str(record.get("schema") or role),
            -1,
            login=False,
            mark=_uid(tenant),
        )
        where = f"database {request.database}" + (f" (schema {request.schema})" if request.schema else "")
        where += f" and role {role} on server {record['server']}"
        if server is None:
            await client.event(
                tenant, "Warning", "DatabaseServerUnknown", f"{where}: server not configured; left as is"
            )
            await self._record_end(tenant, record, "Retained")
            return None
        try:
            access = await self.access(server)
            if policy == "Delete":
                await self.provider.drop(access, request)
                await client.event(tenant, "Normal", "DatabaseDeleted", f"{where}: dropped (deletionPolicy Delete)")
                await self._record_end(tenant, record, "Deleted")
                return None
            await self.provider.disable(access, request)
        except ProviderError as exc:
            if policy == "Delete":
                logger.warning("deleting the database of %s waits: %s", name, exc.message)
                await client.event(tenant, "Warning", exc.reason, f"deleting {where} waits: {exc.message}")
                return RETRY_UNREACHABLE
            await client.event(tenant, "Warning", exc.reason, f"could not revoke the login of {role}: {exc.message}")
        await client.event(
            tenant,
            "Normal",
            "DatabaseRetained",
            f"{where} kept (deletionPolicy Retain), login revoked; drop them by hand when no longer needed",
        )
        await self._record_end(tenant, record, "Retained")
        return None

    async def _record_end(self, tenant: dict[str, Any], record: dict[str, Any], phase: str) -> None:
        """Records that the deletion step is done, so that it is not repeated (nor its Event)."""
        self._finished.add(str(mapping(tenant.get("metadata")).get("uid")))
        name = tenant["metadata"]["name"]
        await self.services.client.patch(
            "Tenant", name, {"status": {"database": {**record, "phase": phase}}}, subresource="status"
        )

    # -- metering ---------------------------------------------------------------------------
    async def background(self) -> None:
        """Measures every tenant's database size, one query per server and mode, every interval."""
        interval = float(self.meter_interval or self.services.config.drift_interval)
        while True:
            await self.meter()
            await asyncio.sleep(interval)

    async def meter(self) -> dict[str, int]:
        """One metering pass; tenants whose size moved by a MiB (or more) are looked at again."""
        found: dict[str, int] = {}
        for server in self.servers.values():
            try:
                found.update(await self.provider.sizes(await self.access(server), self.shared_database))
            except ProviderError as exc:
                logger.warning("metering database server %s failed: %s", server.name, exc.message)
                found.update({r: s for r, s in self.sizes.items()})  # keep the last known sizes
        old, self.sizes = self.sizes, found
        for role in set(old) | set(found):
            if human_bytes(old.get(role)) != human_bytes(found.get(role)):
                tenant = tenant_of(role)
                if tenant:
                    self.services.requeue(tenant)
        return found

    def usage(self) -> dict[tuple[str, str], float]:
        return {(t, "databaseStorage"): float(s) for r, s in self.sizes.items() if (t := tenant_of(r))}
