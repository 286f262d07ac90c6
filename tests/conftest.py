from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from landlord.devcluster import DevCluster
from landlord.devservices.postgres import LocalPostgres
from tests.helpers import Http


@pytest.fixture
async def devcluster() -> AsyncIterator[DevCluster]:
    async with DevCluster(bookmark_interval=0.5) as cluster:
        yield cluster


@pytest.fixture
async def http(devcluster: DevCluster) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(devcluster.url, session)


@pytest.fixture
def kubeconfig(devcluster: DevCluster, tmp_path: Path) -> Path:
    return devcluster.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def tls_devcluster() -> AsyncIterator[DevCluster]:
    """The emulator over HTTPS, its serving certificate signed by a CA made at start."""
    async with DevCluster(bookmark_interval=0.5, tls=True) as cluster:
        yield cluster


@pytest.fixture
async def tls_http(tls_devcluster: DevCluster) -> AsyncIterator[Http]:
    """Raw HTTPS that trusts only the emulator's CA (and checks the host name)."""
    context = tls_devcluster.client_ssl_context()
    assert context is not None
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield Http(tls_devcluster.url, session)


@pytest.fixture
def tls_kubeconfig(tls_devcluster: DevCluster, tmp_path: Path) -> Path:
    return tls_devcluster.write_kubeconfig(tmp_path / "kubeconfig")


# -- backing services -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server for the whole session (stopped at its end); fails when it cannot run here.

    No skip: `make test` installs PostgreSQL (`make tools`), so a missing server is a broken setup.
    """
    reason = LocalPostgres.available()
    if reason is not None:
        pytest.fail(f"PostgreSQL is needed and cannot run here: {reason} (or run `make tools`)", pytrace=False)
    with LocalPostgres() as server:
        yield server
