"""Authentication and RBAC authorization, as the Kubernetes documentation describes them.

Sections cited:
- RBAC: https://kubernetes.io/docs/reference/access-authn-authz/rbac/ (#role-and-clusterrole,
  #rolebinding-and-clusterrolebinding, #referring-to-resources, #referring-to-subjects,
  #aggregated-clusterroles, #default-roles-and-role-bindings, #discovery-roles,
  #user-facing-roles, #privilege-escalation-prevention-and-bootstrapping)
- Authorization: https://kubernetes.io/docs/reference/access-authn-authz/authorization/
  (#review-your-request-attributes, #determine-the-request-verb, #checking-api-access)
- Authentication: https://kubernetes.io/docs/reference/access-authn-authz/authentication/
  (#anonymous-requests, #users-in-kubernetes)

Impersonation and kubectl are in test_rbac_impersonation.py.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import pytest

from landlord.devcluster import DevCluster
from landlord.devcluster.authorization import request_attributes
from landlord.devcluster.identity import ANONYMOUS, UserInfo
from tests.conformance.test_objects import install_widgets, widget
from tests.helpers import Http, eventually

RBAC = "/apis/rbac.authorization.k8s.io/v1"
GROUP = "rbac.authorization.k8s.io"
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"

Login = Callable[..., Awaitable[Http]]


# -- helpers --------------------------------------------------------------------------------------
def rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        out["resourceNames"] = names
    return out


def user_subject(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name, "apiGroup": GROUP}


async def make_role(
    http: Http, name: str, rules: list[dict[str, Any]], namespace: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A Role (with a namespace) or ClusterRole, created by the admin."""
    kind, path = (
        ("Role", f"{RBAC}/namespaces/{namespace}/roles") if namespace else ("ClusterRole", f"{RBAC}/clusterroles")
    )
    status, body = await http.post(path, {"kind": kind, "metadata": {"name": name}, "rules": rules, **extra})
    assert status == 201, body
    return dict(body)


async def bind(
    http: Http,
    name: str,
    role: str,
    subjects: list[dict[str, str]],
    namespace: str | None = None,
    role_kind: str = "ClusterRole",
) -> None:
    """A RoleBinding (with a namespace) or ClusterRoleBinding, created by the admin."""
    body = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role},
        "subjects": subjects,
    }
    path = f"{RBAC}/namespaces/{namespace}/rolebindings" if namespace else f"{RBAC}/clusterrolebindings"
    status, answer = await http.post(path, body)
    assert status == 201, answer


async def make_namespace(http: Http, name: str) -> None:
    status, body = await http.post("/api/v1/namespaces", {"metadata": {"name": name}})
    assert status == 201, body


@asynccontextmanager
async def logins(devcluster: DevCluster) -> AsyncIterator[Login]:
    """`await login("alice")` (or a UserInfo): raw HTTP with a bearer token of that user."""
    async with AsyncExitStack() as stack:

        async def open_as(user: UserInfo | str) -> Http:
            name = user if isinstance(user, str) else user.username
            token = f"token-{name.replace(':', '-')}"
            devcluster.add_user(token, user)
            session = await stack.enter_async_context(
                aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})
            )
            return Http(devcluster.url, session)

        yield open_as


@pytest.fixture
async def login(devcluster: DevCluster) -> AsyncIterator[Login]:
    async with logins(devcluster) as open_as:
        yield open_as


def forbidden_message(status: int, body: Any) -> str:
    assert status == 403, body
    assert body["kind"] == "Status" and body["reason"] == "Forbidden" and body["code"] == 403
    return str(body["message"])


