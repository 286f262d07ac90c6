"""A namespace is a tenant's only when Landlord made it for that Tenant: never adopted, never
deleted otherwise; deletionPolicy Retain keeps it with its data, without the owners' access."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.helpers import eventually
from tests.integration.conftest import Env
from tests.integration.test_tenancy import plan, tenant

ADOPT = "landlord.dev/adopt"


def namespace(name: str, labels: dict[str, str] | None = None, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations},
    }


def data(namespace_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "data", "namespace": namespace_name},
        "data": {"rows": "42"},
    }


async def tenant_events(env: Env, name: str) -> list[str]:
    found = await env.client.list("Event", "default")
    return [e["reason"] for e in found if e["involvedObject"].get("name") == name]


async def test_a_namespace_made_before_the_tenant_is_never_adopted_nor_deleted(env: Env) -> None:
    await env.apply(plan())
    await env.client.create(namespace("t-pre"))
    await env.client.create(data("t-pre"))
    before = await env.get("Namespace", "t-pre")
    await env.start_operator()
    await env.apply(tenant("pre", deletionPolicy="Delete"))
    obj = await env.wait_phase("pre", "Failed")
    assert obj["status"]["reason"] == "NamespaceConflict"
    message = obj["status"]["message"]
    assert "t-pre already exists and was not created by Landlord" in message
    assert f"kubectl annotate namespace t-pre {ADOPT}={obj['metadata']['uid']}" in message
    assert "namespace" not in obj["status"] and "namespaceUID" not in obj["status"]
    await env.quiet()
    after = await env.get("Namespace", "t-pre")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]  # not one write
    assert await env.client.list("RoleBinding", "t-pre") == []
    assert await env.client.list("ResourceQuota", "t-pre") == []
    # Retried with backoff, the Failed tenant makes no write at all.
    writes = env.controller.client.counts["writes"]
    env.controller.queue.add(("Tenant", "pre"))
    await env.quiet()
    assert env.controller.client.counts["writes"] == writes
    await env.client.delete("Tenant", "pre")  # deletionPolicy Delete, but not its namespace

    async def tenant_gone() -> bool:
        return await env.get("Tenant", "pre") is None

    await eventually(tenant_gone)
    kept = await env.get("Namespace", "t-pre")
    assert kept is not None and not kept["metadata"].get("deletionTimestamp")
    assert (await env.get("ConfigMap", "data", "t-pre"))["data"] == {"rows": "42"}


async def test_copying_landlords_labels_and_the_tenants_uid_does_not_make_a_namespace_its(env: Env) -> None:
    await env.apply(plan())
    created = await env.client.create(tenant("forged"))  # no operator yet: its uid is readable
    labels = {"landlord.dev/tenant": "forged", "landlord.dev/plan": "basic", "app.kubernetes.io/managed-by": "landlord"}
    # Created with the operator's own field manager (the client's), the Tenant's uid and a guessed claim.
    await env.client.create(
        namespace(
            "t-forged",
            labels,
            **{"landlord.dev/tenant-uid": created["metadata"]["uid"], "landlord.dev/claim": "guess"},
        )
    )
    before = await env.get("Namespace", "t-forged")
    await env.start_operator()
    obj = await env.wait_phase("forged", "Failed")
    assert obj["status"]["reason"] == "NamespaceConflict"
    await env.quiet()
    assert (await env.get("Namespace", "t-forged"))["metadata"]["resourceVersion"] == before["metadata"][
        "resourceVersion"
    ]
    assert await env.client.list("RoleBinding", "t-forged") == []
    assert await env.client.list("NetworkPolicy", "t-forged") == []
    # Once it is gone, the tenant gets a namespace of its own.
    await env.client.delete("Namespace", "t-forged")

    async def provisioned() -> dict[str, Any] | None:
        obj = await env.get("Tenant", "forged")
        ready = {c["type"]: c["status"] for c in obj["status"].get("conditions") or []}.get("Ready")
        return obj if ready == "True" else None

    obj = await eventually(provisioned)
    own = await env.get("Namespace", "t-forged")
    assert obj["status"]["namespaceUID"] == own["metadata"]["uid"] != before["metadata"]["uid"]
    assert "namespaceClaim" not in obj["status"]


async def _killed_between_create_and_record(env: Env) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tenant whose operator was stopped right after creating its namespace, before the uid's
    recording: the Tenant's status then, and the namespace as created."""
    await env.apply(plan())
    operator = await env.start_operator()
    client = operator.state.client
    original = client.create
    made: list[dict[str, Any]] = []

    async def create_then_hang(obj: dict[str, Any]) -> dict[str, Any]:
        result = await original(obj)
        if obj["kind"] == "Namespace":
            made.append(result)
            await asyncio.sleep(3600)  # killed before the uid reaches the status
        return result

    client.create = create_then_hang  # type: ignore[method-assign]
    await env.apply(tenant("killed"))
    await eventually(lambda: bool(made))
    await env.stop_operator()
    return (await env.get("Tenant", "killed")).get("status") or {}, made[0]


