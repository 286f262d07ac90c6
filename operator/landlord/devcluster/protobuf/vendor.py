"""Refreshes ../proto from checkouts of k8s.io/api and k8s.io/apimachinery (a maintainer's tool).

    python -m landlord.devcluster.protobuf.vendor API_DIR APIMACHINERY_DIR

Both checkouts at the tag matching resources.SCHEMA_VERSION (v0.MINOR.PATCH). Copies the
generated.proto files of the packages below and writes fields.json: the JSON facts of their Go
types that the .proto files do not carry (see schema.py). Then update proto/README.md.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .schema import ENUM, PROTO_ROOT, SCALARS, Schema, parse_files, vendored_files

# The API groups of the kinds the emulator serves (resources._BUILTINS), autoscaling/v1 for the scale
# subresource, and the few small groups typed clients (kubectl auth, events) are next to reach.
API_PACKAGES = ["core/v1", "apps/v1", "batch/v1", "networking/v1", "rbac/v1", "coordination/v1", "policy/v1"]
API_PACKAGES += ["admissionregistration/v1", "autoscaling/v1", "authentication/v1", "authorization/v1"]
API_PACKAGES += ["events/v1", "scheduling/v1", "autoscaling/v2", "discovery/v1"]
MACHINERY_PACKAGES = ["pkg/apis/meta/v1", "pkg/runtime", "pkg/runtime/schema", "pkg/api/resource", "pkg/util/intstr"]

_STRUCT = re.compile(r"^type (\w+) struct \{$")
_SLICE = re.compile(r"^type (\w+) \[\]\w+$")  # a named slice: its message wraps `repeated items = 1`
_FIELD = re.compile(r"^\s*(?:(?P<name>[A-Za-z_]\w*)\s+)?(?P<type>[^\s`/]+)\s+`(?P<tag>[^`]*)`")
_TAG = re.compile(r'(\w+):"([^"]*)"')
_NAME = re.compile(r"\bname=(\w+)")


@dataclass(frozen=True)
class GoField:
    json: str  # the JSON name ("" for an embedded struct)
    inline: bool = False
    pointer: bool = False
    omitempty: bool = False
    unwrap: bool = False  # the single field of a named slice's message: JSON is the list itself


def go_fields(directory: Path) -> dict[str, dict[str, GoField]]:
    """{Go type: {proto field name: GoField}} of a Go package's structs and named slices."""
    out: dict[str, dict[str, GoField]] = {}
    for source in sorted(directory.glob("*.go")):
        if source.name.endswith("_test.go") or source.name.startswith(("generated.", "zz_generated")):
            continue
        struct = None
        for line in source.read_text().splitlines():
            named_slice = _SLICE.match(line)
            if named_slice:
                out[named_slice.group(1)] = {"items": GoField("items", unwrap=True)}
            opened = _STRUCT.match(line)
            if opened:
                struct = out.setdefault(opened.group(1), {})
                continue
            if line == "}":
                struct = None
            match = _FIELD.match(line) if struct is not None and not line.lstrip().startswith("//") else None
            if struct is None or match is None:
                continue
            tags = dict(_TAG.findall(match.group("tag")))
            if "protobuf" not in tags or "json" not in tags:
                continue
            go_type = match.group("type")
            named = _NAME.search(tags["protobuf"])  # rbac's Subject has "opt.name=apiGroup"
            # An embedded struct without name= is named by go-to-protobuf after its type, lowerCamelCase.
            embedded = go_type.lstrip("*").rsplit(".", 1)[-1]
            name = named.group(1) if named else embedded[:1].lower() + embedded[1:]
            json_name, *options = tags["json"].split(",")
            inline = "inline" in options and not json_name
            struct[name] = GoField(json_name, inline, go_type.startswith("*"), "omitempty" in options)
    return out


def json_facts(schema: Schema, packages: dict[str, Path]) -> dict[str, dict[str, str]]:
    """fields.json: per message, the fields whose JSON is not "proto name, zero omitted"."""
    facts: dict[str, dict[str, str]] = {}
    for package, directory in packages.items():
        for go_type, members in go_fields(directory).items():
            message = schema.messages.get(f"{package}.{go_type}")
            if message is None:
                continue
            for item in message.fields.values():
                go = members.get(item.name)
                if go is None:
                    continue
                scalar = (item.type in SCALARS or item.type == ENUM) and not item.repeated
                notes = []
                if go.unwrap:
                    notes.append("unwrap")
                elif go.inline:
                    notes.append("inline")
                elif go.json and go.json != "-" and go.json != item.name:
                    notes.append(f"json={go.json}")
                if scalar and (go.pointer or not go.omitempty):
                    notes.append("keep")
                if notes:
                    facts.setdefault(message.name, {})[item.name] = ",".join(notes)
    return dict(sorted(facts.items()))


def main(api: Path, machinery: Path) -> None:
    sources = {f"k8s.io/api/{p}": api / p for p in API_PACKAGES}
    sources.update({f"k8s.io/apimachinery/{p}": machinery / p for p in MACHINERY_PACKAGES})
    for target, source in sources.items():
        (PROTO_ROOT / target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / "generated.proto", PROTO_ROOT / target / "generated.proto")
    schema = parse_files(PROTO_ROOT, vendored_files())
    facts = json_facts(schema, {target.replace("/", "."): source for target, source in sources.items()})
    (PROTO_ROOT / "fields.json").write_text(json.dumps(facts, indent=1) + "\n")
    print(f"{len(sources)} packages, {len(schema.messages)} messages, notes on {len(facts)} of them")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
