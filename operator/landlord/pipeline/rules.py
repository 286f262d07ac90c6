"""The rules a tenant must satisfy before anything is provisioned, written once.

The operator turns the first error into the tenant's phase and reason; `landlord validate`
reports every violation at its line. Both read the same words, so that a pull request fails
with the message the cluster would have given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..api.composition import AddOnUse, entitlements
from ..api.schemas import name_rule_message
from ..config import NAMESPACE_NAME_MAX, Config
from ..render.view import verified_domains
from .catalogue import Catalogue, custom_domains, host_buckets, normal_host, subdomain_of

PENDING, FAILED = "Pending", "Failed"
# The operator's base domain when the configuration is not known (allocation shares): a name
# no real host can equal, so that only what is known is compared.
UNKNOWN_BASE = "<the operator's baseDomain>"


@dataclass(frozen=True)
class Violation:
    """One reason a tenant cannot be provisioned as it is.

    `phase` is what the operator makes of it: Pending when something it needs may still
    appear (a plan, an add-on, a reseller, an allocation slot), Failed when the tenant's own
    spec must change. `severity` is "warning" for what is fine for an existing subscriber but
    not for a new one (offline, a retired plan).
    """

    field: str
    reason: str
    message: str
    phase: str = FAILED
    severity: str = "error"


@dataclass
class Resolution:
    """A tenant resolved against the catalogue, and what stands in the way."""

    plan: dict[str, Any] | None
    addons: list[AddOnUse]
    reseller: dict[str, Any] | None
    violations: list[Violation] = field(default_factory=list)

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]


def mapping(value: Any) -> dict[str, Any]:
    """The value when it is a mapping, else empty: offline input may be of any type (the schema
    check reports it); the rules must not crash on it."""
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    """The value when it is a list, else empty (see `mapping`)."""
    return value if isinstance(value, list) else []


def _known(catalogue: Catalogue, kind: str) -> str:
    names = catalogue.names(kind)
    if not names:
        return "none exists"
    more = f", and {len(names) - 10} more" if len(names) > 10 else ""
    return "known: " + ", ".join(names[:10]) + more


def had_plan(status: dict[str, Any], plan: str) -> bool:
    """Whether the tenant is already on this plan (so a retired or deleting plan still serves it)."""
    history = sequence(status.get("planHistory"))
    return bool(history) and mapping(history[-1]).get("plan") == plan


def resolve(
    catalogue: Catalogue, tenant: dict[str, Any], offline: bool = False, config: Config | None = None
) -> Resolution:
    """The tenant's plan, add-ons and reseller from the catalogue, with every violation found.

    `offline`: checked from files (no status, no age): a retired plan is a warning there.
    `config`: the operator configuration (namespace prefix, base domain); the rules that need it
    are skipped without it (only the reseller allocation shares resolve without it).
    """
    spec = mapping(tenant.get("spec"))
    status = mapping(tenant.get("status"))
    name = str(mapping(tenant.get("metadata")).get("name", ""))
    out = Resolution(None, [], None)
    out.violations.extend(_plan_rules(catalogue, spec, status, offline, out))
    out.violations.extend(_addon_rules(catalogue, spec, out))
    out.violations.extend(_reseller_rules(catalogue, spec, out))
    out.violations.extend(_subdomain_rules(name, spec, status))
    out.violations.extend(_claim_rules(catalogue, tenant, config))
    out.violations.extend(_domain_limit_rules(spec, status, out))
    if config is not None:
        out.violations.extend(namespace_name_rules(name, config.namespace_prefix))
    return out


def _plan_rules(
    catalogue: Catalogue, spec: dict[str, Any], status: dict[str, Any], offline: bool, out: Resolution
) -> Iterator[Violation]:
    plan_name = str(spec.get("plan", ""))
    plan = catalogue.plan(plan_name)
    deleting = plan is not None and mapping(plan.get("metadata")).get("deletionTimestamp")
    if plan is None:
        yield Violation(
            "spec.plan",
            "PlanNotFound",
            f"plan {plan_name!r} does not exist; create it or set spec.plan to an existing plan "
            f"({_known(catalogue, 'Plan')})",
            PENDING,
        )
        return
    if deleting and not had_plan(status, plan_name):
        yield Violation(
            "spec.plan",
            "PlanDeleting",
            f"plan {plan_name!r} is being deleted and takes no new tenants; choose another plan",
            PENDING,
        )
        return
    out.plan = plan
    if mapping(plan.get("spec")).get("retired") and not had_plan(status, plan_name):
        yield Violation(
            "spec.plan",
            "PlanRetired",
            f"plan {plan_name!r} is retired and takes no new tenants (existing subscribers keep it); "
            f"choose another plan",
            FAILED,
            "warning" if offline else "error",
        )


def _addon_rules(catalogue: Catalogue, spec: dict[str, Any], out: Resolution) -> Iterator[Violation]:
    plan_name = str(spec.get("plan", ""))
    currency = mapping(mapping(mapping(out.plan).get("spec")).get("pricing")).get("currency")
    for index, entry in enumerate(sequence(spec.get("addOns"))):
        if not isinstance(entry, dict):
            continue
        where = f"spec.addOns[{index}]"
        addon_name = str(entry.get("name", ""))
        addon = catalogue.addon(addon_name)
        if addon is None:
            yield Violation(
                f"{where}.name",
                "AddOnNotFound",
                f"add-on {addon_name!r} does not exist; create it or remove it from spec.addOns "
                f"({_known(catalogue, 'AddOn')})",
                PENDING,
            )
            continue
        addon_spec = mapping(addon.get("spec"))
        allowed = [str(p) for p in sequence(addon_spec.get("plans"))]
        if allowed and plan_name not in allowed:
            yield Violation(
                f"{where}.name",
                "AddOnNotAllowed",
                f"add-on {addon_name!r} is not offered with plan {plan_name!r} (only with "
                f"{', '.join(allowed)}); remove it or change the plan",
            )
        quantity = entry.get("quantity", 1)
        maximum = addon_spec.get("maxQuantity", 1)
        if isinstance(quantity, int) and isinstance(maximum, int) and quantity > maximum:
            yield Violation(
                f"{where}.quantity",
                "QuantityTooHigh",
                f"{quantity} is more than add-on {addon_name!r} allows (maxQuantity {maximum}); "
                f"lower it to {maximum} or less",
            )
        addon_currency = mapping(addon_spec.get("pricing")).get("currency")
        if addon_currency and currency and addon_currency != currency:
            yield Violation(
                f"{where}.name",
                "CurrencyMismatch",
                f"add-on {addon_name!r} is priced in {addon_currency} but plan {plan_name!r} in "
                f"{currency}; use an add-on priced in {currency}",
            )
        out.addons.append(AddOnUse(addon_name, int(quantity) if isinstance(quantity, int) else 1, addon_spec))


def _reseller_rules(catalogue: Catalogue, spec: dict[str, Any], out: Resolution) -> Iterator[Violation]:
    if not spec.get("reseller"):
        return
    out.reseller = catalogue.reseller(str(spec["reseller"]))
    if out.reseller is None:
        yield Violation(
            "spec.reseller",
            "ResellerNotFound",
            f"reseller {spec['reseller']!r} does not exist; create it or remove spec.reseller "
            f"({_known(catalogue, 'Reseller')})",
            PENDING,
        )


def namespace_name_rules(name: str, prefix: str) -> Iterator[Violation]:
    """The namespace `<prefix><name>` must be a valid namespace name (at most 63 characters).

    The CRD's own rule says the same, in the same words, when it was generated for this prefix
    (`landlord crds --config`); this one holds when it was not.
    """
    if len(prefix) + len(name) > NAMESPACE_NAME_MAX:
        yield Violation("metadata.name", "NamespaceNameTooLong", f"{name_rule_message(prefix)}; rename the Tenant")


def _subdomain_rules(name: str, spec: dict[str, Any], status: dict[str, Any]) -> Iterator[Violation]:
    """A subdomain once assigned (`status.subdomain`) is the tenant's for good: removing
    `spec.domains` and adding it again with another subdomain does not change it."""
    assigned = status.get("subdomain")
    if not isinstance(assigned, str) or not assigned:
        return
    wanted = subdomain_of(spec, name)
    if wanted != assigned:
        back = f"set spec.domains.subdomain back to {assigned!r}" + (
            " (or remove it: it defaults to the tenant's name)" if assigned == name else ""
        )
        yield Violation(
            "spec.domains.subdomain",
            "SubdomainImmutable",
            f"the subdomain {assigned!r} was assigned to this tenant and cannot change (asked: {wanted!r}); "
            f"{back}, or create a new tenant for another subdomain",
        )


def _domain_limit_rules(spec: dict[str, Any], status: dict[str, Any], out: Resolution) -> Iterator[Violation]:
    """No more custom domains than the effective `customDomains` limit (plan + add-ons + overrides)."""
    domains = custom_domains(spec)
    if not domains or out.plan is None or any(v.phase == PENDING for v in out.violations):
        return  # (with an add-on still missing, the limit is not known yet)
    locked = mapping(mapping(status.get("planSync")).get("locked")) or None
    limit = entitlements(spec, mapping(out.plan.get("spec")), out.addons, locked).limits.get("customDomains", 0)
    if limit is None or len(domains) <= limit:  # None: unlimited
        return
    allowed = int(limit)
    excess = "it" if len(domains) == 1 else f"{len(domains) - allowed} of them"
    yield Violation(
        "spec.domains.custom",
        "DomainLimitExceeded",
        f"{len(domains)} custom domain{'s' if len(domains) != 1 else ''}, but the effective customDomains limit "
        f"is {allowed} (plan {spec.get('plan')!r}, add-ons and overrides); remove {excess}, or raise the limit "
        f"with an add-on or spec.overrides.limits.customDomains",
    )


# -- hosts: one tenant per host ------------------------------------------------------------


@dataclass(frozen=True)
class Wanted:
    """A host a tenant asks for: its generated host (subdomain) or a custom domain."""

    host: str
    field: str
    custom: bool
    assigned: bool  # already the tenant's: recorded in its status (its host, or a verified domain)
    recorded: str = ""  # generated host: the one its status records as assigned ("" for none)
    locked: bool = False  # generated host: its subdomain label is assigned and cannot change


def assigned_host(status: dict[str, Any]) -> str:
    """The generated host the tenant's status records as assigned ("" for none): `status.host`,
    else (a status written before it existed) the host of `status.url` next to `status.subdomain`."""
    host = status.get("host")
    if isinstance(host, str) and host:
        return normal_host(host)
    url = status.get("url")
    if isinstance(status.get("subdomain"), str) and status.get("subdomain") and isinstance(url, str):
        return normal_host(url.partition("://")[2].partition("/")[0].partition(":")[0])
    return ""


def _covered(host: str, base: str) -> bool:
    """Whether a host (or what a wildcard covers) lies at or under a base domain."""
    bare = host[2:] if host.startswith("*.") else host
    return bare == base or bare.endswith(f".{base}")


def reserved_domains(catalogue: Catalogue, config: Config | None) -> dict[str, str]:
    """The base domains under which Landlord gives out subdomains, and whose they are."""
    found: dict[str, str] = {}
    if config is not None:
        found[normal_host(config.base_domain)] = "the operator's base domain"
    for name in catalogue.names("Reseller"):
        base = mapping(mapping((catalogue.reseller(name) or {}).get("spec"))).get("baseDomain")
        if isinstance(base, str) and base:
            found.setdefault(normal_host(base), f"the base domain of Reseller/{name}")
    return found


def _base_domain(catalogue: Catalogue, spec: dict[str, Any], config: Config | None) -> str | None:
    """The base domain of the tenant's generated host (None while its reseller is unknown)."""
    if spec.get("reseller"):
        reseller = catalogue.reseller(str(spec["reseller"]))
        if reseller is None:
            return None
        base = mapping(reseller.get("spec")).get("baseDomain")
        if isinstance(base, str) and base:
            return normal_host(base)
    return normal_host(config.base_domain) if config is not None else UNKNOWN_BASE


