"""ValidatingAdmissionPolicy enforcement: the admission step of every write.

As https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/ and the
admissionregistration.k8s.io/v1 reference describe it: a policy acts only through a binding; a
request is checked by each (policy, binding, param) whose policy `matchConstraints` and binding
`matchResources` select it (rules by group/version/resource/subresource/operation/scope and
resourceNames, exclusions, namespace and object selectors, `matchPolicy: Equivalent` across
served versions), whose `matchConditions` hold. Validations see `object`, `oldObject`,
`request`, `params`, `namespaceObject` and lazily evaluated `variables`. A failed validation
is enforced by the binding's `validationActions` (Deny: 422 Invalid, or the validation's
`reason`, worded "ValidatingAdmissionPolicy 'P' with binding 'B' denied request: ..."; Warn:
a Warning header; Audit: recorded in `admission_audit`); evaluation errors and
misconfigurations follow `failurePolicy`. It runs after defaulting and schema validation and
before storage, for dry runs too, and for system:masters too (as on a real server).

Writes by the emulator's own controllers (namespace cleanup, garbage collection) are not
admitted: a real cluster's controllers would retry a refused write forever.

Pod Security Admission (`podsecurity`) runs first, as the PodSecurity plugin precedes the
policies in the real server's validating admission chain.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cel

from ..validation.cel_rules import FUNCTIONS
from . import admission_checks, identity
from .admission_checks import GROUP, POLICY_KIND, CompileError, compile_expression
from .errors import ApiError
from .podsecurity import PodSecurity
from .registry import Registry
from .resources import ResourceType
from .selectors import label_selector_matches

POLICIES = (GROUP, "validatingadmissionpolicies")
BINDINGS = (GROUP, "validatingadmissionpolicybindings")
REASON_CODES = {"Unauthorized": 401, "Forbidden": 403, "Invalid": 422, "RequestEntityTooLarge": 413}
VALIDATION_FAILURE = "validation.policy.admission.k8s.io/validation_failure"
_NAMESPACE_META = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "finalizers",
)


class EvaluationError(Exception):
    """An expression that failed at run time; the text is the message the real server reports."""


class ConfigurationError(Exception):
    """A policy or binding that cannot be applied (unknown paramKind, params not found...)."""


@dataclass
class Request:
    """One admission request: what the policies match on and what `request` shows in CEL."""

    operation: str
    rt: ResourceType  # the resource as requested (version included)
    subresource: str
    namespace: str
    name: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    kind: dict[str, str]
    dry_run: bool
    options: dict[str, Any]
    user: dict[str, Any]
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def subject(self) -> str:
        """The name the denial names (the object's own when the request had none: generateName)."""
        if self.name:
            return self.name
        source = self.obj or self.old or {}
        return str(source.get("metadata", {}).get("name", ""))

    def labels(self) -> tuple[dict[str, str], dict[str, str]]:
        """Labels of the object and of the old object (objectSelector matches either)."""
        return (
            ((self.obj or {}).get("metadata") or {}).get("labels") or {},
            ((self.old or {}).get("metadata") or {}).get("labels") or {},
        )


@dataclass
class Failure:
    """A validation that did not pass (or an error under failurePolicy Fail)."""

    message: str
    reason: str = ""
    index: int | None = None


@dataclass
class AuditRecord:
    """The audit annotations one request collected (the emulator keeps no audit log)."""

    operation: str
    resource: str
    namespace: str
    name: str
    annotations: dict[str, str]


def rule_matches(rule: dict[str, Any], request: Request, rt: ResourceType) -> bool:
    """A RuleWithOperations against the request, with `rt` standing for the requested resource."""
    operations = rule.get("operations") or []
    if "*" not in operations and request.operation not in operations:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and rt.group not in groups:
        return False
    versions = rule.get("apiVersions") or []
    if "*" not in versions and rt.version not in versions:
        return False
    resource_ok = False
    for entry in rule.get("resources") or []:
        resource, _, sub = entry.partition("/")
        if resource in ("*", rt.plural) and sub in ("*", request.subresource):
            resource_ok = True
            break
    if not resource_ok:
        return False
    scope = rule.get("scope") or "*"
    is_namespaces = (rt.group, rt.plural) == ("", "namespaces")
    if scope == "Namespaced":
        return not is_namespaces and bool(request.namespace)
    if scope == "Cluster":
        return is_namespaces or not request.namespace
    return scope == "*"


def _gvk(api_version: str, kind: str) -> dict[str, str]:
    group, _, version = api_version.rpartition("/")
    return {"group": group, "version": version, "kind": kind}


def _gvk_text(kind: dict[str, str]) -> str:
    """schema.GroupVersionKind's String(): `apps/v1, Kind=Deployment`, `/v1, Kind=ConfigMap`."""
    return f"{kind['group']}/{kind['version']}, Kind={kind['kind']}"


class Evaluation:
    """One (policy, binding, param) evaluation: the CEL activation and the composited variables.

    A variable is evaluated when an expression first reads it, once; its error is reported by
    each expression that reads it ("Variable composition").
    """

    def __init__(self, spec: dict[str, Any], activation: dict[str, Any]) -> None:
        self.activation = activation
        self.definitions = {v.get("name", ""): v.get("expression", "") for v in spec.get("variables") or []}
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def run(self, expression: str) -> Any:
        """The value of an expression; EvaluationError (with the real server's wording) on failure."""
        try:
            compiled = compile_expression(expression)
        except CompileError as exc:
            raise EvaluationError(f"compilation error: {exc}") from None
        try:
            variables = self._variables(compiled.variables, set())
        except EvaluationError as exc:
            raise EvaluationError(f"expression '{expression}' resulted in error: {exc}") from None
        try:
            return self._execute(compiled, variables)
        except EvaluationError as exc:
            raise EvaluationError(f"expression '{expression}' resulted in error: {exc}") from None

    def _execute(self, compiled: admission_checks.Compiled, variables: dict[str, Any]) -> Any:
        context = cel.Context(variables={**self.activation, "variables": variables}, functions=FUNCTIONS)
        try:
            return compiled.program.execute(context)
        except KeyError as exc:
            raise EvaluationError(f"no such key: {exc.args[0] if exc.args else exc}") from None
        except (ValueError, RuntimeError, TypeError, IndexError, ZeroDivisionError, OverflowError) as exc:
            raise EvaluationError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    def _variables(self, names: frozenset[str], visiting: set[str]) -> dict[str, Any]:
        for name in sorted(names):
            if name not in self.definitions or name in self.values:
                continue
            if name in self.errors:
                raise EvaluationError(f'composited variable "{name}" fails to evaluate: {self.errors[name]}')
            if name in visiting:
                raise EvaluationError(f'composited variable "{name}" refers to itself')
            try:
                compiled = compile_expression(self.definitions[name])
                inner = self._variables(compiled.variables, visiting | {name})
                self.values[name] = self._execute(compiled, inner)
            except (CompileError, EvaluationError) as exc:
                self.errors[name] = str(exc)
                raise EvaluationError(f'composited variable "{name}" fails to evaluate: {exc}') from None
        return {name: self.values[name] for name in self.values}


def evaluate_policy(spec: dict[str, Any], evaluation: Evaluation) -> tuple[list[Failure], dict[str, str]]:
    """matchConditions, then validations and audit annotations: the failures and annotations."""
    fail = (spec.get("failurePolicy") or "Fail") == "Fail"
    errors: list[str] = []
    for condition in spec.get("matchConditions") or []:
        try:
            result = evaluation.run(condition.get("expression", ""))
        except EvaluationError as exc:
            errors.append(str(exc))
            continue
        if result is False:
            return [], {}  # any condition false: the policy does not apply, whatever the errors
    if errors:
        if not fail:
            return [], {}
        return [Failure(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")], {}
    failures: list[Failure] = []
    for index, validation in enumerate(spec.get("validations") or []):
        expression = validation.get("expression", "")
        try:
            result = evaluation.run(expression)
        except EvaluationError as exc:
            if fail:
                failures.append(Failure(str(exc), index=index))
            continue
        if result is True:
            continue
        message = ""
        if validation.get("messageExpression"):
            try:
                produced = evaluation.run(validation["messageExpression"])
            except EvaluationError:
                produced = None  # a failing messageExpression falls back to the static message
            if isinstance(produced, str) and produced.strip() and "\n" not in produced.strip():
                message = produced.strip()
        if not message:
            static = (validation.get("message") or "").strip()
            message = static or f"failed expression: {expression.strip()}"
        failures.append(Failure(message, validation.get("reason") or "Invalid", index))
    annotations: dict[str, str] = {}
    for annotation in spec.get("auditAnnotations") or []:
        try:
            value = evaluation.run(annotation.get("valueExpression", ""))
        except EvaluationError as exc:
            if fail:
                failures.append(Failure(str(exc)))
            continue
        if isinstance(value, str) and value:
            annotations[annotation.get("key", "")] = value
    return failures, annotations


class Admission(Registry):
    """The ValidatingAdmissionPolicy admission step, called by the write paths before storage."""

    def __init__(self, history: int = 100_000) -> None:
        super().__init__(history)
        self.admission_audit: deque[AuditRecord] = deque(maxlen=1000)
        self.pod_security = PodSecurity()
        self._unadmitted = 0

    @contextlib.contextmanager
    def unadmitted(self) -> Iterator[None]:
        """Writes of the built-in controllers, which no policy checks (see the module doc)."""
        self._unadmitted += 1
        try:
            yield
        finally:
            self._unadmitted -= 1

    def _subresource_view(self, rt: ResourceType, subresource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """What admission sees of an object written through a subresource (the Scale for `scale`)."""
        return obj

    def _admit(
        self,
        rt: ResourceType,
        operation: str,
        namespace: str | None,
        name: str,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        subresource: str = "",
        dry_run: bool = False,
        manager: str = "",
        delete_options: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        """Checks a write against the bound policies: raises the denial, appends Warn messages."""
        if not self._unadmitted:  # PodSecurity first: validating plugins run before the policies
            self.pod_security.admit(self.objects, rt, operation, namespace, name, obj, old, subresource, warnings)
        bindings = self.objects.get(BINDINGS)
        if not bindings or self._unadmitted:
            return  # the fast path: no binding, no policy can act
        request = self._request(rt, operation, namespace, name, obj, old, subresource, dry_run, manager, delete_options)
        by_policy: dict[str, list[dict[str, Any]]] = {}
        for _, binding in sorted(bindings.items()):
            policy_name = (binding.get("spec") or {}).get("policyName", "")
            by_policy.setdefault(policy_name, []).append(binding)
        policies = self.objects.get(POLICIES, {})
        denials: list[tuple[str, str, Failure]] = []
        failures_audited: list[dict[str, Any]] = []
        annotations: dict[str, str] = {}
        for policy_name in sorted(by_policy):
            policy = policies.get(("", policy_name))
            if policy is None:
                continue  # a binding of a missing policy is ignored
            spec = policy.get("spec") or {}
            fail = (spec.get("failurePolicy") or "Fail") == "Fail"
            matched = self._match(spec.get("matchConstraints") or {}, request)
            if matched is None:
                continue
            try:
                param_rt = self._param_type(spec.get("paramKind"))
            except ConfigurationError as exc:
                if fail:
                    denials.append((policy_name, "", Failure(f"failed to configure policy: {exc}")))
                continue
            for binding in by_policy[policy_name]:
                binding_spec = binding.get("spec") or {}
                match_resources = binding_spec.get("matchResources")
                if match_resources and self._match(match_resources, request) is None:
                    continue
                binding_name = binding["metadata"]["name"]
                actions = binding_spec.get("validationActions") or []
                found: list[Failure] = []
                try:
                    params = self._params(param_rt, binding_spec.get("paramRef"), request)
                except ConfigurationError as exc:
                    if fail:
                        found.append(Failure(f"failed to configure binding: {exc}"))
                    params = []
                activation = self._activation(request, matched) if params else {}
                for param in params:
                    evaluation = Evaluation(spec, {**activation, "params": param})
                    failures, produced = evaluate_policy(spec, evaluation)
                    found += failures
                    annotations.update({f"{policy_name}/{key}": value for key, value in produced.items()})
                for failure in found:
                    if "Deny" in actions:
                        denials.append((policy_name, binding_name, failure))
                    if "Warn" in actions and warnings is not None:
                        warnings.append(
                            f"Validation failed for ValidatingAdmissionPolicy '{policy_name}' with binding "
                            f"'{binding_name}': {failure.message}"
                        )
                    if "Audit" in actions:
                        entry: dict[str, Any] = {
                            "message": failure.message,
                            "policy": policy_name,
                            "binding": binding_name,
                        }
                        if failure.index is not None:
                            entry["expressionIndex"] = failure.index
                        failures_audited.append({**entry, "validationActions": list(actions)})
        if failures_audited:
            annotations[VALIDATION_FAILURE] = json.dumps(failures_audited, separators=(",", ":"))
        if annotations:
            self.admission_audit.append(
                AuditRecord(operation, rt.plural, request.namespace, request.subject, annotations)
            )
        if denials:
            raise self._denial(request, *denials[0])

    # -- the request ------------------------------------------------------------------------
    def _request(
        self,
        rt: ResourceType,
        operation: str,
        namespace: str | None,
        name: str,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        subresource: str,
        dry_run: bool,
        manager: str,
        delete_options: dict[str, Any] | None,
    ) -> Request:
        shown = self._subresource_view(rt, subresource, self.present(rt, obj)) if obj is not None else None
        shown_old = self._subresource_view(rt, subresource, self.present(rt, old)) if old is not None else None
        source = shown if shown is not None else shown_old or {}
        kind = _gvk(str(source.get("apiVersion", rt.api_version)), str(source.get("kind", rt.kind)))
        request_namespace = (namespace or "") if rt.namespaced else ""
        if (rt.group, rt.plural) == ("", "namespaces") and operation != "CREATE":
            request_namespace = name  # a Namespace's requests carry its own name as the namespace
        if operation == "DELETE":
            options = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", **(delete_options or {})}
        else:
            options = {
                "kind": "CreateOptions" if operation == "CREATE" else "UpdateOptions",
                "apiVersion": "meta.k8s.io/v1",
            }
            if manager:
                options["fieldManager"] = manager
        if dry_run:
            options["dryRun"] = ["All"]
        user = {"username": "", "uid": "", "groups": [], "extra": {}, **identity.current().as_dict()}
        return Request(
            operation, rt, subresource, request_namespace, name, shown, shown_old, kind, dry_run, options, user
        )

    def _activation(self, request: Request, matched: ResourceType) -> dict[str, Any]:
        """The CEL variables but params, in the version the policy matched (Equivalent)."""
        obj, old, kind = request.obj, request.old, dict(request.kind)
        if matched.version != request.rt.version:
            kind["version"] = matched.version if kind["group"] == matched.group else kind["version"]
            obj = {**obj, "apiVersion": matched.api_version} if obj is not None and not request.subresource else obj
            old = {**old, "apiVersion": matched.api_version} if old is not None and not request.subresource else old
        resource = {"group": matched.group, "version": matched.version, "resource": matched.plural}
        requested = {"group": request.rt.group, "version": request.rt.version, "resource": request.rt.plural}
        cel_request = {
            "uid": request.uid,
            "kind": kind,
            "resource": resource,
            "subResource": request.subresource,
            "requestKind": request.kind,
            "requestResource": requested,
            "requestSubResource": request.subresource,
            "name": request.name,
            "namespace": request.namespace,
            "operation": request.operation,
            "userInfo": request.user,
            "dryRun": request.dry_run,
            "options": request.options,
        }
        return {
            "object": obj,
            "oldObject": old,
            "request": cel_request,
            "namespaceObject": self._namespace_object(request),
        }

    def _namespace_object(self, request: Request) -> dict[str, Any] | None:
        """The request's Namespace (name, labels, annotations... spec, status); null when cluster-scoped."""
        if not request.namespace or request.kind == {"group": "", "version": "v1", "kind": "Namespace"}:
            return None
        namespace = self.objects[("", "namespaces")].get(("", request.namespace))
        if namespace is None:
            return None
        meta = namespace["metadata"]
        return {
            "metadata": {k: meta[k] for k in _NAMESPACE_META if k in meta},
            "spec": namespace.get("spec", {}),
            "status": namespace.get("status", {}),
        }

    # -- matching ---------------------------------------------------------------------------
    def _match(self, match: dict[str, Any], request: Request) -> ResourceType | None:
        """The version the request matches as (its own, or an equivalent one), or None."""
        if not self._namespace_selected(match.get("namespaceSelector"), request):
            return None
        if match.get("objectSelector"):
            new_labels, old_labels = request.labels()
            selector = match["objectSelector"]
            if not (
                (request.obj is not None and label_selector_matches(selector, new_labels))
                or (request.old is not None and label_selector_matches(selector, old_labels))
            ):
                return None
        equivalent = match.get("matchPolicy", "Equivalent") == "Equivalent"
        if self._rules_match(match.get("excludeResourceRules") or [], request, equivalent):
            return None
        rules = match.get("resourceRules")
        if not rules:
            return request.rt
        return self._rules_match(rules, request, equivalent)

    def _equivalents(self, rt: ResourceType) -> list[ResourceType]:
        """The other served versions of the same resource, by version (cached until a type is
        added or removed: every write's policy matching asks, over hundreds of types)."""
        cache: dict[Any, tuple[int, list[ResourceType]]] = self.__dict__.setdefault("_equivalents_cache", {})
        cached = cache.get((rt.group_resource, rt.version))
        if cached is None or cached[0] != len(self.types):
            others = sorted(
                (t for t in self.types.values() if t.group_resource == rt.group_resource and t != rt),
                key=lambda t: t.version,
            )
            cached = (len(self.types), others)
            cache[(rt.group_resource, rt.version)] = cached
        return cached[1]

    def _rules_match(self, rules: list[dict[str, Any]], request: Request, equivalent: bool) -> ResourceType | None:
        candidates = [request.rt]
        if equivalent:
            candidates += self._equivalents(request.rt)
        for rt in candidates:
            for rule in rules:
                if not rule_matches(rule, request, rt):
                    continue
                names = rule.get("resourceNames") or []
                if not names or request.name in names:
                    return rt
        return None

    def _namespace_selected(self, selector: dict[str, Any] | None, request: Request) -> bool:
        is_namespaces = (request.rt.group, request.rt.plural) == ("", "namespaces")
        if not selector or (not request.namespace and not is_namespaces):
            return True  # cluster-scoped objects (but Namespaces) are never exempted
        if is_namespaces and not request.subresource and request.operation in ("CREATE", "UPDATE"):
            labels = ((request.obj or {}).get("metadata") or {}).get("labels") or {}
        else:
            stored = self.objects[("", "namespaces")].get(("", request.namespace)) or {}
            labels = stored.get("metadata", {}).get("labels") or {}
        return label_selector_matches(selector, labels)

    # -- params -----------------------------------------------------------------------------
    def _param_type(self, param_kind: dict[str, Any] | None) -> ResourceType | None:
        if not param_kind:
            return None
        kind = _gvk(param_kind.get("apiVersion", ""), param_kind.get("kind", ""))
        for rt in self.types.values():
            if (rt.group, rt.version, rt.kind) == (kind["group"], kind["version"], kind["kind"]):
                return rt
        raise ConfigurationError(f"failed to find resource referenced by paramKind: '{_gvk_text(kind)}'")

    def _params(
        self, param_rt: ResourceType | None, ref: dict[str, Any] | None, request: Request
    ) -> list[dict[str, Any] | None]:
        """The params a binding selects: [None] without paramKind or paramRef, [] when none found (Allow)."""
        if param_rt is None or not ref:
            return [None]
        namespace = ref.get("namespace") or ""
        if param_rt.namespaced and not namespace:
            namespace = request.namespace
            if not namespace:
                raise ConfigurationError(
                    "cannot use namespaced paramRef in policy binding that matches cluster-scoped resources"
                )
        elif not param_rt.namespaced and namespace:
            raise ConfigurationError("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
        store = self._store(param_rt)
        if ref.get("name"):
            found = store.get((namespace, ref["name"]))
            params = [found] if found is not None else []
        else:
            selector = ref.get("selector") or {}
            params = [
                obj
                for (ns, _), obj in sorted(store.items())
                if ns == namespace and label_selector_matches(selector, obj["metadata"].get("labels") or {})
            ]
        if not params and ref.get("parameterNotFoundAction") == "Deny":
            raise ConfigurationError("no params found for policy binding with `Deny` parameterNotFoundAction")
        return [self.present(param_rt, p) for p in params]

    # -- the answer -------------------------------------------------------------------------
    def _denial(self, request: Request, policy: str, binding: str, failure: Failure) -> ApiError:
        """admission.NewForbidden's wording, with the code of the validation's reason (422 Invalid by default)."""
        if binding:
            text = f"ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied request: {failure.message}"
        else:
            text = f"ValidatingAdmissionPolicy '{policy}' denied request: {failure.message}"
        rt = request.rt
        resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
        subject = request.subject
        message = f'{resource} "{subject}" is forbidden: {text}' if subject else f"{resource} is forbidden: {text}"
        details: dict[str, Any] = {"name": subject, "kind": rt.plural}
        if rt.group:
            details["group"] = rt.group
        details["causes"] = [{"message": text}]
        reason = failure.reason or "Invalid"
        return ApiError(REASON_CODES.get(reason, 422), reason, message, details)

    # -- the policy's status ----------------------------------------------------------------
    def _policy_status(self, rt: ResourceType, policy: dict[str, Any]) -> None:
        """Sets a written policy's `status` (observedGeneration, typeChecking), as its controller would."""
        if (rt.group, rt.kind) != (GROUP, POLICY_KIND):
            return
        spec = policy.get("spec") or {}
        checked: list[ResourceType] = []
        for rule in (spec.get("matchConstraints") or {}).get("resourceRules") or []:
            groups, versions = rule.get("apiGroups") or [], rule.get("apiVersions") or []
            resources = rule.get("resources") or []
            if "*" in groups or "*" in versions or any("*" in r for r in resources):
                continue  # no wildcard matching
            for group in groups:
                for version in versions:
                    for resource in resources:
                        found = self.types.get((group, version, resource))
                        if found is not None and found.builtin and found not in checked:
                            checked.append(found)
        checked = sorted(checked, key=lambda t: (t.group, t.version, t.plural))[:10]
        warnings = []
        for path, expression in admission_checks.expressions(spec):
            lines = []
            for target in checked:
                problem = admission_checks.undefined_field(
                    expression, target.schema or {}, lambda s: self.walker_builtin.resolve(s)[0]
                )
                if problem:
                    lines.append(f"{_gvk_text(_gvk(target.api_version, target.kind))}: {problem}")
            if lines:
                warnings.append({"fieldRef": path, "warning": "\n".join(lines)})
        policy["status"] = {
            "observedGeneration": policy["metadata"].get("generation", 1),
            "typeChecking": {"expressionWarnings": warnings} if warnings else {},
        }
