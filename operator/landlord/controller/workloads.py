"""Suspension of the tenant's own workloads: scale to zero and remember, restore on activation."""

from __future__ import annotations

from ..kube import KubeClient, KubeError

REPLICAS_ANNOTATION = "landlord.dev/suspended-replicas"


async def scale_workloads(client: KubeClient, namespace: str, suspended: bool) -> None:
    """Suspension scales Deployments and StatefulSets to zero and remembers their replicas;
    activation restores them. Workloads are the tenant's own, listed only around suspension."""
    for kind in ("Deployment", "StatefulSet"):
        try:
            workloads = await client.list(kind, namespace)
        except KubeError as exc:
            if exc.status == 404:
                return
            raise
        for workload in workloads:
            meta = workload["metadata"]
            annotations = meta.get("annotations") or {}
            replicas = (workload.get("spec") or {}).get("replicas", 1)
            if suspended and replicas != 0:
                remembered = annotations.get(REPLICAS_ANNOTATION, str(replicas))
                await client.patch(
                    kind,
                    meta["name"],
                    {"metadata": {"annotations": {REPLICAS_ANNOTATION: remembered}}, "spec": {"replicas": 0}},
                    namespace,
                )
            elif not suspended and REPLICAS_ANNOTATION in annotations:
                await client.patch(
                    kind,
                    meta["name"],
                    {
                        "metadata": {"annotations": {REPLICAS_ANNOTATION: None}},
                        "spec": {"replicas": int(annotations[REPLICAS_ANNOTATION])},
                    },
                    namespace,
                )