# -- authentication -------------------------------------------------------------------------------
async def test_every_authenticated_user_is_in_system_authenticated(devcluster: DevCluster, login: Login) -> None:
    """#users-in-kubernetes, #anonymous-requests: authenticated users get system:authenticated;
    ServiceAccount users are in system:serviceaccounts and system:serviceaccounts:NS; the
    kubeconfig's token is the cluster admin (system:masters)."""
    alice = await login("alice")
    status, review = await alice.post(WHOAMI, {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert status == 201
    assert review["status"]["userInfo"] == {"username": "alice", "groups": ["system:authenticated"]}
    robot = await login(UserInfo("system:serviceaccount:t-acme:robot", uid="u-1"))
    _, review = await robot.post(WHOAMI, {})
    assert review["status"]["userInfo"] == {
        "username": "system:serviceaccount:t-acme:robot",
        "uid": "u-1",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:t-acme", "system:authenticated"],
    }
    token = devcluster.kubeconfig()["users"][0]["user"]["token"]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        _, review = await Http(devcluster.url, session).post(WHOAMI, {})
    assert "system:masters" in review["status"]["userInfo"]["groups"]


async def test_a_token_nobody_has_is_401(devcluster: DevCluster) -> None:
    """A credential no authenticator accepts is refused (401), whatever anonymous auth says."""
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer nope"}) as session:
        status, body = await Http(devcluster.url, session).get("/version")
    assert status == 401
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


@pytest.mark.parametrize(
    "header", ["", "Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", "Bearer  landlord-dev", "Token x"]
)
async def test_a_malformed_authorization_header_is_not_the_admin(header: str) -> None:
    """#anonymous-requests: only a request *without* credentials falls to the emulator's
    no-credentials default (the admin). A header that is there but no authenticator accepts (empty,
    another scheme, an empty bearer token, `Bearer` with two spaces) is handed by the real server
    to the anonymous authenticator: 401 Unauthorized with anonymous auth off (and here, where the
    no-credentials default is the admin), system:anonymous with it on."""
    async with DevCluster() as cluster, aiohttp.ClientSession() as session:
        http = Http(cluster.url, session)
        assert (await http.get("/api/v1/namespaces"))[0] == 200  # no header: the documented default
        status, body = await http.request("GET", "/api/v1/namespaces", headers={"Authorization": header})
        assert (status, body["reason"]) == (401, "Unauthorized")
    async with DevCluster(unauthenticated=ANONYMOUS) as cluster, aiohttp.ClientSession() as session:
        headers = {"Authorization": header}
        http = Http(cluster.url, session)
        status, body = await http.request("POST", WHOAMI, {}, headers=headers)
        assert status == 403  # system:anonymous may not create a SelfSubjectReview
        assert 'User "system:anonymous"' in body["message"]
        assert (await http.request("GET", "/version", headers=headers))[0] == 200


async def test_anonymous_requests_as_the_real_default() -> None:
    """#anonymous-requests: with anonymous auth on (the default), a request without credentials is
    system:anonymous in system:unauthenticated; RBAC then lets it read only the public info
    (system:public-info-viewer: /version, /healthz, ...), not even discovery (system:discovery is
    bound to system:authenticated only)."""
    async with DevCluster(unauthenticated=ANONYMOUS) as cluster, aiohttp.ClientSession() as session:
        http = Http(cluster.url, session)
        assert (await http.get("/version"))[0] == 200
        assert (await http.get("/healthz"))[0] == 200
        status, body = await http.get("/api")
        assert forbidden_message(status, body) == 'forbidden: User "system:anonymous" cannot get path "/api"'
        status, body = await http.get("/api/v1/namespaces")
        assert forbidden_message(status, body) == (
            'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" '
            'in API group "" at the cluster scope'
        )


async def test_anonymous_auth_disabled_answers_401() -> None:
    """#anonymous-requests: `--anonymous-auth=false` answers requests without credentials 401."""
    async with DevCluster(unauthenticated=None) as cluster, aiohttp.ClientSession() as session:
        assert (await Http(cluster.url, session).get("/version"))[0] == 401
        admin = {"Authorization": f"Bearer {cluster.kubeconfig()['users'][0]['user']['token']}"}
        assert (await Http(cluster.url, session).request("GET", "/api/v1/namespaces", headers=admin))[0] == 200


async def test_masters_need_no_binding(http: Http, login: Login) -> None:
    """system:masters is the privileged group: allowed everything with no role at all."""
    root = await login(UserInfo("root", groups=("system:masters",)))
    status, _ = await root.post("/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}})
    assert status == 201
    assert (await root.delete("/api/v1/namespaces/default/secrets/s"))[0] == 200


# -- request attributes ---------------------------------------------------------------------------
def test_request_verbs_and_attributes() -> None:
    """#determine-the-request-verb and #review-your-request-attributes: the HTTP method and the URL
    give the verb (list/watch/deletecollection on collections), namespace, resource, subresource,
    name; non-resource paths keep the lower-cased method and the path."""

    def of(method: str, path: str, **query: str) -> tuple[str, ...]:
        a = request_attributes(method, path, query)
        if not a.resource_request:
            return (a.verb, a.path)
        return (a.verb, a.group, a.resource, a.subresource, a.namespace, a.name)

    assert of("GET", "/api/v1/namespaces/x/pods") == ("list", "", "pods", "", "x", "")
    assert of("GET", "/api/v1/namespaces/x/pods", watch="true") == ("watch", "", "pods", "", "x", "")
    assert of("GET", "/api/v1/namespaces/x/pods", fieldSelector="metadata.name=p") == ("list", "", "pods", "", "x", "p")
    assert of("GET", "/apis/apps/v1/namespaces/x/deployments/d/scale") == (
        "get",
        "apps",
        "deployments",
        "scale",
        "x",
        "d",
    )
    assert of("POST", "/api/v1/namespaces/x/configmaps") == ("create", "", "configmaps", "", "x", "")
    assert of("PUT", "/api/v1/namespaces/x/configmaps/c") == ("update", "", "configmaps", "", "x", "c")
    assert of("PATCH", "/api/v1/namespaces/x/configmaps/c") == ("patch", "", "configmaps", "", "x", "c")
    assert of("DELETE", "/api/v1/namespaces/x/configmaps/c") == ("delete", "", "configmaps", "", "x", "c")
    assert of("DELETE", "/api/v1/namespaces/x/configmaps") == ("deletecollection", "", "configmaps", "", "x", "")
    # A namespace is in itself; its status and finalize are its subresources.
    assert of("GET", "/api/v1/namespaces/x") == ("get", "", "namespaces", "", "x", "x")
    assert of("PUT", "/api/v1/namespaces/x/finalize") == ("update", "", "namespaces", "finalize", "x", "x")
    assert of("GET", "/api/v1/nodes") == ("list", "", "nodes", "", "", "")
    assert of("GET", "/apis/apps/v1") == ("get", "/apis/apps/v1")
    assert of("POST", "/healthz") == ("post", "/healthz")


# -- rules: verbs, groups, resources, names, URLs ----------------------------------------------------
async def test_verbs(http: Http, login: Login) -> None:
    """#role-and-clusterrole: a rule allows exactly its verbs; `*` allows every verb."""
    await make_role(http, "read-cms", [rule([""], ["configmaps"], ["get", "list"])], namespace="default")
    await bind(http, "alice-read", "read-cms", [user_subject("alice")], "default", role_kind="Role")
    await http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c"}})
    alice = await login("alice")
    assert (await alice.get("/api/v1/namespaces/default/configmaps"))[0] == 200
    assert (await alice.get("/api/v1/namespaces/default/configmaps/c"))[0] == 200
    status, body = await alice.get("/api/v1/namespaces/default/configmaps", watch="true", timeoutSeconds="1")
    assert forbidden_message(status, body).endswith(
        'cannot watch resource "configmaps" in API group "" in the namespace "default"'
    )
    status, body = await alice.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "d"}})
    assert forbidden_message(status, body) == (
        'configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" '
        'in the namespace "default"'
    )
    status, body = await alice.delete("/api/v1/namespaces/default/configmaps/c")
    assert forbidden_message(status, body).startswith('configmaps "c" is forbidden: User "alice" cannot delete')
    assert body["details"] == {"name": "c", "kind": "configmaps"}
    status, body = await alice.delete("/api/v1/namespaces/default/configmaps")
    assert "cannot deletecollection" in forbidden_message(status, body)
    await make_role(http, "all-cms", [rule([""], ["configmaps"], ["*"])], namespace="default")
    await bind(http, "alice-all", "all-cms", [user_subject("alice")], "default", role_kind="Role")
    assert (await alice.delete("/api/v1/namespaces/default/configmaps/c"))[0] == 200


