"""The deletion lifecycle: DELETE options, finalizers, namespace termination, garbage collection.

A DELETE of an object with finalizers only sets `deletionTimestamp`; the built-in controllers
(`reconcile`, run by `run_controllers`) then empty a terminating namespace, delete a deleted
CRD's objects, and collect dependents by their ownerReferences: in the background, in the
foreground (`foregroundDeletion`) or orphaned (`orphan`).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from ..validation import FieldError
from . import errors
from .managed_fields import now_rfc3339
from .metadata import CRD_FINALIZER, FOREGROUND, ORPHAN
from .resources import ResourceType
from .store import Key, ObjectRef
from .writes import Writes


class Lifecycle(Writes):
    """DELETE and the controllers that finish what it starts."""

    # -- delete -----------------------------------------------------------------------------
    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: dict[str, Any] | None = None,
        dry_run: bool = False,
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        """DELETE with DeleteOptions: preconditions, propagationPolicy; finalizers defer removal.

        Admission's Warn messages are appended to `warnings` when given.
        """
        options = options or {}
        key = self._key(rt, namespace, name)
        current = self._store(rt).get(key)
        if current is None:
            raise errors.not_found(rt.plural, rt.group, name)
        preconditions = options.get("preconditions") or {}
        if not isinstance(preconditions, dict):
            raise errors.bad_request("preconditions must be an object with uid and/or resourceVersion")
        if preconditions.get("uid") and preconditions["uid"] != current["metadata"]["uid"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {current['metadata']['uid']}",
            )
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != current["metadata"]["resourceVersion"]
        ):
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                f"{current['metadata']['resourceVersion']}",
            )
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is True:
            policy = "Orphan"
        if policy not in (None, "Foreground", "Background", "Orphan"):
            raise errors.invalid(
                "DeleteOptions",
                "",
                "",
                [
                    FieldError(
                        "FieldValueNotSupported",
                        "propagationPolicy",
                        policy,
                        'supported values: "Foreground", "Background", "Orphan"',
                    )
                ],
            )
        finalizers = list(current["metadata"].get("finalizers") or [])
        if rt.kind == "Namespace":
            finalizers_extra: list[str] = []
        elif rt.kind == "CustomResourceDefinition":
            finalizers_extra = [CRD_FINALIZER]
        elif policy == "Foreground":
            finalizers_extra = [FOREGROUND]
        elif policy == "Orphan":
            finalizers_extra = [ORPHAN]
        else:
            finalizers_extra = []
        for extra in finalizers_extra:
            if extra not in finalizers:
                finalizers.append(extra)
        self._admit(
            rt, "DELETE", namespace, name, None, current, "", dry_run, delete_options=options, warnings=warnings
        )
        if dry_run:
            return self.present(rt, current)
        ns_pending = rt.kind == "Namespace" and bool(current.get("spec", {}).get("finalizers"))
        if not finalizers and not ns_pending:
            self._remove(rt, key, current)
            return self.present(rt, current)
        if current["metadata"].get("deletionTimestamp") and finalizers == current["metadata"].get("finalizers"):
            return self.present(rt, current)
        new = copy.deepcopy(current)
        new["metadata"]["finalizers"] = finalizers
        new["metadata"].setdefault("deletionTimestamp", now_rfc3339())
        new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
        if rt.kind == "Namespace":
            new["status"] = {**new.get("status", {}), "phase": "Terminating"}
        if rt.has_generation:
            new["metadata"]["generation"] = int(new["metadata"].get("generation", 1)) + 1
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._store(rt)[key] = new
        self._emit(rt, "MODIFIED", new, current)
        self.pending.add((rt.group_resource, key))
        self.wakeup.set()
        return self.present(rt, new)

    def finalize_namespace(self, rt: ResourceType, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT `namespaces/NAME/finalize`: sets `spec.finalizers` (the only way to change them)."""
        current = self.get(rt, None, name)
        wanted = (body.get("spec") or {}).get("finalizers") or []
        key = ("", name)
        stored = self._store(rt)[key]
        proposed = {**current, "spec": {**current.get("spec", {}), "finalizers": wanted}}
        self._admit(rt, "UPDATE", None, name, proposed, stored, "finalize")
        if wanted != stored.get("spec", {}).get("finalizers"):
            # A new object, as every write stores one: watch events and their encodings name the
            # stored object, which is never changed in place.
            new = {
                **stored,
                "spec": {**stored.get("spec", {}), "finalizers": wanted},
                "metadata": {**stored["metadata"], "resourceVersion": self._next_rv()},
            }
            self._store(rt)[key] = new
            self._emit(rt, "MODIFIED", new, stored)
            if new["metadata"].get("deletionTimestamp"):
                self.pending.add((rt.group_resource, key))
                self.wakeup.set()
            stored = new
        return self.present(rt, stored)

    # -- controllers: namespace lifecycle, garbage collection, CRD clean-up ------------------
    def reconcile(self) -> bool:
        """One pass of the built-in controllers; True when it changed something."""
        changed = False
        with self.unadmitted():
            for group_resource, key in sorted(self.pending):
                rt = self._any_type(group_resource)
                obj = self.objects.get(group_resource, {}).get(key) if rt else None
                if rt is None or obj is None:
                    self.pending.discard((group_resource, key))
                    continue
                changed |= self._finalize(rt, key, obj)
            for uid in sorted(self.gone_uids):
                self.gone_uids.discard(uid)
                changed |= self._collect_orphans(uid)
        return changed

    async def run_controllers(self) -> None:
        """Runs `reconcile` whenever a deletion or a lost owner wakes the controllers."""
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            for _ in range(100):
                if not self.reconcile():
                    break
                await asyncio.sleep(0)

    def _collect_orphans(self, uid: str) -> bool:
        """Background garbage collection: deletes dependents none of whose owners exist."""
        changed = False
        for group_resource, key in sorted(self.dependents.get(uid, set())):
            rt = self._any_type(group_resource)
            obj = self.objects.get(group_resource, {}).get(key) if rt else None
            if rt is None or obj is None or obj["metadata"].get("deletionTimestamp"):
                continue
            owners = [r["uid"] for r in obj["metadata"].get("ownerReferences") or []]
            if not any(o in self.uids for o in owners):
                self.delete(rt, key[0] or None, key[1], {"propagationPolicy": "Background"})
                changed = True
        if not self.dependents.get(uid):
            self.dependents.pop(uid, None)
        return changed

    def _finalize(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> bool:
        finalizers = obj["metadata"].get("finalizers") or []
        if rt.kind == "Namespace":
            return self._terminate_namespace(rt, key, obj)
        if rt.kind == "CustomResourceDefinition" and CRD_FINALIZER in finalizers:
            return self._clean_up_crd(rt, key, obj)
        if FOREGROUND in finalizers:
            return self._delete_in_foreground(rt, key, obj)
        if ORPHAN in finalizers:
            return self._orphan_dependents(rt, key, obj)
        return False

    def _delete_contents(self, types: list[ResourceType], matches_namespace: str | None) -> tuple[int, bool]:
        """Deletes the objects of the given types (in a namespace, or all); (remaining, acted)."""
        remaining = 0
        acted = False
        for other_rt in types:
            if other_rt.version != self._storage_version(other_rt):
                continue
            for (ns, name), child in list(self.objects.get(other_rt.group_resource, {}).items()):
                if matches_namespace is not None and ns != matches_namespace:
                    continue
                remaining += 1
                if not child["metadata"].get("deletionTimestamp"):
                    self.delete(other_rt, ns or None, name, {"propagationPolicy": "Background"})
                    acted = True
        return remaining, acted

    def _terminate_namespace(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> bool:
        """Deletes a terminating namespace's contents, then clears its `kubernetes` finalizer."""
        namespaced = [t for t in self.types.values() if t.namespaced]
        remaining, acted = self._delete_contents(namespaced, key[1])
        if remaining == 0 and obj.get("spec", {}).get("finalizers"):
            new = copy.deepcopy(obj)
            new["spec"]["finalizers"] = []
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._store(rt)[key] = new
            if not obj["metadata"].get("finalizers"):
                self._remove(rt, key, new)
            else:
                self._emit(rt, "MODIFIED", new, obj)
            return True
        return acted

    def _clean_up_crd(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> bool:
        """Deletes a deleted CRD's objects, then lets the CRD go."""
        served = [t for t in self.types.values() if t.crd_name == key[1]]
        remaining, acted = self._delete_contents(served, None)
        if remaining == 0:
            self._drop_finalizer(rt, key, obj, CRD_FINALIZER)
            return True
        return acted

    def _delete_in_foreground(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> bool:
        """Foreground deletion: the owner stays until its dependents are gone."""
        children = [c for c in self.dependents.get(obj["metadata"]["uid"], set()) if self._exists(c)]
        acted = False
        for group_resource, child_key in children:
            child_rt = self._any_type(group_resource)
            child = self.objects[group_resource][child_key]
            if child_rt and not child["metadata"].get("deletionTimestamp"):
                self.delete(child_rt, child_key[0] or None, child_key[1], {"propagationPolicy": "Foreground"})
                acted = True
        if not children:
            self._drop_finalizer(rt, key, obj, FOREGROUND)
            return True
        return acted

    def _orphan_dependents(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> bool:
        """Orphan deletion: dependents lose their ownerReference to the owner, and stay."""
        uid = obj["metadata"]["uid"]
        for group_resource, child_key in list(self.dependents.get(uid, set())):
            child_rt = self._any_type(group_resource)
            dependent = self.objects.get(group_resource, {}).get(child_key)
            if child_rt is None or dependent is None:
                continue
            refs = [r for r in dependent["metadata"].get("ownerReferences") or [] if r["uid"] != uid]
            patch: dict[str, Any] = {"metadata": {"ownerReferences": refs or None}}
            self.patch(child_rt, child_key[0] or None, child_key[1], "merge", patch, "garbage-collector")
        self._drop_finalizer(rt, key, obj, ORPHAN)
        return True

    def _exists(self, ref: ObjectRef) -> bool:
        return ref[1] in self.objects.get(ref[0], {})

    def _drop_finalizer(self, rt: ResourceType, key: Key, obj: dict[str, Any], finalizer: str) -> None:
        finalizers = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        patch = {"metadata": {"finalizers": finalizers or None}}
        self.patch(rt, key[0] or None, key[1], "merge", patch, "landlord-devcluster")