async def test_killed_between_creating_the_namespace_and_recording_it_is_still_its_own(env: Env) -> None:
    status, made = await _killed_between_create_and_record(env)
    # Nothing was written to the Tenant before the create: the namespace's claim is the operator's HMAC.
    assert "namespaceClaim" not in status and "namespaceUID" not in status
    assert made["metadata"]["annotations"]["landlord.dev/claim"].startswith("hmac-sha256:")
    namespace_uid = made["metadata"]["uid"]
    await env.start_operator()
    obj = await env.wait_phase("killed", "Active")
    assert obj["status"]["namespaceUID"] == namespace_uid  # the same namespace, recognised by its claim
    assert "namespaceClaim" not in obj["status"]
    assert await env.get("RoleBinding", "landlord-owners", "t-killed") is not None


async def test_a_tenant_deleted_after_a_kill_before_the_recording_still_gets_its_namespace_dealt_with(
    env: Env,
) -> None:
    """Deleted right after such a kill: the namespace is recognised by its claim there too, and kept
    as an orphan (Retain, the default), not left behind as someone else's."""
    status, made = await _killed_between_create_and_record(env)
    assert "namespaceUID" not in status
    await env.client.delete("Tenant", "killed")
    await env.start_operator()

    async def tenant_gone() -> bool:
        return await env.get("Tenant", "killed") is None

    await eventually(tenant_gone, timeout=15)
    kept = await env.get("Namespace", "t-killed")
    assert kept is not None and kept["metadata"]["uid"] == made["metadata"]["uid"]
    assert kept["metadata"]["labels"].get("landlord.dev/orphaned") == "true"
    assert "NamespaceLeft" not in await tenant_events(env, "killed")


