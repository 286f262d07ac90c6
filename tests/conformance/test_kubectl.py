"""The real kubectl against the emulator, used the way people use it.

Each command runs as a subprocess (asyncio, so that the in-process server keeps serving).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from landlord.devcluster import DevCluster
from tests.conformance.test_objects import WIDGETS, install_widgets, widget
from tests.helpers import FIXTURES, Http, eventually
from tests.tools import tool

pytestmark = pytest.mark.kubectl


class Kubectl:
    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        self.binary = tool("kubectl")
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(cache)}
        self.cache = cache

    async def __call__(self, *args: str, stdin: str | None = None, ok: bool = True) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            self.binary,
            "--cache-dir",
            str(self.cache / "kube-cache"),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), 60)
        code = process.returncode or 0
        if ok and code != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({code}): {err.decode()}")
        return code, out.decode(), err.decode()


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path)


def manifest(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj)


async def test_get_with_printer_columns(http: Http, kubectl: Kubectl) -> None:
    await install_widgets(http)
    await http.post(WIDGETS, widget("w1", size=3, color="red"))
    _, out, _ = await kubectl("get", "widgets")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "COLOR", "READY", "AGE"]
    assert lines[1].split()[:3] == ["w1", "3", "red"]
    _, out, _ = await kubectl("get", "wd", "w1", "-o", "jsonpath={.spec.size}")
    assert out == "3"
    _, out, _ = await kubectl("get", "ns")
    assert "default" in out and "Active" in out


async def test_describe_shows_fields_and_events(http: Http, kubectl: Kubectl) -> None:
    await install_widgets(http)
    _, obj = await http.post(WIDGETS, widget("w1", size=3))
    await http.post(
        "/api/v1/namespaces/default/events",
        {
            "metadata": {"name": "w1.1"},
            "reason": "Provisioned",
            "message": "widget is ready",
            "type": "Normal",
            "involvedObject": {
                "apiVersion": "example.dev/v1",
                "kind": "Widget",
                "name": "w1",
                "namespace": "default",
                "uid": obj["metadata"]["uid"],
            },
            "source": {"component": "test"},
            "count": 1,
            "firstTimestamp": obj["metadata"]["creationTimestamp"],
            "lastTimestamp": obj["metadata"]["creationTimestamp"],
        },
    )
    _, out, _ = await kubectl("describe", "widget", "w1")
    assert "Size:" in out and "Provisioned" in out and "widget is ready" in out
    _, out, _ = await kubectl("describe", "ns", "default")
    assert "Status:" in out and "Active" in out


async def test_explain(http: Http, kubectl: Kubectl) -> None:
    await install_widgets(http)
    _, out, _ = await kubectl("explain", "widgets.spec.size")
    assert "How big the widget is." in out and "integer" in out
    _, out, _ = await kubectl("explain", "configmaps.data")
    assert "Data contains the configuration data" in out


async def test_client_side_apply_create_and_update(http: Http, kubectl: Kubectl) -> None:
    await install_widgets(http)
    body = widget("w2", size=2)
    body["metadata"]["namespace"] = "default"
    _, out, _ = await kubectl("apply", "-f", "-", stdin=manifest(body))
    assert "widget.example.dev/w2 created" in out
    body["spec"]["size"] = 5
    _, out, _ = await kubectl("apply", "-f", "-", stdin=manifest(body))
    assert "configured" in out
    _, obj = await http.get(f"{WIDGETS}/w2")
    assert (
        obj["spec"]["size"] == 5
        and "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    )
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
        "data": {"a": "1", "b": "2"},
    }
    await kubectl("apply", "-f", "-", stdin=manifest(cm))
    cm["data"] = {"a": "1"}
    await kubectl("apply", "-f", "-", stdin=manifest(cm))
    _, obj = await http.get("/api/v1/namespaces/default/configmaps/c")
    assert obj["data"] == {"a": "1"}


async def test_server_side_apply_and_conflicts(http: Http, kubectl: Kubectl) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"a": "1"},
    }
    _, out, _ = await kubectl("apply", "--server-side", "-f", "-", stdin=manifest(cm))
    assert "serverside-applied" in out
    cm["data"] = {"a": "2"}
    code, _, err = await kubectl(
        "apply", "--server-side", "--field-manager", "other", "-f", "-", stdin=manifest(cm), ok=False
    )
    assert code != 0 and "conflict" in err.lower()
    await kubectl(
        "apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", "-", stdin=manifest(cm)
    )
    _, obj = await http.get("/api/v1/namespaces/default/configmaps/s")
    assert obj["data"] == {"a": "2"}


async def test_apply_validation_errors_name_the_field(http: Http, kubectl: Kubectl) -> None:
    await install_widgets(http)
    body = widget("bad", size=500)
    body["metadata"]["namespace"] = "default"
    code, _, err = await kubectl("apply", "-f", "-", stdin=manifest(body), ok=False)
    assert code != 0 and "spec.size" in err and "less than or equal to 100" in err
    body = widget("unknown", size=1, colour="red")
    body["metadata"]["namespace"] = "default"
    code, _, err = await kubectl("apply", "-f", "-", stdin=manifest(body), ok=False)
    assert code != 0 and 'unknown field "spec.colour"' in err


async def test_apply_crd_file_then_objects(kubectl: Kubectl) -> None:
    await kubectl("apply", "-f", str(FIXTURES / "widgets-crd.yaml"))
    body = widget("w3", size=1)
    body["metadata"]["namespace"] = "default"
    await kubectl("apply", "--server-side", "-f", "-", stdin=manifest(body))
    _, out, _ = await kubectl("get", "widgets", "-o", "name")
    assert out.strip() == "widget.example.dev/w3"


async def test_label_patch_delete(http: Http, kubectl: Kubectl) -> None:
    await http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "p"}, "data": {"a": "1"}})
    await kubectl("label", "configmap", "p", "team=x")
    await kubectl("patch", "configmap", "p", "--type", "merge", "-p", json.dumps({"data": {"b": "2"}}))
    await kubectl("patch", "configmap", "p", "--type", "json", "-p", json.dumps([{"op": "remove", "path": "/data/a"}]))
    _, obj = await http.get("/api/v1/namespaces/default/configmaps/p")
    assert obj["metadata"]["labels"] == {"team": "x"} and obj["data"] == {"b": "2"}
    _, out, _ = await kubectl("get", "cm", "-l", "team=x", "-o", "name")
    assert out.strip() == "configmap/p"
    _, out, _ = await kubectl("delete", "configmap", "p")
    assert 'configmap "p" deleted' in out
    status, _ = await http.get("/api/v1/namespaces/default/configmaps/p")
    assert status == 404


async def test_strategic_patch_of_a_deployment(http: Http, kubectl: Kubectl) -> None:
    from tests.conformance.test_writes import deployment

    await http.post(
        "/apis/apps/v1/namespaces/default/deployments",
        deployment("web", [{"name": "app", "image": "a:1"}, {"name": "log", "image": "l:1"}]),
    )
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "a:2"}]}}}}
    await kubectl("patch", "deployment", "web", "-p", json.dumps(patch))
    _, out, _ = await kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image}")
    assert out.split() == ["a:2", "l:1"]


async def test_get_watch(devcluster: DevCluster, http: Http, kubectl: Kubectl) -> None:
    await http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "first"}})
    process = await asyncio.create_subprocess_exec(
        kubectl.binary,
        "--cache-dir",
        str(kubectl.cache / "kube-cache"),
        "get",
        "configmaps",
        "-w",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=kubectl.env,
    )
    assert process.stdout is not None
    lines: list[str] = []

    async def read() -> None:
        assert process.stdout is not None
        while True:
            line = await process.stdout.readline()
            if not line:
                return
            lines.append(line.decode())

    reader = asyncio.create_task(read())
    try:
        await eventually(lambda: any(line.startswith("first") for line in lines))
        await http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "second"}})
        await eventually(lambda: any(line.startswith("second") for line in lines))
        assert lines[0].split()[:2] == ["NAME", "DATA"]
    finally:
        process.terminate()
        await process.wait()
        reader.cancel()
