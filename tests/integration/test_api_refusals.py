"""The API server itself refuses bad input (CRD schema + CEL), as a signup service sees it."""

from __future__ import annotations

from typing import Any

import pytest

from landlord.kube import KubeError
from tests.integration.conftest import Env
from tests.integration.test_tenancy import plan, tenant


async def refused(env: Env, obj: dict[str, Any]) -> str:
    with pytest.raises(KubeError) as error:
        await env.client.create(obj)
    assert error.value.status == 422
    return str(error.value.body["message"])


async def test_bad_limits_and_fields_are_refused(env: Env) -> None:
    assert "must be a Kubernetes quantity" in await refused(env, plan("p1", memory="lots"))
    assert "must be a whole number" in await refused(env, plan("p2", pods="1.5"))
    bad_price = plan("p3")
    bad_price["spec"]["pricing"]["prices"] = {"Monthly": "9.999"}
    assert "spec.pricing.prices[Monthly]" in await refused(env, bad_price)
    bad_cycle = plan("p4")
    bad_cycle["spec"]["pricing"]["prices"] = {"Weekly": "1.00"}
    assert "billing cycles are Monthly and Yearly" in await refused(env, bad_cycle)
    assert "spec.addOns[0].quantity" in await refused(env, tenant("t1", addOns=[{"name": "x", "quantity": 0}]))
    assert "spec.expiresAt" in await refused(env, tenant("t2", expiresAt="tomorrow"))
    assert "tenant name must be a DNS label" in await refused(env, tenant("a" * 62))


async def test_subdomain_is_immutable_once_assigned(env: Env) -> None:
    await env.client.create(tenant("imm", domains={"subdomain": "first"}))
    # Not assigned yet (say the operator refused it: HostConflict): it may still change.
    await env.client.patch("Tenant", "imm", {"spec": {"domains": {"subdomain": "second"}}})
    await env.client.patch("Tenant", "imm", {"status": {"subdomain": "second"}}, subresource="status")
    for spec in ({"domains": {"subdomain": "third"}}, {"domains": None}):
        with pytest.raises(KubeError) as error:
            await env.client.patch("Tenant", "imm", {"spec": spec})
        assert error.value.status == 422
        assert "the subdomain second is assigned to this tenant and cannot change" in error.value.body["message"]
    await env.client.patch("Tenant", "imm", {"spec": {"domains": {"custom": ["a.example.com"]}}})
