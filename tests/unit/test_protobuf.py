"""The protobuf request decoder: wire format, the .proto parser, and Kubernetes' JSON mapping.

Hand-built bytes check each wire rule; bodies captured from kubectl 1.33 (which sends protobuf)
must decode to exactly the JSON body kubectl 1.30 sends for the same command.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from landlord.devcluster.protobuf import DecodeError, UnsupportedKind, decode_body, message_for
from landlord.devcluster.protobuf.schema import ENUM, ProtoSyntaxError, Schema, annotate, load, parse_files
from landlord.devcluster.protobuf.wire import SPECIAL, decode, go_duration
from landlord.devcluster.resources import builtin_definitions, builtin_types


# -- a tiny encoder, to build test bytes by hand ------------------------------------------------
def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers are ten-byte two's complement
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def vi(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes | str) -> bytes:
    return ld(number, ld(1, key) + ld(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw) + ld(3, "") + ld(4, "")


def int_or_string(value: int | str) -> bytes:
    return vi(1, 1) + ld(3, value) if isinstance(value, str) else vi(1, 0) + vi(2, value)


# -- the parser and the generic decoder, on a schema of their own --------------------------------
TEST_PROTO = """
syntax = "proto2";
package test.a;
import "b/b.proto";
option go_package = "example.dev//a";  // a "//" inside a string is no comment
/* a block comment { with braces } */
message Outer {
  optional int32 small = 1;
  optional int64 big = 2;
  optional sint32 zig = 3;
  optional bool flag = 4;
  optional fixed32 f32 = 5;
  optional double ratio = 6;
  optional string text = 7;
  optional bytes blob = 8;
  repeated int32 numbers = 9;
  repeated string words = 10;
  map<string, Inner> inners = 11;
  optional Inner inner = 12;
  repeated Inner list = 13;
  optional test.b.Other other = 14;
  optional Outer.Nested nested = 15;
  optional Kind kind = 16 [deprecated = true];
  oneof choice {
    string left = 17;
    int32 right = 18;
  }
  reserved 99;
  map<string, bytes> blobs = 19;
  repeated sfixed64 stamps = 20;
  optional uint32 count = 21;
  optional float share = 22;

  message Nested {
    optional uint64 n = 1;
  }

  enum Kind {
    A = 0;
    B = 1;
  }
}

