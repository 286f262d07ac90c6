"""ValidatingAdmissionPolicy and its Binding as API objects: defaults, validation, type checking.

What the real registry does when one is written (admissionregistration.k8s.io/v1, reference:
https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/validating-admission-policy-v1/):
defaults (failurePolicy Fail, matchPolicy Equivalent, empty selectors, scope "*"), field checks
with apimachinery's wording, and every CEL expression compiled so that one which does not parse
or names an undeclared variable is refused at once (422, "compilation failed: ..."). The
policy's `status.typeChecking` reports fields the expressions read that the matched built-in
types do not have ("Type checking" in the ValidatingAdmissionPolicy concept page).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cel

from ..validation import FieldError

GROUP = "admissionregistration.k8s.io"
POLICY_KIND = "ValidatingAdmissionPolicy"
BINDING_KIND = "ValidatingAdmissionPolicyBinding"

DECLARED = frozenset({"object", "oldObject", "request", "params", "namespaceObject", "authorizer", "variables"})
"""The variables a policy's expressions may use (the `authorizer` is declared, not served)."""
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn", "duration"}
)
_LIBRARIES = frozenset({"cel", "optional", "math", "sets", "strings", "base64", "lists"})
"""Namespaces of CEL library functions (`sets.contains(...)`), which parse as identifiers."""
_BOUND = re.compile(
    r"\.\s*(?:all|exists|exists_one|existsOne|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,(?:\s*([A-Za-z_]\w*)\s*,)?"
    r"|\bcel\s*\.\s*bind\s*\(\s*([A-Za-z_]\w*)"
)
_STRING = re.compile(r"""[rR]?(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""", re.DOTALL)
_VARIABLE_REF = re.compile(r"\bvariables\s*\.\s*([A-Za-z_]\w*)")
_CEL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PATH = re.compile(r"(?<![\w.])(object|oldObject)((?:\s*\.\s*[A-Za-z_]\w*)+)(\s*\()?")

REASONS = ("Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge")
OPERATIONS = ("*", "CREATE", "UPDATE", "DELETE", "CONNECT")
SCOPES = ("*", "Cluster", "Namespaced")


class CompileError(Exception):
    """An expression that does not compile; the text is the CEL error (`ERROR: <input>:...`)."""


@dataclass(frozen=True)
class Compiled:
    """A compiled expression and the composited variables (`variables.NAME`) it reads."""

    program: Any
    variables: frozenset[str]


def blank_strings(expression: str) -> str:
    """The expression with its string literals blanked out (same length, so columns hold)."""
    return _STRING.sub(lambda m: " " * len(m.group(0)), expression)


def _caret(expression: str, offset: int) -> str:
    """CEL's error location suffix: the source line, then a caret under the column."""
    line_start = expression.rfind("\n", 0, offset) + 1
    line_end = expression.find("\n", offset)
    line = expression[line_start : line_end if line_end >= 0 else None]
    return f"\n | {line}\n | {'.' * (offset - line_start)}^"


def _location(expression: str, offset: int) -> str:
    line = expression.count("\n", 0, offset) + 1
    column = offset - (expression.rfind("\n", 0, offset) + 1) + 1
    return f"<input>:{line}:{column}"


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Compiled:
    """Compiles a policy expression, refusing syntax errors and undeclared references."""
    try:
        program = cel.compile(expression)
    except (ValueError, RuntimeError, TypeError) as exc:
        text = str(exc)
        start = text.find("ERROR:")
        text = text[start:] if start >= 0 else text
        lines = (" " + line if line.startswith("|") else line for line in text.splitlines())
        raise CompileError("\n".join(lines)) from None
    plain = blank_strings(expression)
    bound: set[str] = set()
    for match in _BOUND.finditer(plain):
        bound.update(name for name in match.groups() if name)
    libraries = {name for name in _LIBRARIES if re.search(rf"(?<![\w.]){name}\s*\.\s*\w+\s*\(", plain)}
    for name in sorted(set(program.references().get("variables", [])) - DECLARED - _TYPE_NAMES - bound - libraries):
        found = re.search(rf"(?<![\w.]){re.escape(name)}\b", plain)
        offset = found.start() if found else 0
        raise CompileError(
            f"ERROR: {_location(expression, offset)}: undeclared reference to '{name}' (in container '')"
            + _caret(expression, offset)
        )
    return Compiled(program, frozenset(_VARIABLE_REF.findall(plain)))


