from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from landlord.devcluster import DevCluster
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
