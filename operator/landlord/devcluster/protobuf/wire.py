"""The protobuf wire format, decoded into the JSON form Kubernetes gives the same object.

A generic decoder driven by a parsed `Schema`: varints, fixed 32/64-bit values, length-delimited
strings, bytes, messages and packed repeated scalars. Kubernetes' JSON then differs from a plain
field-by-field reading in a few ways, all handled here:

- the Go structs are non-pointer for most fields, so their zero values are always on the wire;
  JSON omits them (`omitempty`) unless the field is a pointer or has no omitempty (`keep_zero`);
- embedded structs (`inline`) spread their fields into the parent object;
- a handful of apimachinery types have their own JSON: Time and MicroTime are RFC 3339 strings,
  Duration is Go's duration string, Quantity its string, IntOrString an int or a string,
  RawExtension and FieldsV1 the JSON they carry; `bytes` are base64 as in Go.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from .schema import ENUM, Field, Schema

META = "k8s.io.apimachinery.pkg.apis.meta.v1"
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_PACKABLE = {
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool", ENUM,
    "fixed32", "fixed64", "sfixed32", "sfixed64", "float", "double",
}  # fmt: skip
_WIRE = {  # the wire type of each scalar that is not a varint
    "string": LENGTH, "bytes": LENGTH,
    "fixed32": FIXED32, "sfixed32": FIXED32, "float": FIXED32,
    "fixed64": FIXED64, "sfixed64": FIXED64, "double": FIXED64,
}  # fmt: skip


class DecodeError(ValueError):
    """Bytes that are not a valid encoding of the expected message."""


def varint(data: bytes, at: int) -> tuple[int, int]:
    """The unsigned varint at `at`, and the offset after it."""
    value = shift = 0
    while True:
        if at >= len(data):
            raise DecodeError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field on the wire; LENGTH values are bytes."""
    at = 0
    while at < len(data):
        key, at = varint(data, at)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        value: int | bytes
        if wire == VARINT:
            value, at = varint(data, at)
        elif wire == FIXED64:
            value, at = int.from_bytes(data[at : at + 8], "little"), at + 8
        elif wire == FIXED32:
            value, at = int.from_bytes(data[at : at + 4], "little"), at + 4
        elif wire == LENGTH:
            size, at = varint(data, at)
            value, at = data[at : at + size], at + size
        else:
            raise DecodeError(f"unsupported wire type {wire} (field {number})")
        if at > len(data):
            raise DecodeError(f"truncated field {number}")
        yield number, wire, value


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _zero(kind: str) -> Any:
    return "" if kind in ("string", "bytes") else False if kind == "bool" else 0


def scalar(kind: str, wire: int, value: int | bytes) -> Any:
    """One scalar value as JSON shows it (bytes as base64)."""
    if wire != _WIRE.get(kind, VARINT):
        raise DecodeError(f"a {kind} cannot have wire type {wire}")
    if isinstance(value, bytes):
        if kind == "bytes":
            return base64.b64encode(value).decode()
        try:
            return value.decode()
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8 in a string: {exc}") from exc
    if kind in ("int32", ENUM):
        return _signed(value, 32)
    if kind in ("int64", "sfixed64"):
        return _signed(value, 64)
    if kind == "sfixed32":
        return _signed(value, 32)
    if kind in ("sint32", "sint64"):
        return (value >> 1) ^ -(value & 1)
    if kind == "bool":
        return value != 0
    if kind == "float":
        return struct.unpack("<f", value.to_bytes(4, "little"))[0]
    if kind == "double":
        return struct.unpack("<d", value.to_bytes(8, "little"))[0]
    return value  # uint32, uint64, fixed32, fixed64


def _packed(kind: str, data: bytes) -> list[Any]:
    """The items of a packed repeated scalar (one length-delimited run of varints or fixed values)."""
    wire = _WIRE.get(kind, VARINT)
    if wire == VARINT:
        out, at = [], 0
        while at < len(data):
            value, at = varint(data, at)
            out.append(scalar(kind, VARINT, value))
        return out
    width = 4 if wire == FIXED32 else 8
    if len(data) % width:
        raise DecodeError(f"packed {kind} of {len(data)} bytes")
    return [scalar(kind, wire, int.from_bytes(data[i : i + width], "little")) for i in range(0, len(data), width)]


