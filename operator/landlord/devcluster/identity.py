"""Who is asking: the user a request authenticates as, after impersonation.

The request handler sets it once per request (`authenticated`); authorization (RBAC) and
admission (ValidatingAdmissionPolicy `request.userInfo`) read it with `current()`, so the
write path does not thread it through every call.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
SERVICE_ACCOUNTS = "system:serviceaccounts"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class UserInfo:
    """authentication.k8s.io/v1 UserInfo: what RBAC and admission see of the requester."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        """Members of system:masters pass authorization (as on a real API server), not admission."""
        return MASTERS in self.groups

    def as_dict(self) -> dict[str, object]:
        """The JSON form (`request.userInfo` in CEL, SubjectAccessReview)."""
        out: dict[str, object] = {"username": self.username, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


# The kubeconfig the emulator writes authenticates as this user (the cluster admin).
ADMIN = UserInfo("landlord-dev-admin", groups=(MASTERS, AUTHENTICATED))

# What a request without credentials is when anonymous authentication is on (the real default).
ANONYMOUS = UserInfo(ANONYMOUS_USER, groups=(UNAUTHENTICATED,))


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a `system:serviceaccount:NS:NAME` username, else None."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """The groups a ServiceAccount's token authenticates with (all SAs, and those of its namespace)."""
    return (SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{namespace}")


def service_account(namespace: str, name: str) -> UserInfo:
    """The user a ServiceAccount token authenticates as."""
    return authenticated_user(UserInfo(f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"))


def authenticated_user(user: UserInfo) -> UserInfo:
    """`user` as an authenticator hands it on: ServiceAccount names get their SA groups (when given
    none) and every authenticated user but system:anonymous is in system:authenticated."""
    groups = list(user.groups)
    account = split_service_account(user.username)
    if account is not None and not groups:
        groups = list(service_account_groups(account[0]))
    if user.username != ANONYMOUS_USER and AUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return UserInfo(user.username, user.uid, tuple(groups), dict(user.extra))


_current: contextvars.ContextVar[UserInfo] = contextvars.ContextVar("landlord_devcluster_user", default=ADMIN)


def current() -> UserInfo:
    """The user of the request being served (the admin outside a request: in-process calls)."""
    return _current.get()


def authenticated(user: UserInfo) -> contextvars.Token[UserInfo]:
    """Makes `user` the current one for the rest of this request's task."""
    return _current.set(user)


@contextlib.contextmanager
def acting_as(user: UserInfo) -> Iterator[UserInfo]:
    """`user` is current inside the block, the previous user again after it (one request)."""
    token = _current.set(user)
    try:
        yield user
    finally:
        _current.reset(token)
