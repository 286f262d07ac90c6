"""Status schemas: the Tenant's observed state, and the usage status of Plans, AddOns and Resellers."""

from __future__ import annotations

from ..conditions import Phase
from .nodes import b, i, obj, s

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

DATABASE = obj(
    "The tenant's database, as placed and observed. Recorded before anything is created, so that a "
    "restart continues where it stopped; the server never changes silently.",
    {
        "mode": s("Dedicated (a database of its own) or Shared (a schema in the shared database)."),
        "server": s("The database server (a name from the operator configuration's database.servers)."),
        "name": s("The database to connect to."),
        "schema": s("Shared mode: the tenant's schema (its role's search_path)."),
        "username": s("The tenant's role."),
        "secretName": s("The Secret in the tenant namespace with host, port, database, username, password, uri."),
        "phase": s(
            "Creating, Ready, ReadOnly (over databaseStorage with the Block policy), Suspended (login revoked), "
            "Migrating (Shared to Dedicated), Retained or Deleted (after the tenant's deletion)."
        ),
        "size": s("Space used, rounded up to MiB, from the last metering pass."),
        "rotation": s("The last handled value of the annotation landlord.dev/rotate-database-password."),
        "migratingTo": s("The mode a migration in progress moves to."),
        "cluster": s("Cluster mode: the CloudNativePG Cluster in the tenant namespace."),
        "previousMode": s("Set after a migration until the old schema is dropped."),
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
        "namespace": s("The tenant's namespace (only once Landlord created it for this tenant)."),
        "namespaceUID": s(
            "The uid of the namespace Landlord created for this Tenant: the only namespace it writes to, prunes "
            "in or deletes. A namespace of the same name with another uid is never adopted (NamespaceConflict)."
        ),
        "namespaceClaim": s(
            "While the namespace is being created, when the operator has no claim key (Secret "
            "landlord-namespace-claims in its namespace): the SHA-256 of the one-time token put on it, so that a "
            "restart between its creation and the uid's recording recognises it, and nothing else."
        ),
        "subdomain": s(
            "The subdomain assigned to this tenant: it cannot change any more (spec.domains.subdomain must equal it)."
        ),
        "host": s(
            "The generated host (subdomain and base domain) assigned to this tenant: what holds it against "
            "another tenant asking for the same host."
        ),
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
        "addOnHistory": {
            "type": "array",
            "description": "Add-ons over time, for proration: each entry is the whole set of add-ons from `since` on.",
            "items": obj(
                "The add-ons from a point in time.",
                {
                    "since": s("Start.", format="date-time"),
                    "addOns": {
                        "type": "array",
                        "description": "Add-ons with quantities (empty: none).",
                        "items": obj(
                            "An add-on and how many units.",
                            {"name": s("Name of the AddOn."), "quantity": i("Units.", minimum=0)},
                        ),
                    },
                },
            ),
        },
        "trialEndsAt": s("End of the trial.", format="date-time"),
        "suspendedAt": s("When the tenant was suspended.", format="date-time"),
        "overLimit": obj(
            "Kept while usage is above an effective limit and the plan has overuse.suspendOnExceed: the tenant "
            "is suspended (OverLimit) once `since` is overuse.suspendAfter (operator configuration) in the past, "
            "and activated as soon as every usage is within its limit (this field is then removed).",
            {
                "since": s("When the usage went over a limit (the suspension's clock).", format="date-time"),
                "resources": {
                    "type": "array",
                    "description": "The resources over their limit, sorted.",
                    "items": {"type": "string"},
                },
            },
        ),
        "suspension": obj(
            "What restores the tenant's workloads on activation, recorded before they were stopped.",
            {
                "workloads": {
                    "type": "array",
                    "description": "One entry per stopped workload.",
                    "items": obj(
                        "A stopped workload and what it had.",
                        {
                            "kind": s(
                                "Deployment, StatefulSet, ReplicaSet, ReplicationController, DaemonSet or CronJob."
                            ),
                            "name": s("Its name in the tenant namespace."),
                            "replicas": i("Replicas to restore (Deployment, StatefulSet, ReplicaSet)."),
                            "nodeSelector": {
                                "type": "object",
                                "description": "DaemonSet: the node selector to restore.",
                                "additionalProperties": {"type": "string"},
                            },
                            "suspend": b("CronJob: the suspend flag to restore."),
                        },
                    ),
                },
                "unrecorded": i(
                    "Workloads stopped beyond the record's bound (1000): activation does not restore them."
                ),
            },
        ),
        "deletionPolicy": s("The deletion policy recorded for data clean-up."),
        "database": DATABASE,
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
