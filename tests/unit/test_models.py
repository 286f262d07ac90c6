"""The typed models (`landlord.api.models`) match the CRD schemas, and read every shipped document.

A field added to the CRD and not to its model (or the other way round), a changed enumeration,
required set or default fails here, with a message naming the path.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from landlord.api.conditions import ConditionType, Phase
from landlord.api.models import (
    SPEC_MODELS,
    STATUS_MODELS,
    Billing,
    Condition,
    Limits,
    Model,
    ModelError,
    TenantSpec,
    TenantStatus,
    field_types,
    json_name,
)
from landlord.api.schemas import crd_by_kind

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_FILES = sorted(p for folder in ("examples", "plans", "addons") for p in (ROOT / folder).glob("*.yaml"))
KINDS = ("Plan", "AddOn", "Reseller", "Tenant")
SCALARS = {"string": str, "integer": int, "boolean": bool}


def root_schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = crd_by_kind()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _optional(hint: Any) -> Any:
    """`X | None` -> X; anything else unchanged."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(options) == 1:
            return options[0]
    return hint


def _default(model_field: dataclasses.Field[Any]) -> Any:
    if model_field.default is not dataclasses.MISSING:
        return model_field.default
    if model_field.default_factory is not dataclasses.MISSING:
        return model_field.default_factory()
    return dataclasses.MISSING


def mismatches(model: type[Model], schema: dict[str, Any], path: str) -> list[str]:
    """Every difference between a model (recursively) and the object schema it stands for."""
    problems: list[str] = []
    properties: dict[str, Any] = schema.get("properties") or {}
    fields = {json_name(f): f for f in dataclasses.fields(model)}
    for name in sorted(set(properties) - set(fields)):
        problems.append(f"{path}.{name}: in the CRD schema but not in {model.__name__}")
    for name in sorted(set(fields) - set(properties)):
        problems.append(f"{path}.{name}: in {model.__name__} but not in the CRD schema")
    required = {name for name, f in fields.items() if _default(f) is dataclasses.MISSING}
    if required != set(schema.get("required") or []):
        problems.append(
            f"{path}: {model.__name__} requires {sorted(required)}, "
            f"the CRD schema {sorted(schema.get('required') or [])}"
        )
    hints = field_types(model)
    for name in sorted(set(properties) & set(fields)):
        sub, model_field = properties[name], fields[name]
        default = _default(model_field)
        if "default" in sub and default != sub["default"]:
            problems.append(f"{path}.{name}: default {default!r} in {model.__name__}, {sub['default']!r} in the CRD")
        if "default" not in sub and default not in (dataclasses.MISSING, None, (), {}):
            problems.append(f"{path}.{name}: default {default!r} in {model.__name__}, none in the CRD")
        problems += _value_mismatches(hints[model_field.name], sub, f"{path}.{name}")
    return problems


