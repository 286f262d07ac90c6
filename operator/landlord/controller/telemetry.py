"""What the metrics say about one tenant, from what its reconcile already holds. Pure.

No API call is made for a metric: limits are the desired state's effective limits; usage is the
ResourceQuota's `status.used` as the operator's index (or our last write) holds it, the custom domains
in the spec, and the seats the tenant application's vendor reported in an annotation on the
Tenant (`ACTIVE_USERS_ANNOTATION`, see docs/runbooks.md "Seats"); components add their own
meters at scrape time (`Component.usage()`: the database size).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..metrics import TenantSample
from ..pipeline import Desired
from ..pipeline.catalogue import custom_domains
from ..pipeline.overuse import billed_resources
from ..pipeline.rules import mapping
from ..quantity import parse_quantity
from ..render.tenant import QUOTA_KEYS

# Written on the Tenant by the vendor's application backend, never from inside the tenant's
# namespace: whatever the namespace can write, its owner can, and reported seats raise its bill.
ACTIVE_USERS_ANNOTATION = "landlord.dev/active-users"
MAX_SEATS = 1_000_000  # a report above this is a broken reporter, not a customer
_COUNT = re.compile(r"^[0-9]{1,7}$")

# `status.used` key of the ResourceQuota -> the resource name of the limits and metrics.
USED_KEYS = {quota_key: resource for resource, quota_key in QUOTA_KEYS.items()}


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def quota_usage(quota: Mapping[str, Any] | None) -> dict[str, float]:
    """cpu, memory, storage and pods from the quota's `status.used` (what the API server counted);
    a resource the quota does not hold (unlimited) or a value that is no quantity is left out."""
    used = mapping(mapping((quota or {}).get("status")).get("used"))
    found: dict[str, float] = {}
    for key, resource in USED_KEYS.items():
        if key not in used:
            continue
        try:
            found[resource] = float(parse_quantity(used[key]))
        except ValueError:
            continue
    return found


def reported_users(tenant: Mapping[str, Any]) -> float | None:
    """The seats last reported for the tenant, or None when there is no valid report.

    Only a plain whole number is taken ("12"); anything else ("12.5", "-1", "1e3", a number above
    MAX_SEATS) is no report at all rather than a guess.
    """
    annotations = mapping(mapping(tenant.get("metadata")).get("annotations"))
    text = annotations.get(ACTIVE_USERS_ANNOTATION)
    if not isinstance(text, str) or not _COUNT.match(text.strip()):
        return None
    count = int(text.strip())
    return float(count) if count <= MAX_SEATS else None


def tenant_sample(
    tenant: Mapping[str, Any], desired: Desired, phase: str, quota: Mapping[str, Any] | None
) -> TenantSample:
    """The tenant's series after a reconcile that computed its desired state."""
    limits = {k: v for k, v in ((k, _number(v)) for k, v in desired.entitlements.limits.items()) if v is not None}
    usage = measured_usage(tenant, desired.spec, quota)
    plan_spec = mapping(desired.plan.get("spec"))
    overuse = mapping(plan_spec.get("overuse"))
    thresholds = tuple(sorted({int(p) for p in overuse.get("notifyAt") or [] if isinstance(p, int)}))
    return TenantSample(
        plan=str(desired.spec.get("plan") or ""),
        reseller=str(desired.spec.get("reseller") or ""),
        phase=phase,
        policy=str(overuse.get("policy") or "Notify"),
        limits=limits,
        usage=usage,
        thresholds=thresholds,
        billed=billed_resources(plan_spec),
    )


def measured_usage(
    tenant: Mapping[str, Any],
    spec: Mapping[str, Any],
    quota: Mapping[str, Any] | None,
    meters: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """What the tenant uses, by resource: the quota's `status.used`, its custom domains, the
    reported seats, and the components' meters (`meters`, e.g. the database size) when given."""
    usage = quota_usage(quota)
    usage["customDomains"] = float(len(custom_domains(spec)))  # asked for, verified or not
    users = reported_users(tenant)
    if users is not None:
        usage["users"] = users
    usage.update(meters or {})
    return usage


def info_sample(tenant: Mapping[str, Any], phase: str, metered: bool = True) -> TenantSample:
    """Only the info of a tenant: refused (no desired state to take limits from) or being deleted."""
    spec = mapping(tenant.get("spec"))
    plan, reseller = str(spec.get("plan") or ""), str(spec.get("reseller") or "")
    return TenantSample(plan=plan, reseller=reseller, phase=str(phase), metered=metered)
