"""The review resources: answered on create, never stored.

- authorization.k8s.io/v1 SelfSubjectAccessReview ("can I?": `kubectl auth can-i`),
  SubjectAccessReview and LocalSubjectAccessReview ("can this user?"), SelfSubjectRulesReview
  (`kubectl auth can-i --list`);
- authentication.k8s.io/v1 SelfSubjectReview ("who am I?": `kubectl auth whoami`).

https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access
"""

from __future__ import annotations

from typing import Any

from ..validation import FieldError
from . import errors
from .authorization import Attributes, Authorizer
from .identity import UserInfo

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"


def answer(authorizer: Authorizer, user: UserInfo, kind: str, namespace: str | None, body: Any) -> dict[str, Any]:
    """The created review of `kind` for a POSTed body, its status filled in for `user`."""
    group = AUTHENTICATION if kind == "SelfSubjectReview" else AUTHORIZATION
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was in an unknown format")
    if body.get("kind") not in (None, kind) or body.get("apiVersion") not in (None, f"{group}/v1"):
        raise errors.bad_request(
            f"the API version in the data ({body.get('apiVersion')}) does not match the expected API version "
            f"({group}/v1)"
        )
    metadata = dict(body.get("metadata") or {})
    out: dict[str, Any] = {"kind": kind, "apiVersion": f"{group}/v1", "metadata": metadata}
    if kind == "SelfSubjectReview":
        out["status"] = {"userInfo": user.as_dict()}
        return out
    found = body.get("spec")
    spec: dict[str, Any] = found if isinstance(found, dict) else {}
    out["spec"] = spec
    if kind == "SelfSubjectRulesReview":
        out["status"] = rules_review(authorizer, user, str(spec.get("namespace", "")))
        return out
    problems: list[FieldError] = []
    if kind == "LocalSubjectAccessReview":
        if metadata.get("namespace") and metadata["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        metadata["namespace"] = namespace
        resource = spec.get("resourceAttributes")
        if isinstance(resource, dict) and resource.get("namespace", "") != namespace:
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    "spec.resourceAttributes.namespace",
                    resource.get("namespace", ""),
                    "must match metadata.namespace",
                )
            )
        if spec.get("nonResourceAttributes") is not None:
            problems.append(
                FieldError(
                    "FieldValueInvalid",
                    "spec.nonResourceAttributes",
                    spec["nonResourceAttributes"],
                    "disallowed on this kind of request",
                )
            )
    if kind != "SelfSubjectAccessReview" and not spec.get("user") and not spec.get("groups"):
        problems.append(
            FieldError(
                "FieldValueInvalid",
                "spec.user",
                spec.get("user", ""),
                "at least one of user or group must be specified",
            )
        )
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        problems.append(
            FieldError(
                "FieldValueInvalid",
                "spec.nonResourceAttributes",
                non_resource,
                "cannot be specified in combination with resourceAttributes",
            )
        )
    if resource is None and non_resource is None:
        problems.append(
            FieldError(
                "FieldValueInvalid",
                "spec.resourceAttributes",
                None,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if problems:
        raise errors.invalid(kind, AUTHORIZATION, str(metadata.get("name", "")), problems)
    subject = user
    if kind != "SelfSubjectAccessReview":
        extra = spec.get("extra") or {}
        subject = UserInfo(
            str(spec.get("user", "")),
            str(spec.get("uid", "")),
            tuple(spec.get("groups") or []),
            {str(k): tuple(v or []) for k, v in extra.items()},
        )
    decision = authorizer.authorize(subject, _attributes(resource, non_resource))
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    out["status"] = status
    return out


def _attributes(resource: Any, non_resource: Any) -> Attributes:
    if isinstance(resource, dict):
        return Attributes(
            verb=str(resource.get("verb", "")),
            resource_request=True,
            group=str(resource.get("group", "")),
            version=str(resource.get("version", "")),
            resource=str(resource.get("resource", "")),
            subresource=str(resource.get("subresource", "")),
            namespace=str(resource.get("namespace", "")),
            name=str(resource.get("name", "")),
        )
    attributes = non_resource if isinstance(non_resource, dict) else {}
    return Attributes(verb=str(attributes.get("verb", "")), path=str(attributes.get("path", "")))


def rules_review(authorizer: Authorizer, user: UserInfo, namespace: str) -> dict[str, Any]:
    """SubjectRulesReviewStatus: the rules `user` holds in `namespace` (cluster-wide ones included)."""
    rules, problems = authorizer.rules_for(user, namespace)
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    for rule in rules:
        if rule.get("resources"):
            entry = {"verbs": list(rule.get("verbs") or [])}
            for key in ("apiGroups", "resources", "resourceNames"):
                if rule.get(key):
                    entry[key] = list(rule[key])
            resource_rules.append(entry)
        if rule.get("nonResourceURLs"):
            non_resource_rules.append(
                {"verbs": list(rule.get("verbs") or []), "nonResourceURLs": list(rule["nonResourceURLs"])}
            )
    status: dict[str, Any] = {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": bool(problems),
    }
    if problems:
        status["evaluationError"] = "; ".join(problems)
    return status
