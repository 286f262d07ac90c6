"""What every provider shares: a capability, a configuration schema, credentials, errors.

A provider is the one real implementation of an interface to an external system (PostgreSQL,
an ACME CA, a DNS server, S3, Prometheus), chosen by the operator configuration section of
its capability (`database.provider: postgresql`). Its section is validated against the
provider's own schema at start: unknown keys and missing credentials are errors that name the
key, so a typo fails the start, not the first tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..redaction import redact

# Capabilities, each a section of the operator configuration.
CAPABILITIES = ("database", "certificates", "dns", "backups", "metricsSource", "objectStorage")


class ProviderError(Exception):
    """An external system said no, or could not be reached. The text is always redacted.

    `retryable`: the same call may succeed later (a server down, a timeout); otherwise a
    person must act (permission denied, a limit reached), and the component reports Failed.
    """

    def __init__(self, message: str, retryable: bool = True, reason: str = "ProviderError") -> None:
        self.message = redact(message)
        self.retryable = retryable
        self.reason = reason
        super().__init__(self.message)


@runtime_checkable
class Provider(Protocol):
    """The part of every provider interface the operator itself uses."""

    name: str

    async def close(self) -> None:
        """Releases connections; called when the operator stops."""
        ...


@dataclass(frozen=True)
class ProviderSpec:
    """How to build one provider from its configuration section.

    `schema` is a JSON schema of the section's keys besides `provider`; `credentials` lists the
    keys that must be present and non-empty (named in the error when missing).
    """

    capability: str
    name: str
    factory: Callable[[dict[str, Any]], Provider]
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    credentials: tuple[str, ...] = ()
    description: str = ""
