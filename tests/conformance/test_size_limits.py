"""Size limits: the request body the API server reads and the object etcd stores.

- kube-apiserver refuses a write's request body over 3 MiB (`MaxRequestBodyBytes`,
  3145728 bytes) with 413 `Request entity too large: limit is 3145728`, reason
  RequestEntityTooLarge (kubernetes/kubernetes#105863, #107723; the documented ConfigMap note
  https://kubernetes.io/docs/concepts/configuration/configmap/#motivation: "The data stored in a
  ConfigMap cannot exceed 1 MiB").
- etcd refuses a request over its `--max-request-bytes` (default 1.5 MiB,
  https://etcd.io/docs/v3.5/dev-guide/limit/): the API server passes that on as a 500 Status
  without a reason, `etcdserver: request is too large` (kubernetes/kubernetes#74600). Admission
  has run by then, but nothing is stored: no resourceVersion, no watch event, no quota usage.

Both limits are attributes (`DevCluster.api.max_request_bytes`,
`DevCluster.cluster.max_object_bytes`) so that tests can lower them.
"""

from __future__ import annotations

from landlord.devcluster import DevCluster
from landlord.devcluster.server import MAX_REQUEST_BYTES
from landlord.devcluster.writes import MAX_OBJECT_BYTES
from tests.helpers import Http

CMS = "/api/v1/namespaces/default/configmaps"
TOO_LARGE_FOR_ETCD = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "etcdserver: request is too large",
    "code": 500,
}


def configmap(name: str, size: int) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"blob": "x" * size}}


def test_the_limits_are_the_real_defaults(devcluster: DevCluster) -> None:
    assert devcluster.api.max_request_bytes == MAX_REQUEST_BYTES == 3 * 1024 * 1024 == 3145728
    assert devcluster.cluster.max_object_bytes == MAX_OBJECT_BYTES == 1572864


async def test_a_body_over_3_mib_is_413(http: Http) -> None:
    """The real limit and Status, for POST, PUT and PATCH alike; nothing is written."""
    big = configmap("big", MAX_REQUEST_BYTES)
    status, body = await http.post(CMS, big)
    assert status == 413
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Request entity too large: limit is 3145728",
        "reason": "RequestEntityTooLarge",
        "code": 413,
    }
    assert (await http.get(f"{CMS}/big"))[0] == 404


async def test_lowered_request_limit(devcluster: DevCluster, http: Http) -> None:
    devcluster.api.max_request_bytes = 1000
    message = "Request entity too large: limit is 1000"
    status, body = await http.post(CMS, configmap("c", 2000))
    assert (status, body["message"]) == (413, message)
    assert (await http.post(CMS, configmap("c", 10)))[0] == 201
    status, body = await http.patch(f"{CMS}/c", {"data": {"blob": "y" * 2000}})
    assert (status, body["message"]) == (413, message)
    status, body = await http.patch(f"{CMS}/c", configmap("c", 2000), "apply", fieldManager="m")
    assert (status, body["message"]) == (413, message)
    status, body = await http.put(f"{CMS}/c", configmap("c", 2000))
    assert (status, body["message"]) == (413, message)
    status, body = await http.get(f"{CMS}/c")
    assert body["data"]["blob"] == "x" * 10


async def test_an_object_over_the_storage_limit_leaves_nothing_behind(devcluster: DevCluster, http: Http) -> None:
    """A create, an update growing the object, or an apply creating one over etcd's limit is the
    500 `etcdserver: request is too large`: the object is not stored or changed, the
    resourceVersion does not move, watchers see nothing, a quota counts nothing. A dry run never
    reaches etcd and passes."""
    devcluster.cluster.max_object_bytes = 4000
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"count/configmaps": "10"}}}
    assert (await http.post("/api/v1/namespaces/default/resourcequotas", quota))[0] == 201
    rv = devcluster.cluster.rv
    async with http.watch(CMS, resourceVersion=str(rv)) as watch:
        status, body = await http.post(CMS, configmap("big", 5000))
        assert (status, body) == (500, TOO_LARGE_FOR_ETCD)
        status, body = await http.patch(f"{CMS}/applied", configmap("applied", 5000), "apply", fieldManager="m")
        assert (status, body) == (500, TOO_LARGE_FOR_ETCD)
        assert devcluster.cluster.rv == rv
        assert (await http.post(CMS, configmap("big", 5000), dryRun="All"))[0] == 201
        status, small = await http.post(CMS, configmap("small", 10))
        assert status == 201
        event = await watch.next()
        assert event is not None
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "small")
    for name in ("big", "applied"):
        assert (await http.get(f"{CMS}/{name}"))[0] == 404
    status, body = await http.patch(f"{CMS}/small", {"data": {"blob": "y" * 5000}})
    assert (status, body) == (500, TOO_LARGE_FOR_ETCD)
    status, body = await http.get(f"{CMS}/small")
    assert body["metadata"]["resourceVersion"] == small["metadata"]["resourceVersion"]
    assert body["data"] == {"blob": "x" * 10}
    status, body = await http.get("/api/v1/namespaces/default/resourcequotas/q")
    assert body["status"]["used"] == {"count/configmaps": "1"}