def compile_problem(path: str, expression: Any) -> list[FieldError]:
    """The field error of an expression that is missing or does not compile (none when it does)."""
    if not isinstance(expression, str) or not expression.strip():
        return [FieldError("FieldValueRequired", path)]
    try:
        compile_expression(expression)
    except CompileError as exc:
        return [FieldError("FieldValueInvalid", path, expression, f"compilation failed: {exc}")]
    return []


# -- defaults -----------------------------------------------------------------------------------
def _default_match(match: Any) -> None:
    if not isinstance(match, dict):
        return
    match.setdefault("namespaceSelector", {})
    match.setdefault("objectSelector", {})
    match.setdefault("matchPolicy", "Equivalent")
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in match.get(key) or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")


def set_defaults(kind: str, obj: dict[str, Any]) -> None:
    """The v1 defaults: failurePolicy Fail, and on match resources Equivalent, {} selectors, scope *."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if kind == POLICY_KIND:
        spec.setdefault("failurePolicy", "Fail")
        _default_match(spec.get("matchConstraints"))
    else:
        _default_match(spec.get("matchResources"))


# -- validation ---------------------------------------------------------------------------------
def validate(kind: str, obj: dict[str, Any]) -> list[FieldError]:
    """Defaults the object, then returns its field errors (as the real registry's validation)."""
    set_defaults(kind, obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("FieldValueRequired", "spec")]
    if kind == POLICY_KIND:
        return _validate_policy(spec)
    return _validate_binding(spec)


def _validate_policy(spec: dict[str, Any]) -> list[FieldError]:
    problems: list[FieldError] = []
    failure = spec.get("failurePolicy")
    if failure not in ("Fail", "Ignore"):
        problems.append(
            FieldError("FieldValueNotSupported", "spec.failurePolicy", failure, 'supported values: "Fail", "Ignore"')
        )
    param_kind = spec.get("paramKind")
    if isinstance(param_kind, dict):
        for field in ("apiVersion", "kind"):
            if not param_kind.get(field):
                problems.append(FieldError("FieldValueRequired", f"spec.paramKind.{field}"))
        api_version = param_kind.get("apiVersion") or ""
        if api_version.count("/") > 1 or api_version.startswith("/") or api_version.endswith("/"):
            problems.append(
                FieldError("FieldValueInvalid", "spec.paramKind.apiVersion", api_version, "must be group/version")
            )
    match = spec.get("matchConstraints")
    if not isinstance(match, dict):
        problems.append(FieldError("FieldValueRequired", "spec.matchConstraints"))
    else:
        if not match.get("resourceRules"):
            problems.append(FieldError("FieldValueRequired", "spec.matchConstraints.resourceRules"))
        problems += _validate_match(match, "spec.matchConstraints")
    problems += _validate_named(spec.get("matchConditions") or [], "spec.matchConditions", "expression", True)
    problems += _validate_variables(spec.get("variables") or [])
    validations = spec.get("validations") or []
    audit = spec.get("auditAnnotations") or []
    if not validations and not audit:
        problems.append(
            FieldError(
                "FieldValueRequired",
                "spec.validations",
                detail="validations or auditAnnotations must contain at least one item",
            )
        )
    for index, validation in enumerate(validations):
        path = f"spec.validations[{index}]"
        problems += compile_problem(f"{path}.expression", validation.get("expression"))
        message = validation.get("message")
        if isinstance(message, str) and "\n" in message:
            problems.append(
                FieldError("FieldValueInvalid", f"{path}.message", message, "message must not contain line breaks")
            )
        if validation.get("messageExpression"):
            problems += compile_problem(f"{path}.messageExpression", validation["messageExpression"])
        reason = validation.get("reason")
        if reason is not None and reason not in REASONS:
            problems.append(
                FieldError(
                    "FieldValueNotSupported",
                    f"{path}.reason",
                    reason,
                    "supported values: " + ", ".join(f'"{r}"' for r in REASONS),
                )
            )
    seen: set[str] = set()
    for index, annotation in enumerate(audit):
        path = f"spec.auditAnnotations[{index}]"
        key = annotation.get("key") or ""
        if not key:
            problems.append(FieldError("FieldValueRequired", f"{path}.key"))
        elif not _QUALIFIED_NAME.match(key) or len(key) > 63:
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    f"{path}.key",
                    key,
                    "must be a qualified name: alphanumeric characters, '-', '_' or '.', at most 63",
                )
            )
        elif key in seen:
            problems.append(FieldError("FieldValueDuplicate", f"{path}.key", key))
        seen.add(key)
        problems += compile_problem(f"{path}.valueExpression", annotation.get("valueExpression"))
    return problems


