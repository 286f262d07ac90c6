"""Loading Landlord documents from YAML files and folders, remembering where each came from.

Multi-document files, folders walked recursively (`*.yaml`, `*.yml`), and the line of every
field, so that `landlord validate` can point at `path:line`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .api.schemas import GROUP


@dataclass
class Document:
    path: str
    line: int
    body: Any
    node: yaml.Node | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", "")) if isinstance(self.body, dict) else ""

    @property
    def name(self) -> str:
        metadata = self.body.get("metadata") if isinstance(self.body, dict) else None
        if not isinstance(metadata, dict):
            return ""
        return str(metadata.get("name") or "")

    @property
    def is_landlord(self) -> bool:
        return isinstance(self.body, dict) and str(self.body.get("apiVersion", "")).startswith(f"{GROUP}/")

    def line_of(self, field_path: str) -> int:
        """The line of a field (`spec.addOns[0].quantity`), or of its nearest existing parent."""
        node = self.node
        line = self.line
        for part in _parts(field_path):
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
                if match is None:
                    return line
                key_node = next(k for k, v in node.value if v is match)
                line = key_node.start_mark.line + 1
                node = match
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]|\[[^\]]+\]", path):
        if token.startswith("[") and token[1:-1].isdigit():
            parts.append(int(token[1:-1]))
        elif token.startswith("["):
            parts.append(token[1:-1])
        else:
            parts.append(token)
    return parts


class LoadError(ValueError):
    pass


@dataclass
class Problem:
    """One problem at `path:line`, for `landlord validate` (schemas, rules) and reading alike.

    `line` 0 means the path itself (missing, unreadable): `path: message`.
    """

    path: str
    line: int
    kind: str
    name: str
    field: str
    message: str
    severity: str = "error"

    def text(self) -> str:
        if self.line <= 0:
            return f"{self.path}: {self.message}"
        where = f"{self.path}:{self.line}: {self.kind or '?'}/{self.name or '?'}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.field or '(document)'}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "kind": self.kind,
            "name": self.name,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
        }


def load_problem(path: str, line: int, message: str, kind: str = "", name: str = "", field: str = "") -> Problem:
    """A file or document that could not be read as a document."""
    return Problem(path, line, kind, name, field, message)


@dataclass
class Loaded:
    """What a set of files and folders held: the documents, and what could not be read."""

    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _is_yaml(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and path.is_file()


def _find(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """The files to read, each once (a path given twice, or a file and its folder), in order given."""
    found: list[Path] = []
    problems: list[Problem] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if _is_yaml(p)):
                add(child)
        elif path.exists():
            add(path)
        else:
            problems.append(load_problem(str(path), 0, "no such file or folder; check the path"))
    return found, problems


def files_in(paths: Iterable[str | Path]) -> list[Path]:
    """The YAML files in these files and folders, each once; LoadError for a path that does not exist."""
    found, problems = _find(paths)
    if problems:
        raise LoadError(problems[0].text())
    return found


def _line_of_offset(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _yaml_error(path: Path, text: str, exc: yaml.YAMLError, at: int | None = None) -> Problem:
    """One line for a YAML error; `at`: the document's line when the marks cannot be trusted."""
    if isinstance(exc, yaml.reader.ReaderError):
        line, column = _line_of_offset(text, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        char = f"the character U+{code:04X}"
        return load_problem(
            str(path),
            line,
            f"not valid YAML: {char} at column {column} is not allowed in YAML; remove it",
        )
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    what = f"{context}, {problem}" if context else problem
    if at is not None:
        return load_problem(str(path), at, f"not valid YAML: {what}; fix it")
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    mark = problem_mark or context_mark
    if problem_mark is not None and context_mark is not None and problem_mark.index >= len(text.rstrip()):
        mark = context_mark  # "got <stream end>": what was left open is where to look
    line = mark.line + 1 if mark is not None else 1
    if problem_mark is not None:
        what += f" (line {problem_mark.line + 1}, column {problem_mark.column + 1})"
    return load_problem(str(path), line, f"not valid YAML: {what}; fix the syntax")


def _describe(body: Any) -> str:
    if isinstance(body, list):
        return "a list"
    if isinstance(body, str):
        shown = body if len(body) <= 40 else body[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(body, bool):
        return f"a boolean ({str(body).lower()})"
    if isinstance(body, int | float):
        return f"a number ({body})"
    return f"a {type(body).__name__}"


def _shape_problem(path: Path, line: int, body: dict[str, Any]) -> Problem | None:
    """A landlord.dev document whose metadata or spec is not a mapping cannot be checked further."""
    if not str(body.get("apiVersion", "")).startswith(f"{GROUP}/"):
        return None
    probe = Document(str(path), line, body)
    for key in ("metadata", "spec"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            return load_problem(
                str(path),
                line,
                f"must be a mapping, not {_describe(value)}; write it as `{key}:` followed by indented fields",
                kind=probe.kind,
                name=probe.name,
                field=key,
            )
    return None


def read_file(path: Path) -> Loaded:
    """The documents of one file; what cannot be read is a problem, not an exception."""
    loaded = Loaded()
    try:
        data = path.read_bytes()
    except OSError as exc:
        loaded.problems.append(load_problem(str(path), 0, f"cannot read it: {exc.strerror or exc}"))
        return loaded
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        loaded.problems.append(
            load_problem(
                str(path),
                line,
                f"not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); save the file as UTF-8",
            )
        )
        return loaded
    text = text.removeprefix("\ufeff")
    try:
        for node in yaml.compose_all(text):
            line = node.start_mark.line + 1
            try:
                body = yaml.safe_load(yaml.serialize(node))
            except yaml.YAMLError as exc:  # (its marks point into a re-serialized copy of the document)
                loaded.problems.append(_yaml_error(path, text, exc, at=line))
                continue
            if body is None:  # an empty document (`---` alone)
                continue
            if not isinstance(body, dict):
                loaded.problems.append(
                    load_problem(
                        str(path),
                        line,
                        f"the document is {_describe(body)}, not a mapping; a Kubernetes document is a "
                        "mapping with apiVersion, kind, metadata and spec",
                    )
                )
                continue
            shape = _shape_problem(path, line, body)
            if shape is not None:
                shape.line = Document(str(path), line, body, node).line_of(shape.field)
                loaded.problems.append(shape)
                continue
            loaded.documents.append(Document(str(path), line, body, node))
    except yaml.YAMLError as exc:  # the documents before the error are kept
        loaded.problems.append(_yaml_error(path, text, exc))
    return loaded


def read(paths: Iterable[str | Path]) -> Loaded:
    """Every document in these files and folders (each file once), and one problem per thing that could not be read."""
    files, problems = _find(paths)
    loaded = Loaded(problems=problems)
    for path in files:
        one = read_file(path)
        loaded.documents.extend(one.documents)
        loaded.problems.extend(one.problems)
    return loaded


def load_file(path: Path) -> list[Document]:
    """The documents of one file; LoadError for the first thing that cannot be read."""
    loaded = read_file(path)
    if loaded.problems:
        raise LoadError(loaded.problems[0].text())
    return loaded.documents


def load(paths: Iterable[str | Path]) -> list[Document]:
    """Every document in these files and folders; LoadError for the first thing that cannot be read."""
    loaded = read(paths)
    if loaded.problems:
        raise LoadError(loaded.problems[0].text())
    return loaded.documents
