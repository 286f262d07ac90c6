"""kubectl's `create` generators against the emulator: protobuf bodies in, the objects JSON would give.

kubectl 1.32 and later send every generator's object as `application/vnd.kubernetes.protobuf`
(1.30 sends JSON). The tests drive $KUBECTL_PROTOBUF, else the newest `kubectl.1.NN` (NN >= 32)
beside the default kubectl (the Cloud SDK's layout), and then check that the server read each
body as protobuf; with only an older kubectl they still check every generator end to end, and
tests/unit/test_protobuf.py decodes bodies captured from kubectl 1.33.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from landlord.devcluster import protobuf
from tests.conformance.test_kubectl import Kubectl
from tests.conformance.test_objects import WIDGETS, install_widgets
from tests.helpers import Http
from tests.tools import tool
from tests.unit.test_protobuf import entry, envelope, ld, meta, vi

pytestmark = pytest.mark.kubectl

PROTOBUF = "application/vnd.kubernetes.protobuf"
CMS = "/api/v1/namespaces/default/configmaps"


def _protobuf_kubectl() -> tuple[str, bool]:
    """The kubectl to drive, and whether it sends every generator's body as protobuf (1.32+)."""
    explicit = os.environ.get("KUBECTL_PROTOBUF")
    if explicit:
        return explicit, True
    default = tool("kubectl")
    versions = []
    for candidate in Path(default).resolve().parent.glob("kubectl.1.*"):
        match = re.fullmatch(r"kubectl\.1\.(\d+)", candidate.name)
        if match and int(match.group(1)) >= 32:
            versions.append((int(match.group(1)), str(candidate)))
    return (max(versions)[1], True) if versions else (default, False)


BINARY, SENDS_PROTOBUF = _protobuf_kubectl()


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    runner = Kubectl(kubeconfig, tmp_path)
    runner.binary = BINARY
    return runner


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The objects the server read from protobuf bodies, in order."""
    seen: list[dict[str, Any]] = []
    real = protobuf.decode_body

    def spy(body: bytes, schema: Any = None) -> dict[str, Any]:
        obj = real(body, schema)
        seen.append(obj)
        return obj

    monkeypatch.setattr(protobuf, "decode_body", spy)
    return seen


def contains(actual: Any, expected: Any) -> bool:
    """`expected` is a sub-tree of `actual` (dicts by key, lists item by item)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def _docker_config() -> str:
    auth = base64.b64encode(b"u:p").decode()
    config = {"auths": {"r.example": {"username": "u", "password": "p", "auth": auth}}}
    return base64.b64encode(json.dumps(config, separators=(",", ":")).encode()).decode()


