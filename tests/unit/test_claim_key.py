"""The key of namespace claims: read once, made once (concurrent reconciles, other replicas), and
its absence a fallback rather than an error."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from landlord.components.claim_key import SECRET_NAME, ClaimKey, claim_token
from landlord.kube import KubeError


class FakeClient:
    """Secrets in one namespace; `missing_namespace`: every request answers 404, as the API server
    does for a namespace that does not exist."""

    def __init__(self, stored: dict[str, Any] | None = None, missing_namespace: bool = False) -> None:
        self.stored = stored
        self.missing_namespace = missing_namespace
        self.requests: list[str] = []

    async def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self.requests.append(f"GET {kind} {namespace}/{name}")
        await asyncio.sleep(0)
        return self.stored

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(f"POST {obj['kind']}")
        await asyncio.sleep(0)
        if self.missing_namespace:
            raise KubeError(404, {"reason": "NotFound", "message": "namespaces not found"}, "create")
        if self.stored is not None:
            raise KubeError(409, {"reason": "AlreadyExists", "message": "exists"}, "create")
        self.stored = obj
        return obj


async def test_concurrent_reconciles_make_the_key_once_and_then_read_nothing() -> None:
    client = FakeClient()
    key = ClaimKey("landlord-system")
    keys = await asyncio.gather(*(key.get(client) for _ in range(10)))  # type: ignore[arg-type]
    assert len(set(keys)) == 1 and keys[0] is not None and len(keys[0]) == 32
    assert client.requests == [f"GET Secret landlord-system/{SECRET_NAME}", "POST Secret"]
    assert await key.get(client) == keys[0]  # type: ignore[arg-type]
    assert len(client.requests) == 2


async def test_another_replica_made_it_first() -> None:
    theirs = {"data": {"key": base64.b64encode(b"r" * 32).decode()}}

    class Racing(FakeClient):
        async def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
            found = self.stored if self.requests else None  # absent at the first read, then made by another
            self.requests.append("GET")
            return found

    client = Racing(theirs)
    assert await ClaimKey().get(client) == b"r" * 32  # type: ignore[arg-type]
    assert client.requests == ["GET", "POST Secret", "GET"]


async def test_no_operator_namespace_means_no_key_and_one_attempt_a_minute() -> None:
    client = FakeClient(missing_namespace=True)
    key = ClaimKey("landlord-nowhere")
    assert await key.get(client) is None  # type: ignore[arg-type]
    assert await key.get(client) is None  # type: ignore[arg-type]
    assert client.requests == [f"GET Secret landlord-nowhere/{SECRET_NAME}", "POST Secret"]


async def test_a_key_that_is_not_one_is_an_error_naming_the_fix() -> None:
    client = FakeClient({"data": {"key": base64.b64encode(b"short").decode()}})
    with pytest.raises(KubeError, match=r"holds no usable key .* delete it and the operator makes a new one"):
        await ClaimKey().get(client)  # type: ignore[arg-type]


def test_the_claim_depends_on_the_key_the_tenant_and_the_namespace_recorded_before() -> None:
    tokens = {
        claim_token(b"a" * 32, "t-1", None),
        claim_token(b"b" * 32, "t-1", None),
        claim_token(b"a" * 32, "t-2", None),
        claim_token(b"a" * 32, "t-1", "ns-1"),
        claim_token(b"a" * 32, "t-1\nns-1", None),
    }
    assert len(tokens) == 5
    assert claim_token(b"a" * 32, "t-1", None) == claim_token(b"a" * 32, "t-1", "")


async def test_a_replaced_key_is_read_again_at_most_once_a_minute() -> None:
    client = FakeClient({"data": {"key": base64.b64encode(b"1" * 32).decode()}})
    key = ClaimKey()
    assert await key.get(client) == b"1" * 32  # type: ignore[arg-type]
    client.stored = {"data": {"key": base64.b64encode(b"2" * 32).decode()}}  # the Secret replaced
    assert await key.get(client) == b"1" * 32  # type: ignore[arg-type]
    assert key.reread() is True
    assert await key.get(client) == b"2" * 32  # type: ignore[arg-type]
    assert key.reread() is False  # not again within the minute
    assert await key.get(client) == b"2" * 32  # type: ignore[arg-type]
