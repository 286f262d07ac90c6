"""The client reads certificate data as PEM, and as the kubeconfig's base64 of it (how kopf's
kubeconfig login passes `certificate-authority-data` on)."""

from __future__ import annotations

import base64

import kopf

from landlord.devcluster.tls import generate
from landlord.kube import KubeClient


def test_ca_data_as_pem_or_as_the_kubeconfig_base64_of_it() -> None:
    pem = generate(["127.0.0.1"]).ca
    for given in (pem, base64.b64encode(pem), base64.b64encode(pem).decode()):
        client = KubeClient(kopf.ConnectionInfo(server="https://127.0.0.1:1", ca_data=given))
        assert client._ssl is not False
