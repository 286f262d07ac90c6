"""The view of the catalogue the pipeline reads: kopf's indexes in the operator, files offline.

Both sides answer the same questions, so that a rule written once gives the same answer in
the cluster and in a pull request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


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
    """What a tenant spec refers to: its plan, add-ons, reseller, and the hosts it holds.

    ("Host", "<subdomain>@<reseller>") is the subdomain under its base domain; ("Domain", host)
    each custom domain. Both are claims that one tenant only may hold.
    """
    refs = {("Plan", str(spec.get("plan", "")))}
    if spec.get("reseller"):
        refs.add(("Reseller", str(spec["reseller"])))
    addons = spec.get("addOns")
    for addon in addons if isinstance(addons, list) else []:
        if isinstance(addon, Mapping):
            refs.add(("AddOn", str(addon.get("name", ""))))
    return refs | host_claims(spec, name)


def host_claims(spec: Mapping[str, Any], name: str | None) -> set[tuple[str, str]]:
    """The Host and Domain claims of a tenant (its name is the default subdomain)."""
    domains = spec.get("domains")
    claims: set[tuple[str, str]] = set()
    subdomain = domains.get("subdomain") if isinstance(domains, Mapping) else None
    if isinstance(subdomain, str | None) and (subdomain or name):
        claims.add(("Host", f"{subdomain or name}@{spec.get('reseller') or ''}"))
    custom = domains.get("custom") if isinstance(domains, Mapping) else None
    for host in custom if isinstance(custom, list) else []:
        claims.add(("Domain", str(host)))
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