async def test_api_groups(http: Http, login: Login) -> None:
    """#referring-to-resources: apiGroups name the group ("" is the core group, `*` any)."""
    await make_role(http, "apps-reader", [rule(["apps"], ["deployments"], ["list"])], namespace="default")
    await bind(http, "alice-apps", "apps-reader", [user_subject("alice")], "default", role_kind="Role")
    alice = await login("alice")
    assert (await alice.get("/apis/apps/v1/namespaces/default/deployments"))[0] == 200
    status, body = await alice.get("/apis/batch/v1/namespaces/default/jobs")
    assert forbidden_message(status, body) == (
        'jobs.batch is forbidden: User "alice" cannot list resource "jobs" in API group "batch" '
        'in the namespace "default"'
    )
    assert body["details"] == {"group": "batch", "kind": "jobs"}
    await make_role(http, "any-jobs", [rule(["*"], ["jobs"], ["list"])], namespace="default")
    await bind(http, "alice-jobs", "any-jobs", [user_subject("alice")], "default", role_kind="Role")
    assert (await alice.get("/apis/batch/v1/namespaces/default/jobs"))[0] == 200


async def test_subresources(http: Http, login: Login) -> None:
    """#referring-to-resources: a subresource is `resource/subresource`; the resource alone does
    not grant it, nor it the resource; `*/scale` names the scale subresource of any resource."""
    deployment = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    assert (await http.post("/apis/apps/v1/namespaces/default/deployments", deployment))[0] == 201
    await make_role(http, "scaler", [rule(["apps"], ["deployments/scale"], ["get", "patch"])], namespace="default")
    await bind(http, "alice-scaler", "scaler", [user_subject("alice")], "default", role_kind="Role")
    alice = await login("alice")
    scale = "/apis/apps/v1/namespaces/default/deployments/web/scale"
    assert (await alice.get(scale))[0] == 200
    assert (await alice.patch(scale, {"spec": {"replicas": 3}}))[0] == 200
    status, body = await alice.get("/apis/apps/v1/namespaces/default/deployments/web")
    assert forbidden_message(status, body).startswith('deployments.apps "web" is forbidden')
    status, body = await alice.get("/apis/apps/v1/namespaces/default/deployments/web/status")
    assert 'cannot get resource "deployments/status" in API group "apps"' in forbidden_message(status, body)
    # The resource alone does not grant its subresources.
    await make_role(http, "deploy-reader", [rule(["apps"], ["deployments"], ["get"])], namespace="default")
    await bind(http, "bob-reader", "deploy-reader", [user_subject("bob")], "default", role_kind="Role")
    bob = await login("bob")
    assert (await bob.get("/apis/apps/v1/namespaces/default/deployments/web"))[0] == 200
    assert (await bob.get(scale))[0] == 403
    await make_role(http, "any-scale", [rule(["apps"], ["*/scale"], ["get"])], namespace="default")
    await bind(http, "bob-scale", "any-scale", [user_subject("bob")], "default", role_kind="Role")
    assert (await bob.get(scale))[0] == 200


