"""What stops an invoice from being priced, named by document and field.

The billing code is pure and knows no files: an `Issue` says which input (`Tenant`,
`Plan/professional`, `AddOn/extra-users-5`, `Reseller/webagency`, `usage`, `config`, `period`)
and which field in it, and the caller turns that into `path:line: field: message`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One reason the invoice cannot be priced (or, as a warning, something to know)."""

    where: str
    field: str
    message: str
    severity: str = "error"


class PricingError(ValueError):
    """The inputs cannot be priced; `issues` says why, each at its field."""

    def __init__(self, *issues: Issue) -> None:
        super().__init__("; ".join(f"{i.where}: {i.field}: {i.message}" for i in issues))
        self.issues = issues
