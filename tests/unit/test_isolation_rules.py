"""Isolation rules against a hostile tenant, without a server: who holds a host, what a subdomain
may become, how many custom domains, how long a name, and whose a namespace is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from landlord.api.resolution import Refusal
from landlord.api.schemas import crd_by_kind, name_rule
from landlord.cli import main
from landlord.components import Observation
from landlord.components.claim_key import claim_token
from landlord.components.namespace import (
    ADOPT_ANNOTATION,
    CLAIM_ANNOTATION,
    ORPHANED_LABEL,
    TENANT_UID_ANNOTATION,
    claim_digest,
    conflict_message,
    ownership,
)
from landlord.config import ConfigError, parse
from landlord.controller.status import refused_status, tenant_status
from landlord.pipeline import StaticCatalogue, desire, resolve
from landlord.validation import Walker, validate_custom_resource
from tests.unit.test_pipeline import CONFIG, NOW, addon, observed, plan, tenant

DOMAINS = plan(limits={"cpu": "1", "customDomains": 3})


def reseller(name: str, base: str | None = None) -> dict[str, Any]:
    spec = {"baseDomain": base} if base else {}
    return {"apiVersion": "landlord.dev/v1alpha1", "kind": "Reseller", "metadata": {"name": name}, "spec": spec}


def violations(catalogue: StaticCatalogue, body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v.field, v.reason) for v in resolve(catalogue, body, config=CONFIG).violations]


# -- hosts ----------------------------------------------------------------------------------


def test_same_subdomain_under_one_base_domain_collides_whatever_the_reseller() -> None:
    first = tenant("first", created="2026-01-01T00:00:00Z", reseller="a", domains={"subdomain": "shop"})
    second = tenant("second", created="2026-01-02T00:00:00Z", reseller="b", domains={"subdomain": "shop"})
    direct = tenant("direct", created="2026-01-03T00:00:00Z", domains={"subdomain": "shop"})
    # Two resellers with one base domain (case and a trailing dot do not make it another).
    same = StaticCatalogue(
        [DOMAINS, reseller("a", "apps.shared.example"), reseller("b", "Apps.Shared.Example."), first, second]
    )
    assert violations(same, first) == []
    assert violations(same, second) == [("spec.domains.subdomain", "HostConflict")]
    # A reseller whose base domain is the operator's: its tenants meet the direct ones.
    operators = StaticCatalogue([DOMAINS, reseller("a", "apps.example.com"), first, direct])
    assert violations(operators, direct) == [("spec.domains.subdomain", "HostConflict")]
    message = resolve(operators, direct, config=CONFIG).violations[0].message
    assert "shop.apps.example.com" in message and "Tenant/first" in message
    # Different base domains: different hosts.
    apart = StaticCatalogue([DOMAINS, reseller("a", "apps.a.example"), reseller("b", "apps.b.example"), first, second])
    assert violations(apart, second) == []


def test_custom_domains_compare_as_dns_does_and_wildcards_overlap_one_label_down() -> None:
    owner = tenant("owner", created="2026-01-01T00:00:00Z", domains={"custom": ["shop.example.org", "*.example.net"]})
    shouting = tenant("shouting", created="2026-01-02T00:00:00Z", domains={"custom": ["SHOP.Example.ORG."]})
    wild = tenant("wild", created="2026-01-03T00:00:00Z", domains={"custom": ["*.example.org"]})
    under = tenant("under", created="2026-01-04T00:00:00Z", domains={"custom": ["a.example.net", "a.b.example.net"]})
    catalogue = StaticCatalogue([DOMAINS, owner, shouting, wild, under])
    assert violations(catalogue, owner) == []
    assert violations(catalogue, shouting) == [("spec.domains.custom[0]", "HostConflict")]
    assert violations(catalogue, wild) == [("spec.domains.custom[0]", "HostConflict")]
    assert (
        "overlaps 'shop.example.org' of Tenant/owner" in resolve(catalogue, wild, config=CONFIG).violations[0].message
    )
    # A wildcard covers one label: a.example.net collides with *.example.net, a.b.example.net does not.
    assert violations(catalogue, under) == [("spec.domains.custom[0]", "HostConflict")]


def test_a_custom_domain_under_a_base_domain_is_refused_and_takes_nothing() -> None:
    squatter = tenant(
        "squatter",
        created="2026-01-01T00:00:00Z",
        domains={"custom": ["bigco.apps.example.com", "*.apps.example.com", "x.apps.r.example"]},
    )
    bigco = tenant("bigco", created="2026-02-01T00:00:00Z")  # younger, but the host is its subdomain
    catalogue = StaticCatalogue([DOMAINS, reseller("r", "apps.r.example"), squatter, bigco])
    assert violations(catalogue, squatter) == [
        ("spec.domains.custom[0]", "DomainReserved"),
        ("spec.domains.custom[1]", "DomainReserved"),
        ("spec.domains.custom[2]", "DomainReserved"),
    ]
    assert violations(catalogue, bigco) == []
    assert "Reseller/r" in resolve(catalogue, squatter, config=CONFIG).violations[2].message


def test_the_tenant_that_holds_a_host_keeps_it_against_an_older_newcomer() -> None:
    older = tenant("older", created="2026-01-01T00:00:00Z", domains={"subdomain": "shop", "custom": ["a.example.org"]})
    holder = tenant(
        "holder", created="2026-02-01T00:00:00Z", domains={"subdomain": "shop", "custom": ["a.example.org"]}
    )
    holder["status"] = {
        "subdomain": "shop",
        "host": "shop.apps.example.com",
        "domains": [{"host": "a.example.org", "state": "Verified"}],
    }
    catalogue = StaticCatalogue([DOMAINS, older, holder])
    assert violations(catalogue, holder) == []
    assert violations(catalogue, older) == [
        ("spec.domains.subdomain", "HostConflict"),
        ("spec.domains.custom[0]", "HostConflict"),
    ]
    # A status written before status.host: the host of its url counts.
    holder["status"] = {
        "subdomain": "shop",
        "url": "https://shop.apps.example.com",
        "domains": holder["status"]["domains"],
    }
    assert violations(StaticCatalogue([DOMAINS, older, holder]), holder) == []


def test_an_older_tenant_that_moves_to_another_base_domain_does_not_take_the_host_served_there() -> None:
    # `older` was assigned shop.one.example (reseller a); `holder` serves shop.two.example (reseller b).
    older = tenant("older", created="2026-01-01T00:00:00Z", reseller="b", domains={"subdomain": "shop"})
    older["status"] = {"subdomain": "shop", "host": "shop.one.example", "url": "https://shop.one.example"}
    holder = tenant("holder", created="2026-02-01T00:00:00Z", reseller="b", domains={"subdomain": "shop"})
    holder["status"] = {"subdomain": "shop", "host": "shop.two.example", "url": "https://shop.two.example"}
    catalogue = StaticCatalogue([DOMAINS, reseller("a", "one.example"), reseller("b", "two.example"), older, holder])
    assert violations(catalogue, holder) == []
    assert violations(catalogue, older) == [("spec.domains.subdomain", "HostConflict")]
    message = resolve(catalogue, older, config=CONFIG).violations[0].message
    # A fix that is possible: its subdomain cannot change, its host was shop.one.example.
    assert "choose another subdomain" not in message
    assert "shop.one.example" in message and "spec.reseller" in message and "Tenant/holder" in message
    # Without a recorded host (a status from before status.host and without url), the label alone holds nothing.
    older["status"] = {"subdomain": "shop"}
    assert violations(catalogue, older) == [("spec.domains.subdomain", "HostConflict")]


def test_a_deleting_tenant_frees_its_hosts() -> None:
    gone = tenant("gone", created="2026-01-01T00:00:00Z", domains={"subdomain": "shop"})
    gone["metadata"]["deletionTimestamp"] = "2026-03-01T00:00:00Z"
    late = tenant("late", created="2026-02-01T00:00:00Z", domains={"subdomain": "shop"})
    assert violations(StaticCatalogue([DOMAINS, gone, late]), late) == []


# -- subdomain, custom domain count, namespace name --------------------------------------------


def test_an_assigned_subdomain_cannot_change_also_not_by_removing_domains() -> None:
    body = tenant("acme", domains={"subdomain": "shop"})
    body["status"] = {"subdomain": "shop"}
    catalogue = StaticCatalogue([DOMAINS, body])
    assert violations(catalogue, body) == []
    removed = {**body, "spec": {k: v for k, v in body["spec"].items() if k != "domains"}}
    assert violations(StaticCatalogue([DOMAINS, removed]), removed) == [
        ("spec.domains.subdomain", "SubdomainImmutable")
    ]
    changed = {**body, "spec": {**body["spec"], "domains": {"subdomain": "other"}}}
    with pytest.raises(Refusal) as refused:
        desire(changed, StaticCatalogue([DOMAINS, changed]), CONFIG, NOW)
    assert refused.value.reason == "SubdomainImmutable" and "set spec.domains.subdomain back to 'shop'" in str(
        refused.value
    )
    # The default (the name) is assigned too: an explicit subdomain equal to it is no change.
    default = tenant("acme", domains={"subdomain": "acme"})
    default["status"] = {"subdomain": "acme"}
    assert violations(StaticCatalogue([DOMAINS, default]), default) == []


def test_the_crd_holds_an_assigned_subdomain() -> None:
    schema = crd_by_kind()["Tenant"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    body = tenant("acme", domains={"subdomain": "shop"})
    body["status"] = {"subdomain": "shop"}

    def root_errors(obj: dict[str, Any]) -> list[str]:
        return [e.detail for e in validate_custom_resource(Walker(), schema, obj, None)[2]]

    assert root_errors(body) == []
    removed = {**body, "spec": {"plan": "basic"}}
    assert any("the subdomain shop is assigned" in e for e in root_errors(removed))
    assert root_errors({**body, "status": {}}) == []  # not assigned yet: it may still change


def test_custom_domains_are_bounded_by_the_effective_limit() -> None:
    three = ["a.example.org", "b.example.org", "c.example.org"]
    catalogue = StaticCatalogue([plan(limits={"customDomains": 1}), addon("more", limits={"customDomains": 1})])
    body = tenant("acme", domains={"custom": three})
    assert violations(catalogue, body) == [("spec.domains.custom", "DomainLimitExceeded")]
    assert "limit is 1" in resolve(catalogue, body, config=CONFIG).violations[0].message
    packed = tenant("acme", addOns=[{"name": "more", "quantity": 2}], domains={"custom": three})
    assert violations(catalogue, packed) == []  # 1 + 2 x 1
    pinned = tenant("acme", overrides={"limits": {"customDomains": "unlimited"}}, domains={"custom": three})
    assert violations(catalogue, pinned) == []
    waiting = tenant("acme", addOns=[{"name": "not-yet"}], domains={"custom": three})
    assert violations(catalogue, waiting) == [("spec.addOns[0].name", "AddOnNotFound")]  # limit not known yet


def test_the_namespace_name_fits_the_configured_prefix() -> None:
    long_prefix = parse({"namespacePrefix": "customers-of-the-platform-"})  # 26 characters: names up to 37
    fits, too_long = tenant("a" * 37), tenant("a" * 38)
    catalogue = StaticCatalogue([DOMAINS, fits, too_long])
    assert resolve(catalogue, fits, config=long_prefix).violations == []
    problem = resolve(catalogue, too_long, config=long_prefix).violations[0]
    assert (problem.field, problem.reason) == ("metadata.name", "NamespaceNameTooLong")
    assert "at most 37 characters" in problem.message
    with pytest.raises(Refusal):
        desire(too_long, catalogue, long_prefix, NOW)
    assert "size(self.metadata.name) <= 37" in name_rule("customers-of-the-platform-")["rule"]
    assert "size(self.metadata.name) <= 61" in name_rule()["rule"]
    with pytest.raises(ConfigError, match=r"namespacePrefix: 'p{63}' has 63 characters and leaves no room"):
        parse({"namespacePrefix": "p" * 63})


# -- namespace ownership ---------------------------------------------------------------------


def namespace(
    uid: str = "ns-1", labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "t-acme", "uid": uid, "labels": labels or {}, "annotations": annotations or {}}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


OURS = {"landlord.dev/tenant": "acme", "app.kubernetes.io/managed-by": "landlord"}


def owner(**status: Any) -> dict[str, Any]:
    body = tenant("acme")
    body["metadata"]["uid"] = "tenant-1"
    body["status"] = status
    return body


def test_only_the_namespace_landlord_made_for_this_tenant_is_its() -> None:
    assert ownership(owner(namespaceUID="ns-1"), namespace("ns-1")) == "recorded"
    # Copying every label and the Tenant's uid proves nothing.
    forged = namespace("ns-2", OURS, {TENANT_UID_ANNOTATION: "tenant-1", CLAIM_ANNOTATION: "guess"})
    assert ownership(owner(namespaceUID="ns-1"), forged) is None
    assert ownership(owner(), forged) is None
    # Killed between the create and the uid's recording: the token whose digest the status holds.
    made = namespace("ns-3", OURS, {CLAIM_ANNOTATION: "secret-token"})
    assert ownership(owner(namespaceClaim=claim_digest("secret-token")), made) == "claimed"
    assert ownership(owner(namespaceClaim=claim_digest("other")), made) is None
    # A claim digest anywhere the Tenant's author can write (an annotation) proves nothing: with a
    # namespace made in advance carrying the token, it would hand that namespace to the tenant.
    forged_claim = owner()
    forged_claim["metadata"]["annotations"] = {"landlord.dev/namespace-claim": claim_digest("secret-token")}
    assert ownership(forged_claim, made) is None
    # The claim a namespace gets from an operator holding the claim key: no status write before.
    key = b"k" * 32
    first = claim_token(key, "tenant-1", None)
    made_first = namespace("ns-7", OURS, {CLAIM_ANNOTATION: first})
    assert ownership(owner(), made_first, first) == "claimed"
    assert ownership(owner(), made_first, claim_token(b"x" * 32, "tenant-1", None)) is None  # another key
    assert ownership(owner(), made_first, claim_token(key, "tenant-2", None)) is None  # another Tenant
    # Once readable on the namespace recorded, it claims no later one: the next names that uid.
    later = claim_token(key, "tenant-1", "ns-7")
    assert later != first
    assert ownership(owner(namespaceUID="ns-7"), namespace("ns-8", OURS, {CLAIM_ANNOTATION: first}), later) is None
    assert ownership(owner(namespaceUID="ns-7"), namespace("ns-8", OURS, {CLAIM_ANNOTATION: later}), later) == "claimed"
    # An administrator's explicit gift names this Tenant object by uid.
    assert ownership(owner(), namespace("ns-4", None, {ADOPT_ANNOTATION: "tenant-1"})) == "adopted"
    assert ownership(owner(), namespace("ns-4", None, {ADOPT_ANNOTATION: "tenant-0"})) is None
    # Provisioned by an older Landlord (status.namespace, no uid yet): its labelled namespace.
    assert ownership(owner(namespace="t-acme"), namespace("ns-5", OURS)) == "legacy"
    assert ownership(owner(namespace="t-acme", namespaceUID="ns-1"), namespace("ns-5", OURS)) is None
    orphan = namespace("ns-6", {"landlord.dev/former-tenant": "acme", ORPHANED_LABEL: "true"})
    assert ownership(owner(namespace="t-acme"), orphan) is None
    assert "kept with its data when an earlier Tenant acme was deleted" in conflict_message(owner(), orphan)
    assert f"kubectl annotate namespace t-acme {ADOPT_ANNOTATION}=tenant-1" in conflict_message(owner(), forged)


def test_a_namespace_conflict_fails_the_tenant_and_a_refusal_keeps_the_ownership_record() -> None:
    body = tenant("acme", created="2026-01-01T00:00:00Z")
    desired = desire(body, StaticCatalogue([plan(), body]), CONFIG, NOW)
    conflict = Observation(False, "NamespaceConflict", "namespace t-acme already exists", failed=True)
    status = tenant_status(body, desired, observed(NamespaceReady=conflict), NOW)
    assert (status["phase"], status["reason"]) == ("Failed", "NamespaceConflict")
    assert status["message"].startswith("NamespaceReady: namespace t-acme already exists")
    # Failed before it was ever provisioned: it holds no host (no precedence for a host it never served).
    assert status.get("subdomain") is None and status.get("host") is None  # (None: not written)
    ok = tenant_status(body, desired, observed(), NOW)
    assert (ok["subdomain"], ok["host"]) == ("acme", "acme.apps.example.com")
    body["status"] = {"subdomain": "acme", "host": "acme.apps.example.com"}
    failed_later = tenant_status(body, desired, observed(NamespaceReady=conflict), NOW)
    assert (failed_later["subdomain"], failed_later["host"]) == ("acme", "acme.apps.example.com")
    body["status"] = {"namespace": "t-acme", "namespaceUID": "ns-1", "namespaceClaim": "sha256:x", "subdomain": "s"}
    kept = refused_status(body, Refusal("Failed", "PlanRetired", "retired", "spec.plan"), NOW)
    assert (kept["namespaceUID"], kept["namespaceClaim"], kept["subdomain"]) == ("ns-1", "sha256:x", "s")


def test_a_prefix_that_leaves_no_room_for_a_name_stops_the_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "landlord.yaml"
    config.write_text(f"namespacePrefix: {'p' * 63}\n")
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--config", str(config)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "namespacePrefix" in err and "leaves no room for a tenant name" in err


def test_a_conflict_with_a_namespace_carrying_landlords_labels_says_who_can_resolve_it() -> None:
    forged = conflict_message(owner(), namespace(uid="forged", labels=OURS))
    assert "landlord-managed-objects" in forged and "landlord-system/landlord-admission" in forged
    assert "`groups`" in forged and "break-glass" in forged
    plain = conflict_message(owner(), namespace(uid="other"))
    assert "landlord-managed-objects" not in plain and "kubectl delete namespace t-acme" in plain
