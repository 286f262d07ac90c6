"""The tenant's namespace: the boundary every other child lives in, and only ever its own.

A label proves nothing (anyone who can create a namespace can copy Landlord's labels, and the
Tenant's uid is readable by anyone who can read Tenants), so ownership is decided like this:

- Landlord creates the namespace itself, with a create (POST) that fails when the name is
  taken, never with an apply that would merge into what exists, and records its uid in
  `status.namespaceUID`. That namespace, and no other, is the tenant's.
- Intent before effect, without a write: the namespace is created with a claim only the operator
  can make (annotation `landlord.dev/claim`: an HMAC, with a key in the operator's namespace, of
  the Tenant's uid and the namespace uid the status recorded before; see `claim_key`). A kill
  between the create and the uid's recording is recognised on restart by that claim: a namespace
  made in advance by someone else (copying every label, the Tenant's uid, even the operator's
  field manager) cannot carry it, and a claim readable on a namespace claims no later one.
  Where the key cannot be had, the SHA-256 of a random one-time token goes to
  `status.namespaceClaim` before the create, and the token onto the namespace. The status, not
  an annotation: whoever writes a Tenant can write its annotations (and its finalizers), and
  could name a token of a namespace made in advance; only the operator writes the status. Once
  the uid is recorded that claim is cleared, so the token, now readable, proves nothing.
- A person with rights on namespaces (tenants have none) may give one to a Tenant explicitly:
  annotation `landlord.dev/adopt=<the Tenant's uid>` (a uid names one Tenant object, never a
  later one of the same name).
- A tenant provisioned before uids were recorded (`status.namespace` set, no uid, no claim)
  keeps its namespace if Landlord's labels name it; the uid is recorded on the first pass.

Any other namespace of that name makes the tenant Failed (NamespaceConflict): Landlord writes
nothing to it, creates nothing in it, prunes nothing in it and never deletes it.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from ..api.conditions import ConditionType
from ..diffing import up_to_date
from ..kinds import key_of
from ..kube import KubeClient, KubeError
from ..pipeline import Desired
from ..render.view import MANAGED_BY, TENANT_LABEL
from .base import RECHECK_TERMINATING, Component, Context, Observation
from .claim_key import TOKEN_PREFIX, ClaimKey, claim_token

CLAIM_ANNOTATION = "landlord.dev/claim"  # the HMAC of `claim_key`, or a token whose digest is status.namespaceClaim
TENANT_UID_ANNOTATION = "landlord.dev/tenant-uid"  # for people: the Tenant it was made for
ADOPT_ANNOTATION = "landlord.dev/adopt"  # set by an administrator: give it to the Tenant of this uid
ORPHANED_LABEL = "landlord.dev/orphaned"  # kept with its data after its Tenant went (Retain)
FORMER_TENANT_LABEL = "landlord.dev/former-tenant"  # on an orphan, instead of landlord.dev/tenant
ORPHANED_AT_ANNOTATION = "landlord.dev/orphaned-at"
# On an orphan: JSON list of the workloads Retain stopped and what restores each (kind, name, and
# replicas, nodeSelector or suspend), for the administrator or the owner who takes it over.
RETAINED_WORKLOADS_ANNOTATION = "landlord.dev/retained-workloads"

RECORDED, CLAIMED, ADOPTED, LEGACY = "recorded", "claimed", "adopted", "legacy"


def claim_digest(token: str) -> str:
    """What the status holds of a claim token: its digest, never the token."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def _meta(obj: dict[str, Any] | None) -> dict[str, Any]:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, dict) else {}


def ownership(tenant: dict[str, Any], namespace: dict[str, Any], expected: str | None = None) -> str | None:
    """How the namespace is this Tenant's (recorded, claimed, adopted, legacy), or None: it is not.
    `expected`: the claim a namespace created for it now carries (`claim_key.claim_token`). Pure."""
    status = tenant.get("status") or {}
    meta = _meta(namespace)
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    recorded, claim = status.get("namespaceUID"), status.get("namespaceClaim")
    if recorded and meta.get("uid") == recorded:
        return RECORDED
    token = annotations.get(CLAIM_ANNOTATION)
    if expected and isinstance(token, str) and secrets.compare_digest(token.encode(), expected.encode()):
        return CLAIMED
    if claim and isinstance(token, str) and secrets.compare_digest(claim_digest(token), str(claim)):
        return CLAIMED  # a claim recorded in the status (no key; or made by an earlier Landlord)
    tenant_uid = _meta(tenant).get("uid")
    if tenant_uid and annotations.get(ADOPT_ANNOTATION) == tenant_uid:
        return ADOPTED
    labelled = all(labels.get(k) == v for k, v in {TENANT_LABEL: _meta(tenant).get("name"), **MANAGED_BY}.items())
    if not recorded and not claim and status.get("namespace") == meta.get("name") and labelled:
        return LEGACY  # (a new Landlord never writes status.namespace without the uid)
    return None


