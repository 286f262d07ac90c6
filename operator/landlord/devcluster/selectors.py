"""Label selectors (equality- and set-based) and field selectors, as on list and watch."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

_TERM = re.compile(
    r"""^\s*(?:
        (?P<not>!)\s*(?P<absent>[^\s,!=()]+)
      | (?P<key>[^\s,!=()]+)\s*(?:
            (?P<op>==|!=|=)\s*(?P<value>[^\s,!=()]*)
          | \s(?P<setop>in|notin)\s*\((?P<values>[^)]*)\)
        )?
    )\s*(?:,|$)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present


_SET_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_requirements(selector: dict[str, Any]) -> list[Requirement]:
    """A metav1.LabelSelector (`matchLabels`, `matchExpressions`) as requirements, ANDed."""
    found = [Requirement(str(k), "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        op = _SET_OPERATORS.get(expression.get("operator"))
        if op is not None:  # an unknown operator never passes validation; it constrains nothing here
            values = tuple(str(v) for v in expression.get("values") or [])
            found.append(Requirement(str(expression.get("key", "")), op, values))
    return found


def label_selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether labels match a metav1.LabelSelector; an empty or absent one matches everything
    (as the selectors of ValidatingAdmissionPolicy matches and ClusterRole aggregation use it)."""
    if not selector:
        return True
    return all(requirement.matches(labels) for requirement in label_selector_requirements(selector))


def parse_label_selector(text: str) -> list[Requirement]:
    requirements: list[Requirement] = []
    rest = text.strip()
    while rest:
        match = _TERM.match(rest)
        if not match or match.end() == 0:
            raise bad_request(f"unable to parse requirement: found '{rest}', expected: identifier")
        if match["not"]:
            requirements.append(Requirement(match["absent"], "!"))
        elif match["op"]:
            op = "!=" if match["op"] == "!=" else "="
            requirements.append(Requirement(match["key"], op, (match["value"],)))
        elif match["setop"]:
            values = tuple(v.strip() for v in match["values"].split(",") if v.strip())
            requirements.append(Requirement(match["key"], match["setop"], values))
        else:
            requirements.append(Requirement(match["key"], "exists"))
        rest = rest[match.end() :].strip()
    return requirements


def parse_field_selector(text: str, allowed: Iterable[str], kind: str) -> list[Requirement]:
    allowed = set(allowed)
    requirements: list[Requirement] = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        match = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", term)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        key, op, value = match.groups()
        if key not in allowed:
            raise bad_request(f"field label not supported: {key}")
        requirements.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
    return requirements


def field_value(obj: dict[str, Any], path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    if isinstance(current, dict):
        # Event `source` selects on source.component.
        return str(current.get("component", ""))
    return str(current)


def make_filter(
    label_selector: str | None, field_selector: str | None, allowed_fields: Iterable[str], kind: str
) -> Callable[[dict[str, Any]], bool]:
    labels = parse_label_selector(label_selector) if label_selector else []
    fields = parse_field_selector(field_selector, allowed_fields, kind) if field_selector else []
    if not labels and not fields:
        return lambda obj: True

    def matches(obj: dict[str, Any]) -> bool:
        obj_labels = obj.get("metadata", {}).get("labels") or {}
        if not all(r.matches(obj_labels) for r in labels):
            return False
        if fields:
            values = {r.key: field_value(obj, r.key) for r in fields}
            return all(r.matches(values) for r in fields)
        return True

    return matches


def format_label_selector(selector: dict[str, Any] | None) -> str:
    """A `metav1.LabelSelector` as the selector string `LabelSelectorAsSelector` prints.

    Requirements sorted by key: `app=web,tier in (a,b),!legacy`-style, set values sorted.
    """
    if not selector:
        return ""
    terms: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        terms.append((key, f"{key}={value}"))
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        if operator == "In":
            terms.append((key, f"{key} in ({values})"))
        elif operator == "NotIn":
            terms.append((key, f"{key} notin ({values})"))
        elif operator == "Exists":
            terms.append((key, key))
        elif operator == "DoesNotExist":
            terms.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(terms, key=lambda term: term[0]))