async def test_resource_names(http: Http, login: Login) -> None:
    """#referring-to-resources: resourceNames restrict get/update/patch/delete to those names; they
    cannot restrict create or deletecollection; a list or watch is allowed only narrowed to the
    name by a `metadata.name` field selector."""
    for name in ("mine", "other"):
        await http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": name}})
    await make_role(
        http,
        "only-mine",
        [rule([""], ["configmaps"], ["get", "list", "update", "patch", "delete", "create"], names=["mine"])],
        namespace="default",
    )
    await bind(http, "alice-mine", "only-mine", [user_subject("alice")], "default", role_kind="Role")
    alice = await login("alice")
    cms = "/api/v1/namespaces/default/configmaps"
    assert (await alice.get(f"{cms}/mine"))[0] == 200
    assert (await alice.patch(f"{cms}/mine", {"data": {"k": "v"}}))[0] == 200
    status, body = await alice.get(f"{cms}/other")
    assert forbidden_message(status, body).startswith('configmaps "other" is forbidden')
    assert (await alice.get(cms))[0] == 403
    status, listed = await alice.get(cms, fieldSelector="metadata.name=mine")
    assert status == 200 and [i["metadata"]["name"] for i in listed["items"]] == ["mine"]
    assert (await alice.get(cms, fieldSelector="metadata.name=other"))[0] == 403
    # create has no name to check at authorization time, even when the body names "mine"
    assert (await alice.delete(f"{cms}/mine"))[0] == 200
    assert (await alice.post(cms, {"metadata": {"name": "mine"}}))[0] == 403


async def test_non_resource_urls(http: Http, login: Login) -> None:
    """#role-and-clusterrole: nonResourceURLs (in ClusterRoles) grant non-resource paths; a trailing
    `*` matches by prefix."""
    alice = await login("alice")
    status, body = await alice.get("/metrics")
    assert forbidden_message(status, body) == 'forbidden: User "alice" cannot get path "/metrics"'
    await make_role(http, "metrics-reader", [{"nonResourceURLs": ["/metr*"], "verbs": ["get"]}])
    await bind(http, "alice-metrics", "metrics-reader", [user_subject("alice")])
    assert (await alice.get("/metrics"))[0] == 200


async def test_discovery_is_open_to_every_authenticated_user(login: Login) -> None:
    """#discovery-roles: system:discovery and system:basic-user, bound to system:authenticated,
    let any user discover the API and ask what it may do."""
    nobody = await login("nobody")
    for path in ("/api", "/api/v1", "/apis", "/apis/apps/v1", "/openapi/v3", "/version", "/healthz"):
        assert (await nobody.get(path))[0] == 200, path
    status, review = await nobody.post(
        SSAR, {"spec": {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}}}
    )
    assert status == 201 and review["status"] == {"allowed": False}
    status, body = await nobody.get("/api/v1/namespaces/default/pods")
    assert forbidden_message(status, body).startswith('pods is forbidden: User "nobody" cannot list resource "pods"')


# -- bindings and subjects --------------------------------------------------------------------------
async def test_binding_scope(http: Http, login: Login) -> None:
    """#rolebinding-and-clusterrolebinding: a RoleBinding grants in its namespace only, even of a
    ClusterRole; a ClusterRoleBinding grants in every namespace (and cluster-scoped resources)."""
    await make_namespace(http, "a")
    await make_namespace(http, "b")
    await make_role(http, "cm-reader", [rule([""], ["configmaps"], ["list"])])
    await bind(http, "alice-a", "cm-reader", [user_subject("alice")], "a")
    alice = await login("alice")
    assert (await alice.get("/api/v1/namespaces/a/configmaps"))[0] == 200
    assert (await alice.get("/api/v1/namespaces/b/configmaps"))[0] == 403
    assert (await alice.get("/api/v1/configmaps"))[0] == 403  # all namespaces is cluster scope
    await make_role(http, "ns-reader", [rule([""], ["namespaces", "configmaps"], ["list", "get"])])
    await bind(http, "alice-everywhere", "ns-reader", [user_subject("alice")])
    assert (await alice.get("/api/v1/namespaces/b/configmaps"))[0] == 200
    assert (await alice.get("/api/v1/configmaps"))[0] == 200
    assert (await alice.get("/api/v1/namespaces"))[0] == 200


async def test_a_namespace_is_named_in_its_own_namespace(http: Http, login: Login) -> None:
    """#review-your-request-attributes: the request-info parser reads `/api/v1/namespaces/NAME`
    as resource `namespaces` in namespace NAME, so a 403 on one namespace says
    `in the namespace "NAME"`, as real clusters word it (kubernetes/kubernetes#73510,
    hashicorp/terraform#31620: `namespaces "x" is forbidden: User ... cannot get resource
    "namespaces" in API group "" in the namespace "x"`); the list is `at the cluster scope`. So a
    RoleBinding in NAME granting `get namespaces` lets one read namespace NAME itself."""
    await make_namespace(http, "t-acme")
    alice = await login("alice")
    status, body = await alice.get("/api/v1/namespaces/t-acme")
    assert forbidden_message(status, body) == (
        'namespaces "t-acme" is forbidden: User "alice" cannot get resource "namespaces" in API group "" '
        'in the namespace "t-acme"'
    )
    status, body = await alice.get("/api/v1/namespaces")
    assert forbidden_message(status, body) == (
        'namespaces is forbidden: User "alice" cannot list resource "namespaces" in API group "" at the cluster scope'
    )
    await make_role(http, "ns-getter", [rule([""], ["namespaces"], ["get"])])
    await bind(http, "alice-ns", "ns-getter", [user_subject("alice")], "t-acme")
    assert (await alice.get("/api/v1/namespaces/t-acme"))[0] == 200
    assert (await alice.get("/api/v1/namespaces/default"))[0] == 403