def conflict_message(tenant: dict[str, Any], namespace: dict[str, Any]) -> str:
    """What is wrong with a namespace that is not the tenant's, and what a person can do."""
    meta = _meta(namespace)
    name = meta.get("name")
    labels = meta.get("labels") or {}
    adopt = f"kubectl annotate namespace {name} {ADOPT_ANNOTATION}={_meta(tenant).get('uid')}"
    if labels.get(ORPHANED_LABEL) == "true":
        when = (meta.get("annotations") or {}).get(ORPHANED_AT_ANNOTATION) or "earlier"
        former = labels.get(FORMER_TENANT_LABEL, "?")
        return (
            f"namespace {name} was kept with its data when an earlier Tenant {former} was "
            f"deleted ({when}, deletionPolicy Retain); Landlord does not give it to a new tenant by itself. To give "
            f"it, with its data, to this tenant: {adopt}; to start empty: kubectl delete namespace {name} "
            f"(its data is lost)"
        )
    if labels.get(TENANT_LABEL) or any(labels.get(k) == v for k, v in MANAGED_BY.items()):
        # Landlord's labels put it under the admission policy landlord-managed-objects: only the
        # operator may change or delete it, cluster administrators included.
        return (
            f"namespace {name} already exists and was not created by Landlord for this tenant, but carries "
            f"Landlord's labels ({TENANT_LABEL}, app.kubernetes.io/managed-by), so the admission policy "
            f"landlord-managed-objects refuses to change or delete it for anyone but the operator. Landlord does "
            f"not adopt it and never changes or deletes it. A cluster administrator in a break-glass group listed "
            f"in `groups` of the ConfigMap landlord-system/landlord-admission (add one there) can delete it "
            f"(kubectl delete namespace {name}) or give it and what is in it to this tenant ({adopt}); or create "
            f"the tenant under another name"
        )
    return (
        f"namespace {name} already exists and was not created by Landlord for this tenant; Landlord does not "
        f"adopt it and never changes or deletes it. Delete it if it is not needed (kubectl delete namespace "
        f"{name}), or give it and what is in it to this tenant: {adopt}; or create the tenant under another name"
    )


async def _revoke_earlier_access(ctx: Context, namespace: str) -> str:
    """An adopted namespace keeps nothing of the earlier owners' access: every RoleBinding goes
    (Landlord's owners' binding is made again for this tenant), and every ServiceAccount with its
    token Secrets (a token the earlier owner kept would act for a ServiceAccount of the new one:
    a ServiceAccount made again has a new uid, which old tokens do not name). What it goes by."""
    gone: dict[str, list[str]] = {"RoleBindings": [], "ServiceAccounts": [], "token Secrets": []}
    for binding in await ctx.client.list("RoleBinding", namespace):
        labels = _meta(binding).get("labels") or {}
        if labels.get(TENANT_LABEL) == _meta(ctx.tenant).get("name") and all(
            labels.get(k) == v for k, v in MANAGED_BY.items()
        ):
            continue  # already this tenant's (a repeat)
        await ctx.client.delete("RoleBinding", _meta(binding)["name"], namespace)
        gone["RoleBindings"].append(_meta(binding)["name"])
    for secret in await ctx.client.list("Secret", namespace):
        if secret.get("type") == "kubernetes.io/service-account-token":
            await ctx.client.delete("Secret", _meta(secret)["name"], namespace)
            gone["token Secrets"].append(_meta(secret)["name"])
    for account in await ctx.client.list("ServiceAccount", namespace):
        await ctx.client.delete("ServiceAccount", _meta(account)["name"], namespace)
        gone["ServiceAccounts"].append(_meta(account)["name"])
    return "; ".join(f"{what}: {', '.join(sorted(names)[:10]) or 'none'}" for what, names in gone.items())


