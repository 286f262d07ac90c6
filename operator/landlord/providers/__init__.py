"""Provider interfaces (Protocols) for external systems, one real implementation each.

`base` holds what every provider shares; `registry` selects and validates them from the
operator configuration. Each external system gets one module here with its Protocol and its
implementation (the database, ACME certificates, DNS, S3 backups, the Prometheus meters).
"""

from .base import CAPABILITIES, Provider, ProviderError, ProviderSpec
from .registry import ProviderConfigError, Providers, available, load_providers, problems, register, unregister

__all__ = [
    "CAPABILITIES",
    "Provider",
    "ProviderConfigError",
    "ProviderError",
    "ProviderSpec",
    "Providers",
    "available",
    "load_providers",
    "problems",
    "register",
    "unregister",
]
