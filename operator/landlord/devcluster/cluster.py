"""`Cluster`: the emulator's state and API semantics, independent of HTTP.

It is assembled from one layer per concern, each in its own module:

- `store.ObjectStore`: objects, the global resourceVersion, watch history and fan-out;
- `registry.Registry`: the served types, CRD registration;
- `writes.Writes`: create, update, patch, server-side apply (metadata checks in `metadata`);
- `limitranger.LimitRanger` and `quota.ResourceQuotas`: LimitRange defaults and limits, ResourceQuota
  admission and the quota controller keeping `status.used` (called by the write path);
- `lifecycle.Lifecycle`: DELETE, finalizers, namespace termination, garbage collection;
- `scale.Scaling`: the `scale` subresource of the workload kinds;
- `rbac.Rbac`: the bootstrap RBAC objects, review types and ClusterRole aggregation.
"""

from __future__ import annotations

from .lifecycle import Lifecycle
from .rbac import Rbac
from .resources import builtin_types
from .scale import Scaling

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Cluster(Rbac, Scaling, Lifecycle):
    """An empty cluster: the built-in types, the namespaces and the RBAC defaults a new cluster starts with."""

    def __init__(self, history: int = 100_000) -> None:
        super().__init__(history)
        for rt in builtin_types():
            self._register(rt)
        for name in INITIAL_NAMESPACES:
            self.create(self.find("", "namespaces"), None, {"metadata": {"name": name}}, "landlord-devcluster")
        self._bootstrap_rbac()
