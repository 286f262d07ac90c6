"""Leases and Events, which kopf uses for peering and for reporting:
https://kubernetes.io/docs/concepts/architecture/leases/ and the core/v1 Event type."""

from __future__ import annotations

from tests.helpers import Http


async def test_lease_lifecycle(http: Http) -> None:
    leases = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
    lease = {
        "metadata": {"name": "landlord"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "acquireTime": "2026-01-01T00:00:00.000000Z"},
    }
    status, created = await http.post(leases, lease)
    assert status == 201
    created["spec"]["holderIdentity"] = "b"
    status, updated = await http.put(f"{leases}/landlord", created)
    assert status == 200 and updated["spec"]["holderIdentity"] == "b"
    created["spec"]["holderIdentity"] = "c"  # stale resourceVersion: the loser of a race
    status, _ = await http.put(f"{leases}/landlord", created)
    assert status == 409


async def test_events_for_cluster_scoped_objects(http: Http) -> None:
    event = {
        "metadata": {"generateName": "acme."},
        "involvedObject": {"apiVersion": "landlord.dev/v1alpha1", "kind": "Tenant", "name": "acme", "uid": "u"},
        "reason": "Provisioned",
        "message": "tenant is ready",
        "type": "Normal",
        "source": {"component": "landlord"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }
    status, created = await http.post("/api/v1/namespaces/default/events", event)
    assert status == 201 and created["metadata"]["name"].startswith("acme.")
    status, listing = await http.get("/api/v1/events", fieldSelector="involvedObject.name=acme,source=landlord")
    assert [e["reason"] for e in listing["items"]] == ["Provisioned"]