async def test_without_the_claim_key_the_claim_is_recorded_in_the_status_first(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Secret can be read or made (here: the operator's namespace does not exist): the claim's
    digest goes to the status before the create, and a kill in between is recognised all the same."""
    monkeypatch.setenv("LANDLORD_NAMESPACE", "landlord-nowhere")
    status, made = await _killed_between_create_and_record(env)
    assert status["namespaceClaim"].startswith("sha256:") and "namespaceUID" not in status
    await env.start_operator()
    obj = await env.wait_phase("killed", "Active")
    assert obj["status"]["namespaceUID"] == made["metadata"]["uid"]
    assert "namespaceClaim" not in obj["status"]


async def test_a_claim_read_on_the_tenants_namespace_claims_no_later_one(env: Env) -> None:
    """The owner can read its namespace's claim. Should the namespace go, a namespace made in
    advance with that claim copied onto it is still not the tenant's: the next claim names the
    first namespace's uid."""
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("replay"))
    first = await env.wait_phase("replay", "Active")
    live = await env.get("Namespace", "t-replay")
    copied = live["metadata"]["annotations"]["landlord.dev/claim"]
    await env.stop_operator()
    await env.client.delete("Namespace", "t-replay")

    async def gone() -> bool:
        return await env.get("Namespace", "t-replay") is None

    await eventually(gone, timeout=15)
    labels = {"landlord.dev/tenant": "replay", "landlord.dev/plan": "basic", "app.kubernetes.io/managed-by": "landlord"}
    uid = {"landlord.dev/tenant-uid": first["metadata"]["uid"]}
    forged = await env.client.create(namespace("t-replay", labels, **uid, **{"landlord.dev/claim": copied}))
    await env.start_operator()
    obj = await env.wait_phase("replay", "Failed")
    assert obj["status"]["reason"] == "NamespaceConflict"
    assert obj["status"]["namespaceUID"] == first["status"]["namespaceUID"] != forged["metadata"]["uid"]
    assert await env.client.list("RoleBinding", "t-replay") == []


async def test_retain_keeps_the_namespace_and_data_without_access_and_never_hands_it_on(env: Env) -> None:
    await env.apply(plan())
    await env.start_operator()
    await env.apply(tenant("kept"))  # deletionPolicy defaults to Retain
    first = await env.wait_phase("kept", "Active")
    await env.client.create(data("t-kept"))
    await env.client.delete("Tenant", "kept")

    async def tenant_gone() -> bool:
        return await env.get("Tenant", "kept") is None

    await eventually(tenant_gone)
    orphan = await env.get("Namespace", "t-kept")
    assert orphan is not None and not orphan["metadata"].get("deletionTimestamp")
    assert orphan["metadata"]["uid"] == first["status"]["namespaceUID"]
    labels = orphan["metadata"]["labels"]
    assert labels["landlord.dev/orphaned"] == "true" and labels["landlord.dev/former-tenant"] == "kept"
    assert not {"landlord.dev/tenant", "app.kubernetes.io/managed-by"} & set(labels)  # no longer Landlord's
    assert orphan["metadata"]["annotations"]["landlord.dev/tenant-uid"] == first["metadata"]["uid"]
    assert await env.get("RoleBinding", "landlord-owners", "t-kept") is None
    assert (await env.get("ConfigMap", "data", "t-kept"))["data"] == {"rows": "42"}
    assert "NamespaceRetained" in await tenant_events(env, "kept")
    assert "Orphaned" in await tenant_events(env, "t-kept")

    # A new Tenant of the same name does not get the orphan (nor its data) by itself.
    await env.apply(tenant("kept"))
    obj = await env.wait_phase("kept", "Failed")
    assert obj["status"]["reason"] == "NamespaceConflict"
    assert "kept with its data when an earlier Tenant kept was deleted" in obj["status"]["message"]
    await env.quiet()
    assert await env.get("RoleBinding", "landlord-owners", "t-kept") is None

    # An administrator gives it to the new Tenant, by that Tenant's uid.
    await env.client.patch("Namespace", "t-kept", {"metadata": {"annotations": {ADOPT: obj["metadata"]["uid"]}}})
    env.controller.queue.add(("Tenant", "kept"))  # (an unwatched annotation: the retry would find it too)
    adopted = await env.wait_phase("kept", "Active")
    assert adopted["status"]["namespaceUID"] == orphan["metadata"]["uid"]
    ns = await env.get("Namespace", "t-kept")
    assert "landlord.dev/orphaned" not in ns["metadata"]["labels"] and ADOPT not in ns["metadata"]["annotations"]
    assert "landlord.dev/former-tenant" not in ns["metadata"]["labels"]
    assert ns["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "landlord"
    assert ns["metadata"]["labels"]["landlord.dev/tenant"] == "kept"
    assert await env.get("RoleBinding", "landlord-owners", "t-kept") is not None
    assert (await env.get("ConfigMap", "data", "t-kept"))["data"] == {"rows": "42"}
    assert "NamespaceAdopted" in await tenant_events(env, "kept")
