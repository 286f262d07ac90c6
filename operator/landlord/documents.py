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
        if not isinstance(self.body, dict):
            return ""
        return str((self.body.get("metadata") or {}).get("name", ""))

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


def files_in(paths: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        elif path.exists():
            found.append(path)
        else:
            raise LoadError(f"{path}: no such file or folder")
    return found


def load_file(path: Path) -> list[Document]:
    text = path.read_text()
    documents = []
    try:
        for node in yaml.compose_all(text):
            if node is None:
                continue
            body = yaml.safe_load(yaml.serialize(node))
            documents.append(Document(str(path), node.start_mark.line + 1, body, node))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise LoadError(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    return documents


def load(paths: Iterable[str | Path]) -> list[Document]:
    documents: list[Document] = []
    for path in files_in(paths):
        documents.extend(load_file(path))
    return documents
