"""API errors as the Kubernetes API server reports them: `metav1.Status` bodies.

Clients (kopf, the `kubernetes` client, kubectl) branch on `code` and `reason`, and people
read `message` and `details.causes`, so both follow the real server's wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..validation.errors import FieldError


@dataclass
class ApiError(Exception):
    """An error answered as a Status object with an HTTP code."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:
            del body["reason"]  # as the real server's Status for an unclassified (etcd) error
        if self.details:
            body["details"] = self.details
        return body


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def _resource(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_resource(plural, group)} "{name}" not found',
        _details(name, group, plural),
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_resource(plural, group)} "{name}" already exists',
        _details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_resource(plural, group)} "{name}": {why}',
        _details(name, group, plural),
    )


def check_version(plural: str, group: str, name: str, wanted: object, current: dict[str, Any]) -> None:
    """Optimistic concurrency: a write naming a resourceVersion other than the current one is a 409."""
    if wanted and wanted != current["metadata"]["resourceVersion"]:
        raise conflict(
            plural,
            group,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    qualified = f"{kind}.{group}" if group else kind
    if len(errors) == 1:
        text = str(errors[0])
    else:
        text = "[" + ", ".join(str(e) for e in errors) + "]"
    details = _details(name, group, kind)
    details["causes"] = [e.cause() for e in errors]
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)


def request_entity_too_large(limit: int) -> ApiError:
    """The real server's answer to a request body over its limit (3 MiB for kube-apiserver)."""
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def request_too_large_for_storage() -> ApiError:
    """What the real server passes on when etcd refuses an object over its request size limit:
    a 500 whose Status has no reason (kubernetes/kubernetes#74600)."""
    return ApiError(500, "", "etcdserver: request is too large")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{_resource(plural, group)} "{name}" is forbidden: {why}',
        _details(name, group, plural),
    )


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
