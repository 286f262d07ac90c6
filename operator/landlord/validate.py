"""`landlord validate`: the offline check a pull request runs on a catalogue and its tenants.

Each landlord.dev document is checked against its CRD schema and CEL rules (the same engine
the API-server emulator uses), then every Tenant against the catalogue with the operator's own
rules (`landlord.pipeline.rules`: references exist, add-ons fit their plan, quantities,
currencies, hosts held by one tenant only), worded as the operator words them. A tenant on a
retired plan is a warning (it may be an existing subscriber).

The operator configuration (`--config`) gives the namespace prefix (how long a tenant name may
be) and the base domain (which hosts collide); without one, its defaults, as `landlord render`.
"""

from __future__ import annotations

import re
from typing import Any

from .api.schemas import API_VERSION, DNS_LABEL, crd_by_kind
from .config import Config, parse
from .documents import Document, Problem
from .pipeline import StaticCatalogue, resolve
from .pipeline.rules import mapping, sequence
from .validation import FieldError, Walker, validate_custom_resource

KINDS = ("Plan", "AddOn", "Reseller", "Tenant")
_DNS_LABEL_HINT = "use lower case letters, digits and '-', starting and ending with a letter or digit"


def _hint(error: FieldError) -> str:
    if error.type == "FieldValueRequired":
        return "add this field"
    if error.type == "FieldValueNotSupported":
        return "use one of the supported values"
    if error.type == "FieldValueDuplicate":
        return "remove the duplicate"
    if error.type == "FieldValueTooLong":
        return "shorten it"
    if error.type == "FieldValueTooMany":
        return "remove entries"
    if "must be of type" in error.detail:
        return "give a value of that type"
    if "should match" in error.detail:
        return "change the value to match the pattern"
    if "greater than" in error.detail or "less than" in error.detail:
        return "choose a value within the range"
    return "fix the value"


def _schema_problems(doc: Document, walker: Walker, crds: dict[str, dict[str, Any]]) -> list[Problem]:
    body = doc.body
    kind = doc.kind
    problems: list[Problem] = []

    def add(field: str, message: str, severity: str = "error") -> None:
        problems.append(
            Problem(doc.path, doc.line_of(field) if field else doc.line, kind, doc.name, field, message, severity)
        )

    if kind not in KINDS:
        add("kind", f"unknown kind {kind!r} in landlord.dev; use one of {', '.join(KINDS)}")
        return problems
    if body.get("apiVersion") != API_VERSION:
        add("apiVersion", f"{body.get('apiVersion')!r} is not served; use {API_VERSION}")
        return problems
    meta = body.get("metadata") or {}
    name = meta.get("name")
    if not name:
        add("metadata.name", "Required value; add a name")
    elif (not isinstance(name, str) or not _is_dns_label(name)) and kind != "Tenant":
        # (a Tenant's name is checked by the CRD's own rule below)
        add("metadata.name", f"{name!r} is not a valid name; {_DNS_LABEL_HINT}")
    if meta.get("namespace"):
        add("metadata.namespace", f"{kind} is cluster-scoped; remove metadata.namespace")
    schema = crds[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    result, _, root = validate_custom_resource(walker, schema, body, None)
    for error in root if name else ():  # rules on the whole object: its name (reported above when absent)
        field = error.field or "metadata.name"
        add(field, f"{error.detail}; rename the {kind}" if field == "metadata.name" else error.detail)
    for error in result.errors:
        add(error.field, f"{error.body()}; {_hint(error)}")
    for unknown in result.unknown:
        add(unknown, "unknown field; remove it or fix its spelling (kubectl explain shows the fields)")
    return problems


def _is_dns_label(name: str) -> bool:
    return bool(re.match(DNS_LABEL, name)) and len(name) <= 63


def validate(documents: list[Document], config: Config | None = None) -> list[Problem]:
    """Every problem of the documents, against the CRDs for this configuration's namespace prefix."""
    config = config or parse({})
    walker = Walker()
    crds = crd_by_kind(config.namespace_prefix)
    problems: list[Problem] = []
    ours = [d for d in documents if d.is_landlord]
    for doc in ours:
        problems.extend(_schema_problems(doc, walker, crds))
    # Across documents only what the API server would serve: a version it refuses is reported above.
    # A name the CRD's rule refused is not reported twice (the operator's rule says the same).
    named = {(p.path, p.kind, p.name) for p in problems if p.field == "metadata.name"}
    crossed = _cross_checks([d for d in ours if d.body.get("apiVersion") == API_VERSION], config)
    problems.extend(p for p in crossed if p.field != "metadata.name" or (p.path, p.kind, p.name) not in named)
    return sorted(problems, key=lambda p: (p.path, p.line, p.field))


def _cross_checks(documents: list[Document], config: Config) -> list[Problem]:
    problems: list[Problem] = []
    by_kind: dict[str, dict[str, Document]] = {kind: {} for kind in KINDS}
    for doc in documents:
        if doc.kind not in by_kind or not doc.name:
            continue
        previous = by_kind[doc.kind].get(doc.name)
        if previous is not None:
            problems.append(
                Problem(
                    doc.path,
                    doc.line,
                    doc.kind,
                    doc.name,
                    "metadata.name",
                    f"defined twice (also at {previous.path}:{previous.line}); remove one of them",
                )
            )
            continue
        by_kind[doc.kind][doc.name] = doc
    plans, addons = by_kind["Plan"], by_kind["AddOn"]
    catalogue = StaticCatalogue(d.body for d in documents if isinstance(d.body, dict))
    for tenant in by_kind["Tenant"].values():
        # The same rules, in the same words, as the operator applies to a Tenant in the cluster.
        for violation in resolve(catalogue, tenant.body, offline=True, config=config).violations:
            problems.append(
                Problem(
                    tenant.path,
                    tenant.line_of(violation.field),
                    "Tenant",
                    tenant.name,
                    violation.field,
                    violation.message,
                    violation.severity,
                )
            )
    for addon in addons.values():
        addon_spec = mapping(addon.body.get("spec"))
        for index, plan_name in enumerate(sequence(addon_spec.get("plans"))):
            if str(plan_name) not in plans:
                problems.append(
                    Problem(
                        addon.path,
                        addon.line_of(f"spec.plans[{index}]"),
                        "AddOn",
                        addon.name,
                        f"spec.plans[{index}]",
                        f"plan {plan_name!r} is not defined; remove it or add the plan",
                        "warning",
                    )
                )
    for plan in plans.values():
        plan_spec = mapping(plan.body.get("spec"))
        for field in ("upgradesTo", "downgradesTo"):
            for index, target in enumerate(sequence(plan_spec.get(field))):
                if str(target) not in plans:
                    problems.append(
                        Problem(
                            plan.path,
                            plan.line_of(f"spec.{field}[{index}]"),
                            "Plan",
                            plan.name,
                            f"spec.{field}[{index}]",
                            f"plan {target!r} is not defined; remove it or add the plan",
                        )
                    )
    return problems