def wanted_hosts(
    catalogue: Catalogue, tenant: dict[str, Any], config: Config | None, reserved: dict[str, str]
) -> list[Wanted]:
    """Every host the tenant asks for. A custom domain under a base domain holds nothing (it is
    refused as DomainReserved), so that it can never take a subdomain from the tenant it names."""
    spec = mapping(tenant.get("spec"))
    status = mapping(tenant.get("status"))
    name = str(mapping(tenant.get("metadata")).get("name", ""))
    hosts: list[Wanted] = []
    subdomain, base = subdomain_of(spec, name), _base_domain(catalogue, spec, config)
    if subdomain and base is not None:
        host, recorded = f"{subdomain}.{base}", assigned_host(status)
        # The whole host, not the label: a tenant that moved to another base domain holds nothing there yet.
        locked = isinstance(status.get("subdomain"), str) and bool(status.get("subdomain"))
        hosts.append(Wanted(host, "spec.domains.subdomain", False, recorded == host, recorded, locked))
    verified = set(verified_domains(spec, status))
    seen: set[str] = set()
    for index, raw in enumerate(sequence(mapping(spec.get("domains")).get("custom"))):
        host = normal_host(raw)
        if not host or host in seen or any(_covered(host, base) for base in reserved):
            continue
        seen.add(host)
        hosts.append(Wanted(host, f"spec.domains.custom[{index}]", True, host in verified))
    return hosts


