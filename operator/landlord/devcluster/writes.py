"""Writes: create, update (PUT), the patch flavours and server-side apply.

Each write validates the object (metadata, then its schema), keeps the fields the server
owns (uid, creationTimestamp, status outside `/status`), records managed fields, bumps
`generation` on spec changes and stores a new resourceVersion, unless nothing changed.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..validation import MISSING, FieldError, validate_custom_resource
from . import admission_checks, errors
from .errors import ApiError
from .limitranger import LimitRanger
from .managed_fields import apply, now_rfc3339, record_update
from .metadata import NAMESPACE_FINALIZER, SYSTEM_METADATA, validate_metadata
from .patches import json_patch, merge_patch, strategic_merge_patch
from .pod_updates import validate_pod_update
from .quota import ResourceQuotas
from .registry import validate_crd
from .resources import ResourceType
from .store import Key

CREATE_ON_UPDATE = frozenset({"Lease", "Event", "Endpoints"})
"""Kinds whose registries create the object on a PUT to a missing name."""

MAX_OBJECT_BYTES = 1572864
"""etcd's default `--max-request-bytes` (1.5 MiB): a larger stored object is refused by etcd."""

NAMESPACE_MISMATCH = "the namespace of the provided object does not match the namespace sent on the request"
"""The real 400 for a POST or PUT whose object names another namespace than the URL."""


@dataclass
class WriteResult:
    """A written object as the client sees it (a view of the stored object: read it or serialise
    it, never change it), the warnings to send, and whether it was created."""

    obj: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    created: bool = False
    body: bytes | None = None  # `obj` encoded as JSON, when the write encoded it already