message Inner {
  optional string name = 1;
  repeated Inner children = 2;
}
"""


@pytest.fixture(scope="module")
def proto_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proto")
    (root / "a").mkdir()
    (root / "b").mkdir()
    (root / "a" / "a.proto").write_text(TEST_PROTO)
    (root / "b" / "b.proto").write_text(
        'syntax = "proto2";\npackage test.b;\nmessage Other { optional string id = 1; }\n'
    )
    return root


@pytest.fixture
def test_schema(proto_root: Path) -> Schema:
    return parse_files(proto_root, ["a/a.proto"])


def test_parser_reads_messages_maps_nested_and_cross_package_types(test_schema: Schema) -> None:
    outer = test_schema.messages["test.a.Outer"]
    assert outer.fields[11].key == "string" and outer.fields[11].type == "test.a.Inner" and outer.fields[11].is_map
    assert outer.fields[14].type == "test.b.Other"  # imported file, fully qualified name
    assert outer.fields[15].type == "test.a.Outer.Nested"  # relative name, nested scope
    assert outer.fields[16].type == ENUM
    assert outer.fields[18].name == "right"  # a oneof's fields are the message's
    assert test_schema.messages["test.a.Inner"].fields[2].type == "test.a.Inner"


def test_parser_refuses_unknown_types_and_garbage(tmp_path: Path) -> None:
    (tmp_path / "x.proto").write_text("package x;\nmessage M { optional Missing m = 1; }\n")
    with pytest.raises(ProtoSyntaxError, match="unknown type 'Missing'"):
        parse_files(tmp_path, ["x.proto"])
    (tmp_path / "y.proto").write_text("package y;\nmessage M { optional int32 a = 1 }\n")
    with pytest.raises(ProtoSyntaxError, match=r"y\.proto: expected ';'"):
        parse_files(tmp_path, ["y.proto"])


def test_scalars(test_schema: Schema) -> None:
    data = (
        vi(1, -5)  # int32: a ten-byte varint
        + vi(2, -(2**40))
        + vi(3, 7)  # sint32 zigzag: 7 is -4
        + vi(4, 1)
        + tag(5, 5)
        + (4_000_000_000).to_bytes(4, "little")
        + tag(6, 1)
        + struct.pack("<d", 0.25)
        + ld(7, "héllo")
        + ld(8, b"\x00\xff")
        + vi(16, 1)
        + vi(21, 300)
        + tag(22, 5)
        + struct.pack("<f", 0.5)
        + vi(98, 1)  # a field the schema does not know: skipped
    )
    assert decode(test_schema, "test.a.Outer", data) == {
        "small": -5,
        "big": -(2**40),
        "zig": -4,
        "flag": True,
        "f32": 4_000_000_000,
        "ratio": 0.25,
        "text": "héllo",
        "blob": "AP8=",  # bytes are base64, as Go's JSON writes []byte
        "kind": 1,
        "count": 300,
        "share": 0.5,
    }


def test_zero_scalars_are_omitted_unless_kept(test_schema: Schema) -> None:
    """Go writes non-pointer fields even when zero; their JSON (omitempty) leaves them out."""
    data = vi(1, 0) + vi(4, 0) + ld(7, "") + ld(8, b"") + vi(2, 9)
    assert decode(test_schema, "test.a.Outer", data) == {"big": 9}
    annotate(test_schema, {"test.a.Outer": {"small": "keep", "flag": "keep", "text": "keep,json=label"}})
    assert decode(test_schema, "test.a.Outer", data) == {"small": 0, "flag": False, "label": "", "big": 9}


def test_repeated_packed_and_unpacked(test_schema: Schema) -> None:
    packed = ld(9, varint(1) + varint(300) + varint(-1))
    unpacked = vi(9, 4) + vi(9, 5)
    stamps = ld(20, struct.pack("<qq", -1, 2)) + tag(20, 1) + struct.pack("<q", 3)
    words = ld(10, "a") + ld(10, "") + ld(10, "c")  # a repeated string keeps its empty items
    out = decode(test_schema, "test.a.Outer", packed + unpacked + stamps + words)
    assert out == {"numbers": [1, 300, -1, 4, 5], "stamps": [-1, 2, 3], "words": ["a", "", "c"]}


def test_nested_messages_maps_and_merging(test_schema: Schema) -> None:
    child = ld(1, "kid")
    data = (
        ld(12, ld(1, "first"))
        + ld(13, ld(1, "x") + ld(2, child))
        + ld(13, b"")
        + entry(11, "k", ld(1, "v"))
        + entry(11, "empty", b"")
        + ld(11, ld(1, "no-value"))  # a map entry without its value has the zero value
        + entry(19, "b", b"\x01")
        + ld(14, ld(1, "other"))
        + ld(15, vi(1, 2**63))
        + ld(12, ld(2, child))  # a message seen twice merges into the first
    )
    assert decode(test_schema, "test.a.Outer", data) == {
        "inner": {"name": "first", "children": [{"name": "kid"}]},
        "list": [{"name": "x", "children": [{"name": "kid"}]}, {}],
        "inners": {"k": {"name": "v"}, "empty": {}, "no-value": {}},
        "blobs": {"b": "AQ=="},
        "other": {"id": "other"},
        "nested": {"n": 2**63},
    }


def test_malformed_bytes(test_schema: Schema) -> None:
    for data, why in (
        (b"\x08", "truncated varint"),
        (ld(7, "abc")[:-1], "truncated field 7"),
        (tag(7, 0) + varint(1), "a string cannot have wire type 0"),
        (tag(12, 0) + varint(1), "a message must be length-delimited"),
        (tag(7, 3), "unsupported wire type 3"),
        (ld(7, b"\xff"), "invalid UTF-8"),
    ):
        with pytest.raises(DecodeError, match=why):
            decode(test_schema, "test.a.Outer", data)


# -- Kubernetes' messages and JSON --------------------------------------------------------------
def meta(name: str, *extra: bytes) -> bytes:
    """An ObjectMeta as Go writes it: every non-pointer field present, zero or not."""
    return ld(1, name) + ld(2, "") + ld(3, "") + ld(5, "") + ld(6, "") + vi(7, 0) + ld(8, b"") + b"".join(extra)


def test_deployment_keeps_pointer_zeros_inlines_embedded_structs_and_maps_special_types() -> None:
    probe = ld(1, ld(2, ld(1, "/healthz") + ld(2, int_or_string("http")))) + vi(2, 0) + vi(7, 0)
    secret_ref = ld(4, ld(1, ld(1, "db")) + ld(2, "password"))  # SecretKeySelector: name is inlined
    container = (
        ld(1, "app")
        + ld(2, "nginx")
        + ld(7, ld(1, "PASSWORD") + ld(3, secret_ref))
        + ld(8, entry(1, "cpu", ld(1, "500m")) + entry(2, "memory", ld(1, "")))
        + ld(10, probe)
        + vi(16, 0)
    )
    volume = ld(1, "scratch") + ld(2, ld(2, ld(1, "Memory")))  # Volume: its VolumeSource is inlined
    pod = ld(1, meta("", entry(11, "app", "web"))) + ld(2, ld(1, volume) + ld(2, container) + vi(21, 0) + vi(11, 0))
    spec = vi(1, 0) + ld(2, entry(1, "app", "web")) + ld(3, pod) + ld(4, b"") + vi(5, 0) + vi(7, 0)
    body = envelope("apps/v1", "Deployment", ld(1, meta("web", vi(10, 0))) + ld(2, spec) + ld(3, b""))
    assert decode_body(body) == {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "creationTimestamp": None, "deletionGracePeriodSeconds": 0},
        "spec": {
            "replicas": 0,  # a pointer: zero is a value
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "creationTimestamp": None},
                "spec": {
                    "volumes": [{"name": "scratch", "emptyDir": {"medium": "Memory"}}],
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx",
                            "env": [
                                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
                            ],
                            "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "0"}},
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "terminationGracePeriodSeconds": 0,
                            },
                        }
                    ],
                    "automountServiceAccountToken": False,
                },
            },
            "strategy": {},
        },
        "status": {},
    }


def test_secret_bytes_are_base64_and_int_or_string_ints() -> None:
    secret = ld(1, meta("s")) + entry(2, "k", b"\x00v") + entry(2, "empty", b"") + vi(5, 0) + ld(3, "Opaque")
    assert decode_body(envelope("v1", "Secret", secret)) == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s", "creationTimestamp": None},
        "data": {"k": "AHY=", "empty": ""},
        "immutable": False,
        "type": "Opaque",
    }
    port = ld(1, "http") + ld(2, "TCP") + vi(3, 80) + ld(4, int_or_string(8080)) + vi(5, 0)
    service = ld(1, meta("svc")) + ld(2, ld(1, port))
    assert decode_body(envelope("v1", "Service", service))["spec"] == {
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]
    }


def test_times() -> None:
    """Time is whole seconds (Kubernetes drops the nanoseconds), MicroTime keeps microseconds."""
    second = 1_700_000_000
    spec = ld(1, "me") + vi(2, 15) + ld(3, vi(1, second) + vi(2, 123_456_789)) + ld(4, vi(1, second)) + vi(5, 0)
    stamp = ld(1, "kubectl") + ld(2, "Update") + ld(4, vi(1, second) + vi(2, 999)) + ld(7, ld(1, '{"f:data":{}}'))
    lease = ld(1, meta("l", ld(9, vi(1, 0)), ld(17, stamp))) + ld(2, spec)
    out = decode_body(envelope("coordination.k8s.io/v1", "Lease", lease))
    assert out["metadata"] == {
        "name": "l",
        "creationTimestamp": None,
        "deletionTimestamp": "1970-01-01T00:00:00Z",  # present, not empty: the epoch
        "managedFields": [
            {"manager": "kubectl", "operation": "Update", "time": "2023-11-14T22:13:20Z", "fieldsV1": {"f:data": {}}}
        ],
    }
    assert out["spec"] == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 15,
        "acquireTime": "2023-11-14T22:13:20.123456Z",
        "renewTime": "2023-11-14T22:13:20.000000Z",
        "leaseTransitions": 0,
    }


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (2_500, "2.5µs"),
        (1_500_000, "1.5ms"),
        (1_500_000_000, "1.5s"),
        (90 * 60 * 10**9, "1h30m0s"),
        (61 * 10**9 + 5, "1m1.000000005s"),
        (-(10**9), "-1s"),
    ],
)
def test_duration_is_go_duration_string(nanoseconds: int, text: str) -> None:
    assert go_duration(nanoseconds) == text
    assert decode(load(), "k8s.io.apimachinery.pkg.apis.meta.v1.Duration", vi(1, nanoseconds)) == text


def test_raw_extension_unwrapped_slices_and_renamed_fields() -> None:
    revision = ld(1, meta("r")) + ld(2, ld(1, b'{"spec":{"a":1}}')) + vi(3, 0)
    assert decode_body(envelope("apps/v1", "ControllerRevision", revision))["data"] == {"spec": {"a": 1}}
    empty = decode_body(envelope("apps/v1", "ControllerRevision", ld(1, meta("r")) + ld(2, b"")))
    assert empty["data"] is None  # as Go's JSON writes an empty RawExtension
    review = ld(2, ld(3, "bob") + ld(5, ld(1, "scopes") + ld(2, ld(1, "a") + ld(1, "b"))))
    assert decode_body(envelope("authorization.k8s.io/v1", "SubjectAccessReview", review))["spec"] == {
        "user": "bob",
        "extra": {"scopes": ["a", "b"]},  # ExtraValue is a Go []string: its JSON is the list
    }
    parameters = ld(1, "example.dev") + ld(2, "Params") + ld(3, "p") + ld(4, "Cluster")
    ingress_class = ld(1, meta("c")) + ld(2, ld(1, "example.dev/ingress") + ld(2, parameters))
    assert decode_body(envelope("networking.k8s.io/v1", "IngressClass", ingress_class))["spec"]["parameters"] == {
        "apiGroup": "example.dev",  # the proto field is aPIGroup
        "kind": "Params",
        "name": "p",
        "scope": "Cluster",
    }


def test_options_kinds_of_every_group_are_meta_v1() -> None:
    options = vi(1, 0) + ld(4, "Foreground") + ld(5, "All")
    assert message_for("apps/v1", "DeleteOptions") == "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"
    assert decode_body(envelope("v1", "DeleteOptions", options)) == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }


def test_envelope_errors() -> None:
    with pytest.raises(DecodeError, match="not a protobuf-encoded object"):
        decode_body(b'{"kind": "ConfigMap"}')
    with pytest.raises(UnsupportedKind, match="accepted media types include: application/json"):
        decode_body(envelope("example.dev/v1", "Widget", ld(1, meta("w"))))
    with pytest.raises(UnsupportedKind, match="CustomResourceDefinition"):
        decode_body(envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", b""))
    gzipped = b"k8s\x00" + ld(1, ld(1, "v1") + ld(2, "ConfigMap")) + ld(2, b"\x1f\x8b") + ld(3, "gzip")
    with pytest.raises(UnsupportedKind, match="content encoding 'gzip'"):
        decode_body(gzipped)
    with pytest.raises(DecodeError, match="names no apiVersion and kind"):
        decode_body(b"k8s\x00" + ld(2, ld(1, meta("x"))))
    with pytest.raises(DecodeError, match="truncated"):
        decode_body(envelope("v1", "ConfigMap", ld(1, meta("c")))[:-3])


# -- bodies kubectl 1.33 sent, and the JSON kubectl 1.30 sends for the same command ----------------
KUBECTL_BODIES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "create configmap c1 --from-literal=a=1 --from-literal=b=",
        "6b3873000a0f0a0276311209436f6e6669674d617012230a120a02633112001a0022002a0032003800420012060a01611201"
        "3112050a016212001a002200",
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "c1", "creationTimestamp": None},
            "data": {"a": "1", "b": ""},
        },
    ),
    (
        "create secret generic s --from-literal=k=v --from-literal=e=",
        "6b3873000a0c0a027631120653656372657412240a110a017312001a0022002a0032003800420012050a0165120012060a01"
        "6b1201761a001a002200",
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "s", "creationTimestamp": None},
            "data": {"e": "", "k": "dg=="},
        },
    ),
    (
        "create rolebinding rb --clusterrole=view --user=bob --serviceaccount=default:sa --group=devs",
        "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c6542696e64696e6712"
        "bb010a120a02726212001a0022002a0032003800420012280a04557365721219726261632e617574686f72697a6174696f6e"
        "2e6b38732e696f1a03626f622200122a0a0547726f75701219726261632e617574686f72697a6174696f6e2e6b38732e696f"
        "1a04646576732200121f0a0e536572766963654163636f756e7412001a027361220764656661756c741a2e0a19726261632e"
        "617574686f72697a6174696f6e2e6b38732e696f120b436c7573746572526f6c651a04766965771a002200",
        {
            "kind": "RoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "rb", "creationTimestamp": None},
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"},
                {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "default"},
            ],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        },
    ),
    (
        "create deployment d --image=nginx --replicas=0 --port=80",
        "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b0010a1b0a016412001a0022002a003200380042005a"
        "080a036170701201641282010800120a0a080a036170701201641a6a0a1a0a0012001a0022002a003200380042005a080a03"
        "617070120164124c122e0a056e67696e7812056e67696e782a00320a0a001000185022002a0042006a007200800100880100"
        "900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c080010001800"
        "2000280038001a002200",
        {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "d", "creationTimestamp": None, "labels": {"app": "d"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"creationTimestamp": None, "labels": {"app": "d"}},
                    "spec": {
                        "containers": [
                            {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {}}
                        ]
                    },
                },
                "strategy": {},
            },
            "status": {},
        },
    ),
    (
        "create service clusterip svc --tcp=80:8080 --tcp=443:https",
        "6b3873000a0d0a027631120753657276696365128d010a1f0a0373766312001a0022002a003200380042005a0a0a03617070"
        "120373766312660a1b0a0738302d38303830120354435018502207080010903f1a0028000a220a093434332d687474707312"
        "0354435018bb03220b080110001a0568747470732800120a0a0361707012037376631a002209436c757374657249503a0042"
        "0052005a00600068001a020a001a002200",
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "svc", "creationTimestamp": None, "labels": {"app": "svc"}},
            "spec": {
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"},
                ],
                "selector": {"app": "svc"},
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        },
    ),
    (
        "create cronjob cj --image=busybox --schedule=*/5 * * * * --restart=OnFailure",
        "6b3873000a130a0862617463682f7631120743726f6e4a6f62129e010a120a02636a12001a0022002a003200380042001285"
        "010a0b2a2f35202a202a202a202a1a002a740a120a02636a12001a0022002a00320038004200125e325c0a100a0012001a00"
        "22002a00320038004200124812210a02636a120762757379626f782a0042006a007200800100880100900100a201001a094f"
        "6e4661696c757265320042004a0052005800600068008201008a01009a0100c201001a001a002200",
        {
            "kind": "CronJob",
            "apiVersion": "batch/v1",
            "metadata": {"name": "cj", "creationTimestamp": None},
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {
                    "metadata": {"name": "cj", "creationTimestamp": None},
                    "spec": {
                        "template": {
                            "metadata": {"creationTimestamp": None},
                            "spec": {
                                "containers": [{"name": "cj", "image": "busybox", "resources": {}}],
                                "restartPolicy": "OnFailure",
                            },
                        }
                    },
                },
            },
            "status": {},
        },
    ),
    (
        "create quota q --hard=pods=3,requests.cpu=500m,limits.memory=1Gi --scopes=NotTerminating",
        "6b3873000a130a027631120d5265736f7572636551756f746112640a110a017112001a0022002a00320038004200124d0a16"
        "0a0d6c696d6974732e6d656d6f727912050a033147690a0b0a04706f647312030a01330a160a0c72657175657374732e6370"
        "7512060a043530306d120e4e6f745465726d696e6174696e671a001a002200",
        {
            "kind": "ResourceQuota",
            "apiVersion": "v1",
            "metadata": {"name": "q", "creationTimestamp": None},
            "spec": {
                "hard": {"limits.memory": "1Gi", "pods": "3", "requests.cpu": "500m"},
                "scopes": ["NotTerminating"],
            },
            "status": {},
        },
    ),
    (
        "create ingress ing --rule=foo.com/bar=svc:80 --rule=tls.com/*=svc:https,tls=secret --class=nginx"
        " --annotation=a=b",
        "6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e6772657373129a010a1b0a03696e6712001a"
        "0022002a0032003800420062060a0161120162127712110a07746c732e636f6d12067365637265741a2b0a07666f6f2e636f"
        "6d12200a1e0a1c0a042f626172120d220b0a0373766312040a0010501a0545786163741a2e0a07746c732e636f6d12230a21"
        "0a1f0a012f121222100a0373766312090a05687474707310001a0650726566697822056e67696e781a020a001a002200",
        {
            "kind": "Ingress",
            "apiVersion": "networking.k8s.io/v1",
            "metadata": {"name": "ing", "creationTimestamp": None, "annotations": {"a": "b"}},
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["tls.com"], "secretName": "secret"}],
                "rules": [
                    {
                        "host": "foo.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/bar",
                                    "pathType": "Exact",
                                    "backend": {"service": {"name": "svc", "port": {"number": 80}}},
                                }
                            ]
                        },
                    },
                    {
                        "host": "tls.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "svc", "port": {"name": "https"}}},
                                }
                            ]
                        },
                    },
                ],
            },
            "status": {"loadBalancer": {}},
        },
    ),
    (
        "create poddisruptionbudget pdb2 --selector=a=b --max-unavailable=50%",
        "6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e42756467657412390a140a04706462321200"
        "1a0022002a00320038004200121512080a060a01611201621a09080110001a033530251a0a080018002000280030001a0022"
        "00",
        {
            "kind": "PodDisruptionBudget",
            "apiVersion": "policy/v1",
            "metadata": {"name": "pdb2", "creationTimestamp": None},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "maxUnavailable": "50%"},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
        },
    ),
]


@pytest.mark.parametrize(("command", "body", "expected"), KUBECTL_BODIES, ids=[c[0] for c in KUBECTL_BODIES])
def test_kubectl_bodies_decode_to_the_json_kubectl_sends(command: str, body: str, expected: dict[str, Any]) -> None:
    assert decode_body(bytes.fromhex(body)) == expected


# -- the vendored files against the emulator's OpenAPI definitions -------------------------------
def _json_names(schema: Schema, name: str) -> set[str]:
    out: set[str] = set()
    for item in schema.messages[name].fields.values():
        out |= _json_names(schema, item.type) if item.inline else {item.json}
    return out


def test_every_message_gives_exactly_the_properties_of_its_openapi_definition() -> None:
    """Proto and JSON names agree (inlined structs expanded, renames applied), field for field."""
    schema, definitions = load(), builtin_definitions()
    checked = 0
    for name, message in schema.messages.items():
        definition = definitions.get("io.k8s." + name.removeprefix("k8s.io."))
        if definition is None or name in SPECIAL or any(f.unwrap for f in message.fields.values()):
            continue
        properties = set(definition.get("properties", {}))
        names = _json_names(schema, name)
        if not {"apiVersion", "kind"} & names:
            properties -= {"apiVersion", "kind"}  # TypeMeta travels in the envelope, not the message
        assert names == properties, name
        checked += 1
    assert checked > 350


def test_every_served_builtin_kind_has_a_message() -> None:
    missing = set()
    for rt in builtin_types():
        try:
            message_for(rt.api_version, rt.kind)
        except UnsupportedKind:
            missing.add(rt.kind)
    assert missing == {"CustomResourceDefinition"}  # apiextensions-apiserver's types are not vendored
    assert message_for("autoscaling/v1", "Scale") == "k8s.io.api.autoscaling.v1.Scale"