async def test_role_in_one_namespace_binds_there_only(http: Http, login: Login) -> None:
    """A RoleBinding refers to a Role of its own namespace."""
    await make_namespace(http, "a")
    await make_role(http, "reader", [rule([""], ["secrets"], ["list"])], namespace="a")
    await bind(http, "alice", "reader", [user_subject("alice")], "a", role_kind="Role")
    await bind(http, "alice", "reader", [user_subject("alice")], "default", role_kind="Role")  # no such Role there
    alice = await login("alice")
    assert (await alice.get("/api/v1/namespaces/a/secrets"))[0] == 200
    status, body = await alice.get("/api/v1/namespaces/default/secrets")
    # The reason names the binding's missing role, as the real authorizer's does.
    assert forbidden_message(status, body) == (
        'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace '
        '"default": RBAC: role.rbac.authorization.k8s.io "reader" not found'
    )


async def test_group_and_service_account_subjects(http: Http, login: Login) -> None:
    """#referring-to-subjects: Group subjects match the user's groups (system:serviceaccounts:NS
    names all ServiceAccounts of a namespace); a ServiceAccount subject matches its username
    (a RoleBinding's subject without namespace is in the binding's namespace)."""
    await make_role(http, "cm-reader", [rule([""], ["configmaps"], ["list"])])
    await bind(http, "devs", "cm-reader", [{"kind": "Group", "name": "devs", "apiGroup": GROUP}], "default")
    dev = await login(UserInfo("carol", groups=("devs",)))
    assert (await dev.get("/api/v1/namespaces/default/configmaps"))[0] == 200
    assert (await (await login("dave")).get("/api/v1/namespaces/default/configmaps"))[0] == 403
    robot = await login("system:serviceaccount:default:robot")
    other = await login("system:serviceaccount:kube-system:robot")
    assert (await robot.get("/api/v1/namespaces/default/configmaps"))[0] == 403
    await bind(http, "robot", "cm-reader", [{"kind": "ServiceAccount", "name": "robot"}], "default")
    assert (await robot.get("/api/v1/namespaces/default/configmaps"))[0] == 200
    assert (await other.get("/api/v1/namespaces/default/configmaps"))[0] == 403
    await bind(
        http, "all-sas", "cm-reader", [{"kind": "Group", "name": "system:serviceaccounts:kube-system"}], "default"
    )
    assert (await other.get("/api/v1/namespaces/default/configmaps"))[0] == 200


# -- default roles ----------------------------------------------------------------------------------
async def test_user_facing_roles(http: Http, login: Login) -> None:
    """#user-facing-roles: view reads most objects but not Secrets; edit also writes them and reads
    Secrets, but not Roles or RoleBindings; admin also manages Roles and RoleBindings in the
    namespace, but not its ResourceQuotas or the namespace itself."""
    await bind(http, "v", "view", [user_subject("viewer")], "default")
    await bind(http, "e", "edit", [user_subject("editor")], "default")
    await bind(http, "a", "admin", [user_subject("owner")], "default")
    viewer, editor, owner = await login("viewer"), await login("editor"), await login("owner")
    ns = "/api/v1/namespaces/default"
    assert (await viewer.get(f"{ns}/configmaps"))[0] == 200
    assert (await viewer.get(f"{ns}/secrets"))[0] == 403
    assert (await viewer.post(f"{ns}/configmaps", {"metadata": {"name": "v"}}))[0] == 403
    assert (await editor.post(f"{ns}/configmaps", {"metadata": {"name": "e"}}))[0] == 201
    assert (await editor.get(f"{ns}/secrets"))[0] == 200
    assert (await editor.get(f"{RBAC}/namespaces/default/roles"))[0] == 403
    assert (await owner.get(f"{RBAC}/namespaces/default/roles"))[0] == 200
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}}
    assert (await owner.post(f"{ns}/resourcequotas", quota))[0] == 403
    assert (await owner.get(f"{ns}/resourcequotas"))[0] == 200
    assert (await owner.delete(ns))[0] == 403


