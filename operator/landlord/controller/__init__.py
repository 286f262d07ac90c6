"""The reconcile loops: tenants (components rolled up into status) and catalogue usage.

`core.Controller` owns the queue and the triggers; `tenants` reconciles one Tenant through the
components; `status` rolls their observations up (pure); `usage` keeps Plans, AddOns and
Resellers' usage and deletion guard; `workloads` scales the tenant's own workloads.
"""

from .core import Controller
from .tenants import TENANT_FINALIZER, ReconcileFailed, TenantReconciler
from .usage import IN_USE_FINALIZER
from .workloads import restore_workloads, suspend_workloads

__all__ = [
    "IN_USE_FINALIZER",
    "TENANT_FINALIZER",
    "Controller",
    "ReconcileFailed",
    "TenantReconciler",
    "restore_workloads",
    "suspend_workloads",
]