def _overlap(a: str, b: str) -> bool:
    """The same host, or a wildcard and a host one label below it."""
    if a == b:
        return True
    if a.startswith("*.") and not b.startswith("*."):
        return b.partition(".")[2] == a[2:]
    if b.startswith("*.") and not a.startswith("*."):
        return a.partition(".")[2] == b[2:]
    return False


def _pair_bucket(a: str, b: str) -> tuple[str, str]:
    """The bucket both of two overlapping hosts' tenants are in (for a tie in age)."""
    wildcard = a if a.startswith("*.") else b if b.startswith("*.") else None
    if wildcard is not None:
        return ("Domain", wildcard)
    return ("Host", a.partition(".")[0])


def _age(catalogue: Catalogue, name: str) -> str:
    tenant = catalogue.tenant(name) or {}
    return str(mapping(tenant.get("metadata")).get("creationTimestamp") or "")


def _position(names: list[str], name: str) -> int:
    return names.index(name) if name in names else len(names)


def _domain_rules(host: str, field: str, reserved: dict[str, str]) -> Iterator[Violation]:
    for base, whose in reserved.items():
        if _covered(host, base):
            yield Violation(
                field,
                "DomainReserved",
                f"custom domain {host!r} is under {base} ({whose}), where Landlord gives out subdomains; "
                f"remove it (a host there is given by spec.domains.subdomain)",
            )
            return