# (kubectl create arguments, what it prints, the kind and `get` target, a sub-tree of the stored object)
GENERATORS: list[tuple[list[str], str, str, str, dict[str, Any]]] = [
    (["namespace", "team-a"], "namespace/team-a created", "Namespace", "namespace/team-a", {}),
    (
        ["configmap", "c1", "--from-literal=a=1", "--from-literal=b="],
        "configmap/c1 created",
        "ConfigMap",
        "configmap/c1",
        {"data": {"a": "1", "b": ""}},
    ),
    (
        ["secret", "generic", "s", "--from-literal=k=v", "--from-literal=e="],
        "secret/s created",
        "Secret",
        "secret/s",
        {"data": {"k": "dg==", "e": ""}},
    ),
    (
        ["secret", "docker-registry", "reg", "--docker-username=u", "--docker-password=p", "--docker-server=r.example"],
        "secret/reg created",
        "Secret",
        "secret/reg",
        {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": _docker_config()}},
    ),
    (["serviceaccount", "robot"], "serviceaccount/robot created", "ServiceAccount", "serviceaccount/robot", {}),
    (
        ["rolebinding", "rb", "--clusterrole=view", "--user=bob", "--serviceaccount=default:sa", "--group=devs"],
        "rolebinding.rbac.authorization.k8s.io/rb created",
        "RoleBinding",
        "rolebinding/rb",
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"},
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "default"},
            ],
        },
    ),
    (
        ["clusterrolebinding", "crb", "--clusterrole=edit", "--group=devs"],
        "clusterrolebinding.rbac.authorization.k8s.io/crb created",
        "ClusterRoleBinding",
        "clusterrolebinding/crb",
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"}],
        },
    ),
    (
        ["deployment", "d", "--image=nginx", "--replicas=0", "--port=80"],
        "deployment.apps/d created",
        "Deployment",
        "deployment/d",
        {
            "spec": {
                "replicas": 0,  # a pointer's zero survives the encoding (the default would be 1)
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]}
                },
            }
        },
    ),
    (
        ["role", "r", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=x"],
        "role.rbac.authorization.k8s.io/r created",
        "Role",
        "role/r",
        {
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["x"], "verbs": ["get", "list"]},
                {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["x"], "verbs": ["get", "list"]},
            ]
        },
    ),
    (
        ["clusterrole", "cr", "--verb=get", "--non-resource-url=/logs/*"],
        "clusterrole.rbac.authorization.k8s.io/cr created",
        "ClusterRole",
        "clusterrole/cr",
        {"rules": [{"nonResourceURLs": ["/logs/*"], "verbs": ["get"]}]},
    ),
    (
        ["clusterrole", "agg", "--aggregation-rule=rbac.example.com/aggregate=true"],
        "clusterrole.rbac.authorization.k8s.io/agg created",
        "ClusterRole",
        "clusterrole/agg",
        {"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]}},
    ),
    (
        ["service", "clusterip", "svc", "--tcp=80:8080", "--tcp=443:https"],
        "service/svc created",
        "Service",
        "service/svc",
        {
            "spec": {
                "type": "ClusterIP",
                "selector": {"app": "svc"},
                "ports": [  # targetPort is an IntOrString: an int, then a port name
                    {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080},
                    {"name": "443-https", "port": 443, "protocol": "TCP", "targetPort": "https"},
                ],
            }
        },
    ),
    (
        ["service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080"],
        "service/np created",
        "Service",
        "service/np",
        {"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080, "targetPort": 8080}]}},
    ),
    (
        ["service", "externalname", "ext", "--external-name=example.com"],
        "service/ext created",
        "Service",
        "service/ext",
        {"spec": {"type": "ExternalName", "externalName": "example.com"}},
    ),
    (
        ["job", "j", "--image=busybox", "--", "echo", "hi"],
        "job.batch/j created",
        "Job",
        "job/j",
        {
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "j", "image": "busybox", "command": ["echo", "hi"]}],
                    }
                }
            }
        },
    ),
    (
        ["cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", "--restart=OnFailure"],
        "cronjob.batch/cj created",
        "CronJob",
        "cronjob/cj",
        {
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure"}}}},
            }
        },
    ),
    (
        ["quota", "q", "--hard=pods=3,requests.cpu=500m,limits.memory=1Gi", "--scopes=NotTerminating"],
        "resourcequota/q created",
        "ResourceQuota",
        "resourcequota/q",
        {"spec": {"hard": {"pods": "3", "requests.cpu": "500m", "limits.memory": "1Gi"}, "scopes": ["NotTerminating"]}},
    ),
    (
        [
            "ingress",
            "ing",
            "--class=nginx",
            "--rule=foo.com/bar=svc:80",
            "--rule=tls.com/*=svc:https,tls=secret",
            "--annotation=a=b",
        ],
        "ingress.networking.k8s.io/ing created",
        "Ingress",
        "ingress/ing",
        {
            "metadata": {"annotations": {"a": "b"}},
            "spec": {
                "ingressClassName": "nginx",
                "rules": [
                    {
                        "host": "foo.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/bar",
                                    "pathType": "Exact",
                                    "backend": {"service": {"name": "svc", "port": {"number": 80}}},
                                }
                            ]
                        },
                    },
                    {
                        "host": "tls.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "svc", "port": {"name": "https"}}},
                                }
                            ]
                        },
                    },
                ],
                "tls": [{"hosts": ["tls.com"], "secretName": "secret"}],
            },
        },
    ),
    (
        ["poddisruptionbudget", "pdb", "--selector=a=b", "--min-available=1"],
        "poddisruptionbudget.policy/pdb created",
        "PodDisruptionBudget",
        "poddisruptionbudget/pdb",
        {"spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "b"}}}},
    ),
    (
        ["poddisruptionbudget", "pdb2", "--selector=a=b", "--max-unavailable=50%"],
        "poddisruptionbudget.policy/pdb2 created",
        "PodDisruptionBudget",
        "poddisruptionbudget/pdb2",
        {"spec": {"maxUnavailable": "50%"}},
    ),
]


