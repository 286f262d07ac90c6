"""The indexes count as ready in a cluster with nothing to list (kopf then calls no handler)."""

from __future__ import annotations

from tests.helpers import eventually
from tests.integration.conftest import Env


async def test_an_empty_cluster_has_ready_indexes(env: Env) -> None:
    await env.start_operator()

    async def ready() -> bool:
        return bool(env.controller.indexed.is_set())

    await eventually(ready, timeout=10)
