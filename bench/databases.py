"""Database provisioning and metering cost against a real, local PostgreSQL.

Creates N tenant databases (Dedicated) and N tenant schemas (Shared) through the PostgreSQL
provider exactly as the database component calls it, and runs the size-metering pass at a
quarter and at all of them. Prints seconds per database and per schema, seconds and statements
per metering pass (the statement count must not grow with the tenants: one per mode and
server), and the statements of a no-op `ensure` of a tenant already in place (a look, no change).

    python bench/databases.py --tenants 200
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "operator"))

from landlord.devservices.postgres import LocalPostgres  # noqa: E402
from landlord.providers import DatabaseRequest, ServerAccess  # noqa: E402
from landlord.providers.postgresql import PostgresProvider  # noqa: E402

SHARED = "landlord_shared"


def request(index: int, mode: str) -> DatabaseRequest:
    role = f"t_bench_{mode[0].lower()}{index:05d}"
    if mode == "Dedicated":
        return DatabaseRequest(role, "Dedicated", role, role, None, 20)
    return DatabaseRequest(role, "Shared", SHARED, role, role, 20)


async def create(provider: PostgresProvider, server: ServerAccess, mode: str, indexes: range) -> float:
    """Seconds spent creating the tenants of `indexes` in `mode`."""
    started = time.perf_counter()
    for index in indexes:
        await provider.ensure(server, request(index, mode), f"password-{index:05d}-bench", False)
    return time.perf_counter() - started


async def meter(provider: PostgresProvider, server: ServerAccess) -> tuple[float, int, int]:
    """One metering pass: seconds, statements, tenants measured."""
    before = provider.queries
    started = time.perf_counter()
    sizes = await provider.sizes(server, SHARED)
    return time.perf_counter() - started, provider.queries - before, len(sizes)


async def main(tenants: int) -> None:
    quarter = max(tenants // 4, 1)
    with LocalPostgres() as pg:
        server = ServerAccess("bench", pg.host, pg.port, pg.admin_user, pg.admin_password, "disable")
        provider = PostgresProvider()
        try:
            dedicated = await create(provider, server, "Dedicated", range(quarter))
            shared = await create(provider, server, "Shared", range(quarter))
            small = await meter(provider, server)
            dedicated += await create(provider, server, "Dedicated", range(quarter, tenants))
            shared += await create(provider, server, "Shared", range(quarter, tenants))
            full = await meter(provider, server)
            before_q, before_c = provider.queries, provider.changes
            await create(provider, server, "Dedicated", range(tenants))
            noop_queries = (provider.queries - before_q) / tenants
            noop_changes = provider.changes - before_c
        finally:
            await provider.close()
    print(f"local PostgreSQL; {tenants} dedicated databases and {tenants} shared-mode schemas")
    print(f"seconds per dedicated database created: {dedicated / tenants:.4f}")
    print(f"seconds per shared-mode schema created: {shared / tenants:.4f}")
    print(f"metering pass over {small[2]} tenants: {small[0]:.4f} s, {small[1]} statements")
    print(f"metering pass over {full[2]} tenants: {full[0]:.4f} s, {full[1]} statements")
    print(f"statements per metering pass: {small[1]} at {small[2]} tenants, {full[1]} at {full[2]} (constant)")
    print(f"no-op ensure (a tenant already in place): {noop_queries:.1f} statements, {noop_changes} changes in all")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    asyncio.run(main(parser.parse_args().tenants))
