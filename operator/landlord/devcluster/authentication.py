"""Authentication: bearer tokens, requests without credentials, and impersonation headers.

A request with `Authorization: Bearer TOKEN` is the user of that token in the table (unknown
token: 401, as a real server answers a credential no authenticator accepts); the kubeconfig the
emulator writes carries `ADMIN_TOKEN`, a system:masters user. A request without credentials is
`unauthenticated`: the admin by default, so that clients configured with a bare URL (the test
helpers, the playground) keep working; `identity.ANONYMOUS` gives the real kube-apiserver
default (`--anonymous-auth=true`: system:anonymous in system:unauthenticated), None gives
`--anonymous-auth=false` (401 Unauthorized).
(https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests)

Only a request with no `Authorization` header at all is "without credentials" in the
emulator's lenient sense. A header that is there but no authenticator accepts (empty, another
scheme such as `Basic`, `Bearer` with an empty token or two spaces) is what the real server
hands to the anonymous authenticator: system:anonymous when `unauthenticated` is
`identity.ANONYMOUS`, otherwise 401 Unauthorized, never the admin.

Impersonation (https://kubernetes.io/docs/reference/access-authn-authz/user-impersonation/):
`Impersonate-User`, `Impersonate-Uid`, `Impersonate-Group` (repeatable) and
`Impersonate-Extra-KEY` replace the user once the authenticated user is authorized to
`impersonate` each of them (users or serviceaccounts, uids, groups, userextras/KEY).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import unquote

from .authorization import Attributes, Authorizer, forbidden, resource_attributes
from .errors import ApiError
from .identity import (
    ADMIN,
    ANONYMOUS_USER,
    AUTHENTICATED,
    UNAUTHENTICATED,
    UserInfo,
    authenticated_user,
    service_account_groups,
    split_service_account,
)

ADMIN_TOKEN = "landlord-dev"
AUTHENTICATION_GROUP = "authentication.k8s.io"
_EXTRA_PREFIX = "impersonate-extra-"


def unauthorized() -> ApiError:
    """The real server's answer to credentials it does not accept."""
    return ApiError(401, "Unauthorized", "Unauthorized")


def _bearer(header: str) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, read as the real bearer-token
    authenticator reads it (the second of at most three space-separated parts); None when the
    scheme is another one or the token is empty (`Bearer`, `Bearer  TOKEN`)."""
    parts = header.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


class Authenticator:
    """The token table, what a request without credentials is, and impersonation."""

    def __init__(
        self, users: Mapping[str, UserInfo | str] | None = None, unauthenticated: UserInfo | None = ADMIN
    ) -> None:
        self.tokens: dict[str, UserInfo] = {ADMIN_TOKEN: ADMIN}
        self.unauthenticated = unauthenticated
        for token, user in (users or {}).items():
            self.add(token, user)

    def add(self, token: str, user: UserInfo | str) -> UserInfo:
        """Lets `token` authenticate as `user` (a name, or a UserInfo); returns the user as requests
        will see it: in system:authenticated, a ServiceAccount name with its SA groups."""
        if not token:
            raise ValueError("a token must not be empty")
        info = authenticated_user(user if isinstance(user, UserInfo) else UserInfo(user))
        self.tokens[token] = info
        return info

    def authenticate(self, authorization: str | None) -> UserInfo:
        """The user of a request's `Authorization` header (None: no header); 401 for a token
        nobody has, and for a header no authenticator accepts unless anonymous requests are on."""
        if authorization is None:
            if self.unauthenticated is None:
                raise unauthorized()
            return self.unauthenticated
        token = _bearer(authorization)
        if token is None:
            # Present but unusable: the real server falls through to the anonymous authenticator
            # (if enabled); the emulator's admin default is for absent credentials only.
            if self.unauthenticated is None or self.unauthenticated.is_admin:
                raise unauthorized()
            return self.unauthenticated
        user = self.tokens.get(token)
        if user is None:
            raise unauthorized()
        return user

    def impersonate(self, user: UserInfo, headers: Iterable[tuple[str, str]], authorizer: Authorizer) -> UserInfo:
        """The user a request acts as: `user`, or the one its impersonation headers name once `user`
        may impersonate each part (403 Forbidden naming the first part it may not)."""
        wanted_user = ""
        uid = ""
        groups: list[str] = []
        extra: dict[str, list[str]] = {}
        for name, value in headers:
            lower = name.lower()
            if lower == "impersonate-user":
                wanted_user = wanted_user or value
            elif lower == "impersonate-uid":
                uid = uid or value
            elif lower == "impersonate-group":
                groups.append(value)
            elif lower.startswith(_EXTRA_PREFIX):
                extra.setdefault(unquote(lower[len(_EXTRA_PREFIX) :]), []).append(value)
        if not (wanted_user or uid or groups or extra):
            return user
        if not wanted_user:
            # The real filter answers this with an internal error too.
            raise ApiError(
                500, "InternalError", "requested impersonation of a uid, groups or extra without impersonating a user"
            )
        checks: list[Attributes] = []
        account = split_service_account(wanted_user)
        if account is not None:
            checks.append(resource_attributes("impersonate", "", "serviceaccounts", account[0], account[1]))
        else:
            checks.append(resource_attributes("impersonate", "", "users", name=wanted_user))
        if uid:
            checks.append(resource_attributes("impersonate", AUTHENTICATION_GROUP, "uids", name=uid))
        checks += [resource_attributes("impersonate", "", "groups", name=group) for group in groups]
        for key, values in extra.items():
            checks += [
                resource_attributes("impersonate", AUTHENTICATION_GROUP, "userextras", name=v, subresource=key)
                for v in values
            ]
        for check in checks:
            decision = authorizer.authorize(user, check)
            if not decision.allowed:
                raise forbidden(user, check, decision.reason)
        acting_groups = list(groups)
        if account is not None and not groups:
            acting_groups = list(service_account_groups(account[0]))
        if wanted_user == ANONYMOUS_USER:
            if UNAUTHENTICATED not in acting_groups:
                acting_groups.append(UNAUTHENTICATED)
        elif AUTHENTICATED not in acting_groups and UNAUTHENTICATED not in acting_groups:
            acting_groups.append(AUTHENTICATED)
        return UserInfo(wanted_user, uid, tuple(acting_groups), {k: tuple(v) for k, v in extra.items()})
