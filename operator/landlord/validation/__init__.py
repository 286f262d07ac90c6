"""Structural-schema and CEL validation, as a Kubernetes API server applies it.

One engine shared by the API-server emulator (`landlord.devcluster`) and the offline check
(`landlord validate`); it depends on neither of them.
"""

from .cel_rules import RuleFailure, check_rule, evaluate_rules
from .errors import MISSING, FieldError
from .schema import Walker, WalkResult, validate_custom_resource

__all__ = [
    "MISSING",
    "FieldError",
    "RuleFailure",
    "WalkResult",
    "Walker",
    "check_rule",
    "evaluate_rules",
    "validate_custom_resource",
]