# -- aggregation --------------------------------------------------------------------------------------
async def test_aggregation_into_the_default_roles(http: Http, login: Login) -> None:
    """#aggregated-clusterroles, #default-roles-and-role-bindings: a ClusterRole labelled
    `rbac.authorization.k8s.io/aggregate-to-view: "true"` adds its rules to view, and so to edit
    and admin (which aggregate view's and edit's); removing the label takes them out again."""
    await install_widgets(http)
    await http.post("/apis/example.dev/v1/namespaces/default/widgets", widget("w"))
    await bind(http, "alice-view", "view", [user_subject("alice")], "default")
    alice = await login("alice")
    widgets = "/apis/example.dev/v1/namespaces/default/widgets"
    assert (await alice.get(widgets))[0] == 403
    widget_rule = rule(["example.dev"], ["widgets"], ["get", "list", "watch"])
    await make_role(
        http,
        "widgets-view",
        [widget_rule],
        metadata={"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
    )

    async def aggregated(role: str, present: bool) -> bool:
        rules = (await http.get(f"{RBAC}/clusterroles/{role}"))[1].get("rules") or []
        return (widget_rule in rules) == present

    for role in ("view", "edit", "admin"):
        await eventually(functools.partial(aggregated, role, True))
    assert (await alice.get(widgets))[0] == 200
    patch = {"metadata": {"labels": {"rbac.authorization.k8s.io/aggregate-to-view": None}}}
    assert (await http.patch(f"{RBAC}/clusterroles/widgets-view", patch))[0] == 200
    for role in ("view", "edit", "admin"):
        await eventually(functools.partial(aggregated, role, False))
    assert (await alice.get(widgets))[0] == 403


async def test_aggregation_rule_owns_the_rules(http: Http) -> None:
    """#aggregated-clusterroles: the controller fills an aggregated ClusterRole's rules from every
    ClusterRole its selectors match (matchLabels or matchExpressions), replaces rules written to
    it directly, and follows the matched roles as they change or go."""
    aggregate = {
        "clusterRoleSelectors": [
            {"matchLabels": {"example.dev/aggregate-to-monitoring": "true"}},
            {"matchExpressions": [{"key": "example.dev/tier", "operator": "In", "values": ["ops"]}]},
        ]
    }
    await make_role(http, "monitoring", [rule([""], ["secrets"], ["*"])], aggregationRule=aggregate)
    rules_path = f"{RBAC}/clusterroles/monitoring"

    async def rules() -> list[dict[str, Any]]:
        return list((await http.get(rules_path))[1].get("rules") or [])

    await eventually(lambda: _equal(rules(), []))  # the directly written rule is stomped
    first = rule([""], ["services", "endpoints", "pods"], ["get", "list", "watch"])
    second = rule(["apps"], ["deployments"], ["get"])
    await make_role(
        http, "a-mon", [first], metadata={"name": "a-mon", "labels": {"example.dev/aggregate-to-monitoring": "true"}}
    )
    await make_role(http, "b-ops", [second, first], metadata={"name": "b-ops", "labels": {"example.dev/tier": "ops"}})
    await make_role(http, "c-other", [rule([""], ["nodes"], ["get"])], metadata={"name": "c-other"})
    await eventually(lambda: _equal(rules(), [first, second]))  # roles by name, duplicates once
    assert (await http.delete(f"{RBAC}/clusterroles/a-mon"))[0] == 200
    await eventually(lambda: _equal(rules(), [second, first]))
    status, _ = await http.patch(rules_path, {"rules": [rule(["*"], ["*"], ["*"])]})
    assert status == 200
    await eventually(lambda: _equal(rules(), [second, first]))


async def _equal(rules: Awaitable[list[dict[str, Any]]], wanted: list[dict[str, Any]]) -> bool:
    return await rules == wanted


# -- privilege escalation prevention ---------------------------------------------------------------
async def test_creating_a_role_needs_its_permissions(http: Http, login: Login) -> None:
    """#restrictions-on-role-creation-or-update: a user can create or update a Role only with every
    permission it grants (in the Role's namespace), or with the `escalate` verb on roles."""
    await bind(http, "alice-admin", "admin", [user_subject("alice")], "default")
    alice = await login("alice")
    roles = f"{RBAC}/namespaces/default/roles"
    held = {"metadata": {"name": "ok"}, "rules": [rule([""], ["configmaps", "secrets"], ["get", "list"])]}
    assert (await alice.post(roles, held))[0] == 201
    more = {
        "metadata": {"name": "more"},
        "rules": [rule([""], ["configmaps", "nodes"], ["get", "list"]), rule([""], ["resourcequotas"], ["delete"])],
    }
    status, body = await alice.post(roles, more)
    assert forbidden_message(status, body) == (
        'roles.rbac.authorization.k8s.io "more" is forbidden: user "alice" (groups=["system:authenticated"]) '
        "is attempting to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}\n'
        '{APIGroups:[""], Resources:["resourcequotas"], Verbs:["delete"]}'
    )
    assert body["details"] == {"name": "more", "group": GROUP, "kind": "roles"}
    # Updating (here a JSON merge patch) is checked on the result.
    status, body = await alice.patch(f"{roles}/ok", {"rules": [rule([""], ["nodes"], ["get"])]})
    assert "attempting to grant RBAC permissions not currently held" in forbidden_message(status, body)
    # In another namespace alice holds nothing, not even the right to write roles.
    status, body = await alice.post(f"{RBAC}/namespaces/kube-system/roles", held)
    assert 'cannot create resource "roles"' in forbidden_message(status, body)
    await make_role(http, "escalator", [rule([GROUP], ["roles"], ["escalate"])])
    await bind(http, "alice-escalate", "escalator", [user_subject("alice")], "default")
    assert (await alice.post(roles, more))[0] == 201


async def test_binding_needs_the_roles_permissions(http: Http, login: Login) -> None:
    """#restrictions-on-role-binding-creation-or-update: a user can bind a role only when it holds
    the role's permissions in the binding's scope, or has `bind` on that role. This is what keeps a
    namespace admin from binding cluster-admin in its own namespace."""
    await make_namespace(http, "t-acme")
    await bind(http, "owner", "admin", [user_subject("alice")], "t-acme")
    alice = await login("alice")
    bindings = f"{RBAC}/namespaces/t-acme/rolebindings"

    def binding(name: str, role: str, kind: str = "ClusterRole", subject: str = "bob") -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": GROUP, "kind": kind, "name": role},
            "subjects": [user_subject(subject)],
        }

    for role in ("admin", "edit", "view"):
        assert (await alice.post(bindings, binding(f"bob-{role}", role)))[0] == 201, role
    status, body = await alice.post(bindings, binding("bob-root", "cluster-admin", subject="alice"))
    assert forbidden_message(status, body) == (
        'rolebindings.rbac.authorization.k8s.io "bob-root" is forbidden: user "alice" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}'
    )
    # Re-pointing an existing binding (by a patch) is checked the same way.
    status, body = await alice.patch(f"{bindings}/bob-view", {"subjects": [user_subject("alice"), user_subject("eve")]})
    assert status == 200, body
    # A binding to a role that does not exist: the real registry answers 404.
    status, body = await alice.post(bindings, binding("ghost", "no-such-role"))
    assert status == 404 and body["message"] == 'clusterroles.rbac.authorization.k8s.io "no-such-role" not found'
    # `bind` on a named ClusterRole, granted in the namespace, lifts the check for that role only.
    await make_role(http, "binder", [rule([GROUP], ["clusterroles"], ["bind"], names=["cluster-admin"])])
    await bind(http, "alice-binder", "binder", [user_subject("alice")], "t-acme")
    assert (await alice.post(bindings, binding("bob-root", "cluster-admin")))[0] == 201
    await make_role(http, "nodes", [rule([""], ["nodes"], ["get"])])
    assert (await alice.post(bindings, binding("bob-nodes", "nodes")))[0] == 403
    # A ClusterRoleBinding grants cluster-wide, so only cluster-wide permissions count.
    await make_role(http, "crb-writer", [rule([GROUP], ["clusterrolebindings"], ["create"])])
    await bind(http, "alice-crb", "crb-writer", [user_subject("alice")])
    cluster_binding = {**binding("bob-view", "view"), "kind": "ClusterRoleBinding"}
    status, body = await alice.post(f"{RBAC}/clusterrolebindings", cluster_binding)
    assert "attempting to grant RBAC permissions not currently held" in forbidden_message(status, body)


