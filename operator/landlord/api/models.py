"""Typed, read-only models of the Landlord resources, for the edges of the operator.

Frozen dataclasses with snake_case attributes; each field's JSON name is camelCase, derived from
the attribute name (`trial_days` -> `trialDays`) unless the field's metadata says otherwise
(`field(metadata={"json": "logoURL"})`). `tests/unit/test_models.py` holds every model to the
CRD schema built in `landlord.api.schemas`: same field names at every path, same enumerations,
same required fields, same defaults.

- `Model.from_dict(data)` reads a JSON object: a missing optional field takes the CRD's default
  when the CRD has one, else `None` (scalars and objects) or empty (lists and maps). A missing
  required field raises `ModelError` naming its path. Unknown fields are ignored.
- Limits stay as written (`"4"`, `"8Gi"`, `10`, `"unlimited"`): parsing them is composition's job.
- Maps (`prices`, `discounts`) and free-form objects (`status.effective.limits`,
  `status.planSync.locked`) are plain dicts, copied on the way in and out.
- `Model.to_dict()` writes the JSON object back, leaving out `None`, empty lists and empty maps.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from .conditions import Phase

Limit = str | int
"""A limit as written: a quantity string ("4", "8Gi"), a whole number (10) or "unlimited"."""

OverusePolicy = Literal["Block", "Notify", "Bill"]
DatabaseMode = Literal["Dedicated", "Shared", "Cluster"]
Meter = Literal["traffic", "storage", "databaseStorage", "users"]
SubjectKind = Literal["User", "Group", "ServiceAccount"]
SyncPolicy = Literal["Auto", "Locked"]
Cycle = Literal["Monthly", "Yearly"]
CustomerType = Literal["Business", "Individual", "Charity", "Education"]
DeletionPolicy = Literal["Retain", "Delete"]
ConditionStatus = Literal["True", "False", "Unknown"]
SyncState = Literal["Synced", "Customized", "Locked", "Unsynchronized"]
PodSecurityLevel = Literal["restricted", "baseline", "privileged"]


class ModelError(ValueError):
    """A document does not fit a model: a required field is missing or a value is not allowed."""


def json_name(model_field: dataclasses.Field[Any]) -> str:
    """The JSON name of a model field: its `json` metadata, else its name in camelCase."""
    explicit = model_field.metadata.get("json")
    if explicit:
        return str(explicit)
    head, *rest = model_field.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def field_types(cls: type[Model]) -> dict[str, Any]:
    """The resolved type of each field of a model, by attribute name."""
    return _hints(cls)


_HINTS: dict[type[Model], dict[str, Any]] = {}


def _hints(cls: type[Model]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


@dataclass(frozen=True, kw_only=True)
class Model:
    """Base of every model: `from_dict` reads a JSON object, `to_dict` writes one."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        """The model of `data` (a parsed JSON/YAML object; `None` reads as empty)."""
        return cls._read(data or {}, cls.__name__)

    @classmethod
    def _read(cls, data: Any, path: str) -> Self:
        if not isinstance(data, Mapping):
            raise ModelError(f"{path}: expected an object, got {type(data).__name__}")
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for model_field in dataclasses.fields(cls):
            key = json_name(model_field)
            value = data.get(key)
            if value is not None:
                values[model_field.name] = _decode(hints[model_field.name], value, f"{path}.{key}")
            elif model_field.default is dataclasses.MISSING and model_field.default_factory is dataclasses.MISSING:
                raise ModelError(f"{path}.{key}: required")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this model, without `None`, empty lists and empty maps."""
        out: dict[str, Any] = {}
        for model_field in dataclasses.fields(self):
            value = _encode(getattr(self, model_field.name))
            if value is None or value == [] or value == {}:
                continue
            out[json_name(model_field)] = value
        return out


