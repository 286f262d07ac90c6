"""Assembly of the CustomResourceDefinitions: names, printer columns, root rules."""

from __future__ import annotations

from typing import Any

from ...config import DEFAULTS, NAMESPACE_NAME_MAX
from .addon import ADDON_SPEC
from .invoice import CREDIT_NOTE_SPEC, CREDIT_NOTE_STATUS, INVOICE_SPEC, INVOICE_STATUS
from .nodes import rule, s
from .plan import PLAN_SPEC
from .reseller import RESELLER_SPEC
from .status import TENANT_STATUS, USAGE_STATUS
from .tenant import SUBDOMAIN_RULE, TENANT_SPEC
from .vocabulary import GROUP, VERSION

DEFAULT_PREFIX = str(DEFAULTS["namespacePrefix"])


def crd(
    kind: str,
    plural: str,
    short: str,
    spec: dict[str, Any],
    status: dict[str, Any],
    columns: list[dict[str, Any]],
    description: str,
    root_rules: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One cluster-scoped CRD of the landlord.dev group, served and stored at v1alpha1, with a status subresource."""
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": s("APIVersion of this representation: landlord.dev/v1alpha1."),
            "kind": s(f"Kind: {kind}."),
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if root_rules:
        schema["x-kubernetes-validations"] = root_rules
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "listKind": f"{kind}List",
                "categories": ["landlord"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _col(name: str, path: str, kind: str = "string", priority: int = 0) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": kind, "jsonPath": path}
    if priority:
        column["priority"] = priority
    return column


AGE = _col("Age", ".metadata.creationTimestamp", "date")


def name_rule_message(namespace_prefix: str = DEFAULT_PREFIX) -> str:
    """What is wrong with a Tenant name that cannot make a namespace (the CRD and the operator alike)."""
    return (
        f"the tenant name must be a DNS label (lower case letters, digits, '-') of at most "
        f"{NAMESPACE_NAME_MAX - len(namespace_prefix)} characters, because its namespace is {namespace_prefix}<name>"
    )


def name_rule(namespace_prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The Tenant name rule for a namespace prefix: `<prefix><name>` must fit in 63 characters."""
    room = NAMESPACE_NAME_MAX - len(namespace_prefix)
    return rule(
        f"self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= {room}",
        name_rule_message(namespace_prefix),
    )


def all_crds(namespace_prefix: str = DEFAULT_PREFIX) -> list[dict[str, Any]]:
    """The Plan, AddOn, Reseller, Tenant, Invoice and CreditNote CRDs, in that order (as written to `crds/`).

    `namespace_prefix`: the operator's `namespacePrefix`, whose length bounds a Tenant's name
    (`landlord crds --config FILE`); `crds/` holds them for the default, `t-`.
    """
    return [
        crd(
            "Plan",
            "plans",
            "plan",
            PLAN_SPEC,
            USAGE_STATUS,
            [
                _col("Currency", ".spec.pricing.currency"),
                _col("Monthly", ".spec.pricing.prices.Monthly"),
                _col("Tenants", ".status.tenants", "integer"),
                _col("Retired", ".spec.retired", "boolean"),
                AGE,
            ],
            "A Landlord service plan.",
        ),
        crd(
            "AddOn",
            "addons",
            "addon",
            ADDON_SPEC,
            USAGE_STATUS,
            [
                _col("Max", ".spec.maxQuantity", "integer"),
                _col("Tenants", ".status.tenants", "integer"),
                AGE,
            ],
            "A Landlord add-on pack.",
        ),
        crd(
            "Reseller",
            "resellers",
            "rsl",
            RESELLER_SPEC,
            USAGE_STATUS,
            [
                _col("Domain", ".spec.baseDomain"),
                _col("Tenants", ".status.tenants", "integer"),
                AGE,
            ],
            "A Landlord reseller.",
        ),
        crd(
            "Tenant",
            "tenants",
            "tn",
            TENANT_SPEC,
            TENANT_STATUS,
            [
                _col("Plan", ".spec.plan"),
                _col("Phase", ".status.phase"),
                _col("URL", ".status.url"),
                _col("Sync", ".status.planSync.state"),
                _col("Reseller", ".spec.reseller", priority=1),
                AGE,
            ],
            "A Landlord tenant: one customer subscription.",
            [name_rule(namespace_prefix), SUBDOMAIN_RULE],
        ),
        crd(
            "Invoice",
            "invoices",
            "inv",
            INVOICE_SPEC,
            INVOICE_STATUS,
            [
                _col("Number", ".spec.number"),
                _col("Tenant", ".spec.tenant"),
                _col("Period", ".spec.period"),
                _col("Total", ".spec.total"),
                _col("Currency", ".spec.currency", priority=1),
                _col("State", ".status.state"),
                _col("Due", ".spec.dueAt", priority=1),
                AGE,
            ],
            "An invoice issued by the Landlord billing sidecar: one per tenant and closed period, never edited.",
        ),
        crd(
            "CreditNote",
            "creditnotes",
            "cn",
            CREDIT_NOTE_SPEC,
            CREDIT_NOTE_STATUS,
            [
                _col("Number", ".spec.number"),
                _col("Tenant", ".spec.tenant"),
                _col("Invoice", ".spec.invoiceNumber"),
                _col("Total", ".spec.total"),
                AGE,
            ],
            "A credit note correcting an issued Invoice (all of it or part), numbered in the invoices' sequence.",
        ),
    ]


def crd_by_kind(namespace_prefix: str = DEFAULT_PREFIX) -> dict[str, dict[str, Any]]:
    """The CRDs keyed by kind (Plan, AddOn, Reseller, Tenant, Invoice, CreditNote)."""
    return {c["spec"]["names"]["kind"]: c for c in all_crds(namespace_prefix)}
