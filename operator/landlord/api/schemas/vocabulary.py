"""The words of the Landlord API: group and version, value patterns, limit keys, enumerations."""

from __future__ import annotations

GROUP = "landlord.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
HOSTNAME = r"^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]([-a-z0-9]*[a-z0-9])?$"
DECIMAL = r"^\d+(\.\d{1,2})?$"
QUANTITY = r"^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][0-9]+|[kMGTPE]|Ki|Mi|Gi|Ti|Pi|Ei|m)?$"
LIMIT_KEYS = ("cpu", "memory", "storage", "pods", "databases", "databaseStorage", "customDomains", "users", "traffic")
COUNT_LIMITS = frozenset({"pods", "databases", "customDomains", "users"})
CYCLES = ("Monthly", "Yearly")
CUSTOMER_TYPES = ("Business", "Individual", "Charity", "Education")
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")
