"""Status schemas: the Tenant's observed state, and the usage status of Plans, AddOns and Resellers."""

from __future__ import annotations

from ..conditions import Phase
from .nodes import i, obj, s

CONDITION = obj(
    "A condition of the tenant.",
    {
        "type": s(
            "Ready (all of the others), one per component (NamespaceReady, QuotaReady, NetworkReady, "
            "AccessReady, EntitlementsReady, ...), or PlanSynced."
        ),
        "status": s("True, False or Unknown.", enum=["True", "False", "Unknown"]),
        "reason": s("One CamelCase word."),
        "message": s("What is wrong and what to do."),
        "observedGeneration": i("The generation the condition is about."),
        "lastTransitionTime": s("When the status last changed.", format="date-time"),
    },
    required=["type", "status"],
)

EFFECTIVE = obj(
    "What the tenant actually gets.",
    {
        "limits": {"type": "object", "description": "Effective limits.", "x-kubernetes-preserve-unknown-fields": True},
        "features": {"type": "array", "description": "Effective modules.", "items": {"type": "string"}},
    },
)

TENANT_STATUS = obj(
    "Observed state, written by the operator only.",
    {
        "phase": s(
            "Pending, Provisioning, Trial, Active, Suspended, Terminating or Failed.",
            enum=[phase.value for phase in Phase],
        ),
        "reason": s("Why the tenant is in its phase (e.g. Expired, Manual, PlanRetired)."),
        "message": s("What is wrong and what to do, when something is."),
        "observedGeneration": i("The generation last reconciled."),
        "namespace": s("The tenant's namespace."),
        "url": s("The tenant's address."),
        "conditions": {
            "type": "array",
            "description": "Conditions.",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            "items": CONDITION,
        },
        "effective": EFFECTIVE,
        "planSync": obj(
            "How the tenant follows its plan.",
            {
                "state": s(
                    "Synced, Customized, Locked or Unsynchronized.",
                    enum=["Synced", "Customized", "Locked", "Unsynchronized"],
                ),
                "unsynchronized": {
                    "type": "array",
                    "description": "Properties the cluster cannot deliver.",
                    "items": obj(
                        "A property not delivered.",
                        {
                            "property": s("e.g. limits.storage."),
                            "promised": s("What plan, add-ons and overrides promise."),
                            "available": s("What is delivered."),
                        },
                    ),
                },
                "locked": {
                    "type": "object",
                    "description": "Snapshot kept while syncPolicy is Locked.",
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
        ),
        "planHistory": {
            "type": "array",
            "description": "Plans over time, for proration.",
            "items": obj("A plan period.", {"plan": s("Plan name."), "since": s("Start.", format="date-time")}),
        },
        "trialEndsAt": s("End of the trial.", format="date-time"),
        "suspendedAt": s("When the tenant was suspended.", format="date-time"),
        "deletionPolicy": s("The deletion policy recorded for data clean-up."),
    },
) | {"x-kubernetes-preserve-unknown-fields": True}

USAGE_STATUS = obj(
    "Observed state, written by the operator only.",
    {
        "tenants": i("How many tenants use it."),
        "usedBy": {
            "type": "array",
            "description": "Names of tenants using it (first 50).",
            "items": {"type": "string"},
        },
        "message": s("Why a deletion is held, when it is."),
    },
) | {"x-kubernetes-preserve-unknown-fields": True}
