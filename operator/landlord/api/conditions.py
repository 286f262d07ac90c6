"""The Tenant's lifecycle phases and condition types, as string enums.

Members are `str`s, so they compare equal to the plain values found in status dicts
(`Phase.ACTIVE == "Active"`). Every capability reports one condition; `Ready` rolls them up.
A new capability (databases, domains, certificates, DNS, backups) adds its member here.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """`status.phase` of a Tenant."""

    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    TRIAL = "Trial"
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    TERMINATING = "Terminating"
    FAILED = "Failed"


class ConditionType(StrEnum):
    """`status.conditions[].type` of a Tenant."""

    READY = "Ready"
    NAMESPACE_READY = "NamespaceReady"
    QUOTA_READY = "QuotaReady"
    NETWORK_READY = "NetworkReady"
    ACCESS_READY = "AccessReady"
    ENTITLEMENTS_READY = "EntitlementsReady"
    DATABASE_READY = "DatabaseReady"
    PLAN_SYNCED = "PlanSynced"