def _validate_named(items: list[Any], path: str, field: str, qualified: bool) -> list[FieldError]:
    """matchConditions: a unique (qualified) name each, and an expression that compiles."""
    problems: list[FieldError] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        name = item.get("name") or ""
        if not name:
            problems.append(FieldError("FieldValueRequired", f"{path}[{index}].name"))
        elif qualified and not _QUALIFIED_NAME.match(name.rsplit("/", 1)[-1]):
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    f"{path}[{index}].name",
                    name,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
                    "and end with an alphanumeric character",
                )
            )
        elif name in seen:
            problems.append(FieldError("FieldValueDuplicate", f"{path}[{index}].name", name))
        seen.add(name)
        problems += compile_problem(f"{path}[{index}].{field}", item.get(field))
    return problems


def _validate_variables(variables: list[Any]) -> list[FieldError]:
    problems: list[FieldError] = []
    for index, variable in enumerate(variables):
        path = f"spec.variables[{index}]"
        name = variable.get("name") or ""
        if not name:
            problems.append(FieldError("FieldValueRequired", f"{path}.name"))
        elif not _CEL_IDENTIFIER.match(name):
            problems.append(FieldError("FieldValueInvalid", f"{path}.name", name, "name is not a valid CEL identifier"))
        problems += compile_problem(f"{path}.expression", variable.get("expression"))
    return problems


def _validate_match(match: dict[str, Any], path: str) -> list[FieldError]:
    problems: list[FieldError] = []
    policy = match.get("matchPolicy")
    if policy not in ("Exact", "Equivalent"):
        problems.append(
            FieldError(
                "FieldValueNotSupported", f"{path}.matchPolicy", policy, 'supported values: "Equivalent", "Exact"'
            )
        )
    for key in ("namespaceSelector", "objectSelector"):
        problems += validate_selector(match.get(key), f"{path}.{key}")
    for key in ("resourceRules", "excludeResourceRules"):
        for index, rule in enumerate(match.get(key) or []):
            problems += _validate_rule(rule, f"{path}.{key}[{index}]")
    return problems