class Writes(ResourceQuotas, LimitRanger):
    """Create, update, patch and apply, on top of admission, the registry and the object store.

    `max_object_bytes` is the storage limit (etcd's request size): a write whose object would be
    larger (its compact JSON; etcd holds built-in objects as protobuf, a bit smaller) is refused
    as the real server passes on etcd's refusal, a 500 `etcdserver: request is too large`, after
    admission and before anything is stored, counted or sent to watchers. Tests may lower it.
    """

    max_object_bytes: int = MAX_OBJECT_BYTES

    def _encode_for_storage(self, rt: ResourceType, stored: dict[str, Any]) -> bytes:
        """Gives `stored` the next resourceVersion and returns it as the client will get it, encoded
        once for the size check and the response; refused over the storage limit, before anything
        is stored and before the resourceVersion is taken."""
        stored["metadata"]["resourceVersion"] = str(self.rv + 1)
        body = json.dumps(self.view(rt, stored), separators=(",", ":")).encode()
        if len(body) > self.max_object_bytes:
            raise errors.request_too_large_for_storage()
        self._next_rv()
        return body

    def _validate(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        field_validation: str,
    ) -> tuple[dict[str, Any], list[str]]:
        name = obj.get("metadata", {}).get("name", "")
        if rt.builtin and rt.kind == "Secret":
            _fold_string_data(obj)
        problems: list[FieldError] = []
        problems += validate_metadata(rt.kind, obj.get("metadata") or {}, old)
        walker = self._walker(rt)
        schema = rt.schema or {}
        if rt.builtin:
            result = walker.walk(obj, schema, old if old is not None else MISSING)
            stored = result.value
        else:
            result, stored, root_problems = validate_custom_resource(walker, schema, obj, old)
            problems += root_problems
        if rt.kind == "CustomResourceDefinition":
            problems += validate_crd(stored)
        elif rt.builtin and rt.group == admission_checks.GROUP:
            problems += admission_checks.validate(rt.kind, stored)
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

    # -- create -----------------------------------------------------------------------------
    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: dict[str, Any],
        manager: str,
        field_validation: str = "Warn",
        dry_run: bool = False,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> WriteResult:
        """POST: stores a new object with uid, creationTimestamp, generation and a resourceVersion
        (`managed_fields`: those of a server-side apply creating it, instead of an Update entry)."""
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
                raise errors.bad_request(NAMESPACE_MISMATCH)
            namespace = namespace or body_ns
            if not namespace:
                raise errors.bad_request("the namespace of the object is required")
            meta["namespace"] = namespace
            self._check_namespace(namespace)
        else:
            meta.pop("namespace", None)
        requested_name = str(meta.get("name") or "")
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
            meta["name"] = meta["generateName"] + suffix
        for system in SYSTEM_METADATA:
            meta.pop(system, None)
        meta.pop("managedFields", None)
        if rt.has_status and rt.kind != "CustomResourceDefinition":
            obj.pop("status", None)
        stored, warnings = self._validate(rt, obj, None, field_validation)
        self._limit_ranger(rt, "CREATE", namespace, stored, None, "")  # mutating admission
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
        self._policy_status(rt, stored)
        if managed_fields is not None:
            smeta["managedFields"] = managed_fields
        else:
            record_update(self.field_model(rt), None, stored, manager, rt.api_version)
        self._admit(rt, "CREATE", namespace, requested_name, stored, None, "", dry_run, manager, warnings=warnings)
        self._admit_quota(rt, "CREATE", namespace, stored, None, "")  # the last admission step
        if dry_run:
            return WriteResult(self.view(rt, stored), warnings, True)
        encoded = self._encode_for_storage(rt, stored)
        self._insert(rt, key, stored)
        self._emit(rt, "ADDED", stored, None)
        self._after_write(rt, stored)
        return WriteResult(self.view(rt, stored), warnings, True, encoded)

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
            self._accept_crd(obj)

    def _after_write(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.kind == "CustomResourceDefinition":
            self._serve_crd(obj)

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
        """PUT: replaces the object (409 on a stale resourceVersion; a few kinds create)."""
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
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(NAMESPACE_MISMATCH)
        if current is None:
            # Like the real registries: only a few kinds may be created by PUT.
            if subresource or rt.kind not in CREATE_ON_UPDATE:
                raise errors.not_found(rt.plural, rt.group, name)
            return self.create(rt, namespace, body, manager, field_validation, dry_run)
        errors.check_version(rt.plural, rt.group, name, meta.get("resourceVersion"), current)
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
        """PATCH: JSON patch, merge patch, strategic merge patch or server-side apply."""
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
        errors.check_version(rt.plural, rt.group, name, patched_meta.get("resourceVersion"), current)
        if patched_meta.get("name", name) != name:
            raise errors.bad_request("metadata.name: Invalid value: the name of a patched object cannot change")
        _check_patched_namespace(rt, patched_meta, namespace)
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
        _check_patched_namespace(rt, meta, namespace)
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
            merged["metadata"] = {k: v for k, v in merged["metadata"].items() if k not in SYSTEM_METADATA}
            merged["metadata"].pop("managedFields", None)
            return self.create(rt, namespace, merged, manager, field_validation, dry_run, managed_fields=managed)
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
        self._limit_ranger(rt, "UPDATE", key[0], stored, old, subresource)  # mutating admission
        if rt.builtin and rt.kind == "Pod" and not rt.group and not subresource:
            pod_problems = validate_pod_update(old, stored)  # on the defaulted object, as the real one
            if pod_problems:
                raise errors.invalid(rt.kind, rt.group, key[1], pod_problems)
        if rt.kind == "CustomResourceDefinition" and subresource != "status":
            self._restate_crd(old, stored)
        if managed_fields is not None:
            stored["metadata"]["managedFields"] = managed_fields
        else:
            stored["metadata"]["managedFields"] = old_meta.get("managedFields", [])
            record_update(self.field_model(rt), old, stored, manager, rt.api_version, subresource)
        same = _same(stored, old)
        if not same and rt.has_generation and _spec_changed(rt, old, stored):
            stored["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
            self._policy_status(rt, stored)
        # Admission sees every update, even one that changes nothing (as the real registry runs it).
        self._admit(rt, "UPDATE", key[0], key[1], stored, old, subresource, dry_run, manager, warnings=warnings)
        self._admit_quota(rt, "UPDATE", key[0], stored, old, subresource)  # the last admission step
        if same:
            return WriteResult(self.view(rt, old), warnings)
        if dry_run:
            return WriteResult(self.view(rt, stored), warnings)
        encoded = self._encode_for_storage(rt, stored)
        self._reindex_owners(rt, key, old, stored)
        self._store(rt)[key] = stored
        if stored["metadata"].get("deletionTimestamp") and not stored["metadata"].get("finalizers"):
            self._remove(rt, key, stored)
            return WriteResult(self.view(rt, stored), warnings, body=encoded)
        self._emit(rt, "MODIFIED", stored, old)
        self._after_write(rt, stored)
        if stored["metadata"].get("deletionTimestamp"):
            self.pending.add((rt.group_resource, key))
            self.wakeup.set()
        return WriteResult(self.view(rt, stored), warnings, body=encoded)


def _check_patched_namespace(rt: ResourceType, meta: dict[str, Any], namespace: str | None) -> None:
    """A patch or apply whose object names another namespace than the URL: the real 400 of the
    patch handler's name check (an absent or empty namespace is the URL's)."""
    found = meta.get("namespace")
    if rt.namespaced and found and found != namespace:
        raise errors.bad_request(
            f"the namespace of the object ({found}) does not match the namespace on the URL ({namespace})"
        )


def _fold_string_data(secret: dict[str, Any]) -> None:
    """Secret `stringData` is write-only: its entries are merged into `data` (base64), overwriting
    what is there, and the field is never stored or returned (core/v1 Secret API reference)."""
    text = secret.pop("stringData", None)
    if isinstance(text, dict):
        found = secret.get("data")
        data: dict[str, Any] = found if isinstance(found, dict) else {}
        for key, value in text.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret["data"] = data


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
