"""The `scale` subresource of Deployments, StatefulSets and ReplicaSets (autoscaling/v1 Scale).

GET answers a Scale (spec.replicas, status.replicas, status.selector as a selector string);
PUT and the patches take a Scale and change only the workload's `spec.replicas`, recorded in
managedFields under the `scale` subresource. This is what `kubectl scale` and autoscalers use.
"""

from __future__ import annotations

from typing import Any

from ..validation import FieldError
from . import errors
from .managed_fields import apply
from .patches import json_patch, merge_patch
from .resources import ResourceType
from .selectors import format_label_selector
from .store import Key
from .writes import WriteResult, Writes

SCALE_GROUP = "autoscaling"
SCALE_VERSION = "v1"
SCALE_API_VERSION = f"{SCALE_GROUP}/{SCALE_VERSION}"


def to_scale(obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale of a workload (replicas default to 1, as apps/v1 defaults them)."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    replicas = spec.get("replicas", 1)
    scale_status: dict[str, Any] = {"replicas": status.get("replicas", 0)}
    selector = format_label_selector(spec.get("selector"))
    if selector:
        scale_status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": SCALE_API_VERSION,
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": replicas} if replicas else {},  # omitempty, like the Go type
        "status": scale_status,
    }


class Scaling(Writes):
    """GET, PUT and PATCH of `.../NAME/scale`."""

    def _subresource_view(self, rt: ResourceType, subresource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Admission of a `scale` write sees autoscaling/v1 Scales (object and oldObject)."""
        return to_scale(obj) if subresource == "scale" else obj

    def get_scale(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        """The object's Scale, or 404 NotFound."""
        return to_scale(self.get(rt, namespace, name))

    def update_scale(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        manager: str,
        dry_run: bool = False,
    ) -> WriteResult:
        """PUT of a Scale: sets spec.replicas (409 Conflict on a stale metadata.resourceVersion)."""
        key, current = self._scaled(rt, namespace, name)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was in an unknown format")
        if body.get("kind", "Scale") != "Scale" or body.get("apiVersion", SCALE_API_VERSION) != SCALE_API_VERSION:
            raise errors.bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the expected "
                f"API version ({SCALE_API_VERSION})"
            )
        meta = body.get("metadata") or {}
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        errors.check_version(rt.plural, rt.group, name, meta.get("resourceVersion"), current)
        replicas = _replicas(body, name)
        new = self.present(rt, current)
        new.setdefault("spec", {})["replicas"] = replicas
        result = self._replace(rt, key, current, new, manager, "scale", "Ignore", dry_run)
        return WriteResult(to_scale(result.obj), result.warnings)

    def patch_scale(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        manager: str,
        force: bool = False,
        dry_run: bool = False,
    ) -> WriteResult:
        """A patch of the Scale (JSON, merge, strategic = merge, or server-side apply)."""
        key, current = self._scaled(rt, namespace, name)
        if patch_type == "apply":
            return self._apply_scale(rt, key, current, patch, manager, force, dry_run)
        base = to_scale(self.present(rt, current))
        if patch_type == "json":
            patched = json_patch(base, patch)
        elif patch_type in ("merge", "strategic"):  # a Scale has no lists: strategic is a merge
            if not isinstance(patch, dict):
                raise errors.bad_request("merge patch must be a JSON object")
            patched = merge_patch(base, patch)
        else:
            raise errors.unsupported_media_type(f"unsupported patch type {patch_type}")
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch produced something that is not an object")
        return self.update_scale(rt, namespace, name, patched, manager, dry_run)

    def _scaled(self, rt: ResourceType, namespace: str | None, name: str) -> tuple[Key, dict[str, Any]]:
        key = self._key(rt, namespace, name)
        current = self._store(rt).get(key)
        if current is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return key, current

    def _apply_scale(
        self,
        rt: ResourceType,
        key: Key,
        current: dict[str, Any],
        config: Any,
        manager: str,
        force: bool,
        dry_run: bool,
    ) -> WriteResult:
        """Server-side apply of a Scale: the manager applies the workload's spec.replicas."""
        if not isinstance(config, dict):
            raise errors.bad_request("apply configuration must be an object")
        if not manager:
            raise errors.bad_request("PATCH with apply requires a fieldManager")
        name = key[1]
        replicas = _replicas(config, name)
        workload = {
            "apiVersion": rt.api_version,
            "kind": rt.kind,
            "metadata": {"name": name},
            "spec": {"replicas": replicas},
        }
        live = self.present(rt, current)
        merged = apply(self.field_model(rt), live, workload, manager, force, rt.api_version, "scale")
        managed = merged["metadata"].get("managedFields")
        result = self._replace(rt, key, current, merged, manager, "scale", "Ignore", dry_run, managed_fields=managed)
        return WriteResult(to_scale(result.obj), result.warnings)


def _replicas(scale: dict[str, Any], name: str) -> int:
    """spec.replicas of a Scale: an integer (400 otherwise), at least 0 (422 otherwise)."""
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise errors.bad_request(
            f"Scale in version {SCALE_VERSION!r} cannot be handled as a Scale: "
            f"json: cannot unmarshal {type(replicas).__name__} into Go struct field ScaleSpec.spec.replicas "
            f"of type int32"
        )
    if replicas < 0:
        raise errors.invalid(
            "Scale",
            SCALE_GROUP,
            name,
            [FieldError("FieldValueInvalid", "spec.replicas", replicas, "must be greater than or equal to 0")],
        )
    return replicas
