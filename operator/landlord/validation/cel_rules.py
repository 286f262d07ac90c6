"""CEL rules of CRD schemas (`x-kubernetes-validations`), evaluated with PyPI `common-expression-language`.

Kubernetes semantics kept here: a rule that mentions `oldSelf` is a transition rule and runs
only on update when the old value exists; `messageExpression` wins over `message`; a rule
that cannot be evaluated is an error, not a pass. A few Kubernetes CEL library functions are
provided (string helpers, `isQuantity`, `isURL`); quantity arithmetic is not.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

import cel

from ..quantity import is_quantity
from .errors import MISSING


@dataclass
class RuleFailure:
    """A rule that did not hold: its message, and the `reason`/`fieldPath` the rule names."""

    message: str
    reason: str = ""
    field_path: str = ""


def _is_url(text: str) -> bool:
    parsed = urlparse(text)
    return bool(parsed.scheme) and bool(parsed.netloc or parsed.path)


def _index_of(text: str, sub: str, start: int = 0) -> int:
    return text.find(sub, start)


def _last_index_of(text: str, sub: str) -> int:
    return text.rfind(sub)


def _substring(text: str, start: int, end: int | None = None) -> str:
    return text[start:] if end is None else text[start:end]


def _is_sorted(items: list[Any]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(items))


FUNCTIONS: dict[str, Any] = {
    "isQuantity": is_quantity,
    "isURL": _is_url,
    "lowerAscii": lambda s: s.lower(),
    "upperAscii": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "split": lambda s, sep: s.split(sep),
    "join": lambda items, sep="": sep.join(items),
    "replace": lambda s, old, new: s.replace(old, new),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "substring": _substring,
    "isSorted": _is_sorted,
}


@lru_cache(maxsize=4096)
def _compile(expression: str) -> tuple[Any, bool]:
    program = cel.compile(expression)
    references = program.references()
    uses_old = "oldSelf" in references.get("variables", []) or bool(re.search(r"\boldSelf\b", expression))
    return program, uses_old


def check_rule(expression: str) -> str | None:
    """A compile error for a rule, or None (used when a CRD is created)."""
    try:
        _compile(expression)
    except (ValueError, RuntimeError, TypeError) as exc:
        return str(exc).splitlines()[0]
    return None


def evaluate_rules(rules: list[dict[str, Any]], value: Any, old: Any = MISSING) -> list[RuleFailure]:
    """The failures of `x-kubernetes-validations` rules on `self` (and `oldSelf` when given), in
    the rules' order."""
    failures: list[tuple[int, RuleFailure]] = []
    programs: list[tuple[int, dict[str, Any], Any, bool]] = []
    for index, rule in enumerate(rules):
        try:
            program, uses_old = _compile(rule.get("rule", ""))
        except (ValueError, RuntimeError, TypeError) as exc:
            message = f"compilation failed: {str(exc).splitlines()[0]}"
            failures.append((index, RuleFailure(message, rule.get("reason", ""), rule.get("fieldPath", ""))))
            continue
        if not (uses_old and old is MISSING):
            programs.append((index, rule, program, uses_old))
    if programs:
        # One context for every rule: making it converts `self` (and `oldSelf`) into CEL values,
        # and that conversion, not the evaluation, is what a rule on a whole object costs.
        variables: dict[str, Any] = {"self": value}
        if any(uses_old for *_, uses_old in programs):
            variables["oldSelf"] = old
        context = cel.Context(variables=variables, functions=FUNCTIONS)
        for index, rule, program, _ in programs:
            failure = _failure(rule, program, context)
            if failure is not None:
                failures.append((index, failure))
    return [failure for _, failure in sorted(failures, key=lambda pair: pair[0])]


def _failure(rule: dict[str, Any], program: Any, context: Any) -> RuleFailure | None:
    """How the rule fails in this context, or None when it holds."""
    expression = rule.get("rule", "")
    try:
        ok = program.execute(context)
    except (ValueError, RuntimeError, TypeError, KeyError) as exc:
        message = f"evaluation failed for rule {expression!r}: {exc}"
        return RuleFailure(message, rule.get("reason", ""), rule.get("fieldPath", ""))
    if ok is True:
        return None
    message = rule.get("message") or f"failed rule: {expression}"
    if rule.get("messageExpression"):
        try:
            produced = cel.evaluate(rule["messageExpression"], context)
            if isinstance(produced, str) and produced.strip():
                message = produced
        except (ValueError, RuntimeError, TypeError, KeyError):
            pass
    return RuleFailure(message, rule.get("reason", ""), rule.get("fieldPath", ""))
