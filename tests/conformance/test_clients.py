"""The official `kubernetes` Python client, sync and dynamic, works unchanged.

The sync client blocks, so each call runs in a thread while the test loop serves the API.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException

from tests.helpers import load_yaml


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


async def test_sync_client_crud_and_errors(kubeconfig: Path) -> None:
    def scenario() -> dict[str, Any]:
        api = client.CoreV1Api(api_client(kubeconfig))
        api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="sync")))
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c", labels={"a": "b"}), data={"k": "v"})
        created = api.create_namespaced_config_map("sync", body)
        listed = api.list_namespaced_config_map("sync", label_selector="a=b")
        patched = api.patch_namespaced_config_map("c", "sync", {"data": {"k": "w"}})
        with pytest.raises(ApiException) as missing:
            api.read_namespaced_config_map("nope", "sync")
        with pytest.raises(ApiException) as duplicate:
            api.create_namespaced_config_map("sync", body)
        api.delete_namespaced_config_map("c", "sync")
        return {
            "created": created.metadata.resource_version,
            "listed": [i.metadata.name for i in listed.items],
            "patched": patched.data,
            "missing": missing.value.status,
            "duplicate": duplicate.value.status,
        }

    result = await asyncio.to_thread(scenario)
    assert result["listed"] == ["c"] and result["patched"] == {"k": "w"}
    assert result["missing"] == 404 and result["duplicate"] == 409


async def test_sync_client_watch(kubeconfig: Path) -> None:
    def scenario() -> list[tuple[str, str]]:
        api = client.CoreV1Api(api_client(kubeconfig))
        api.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w")))
        seen = []
        for event in watch.Watch().stream(api.list_namespaced_config_map, "default", timeout_seconds=1):
            seen.append((event["type"], event["object"].metadata.name))
        return seen

    assert await asyncio.to_thread(scenario) == [("ADDED", "w")]


async def test_dynamic_client_discovers_crds(kubeconfig: Path) -> None:
    def scenario() -> dict[str, Any]:
        dyn = dynamic.DynamicClient(api_client(kubeconfig))
        crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
        crds.create(body=load_yaml("widgets-crd.yaml"))
        dyn.resources.invalidate_cache()
        widgets = dyn.resources.get(api_version="example.dev/v1", kind="Widget")
        widgets.create(
            namespace="default",
            body={"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "d"}, "spec": {"size": 4}},
        )
        got = widgets.get(name="d", namespace="default")
        widgets.server_side_apply(
            namespace="default",
            field_manager="dyn",
            body={"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "d"}, "spec": {"size": 6}},
            force_conflicts=True,
        )
        after = widgets.get(name="d", namespace="default")
        return {"size": got.spec.size, "color": got.spec.color, "after": after.spec.size}

    result = await asyncio.to_thread(scenario)
    assert result == {"size": 4, "color": "green", "after": 6}