async def test_aggregation_rule_needs_cluster_admin(http: Http, login: Login) -> None:
    """Setting an aggregationRule (which can gather any rule) needs every permission there is."""
    await make_role(http, "role-writer", [rule([GROUP], ["clusterroles"], ["create", "get"])])
    await bind(http, "alice-writer", "role-writer", [user_subject("alice")])
    alice = await login("alice")
    body = {
        "metadata": {"name": "gather"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]},
        "rules": [],
    }
    status, answer = await alice.post(f"{RBAC}/clusterroles", body)
    assert forbidden_message(status, answer) == (
        'clusterroles.rbac.authorization.k8s.io "gather" is forbidden: '
        "must have cluster-admin privileges to use the aggregationRule"
    )
    assert (await http.post(f"{RBAC}/clusterroles", body))[0] == 201


# -- access reviews ----------------------------------------------------------------------------------
async def test_self_subject_access_review(http: Http, login: Login) -> None:
    """#checking-api-access: SelfSubjectAccessReview answers whether the caller may do something
    (resource or non-resource attributes), with the RBAC reason when allowed."""
    await bind(http, "alice-view", "view", [user_subject("alice")], "default")
    alice = await login("alice")

    async def can(**attributes: Any) -> dict[str, Any]:
        key = "nonResourceAttributes" if "path" in attributes else "resourceAttributes"
        status, review = await alice.post(SSAR, {"apiVersion": "authorization.k8s.io/v1", "spec": {key: attributes}})
        assert status == 201, review
        assert review["kind"] == "SelfSubjectAccessReview"
        return dict(review["status"])

    assert await can(verb="list", resource="pods", namespace="default") == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "alice-view/default" of ClusterRole "view" to User "alice"',
    }
    assert await can(verb="list", resource="secrets", namespace="default") == {"allowed": False}
    assert await can(verb="list", resource="pods", namespace="kube-system") == {"allowed": False}
    assert (await can(verb="get", path="/version"))["allowed"] is True
    assert (await can(verb="get", path="/metrics"))["allowed"] is False
    status, body = await alice.post(SSAR, {"spec": {}})
    assert status == 422 and "exactly one of nonResourceAttributes or resourceAttributes" in body["message"]


async def test_subject_access_review(http: Http, login: Login) -> None:
    """#checking-api-access: SubjectAccessReview asks about any user (given user and groups as is);
    only those allowed to create subjectaccessreviews (the admin) may ask; LocalSubjectAccessReview
    asks within a namespace (admin and edit may create them there)."""
    await bind(http, "alice-edit", "edit", [user_subject("alice")], "default")
    spec = {"user": "alice", "resourceAttributes": {"verb": "create", "resource": "secrets", "namespace": "default"}}
    status, review = await http.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", {"spec": spec})
    assert status == 201 and review["status"]["allowed"] is True
    group_spec = {"user": "x", "groups": ["system:masters"], "nonResourceAttributes": {"verb": "delete", "path": "/"}}
    _, review = await http.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", {"spec": group_spec})
    assert review["status"]["allowed"] is True
    status, body = await http.post(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews", {"spec": {"resourceAttributes": {"verb": "get"}}}
    )
    assert status == 422 and "at least one of user or group must be specified" in body["message"]
    alice = await login("alice")
    status, body = await alice.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", {"spec": spec})
    assert 'cannot create resource "subjectaccessreviews"' in forbidden_message(status, body)
    local = "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews"
    await bind(http, "bob-admin", "admin", [user_subject("bob")], "default")
    bob = await login("bob")
    status, review = await bob.post(local, {"spec": spec})
    assert status == 201 and review["status"]["allowed"] is True and review["metadata"]["namespace"] == "default"
    elsewhere = {**spec, "resourceAttributes": {**spec["resourceAttributes"], "namespace": "kube-system"}}
    status, body = await bob.post(local, {"spec": elsewhere})
    assert status == 422 and "must match metadata.namespace" in body["message"]