def _value_mismatches(hint: Any, schema: dict[str, Any], path: str) -> list[str]:
    hint = _optional(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if "properties" in schema:
        if not (isinstance(hint, type) and issubclass(hint, Model)):
            return [f"{path}: an object with properties in the CRD, {hint!r} in the model"]
        return mismatches(hint, schema, path)
    if schema.get("type") == "array":
        if origin is not tuple:
            return [f"{path}: a list in the CRD, {hint!r} in the model"]
        return _value_mismatches(args[0], schema["items"], f"{path}[]")
    if schema.get("type") == "object":
        return [] if origin is dict else [f"{path}: a map in the CRD, {hint!r} in the model"]
    if schema.get("x-kubernetes-int-or-string"):
        if set(args) - {type(None)} != {str, int}:
            return [f"{path}: int-or-string in the CRD, {hint!r} in the model"]
        return []
    if "enum" in schema:
        if origin is Literal:
            allowed = set(args)
        elif isinstance(hint, type) and issubclass(hint, enum.Enum):
            allowed = {member.value for member in hint}
        else:
            return [f"{path}: an enumeration in the CRD, {hint!r} in the model"]
        if allowed != set(schema["enum"]):
            return [f"{path}: values {sorted(allowed)} in the model, {sorted(schema['enum'])} in the CRD"]
        return []
    expected = SCALARS[schema["type"]]
    return [] if hint is expected else [f"{path}: {schema['type']} in the CRD, {hint!r} in the model"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("section", ["spec", "status"])
def test_model_fields_are_the_crd_properties(kind: str, section: str) -> None:
    models = SPEC_MODELS if section == "spec" else STATUS_MODELS
    problems = mismatches(models[kind], root_schema(kind)["properties"][section], f"{kind}.{section}")
    assert problems == [], "models and CRD schema differ:\n" + "\n".join(problems)


def test_a_drifted_schema_is_reported_with_its_path() -> None:
    schema = copy.deepcopy(root_schema("Tenant")["properties"]["spec"])
    schema["properties"]["billing"]["properties"]["poNumber"] = {"type": "string", "description": "x"}
    del schema["properties"]["owner"]["properties"]["subjects"]["items"]["properties"]["namespace"]
    schema["properties"]["syncPolicy"]["enum"].append("Frozen")
    schema["properties"]["suspend"]["default"] = True
    problems = mismatches(TenantSpec, schema, "Tenant.spec")
    assert problems == [
        "Tenant.spec.billing.poNumber: in the CRD schema but not in Billing",
        "Tenant.spec.owner.subjects[].namespace: in Subject but not in the CRD schema",
        "Tenant.spec.suspend: default False in TenantSpec, True in the CRD",
        "Tenant.spec.syncPolicy: values ['Auto', 'Locked'] in the model, ['Auto', 'Frozen', 'Locked'] in the CRD",
    ]


def with_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """`value` with the schema's defaults filled in, the way the API server does it."""
    if isinstance(value, dict) and "properties" in schema:
        out = dict(value)
        for name, sub in schema["properties"].items():
            if name not in out and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            elif name in out:
                out[name] = with_defaults(out[name], sub)
        return out
    if isinstance(value, list) and "items" in schema:
        return [with_defaults(item, schema["items"]) for item in value]
    return value


def known(value: Any, hint: Any) -> Any:
    """`value` without the fields the model does not know; `None`, [] and {} count as absent."""
    hint = _optional(hint)
    if isinstance(hint, type) and issubclass(hint, Model) and isinstance(value, dict):
        out = {}
        for model_field in dataclasses.fields(hint):
            name = json_name(model_field)
            kept = known(value.get(name), field_types(hint)[model_field.name])
            if kept not in (None, [], {}):
                out[name] = kept
        return out
    if typing.get_origin(hint) is tuple and isinstance(value, list):
        return [known(item, typing.get_args(hint)[0]) for item in value]
    return value


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in DOCUMENT_FILES:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((f"{path.parent.name}/{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return found


DOCUMENTS = documents()


def test_every_kind_is_shipped() -> None:
    assert {doc["kind"] for _, doc in DOCUMENTS} == set(KINDS)


@pytest.mark.parametrize("doc", [doc for _, doc in DOCUMENTS], ids=[name for name, _ in DOCUMENTS])
def test_shipped_documents_round_trip(doc: dict[str, Any]) -> None:
    model = SPEC_MODELS[doc["kind"]]
    spec = model.from_dict(doc["spec"])
    expected = known(with_defaults(doc["spec"], root_schema(doc["kind"])["properties"]["spec"]), model)
    assert spec.to_dict() == expected
    assert model.from_dict(spec.to_dict()) == spec


def test_limits_stay_as_written() -> None:
    plan = SPEC_MODELS["Plan"].from_dict(
        {"limits": {"cpu": "4", "memory": "8Gi", "pods": 40, "traffic": "unlimited", "customDomains": 3}}
    )
    assert plan.limits == Limits(cpu="4", memory="8Gi", pods=40, traffic="unlimited", custom_domains=3)
    assert plan.to_dict()["limits"] == {
        "cpu": "4",
        "memory": "8Gi",
        "pods": 40,
        "customDomains": 3,
        "traffic": "unlimited",
    }


def test_missing_optional_fields_take_the_crd_defaults() -> None:
    spec = TenantSpec.from_dict({"plan": "starter", "billing": {}})
    assert spec.plan == "starter"
    assert (spec.sync_policy, spec.suspend, spec.deletion_policy, spec.add_ons, spec.owner) == (
        "Auto",
        False,
        "Retain",
        (),
        None,
    )
    assert spec.billing == Billing(cycle="Monthly", customer_type="Business")
    assert spec.billing.skip_trial is None
    assert TenantSpec.from_dict({"plan": "x", "billing": {"skipTrial": True}}).billing == Billing(skip_trial=True)
    for model in {*SPEC_MODELS.values(), *STATUS_MODELS.values()} - {TenantSpec}:
        assert model.from_dict(None) == model.from_dict({})


def test_missing_required_or_bad_values_name_the_path() -> None:
    with pytest.raises(ModelError, match=r"^TenantSpec\.plan: required$"):
        TenantSpec.from_dict({})
    with pytest.raises(ModelError, match=r"^TenantSpec\.addOns\[1\]\.name: required$"):
        TenantSpec.from_dict({"plan": "p", "addOns": [{"name": "a"}, {"quantity": 2}]})
    with pytest.raises(ModelError, match=r"^TenantSpec\.syncPolicy: 'Sometimes' is not one of Auto, Locked$"):
        TenantSpec.from_dict({"plan": "p", "syncPolicy": "Sometimes"})
    with pytest.raises(ModelError, match=r"^TenantStatus\.phase: 'Sleeping' is not one of Pending, "):
        TenantStatus.from_dict({"phase": "Sleeping"})


STATUS = {
    "phase": "Active",
    "reason": "Provisioned",
    "message": "all objects are in place",
    "observedGeneration": 3,
    "namespace": "t-acme",
    "url": "https://acme.apps.example.com",
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Provisioned",
            "message": "all objects are in place",
            "observedGeneration": 3,
            "lastTransitionTime": "2025-01-01T00:00:00Z",
        },
        {"type": "DatabaseReady", "status": "Unknown"},
    ],
    "effective": {"limits": {"cpu": "4", "pods": 40, "traffic": "unlimited"}, "features": ["crm", "invoicing"]},
    "planSync": {
        "state": "Unsynchronized",
        "unsynchronized": [{"property": "limits.storage", "promised": "80Gi", "available": "20Gi"}],
        "locked": {"limits": {"storage": "80Gi"}, "features": ["crm"]},
    },
    "planHistory": [
        {"plan": "starter", "since": "2024-01-01T00:00:00Z"},
        {"plan": "professional", "since": "2025-01-01T00:00:00Z"},
    ],
    "trialEndsAt": "2024-01-15T00:00:00Z",
    "suspendedAt": "2025-02-01T00:00:00Z",
    "deletionPolicy": "Retain",
}


def test_tenant_status_round_trips() -> None:
    status = TenantStatus.from_dict(STATUS)
    assert status.phase is Phase.ACTIVE
    ready = status.condition(ConditionType.READY)
    assert ready == Condition(
        type="Ready",
        status="True",
        reason="Provisioned",
        message="all objects are in place",
        observed_generation=3,
        last_transition_time="2025-01-01T00:00:00Z",
    )
    assert status.plan_sync is not None and status.plan_sync.unsynchronized[0].available == "20Gi"
    assert status.to_dict() == STATUS
    assert yaml.safe_load(yaml.safe_dump(status.to_dict())) == STATUS  # plain types only: enums written as str
    status.to_dict()["effective"]["limits"]["cpu"] = "1"
    assert status.effective is not None and status.effective.limits["cpu"] == "4"  # to_dict copies


def test_enums_are_the_status_vocabulary() -> None:
    phases = root_schema("Tenant")["properties"]["status"]["properties"]["phase"]["enum"]
    assert [p.value for p in Phase] == phases
    assert str(Phase.TRIAL) == "Trial" and f"{ConditionType.PLAN_SYNCED}" == "PlanSynced"
    assert "Trial" in set(Phase)
    assert {
        "Ready",
        "NamespaceReady",
        "QuotaReady",
        "NetworkReady",
        "AccessReady",
        "EntitlementsReady",
        "PlanSynced",
    } <= {c.value for c in ConditionType}