@pytest.mark.parametrize(
    ("args", "printed", "kind", "target", "expected"), GENERATORS, ids=[" ".join(g[0][:2]) for g in GENERATORS]
)
async def test_create_generators(
    kubectl: Kubectl,
    decoded: list[dict[str, Any]],
    args: list[str],
    printed: str,
    kind: str,
    target: str,
    expected: dict[str, Any],
) -> None:
    _, out, err = await kubectl("create", *args)
    assert out.strip() == printed, err
    if SENDS_PROTOBUF:
        assert [o["kind"] for o in decoded] == [kind]
    _, out, _ = await kubectl("get", target, "-o", "json")
    stored = json.loads(out)
    assert stored["kind"] == kind and stored["metadata"]["uid"] and stored["metadata"]["creationTimestamp"]
    assert contains(stored, expected), json.dumps(stored, indent=1)


async def test_create_prints_the_created_object_and_dry_runs(kubectl: Kubectl, decoded: list[dict[str, Any]]) -> None:
    _, out, _ = await kubectl("create", "configmap", "shown", "--from-literal=a=1", "-o", "yaml")
    shown = yaml.safe_load(out)
    assert shown["data"] == {"a": "1"} and shown["metadata"]["uid"] and shown["metadata"]["resourceVersion"]
    _, out, _ = await kubectl(
        "create", "rolebinding", "dry", "--clusterrole=view", "--user=x", "--dry-run=server", "-o", "json"
    )
    assert json.loads(out)["roleRef"]["name"] == "view"
    code, _, err = await kubectl("get", "rolebinding", "dry", ok=False)
    assert code == 1 and "NotFound" in err
    if SENDS_PROTOBUF:
        assert [o["kind"] for o in decoded] == ["ConfigMap", "RoleBinding"]


async def test_protobuf_update_and_delete_options(http: Http) -> None:
    """PUT and DELETE bodies in protobuf (typed clients); the answers are JSON, which such clients accept."""
    accept = {"Accept": f"{PROTOBUF},application/json"}
    status, created = await http.post(CMS, {"metadata": {"name": "p"}, "data": {"a": "1"}})
    assert status == 201
    version = created["metadata"]["resourceVersion"]
    body = envelope("v1", "ConfigMap", ld(1, meta("p", ld(6, version))) + entry(2, "a", "2") + entry(2, "b", ""))
    status, updated = await http.put(f"{CMS}/p", body, content_type=PROTOBUF, headers=accept)
    assert status == 200 and updated["data"] == {"a": "2", "b": ""}
    assert http.last_headers["Content-Type"].startswith("application/json")
    options = envelope("v1", "DeleteOptions", vi(1, 0) + ld(4, "Background"))
    status, _ = await http.request("DELETE", f"{CMS}/p", options, content_type=PROTOBUF, headers=accept)
    assert status == 200
    status, _ = await http.get(f"{CMS}/p")
    assert status == 404


async def test_protobuf_for_a_custom_resource_is_unsupported_media_type(http: Http) -> None:
    """Custom resources have no protobuf form: a real server answers 415, naming what it accepts."""
    await install_widgets(http)
    body = envelope("example.dev/v1", "Widget", ld(1, meta("w")))
    status, answer = await http.post(WIDGETS, body, content_type=PROTOBUF)
    assert status == 415 and answer["reason"] == "UnsupportedMediaType"
    assert "accepted media types include: application/json" in answer["message"]


async def test_malformed_protobuf_is_bad_request(http: Http) -> None:
    status, answer = await http.post(CMS, b'{"metadata": {"name": "x"}}', content_type=PROTOBUF)
    assert status == 400 and answer["reason"] == "BadRequest"
    assert "could not be decoded" in answer["message"] and "k8s\\x00" in answer["message"]
    truncated = envelope("v1", "ConfigMap", ld(1, meta("x")))[:-10]  # into the raw object
    status, answer = await http.post(CMS, truncated, content_type=PROTOBUF)
    assert status == 400 and "truncated" in answer["message"]
