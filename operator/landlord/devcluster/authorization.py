"""RBAC authorization: request attributes, the RBAC authorizer, privilege-escalation checks.

Pure evaluation over the stored Role, ClusterRole, RoleBinding and ClusterRoleBinding objects,
as https://kubernetes.io/docs/reference/access-authn-authz/rbac/ describes them:

- a request is allowed when a rule of a role bound to the user (a ClusterRoleBinding, or a
  RoleBinding in the request's namespace) matches its verb, API group, resource (`res/sub` for
  subresources, `*/sub` for a subresource of any resource) and name (`resourceNames`), or, for
  a non-resource path, its `nonResourceURLs` (`/prefix*` matches by prefix);
- members of system:masters are always allowed (the privileged group, no rules involved);
- writing a Role/ClusterRole needs every permission it grants, or `escalate` on it; writing a
  binding needs the permissions of the role it refers to in that scope, or `bind` on the role
  ("Privilege escalation prevention and bootstrapping").

Messages follow the real server's wording, since people and tools read them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import ApiError
from .identity import UserInfo, split_service_account

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_KINDS = {"Role": "roles", "ClusterRole": "clusterroles"}
BINDING_KINDS = {"RoleBinding": "rolebindings", "ClusterRoleBinding": "clusterrolebindings"}
RBAC_KINDS = frozenset(ROLE_KINDS) | frozenset(BINDING_KINDS)

# "Determine the request verb" (authorization docs): HTTP method to API verb of a resource request.
_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# Subresources of a namespace: `/api/v1/namespaces/NAME/status` names the namespace, not a resource in it.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

# To set an aggregationRule (which can gather any rule) a user needs every permission there is.
FULL_AUTHORITY: list[dict[str, Any]] = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
]

Rule = dict[str, Any]
Store = Mapping[tuple[str, str], Mapping[tuple[str, str], dict[str, Any]]]


@dataclass(frozen=True)
class Attributes:
    """What authorization looks at of a request (authorizer.Attributes)."""

    verb: str
    resource_request: bool = False
    path: str = ""  # non-resource requests
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def resource_attributes(
    verb: str,
    group: str,
    resource: str,
    namespace: str = "",
    name: str = "",
    subresource: str = "",
    version: str = "*",
) -> Attributes:
    """Attributes of a resource request made up by the server (impersonation, escalate, bind)."""
    return Attributes(verb, True, "", group, version, resource, subresource, namespace, name)


def request_attributes(method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """The attributes of an HTTP request, parsed as the API server's RequestInfo parses the URL.

    `/api/v1/...` and `/apis/GROUP/VERSION/...` with a resource are resource requests; all other
    paths (`/api`, `/apis/apps/v1`, `/version`, `/healthz`) are non-resource requests whose verb
    is the lower-cased HTTP method.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis") or (parts[0] == "apis" and len(parts) < 4):
        return Attributes(method.lower(), path=path or "/")
    if parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        group, version, rest = "", parts[1], parts[2:]
    verb = _VERBS.get(method, method.lower())
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch", "").lower() in ("true", "1") else "list"
        # A list or watch narrowed to one name by `metadata.name=` is authorized for that name.
        name = _selected_name(query.get("fieldSelector", ""))
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(verb, True, "", group, version, resource, subresource, namespace, name)


def _selected_name(field_selector: str) -> str:
    for term in field_selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and key.strip() == "metadata.name":
            value = value.strip()
            if value and value not in (".", "..") and "/" not in value and "%" not in value:
                return value
    return ""


# -- rules --------------------------------------------------------------------------------------
def rule_allows(rule: Rule, request: Attributes) -> bool:
    """Whether one PolicyRule allows the request (RBAC "Referring to resources")."""
    verbs = rule.get("verbs") or []
    if "*" not in verbs and request.verb not in verbs:
        return False
    if not request.resource_request:
        return any(_url_matches(url, request.path) for url in rule.get("nonResourceURLs") or [])
    groups = rule.get("apiGroups") or []
    if "*" not in groups and request.group not in groups:
        return False
    combined = request.combined_resource
    if not any(_resource_matches(r, combined, request.subresource) for r in rule.get("resources") or []):
        return False
    names = rule.get("resourceNames") or []
    return not names or (bool(request.name) and request.name in names)