def _decode(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [arg for arg in args if arg is not type(None)]
        return _decode(options[0], value, path) if len(options) == 1 else value
    if origin is Literal:
        if value not in args:
            raise ModelError(f"{path}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ModelError(f"{path}: expected a list, got {type(value).__name__}")
        return tuple(_decode(args[0], item, f"{path}[{n}]") for n, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ModelError(f"{path}: expected an object, got {type(value).__name__}")
        return copy.deepcopy(dict(value))
    if isinstance(hint, type) and issubclass(hint, Model):
        return hint._read(value, path)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(str(member.value) for member in hint)
            raise ModelError(f"{path}: {value!r} is not one of {allowed}") from None
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return copy.deepcopy(value)
    return value


# -- Shared ----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Limits(Model):
    """Resource limits as written; `None` = omitted (0 in a plan, nothing added by an add-on)."""

    cpu: Limit | None = None
    memory: Limit | None = None
    storage: Limit | None = None
    pods: Limit | None = None
    databases: Limit | None = None
    database_storage: Limit | None = None
    custom_domains: Limit | None = None
    users: Limit | None = None
    traffic: Limit | None = None


@dataclass(frozen=True, kw_only=True)
class Branding(Model):
    """White-label settings (a reseller's defaults, or a tenant's overrides of them)."""

    product_name: str | None = None
    logo_url: str | None = field(default=None, metadata={"json": "logoURL"})
    favicon_url: str | None = field(default=None, metadata={"json": "faviconURL"})
    primary_color: str | None = None
    email_from: str | None = None
    support_email: str | None = None


# -- Plan ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Overuse(Model):
    """What happens when usage exceeds a limit."""

    policy: OverusePolicy = "Notify"
    notify_at: tuple[int, ...] = ()
    suspend_on_exceed: bool = False


@dataclass(frozen=True, kw_only=True)
class DatabasePolicy(Model):
    """The plan's database: dedicated or shared, and its connection limit."""

    mode: DatabaseMode = "Dedicated"
    connection_limit: int | None = None
    server_class: str | None = None
    instances: int | None = None


@dataclass(frozen=True, kw_only=True)
class Retention(Model):
    """How many daily, weekly and monthly backups are kept."""

    daily: int | None = None
    weekly: int | None = None
    monthly: int | None = None


@dataclass(frozen=True, kw_only=True)
class BackupPolicy(Model):
    """The plan's backup schedule and retention."""

    schedule: str | None = None
    retention: Retention | None = None


@dataclass(frozen=True, kw_only=True)
class MeteredPrice(Model):
    """A usage price beyond the limit, when the overuse policy is Bill."""

    meter: Meter
    unit: str
    unit_price: str


@dataclass(frozen=True, kw_only=True)
class PlanPricing(Model):
    """What the plan costs; money stays a decimal string."""

    currency: str
    prices: dict[str, str]
    setup_fee: str | None = None
    trial_days: int = 0
    prorate: bool = True
    seat_price: str | None = None
    seats_per_module: bool = False
    metered: tuple[MeteredPrice, ...] = ()
    discounts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class QuotaLimits(Model):
    """Totals of container limits (ResourceQuota limits.cpu, limits.memory)."""

    cpu: Limit | None = None
    memory: Limit | None = None


@dataclass(frozen=True, kw_only=True)
class ObjectCounts(Model):
    """ResourceQuota object counts; unset: the operator configuration's default."""

    configmaps: int | None = None
    secrets: int | None = None
    services: int | None = None
    persistentvolumeclaims: int | None = None
    deployments: int | None = field(default=None, metadata={"json": "count/deployments.apps"})
    statefulsets: int | None = field(default=None, metadata={"json": "count/statefulsets.apps"})
    replicasets: int | None = field(default=None, metadata={"json": "count/replicasets.apps"})
    daemonsets: int | None = field(default=None, metadata={"json": "count/daemonsets.apps"})
    jobs: int | None = field(default=None, metadata={"json": "count/jobs.batch"})
    cronjobs: int | None = field(default=None, metadata={"json": "count/cronjobs.batch"})


@dataclass(frozen=True, kw_only=True)
class PlanQuota(Model):
    """ResourceQuota entries beyond the limits."""

    limits: QuotaLimits | None = None
    ephemeral_storage: Limit | None = None
    load_balancers: int = 0
    node_ports: int = 0
    objects: ObjectCounts | None = None


@dataclass(frozen=True, kw_only=True)
class PlanSpec(Model):
    """`spec` of a Plan."""

    display_name: str | None = None
    description: str | None = None
    retired: bool = False
    limits: Limits | None = None
    features: tuple[str, ...] = ()
    overuse: Overuse | None = None
    database: DatabasePolicy | None = None
    backup: BackupPolicy | None = None
    pricing: PlanPricing | None = None
    pod_security: PodSecurityLevel = "restricted"
    quota: PlanQuota | None = None
    upgrades_to: tuple[str, ...] = ()
    downgrades_to: tuple[str, ...] = ()


# -- AddOn -----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class AddOnPricing(Model):
    """Price per unit of an add-on; the currency is the plan's."""

    currency: str | None = None
    prices: dict[str, str] = field(default_factory=dict)
    setup_fee: str | None = None


@dataclass(frozen=True, kw_only=True)
class AddOnSpec(Model):
    """`spec` of an AddOn."""

    display_name: str | None = None
    description: str | None = None
    plans: tuple[str, ...] = ()
    max_quantity: int = 1
    limits: Limits | None = None
    features: tuple[str, ...] = ()
    pricing: AddOnPricing | None = None


# -- Reseller --------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Allocation(Model):
    """What all of a reseller's tenants together may use."""

    tenants: int | None = None
    limits: Limits | None = None
    oversell: bool = False


@dataclass(frozen=True, kw_only=True)
class ResellerBilling(Model):
    """The reseller's billing identity: it is billed for its clients' tenants."""

    country: str | None = None
    tax_id: str | None = None
    customer_type: CustomerType = "Business"


@dataclass(frozen=True, kw_only=True)
class ResellerSpec(Model):
    """`spec` of a Reseller."""

    display_name: str | None = None
    discount_percent: int = 0
    base_domain: str | None = None
    branding: Branding | None = None
    notify_email: str | None = None
    billing: ResellerBilling | None = None
    allocation: Allocation | None = None


# -- Tenant ----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class AddOnRef(Model):
    """An entry of `spec.addOns`: an add-on and how many units."""

    name: str
    quantity: int = 1


@dataclass(frozen=True, kw_only=True)
class Subject(Model):
    """A user, group or service account given admin rights in the tenant's namespace."""

    kind: SubjectKind
    name: str
    namespace: str | None = None


@dataclass(frozen=True, kw_only=True)
class Owner(Model):
    """The customer, and who gets access."""

    name: str | None = None
    email: str | None = None
    subjects: tuple[Subject, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Domains(Model):
    """Where the tenant is reached: its subdomain and custom hostnames."""

    subdomain: str | None = None
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Overrides(Model):
    """Per-tenant values that win over the plan and add-ons."""

    limits: Limits | None = None
    features: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Billing(Model):
    """The tenant's billing identity; `skip_trial` is read only when the tenant is created;
    `dunning_exempt`: an unpaid invoice past grace does not suspend it (no PaymentOverdue)."""

    cycle: Cycle = "Monthly"
    country: str | None = None
    tax_id: str | None = None
    customer_type: CustomerType = "Business"
    coupon: str | None = None
    skip_trial: bool | None = None
    dunning_exempt: bool | None = None


@dataclass(frozen=True, kw_only=True)
class BackupWindow(Model):
    """The tenant's backup preferences."""

    window: str | None = None


@dataclass(frozen=True, kw_only=True)
class TenantSpec(Model):
    """`spec` of a Tenant."""

    plan: str
    add_ons: tuple[AddOnRef, ...] = ()
    owner: Owner | None = None
    reseller: str | None = None
    domains: Domains | None = None
    branding: Branding | None = None
    overrides: Overrides | None = None
    sync_policy: SyncPolicy = "Auto"
    suspend: bool = False
    expires_at: str | None = None
    billing: Billing | None = None
    backup: BackupWindow | None = None
    deletion_policy: DeletionPolicy = "Retain"


# -- Status ----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Condition(Model):
    """A condition; `type` is a `ConditionType` value (kept open to types this version does not know)."""

    type: str
    status: ConditionStatus
    reason: str | None = None
    message: str | None = None
    observed_generation: int | None = None
    last_transition_time: str | None = None


@dataclass(frozen=True, kw_only=True)
class Effective(Model):
    """What the tenant actually gets: limits in canonical text, and modules."""

    limits: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Shortfall(Model):
    """A property the cluster cannot deliver: what was promised and what is available."""

    property: str | None = None
    promised: str | None = None
    available: str | None = None


@dataclass(frozen=True, kw_only=True)
class PlanSync(Model):
    """How the tenant follows its plan; `locked` is the snapshot kept while Locked."""

    state: SyncState | None = None
    unsynchronized: tuple[Shortfall, ...] = ()
    locked: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PlanPeriod(Model):
    """An entry of `status.planHistory`: a plan and since when."""

    plan: str | None = None
    since: str | None = None


@dataclass(frozen=True, kw_only=True)
class AddOnQuantity(Model):
    """An add-on and its units in an entry of `status.addOnHistory`."""

    name: str | None = None
    quantity: int | None = None


@dataclass(frozen=True, kw_only=True)
class AddOnPeriod(Model):
    """An entry of `status.addOnHistory`: the whole set of add-ons since when."""

    since: str | None = None
    add_ons: tuple[AddOnQuantity, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SuspendedWorkload(Model):
    """A workload stopped by a suspension, with what restores it."""

    kind: str | None = None
    name: str | None = None
    replicas: int | None = None
    node_selector: dict[str, str] | None = None
    suspend: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Suspension(Model):
    """`status.suspension`: recorded before the workloads were stopped."""

    workloads: tuple[SuspendedWorkload, ...] = ()
    unrecorded: int | None = None


@dataclass(frozen=True, kw_only=True)
class OverLimitStatus(Model):
    """`status.overLimit`: usage above a limit on a plan with `overuse.suspendOnExceed`, since when."""

    since: str | None = None
    resources: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DatabaseStatus(Model):
    """`status.database`: where the tenant's database is and what state it is in."""

    mode: str | None = None
    server: str | None = None
    name: str | None = None
    schema: str | None = None
    username: str | None = None
    secret_name: str | None = None
    phase: str | None = None
    size: str | None = None
    rotation: str | None = None
    migrating_to: str | None = None
    previous_mode: str | None = None
    cluster: str | None = None


@dataclass(frozen=True, kw_only=True)
class TenantStatus(Model):
    """`status` of a Tenant, written by the operator only."""

    phase: Phase | None = None
    reason: str | None = None
    message: str | None = None
    observed_generation: int | None = None
    namespace: str | None = None
    namespace_uid: str | None = field(default=None, metadata={"json": "namespaceUID"})
    namespace_claim: str | None = None
    subdomain: str | None = None
    host: str | None = None
    url: str | None = None
    conditions: tuple[Condition, ...] = ()
    effective: Effective | None = None
    plan_sync: PlanSync | None = None
    plan_history: tuple[PlanPeriod, ...] = ()
    add_on_history: tuple[AddOnPeriod, ...] = ()
    trial_ends_at: str | None = None
    suspended_at: str | None = None
    over_limit: OverLimitStatus | None = None
    deletion_policy: str | None = None
    database: DatabaseStatus | None = None
    suspension: Suspension | None = None

    def condition(self, kind: str) -> Condition | None:
        """The condition of this type, if the status has it."""
        return next((c for c in self.conditions if c.type == kind), None)


@dataclass(frozen=True, kw_only=True)
class UsageStatus(Model):
    """`status` of a Plan, AddOn or Reseller: which tenants use it."""

    tenants: int | None = None
    used_by: tuple[str, ...] = ()
    message: str | None = None


SPEC_MODELS: dict[str, type[Model]] = {
    "Plan": PlanSpec,
    "AddOn": AddOnSpec,
    "Reseller": ResellerSpec,
    "Tenant": TenantSpec,
}
"""The model of each kind's `spec`."""

STATUS_MODELS: dict[str, type[Model]] = {
    "Plan": UsageStatus,
    "AddOn": UsageStatus,
    "Reseller": UsageStatus,
    "Tenant": TenantStatus,
}
"""The model of each kind's `status`."""
