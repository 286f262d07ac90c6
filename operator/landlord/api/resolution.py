"""Small pure facts about a tenant shared by the pipeline, the operator and the CLI.

`Refusal` is how the pipeline says "this tenant cannot be provisioned as it is"; the rules that
raise it live in `landlord.pipeline.rules`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class Refusal(Exception):
    """The tenant cannot be provisioned as it is: a phase, a reason and how to fix it."""

    def __init__(self, phase: str, reason: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.phase = phase
        self.reason = reason
        self.message = message
        self.field = field


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime (None for none)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """An aware datetime as the RFC 3339 text Kubernetes uses (seconds, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def suspension(spec: dict[str, Any], now: datetime) -> tuple[bool, str]:
    """Whether the tenant is suspended now, and why (Manual or Expired)."""
    if spec.get("suspend"):
        return True, "Manual"
    expires = parse_time(spec.get("expiresAt"))
    if expires is not None and expires <= now:
        return True, "Expired"
    return False, ""