def _resource_matches(resource: str, combined: str, subresource: str) -> bool:
    return resource in ("*", combined) or bool(subresource and resource == f"*/{subresource}")


def _url_matches(url: str, path: str) -> bool:
    return url in ("*", path) or (url.endswith("*") and path.startswith(url[:-1]))


def _subject_applies(subject: dict[str, Any], user: UserInfo, namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(name == user.username)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        # A RoleBinding's ServiceAccount subject without a namespace is one of the binding's namespace.
        account = split_service_account(user.username)
        return account is not None and account == (subject.get("namespace") or namespace, name)
    return False


def _describe(subject: dict[str, Any], namespace: str) -> str:
    name = subject.get("name", "")
    if subject.get("kind") == "ServiceAccount":
        name = f"{name}/{subject.get('namespace') or namespace}"
    return f"{subject.get('kind')} {_q(name)}"


def _q(text: str) -> str:
    """Go's %q of a string (what the real messages use for names)."""
    return json.dumps(text, ensure_ascii=False)


def _q_list(items: Iterable[str]) -> str:
    """Go's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(_q(i) for i in items) + "]"


@dataclass(frozen=True)
class Decision:
    """An authorization answer; `reason` as SubjectAccessReview and the Forbidden message show it."""

    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class Grant:
    """One binding that applies to a user: how to describe it, its role's rules, or why they are missing."""

    source: str
    rules: list[Rule]
    error: str = ""


class Authorizer:
    """The RBAC authorizer over the emulator's stored objects (read live, never cached)."""

    def __init__(self, objects: Store) -> None:
        self.objects = objects

    def _stored(self, plural: str) -> Mapping[tuple[str, str], dict[str, Any]]:
        return self.objects.get((RBAC_GROUP, plural), {})

    def role_rules(self, role_ref: dict[str, Any], namespace: str) -> tuple[list[Rule], str]:
        """The rules of the role a binding refers to, or the error of a missing one."""
        kind, name = role_ref.get("kind"), str(role_ref.get("name", ""))
        if kind == "ClusterRole":
            role = self._stored("clusterroles").get(("", name))
        elif kind == "Role" and namespace:
            role = self._stored("roles").get((namespace, name))
        else:
            return [], f"unsupported role reference kind: {_q(str(kind))}"
        if role is None:
            return [], f"{str(kind).lower()}.{RBAC_GROUP} {_q(name)} not found"
        return list(role.get("rules") or []), ""

    def grants(self, user: UserInfo, namespace: str) -> Iterator[Grant]:
        """The bindings that apply to `user`: every ClusterRoleBinding, then RoleBindings in `namespace`."""
        for (_, name), binding in list(self._stored("clusterrolebindings").items()):
            ref = binding.get("roleRef") or {}
            subject = next((s for s in binding.get("subjects") or [] if _subject_applies(s, user, "")), None)
            if subject is None or ref.get("kind") != "ClusterRole":
                continue
            rules, error = self.role_rules(ref, "")
            source = (
                f"ClusterRoleBinding {_q(name)} of ClusterRole {_q(ref.get('name', ''))} to {_describe(subject, '')}"
            )
            yield Grant(source, rules, error)
        if not namespace:
            return
        for (ns, name), binding in list(self._stored("rolebindings").items()):
            if ns != namespace:
                continue
            ref = binding.get("roleRef") or {}
            subject = next((s for s in binding.get("subjects") or [] if _subject_applies(s, user, ns)), None)
            if subject is None:
                continue
            rules, error = self.role_rules(ref, ns)
            source = (
                f"RoleBinding {_q(f'{name}/{ns}')} of {ref.get('kind')} {_q(ref.get('name', ''))} "
                f"to {_describe(subject, ns)}"
            )
            yield Grant(source, rules, error)

    def authorize(self, user: UserInfo, request: Attributes) -> Decision:
        """Allowed by system:masters or by a bound rule; denied otherwise (RBAC never denies outright)."""
        if user.is_admin:
            return Decision(True)
        problems: list[str] = []
        for grant in self.grants(user, request.namespace):
            if grant.error:
                problems.append(grant.error)
            for rule in grant.rules:
                if rule_allows(rule, request):
                    return Decision(True, f"RBAC: allowed by {grant.source}")
        return Decision(False, f"RBAC: {_aggregate(problems)}" if problems else "")

    def check(self, user: UserInfo, request: Attributes) -> None:
        """Raises the real server's 403 Forbidden unless `user` may make `request`."""
        decision = self.authorize(user, request)
        if not decision.allowed:
            raise forbidden(user, request, decision.reason)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        """Every rule `user` holds in `namespace` ("" for cluster-wide only), and resolution errors."""
        rules: list[Rule] = []
        problems: list[str] = []
        for grant in self.grants(user, namespace):
            rules += grant.rules
            if grant.error:
                problems.append(grant.error)
        return rules, problems

    # -- privilege escalation prevention ------------------------------------------------------
    def not_held(self, user: UserInfo, rules: list[Rule], namespace: str) -> str:
        """ "" when `user` holds every permission of `rules` in `namespace`, else the refusal's text."""
        owned, problems = self.rules_for(user, namespace)
        missing = missing_rules(owned, rules)
        if not missing:
            return ""
        described = sorted({compact_string(rule) for rule in compact_rules(missing)})
        message = (
            f"user {_q(user.username)} (groups={_q_list(user.groups)}) is attempting to grant RBAC "
            "permissions not currently held:\n" + "\n".join(described)
        )
        if problems:
            message += f"; resolution errors: [{' '.join(problems)}]"
        return message

    def check_write(
        self,
        user: UserInfo,
        kind: str,
        namespace: str | None,
        url_name: str,
        new: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> None:
        """The escalation checks of creating or updating a role or binding; raises 403 (or 404 for a
        binding to a missing role, as the real registry answers)."""
        if user.is_admin or kind not in RBAC_KINDS:
            return
        if old is not None and _only_gc_fields_differ(old, new):
            return
        meta = new.get("metadata") or {}
        name = str(meta.get("name", url_name))
        namespace = namespace or meta.get("namespace")
        if kind in ROLE_KINDS:
            plural = ROLE_KINDS[kind]
            scope = (namespace or "") if kind == "Role" else ""
            if self.authorize(user, resource_attributes("escalate", RBAC_GROUP, plural, scope, url_name)).allowed:
                return
            refusal = self.not_held(user, list(new.get("rules") or []), scope)
            if refusal:
                raise errors.forbidden(plural, RBAC_GROUP, name, refusal)
            aggregates = new.get("aggregationRule") or (old or {}).get("aggregationRule")
            if kind == "ClusterRole" and aggregates and self.not_held(user, FULL_AUTHORITY, ""):
                raise errors.forbidden(
                    plural, RBAC_GROUP, name, "must have cluster-admin privileges to use the aggregationRule"
                )
            return
        plural = BINDING_KINDS[kind]
        scope = (namespace or "") if kind == "RoleBinding" else ""
        ref = new.get("roleRef") or {}
        role_plural = ROLE_KINDS.get(str(ref.get("kind")))
        if role_plural is not None:
            bind = resource_attributes(
                "bind", str(ref.get("apiGroup", "")), role_plural, scope, str(ref.get("name", ""))
            )
            if self.authorize(user, bind).allowed:
                return
        rules, error = self.role_rules(ref, scope)
        if error:
            if role_plural is None:
                raise errors.bad_request(error)
            raise errors.not_found(role_plural, RBAC_GROUP, str(ref.get("name", "")))
        refusal = self.not_held(user, rules, scope)
        if refusal:
            raise errors.forbidden(plural, RBAC_GROUP, name, refusal)


def forbidden(user: UserInfo, request: Attributes, reason: str = "") -> ApiError:
    """The real server's 403 for a denied request: `pods is forbidden: User "alice" cannot list ...`."""
    if not request.resource_request:
        text = f"User {_q(user.username)} cannot {request.verb} path {_q(request.path)}"
    else:
        scope = f"in the namespace {_q(request.namespace)}" if request.namespace else "at the cluster scope"
        text = (
            f"User {_q(user.username)} cannot {request.verb} resource {_q(request.combined_resource)} "
            f"in API group {_q(request.group)} {scope}"
        )
    if reason:
        text += f": {reason}"
    if not request.resource:
        return ApiError(403, "Forbidden", f"forbidden: {text}")
    qualified = f"{request.resource}.{request.group}" if request.group else request.resource
    details: dict[str, Any] = {}
    if request.name:
        details["name"] = request.name
        message = f"{qualified} {_q(request.name)} is forbidden: {text}"
    else:
        message = f"{qualified} is forbidden: {text}"
    if request.group:
        details["group"] = request.group
    details["kind"] = request.resource
    return ApiError(403, "Forbidden", message, details)


def _aggregate(problems: list[str]) -> str:
    return problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"


_GC_FIELDS = ("ownerReferences", "finalizers", "resourceVersion", "managedFields", "generation")


def _only_gc_fields_differ(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Changing only what garbage collection changes (owners, finalizers) needs no escalation check."""

    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _GC_FIELDS}
        return {**{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}, "metadata": meta}

    return strip(old) == strip(new)


# -- coverage: does one set of rules hold every permission of another --------------------------
def breakdown(rule: Rule) -> list[Rule]:
    """A rule as single-verb, single-resource (single-name) rules, or single-URL ones."""
    atoms: list[Rule] = []
    verbs = rule.get("verbs") or []
    names = rule.get("resourceNames") or []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                atoms += [{**base, "resourceNames": [n]} for n in names] if names else [base]
    for url in rule.get("nonResourceURLs") or []:
        atoms += [{"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs]
    return atoms


def _covers(owner: Rule, atom: Rule) -> bool:
    def holds(field: str) -> bool:
        owned = owner.get(field) or []
        return "*" in owned or set(atom.get(field) or []) <= set(owned)

    if not (holds("verbs") and holds("apiGroups")):
        return False
    owned_resources = owner.get("resources") or []
    if "*" not in owned_resources:
        for resource in atom.get("resources") or []:
            sub = resource.split("/", 1)[1] if "/" in resource else None
            if resource not in owned_resources and (sub is None or f"*/{sub}" not in owned_resources):
                return False
    owned_urls = owner.get("nonResourceURLs") or []
    for url in atom.get("nonResourceURLs") or []:
        if not any(o == url or (o.endswith("*") and url.startswith(o.rstrip("*"))) for o in owned_urls):
            return False
    owned_names = owner.get("resourceNames") or []
    wanted_names = atom.get("resourceNames") or []
    return not owned_names or bool(wanted_names and set(wanted_names) <= set(owned_names))


def missing_rules(owned: list[Rule], wanted: list[Rule]) -> list[Rule]:
    """The single permissions of `wanted` that no rule of `owned` covers."""
    return [atom for rule in wanted for atom in breakdown(rule) if not any(_covers(o, atom) for o in owned)]


def compact_rules(rules: list[Rule]) -> list[Rule]:
    """Single-group, single-resource rules differing only in verbs merged into one (for messages)."""
    merged: dict[tuple[str, str, str], Rule] = {}
    others: list[Rule] = []
    for rule in rules:
        groups, resources = rule.get("apiGroups") or [], rule.get("resources") or []
        names = rule.get("resourceNames") or []
        if len(groups) == 1 and len(resources) == 1 and len(names) <= 1 and not rule.get("nonResourceURLs"):
            key = (groups[0], resources[0], names[0] if names else "")
            if key in merged:
                merged[key]["verbs"] = merged[key]["verbs"] + list(rule.get("verbs") or [])
            else:
                merged[key] = {**rule, "verbs": list(rule.get("verbs") or [])}
        else:
            others.append(rule)
    return others + list(merged.values())


def compact_string(rule: Rule) -> str:
    """A rule as the escalation message prints it: `{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`."""
    fields = (
        ("APIGroups", "apiGroups"),
        ("Resources", "resources"),
        ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"),
        ("Verbs", "verbs"),
    )
    return "{" + ", ".join(f"{label}:{_q_list(rule[key])}" for label, key in fields if rule.get(key)) + "}"