async def test_self_subject_rules_review(http: Http, login: Login) -> None:
    """SelfSubjectRulesReview lists the caller's rules in a namespace (what `kubectl auth can-i
    --list` prints): bound roles there, cluster-wide ones, and the discovery URLs."""
    await make_role(http, "cm", [rule([""], ["configmaps"], ["get"], names=["one"])], namespace="default")
    await bind(http, "alice-cm", "cm", [user_subject("alice")], "default", role_kind="Role")
    alice = await login("alice")
    path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
    status, review = await alice.post(path, {"spec": {"namespace": "default"}})
    assert status == 201
    resource_rules = review["status"]["resourceRules"]
    assert {
        "verbs": ["get"],
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": ["one"],
    } in resource_rules
    assert {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]} in review[
        "status"
    ]["nonResourceRules"]
    assert review["status"]["incomplete"] is False
    _, elsewhere = await alice.post(path, {"spec": {"namespace": "kube-system"}})
    assert all(r["resources"] != ["configmaps"] for r in elsewhere["status"]["resourceRules"])


async def test_review_resources_are_create_only(http: Http) -> None:
    """The review types are served (discovery lists them with the `create` verb) and only created."""
    status, resources = await http.get("/apis/authorization.k8s.io/v1")
    assert status == 200
    verbs = {r["name"]: r["verbs"] for r in resources["resources"]}
    assert verbs == {
        "localsubjectaccessreviews": ["create"],
        "selfsubjectaccessreviews": ["create"],
        "selfsubjectrulesreviews": ["create"],
        "subjectaccessreviews": ["create"],
    }
    assert (await http.get(SSAR))[0] == 405
    assert (await http.get("/apis/authentication.k8s.io/v1"))[1]["resources"][0]["name"] == "selfsubjectreviews"


# -- rbac object validation ----------------------------------------------------------------------------
async def test_binding_role_ref_is_immutable_and_defaulted(http: Http) -> None:
    """#rolebinding-and-clusterrolebinding: "After you create a binding, you cannot change the Role
    or ClusterRole that it refers to" (delete and recreate it instead); roleRef.apiGroup and the
    apiGroup of User and Group subjects default to rbac.authorization.k8s.io."""
    body = {
        "metadata": {"name": "b"},
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "Group", "name": "devs"}, {"kind": "ServiceAccount", "name": "robot"}],
    }
    status, stored = await http.post(f"{RBAC}/namespaces/default/rolebindings", body)
    assert status == 201
    assert stored["roleRef"] == {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"}
    assert stored["subjects"] == [
        {"kind": "Group", "name": "devs", "apiGroup": GROUP},
        {"kind": "ServiceAccount", "name": "robot"},
    ]
    status, answer = await http.patch(f"{RBAC}/namespaces/default/rolebindings/b", {"roleRef": {"name": "edit"}})
    assert status == 422
    assert answer["message"] == (
        'RoleBinding.rbac.authorization.k8s.io "b" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef'
    )
    # Other fields change as usual.
    status, _ = await http.patch(f"{RBAC}/namespaces/default/rolebindings/b", {"subjects": [user_subject("x")]})
    assert status == 200


async def test_rbac_objects_are_validated(http: Http) -> None:
    """The rbac API validation: a ClusterRoleBinding refers to a ClusterRole, ServiceAccount
    subjects of one name their namespace; rules need verbs, resource rules need groups and
    resources, and a Role's rules cannot name non-resource URLs."""
    crb = {
        "metadata": {"name": "x"},
        "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot"}, {"kind": "Robot", "name": "r2"}],
    }
    status, answer = await http.post(f"{RBAC}/clusterrolebindings", crb)
    assert status == 422
    assert [(c["reason"], c["field"]) for c in answer["details"]["causes"]] == [
        ("FieldValueNotSupported", "roleRef.kind"),
        ("FieldValueRequired", "subjects[0].namespace"),
        ("FieldValueNotSupported", "subjects[1].kind"),
    ]
    role = {
        "metadata": {"name": "r"},
        "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": []},
            {"nonResourceURLs": ["/x"], "verbs": ["get"]},
        ],
    }
    status, answer = await http.post(f"{RBAC}/namespaces/default/roles", role)
    assert status == 422
    assert answer["message"] == (
        'Role.rbac.authorization.k8s.io "r" is invalid: [rules[0].verbs: Required value: verbs must contain at '
        'least one value, rules[1].nonResourceURLs: Invalid value: "array": namespaced rules cannot apply to '
        "non-resource URLs]"
    )
