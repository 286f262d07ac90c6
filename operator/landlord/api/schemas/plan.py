"""The Plan spec: limits, features, overuse policy, database, backups and pricing."""

from __future__ import annotations

from typing import Any

from .fragments import features, limits, money, prices
from .nodes import b, i, names, obj, rule, s
from .vocabulary import POD_SECURITY_LEVELS, QUANTITY


def quantity(description: str) -> dict[str, Any]:
    """A Kubernetes quantity (a whole number or a string such as 8Gi); omitted: no such entry."""
    return {
        "x-kubernetes-int-or-string": True,
        "description": f"{description} A Kubernetes quantity such as 8Gi or 4.",
        "x-kubernetes-validations": [
            rule(
                f"type(self) == int ? self >= 0 : self.matches('{QUANTITY}')",
                "must be a Kubernetes quantity, e.g. 8Gi or 4",
            )
        ],
    }


def count(description: str, **extra: Any) -> dict[str, Any]:
    return i(description, minimum=0, maximum=100000, **extra)


# What isolates the tenant beyond its limits: read by render/namespace.py and render/quota.py.
PLAN_QUOTA = obj(
    "ResourceQuota entries beyond the limits. Unset entries take the operator configuration's "
    "defaults (quota.ephemeralStorage, quota.objects).",
    {
        "limits": obj(
            "Totals of the containers' limits (ResourceQuota limits.cpu, limits.memory); unset: no such entry. "
            "Containers without limits get the LimitRange defaults.",
            {
                "cpu": quantity("Sum of CPU limits (ResourceQuota limits.cpu)."),
                "memory": quantity("Sum of memory limits (ResourceQuota limits.memory)."),
            },
        ),
        "ephemeralStorage": quantity("Ephemeral storage the pods may request in total (requests.ephemeral-storage)."),
        "loadBalancers": count(
            "Services of type LoadBalancer (services.loadbalancers). A LoadBalancer Service also takes "
            "node ports unless it sets allocateLoadBalancerNodePorts: false.",
            default=0,
        ),
        "nodePorts": count("Node ports, of NodePort and LoadBalancer Services (services.nodeports).", default=0),
        "objects": obj(
            "Object counts in the ResourceQuota; each unset one takes the operator configuration's "
            "quota.objects. The workload counts also bound what a suspension records.",
            {
                "configmaps": count("ConfigMaps."),
                "secrets": count("Secrets."),
                "services": count("Services."),
                "persistentvolumeclaims": count("PersistentVolumeClaims."),
                "count/deployments.apps": count("Deployments."),
                "count/statefulsets.apps": count("StatefulSets."),
                "count/replicasets.apps": count("ReplicaSets (a Deployment keeps its old ones too)."),
                "count/daemonsets.apps": count("DaemonSets."),
                "count/jobs.batch": count("Jobs (a CronJob's runs too)."),
                "count/cronjobs.batch": count("CronJobs."),
            },
        ),
    },
)

PLAN_SPEC = obj(
    "A service plan: what a tenant gets and what it costs.",
    {
        "displayName": s("Name shown to people.", maxLength=100),
        "description": s("A sentence about the plan.", maxLength=1000),
        "retired": b("True: tenants on it keep it, new tenants (and plan changes to it) are refused.", default=False),
        "limits": limits("Resource limits. Every limit is explicit: an omitted one is 0 (not offered)."),
        "features": features("Modules the tenant application enables, e.g. crm, invoicing."),
        "overuse": obj(
            "What happens when usage exceeds a limit. Existing data is never deleted.",
            {
                "policy": s(
                    "Block: hard quota. Notify: alert at thresholds. Bill: allowed and charged as overage.",
                    enum=["Block", "Notify", "Bill"],
                    default="Notify",
                ),
                "notifyAt": {
                    "type": "array",
                    "description": "Usage thresholds in percent of a limit that raise notifications.",
                    "x-kubernetes-list-type": "set",
                    "maxItems": 10,
                    "items": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                "suspendOnExceed": b("Suspend the tenant when a limit is exceeded.", default=False),
            },
        ),
        "database": obj(
            "The tenant's PostgreSQL database.",
            {
                "mode": s(
                    "Dedicated: a database per tenant. Shared: a schema in a shared database. Cluster: a "
                    "CloudNativePG cluster (postgresql.cnpg.io/v1) of its own in the tenant namespace.",
                    enum=["Dedicated", "Shared", "Cluster"],
                    default="Dedicated",
                ),
                "instances": i("Cluster mode: PostgreSQL instances (1 primary + replicas).", minimum=1, maximum=9),
                "connectionLimit": i("Connections the tenant may open.", minimum=1, maximum=10000),
                "serverClass": s(
                    "Place new tenants only on database servers of this class (`class` of a server in the "
                    "operator configuration's database.servers); unset: any server.",
                    maxLength=63,
                ),
            },
        ),
        "backup": obj(
            "Backups of the tenant's data.",
            {
                "schedule": s('Cron schedule (UTC), e.g. "0 3 * * *".', maxLength=100, pattern=r"^(\S+\s+){4}\S+$"),
                "retention": obj(
                    "How many backups to keep.",
                    {
                        "daily": i("Daily backups kept.", minimum=0, maximum=366),
                        "weekly": i("Weekly backups kept.", minimum=0, maximum=104),
                        "monthly": i("Monthly backups kept.", minimum=0, maximum=120),
                    },
                ),
            },
        ),
        "pricing": obj(
            "Prices of the plan.",
            {
                "currency": s("ISO 4217 currency code, e.g. EUR.", pattern=r"^[A-Z]{3}$"),
                "prices": prices("Price per billing cycle: Monthly, Yearly."),
                "setupFee": money("Charged on the first invoice."),
                "trialDays": i("Days of free trial for new tenants.", minimum=0, maximum=365, default=0),
                "prorate": b("Charge partial periods by days on the plan.", default=True),
                "seatPrice": money("Price per seat beyond the included users, per period."),
                "seatsPerModule": b("Charge seats per enabled module.", default=False),
                "metered": {
                    "type": "array",
                    "description": "Usage billed beyond the limit when the overuse policy is Bill.",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["meter"],
                    "maxItems": 20,
                    "items": obj(
                        "A metered price.",
                        {
                            "meter": s("What is metered.", enum=["traffic", "storage", "databaseStorage", "users"]),
                            "unit": s("Unit of the price, e.g. GiB.", maxLength=20),
                            "unitPrice": money("Price per unit beyond the limit."),
                        },
                        required=["meter", "unit", "unitPrice"],
                    ),
                },
                "discounts": {
                    "type": "object",
                    "description": "Percent discount by customer type (Business, Individual, Charity, Education).",
                    "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100},
                    "x-kubernetes-validations": [
                        rule(
                            "self.all(k, k in ['Business', 'Individual', 'Charity', 'Education'])",
                            "customer types are Business, Individual, Charity and Education",
                        )
                    ],
                },
            },
            required=["currency", "prices"],
        ),
        "podSecurity": s(
            "Pod Security Admission level enforced, audited and warned in the tenant namespace: restricted "
            "(the default), baseline, or privileged (no restriction: host access; trusted tenants only).",
            enum=list(POD_SECURITY_LEVELS),
            default="restricted",
        ),
        "quota": PLAN_QUOTA,
        "upgradesTo": names("Plans a tenant may upgrade to."),
        "downgradesTo": names("Plans a tenant may downgrade to."),
    },
)
