"""One idempotent reconcile of one Tenant: desire, apply each component, observe, roll up.

Create, update, resume and the periodic drift check all run this. Reads come from kopf's
indexes (and what the operator has just written); writes happen only where something
differs, so a reconcile with nothing to change makes zero writes. Everything it needs to be
restart-safe is in the cluster (children, status), never in memory.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..api.conditions import Phase
from ..api.resolution import Refusal, parse_time, rfc3339
from ..components import Context, NamespaceComponent
from ..components.namespace import (
    ADOPT_ANNOTATION,
    CLAIM_ANNOTATION,
    CLAIMED,
    FORMER_TENANT_LABEL,
    ORPHANED_AT_ANNOTATION,
    ORPHANED_LABEL,
    RETAINED_WORKLOADS_ANNOTATION,
    ownership,
)
from ..inventory import is_ours
from ..kinds import CHILD_KINDS, ObjectKey, describe, key_of
from ..pipeline import Desired, desire
from ..pipeline.overuse import invoice_suspends
from ..render.tenant import namespace_of
from ..render.view import MANAGED_BY, PLAN_LABEL, TENANT_LABEL
from .status import Observed, comparable, condition_changes, refused_status, tenant_status
from .telemetry import info_sample, measured_usage, tenant_sample
from .workloads import MAX_RECORDED, ORPHAN_RECORD_CAP, restore_workloads, suspend_workloads

if TYPE_CHECKING:
    from .core import Controller

logger = logging.getLogger(__name__)

TENANT_FINALIZER = "landlord.dev/tenant-cleanup"
PROVISIONED = (Phase.TRIAL, Phase.ACTIVE, Phase.SUSPENDED)
FIRST_PHASES = (None, Phase.PENDING, Phase.PROVISIONING)  # before a tenant was ever provisioned


class ReconcileFailed(Exception):
    """The reconcile wrote a Failed status; raised so that the work queue retries with backoff."""


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class TenantReconciler:
    def __init__(self, controller: Controller) -> None:
        self.ctl = controller

    async def reconcile(self, name: str) -> float | None:
        ctl = self.ctl
        current = ctl.tenant(name)
        if current is None:
            ctl.metrics.tenants.forget(name)  # gone: no series stays behind
            return None
        tenant = copy.deepcopy(current)
        meta = tenant["metadata"]
        if meta.get("deletionTimestamp"):
            return await self._finalize(tenant)
        if TENANT_FINALIZER not in (meta.get("finalizers") or []):
            first: dict[str, Any] = {
                "finalizers": [*(meta.get("finalizers") or []), TENANT_FINALIZER],
                "resourceVersion": meta["resourceVersion"],
            }
            updated = await ctl.client.patch("Tenant", name, {"metadata": first})
            ctl.recent.remember(("Tenant", name), updated)
            tenant["metadata"] = copy.deepcopy(updated["metadata"])
            meta = tenant["metadata"]
        now = now_utc()
        live = {key_of(c): c for c in ctl.inventory.children(name)}
        try:
            desired = desire(
                tenant,
                ctl.inventory,
                ctl.config,
                now,
                share=ctl.share_of(tenant),
                usage=self._usage(tenant, live),
                invoices=await self._overdue_invoices(name),
            )
        except Refusal as refusal:
            refused = refused_status(tenant, refusal, now)
            await self.write_status(tenant, refused)
            ctl.metrics.tenants.refused(name, info_sample(tenant, refused["phase"]))
            return None
        status = tenant.get("status") or {}
        # No "Provisioning" status before the children: the one status write comes after them, with
        # whatever phase they reached (a slow component reports Provisioning there).
        ctx = self._context(tenant, desired, live)
        await self._run_components(ctx, live)
        observed = [Observed(c.condition, c.observe(ctx)) for c in ctl.components]
        new_status = tenant_status(tenant, desired, observed, now)
        for component in ctl.components:
            new_status.update(component.status_fields(ctx))
        new_status = {k: v for k, v in new_status.items() if v is not None}  # None: not (or no longer) there
        previous_phase = status.get("phase")
        await self.write_status(tenant, new_status)
        over = desired.over_limit
        if over.suspends_at is not None and not status.get("overLimit"):  # the suspendOnExceed clock starts
            await ctl.client.event(
                tenant,
                "Warning",
                "OverLimit",
                f"over its limits: {', '.join(o.describe() for o in over.overages)}; the plan suspends it at "
                f"{rfc3339(over.suspends_at)} (overuse.suspendOnExceed) unless every usage is within its limit by then",
            )
        quota = next((key_of(o) for o in desired.children.get("quota", []) if o["kind"] == "ResourceQuota"), None)
        sample = tenant_sample(tenant, desired, new_status["phase"], ctx.lookup(quota) if quota else None)
        ctl.metrics.tenants.record(name, sample)
        if ctx.created and previous_phase in PROVISIONED:
            await ctl.client.event(
                tenant,
                "Normal",
                "Recreated",
                "created what was missing: " + ", ".join(describe(k) for k in ctx.created[:10]),
            )
        if new_status["phase"] == Phase.FAILED:
            raise ReconcileFailed(new_status["message"])
        return self._next_wake(desired, new_status, observed, now)

    async def _overdue_invoices(self, tenant: str) -> list[str]:
        """The index's unpaid invoices past grace, each read again: one deleted while the watch
        was away (kopf keeps it in the index) must not keep the tenant suspended. The index is
        empty for almost every tenant, so this reads nothing for them."""
        names = self.ctl.inventory.overdue_invoices(tenant)
        confirmed = []
        for invoice in names:
            live = await self.ctl.client.get("Invoice", invoice)
            if live is not None and invoice_suspends(live):
                confirmed.append(invoice)
        return confirmed

    def _usage(self, tenant: dict[str, Any], live: dict[ObjectKey, Any]) -> dict[str, float] | None:
        """What the tenant uses, for `overuse.suspendOnExceed` (None when its plan does not have it:
        nothing is compared). From what the operator holds: no API request."""
        ctl = self.ctl
        plan = ctl.inventory.plan(str((tenant.get("spec") or {}).get("plan") or ""))
        if not (((plan or {}).get("spec") or {}).get("overuse") or {}).get("suspendOnExceed"):
            return None
        name = tenant["metadata"]["name"]
        namespace = namespace_of(ctl.config, name)
        quota = next((k for k in live if k[0] == "ResourceQuota" and k[1] == namespace), None)
        meters = {
            resource: amount
            for component in ctl.components
            for (owner, resource), amount in component.usage().items()
            if owner == name
        }
        return measured_usage(
            tenant, tenant.get("spec") or {}, ctl.recent.pick(quota, live[quota]) if quota else None, meters
        )

    def _context(self, tenant: dict[str, Any], desired: Desired, live: dict[ObjectKey, Any]) -> Context:
        ctl = self.ctl
        name = tenant["metadata"]["name"]

        def lookup(key: ObjectKey) -> dict[str, Any] | None:
            # The index now, not `live` (taken when the reconcile began): a watch event meanwhile
            # lets our own write go from `recent` once the index holds it (`caught_up`).
            return ctl.recent.pick(key, ctl.inventory.child(name, key))

        def remember(key: ObjectKey, obj: dict[str, Any]) -> None:
            ctl.remember_write(key, obj)

        async def record_status(fields: dict[str, Any]) -> None:
            await self.write_status(tenant, {**(tenant.get("status") or {}), **fields})

        return Context(desired, ctl.config, tenant, ctl.client, ctl.providers, lookup, remember, record_status)

    async def _run_components(self, ctx: Context, live: dict[ObjectKey, Any]) -> None:
        ctl = self.ctl
        blocked: str | None = None  # why nothing may be made in the namespace: terminating, or not the tenant's
        for component in ctl.components:
            if blocked and component.namespaced:
                ctx.blocked[component.name] = blocked
                continue
            await component.apply(ctx)
            await component.act(ctx)
            if isinstance(component, NamespaceComponent):
                blocked = component.blocking(ctx)
        if blocked:
            return  # no pruning, no suspension in a namespace that is going or is someone else's
        await self._prune(ctx, live)
        suspension = (ctx.tenant.get("status") or {}).get("suspension") or {}
        record = list(suspension.get("workloads") or [])
        unrecorded = int(suspension.get("unrecorded") or 0)

        async def save(workloads: list[dict[str, Any]] | None, missed: int) -> None:
            fields = {"workloads": workloads or None, "unrecorded": missed or None}
            kept = {k: v for k, v in fields.items() if v is not None}
            await ctx.record_status({"suspension": kept or None})

        if ctx.desired.suspended:
            total = await suspend_workloads(ctl.client, ctx.desired.namespace, record, save, unrecorded)
            if total > unrecorded:
                await ctl.client.event(
                    ctx.tenant,
                    "Warning",
                    "SuspensionNotRecorded",
                    f"{total} workload(s) beyond the {MAX_RECORDED} the suspension records were stopped without a "
                    f"record: activation will not restore them (status.suspension.unrecorded); lower the plan's "
                    f"workload object counts",
                )
        elif record or unrecorded:  # keyed on what was recorded, not on the phase
            await restore_workloads(ctl.client, ctx.desired.namespace, record, save)

    async def _prune(self, ctx: Context, live: dict[ObjectKey, Any]) -> None:
        """Deletes labelled children that are no longer desired (only Landlord's own)."""
        wanted = {key_of(obj) for obj in ctx.desired.objects()} | ctx.keep
        owned = {kind for component in self.ctl.components for kind in component.kinds}
        home = ctx.desired.namespace
        # What replaces an object goes in first: a kind is pruned only once every object of it that
        # is wanted is there, written without error in this pass (the four former NetworkPolicies,
        # default deny among them, stay until `landlord-isolation` is in place).
        unsettled = {
            key[0]
            for key in wanted
            if key in ctx.errors
            or (found := ctx.lookup(key)) is None
            or (found.get("metadata") or {}).get("deletionTimestamp")
        }
        for key, obj in live.items():
            # Only kinds an active component manages: with a capability turned off, its
            # children (say, credentials) are left alone, not pruned.
            if key in wanted or key[0] not in CHILD_KINDS or key[0] not in owned or not is_ours(obj):
                continue
            if key[0] in unsettled:
                continue
            # Only in the tenant's own namespace: a label anyone can write must never make the
            # operator delete another tenant's objects.
            if key[1] != home and not (key[0] == "Namespace" and key[2] == home):
                continue
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                continue
            await self.ctl.client.delete(key[0], key[2], key[1] or None)
            self.ctl.recent.forget(key)

    def _next_wake(
        self, desired: Desired, status: dict[str, Any], observed: list[Observed], now: datetime
    ) -> float | None:
        moments = [
            parse_time(desired.spec.get("expiresAt")),
            parse_time(status.get("trialEndsAt")),
            desired.over_limit.suspends_at,  # suspendOnExceed: suspended then, unless back under before
        ]
        future = [(m - now).total_seconds() + 0.5 for m in moments if m is not None and m > now]
        future += [o.observation.recheck_after for o in observed if o.observation.recheck_after is not None]
        return min(future) if future else None

    async def write_status(self, tenant: dict[str, Any], status: dict[str, Any]) -> None:
        """Writes the status when it differs; Events on phase, plan-sync and condition transitions."""
        ctl = self.ctl
        old = tenant.get("status") or {}
        if comparable(old) == comparable(status):
            return
        patch = {key: None for key in old if key not in status}
        patch.update(status)
        name = tenant["metadata"]["name"]
        updated = await ctl.client.patch("Tenant", name, {"status": patch}, subresource="status")
        ctl.recent.remember(("Tenant", name), updated)
        status = {k: v for k, v in status.items() if v is not None}  # a None removed a field
        if old.get("phase") != status.get("phase"):
            ctl.metrics.transitions.labels(status["phase"]).inc()
            if old.get("phase") in FIRST_PHASES and status["phase"] in PROVISIONED:
                created = parse_time(tenant["metadata"].get("creationTimestamp"))
                if created is not None:
                    ctl.metrics.provisioning.observe(max(0.0, (now_utc() - created).total_seconds()))
            kind = "Warning" if status["phase"] in (Phase.FAILED, Phase.PENDING) else "Normal"
            if status["phase"] == Phase.SUSPENDED and status.get("reason") in ("PaymentOverdue", "OverLimit"):
                kind = "Warning"  # not a person's decision: someone should look
            await ctl.client.event(
                tenant,
                kind,
                status.get("reason") or status["phase"],
                f"{old.get('phase') or 'New'} -> {status['phase']}: {status.get('message', '')}",
            )
        elif status.get("phase") == Phase.SUSPENDED and old.get("reason") != status.get("reason"):
            await ctl.client.event(  # still suspended, for another reason (e.g. spec.suspend lifted, invoice unpaid)
                tenant, "Normal", status.get("reason") or status["phase"], f"suspended: {status.get('message', '')}"
            )
        old_sync = (old.get("planSync") or {}).get("state")
        new_sync = (status.get("planSync") or {}).get("state")
        if new_sync and old_sync != new_sync and old.get("phase") == status.get("phase"):
            await ctl.client.event(
                tenant,
                "Normal" if new_sync != "Unsynchronized" else "Warning",
                new_sync,
                f"plan sync: {old_sync or 'New'} -> {new_sync}",
            )
        if old.get("phase") == status.get("phase"):
            for cond, recovered in condition_changes(old, status):
                await ctl.client.event(
                    tenant,
                    "Normal" if recovered else "Warning",
                    "Recovered" if recovered else cond["reason"],
                    f"{cond['type']}: {cond['message']}",
                )
        tenant["status"] = status

    async def _finalize(self, tenant: dict[str, Any]) -> float | None:
        ctl = self.ctl
        meta = tenant["metadata"]
        name = meta["name"]
        if TENANT_FINALIZER not in (meta.get("finalizers") or []):
            return None
        ctl.metrics.tenants.record(name, info_sample(tenant, Phase.TERMINATING.value, metered=False))  # nothing to bill
        status = tenant.get("status") or {}
        if status.get("phase") != Phase.TERMINATING:
            message = (
                "removing the namespace and its objects"
                if _deletion_policy(tenant) == "Delete"
                else "keeping the namespace and its data (deletionPolicy Retain), removing the owners' access"
            )
            await self.write_status(
                tenant, dict(status, phase=Phase.TERMINATING.value, reason="Deleting", message=message)
            )
        for component in ctl.components:
            wait = await component.finalize(tenant)  # what lives outside the namespace first
            if wait is not None:
                return wait
        wait = await self._release_namespace(tenant)
        if wait is not None:
            return wait
        finalizers = [f for f in meta.get("finalizers") or [] if f != TENANT_FINALIZER]
        await ctl.client.patch(
            "Tenant", name, {"metadata": {"finalizers": finalizers or None, "resourceVersion": meta["resourceVersion"]}}
        )
        return None

    async def _release_namespace(self, tenant: dict[str, Any]) -> float | None:
        """The namespace on the Tenant's deletion: `Delete` deletes it, `Retain` keeps it with its
        data as an orphan; one that is not the tenant's is never touched. Seconds to wait, or None."""
        client = self.ctl.client
        name = tenant["metadata"]["name"]
        namespace = namespace_of(self.ctl.config, name)
        live = await client.get("Namespace", namespace)
        if live is None:
            return None
        component = next((c for c in self.ctl.components if isinstance(c, NamespaceComponent)), None)
        expected = await component.expected_claim(client, tenant, live) if component is not None else None
        how = ownership(tenant, live, expected)
        uid = live["metadata"].get("uid")
        if how == CLAIMED and (tenant.get("status") or {}).get("namespaceUID") != uid:
            # Created just before a kill, never recorded: recorded now, since Retain clears the
            # claim on the namespace and a later pass must still know the namespace is the tenant's.
            record = {"status": {"namespaceUID": uid, "namespaceClaim": None}}
            tenant = await client.patch("Tenant", name, record, subresource="status")
        policy = _deletion_policy(tenant)
        deleting = bool(live["metadata"].get("deletionTimestamp"))
        if how is None:
            if not deleting:
                await client.event(
                    tenant,
                    "Normal",
                    "NamespaceLeft",
                    f"namespace {namespace} was not created by Landlord for this tenant: left as it is",
                )
            return None
        if policy == "Delete":
            if not deleting:
                await client.delete("Namespace", namespace)
            return 1.0  # wait for the namespace and its contents to be gone
        if not deleting:
            await self._orphan(tenant, live)
        return None

    async def _orphan(self, tenant: dict[str, Any], live: dict[str, Any]) -> None:
        """Retain: the namespace stays with its data (PVCs, Secrets, ConfigMaps, Services), and
        nothing of the tenant keeps working in it: every RoleBinding goes (Landlord's and those
        the owners made), then the workloads are stopped by the suspension machinery, what
        restores them recorded first on the namespace (annotation `landlord.dev/retained-workloads`,
        JSON), then every Ingress goes (its host may be given to another tenant). Reported, and
        marked orphaned (no longer managed: a later Tenant of the same name does not get it
        without an administrator's `landlord.dev/adopt`). Safe to repeat after a kill."""
        client = self.ctl.client
        name = tenant["metadata"]["name"]
        namespace = live["metadata"]["name"]
        removed = []
        for binding in await client.list("RoleBinding", namespace):
            if not binding["metadata"].get("deletionTimestamp"):
                await client.delete("RoleBinding", binding["metadata"]["name"], namespace)
            removed.append(binding["metadata"]["name"])
        annotations = live["metadata"].get("annotations") or {}
        record = _retained_record(annotations.get(RETAINED_WORKLOADS_ANNOTATION))
        if record is None:  # (a suspended tenant's workloads are stopped already: its record is the one)
            record = list(((tenant.get("status") or {}).get("suspension") or {}).get("workloads") or [])

        async def save(workloads: list[dict[str, Any]] | None, missed: int) -> None:
            text = json.dumps(workloads or [], separators=(",", ":"), sort_keys=True)
            await client.patch(
                "Namespace", namespace, {"metadata": {"annotations": {RETAINED_WORKLOADS_ANNOTATION: text}}}
            )

        if RETAINED_WORKLOADS_ANNOTATION not in annotations:
            await save(record, 0)  # intent first, also when nothing runs any more (a suspended tenant)
        unrecorded = await suspend_workloads(client, namespace, record, save, cap=ORPHAN_RECORD_CAP)
        ingresses = []
        for ingress in await client.list("Ingress", namespace):
            if not ingress["metadata"].get("deletionTimestamp"):
                await client.delete("Ingress", ingress["metadata"]["name"], namespace)
            ingresses.append(ingress["metadata"]["name"])
        if (live["metadata"].get("labels") or {}).get(ORPHANED_LABEL) == "true":
            return  # reported and marked already (a repeat after a kill)
        stopped = f"its workloads stopped, what restores them in the annotation {RETAINED_WORKLOADS_ANNOTATION}" + (
            f" ({unrecorded} beyond {ORPHAN_RECORD_CAP} stopped without a record)" if unrecorded else ""
        )
        message = (
            f"namespace {namespace} kept with its data (deletionPolicy Retain) and marked {ORPHANED_LABEL}=true; "
            f"every RoleBinding removed ({_names(removed)}); {stopped}; Ingresses removed ({_names(ingresses)}). "
            f"Delete it when no longer needed (kubectl delete namespace {namespace}), or give it to a new Tenant: "
            f"kubectl annotate namespace {namespace} {ADOPT_ANNOTATION}=<that Tenant's uid>"
        )
        await client.event(tenant, "Normal", "NamespaceRetained", message)
        await client.event(live, "Normal", "Orphaned", message)
        # No longer Landlord's: without its labels, the namespace is out of the tenant admission
        # policies' reach, so that an administrator can adopt or delete it.
        mark = {
            "metadata": {
                "labels": {
                    ORPHANED_LABEL: "true",
                    FORMER_TENANT_LABEL: name,
                    **{key: None for key in (TENANT_LABEL, PLAN_LABEL, *MANAGED_BY)},
                },
                "annotations": {ORPHANED_AT_ANNOTATION: rfc3339(now_utc()), CLAIM_ANNOTATION: None},
            }
        }
        await client.patch("Namespace", namespace, mark)


def _names(names: list[str]) -> str:
    shown = sorted(names)[:20]
    more = f", and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    return (", ".join(shown) + more) if shown else "none"


def _retained_record(text: Any) -> list[dict[str, Any]] | None:
    """The workloads record on an orphan's annotation (None: none yet, or not readable)."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else None


def _deletion_policy(tenant: dict[str, Any]) -> str:
    """Retain unless the tenant says Delete (the spec, else what the status recorded)."""
    spec, status = tenant.get("spec") or {}, tenant.get("status") or {}
    return str(spec.get("deletionPolicy") or status.get("deletionPolicy") or "Retain")
