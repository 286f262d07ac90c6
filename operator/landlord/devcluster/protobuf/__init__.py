"""Request bodies in Kubernetes' protobuf encoding, read into the dict their JSON would give.

kubectl 1.32 and later (and any client-go typed client) send built-in objects as
`application/vnd.kubernetes.protobuf`: the magic `k8s\\x00`, then a runtime.Unknown envelope
whose typeMeta names the apiVersion and kind and whose raw holds the object's message. The
messages come from the vendored generated.proto files (../proto, see its README); the rest of
the emulator only ever sees JSON-shaped dicts. Kinds without a message (custom resources) get
415, as a real server answers a protobuf body for a CustomResourceDefinition's type.
"""

from __future__ import annotations

from typing import Any

from .schema import Schema, load
from .wire import DecodeError, decode, fields, scalar

__all__ = ["MEDIA_TYPE", "DecodeError", "UnsupportedKind", "decode_body", "is_protobuf", "message_for"]

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
META = "k8s.io.apimachinery.pkg.apis.meta.v1"
# Kinds that every group version registers (metav1.AddToGroupVersion): their message is meta/v1's.
META_KINDS = frozenset(
    {"DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "GetOptions", "ListOptions", "Status"}
)
# Group → package directory in k8s.io/api, where it is not the group's first label.
PACKAGES = {"": "core", "internal.apiserver.k8s.io": "apiserverinternal"}


class UnsupportedKind(DecodeError):
    """A kind without a protobuf message here: the server refuses the media type (415)."""


def is_protobuf(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == MEDIA_TYPE


def message_for(api_version: str, kind: str, schema: Schema | None = None) -> str:
    """The full name of the message of `kind` in `api_version`, or UnsupportedKind."""
    schema = schema or load()
    group, _, version = api_version.rpartition("/")
    package = PACKAGES.get(group, group.split(".")[0])
    candidates = [f"k8s.io.api.{package}.{version}.{kind}"]
    if kind in META_KINDS:
        candidates.append(f"{META}.{kind}")
    for name in candidates:
        if name in schema.messages:
            return name
    raise UnsupportedKind(
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml (no protobuf message for {kind} in {api_version or '<none>'})"
    )


def decode_body(body: bytes, schema: Schema | None = None) -> dict[str, Any]:
    """The object a protobuf request body holds, as the JSON encoding of it would read."""
    schema = schema or load()
    if not body.startswith(MAGIC):
        raise DecodeError("provided input is not a protobuf-encoded object: missing the k8s\\x00 prefix")
    envelope: dict[int, Any] = {}
    for number, wire, value in fields(body[len(MAGIC) :]):
        if number == 1 and isinstance(value, bytes):
            envelope[1] = {n: scalar("string", w, v) for n, w, v in fields(value) if n in (1, 2)}
        elif number == 2 and isinstance(value, bytes):
            envelope[2] = value
        elif number in (3, 4):
            envelope[number] = scalar("string", wire, value)
    type_meta = envelope.get(1, {})
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    if envelope.get(3):
        raise UnsupportedKind(f"unsupported content encoding {envelope[3]!r} in the protobuf envelope")
    if envelope.get(4, MEDIA_TYPE) not in ("", MEDIA_TYPE):
        raise UnsupportedKind(f"unsupported content type {envelope[4]!r} in the protobuf envelope")
    if not kind or not api_version:
        raise DecodeError("the protobuf envelope names no apiVersion and kind")
    obj = decode(schema, message_for(api_version, kind, schema), envelope.get(2, b""))
    return {"kind": kind, "apiVersion": api_version, **obj}
