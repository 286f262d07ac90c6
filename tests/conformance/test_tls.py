"""HTTPS serving: clients verify the server against the CA in the kubeconfig, never skip it.

A kubeconfig cluster entry carries the CA that signs the API server's serving certificate as
`certificate-authority-data` (base64 PEM), and clients verify the server's certificate and
name against it: https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/
and https://kubernetes.io/docs/reference/config-api/kubeconfig.v1/#Cluster. The serving
certificate names the addresses clients use (subjectAltName), as kube-apiserver's does for
127.0.0.1 and localhost: https://kubernetes.io/docs/setup/best-practices/certificates/.
"""

from __future__ import annotations

import asyncio
import base64
import signal
import ssl
import sys
from pathlib import Path

import aiohttp
import kopf
import pytest
import yaml
from kubernetes import client, config

from landlord.devcluster import DevCluster
from tests.conformance.test_kubectl import Kubectl, manifest
from tests.helpers import Http

ROOT = Path(__file__).resolve().parents[2]


async def test_https_with_the_ca_from_the_kubeconfig(tls_devcluster: DevCluster, tls_kubeconfig: Path) -> None:
    """The kubeconfig names an https server and its CA; that CA (alone) verifies the server."""
    cluster = yaml.safe_load(tls_kubeconfig.read_text())["clusters"][0]["cluster"]
    assert cluster["server"] == tls_devcluster.url and cluster["server"].startswith("https://127.0.0.1:")
    assert "insecure-skip-tls-verify" not in cluster
    ca = base64.b64decode(cluster["certificate-authority-data"])
    assert ca.startswith(b"-----BEGIN CERTIFICATE-----") and ca == tls_devcluster.ca_data
    trusting = ssl.create_default_context(cadata=ca.decode())
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{tls_devcluster.url}/version", ssl=trusting) as response:
            assert response.status == 200 and (await response.json())["major"] == "1"
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(f"{tls_devcluster.url}/version", ssl=ssl.create_default_context())
        with pytest.raises(aiohttp.ClientError):
            await session.get(f"http://127.0.0.1:{tls_devcluster.port}/version")


async def test_certificate_names_localhost_and_loopback(tls_devcluster: DevCluster) -> None:
    """The serving certificate is valid for both 127.0.0.1 and localhost (hostname checked)."""
    context = tls_devcluster.client_ssl_context()
    assert context is not None and context.check_hostname
    async with aiohttp.ClientSession() as session:
        for host in ("127.0.0.1", "localhost"):
            async with session.get(f"https://{host}:{tls_devcluster.port}/healthz", ssl=context) as response:
                assert response.status == 200


async def test_api_over_https(tls_http: Http) -> None:
    """The whole API is served over HTTPS: writes, reads and watches."""
    status, _ = await tls_http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c"}})
    assert status == 201
    async with tls_http.watch("/api/v1/namespaces/default/configmaps") as stream:
        event = await stream.next()
    assert event is not None and event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "c"


@pytest.mark.kubectl
async def test_kubectl_verifies_the_server(tls_devcluster: DevCluster, tls_kubeconfig: Path, tmp_path: Path) -> None:
    """kubectl trusts the server through certificate-authority-data, and refuses it without."""
    kubectl = Kubectl(tls_kubeconfig, tmp_path)
    await kubectl(
        "apply", "-f", "-", stdin=manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    )
    _, out, _ = await kubectl("get", "configmaps", "-o", "name")
    assert out.split() == ["configmap/x"]
    untrusted = yaml.safe_load(tls_kubeconfig.read_text())
    del untrusted["clusters"][0]["cluster"]["certificate-authority-data"]
    path = tmp_path / "untrusted"
    path.write_text(yaml.safe_dump(untrusted))
    code, _, err = await Kubectl(path, tmp_path / "other")("get", "ns", ok=False)
    assert code != 0 and "certificate signed by unknown authority" in err


async def test_official_client_over_https(tls_kubeconfig: Path) -> None:
    """The `kubernetes` client loads the CA from the kubeconfig and verifies the server."""

    def scenario() -> list[str]:
        api = client.CoreV1Api(config.new_client_from_config(config_file=str(tls_kubeconfig)))
        assert api.api_client.configuration.verify_ssl
        return [str(ns.metadata.name) for ns in api.list_namespace().items]

    assert "default" in await asyncio.to_thread(scenario)


async def test_kopf_login_verifies_with_the_ca(
    tls_devcluster: DevCluster, tls_kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kopf's kubeconfig login takes the CA data (not insecure) and its TLS context verifies."""
    monkeypatch.setenv("KUBECONFIG", str(tls_kubeconfig))
    info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    assert info is not None and not info.insecure and info.ca_data
    async with aiohttp.ClientSession() as session:
        url = f"{info.server}/api/v1/namespaces/default"
        async with session.get(url, ssl=info.as_ssl_context(), headers=info.as_http_headers()) as response:
            assert response.status == 200


async def test_landlord_devcluster_tls_command(tmp_path: Path) -> None:
    """`landlord devcluster --tls` serves HTTPS and writes a kubeconfig that carries its CA."""
    kubeconfig = tmp_path / "kubeconfig"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "landlord",
        "devcluster",
        "--tls",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert "serving on https://127.0.0.1:" in line, line
        cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
        context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        async with aiohttp.ClientSession() as session, session.get(f"{cluster['server']}/api", ssl=context) as response:
            assert response.status == 200 and (await response.json())["kind"] == "APIVersions"
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)
