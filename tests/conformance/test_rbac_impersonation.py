"""User impersonation, and RBAC as the real kubectl sees it (`--as`, `auth can-i`, `auth whoami`).

Sections cited:
- https://kubernetes.io/docs/reference/access-authn-authz/user-impersonation/
- https://kubernetes.io/docs/reference/access-authn-authz/rbac/ (#privilege-escalation-prevention-and-bootstrapping)
- https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from landlord.devcluster import DevCluster
from tests.conformance.test_kubectl import Kubectl, manifest
from tests.conformance.test_rbac import (
    GROUP,
    RBAC,
    WHOAMI,
    Login,
    bind,
    forbidden_message,
    logins,
    make_role,
    rule,
    user_subject,
)
from tests.helpers import Http


async def whoami(http: Http, **headers: str) -> tuple[int, Any]:
    status, body = await http.request("POST", WHOAMI, {}, headers=headers)
    return status, body["status"]["userInfo"] if status == 201 else body


@pytest.fixture
async def login(devcluster: DevCluster) -> AsyncIterator[Login]:
    async with logins(devcluster) as open_as:
        yield open_as


# -- impersonation headers ------------------------------------------------------------------------
async def test_impersonating_needs_the_impersonate_verb(http: Http, login: Login) -> None:
    """Impersonation requires `impersonate` on the users (by name) the request acts as; refused, the
    request answers 403 naming what could not be impersonated; allowed, the request is authorized
    as the impersonated user (with system:authenticated), not as the impersonator."""
    alice = await login("alice")
    status, body = await alice.request("GET", "/api/v1/namespaces/default/pods", headers={"Impersonate-User": "bob"})
    assert forbidden_message(status, body) == (
        'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" '
        "at the cluster scope"
    )
    assert body["details"] == {"name": "bob", "kind": "users"}
    await make_role(http, "impersonate-bob", [rule([""], ["users"], ["impersonate"], names=["bob"])])
    await bind(http, "alice-bob", "impersonate-bob", [user_subject("alice")])
    assert await whoami(alice, **{"Impersonate-User": "bob"}) == (
        201,
        {"username": "bob", "groups": ["system:authenticated"]},
    )
    status, body = await alice.request("GET", "/api/v1/namespaces/default/pods", headers={"Impersonate-User": "bob"})
    assert forbidden_message(status, body).startswith('pods is forbidden: User "bob" cannot list')
    await bind(http, "bob-view", "view", [user_subject("bob")], "default")
    assert (await alice.request("GET", "/api/v1/namespaces/default/pods", headers={"Impersonate-User": "bob"}))[
        0
    ] == 200
    assert (await alice.get("/api/v1/namespaces/default/pods"))[0] == 403  # alice herself still cannot
    status, body = await alice.request("GET", "/version", headers={"Impersonate-User": "carol"})
    assert 'users "carol" is forbidden' in forbidden_message(status, body)


async def test_impersonating_groups_uids_and_extras(http: Http, login: Login) -> None:
    """Each Impersonate-Group needs `impersonate` on that group; Impersonate-Uid on `uids` and each
    Impersonate-Extra-KEY value on `userextras/KEY` (group authentication.k8s.io). Given groups
    replace the user's (system:authenticated is added)."""
    await make_role(
        http,
        "impersonator",
        [
            rule([""], ["users"], ["impersonate"]),
            rule([""], ["groups"], ["impersonate"], names=["devs"]),
            rule(["authentication.k8s.io"], ["uids"], ["impersonate"]),
            rule(["authentication.k8s.io"], ["userextras/scopes"], ["impersonate"], names=["view"]),
        ],
    )
    await bind(http, "alice-impersonator", "impersonator", [user_subject("alice")])
    alice = await login("alice")
    status, info = await whoami(
        alice,
        **{
            "Impersonate-User": "jane",
            "Impersonate-Group": "devs",
            "Impersonate-Uid": "06f6ce97",
            "Impersonate-Extra-scopes": "view",
        },
    )
    assert status == 201
    assert info == {
        "username": "jane",
        "uid": "06f6ce97",
        "groups": ["devs", "system:authenticated"],
        "extra": {"scopes": ["view"]},
    }
    status, body = await whoami(alice, **{"Impersonate-User": "jane", "Impersonate-Group": "system:masters"})
    assert forbidden_message(status, body) == (
        'groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" '
        "at the cluster scope"
    )
    status, body = await whoami(alice, **{"Impersonate-User": "jane", "Impersonate-Extra-scopes": "admin"})
    assert forbidden_message(status, body) == (
        'userextras.authentication.k8s.io "admin" is forbidden: User "alice" cannot impersonate resource '
        '"userextras/scopes" in API group "authentication.k8s.io" at the cluster scope'
    )
    status, body = await whoami(alice, **{"Impersonate-Group": "devs"})  # a group without a user
    assert status == 500


async def test_impersonating_a_service_account(http: Http, login: Login) -> None:
    """A `system:serviceaccount:NS:NAME` user is impersonated with `impersonate` on that
    ServiceAccount in its namespace, and acts with the ServiceAccount groups."""
    alice = await login("alice")
    robot = {"Impersonate-User": "system:serviceaccount:t-acme:robot"}
    status, body = await whoami(alice, **robot)
    assert forbidden_message(status, body) == (
        'serviceaccounts "robot" is forbidden: User "alice" cannot impersonate resource "serviceaccounts" '
        'in API group "" in the namespace "t-acme"'
    )
    await make_role(http, "sa-impersonator", [rule([""], ["serviceaccounts"], ["impersonate"])])
    await http.post("/api/v1/namespaces", {"metadata": {"name": "t-acme"}})
    await bind(http, "alice-sa", "sa-impersonator", [user_subject("alice")], "t-acme")
    assert await whoami(alice, **robot) == (
        201,
        {
            "username": "system:serviceaccount:t-acme:robot",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:t-acme", "system:authenticated"],
        },
    )


