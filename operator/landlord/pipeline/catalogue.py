"""The view of the catalogue the pipeline reads: the operator's indexes, or files offline.

Both sides answer the same questions, so that a rule written once gives the same answer in
the cluster and in a pull request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ..render.view import normal_host as normal_host  # (one definition, shared with rendering)


class Catalogue(Protocol):
    """Plans, add-ons, resellers and tenants by name, and who refers to what."""

    def plan(self, name: str) -> dict[str, Any] | None: ...
    def addon(self, name: str) -> dict[str, Any] | None: ...
    def reseller(self, name: str) -> dict[str, Any] | None: ...
    def tenant(self, name: str) -> dict[str, Any] | None: ...
    def names(self, kind: str) -> list[str]: ...
    def referencing(self, kind: str, name: str) -> list[str]:
        """Tenants whose spec names this Plan, AddOn or Reseller, or holds this Host/Domain."""
        ...


def tenant_refs(spec: Mapping[str, Any], name: str | None = None) -> set[tuple[str, str]]:
    """What a tenant spec refers to: its plan, add-ons, reseller, and the hosts it asks for.

    The Host and Domain entries (`host_claims`) are buckets in which the tenants that might
    want the same host meet; `landlord.pipeline.rules` decides who holds it.
    """
    refs = {("Plan", str(spec.get("plan", "")))}
    if spec.get("reseller"):
        refs.add(("Reseller", str(spec["reseller"])))
    addons = spec.get("addOns")
    for addon in addons if isinstance(addons, list) else []:
        if isinstance(addon, Mapping):
            refs.add(("AddOn", str(addon.get("name", ""))))
    return refs | host_claims(spec, name)


def subdomain_of(spec: Mapping[str, Any], name: str | None) -> str:
    """The tenant's subdomain label: `spec.domains.subdomain`, else its name ("" for none)."""
    domains = spec.get("domains")
    subdomain = domains.get("subdomain") if isinstance(domains, Mapping) else None
    return normal_host(subdomain or name or "")


def custom_domains(spec: Mapping[str, Any]) -> list[str]:
    """The tenant's custom domains, normalised, in spec order (duplicates once)."""
    domains = spec.get("domains")
    custom = domains.get("custom") if isinstance(domains, Mapping) else None
    found: list[str] = []
    for host in custom if isinstance(custom, list) else []:
        if normal_host(host) and normal_host(host) not in found:
            found.append(normal_host(host))
    return found


def host_buckets(host: str) -> set[tuple[str, str]]:
    """Where tenants that might want `host` meet: ("Host", its first label) for a generated host
    or a custom domain equal to one, ("Domain", host) for the same custom domain, and
    ("Domain", "*.<parent>") for a wildcard covering it (or the hosts a wildcard covers)."""
    first, _, parent = host.partition(".")
    buckets = {("Domain", host)}
    if first != "*":
        buckets.add(("Host", first))
    if parent:
        buckets.add(("Domain", f"*.{parent}"))
    return buckets


def host_claims(spec: Mapping[str, Any], name: str | None) -> set[tuple[str, str]]:
    """The buckets a tenant's hosts fall into (its name is the default subdomain).

    A generated host is `<subdomain>.<base domain>`, and the base domain (the reseller's, or the
    operator's) is not known from the spec alone: it is bucketed by its subdomain label only.
    """
    claims: set[tuple[str, str]] = set()
    subdomain = subdomain_of(spec, name)
    if subdomain:
        claims.add(("Host", subdomain))
    for host in custom_domains(spec):
        claims |= host_buckets(host)
    return claims


USAGE_KINDS = ("Plan", "AddOn", "Reseller")


class StaticCatalogue:
    """A catalogue from documents (files): `landlord validate` and `landlord render`.

    Tenants keep document order, which stands for age: the first to claim a host keeps it.
    """

    def __init__(self, bodies: Iterable[dict[str, Any]]) -> None:
        self._objects: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in ("Plan", "AddOn", "Reseller", "Tenant")}
        self._refs: dict[tuple[str, str], list[str]] = {}
        for body in bodies:
            kind = body.get("kind")
            name = (body.get("metadata") or {}).get("name")
            if kind not in self._objects or not isinstance(name, str) or name in self._objects[kind]:
                continue
            self._objects[kind][name] = body
            if kind == "Tenant":
                spec = body.get("spec")
                if isinstance(spec, Mapping):
                    for ref in sorted(tenant_refs(spec, name)):
                        self._refs.setdefault(ref, []).append(name)

    def plan(self, name: str) -> dict[str, Any] | None:
        return self._objects["Plan"].get(name)

    def addon(self, name: str) -> dict[str, Any] | None:
        return self._objects["AddOn"].get(name)

    def reseller(self, name: str) -> dict[str, Any] | None:
        return self._objects["Reseller"].get(name)

    def tenant(self, name: str) -> dict[str, Any] | None:
        return self._objects["Tenant"].get(name)

    def names(self, kind: str) -> list[str]:
        return sorted(self._objects[kind])

    def referencing(self, kind: str, name: str) -> list[str]:
        return list(self._refs.get((kind, name), []))