def _claim_rules(catalogue: Catalogue, tenant: dict[str, Any], config: Config | None) -> Iterator[Violation]:
    """A host belongs to one tenant only. The one that holds it keeps it: a tenant whose status
    records it (assigned subdomain, verified domain) before one whose does not, then the oldest
    (document order offline), so that a newcomer never takes a host that is already served."""
    name = str(mapping(tenant.get("metadata")).get("name", ""))
    reserved = reserved_domains(catalogue, config)
    for index, raw in enumerate(sequence(mapping(mapping(tenant.get("spec")).get("domains")).get("custom"))):
        yield from _domain_rules(normal_host(raw), f"spec.domains.custom[{index}]", reserved)
    mine = wanted_hosts(catalogue, tenant, config, reserved)
    for wanted in mine:
        holder = _earlier_holder(catalogue, name, wanted, config, reserved)
        if holder is not None:
            yield _conflict(wanted, *holder)


def _earlier_holder(
    catalogue: Catalogue, name: str, wanted: Wanted, config: Config | None, reserved: dict[str, str]
) -> tuple[str, Wanted] | None:
    """The tenant that holds a host this one wants (or one that overlaps it), if any."""
    candidates = sorted({t for bucket in host_buckets(wanted.host) for t in catalogue.referencing(*bucket)} - {name})
    best: tuple[tuple[bool, str, int], str, Wanted] | None = None
    for other in candidates:
        body = catalogue.tenant(other)
        if body is None or mapping(body.get("metadata")).get("deletionTimestamp"):
            continue
        for theirs in wanted_hosts(catalogue, body, config, reserved):
            if not _overlap(wanted.host, theirs.host):
                continue
            bucket = catalogue.referencing(*_pair_bucket(wanted.host, theirs.host))
            key = (not theirs.assigned, _age(catalogue, other), _position(bucket, other))
            mine = (not wanted.assigned, _age(catalogue, name), _position(bucket, name))
            if key < mine and (best is None or key < best[0]):
                best = (key, other, theirs)
    return None if best is None else (best[1], best[2])


def _conflict(wanted: Wanted, owner: str, theirs: Wanted) -> Violation:
    if not wanted.custom:
        subdomain = wanted.host.partition(".")[0]
        what = f" as its custom domain {theirs.host!r}" if theirs.custom else ""
        if theirs.custom:
            release = f"remove {theirs.host!r} from Tenant/{owner}'s spec.domains.custom"
        else:
            release = f"move Tenant/{owner} to another base domain (spec.reseller) or delete it"
        if wanted.locked and wanted.recorded and wanted.recorded != wanted.host:
            fix = (
                f"this tenant's subdomain {subdomain!r} was assigned and cannot change, and its host is "
                f"{wanted.recorded}: set spec.reseller back so that its base domain is that host's, or {release}"
            )
        elif wanted.locked:
            fix = f"this tenant's subdomain {subdomain!r} was assigned and cannot change: {release}"
        else:
            fix = "choose another subdomain (spec.domains.subdomain)"
        return Violation(
            "spec.domains.subdomain",
            "HostConflict",
            f"subdomain {subdomain!r} (host {wanted.host}) is already used by Tenant/{owner}{what}; {fix}",
        )
    if wanted.host == theirs.host:
        return Violation(
            wanted.field,
            "HostConflict",
            f"custom domain {wanted.host!r} already belongs to Tenant/{owner}; a domain belongs to one tenant "
            f"only: remove it here or from Tenant/{owner}",
        )
    return Violation(
        wanted.field,
        "HostConflict",
        f"custom domain {wanted.host!r} overlaps {theirs.host!r} of Tenant/{owner} (a wildcard covers the hosts "
        f"one label below it); a host belongs to one tenant only: remove it here or from Tenant/{owner}",
    )