@dataclass(frozen=True)
class Seen:
    """The namespace as this reconcile found it, and whose it is."""

    live: dict[str, Any] | None
    how: str | None  # None: not this tenant's (when live)


class NamespaceComponent(Component):
    """Creates the namespace and keeps it; while it is being deleted, or is not the tenant's,
    the namespaced components wait."""

    name = "namespace"
    condition = ConditionType.NAMESPACE_READY
    kinds = ("Namespace",)
    namespaced = False

    def __init__(self, claim_key: ClaimKey | None = None) -> None:
        self.claim_key = claim_key or ClaimKey()

    def healthy(self, desired: Desired) -> str:
        return f"namespace {desired.namespace}"

    async def apply(self, ctx: Context) -> None:
        for obj in self.children(ctx.desired):
            await self._ensure(ctx, obj)

    async def _ensure(self, ctx: Context, obj: dict[str, Any]) -> None:
        key = key_of(obj)
        try:
            live = ctx.lookup(key)
            if live is None:  # not labelled as Landlord's (so not indexed), or really absent
                live = await ctx.client.get("Namespace", key[2])
            if live is None:
                live = await self._create(ctx, obj)
                if live is None:
                    return  # created (or an error to report)
        except KubeError as exc:
            ctx.errors[key] = exc
            return
        try:
            how = ownership(ctx.tenant, live, await self._expected_claim(ctx, live))
        except KubeError as exc:
            ctx.errors[key] = exc
            return
        ctx.notes[self.name] = Seen(live, how)
        if how is None:
            return  # someone else's: never written to
        if ctx.lookup(key) is None:
            ctx.remember(key, live)
        try:
            if how != RECORDED:
                await self._record(ctx, live, how)
            if not _meta(live).get("deletionTimestamp") and not up_to_date(live, obj):
                ctx.remember(key, await ctx.client.apply(obj))
        except KubeError as exc:
            ctx.errors[key] = exc

    async def _expected_claim(self, ctx: Context, live: dict[str, Any]) -> str | None:
        return await self.expected_claim(ctx.client, ctx.tenant, live)

    async def expected_claim(self, client: KubeClient, tenant: dict[str, Any], live: dict[str, Any]) -> str | None:
        """The claim a namespace created for this tenant now carries; None when the uid is recorded
        (nothing to recognise: no key read) or no key can be had. Also read when the Tenant is
        deleted: a namespace created just before a kill, its uid not recorded yet, is still its own."""
        status = tenant.get("status") or {}
        if status.get("namespaceUID") and status.get("namespaceUID") == _meta(live).get("uid"):
            return None
        token = (_meta(live).get("annotations") or {}).get(CLAIM_ANNOTATION)
        if not (isinstance(token, str) and token.startswith(TOKEN_PREFIX)):
            return None  # no claim made with a key on it: none to compare (and no key read)
        secret_key = await self.claim_key.get(client)
        if secret_key is None:
            return None
        expected = claim_token(secret_key, str(_meta(tenant).get("uid") or ""), status.get("namespaceUID"))
        if not secrets.compare_digest(token.encode(), expected.encode()) and self.claim_key.reread():
            # Made with another key (the Secret replaced since this process read it): read it again, once.
            secret_key = await self.claim_key.get(client)
            if secret_key is not None:
                expected = claim_token(secret_key, str(_meta(tenant).get("uid") or ""), status.get("namespaceUID"))
        return expected

    async def _create(self, ctx: Context, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Creates the namespace with its claim (see `claim_key`; without a key, the claim recorded
        in the status first); the live namespace when the name was taken meanwhile (then it is not
        ours), None when created."""
        secret_key = await self.claim_key.get(ctx.client)
        tenant_uid = str(_meta(ctx.tenant).get("uid") or "")
        if secret_key is not None and tenant_uid:
            token = claim_token(secret_key, tenant_uid, (ctx.tenant.get("status") or {}).get("namespaceUID"))
        else:
            token = secrets.token_urlsafe(24)
            await ctx.record_status({"namespaceClaim": claim_digest(token)})
        body = copy.deepcopy(obj)
        annotations = body["metadata"].setdefault("annotations", {})
        annotations[CLAIM_ANNOTATION] = token
        annotations[TENANT_UID_ANNOTATION] = str(_meta(ctx.tenant).get("uid") or "")
        key = key_of(obj)
        try:
            created = await ctx.client.create(body)
        except KubeError as exc:
            if exc.status != 409:
                raise
            return await ctx.client.get("Namespace", key[2])  # created by someone else meanwhile
        ctx.remember(key, created)
        ctx.created.append(key)
        ctx.notes[self.name] = Seen(created, CLAIMED)  # its uid goes with this reconcile's status write
        return None

    async def _record(self, ctx: Context, live: dict[str, Any], how: str) -> None:
        """A namespace recognised as the tenant's (claim, adoption, older Landlord). Its uid goes with
        this reconcile's status write (`status_fields`): until then the claim or the labels still say
        whose it is. An adoption removes its own evidence: recorded first, then cleared."""
        if how != ADOPTED:
            return
        await ctx.record_status({"namespaceUID": _meta(live).get("uid"), "namespaceClaim": None})
        name = _meta(live)["name"]
        cleared = {
            "metadata": {
                "labels": {ORPHANED_LABEL: None, FORMER_TENANT_LABEL: None},
                "annotations": {
                    ADOPT_ANNOTATION: None,
                    ORPHANED_AT_ANNOTATION: None,
                    CLAIM_ANNOTATION: None,
                    TENANT_UID_ANNOTATION: str(_meta(ctx.tenant).get("uid") or ""),
                },
            }
        }
        ctx.remember(key_of(live), await ctx.client.patch("Namespace", name, cleared))
        revoked = await _revoke_earlier_access(ctx, name)
        await ctx.client.event(
            ctx.tenant,
            "Normal",
            "NamespaceAdopted",
            f"namespace {name} given to this tenant by its {ADOPT_ANNOTATION} annotation, with what it holds; "
            f"the earlier access removed ({revoked})",
        )

    def blocking(self, ctx: Context) -> str | None:
        """Why the namespaced components must not act now (None: they may)."""
        seen = ctx.notes.get(self.name)
        if self.terminating(ctx):
            return f"namespace {ctx.desired.namespace} is being deleted; its objects are created again once it is gone"
        if isinstance(seen, Seen) and seen.live is not None and seen.how is None:
            return f"namespace {ctx.desired.namespace} is not this tenant's (NamespaceConflict): nothing is made in it"
        return None

    def terminating(self, ctx: Context) -> bool:
        """Whether the namespace is being deleted (nothing can be created in it until it is gone)."""
        seen = ctx.notes.get(self.name)
        for obj in self.children(ctx.desired):
            live = ctx.lookup(key_of(obj)) or (seen.live if isinstance(seen, Seen) else None)
            if live is not None and _meta(live).get("deletionTimestamp"):
                return True
        return False

    def observe(self, ctx: Context) -> Observation:
        seen = ctx.notes.get(self.name)
        if isinstance(seen, Seen) and seen.live is not None and seen.how is None:
            if _meta(seen.live).get("deletionTimestamp"):
                return Observation(
                    False,
                    "Terminating",
                    f"namespace {ctx.desired.namespace}, not this tenant's, is being deleted; the tenant's own is "
                    f"created once it is gone",
                    recheck_after=RECHECK_TERMINATING,
                )
            return Observation(False, "NamespaceConflict", conflict_message(ctx.tenant, seen.live), failed=True)
        return super().observe(ctx)

    def status_fields(self, ctx: Context) -> dict[str, Any]:
        """The ownership record; no `status.namespace` while the namespace is someone else's."""
        status = ctx.tenant.get("status") or {}
        fields = {"namespaceUID": status.get("namespaceUID"), "namespaceClaim": status.get("namespaceClaim")}
        seen = ctx.notes.get(self.name)
        if isinstance(seen, Seen) and seen.live is not None and seen.how is not None:
            fields = {"namespaceUID": _meta(seen.live).get("uid"), "namespaceClaim": None}
        elif isinstance(seen, Seen) and seen.live is not None:
            fields["namespace"] = None
        elif not isinstance(seen, Seen) and not status.get("namespaceUID"):
            # Not known this pass (an API error): unchanged, so that `status.namespace` without a uid
            # only ever means a tenant provisioned by an older Landlord (see `ownership`).
            fields["namespace"] = status.get("namespace")
        return fields
