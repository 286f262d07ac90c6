"""The message definitions of Kubernetes' generated.proto files, read with a small .proto parser.

Only what those files use (and a little more, so a newer file still parses): packages, imports,
messages (nested too), scalar, message and enum fields, `repeated`, `map<,>`, `oneof`;
options and `reserved` are skipped. Type names are resolved across files by proto's scoping
rules, so a field of type `k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta` or `PodSpec` both
name the message they mean.

The .proto files alone do not tell the JSON form: Go's JSON tags decide it. `fields.json`
(made by `vendor.py` from the same tag's Go types) holds, per message, the fields whose JSON
differs from "same name, zero value omitted": inlined structs, renamed fields, scalars whose zero
value JSON keeps (Go pointers, fields without `omitempty`), and the wrappers of Go named slices.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent.parent / "proto"
FIELDS_FILE = PROTO_ROOT / "fields.json"

SCALARS = frozenset(
    {
        "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
        "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
    }
)  # fmt: skip
ENUM = "enum"  # the resolved type of an enum field: decoded as its number

_TOKEN = re.compile(
    r"""(?P<skip>\s+|//[^\n]*|/\*.*?\*/)|(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
    r"""|(?P<word>[A-Za-z_.][\w.]*|[-+]?\d[\w.]*)|(?P<punct>[{}<>=;,\[\]()])""",
    re.S,
)


class ProtoSyntaxError(ValueError):
    """A .proto file this parser cannot read."""


@dataclass
class Field:
    """One field of a message; `type` is a scalar name, a message's full name or ENUM once resolved."""

    name: str
    number: int
    type: str
    repeated: bool = False
    key: str | None = None  # the key type of a map<key, type> field
    json: str = ""  # the JSON name (the proto name unless fields.json renames it)
    inline: bool = False  # a Go embedded struct: its fields appear in the parent's JSON object
    keep_zero: bool = False  # a scalar whose zero value JSON shows (a Go pointer, or no omitempty)
    unwrap: bool = False  # the `items` of a Go named slice (Verbs, ExtraValue): JSON is the list itself

    @property
    def is_map(self) -> bool:
        return self.key is not None


@dataclass
class Message:
    name: str  # full name, e.g. k8s.io.api.core.v1.ConfigMap
    fields: dict[int, Field] = field(default_factory=dict)


@dataclass
class Schema:
    """All messages of a set of .proto files, field types resolved to full names."""

    messages: dict[str, Message] = field(default_factory=dict)
    enums: set[str] = field(default_factory=set)


def _tokens(text: str) -> Iterator[str]:
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            line = text.count("\n", 0, position) + 1
            raise ProtoSyntaxError(f"line {line}: unexpected {text[position : position + 20]!r}")
        position = match.end()
        if match.lastgroup != "skip":
            yield match.group()


class _Parser:
    """Recursive descent over one file's tokens; collects messages with unresolved type names."""

    def __init__(self, text: str) -> None:
        self.tokens = list(_tokens(text))
        self.at = 0
        self.package = ""
        self.imports: list[str] = []
        self.messages: list[tuple[Message, str]] = []  # (message, scope for resolving its types)
        self.enums: list[str] = []

    def next(self) -> str:
        if self.at >= len(self.tokens):
            raise ProtoSyntaxError("unexpected end of file")
        self.at += 1
        return self.tokens[self.at - 1]

    def expect(self, token: str) -> None:
        got = self.next()
        if got != token:
            raise ProtoSyntaxError(f"expected {token!r}, got {got!r}")

    def skip_statement(self) -> None:
        """Up to the `;` ending a statement, or over a `{...}` block."""
        depth = 0
        while True:
            token = self.next()
            if token == "{":
                depth += 1
            elif token == "}":
                depth -= 1
                if depth == 0:
                    return
            elif token == ";" and depth == 0:
                return

    def file(self) -> None:
        while self.at < len(self.tokens):
            token = self.next()
            if token == "package":
                self.package = self.next()
                self.expect(";")
            elif token == "import":
                name = self.next()
                if name in ("public", "weak"):
                    name = self.next()
                self.imports.append(name.strip("\"'"))
                self.expect(";")
            elif token == "message":
                self.message(self.package)
            elif token == "enum":
                self.enum(self.package)
            elif token != ";":
                self.skip_statement()  # syntax, option, service, extend

    def enum(self, scope: str) -> None:
        self.enums.append(f"{scope}.{self.next()}".lstrip("."))
        self.expect("{")
        self.at -= 1
        self.skip_statement()

    def message(self, scope: str) -> None:
        message = Message(f"{scope}.{self.next()}".lstrip("."))
        self.messages.append((message, message.name))
        self.expect("{")
        self.body(message)

    def body(self, message: Message) -> None:
        while True:
            token = self.next()
            if token == "}":
                return
            if token == "message":
                self.message(message.name)
            elif token == "enum":
                self.enum(message.name)
            elif token == "oneof":
                self.next()
                self.expect("{")
                self.body(message)
            elif token in ("option", "reserved", "extensions", "extend"):
                self.skip_statement()
            elif token != ";":
                self.field(message, token)

    def field(self, message: Message, token: str) -> None:
        repeated = token == "repeated"
        if token in ("optional", "required", "repeated"):
            token = self.next()
        key = None
        if token == "map":
            self.expect("<")
            key = self.next()
            self.expect(",")
            token = self.next()
            self.expect(">")
        name = self.next()
        self.expect("=")
        number = int(self.next(), 0)
        if self.next() == "[":
            while self.next() != "]":
                pass
            self.expect(";")
        else:
            self.at -= 1
            self.expect(";")
        message.fields[number] = Field(name, number, token, repeated or key is not None, key, json=name)