def validate_selector(selector: Any, path: str) -> list[FieldError]:
    """A metav1.LabelSelector's operators and values (In/NotIn need values, Exists none)."""
    problems: list[FieldError] = []
    if not isinstance(selector, dict):
        return problems
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        where = f"{path}.matchExpressions[{index}]"
        operator = expression.get("operator")
        values = expression.get("values") or []
        if operator in ("In", "NotIn") and not values:
            problems.append(
                FieldError(
                    "FieldValueRequired",
                    f"{where}.values",
                    detail="must be specified when `operator` is 'In' or 'NotIn'",
                )
            )
        elif operator in ("Exists", "DoesNotExist") and values:
            problems.append(
                FieldError(
                    "FieldValueForbidden",
                    f"{where}.values",
                    detail="may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
        elif operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            problems.append(
                FieldError("FieldValueInvalid", f"{where}.operator", operator, "not a valid selector operator")
            )
    return problems


def _validate_rule(rule: dict[str, Any], path: str) -> list[FieldError]:
    problems: list[FieldError] = []
    for key, what in (("apiGroups", "API groups"), ("apiVersions", "API versions"), ("resources", "resources")):
        values = rule.get(key) or []
        if not values:
            problems.append(FieldError("FieldValueRequired", f"{path}.{key}"))
        elif "*" in values and len(values) > 1:
            problems.append(
                FieldError(
                    "FieldValueInvalid", f"{path}.{key}", values, f"if '*' is present, must not specify other {what}"
                )
            )
    operations = rule.get("operations") or []
    if not operations:
        problems.append(FieldError("FieldValueRequired", f"{path}.operations"))
    for index, operation in enumerate(operations):
        if operation not in OPERATIONS:
            problems.append(
                FieldError(
                    "FieldValueNotSupported",
                    f"{path}.operations[{index}]",
                    operation,
                    "supported values: " + ", ".join(f'"{o}"' for o in OPERATIONS),
                )
            )
    if "*" in operations and len(operations) > 1:
        problems.append(
            FieldError(
                "FieldValueInvalid",
                f"{path}.operations",
                operations,
                "if '*' is present, must not specify other operations",
            )
        )
    scope = rule.get("scope", "*")
    if scope not in SCOPES:
        problems.append(
            FieldError(
                "FieldValueNotSupported", f"{path}.scope", scope, 'supported values: "*", "Cluster", "Namespaced"'
            )
        )
    for index, name in enumerate(rule.get("resourceNames") or []):
        if not name:
            problems.append(FieldError("FieldValueRequired", f"{path}.resourceNames[{index}]"))
    return problems


def _validate_binding(spec: dict[str, Any]) -> list[FieldError]:
    problems: list[FieldError] = []
    if not spec.get("policyName"):
        problems.append(FieldError("FieldValueRequired", "spec.policyName"))
    actions = spec.get("validationActions") or []
    seen: set[str] = set()
    for index, action in enumerate(actions):
        if action not in ("Deny", "Warn", "Audit"):
            problems.append(
                FieldError(
                    "FieldValueNotSupported",
                    f"spec.validationActions[{index}]",
                    action,
                    'supported values: "Audit", "Deny", "Warn"',
                )
            )
        elif action in seen:
            problems.append(FieldError("FieldValueDuplicate", f"spec.validationActions[{index}]", action))
        seen.add(action)
    if not actions:
        problems.append(
            FieldError(
                "FieldValueRequired", "spec.validationActions", detail="at least one validation action is required"
            )
        )
    if "Deny" in seen and "Warn" in seen:
        problems.append(
            FieldError(
                "FieldValueInvalid",
                "spec.validationActions",
                actions,
                "must not contain both Deny and Warn (repeating the same validation failure information in the API "
                "response and headers serves no purpose)",
            )
        )
    ref = spec.get("paramRef")
    if isinstance(ref, dict):
        has_name = bool(ref.get("name"))
        has_selector = ref.get("selector") is not None
        if has_name and has_selector:
            problems.append(
                FieldError(
                    "FieldValueForbidden", "spec.paramRef.name", detail="name and selector are mutually exclusive"
                )
            )
        elif not has_name and not has_selector:
            problems.append(
                FieldError("FieldValueRequired", "spec.paramRef", detail="one of name or selector must be specified")
            )
        action = ref.get("parameterNotFoundAction")
        if not action:
            problems.append(FieldError("FieldValueRequired", "spec.paramRef.parameterNotFoundAction"))
        elif action not in ("Allow", "Deny"):
            problems.append(
                FieldError(
                    "FieldValueNotSupported",
                    "spec.paramRef.parameterNotFoundAction",
                    action,
                    'supported values: "Allow", "Deny"',
                )
            )
        problems += validate_selector(ref.get("selector"), "spec.paramRef.selector")
    match = spec.get("matchResources")
    if isinstance(match, dict):
        problems += _validate_match(match, "spec.matchResources")
    return problems


# -- type checking ------------------------------------------------------------------------------
def expressions(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every CEL expression of a policy spec, with its field path."""
    for index, item in enumerate(spec.get("matchConditions") or []):
        yield f"spec.matchConditions[{index}].expression", item.get("expression") or ""
    for index, item in enumerate(spec.get("variables") or []):
        yield f"spec.variables[{index}].expression", item.get("expression") or ""
    for index, item in enumerate(spec.get("validations") or []):
        yield f"spec.validations[{index}].expression", item.get("expression") or ""
        if item.get("messageExpression"):
            yield f"spec.validations[{index}].messageExpression", item["messageExpression"]
    for index, item in enumerate(spec.get("auditAnnotations") or []):
        yield f"spec.auditAnnotations[{index}].valueExpression", item.get("valueExpression") or ""


SchemaResolver = Callable[[dict[str, Any]], dict[str, Any]]


def undefined_field(expression: str, schema: dict[str, Any], resolve: SchemaResolver) -> str | None:
    """The first `object.a.b` / `oldObject.a.b` field the schema does not define, as CEL words it."""
    plain = blank_strings(expression)
    for match in _PATH.finditer(plain):
        segments = list(re.finditer(r"\.\s*([A-Za-z_]\w*)", match.group(2)))
        if match.group(3):  # the last name is a method call, not a field
            segments = segments[:-1]
        current = schema
        for segment in segments:
            node = resolve(current)
            properties = node.get("properties")
            extra = node.get("additionalProperties")
            name = segment.group(1)
            if isinstance(properties, dict) and name in properties:
                current = properties[name]
            elif isinstance(extra, dict):
                current = extra
            elif isinstance(properties, dict):
                offset = match.start(2) + segment.start()
                return f"ERROR: {_location(expression, offset)}: undefined field '{name}'" + _caret(expression, offset)
            else:
                break
    return None
