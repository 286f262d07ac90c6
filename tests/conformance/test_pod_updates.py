"""Pod updates: a Pod's spec is immutable but for the documented fields.

https://kubernetes.io/docs/concepts/workloads/pods/#pod-update-and-replacement: "Pod updates may
not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`,
`spec.activeDeadlineSeconds` or `spec.tolerations`. For `spec.tolerations`, you can only add new
entries", and `activeDeadlineSeconds` may only be set when unset or lowered;
https://kubernetes.io/docs/concepts/scheduling-eviction/pod-scheduling-readiness/: scheduling
gates may only be removed, and a gated Pod's `nodeSelector` may only gain entries. The refusal
is the real 422 (`spec: Forbidden: pod updates may not change fields other than ...`), for a
PUT, every patch flavour and server-side apply alike.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from landlord.devcluster.pod_updates import UPDATABLE
from tests.helpers import Http

PODS = "/api/v1/namespaces/default/pods"
FORBIDDEN = f"spec: Forbidden: pod updates may not change fields other than {UPDATABLE}"


def pod(name: str = "p") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {
            "containers": [{"name": "app", "image": "nginx:1.25"}],
            "initContainers": [{"name": "init", "image": "busybox:1"}],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
        },
    }


async def created(http: Http, body: dict[str, Any] | None = None) -> dict[str, Any]:
    status, stored = await http.post(PODS, body or pod())
    assert status == 201, stored
    return stored


def refused(status: int, body: dict[str, Any], message_start: str = FORBIDDEN) -> bool:
    assert status == 422, body
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(f'Pod "p" is invalid: {message_start}'), body["message"]
    return True


HOSTILE = [
    pytest.param({"hostNetwork": True}, id="hostNetwork"),
    pytest.param({"hostPID": True}, id="hostPID"),
    pytest.param({"nodeName": "node-1"}, id="nodeName"),
    pytest.param({"serviceAccountName": "admin"}, id="serviceAccountName"),
    pytest.param({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}, id="hostPath"),
    pytest.param(
        {"containers": [{"name": "app", "image": "nginx:1.25", "securityContext": {"privileged": True}}]},
        id="privileged",
    ),
    pytest.param(
        {"containers": [{"name": "app", "image": "nginx:1.25", "command": ["sh", "-c", "id"]}]},
        id="command",
    ),
]


@pytest.mark.parametrize("change", HOSTILE)
async def test_spec_changes_are_refused_by_every_write(http: Http, change: dict[str, Any]) -> None:
    """Changing any other spec field is refused with the real message, by merge and strategic
    patch, by PUT and by server-side apply; the Pod stays as it was."""
    stored = await created(http)
    assert refused(*await http.patch(f"{PODS}/p", {"spec": change}))
    assert refused(*await http.patch(f"{PODS}/p", {"spec": change}, "strategic"))
    replaced = copy.deepcopy(stored)
    replaced["spec"].update(change)
    assert refused(*await http.put(f"{PODS}/p", replaced))
    applied = pod()
    applied["spec"].update(change)
    assert refused(*await http.patch(f"{PODS}/p", applied, "apply", fieldManager="m", force=True))
    status, now = await http.get(f"{PODS}/p")
    assert status == 200
    assert now["spec"] == stored["spec"]
    assert now["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


async def test_the_refusal_names_what_differs(http: Http) -> None:
    """After the list of mutable fields the real message shows what differs (a Go diff there,
    one line per field here)."""
    await created(http)
    status, body = await http.patch(f"{PODS}/p", {"spec": {"hostNetwork": True}})
    assert refused(status, body)
    assert body["details"]["causes"][0]["field"] == "spec"
    assert body["message"].endswith("+ hostNetwork: true")


async def test_the_mutable_fields_change(http: Http) -> None:
    """Images, a lower activeDeadlineSeconds, added tolerations (and an existing one's
    tolerationSeconds), labels and annotations may change."""
    await created(http)
    status, body = await http.patch(
        f"{PODS}/p",
        {
            "metadata": {"labels": {"app": "other"}, "annotations": {"a": "b"}},
            "spec": {
                "containers": [{"name": "app", "image": "nginx:1.26"}],
                "initContainers": [{"name": "init", "image": "busybox:2"}],
                "activeDeadlineSeconds": 600,
                "tolerations": [
                    {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
                    {"key": "new", "operator": "Exists"},
                ],
            },
        },
        "strategic",
    )
    assert status == 200, body
    assert body["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert body["spec"]["initContainers"][0]["image"] == "busybox:2"
    assert len(body["spec"]["tolerations"]) == 2
    status, body = await http.patch(f"{PODS}/p", {"spec": {"activeDeadlineSeconds": 300}})
    assert status == 200, body


async def test_the_mutable_fields_keep_their_rules(http: Http) -> None:
    """activeDeadlineSeconds may not rise or be unset; tolerations may not be removed or changed
    beyond tolerationSeconds; containers may not be added or removed; an image may not go."""
    await created(http)
    assert (await http.patch(f"{PODS}/p", {"spec": {"activeDeadlineSeconds": 100}}))[0] == 200
    assert refused(
        *await http.patch(f"{PODS}/p", {"spec": {"activeDeadlineSeconds": 200}}),
        "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value",
    )
    assert refused(
        *await http.patch(f"{PODS}/p", {"spec": {"activeDeadlineSeconds": None}}),
        "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value",
    )
    assert refused(
        *await http.patch(f"{PODS}/p", {"spec": {"tolerations": []}}),
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
    )
    two = [{"name": "app", "image": "nginx"}, {"name": "sidecar", "image": "evil"}]
    assert refused(
        *await http.patch(f"{PODS}/p", {"spec": {"containers": two}}),
        "spec.containers: Forbidden: pod updates may not add or remove containers",
    )
    assert refused(
        *await http.patch(f"{PODS}/p", [{"op": "remove", "path": "/spec/containers/0/image"}], "json"),
        "spec.containers[0].image: Required value",
    )


async def test_scheduling_gates_may_only_be_removed(http: Http) -> None:
    """pod-scheduling-readiness: gates may be removed, not added; while gated, the nodeSelector
    may gain entries but not change or lose them."""
    gated = pod()
    gated["spec"]["schedulingGates"] = [{"name": "a"}, {"name": "b"}]
    gated["spec"]["nodeSelector"] = {"zone": "z1"}
    await created(http, gated)
    assert refused(
        *await http.patch(f"{PODS}/p", {"spec": {"schedulingGates": [{"name": "a"}, {"name": "c"}]}}),
        "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'c'",
    )
    assert refused(
        *await http.patch(f"{PODS}/p", {"spec": {"nodeSelector": {"zone": "z2"}}}),
        "spec.nodeSelector: Invalid value:",
    )
    status, body = await http.patch(f"{PODS}/p", {"spec": {"nodeSelector": {"zone": "z1", "disk": "ssd"}}})
    assert status == 200, body
    status, body = await http.patch(f"{PODS}/p", {"spec": {"schedulingGates": [{"name": "b"}]}})
    assert status == 200, body
    status, body = await http.patch(f"{PODS}/p", {"spec": {"schedulingGates": None}})
    assert status == 200, body
    assert refused(*await http.patch(f"{PODS}/p", {"spec": {"nodeSelector": {"zone": "z1", "more": "x"}}}))


async def test_an_unchanged_spec_and_status_writes_pass(http: Http) -> None:
    """Re-sending the same spec (a PUT of what was read, an apply of the manifest) and writing
    `/status` are not spec changes."""
    stored = await created(http)
    status, body = await http.put(f"{PODS}/p", stored)
    assert status == 200, body
    status, body = await http.patch(f"{PODS}/p", pod(), "apply", fieldManager="m", force=True)
    assert status == 200, body
    status, body = await http.patch(f"{PODS}/p/status", {"status": {"phase": "Running"}})
    assert status == 200, body
