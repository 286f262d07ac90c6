"""The owners' ClusterRoles shipped beside the CRDs: what they allow, and what they must never allow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from landlord.cli import asset_text
from landlord.config import parse
from landlord.render.cluster import (
    AGGREGATE_TO_OWNER,
    AGGREGATE_TO_VIEWER,
    ASSET_FILES,
    OWNER_ROLE,
    VIEWER_ROLE,
    admission_assets,
    tenant_roles,
)

ROOT = Path(__file__).resolve().parents[2]
READ = {"get", "list", "watch"}
WRITE = {"create", "update", "patch", "delete", "deletecollection"}
# What isolates a tenant (or reaches beyond its namespace): no write, whatever the role.
ISOLATION = {
    ("", "namespaces"),
    ("", "resourcequotas"),
    ("", "resourcequotas/status"),
    ("", "limitranges"),
    ("networking.k8s.io", "networkpolicies"),
    ("", "endpoints"),  # CVE-2021-25740
    ("discovery.k8s.io", "endpointslices"),
    ("", "services/status"),  # a forged load-balancer address
    ("", "pods/status"),
    ("policy", "poddisruptionbudgets"),  # blocks node drains
}
# Never granted at all, not even to read.
NEVER = {
    ("", "nodes"),
    ("", "nodes/proxy"),
    ("", "persistentvolumes"),
    ("", "pods/ephemeralcontainers"),
    ("", "services/proxy"),
    ("", "pods/proxy"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
}
NEVER_GROUPS = {
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "certificates.k8s.io",
    "storage.k8s.io",
    "gateway.networking.k8s.io",
}
NEVER_VERBS = {"escalate", "bind", "impersonate", "approve", "sign", "*"}


def roles() -> dict[str, dict[str, Any]]:
    return {role["metadata"]["name"]: role for role in tenant_roles()}


def aggregated_rules(name: str) -> list[dict[str, Any]]:
    """What the API server's aggregation controller makes of an aggregated ClusterRole."""
    all_roles = roles()
    selectors = all_roles[name]["aggregationRule"]["clusterRoleSelectors"]
    rules: list[dict[str, Any]] = []
    for role in all_roles.values():
        labels = role["metadata"].get("labels") or {}
        if any(all(labels.get(k) == v for k, v in s["matchLabels"].items()) for s in selectors):
            rules.extend(role.get("rules") or [])
    return rules


def allows(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"] for rule in rules)


def test_no_role_grants_what_isolates_the_tenant_or_escalates() -> None:
    problems: list[str] = []
    for name, role in roles().items():
        for rule in role.get("rules") or []:
            verbs = set(rule["verbs"])
            if "*" in rule["apiGroups"] or "*" in rule["resources"] or NEVER_VERBS & verbs:
                problems.append(f"{name}: wildcard or escalating rule {rule}")
            if rule.get("nonResourceURLs") or rule.get("resourceNames"):
                problems.append(f"{name}: unexpected rule shape {rule}")
            for group in rule["apiGroups"]:
                if group in NEVER_GROUPS:
                    problems.append(f"{name}: grants on API group {group!r}")
                for resource in rule["resources"]:
                    if (group, resource) in NEVER:
                        problems.append(f"{name}: grants {sorted(verbs)} on {group or 'core'}/{resource}")
                    if (group, resource) in ISOLATION and verbs - READ:
                        problems.append(f"{name}: may change {group or 'core'}/{resource} ({sorted(verbs - READ)})")
    assert problems == []


def test_the_owner_runs_an_application_and_binds_within_its_own_rights() -> None:
    owner = aggregated_rules(OWNER_ROLE)
    for group, resource in [
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("", "services"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "persistentvolumeclaims"),
        ("networking.k8s.io", "ingresses"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
    ]:
        assert allows(owner, group, resource, "create") and allows(owner, group, resource, "delete"), resource
        assert allows(owner, group, resource, "get"), f"the owner reads {resource} too (from the viewer base)"
    assert allows(owner, "", "pods/exec", "create") and allows(owner, "", "pods/log", "get")
    assert allows(owner, "", "secrets", "get")
    # Reads what isolates it, so that it can see why something is refused.
    for group, resource in [("", "resourcequotas"), ("networking.k8s.io", "networkpolicies"), ("", "limitranges")]:
        assert allows(owner, group, resource, "get") and not allows(owner, group, resource, "update")


def test_no_role_grants_landlord_kinds_without_crds() -> None:
    """Backups and Restores have no CRDs yet: granted once they exist (docs/tenant-isolation.md)."""
    for name in (OWNER_ROLE, VIEWER_ROLE):
        assert not any("landlord.dev" in rule["apiGroups"] for rule in aggregated_rules(name)), name


def test_the_viewer_only_reads_and_never_secrets() -> None:
    viewer = aggregated_rules(VIEWER_ROLE)
    assert viewer and all(set(rule["verbs"]) <= READ for rule in viewer)
    assert allows(viewer, "apps", "deployments", "get") and allows(viewer, "", "pods/log", "get")
    assert not allows(viewer, "", "secrets", "get"), "a ServiceAccount token would give write rights back"
    assert not allows(viewer, "", "pods/exec", "create")
    assert not allows(viewer, "apps", "deployments/scale", "update"), "suspension scaled them to 0"


def test_both_roles_are_aggregated_so_platform_teams_can_extend_them() -> None:
    all_roles = roles()
    assert all_roles[OWNER_ROLE]["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {AGGREGATE_TO_OWNER: "true"}}
    ]
    assert all_roles[VIEWER_ROLE]["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {AGGREGATE_TO_VIEWER: "true"}}
    ]
    assert "rules" not in all_roles[OWNER_ROLE], "the aggregation controller owns `rules`"
    labels = all_roles[f"{VIEWER_ROLE}-base"]["metadata"]["labels"]
    assert labels[AGGREGATE_TO_OWNER] == labels[AGGREGATE_TO_VIEWER] == "true"


def test_the_operator_binds_the_shipped_roles_by_default() -> None:
    config = parse({})
    assert config.owner_cluster_role == OWNER_ROLE and config.viewer_cluster_role == VIEWER_ROLE


@pytest.mark.parametrize("obj", [*tenant_roles(), *admission_assets()], ids=lambda o: o["metadata"]["name"])
def test_shipped_objects_pass_kubernetes_schemas(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, "1.30", strict=True)


@pytest.mark.parametrize("name", list(ASSET_FILES))
def test_crds_folder_holds_the_generated_cluster_objects(name: str) -> None:
    what, build = ASSET_FILES[name]
    path = ROOT / "crds" / name
    assert path.read_text() == asset_text(what, build()), f"{path} is stale: run `landlord crds --output crds/`"
