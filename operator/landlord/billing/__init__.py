"""Billing: the pricing engine (pure) and what feeds it.

- `money`: Decimal amounts, minor units per currency, ROUND_HALF_UP.
- `periods`: billing periods (calendar or anniversary), whole UTC days, proration fractions.
- `tax`: EU membership, the reverse-charge rule and its mention.
- `pricing`: typed inputs -> `Invoice` (lines, discounts, tax, total); `price_invoice`.
- `inputs`: a Tenant document, its catalogue, the usage and the billing configuration -> the
  engine's input (`prepare`), every problem named by document and field.

Nothing here reads a file, the clock or a cluster (an import-linter contract holds it to that):
`landlord invoice preview` and the billing sidecar do the I/O around it.
"""

from .inputs import Prepared, prepare, read_usage
from .issues import Issue, PricingError
from .periods import Period, PeriodError, parse_period
from .pricing import (
    AddOnChange,
    AddOnTerms,
    BillTo,
    Coupon,
    Discount,
    Entitlement,
    Invoice,
    InvoiceInput,
    Line,
    MeteredPrice,
    PlanChange,
    PlanTerms,
    Usage,
    price_invoice,
)

__all__ = [
    "AddOnChange",
    "AddOnTerms",
    "BillTo",
    "Coupon",
    "Discount",
    "Entitlement",
    "Invoice",
    "InvoiceInput",
    "Issue",
    "Line",
    "MeteredPrice",
    "Period",
    "PeriodError",
    "PlanChange",
    "PlanTerms",
    "Prepared",
    "PricingError",
    "Usage",
    "parse_period",
    "prepare",
    "price_invoice",
    "read_usage",
]