async def test_the_admin_impersonates_anyone(http: Http) -> None:
    """system:masters may impersonate anyone: the way tests and `kubectl --as` check a user's view."""
    assert await whoami(http, **{"Impersonate-User": "x", "Impersonate-Group": "g1"}) == (
        201,
        {"username": "x", "groups": ["g1", "system:authenticated"]},
    )
    # system:anonymous is put in system:unauthenticated (not system:authenticated): public info only.
    anonymous = {"Impersonate-User": "system:anonymous"}
    assert (await http.request("GET", "/version", headers=anonymous))[0] == 200
    status, body = await http.request("GET", "/api", headers=anonymous)
    assert forbidden_message(status, body) == 'forbidden: User "system:anonymous" cannot get path "/api"'


# -- kubectl ----------------------------------------------------------------------------------------
@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path)


def role_binding(name: str, namespace: str, role: str, user: str) -> str:
    return manifest(
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "name": user, "apiGroup": GROUP}],
        }
    )


@pytest.mark.kubectl
async def test_kubectl_as_a_user(kubectl: Kubectl) -> None:
    """`kubectl --as=alice` impersonates alice: forbidden until a RoleBinding grants her the view
    role, and `kubectl auth can-i` (SelfSubjectAccessReview) agrees, answering yes or no with
    exit code 0 or 1; `auth whoami` shows the impersonated user."""
    await kubectl("create", "namespace", "x")
    code, _, err = await kubectl("--as=alice", "get", "pods", "-n", "x", ok=False)
    assert code == 1
    assert (
        'Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" '
        'in API group "" in the namespace "x"'
    ) in err
    code, out, _ = await kubectl("--as=alice", "auth", "can-i", "list", "pods", "-n", "x", ok=False)
    assert (code, out.strip()) == (1, "no")
    await kubectl("apply", "-f", "-", stdin=role_binding("alice-view", "x", "view", "alice"))
    _, out, err = await kubectl("--as=alice", "get", "pods", "-n", "x")
    assert "No resources found in x namespace." in out + err
    code, out, _ = await kubectl("--as=alice", "auth", "can-i", "list", "pods", "-n", "x")
    assert (code, out.strip()) == (0, "yes")
    code, out, _ = await kubectl("--as=alice", "auth", "can-i", "create", "pods", "-n", "x", ok=False)
    assert (code, out.strip()) == (1, "no")
    _, out, _ = await kubectl("--as=alice", "auth", "can-i", "--list", "-n", "x")
    lines = [line.split() for line in out.splitlines()]
    assert ["pods", "[]", "[]", "[get", "list", "watch]"] in lines
    assert not any(line and line[0] == "secrets" for line in lines)
    _, out, _ = await kubectl("--as=alice", "--as-group=devs", "auth", "whoami")
    assert out.split() == ["ATTRIBUTE", "VALUE", "Username", "alice", "Groups", "[devs", "system:authenticated]"]


@pytest.mark.kubectl
async def test_kubectl_with_a_users_token(tls_devcluster: DevCluster, tmp_path: Path) -> None:
    """A kubeconfig with a user's own token (DevCluster.add_user) acts as that user; a namespace
    admin cannot bind cluster-admin in its namespace (privilege-escalation prevention). Over HTTPS:
    client-go sends a kubeconfig's credentials only over TLS."""
    tls_devcluster.add_user("alice-token", "alice")
    admin = Kubectl(tls_devcluster.write_kubeconfig(tmp_path / "admin" / "kubeconfig"), tmp_path / "admin")
    await admin("create", "namespace", "t-acme")
    await admin("apply", "-f", "-", stdin=role_binding("owner", "t-acme", "admin", "alice"))
    alice_config = tls_devcluster.write_kubeconfig(tmp_path / "alice" / "kubeconfig", token="alice-token")
    alice = Kubectl(alice_config, tmp_path / "alice")
    _, out, _ = await alice("auth", "whoami")
    assert out.split() == ["ATTRIBUTE", "VALUE", "Username", "alice", "Groups", "[system:authenticated]"]
    _, out, _ = await alice("apply", "-f", "-", stdin=role_binding("bob-edit", "t-acme", "edit", "bob"))
    assert "rolebinding.rbac.authorization.k8s.io/bob-edit created" in out
    code, _, err = await alice(
        "apply", "-f", "-", stdin=role_binding("root", "t-acme", "cluster-admin", "alice"), ok=False
    )
    assert code == 1
    assert 'rolebindings.rbac.authorization.k8s.io "root" is forbidden: user "alice"' in err
    assert "is attempting to grant RBAC permissions not currently held" in err
    code, _, err = await alice("get", "secrets", "-n", "default", ok=False)
    assert code == 1 and 'User "alice" cannot list resource "secrets"' in err
    _, out, _ = await alice("get", "rolebindings", "-n", "t-acme", "-o", "name")
    assert out.split() == [f"rolebinding.{GROUP}/bob-edit", f"rolebinding.{GROUP}/owner"]


async def test_rbac_path_is_served(http: Http) -> None:
    """The default roles are visible as objects (kubectl get clusterroles)."""
    status, listed = await http.get(f"{RBAC}/clusterroles")
    assert status == 200
    names = {item["metadata"]["name"] for item in listed["items"]}
    assert {"cluster-admin", "admin", "edit", "view", "system:discovery", "system:public-info-viewer"} <= names
