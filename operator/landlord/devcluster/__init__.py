"""An in-memory Kubernetes API server for tests and the playground.

It speaks the real REST API over HTTP so that kopf, the `kubernetes` client and kubectl work
against it unchanged. It schedules nothing and runs no pods: it is the API server alone.
"""

from .cluster import Cluster
from .server import DevCluster

__all__ = ["Cluster", "DevCluster"]
