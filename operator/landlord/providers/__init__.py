"""Provider interfaces (Protocols) for external systems, one real implementation each.

`base` holds what every provider shares; `registry` selects and validates them from the
operator configuration. Each external system gets one module here with its Protocol and its
implementation (the database, ACME certificates, DNS, S3 backups, the Prometheus meters).
"""

from . import postgresql  # noqa: F401  (registers the `postgresql` database provider)
from .base import CAPABILITIES, Provider, ProviderError, ProviderSpec
from .database import DatabaseProvider, DatabaseRequest, DatabaseState, ServerAccess
from .objectstorage import ObjectStorage  # noqa: F401  (registers the `s3` objectStorage provider)
from .registry import (
    ProviderConfigError,
    Providers,
    available,
    check_sections,
    chosen,
    load_providers,
    problems,
    register,
    unregister,
)
from .usage import UsageSource, UsageWindow  # noqa: F401  (registers the metricsSource providers)

__all__ = [
    "CAPABILITIES",
    "DatabaseProvider",
    "DatabaseRequest",
    "DatabaseState",
    "Provider",
    "ProviderConfigError",
    "ProviderError",
    "ProviderSpec",
    "Providers",
    "ServerAccess",
    "available",
    "check_sections",
    "chosen",
    "load_providers",
    "problems",
    "register",
    "unregister",
]
