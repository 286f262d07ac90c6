"""Hosts on the operator's side: one tenant per host (the earlier keeps it), an assigned subdomain
for good, custom domains within the limit, and namespace names that fit the configured prefix."""

from __future__ import annotations

from typing import Any

import pytest

from landlord.api.schemas import all_crds
from landlord.kube import KubeError
from tests.integration import conftest
from tests.integration.conftest import Env
from tests.integration.test_tenancy import addon, plan, tenant


def reseller(name: str, base: str) -> dict[str, Any]:
    return {
        "apiVersion": "landlord.dev/v1alpha1",
        "kind": "Reseller",
        "metadata": {"name": name},
        "spec": {"baseDomain": base},
    }


async def test_the_later_of_two_tenants_for_one_host_is_refused_and_the_earlier_keeps_it(env: Env) -> None:
    await env.apply(plan(customDomains=2))
    await env.apply(reseller("agency", "apps.example.com"))  # the operator's own base domain
    await env.start_operator()
    await env.apply(tenant("first", domains={"subdomain": "shop", "custom": ["www.shop.example"]}))
    await env.wait_phase("first", "Active")
    await env.apply(tenant("second", reseller="agency", domains={"subdomain": "shop"}))
    await env.apply(tenant("third", domains={"custom": ["*.shop.example"]}))
    second = await env.wait_phase("second", "Failed")
    assert second["status"]["reason"] == "HostConflict"
    assert (
        "spec.domains.subdomain: subdomain 'shop' (host shop.apps.example.com) is already used by Tenant/first"
        in (second["status"]["message"])
    )
    third = await env.wait_phase("third", "Failed")
    assert third["status"]["message"].startswith(
        "spec.domains.custom[0]: custom domain '*.shop.example' overlaps 'www.shop.example' of Tenant/first"
    )
    assert await env.get("Namespace", "t-second") is None and await env.get("Namespace", "t-third") is None
    first = await env.get("Tenant", "first")
    assert first["status"]["phase"] == "Active" and first["status"]["url"] == "https://shop.apps.example.com"
    # The earlier one gone, the later ones get what they asked for.
    await env.client.delete("Tenant", "first")
    assert (await env.wait_phase("second", "Active"))["status"]["url"] == "https://shop.apps.example.com"
    await env.wait_phase("third", "Active")


async def test_a_custom_domain_cannot_squat_another_tenants_subdomain(env: Env) -> None:
    await env.apply(plan(customDomains=2))
    await env.start_operator()
    await env.apply(tenant("squatter", domains={"custom": ["bigco.apps.example.com"]}))
    squatter = await env.wait_phase("squatter", "Failed")
    assert squatter["status"]["reason"] == "DomainReserved"
    await env.apply(tenant("bigco"))  # younger, and still gets its own subdomain
    assert (await env.wait_phase("bigco", "Active"))["status"]["url"] == "https://bigco.apps.example.com"


async def test_an_assigned_subdomain_cannot_change_by_removing_and_adding_domains(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("imm", domains={"subdomain": "first"}))
    obj = await env.wait_phase("imm", "Active")
    assert obj["status"]["subdomain"] == "first"
    for patch in ({"domains": None}, {"domains": {"subdomain": "second"}}, {"domains": {"subdomain": None}}):
        with pytest.raises(KubeError) as error:
            await env.client.patch("Tenant", "imm", {"spec": patch})
        assert error.value.status == 422
        assert "the subdomain first is assigned to this tenant and cannot change" in error.value.body["message"]
    await env.client.patch("Tenant", "imm", {"spec": {"domains": {"custom": []}}})  # the rest of domains may change


async def test_custom_domains_beyond_the_effective_limit_fail_until_the_limit_is_raised(env: Env) -> None:
    await env.apply(plan(customDomains=1))
    await env.apply(addon("more-domains", {"customDomains": 1}))
    await env.start_operator()
    await env.apply(tenant("many", domains={"custom": ["a.many.example", "b.many.example"]}))
    obj = await env.wait_phase("many", "Failed")
    assert obj["status"]["reason"] == "DomainLimitExceeded"
    assert "2 custom domains, but the effective customDomains limit is 1" in obj["status"]["message"]
    assert await env.get("Namespace", "t-many") is None
    await env.apply(
        tenant("many", addOns=[{"name": "more-domains"}], domains={"custom": ["a.many.example", "b.many.example"]})
    )
    await env.wait_phase("many", "Active")


async def test_namespace_names_fit_the_configured_prefix(env: Env) -> None:
    prefix = "customers-of-the-platform-"  # 26 characters: tenant names up to 37
    env.config = conftest.test_config(namespacePrefix=prefix)
    await env.apply(plan())
    await env.start_operator()
    # The CRDs in the cluster were made for the default prefix: the operator refuses the name itself.
    long_name = "a" * 40
    await env.apply(tenant(long_name))
    obj = await env.wait_phase(long_name, "Failed")
    assert obj["status"]["reason"] == "NamespaceNameTooLong"
    assert (
        "at most 37 characters, because its namespace is customers-of-the-platform-<name>" in (obj["status"]["message"])
    )
    assert await env.client.list("Namespace", label_selector=f"landlord.dev/tenant={long_name}") == []
    await env.apply(tenant("fits"))
    await env.wait_phase("fits", "Active")
    assert await env.get("Namespace", f"{prefix}fits") is not None
    # CRDs made for this prefix (`landlord crds --config`): the API server refuses it first.
    await env.client.apply(all_crds(prefix)[3])
    with pytest.raises(KubeError) as error:
        await env.client.create(tenant("b" * 40))
    assert error.value.status == 422 and "at most 37 characters" in error.value.body["message"]