def decode(schema: Schema, name: str, data: bytes) -> Any:
    """The message `name` encoded in `data`, as its JSON value."""
    special = SPECIAL.get(name)
    if special is not None:
        return special(schema, data)
    message = schema.messages.get(name)
    if message is None:
        raise DecodeError(f"no message {name}")
    out: dict[str, Any] = {}
    chunks: dict[int, list[bytes]] = {}  # a message field seen more than once merges (concatenation)
    for number, wire, value in fields(data):
        item = message.fields.get(number)
        if item is None:
            continue  # a field newer than the vendored .proto: dropped, as a real server of that version does
        if item.is_map:
            if not isinstance(value, bytes):
                raise DecodeError(f"{name}.{item.name}: a map entry must be length-delimited")
            key, entry = _map_entry(schema, item, value)
            out.setdefault(item.json, {})[key] = entry
        elif item.type in _PACKABLE and item.repeated and wire == LENGTH:
            assert isinstance(value, bytes)
            out.setdefault(item.json, []).extend(_packed(item.type, value))
        elif item.type in schema.messages or item.type in SPECIAL:
            if not isinstance(value, bytes):
                raise DecodeError(f"{name}.{item.name}: a message must be length-delimited")
            if item.repeated:
                out.setdefault(item.json, []).append(decode(schema, item.type, value))
            else:
                chunks.setdefault(number, []).append(value)
        elif item.repeated:
            out.setdefault(item.json, []).append(scalar(item.type, wire, value))
        else:
            decoded = scalar(item.type, wire, value)
            if decoded == _zero(item.type) and not item.keep_zero:
                out.pop(item.json, None)  # omitempty: a Go zero value is no value
            else:
                out[item.json] = decoded
    for number, parts in chunks.items():
        item = message.fields[number]
        value = decode(schema, item.type, b"".join(parts))
        if item.inline and isinstance(value, dict):
            out.update(value)
        else:
            out[item.json] = value
    unwrapped = next((f for f in message.fields.values() if f.unwrap), None)
    return out.get(unwrapped.json, []) if unwrapped else out


def _map_entry(schema: Schema, item: Field, data: bytes) -> tuple[Any, Any]:
    assert item.key is not None
    message = item.type in schema.messages or item.type in SPECIAL
    key: Any = _zero(item.key)
    value: Any = decode(schema, item.type, b"") if message else _zero(item.type)
    for number, wire, raw in fields(data):
        if number == 1:
            key = scalar(item.key, wire, raw)
        elif number == 2 and message:
            if not isinstance(raw, bytes):
                raise DecodeError(f"{item.name}: a map value message must be length-delimited")
            value = decode(schema, item.type, raw)
        elif number == 2:
            value = scalar(item.type, wire, raw)
    return str(key), value


# -- apimachinery types with their own JSON ------------------------------------------------------
def _read(data: bytes, kinds: dict[int, str]) -> dict[int, Any]:
    """The last value of each known field of a small special message; `bytes` stay raw."""
    out: dict[int, Any] = {}
    for number, wire, value in fields(data):
        kind = kinds.get(number)
        if kind == "bytes" and wire == LENGTH:
            out[number] = value
        elif kind is not None:
            out[number] = scalar(kind, wire, value)
    return out


def _time(micro: bool) -> Callable[[Schema, bytes], Any]:
    """metav1.Time / MicroTime: empty is the zero time (JSON null); Time keeps whole seconds only."""

    def convert(schema: Schema, data: bytes) -> Any:
        if not data:
            return None
        values = _read(data, {1: "int64", 2: "int32"})
        nanos = values.get(2, 0) if micro else 0
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=values.get(1, 0), microseconds=nanos // 1000)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")

    return convert


def go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String(), which is metav1.Duration's JSON."""
    if nanoseconds == 0:
        return "0s"
    sign, n = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    if n < 1_000_000_000:
        unit, size = next((u, s) for u, s in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)) if n >= s)
        return sign + _decimal(n, size) + unit
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    return f"{whole}." + str(fraction).rjust(len(str(unit)) - 1, "0").rstrip("0")


def _duration(schema: Schema, data: bytes) -> str:
    return go_duration(_read(data, {1: "int64"}).get(1, 0))


def _quantity(schema: Schema, data: bytes) -> str:
    """The Quantity's string; an empty Quantity is zero, "0" in JSON."""
    return str(_read(data, {1: "string"}).get(1, "")) or "0"


def _int_or_string(schema: Schema, data: bytes) -> int | str:
    """type 0 is intVal, type 1 strVal: the JSON is the bare int or string."""
    values = _read(data, {1: "int64", 2: "int32", 3: "string"})
    if values.get(1, 0) == 1:
        return str(values.get(3, ""))
    return int(values.get(2, 0))


def _embedded_json(schema: Schema, data: bytes) -> Any:
    """RawExtension and FieldsV1 carry JSON bytes (field 1); empty is null."""
    raw = _read(data, {1: "bytes"}).get(1, b"")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise DecodeError(f"an embedded object is not JSON: {exc}") from exc


SPECIAL: dict[str, Callable[[Schema, bytes], Any]] = {
    f"{META}.Time": _time(micro=False),
    f"{META}.MicroTime": _time(micro=True),
    f"{META}.Duration": _duration,
    f"{META}.FieldsV1": _embedded_json,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": _quantity,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _embedded_json,
}
