"""Who is asking: the user a request authenticates as, after impersonation.

The request handler sets it once per request (`authenticated`); authorization (RBAC) and
admission (ValidatingAdmissionPolicy `request.userInfo`) read it with `current()`, so the
write path does not thread it through every call.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"


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

_current: contextvars.ContextVar[UserInfo] = contextvars.ContextVar("landlord_devcluster_user", default=ADMIN)


def current() -> UserInfo:
    """The user of the request being served (the admin outside a request: in-process calls)."""
    return _current.get()


def authenticated(user: UserInfo) -> contextvars.Token[UserInfo]:
    """Makes `user` the current one for the rest of this request's task."""
    return _current.set(user)
