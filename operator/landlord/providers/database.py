"""The database provider interface: what the database component asks of a database server.

One tenant has one database: in `Dedicated` mode a database of its own owned by its role, in
`Shared` mode a schema of its own in one shared database. The component decides what should
exist (`DatabaseRequest`); the provider makes it so, step by step and idempotently, and says
what it found (`DatabaseState`) so that a second call with nothing to change changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Mode = Literal["Dedicated", "Shared"]


@dataclass(frozen=True)
class ServerAccess:
    """How to reach one server as its administrator (from the server's admin Secret)."""

    name: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    sslmode: str = "prefer"


@dataclass(frozen=True)
class DatabaseRequest:
    """What one tenant should have on its server."""

    tenant: str
    mode: Mode
    database: str  # its own database (Dedicated) or the shared one (Shared)
    role: str
    schema: str | None  # Shared: the tenant's schema; Dedicated: None
    connection_limit: int  # -1: no limit
    login: bool = True  # False while the tenant is suspended
    read_only: bool = False  # True while over its storage limit with the Block policy
    mark: str = ""  # who it belongs to (the Tenant's uid): what exists without this mark is not ours


@dataclass(frozen=True)
class DatabaseState:
    """What exists for a tenant on its server."""

    role: bool = False
    database: bool = False
    schema: bool = False
    owner_ok: bool = False
    login: bool = False
    role_connection_limit: int | None = None
    database_connection_limit: int | None = None
    read_only: bool = False
    sessions: int = 0
    role_mark: str | None = None  # the comment on the role (Landlord writes the tenant's uid there)
    verifier: str | None = field(default=None, repr=False)  # the role's stored password verifier

    def foreign(self, request: DatabaseRequest) -> bool:
        """A role of that name exists but was not made for this tenant (a retained one of an earlier
        tenant of the same name, or the administrator's): never taken over."""
        return self.role and bool(request.mark) and self.role_mark != f"landlord tenant {request.mark}"

    def matches(self, request: DatabaseRequest) -> bool:
        """Whether nothing needs to change for the request (apart from the password)."""
        limit = request.connection_limit
        if not (self.role and self.database and self.owner_ok and self.login == request.login):
            return False
        if self.role_connection_limit != limit or self.read_only != request.read_only:
            return False
        if request.mode == "Dedicated":
            return self.database_connection_limit == limit
        return self.schema


@runtime_checkable
class DatabaseProvider(Protocol):
    """A database server family (PostgreSQL) as the database component uses it."""

    name: str

    async def observe(self, server: ServerAccess, request: DatabaseRequest) -> DatabaseState:
        """What exists now, in one round trip."""
        ...

    async def ensure(
        self, server: ServerAccess, request: DatabaseRequest, password: str, set_password: bool
    ) -> list[str]:
        """Creates or corrects what is missing or differs; returns the steps taken (none: nothing changed).

        Never drops or recreates anything that exists. `set_password`: also make the role's
        password the given one (after a creation that may have been interrupted, or a rotation).
        """
        ...

    async def sizes(self, server: ServerAccess, shared_database: str) -> dict[str, int]:
        """Bytes used per tenant role on the server: dedicated databases and shared schemas.

        One query per kind of placement for all tenants, never one per tenant.
        """
        ...

    async def terminate(self, server: ServerAccess, request: DatabaseRequest) -> int:
        """Ends the tenant's sessions; returns how many were ended."""
        ...

    async def disable(self, server: ServerAccess, request: DatabaseRequest) -> bool:
        """Revokes LOGIN and ends the sessions of an existing role (kept data); False if no such role."""
        ...

    async def reset_database(self, server: ServerAccess, request: DatabaseRequest) -> bool:
        """Drops a dedicated database being built (a migration that was interrupted); True if it existed."""
        ...

    async def drop(self, server: ServerAccess, request: DatabaseRequest) -> list[str]:
        """Removes the tenant's database (or schema) and role; returns the steps taken."""
        ...

    async def copy_schema(self, server: ServerAccess, source: DatabaseRequest, target: DatabaseRequest) -> None:
        """Copies a shared-mode schema with its data into the tenant's dedicated database."""
        ...

    async def drop_schema(self, server: ServerAccess, request: DatabaseRequest) -> bool:
        """Drops a tenant's schema in the shared database (after a migration); True if it existed."""
        ...

    async def close(self) -> None:
        """Closes the connections."""
        ...