def _resolve(name: str, scope: str, known: set[str]) -> str | None:
    """Proto scoping: `a.b.C` seen in scope `x.y` is tried as x.y.a.b.C, x.a.b.C, a.b.C."""
    if name.startswith("."):
        return name[1:] if name[1:] in known else None
    parts = scope.split(".") if scope else []
    while True:
        candidate = ".".join([*parts, name])
        if candidate in known:
            return candidate
        if not parts:
            return None
        parts.pop()


def parse_files(root: Path, paths: list[str]) -> Schema:
    """Parses `paths` (relative to `root`, as proto imports name them) and every file they import."""
    parsed: dict[str, _Parser] = {}
    pending = list(paths)
    while pending:
        path = pending.pop()
        if path in parsed:
            continue
        source = root / path
        if not source.exists():
            raise ProtoSyntaxError(f"{path}: not found under {root}")
        parser = _Parser(source.read_text())
        try:
            parser.file()
        except ProtoSyntaxError as exc:
            raise ProtoSyntaxError(f"{path}: {exc}") from exc
        parsed[path] = parser
        pending.extend(parser.imports)
    schema = Schema()
    for parser in parsed.values():
        schema.enums.update(parser.enums)
        schema.messages.update((m.name, m) for m, _ in parser.messages)
    known = set(schema.messages) | schema.enums
    for parser in parsed.values():
        for message, scope in parser.messages:
            for item in message.fields.values():
                item.type = _type(item.type, scope, known, schema.enums, message.name)
    return schema


def _type(name: str, scope: str, known: set[str], enums: set[str], where: str) -> str:
    if name in SCALARS:
        return name
    resolved = _resolve(name, scope, known)
    if resolved is None:
        raise ProtoSyntaxError(f"{where}: unknown type {name!r}")
    return ENUM if resolved in enums else resolved


def annotate(schema: Schema, fields: dict[str, dict[str, str]]) -> None:
    """Applies fields.json: {message: {proto field: comma-separated inline, keep, unwrap, json=NAME}}."""
    for message_name, notes in fields.items():
        message = schema.messages.get(message_name)
        if message is None:
            continue
        by_name = {f.name: f for f in message.fields.values()}
        for field_name, note in notes.items():
            item = by_name.get(field_name)
            if item is None:
                continue
            for word in note.split(","):
                if word == "inline":
                    item.inline = True
                elif word == "keep":
                    item.keep_zero = True
                elif word == "unwrap":
                    item.unwrap = True
                elif word.startswith("json="):
                    item.json = word[5:]


def vendored_files(root: Path = PROTO_ROOT) -> list[str]:
    """The vendored generated.proto files, as import paths."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))


@lru_cache(maxsize=1)
def load() -> Schema:
    """The vendored Kubernetes messages with their JSON facts (parsed once, on first use)."""
    schema = parse_files(PROTO_ROOT, vendored_files())
    annotate(schema, json.loads(FIELDS_FILE.read_text()) if FIELDS_FILE.exists() else {})
    return schema
