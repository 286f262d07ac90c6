"""The emulator's state and API semantics, independent of HTTP.

One global, monotonically increasing resourceVersion; an event history for watches (older
versions answer 410 Gone); generation, status-subresource separation, managed fields,
finalizers, namespace lifecycle, ownerReference garbage collection and CRD registration.
Everything runs on one asyncio loop, so each operation is atomic.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import random
import re
import string
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .cel_rules import check_rule
from .errors import ApiError, FieldError
from .managed_fields import FieldModel, apply, now_rfc3339, record_update
from .patches import json_patch, merge_patch, strategic_merge_patch
from .resources import ResourceType, builtin_definitions, builtin_types, crd_types
from .schema import Walker, validate_custom_resource

Key = tuple[str, str]  # (namespace, name)
GroupResource = tuple[str, str]

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)
NAMESPACE_FINALIZER = "kubernetes"
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CREATE_ON_UPDATE = frozenset({"Lease", "Event", "Endpoints"})


@dataclass
class WatchEvent:
    rv: int
    group_resource: GroupResource
    type: str  # ADDED | MODIFIED | DELETED
    obj: dict[str, Any]
    old: dict[str, Any] | None


@dataclass(eq=False)
class Watcher:
    group_resource: GroupResource
    namespace: str | None
    matches: Callable[[dict[str, Any]], bool]
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=asyncio.Queue)

    def offer(self, event: WatchEvent) -> None:
        obj_ns = event.obj.get("metadata", {}).get("namespace")
        if self.namespace is not None and obj_ns != self.namespace:
            return
        now = self.matches(event.obj) if event.type != "DELETED" else False
        before = event.old is not None and self.matches(event.old)
        if event.type == "DELETED":
            if self.matches(event.obj):
                self.queue.put_nowait(("DELETED", event.obj))
        elif now and before:
            self.queue.put_nowait(("MODIFIED", event.obj))
        elif now:
            self.queue.put_nowait(("ADDED", event.obj))
        elif before:
            self.queue.put_nowait(("DELETED", event.obj))


@dataclass
class WriteResult:
    obj: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    created: bool = False


class Cluster:
    def __init__(self, history: int = 100_000) -> None:
        self.walker_builtin = Walker(builtin_definitions(), builtin=True)
        self.walker_custom = Walker()
        self.types: dict[tuple[str, str, str], ResourceType] = {}
        self.objects: dict[GroupResource, dict[Key, dict[str, Any]]] = {}
        self.rv = 0
        self.history: deque[WatchEvent] = deque(maxlen=history)
        self.compacted_rv = 0
        self.watchers: set[Watcher] = set()
        self.uids: dict[str, tuple[GroupResource, Key]] = {}
        self.dependents: dict[str, set[tuple[GroupResource, Key]]] = {}
        self.pending: set[tuple[GroupResource, Key]] = set()  # objects being deleted
        self.gone_uids: set[str] = set()
        self.wakeup = asyncio.Event()
        self.changes = 0  # bumps on every registration change (discovery/openapi caches)
        self.writes = 0
        for rt in builtin_types():
            self._register(rt)
        for name in INITIAL_NAMESPACES:
            self.create(self.find("", "namespaces"), None, {"metadata": {"name": name}}, "landlord-devcluster")

    # -- registry -------------------------------------------------------------------------
    def _register(self, rt: ResourceType) -> None:
        self.types[(rt.group, rt.version, rt.plural)] = rt
        self.objects.setdefault(rt.group_resource, {})
        self.changes += 1

    def _unregister_crd(self, crd_name: str) -> None:
        for key, rt in list(self.types.items()):
            if rt.crd_name == crd_name:
                del self.types[key]
                self.objects.pop(rt.group_resource, None)
        self.changes += 1

    def find(self, group: str, plural: str, version: str | None = None) -> ResourceType:
        for (g, v, p), rt in self.types.items():
            if g == group and p == plural and (version is None or v == version):
                return rt
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for group, version, _ in self.types:
            versions = out.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        return out

    # -- helpers ----------------------------------------------------------------------------
    def _walker(self, rt: ResourceType) -> Walker:
        return self.walker_builtin if rt.builtin else self.walker_custom

    def field_model(self, rt: ResourceType) -> FieldModel:
        return FieldModel(rt.schema, self._walker(rt))

    def _store(self, rt: ResourceType) -> dict[Key, dict[str, Any]]:
        return self.objects[rt.group_resource]

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _emit(self, rt: ResourceType, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        event = WatchEvent(int(obj["metadata"]["resourceVersion"]), rt.group_resource, kind, obj, old)
        if len(self.history) == self.history.maxlen:
            self.compacted_rv = self.history[0].rv
        self.history.append(event)
        for watcher in list(self.watchers):
            if watcher.group_resource == rt.group_resource:
                watcher.offer(event)
        self.writes += 1

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (namespace or "", name) if rt.namespaced else ("", name)

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._store(rt).get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self.present(rt, obj)

    def present(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy for the client, in the version it asked for."""
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version
        out["kind"] = rt.kind
        return out

    def list_objects(
        self, rt: ResourceType, namespace: str | None, matches: Callable[[dict[str, Any]], bool]
    ) -> tuple[list[dict[str, Any]], str]:
        items = [
            obj
            for (ns, _), obj in sorted(self._store(rt).items())
            if (namespace is None or ns == namespace) and matches(obj)
        ]
        return [self.present(rt, obj) for obj in items], str(self.rv)

    # -- validation -------------------------------------------------------------------------
    def _validate(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        field_validation: str,
    ) -> tuple[dict[str, Any], list[str]]:
        name = obj.get("metadata", {}).get("name", "")
        problems: list[FieldError] = []
        problems += self._validate_metadata(rt, obj.get("metadata") or {}, old)
        walker = self._walker(rt)
        schema = rt.schema or {}
        if rt.builtin:
            result = walker.walk(obj, schema, old if old is not None else errors.MISSING)
            stored = result.value
        else:
            result, stored, root_problems = validate_custom_resource(walker, schema, obj, old)
            problems += root_problems
        if rt.kind == "CustomResourceDefinition":
            problems += _validate_crd(stored)
        problems += result.errors
        unknown = [u for u in result.unknown if not u.startswith("metadata.managedFields")]
        if problems:
            raise errors.invalid(rt.kind, rt.group, name, problems)
        warnings: list[str] = []
        if unknown:
            if field_validation == "Strict":
                text = ", ".join(f'unknown field "{u}"' for u in unknown)
                raise errors.bad_request(f"strict decoding error: {text}")
            if field_validation != "Ignore":
                warnings = [f'unknown field "{u}"' for u in unknown]
        return stored, warnings

    def _validate_metadata(
        self, rt: ResourceType, meta: dict[str, Any], old: dict[str, Any] | None
    ) -> list[FieldError]:
        problems: list[FieldError] = []
        name = meta.get("name", "")
        pattern = _DNS1123_LABEL if rt.kind == "Namespace" else _DNS1123_SUBDOMAIN
        limit = 63 if rt.kind == "Namespace" else 253
        if not name:
            problems.append(
                FieldError("FieldValueRequired", "metadata.name", detail="name or generateName is required")
            )
        elif rt.kind not in ("Event",) and (not pattern.match(name) or len(name) > limit):
            what = "RFC 1123 label" if rt.kind == "Namespace" else "RFC 1123 subdomain"
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    "metadata.name",
                    name,
                    f"a lowercase {what} must consist of lower case alphanumeric characters, '-' or '.', "
                    f"and must start and end with an alphanumeric character",
                )
            )
        for key, value in (meta.get("labels") or {}).items():
            prefix, _, local = key.rpartition("/")
            if not _LABEL_NAME.match(local) or len(local) > 63 or (prefix and not _DNS1123_SUBDOMAIN.match(prefix)):
                problems.append(
                    FieldError(
                        "FieldValueInvalid",
                        "metadata.labels",
                        key,
                        "name part must consist of alphanumeric characters, '-', '_' or '.', "
                        "and must start and end with an alphanumeric character",
                    )
                )
            if not isinstance(value, str) or not _LABEL_VALUE.match(value) or len(value) > 63:
                problems.append(
                    FieldError(
                        "FieldValueInvalid",
                        "metadata.labels",
                        value,
                        "a valid label must be an empty string or consist of alphanumeric "
                        "characters, '-', '_' or '.', and must start and end with an "
                        "alphanumeric character",
                    )
                )
        for key, value in (meta.get("annotations") or {}).items():
            if not isinstance(value, str):
                problems.append(
                    FieldError("FieldValueInvalid", f"metadata.annotations[{key}]", value, "must be a string")
                )
        annotations_size = sum(len(k) + len(str(v)) for k, v in (meta.get("annotations") or {}).items())
        if annotations_size > 256 * 1024:
            problems.append(
                FieldError("FieldValueTooLong", "metadata.annotations", detail="may not be more than 262144 bytes")
            )
        finalizers = meta.get("finalizers") or []
        for index, finalizer in enumerate(finalizers):
            if not isinstance(finalizer, str) or (
                "/" not in finalizer and finalizer not in (NAMESPACE_FINALIZER, FOREGROUND, ORPHAN)
            ):
                problems.append(
                    FieldError(
                        "FieldValueInvalid",
                        f"metadata.finalizers[{index}]",
                        finalizer,
                        "name is neither a standard finalizer name nor is it fully qualified",
                    )
                )
        if old is not None:
            old_meta = old.get("metadata", {})
            if old_meta.get("deletionTimestamp"):
                added = set(finalizers) - set(old_meta.get("finalizers") or [])
                if added:
                    problems.append(
                        FieldError(
                            "FieldValueForbidden",
                            "metadata.finalizers",
                            detail=f"no new finalizers can be added if the object is being deleted, "
                            f"found new finalizers {json.dumps(sorted(added))}",
                        )
                    )
        for index, ref in enumerate(meta.get("ownerReferences") or []):
            for required in ("apiVersion", "kind", "name", "uid"):
                if not ref.get(required):
                    problems.append(FieldError("FieldValueRequired", f"metadata.ownerReferences[{index}].{required}"))
        return problems

    # -- create -----------------------------------------------------------------------------
    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: dict[str, Any],
        manager: str,
        field_validation: str = "Warn",
        dry_run: bool = False,
    ) -> WriteResult:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was in an unknown format")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        self._check_kind(rt, obj)
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            namespace = namespace or body_ns
            if not namespace:
                raise errors.bad_request("the namespace of the object is required")
            meta["namespace"] = namespace
            self._check_namespace(namespace)
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
            meta["name"] = meta["generateName"] + suffix
        for system in _SYSTEM_METADATA:
            meta.pop(system, None)
        meta.pop("managedFields", None)
        if rt.has_status and rt.kind != "CustomResourceDefinition":
            obj.pop("status", None)
        stored, warnings = self._validate(rt, obj, None, field_validation)
        name = stored["metadata"]["name"]
        key = self._key(rt, namespace, name)
        if key in self._store(rt):
            raise errors.already_exists(rt.plural, rt.group, name)
        self._prepare_create(rt, stored)
        smeta = stored["metadata"]
        smeta["uid"] = str(uuid.uuid4())
        smeta["creationTimestamp"] = now_rfc3339()
        if rt.has_generation:
            smeta["generation"] = 1
        record_update(self.field_model(rt), None, stored, manager, rt.api_version)
        if dry_run:
            return WriteResult(self.present(rt, stored), warnings, True)
        smeta["resourceVersion"] = self._next_rv()
        self._insert(rt, key, stored)
        self._emit(rt, "ADDED", stored, None)
        self._after_write(rt, stored)
        return WriteResult(self.present(rt, stored), warnings, True)

    def _check_kind(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})"
                if api_version != rt.api_version
                else f"kind {kind} does not match the expected kind {rt.kind}"
            )
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})"
            )
        obj["kind"] = rt.kind
        obj["apiVersion"] = rt.api_version

    def _check_namespace(self, namespace: str) -> None:
        ns = self.objects[("", "namespaces")].get(("", namespace))
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being terminated",
                {
                    "name": namespace,
                    "kind": "namespaces",
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _prepare_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.kind == "Namespace":
            obj.setdefault("spec", {})["finalizers"] = [NAMESPACE_FINALIZER]
            obj["status"] = {"phase": "Active"}
        elif rt.kind == "CustomResourceDefinition":
            names = obj["spec"]["names"]
            accepted = {
                **names,
                "singular": names.get("singular") or names["kind"].lower(),
                "listKind": names.get("listKind") or names["kind"] + "List",
            }
            obj["spec"]["names"] = accepted
            conflict = self._crd_conflict(obj)
            if conflict:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    obj["metadata"]["name"],
                    [FieldError("FieldValueInvalid", "spec.names.plural", names["plural"], conflict)],
                )
            obj["status"] = self._crd_status(obj)

    def _crd_conflict(self, crd: dict[str, Any]) -> str:
        spec = crd["spec"]
        for rt in self.types.values():
            if (
                rt.group == spec["group"]
                and rt.plural == spec["names"]["plural"]
                and rt.crd_name != crd["metadata"]["name"]
            ):
                return "the resource is already served"
        return ""

    def _crd_status(self, crd: dict[str, Any]) -> dict[str, Any]:
        stamp = now_rfc3339()
        return {
            "acceptedNames": crd["spec"]["names"],
            "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": stamp,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": stamp,
                },
            ],
        }

    def _insert(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> None:
        self._store(rt)[key] = obj
        meta = obj["metadata"]
        self.uids[meta["uid"]] = (rt.group_resource, key)
        for ref in meta.get("ownerReferences") or []:
            self.dependents.setdefault(ref["uid"], set()).add((rt.group_resource, key))
            if ref["uid"] not in self.uids:
                self.gone_uids.add(ref["uid"])
                self.wakeup.set()

    def _after_write(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.kind == "CustomResourceDefinition" and not obj["metadata"].get("deletionTimestamp"):
            for crd_rt in self.types.copy().values():
                if crd_rt.crd_name == obj["metadata"]["name"]:
                    del self.types[(crd_rt.group, crd_rt.version, crd_rt.plural)]
            for crd_rt in crd_types(obj):
                self._register(crd_rt)

    # -- update / patch ---------------------------------------------------------------------
    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        manager: str,
        subresource: str = "",
        field_validation: str = "Warn",
        dry_run: bool = False,
    ) -> WriteResult:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was in an unknown format")
        key = self._key(rt, namespace, name)
        current = self._store(rt).get(key)
        body = copy.deepcopy(body)
        meta = body.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if current is None:
            # Like the real registries: only a few kinds may be created by PUT.
            if subresource or rt.kind not in CREATE_ON_UPDATE:
                raise errors.not_found(rt.plural, rt.group, name)
            return self.create(rt, namespace, body, manager, field_validation, dry_run)
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        return self._replace(rt, key, current, body, manager, subresource, field_validation, dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        manager: str,
        subresource: str = "",
        force: bool = False,
        field_validation: str = "Warn",
        dry_run: bool = False,
    ) -> WriteResult:
        key = self._key(rt, namespace, name)
        current = self._store(rt).get(key)
        if patch_type == "apply":
            return self._apply(
                rt, namespace, name, key, current, patch, manager, force, subresource, field_validation, dry_run
            )
        if current is None:
            raise errors.not_found(rt.plural, rt.group, name)
        base = self.present(rt, current)
        if patch_type == "json":
            patched = json_patch(base, patch)
        elif patch_type == "merge":
            if not isinstance(patch, dict):
                raise errors.bad_request("merge patch must be a JSON object")
            patched = merge_patch(base, patch)
        elif patch_type == "strategic":
            if not rt.builtin:
                raise errors.unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                )
            patched = strategic_merge_patch(base, patch, rt.schema or {}, self._walker(rt))
        else:
            raise errors.unsupported_media_type(f"unsupported patch type {patch_type}")
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch produced something that is not an object")
        patched_meta = patched.setdefault("metadata", {})
        wanted_rv = patched_meta.get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        if patched_meta.get("name", name) != name:
            raise errors.bad_request("metadata.name: Invalid value: the name of a patched object cannot change")
        return self._replace(rt, key, current, patched, manager, subresource, field_validation, dry_run)

    def _apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        key: Key,
        current: dict[str, Any] | None,
        config: Any,
        manager: str,
        force: bool,
        subresource: str,
        field_validation: str,
        dry_run: bool,
    ) -> WriteResult:
        if not isinstance(config, dict):
            raise errors.bad_request("apply configuration must be an object")
        if not manager or manager.startswith("\x00"):
            raise errors.bad_request("PATCH with apply requires a fieldManager")
        config = copy.deepcopy(config)
        if not config.get("apiVersion") or not config.get("kind"):
            raise errors.bad_request("apiVersion and kind must be set in an apply configuration")
        self._check_kind(rt, config)
        meta = config.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        if current is None and subresource:
            raise errors.not_found(rt.plural, rt.group, name)
        model = self.field_model(rt)
        live = self.present(rt, current) if current else None
        if live is None and rt.namespaced:
            self._check_namespace(namespace or "")
        if subresource == "status":
            config = {
                "apiVersion": config["apiVersion"],
                "kind": config["kind"],
                "metadata": {"name": name},
                "status": config.get("status", {}),
            }
        elif rt.has_status and current is not None:
            config.pop("status", None)
        merged = apply(model, live, config, manager, force, rt.api_version, subresource)
        managed = merged["metadata"].get("managedFields")
        merged["metadata"]["name"] = name
        if rt.namespaced:
            merged["metadata"]["namespace"] = namespace
        if current is None:
            merged["metadata"] = {k: v for k, v in merged["metadata"].items() if k not in _SYSTEM_METADATA}
            merged["metadata"].pop("managedFields", None)
            created = self.create(rt, namespace, merged, manager, field_validation, dry_run)
            stored = self._store(rt).get(key)
            if stored is not None and not dry_run:
                stored["metadata"]["managedFields"] = managed
                created.obj["metadata"]["managedFields"] = managed
            return created
        return self._replace(
            rt, key, current, merged, manager, subresource, field_validation, dry_run, managed_fields=managed
        )

    def _replace(
        self,
        rt: ResourceType,
        key: Key,
        current: dict[str, Any],
        body: dict[str, Any],
        manager: str,
        subresource: str,
        field_validation: str,
        dry_run: bool,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> WriteResult:
        self._check_kind(rt, body)
        old = current
        new = copy.deepcopy(body)
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            meta = new["metadata"]
        elif rt.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        for system in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "name",
        ):
            if system in old_meta:
                meta[system] = old_meta[system]
            else:
                meta.pop(system, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if rt.kind == "Namespace":
            new["spec"] = copy.deepcopy(old.get("spec", {}))  # finalizers move only through /finalize
            new["status"] = copy.deepcopy(old.get("status", {}))
        if rt.kind == "CustomResourceDefinition":
            if new["spec"].get("group") != old["spec"].get("group"):
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    key[1],
                    [FieldError("FieldValueInvalid", "spec.group", new["spec"].get("group"), "field is immutable")],
                )
            if subresource != "status":
                new["status"] = copy.deepcopy(old.get("status", {}))
        stored, warnings = self._validate(rt, new, old, field_validation)
        if rt.kind == "CustomResourceDefinition" and subresource != "status":
            names = stored["spec"]["names"]
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
            stored["status"] = {
                **stored.get("status", {}),
                **self._crd_status(stored),
                "conditions": old.get("status", {}).get("conditions", []),
            }
        if managed_fields is not None:
            stored["metadata"]["managedFields"] = managed_fields
        else:
            stored["metadata"]["managedFields"] = old_meta.get("managedFields", [])
            record_update(self.field_model(rt), old, stored, manager, rt.api_version, subresource)
        if _same(stored, old):
            return WriteResult(self.present(rt, old), warnings)
        if rt.has_generation and _spec_changed(rt, old, stored):
            stored["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
        if dry_run:
            return WriteResult(self.present(rt, stored), warnings)
        stored["metadata"]["resourceVersion"] = self._next_rv()
        self._reindex_owners(rt, key, old, stored)
        self._store(rt)[key] = stored
        if stored["metadata"].get("deletionTimestamp") and not stored["metadata"].get("finalizers"):
            self._remove(rt, key, stored)
            return WriteResult(self.present(rt, stored), warnings)
        self._emit(rt, "MODIFIED", stored, old)
        self._after_write(rt, stored)
        if stored["metadata"].get("deletionTimestamp"):
            self.pending.add((rt.group_resource, key))
            self.wakeup.set()
        return WriteResult(self.present(rt, stored), warnings)

    def _reindex_owners(self, rt: ResourceType, key: Key, old: dict[str, Any], new: dict[str, Any]) -> None:
        before = {r["uid"] for r in old["metadata"].get("ownerReferences") or []}
        after = {r["uid"] for r in new["metadata"].get("ownerReferences") or []}
        for uid in before - after:
            self.dependents.get(uid, set()).discard((rt.group_resource, key))
        for uid in after - before:
            self.dependents.setdefault(uid, set()).add((rt.group_resource, key))
            if uid not in self.uids:
                self.gone_uids.add(uid)
                self.wakeup.set()

    # -- delete -----------------------------------------------------------------------------
    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        options = options or {}
        key = self._key(rt, namespace, name)
        current = self._store(rt).get(key)
        if current is None:
            raise errors.not_found(rt.plural, rt.group, name)
        preconditions = options.get("preconditions") or {}
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

    def _remove(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> None:
        self._store(rt).pop(key, None)
        uid = obj["metadata"]["uid"]
        self.uids.pop(uid, None)
        for ref in obj["metadata"].get("ownerReferences") or []:
            self.dependents.get(ref["uid"], set()).discard((rt.group_resource, key))
        self.pending.discard((rt.group_resource, key))
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(rt, "DELETED", final, None)
        if self.dependents.get(uid):
            self.gone_uids.add(uid)
        if self.pending or self.gone_uids:
            self.wakeup.set()
        if rt.kind == "CustomResourceDefinition":
            self._unregister_crd(obj["metadata"]["name"])

    # -- controllers: namespace lifecycle, garbage collection, CRD clean-up ------------------
    def reconcile(self) -> bool:
        """One pass of the built-in controllers; True when it changed something."""
        changed = False
        for group_resource, key in sorted(self.pending):
            rt = self._any_type(group_resource)
            obj = self.objects.get(group_resource, {}).get(key) if rt else None
            if rt is None or obj is None:
                self.pending.discard((group_resource, key))
                continue
            changed |= self._finalize(rt, key, obj)
        for uid in sorted(self.gone_uids):
            self.gone_uids.discard(uid)
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

    def _any_type(self, group_resource: GroupResource) -> ResourceType | None:
        for rt in self.types.values():
            if rt.group_resource == group_resource:
                return rt
        return None

    def _finalize(self, rt: ResourceType, key: Key, obj: dict[str, Any]) -> bool:
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        uid = meta["uid"]
        if rt.kind == "Namespace":
            namespace = key[1]
            remaining = 0
            acted = False
            for other_rt in list(self.types.values()):
                if not other_rt.namespaced or other_rt.version != self._storage_version(other_rt):
                    continue
                for (ns, name), child in list(self.objects.get(other_rt.group_resource, {}).items()):
                    if ns != namespace:
                        continue
                    remaining += 1
                    if not child["metadata"].get("deletionTimestamp"):
                        self.delete(other_rt, ns, name, {"propagationPolicy": "Background"})
                        acted = True
            if remaining == 0 and obj.get("spec", {}).get("finalizers"):
                new = copy.deepcopy(obj)
                new["spec"]["finalizers"] = []
                new["metadata"]["resourceVersion"] = self._next_rv()
                self._store(rt)[key] = new
                if not finalizers:
                    self._remove(rt, key, new)
                else:
                    self._emit(rt, "MODIFIED", new, obj)
                return True
            return acted
        if rt.kind == "CustomResourceDefinition" and CRD_FINALIZER in finalizers:
            remaining = 0
            acted = False
            for crd_rt in [t for t in self.types.values() if t.crd_name == key[1]]:
                if crd_rt.version != self._storage_version(crd_rt):
                    continue
                for (ns, name), child in list(self.objects.get(crd_rt.group_resource, {}).items()):
                    remaining += 1
                    if not child["metadata"].get("deletionTimestamp"):
                        self.delete(crd_rt, ns or None, name, {"propagationPolicy": "Background"})
                        acted = True
            if remaining == 0:
                self._drop_finalizer(rt, key, obj, CRD_FINALIZER)
                return True
            return acted
        if FOREGROUND in finalizers:
            children = [c for c in self.dependents.get(uid, set()) if self._exists(c)]
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
        if ORPHAN in finalizers:
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
        return False

    def _storage_version(self, rt: ResourceType) -> str:
        return next(v for (g, v, p) in self.types if (g, p) == rt.group_resource)

    def _exists(self, ref: tuple[GroupResource, Key]) -> bool:
        return ref[1] in self.objects.get(ref[0], {})

    def _drop_finalizer(self, rt: ResourceType, key: Key, obj: dict[str, Any], finalizer: str) -> None:
        finalizers = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        patch = {"metadata": {"finalizers": finalizers or None}}
        self.patch(rt, key[0] or None, key[1], "merge", patch, "landlord-devcluster")

    async def run_controllers(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            for _ in range(100):
                if not self.reconcile():
                    break
                await asyncio.sleep(0)

    # -- watch ------------------------------------------------------------------------------
    def subscribe(
        self,
        rt: ResourceType,
        namespace: str | None,
        matches: Callable[[dict[str, Any]], bool],
        resource_version: str | None,
    ) -> Watcher:
        """Registers a watcher and queues what it must see first (initial state or history)."""
        watcher = Watcher(rt.group_resource, namespace, matches)
        if not resource_version or resource_version == "0":
            for (ns, _), obj in sorted(self._store(rt).items()):
                if (namespace is None or ns == namespace) and matches(obj):
                    watcher.queue.put_nowait(("ADDED", obj))
        else:
            try:
                since = int(resource_version)
            except ValueError as exc:
                raise errors.bad_request(f"invalid resource version: {resource_version}") from exc
            if since < self.compacted_rv:
                raise errors.gone(f"too old resource version: {since} ({self.compacted_rv + 1})")
            for event in self.history:
                if event.rv > since and event.group_resource == rt.group_resource:
                    watcher.offer(event)
        self.watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        out = dict(obj)
        meta = dict(out.get("metadata", {}))
        meta.pop("resourceVersion", None)
        meta["managedFields"] = [
            {k: v for k, v in entry.items() if k != "time"} for entry in meta.get("managedFields") or []
        ]
        out["metadata"] = meta
        out.pop("apiVersion", None)
        return out

    return strip(a) == strip(b)


def _spec_changed(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
    ignored = {"metadata", "apiVersion", "kind"}
    if rt.has_status:
        ignored.add("status")
    before = {k: v for k, v in old.items() if k not in ignored}
    after = {k: v for k, v in new.items() if k not in ignored}
    return before != after


def _validate_crd(crd: dict[str, Any]) -> list[FieldError]:
    problems: list[FieldError] = []
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    group = spec.get("group", "")
    plural = names.get("plural", "")
    expected = f"{plural}.{group}"
    if crd.get("metadata", {}).get("name") != expected:
        problems.append(
            FieldError(
                "FieldValueInvalid",
                "metadata.name",
                crd.get("metadata", {}).get("name"),
                'must be spec.names.plural+"."+spec.group',
            )
        )
    if "." not in group:
        problems.append(
            FieldError("FieldValueInvalid", "spec.group", group, "should be a domain with at least one dot")
        )
    versions = spec.get("versions") or []
    if not versions:
        problems.append(
            FieldError(
                "FieldValueRequired", "spec.versions", detail="must have exactly one version marked as storage version"
            )
        )
    if sum(1 for v in versions if v.get("storage")) != 1:
        problems.append(
            FieldError(
                "FieldValueInvalid", "spec.versions", "array", "must have exactly one version marked as storage version"
            )
        )
    for index, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            continue
        if schema.get("type") != "object":
            problems.append(
                FieldError(
                    "FieldValueRequired",
                    f"spec.versions[{index}].schema.openAPIV3Schema.type",
                    detail="must not be empty at the root",
                )
            )
        for path, rule in _rules_in(schema, f"spec.versions[{index}].schema.openAPIV3Schema"):
            compile_error = check_rule(rule)
            if compile_error:
                problems.append(FieldError("FieldValueInvalid", path, rule, f"compilation failed: {compile_error}"))
    return problems


def _rules_in(schema: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if not isinstance(schema, dict):
        return found
    for index, rule in enumerate(schema.get("x-kubernetes-validations") or []):
        found.append((f"{path}.x-kubernetes-validations[{index}].rule", rule.get("rule", "")))
    for name, sub in (schema.get("properties") or {}).items():
        found += _rules_in(sub, f"{path}.properties[{name}]")
    if isinstance(schema.get("items"), dict):
        found += _rules_in(schema["items"], f"{path}.items")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _rules_in(schema["additionalProperties"], f"{path}.additionalProperties")
    return found


def decode_continue(token: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        return data["ns"], data["name"]
    except (ValueError, KeyError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc


def encode_continue(namespace: str, name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"ns": namespace, "name": name}).encode()).decode()
