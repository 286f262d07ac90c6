"""Billing periods and day counting, in UTC.

Billing counts whole UTC days. Something that happens at any time during a day (creation, a
plan change, the end of a trial) takes effect from the start of that day: an upgrade at 10:37
on the 10th bills the 10th on the new plan, and a 14-day trial that started on 20 January at
noon leaves 20 January to 2 February free and bills from 3 February. The days of a period
therefore add up exactly, whoever is on which plan.

A period is `[start, end)` in days: a calendar month (`2025-06`) or year (`2025`), or with
anniversary billing the month or year that starts on the tenant's creation day in that month
or year (a day the month does not have becomes its last day: 31 January gives 28 February).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

# Days before and after any real date: "since forever" and "until further notice".
EARLIEST = date.min
LATEST = date.max

MONTHLY, YEARLY = "Monthly", "Yearly"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_MONTH_NAMES = (
    "",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


class PeriodError(ValueError):
    """A period text that does not fit the tenant's cycle, or cannot be placed."""


@dataclass(frozen=True)
class Period:
    """Days `[start, end)` of one billing period, and how it was named (`2025-06`, `2025`)."""

    label: str
    cycle: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last(self) -> date:
        """The last day of the period."""
        return self.end - timedelta(days=1)

    def overlap(self, start: date, end: date) -> tuple[date, date] | None:
        """The days of `[start, end)` inside the period, or None when there are none."""
        low, high = max(start, self.start), min(end, self.end)
        return (low, high) if low < high else None

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def day_of(moment: datetime) -> date:
    """The UTC day a moment falls on (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def parse_period(text: str, cycle: str, anchor: date | None = None) -> Period:
    """The period named `text` for a tenant billed `cycle` (Monthly: `YYYY-MM`, Yearly: `YYYY`).

    `anchor`: the tenant's first day, for anniversary billing; None for calendar periods.
    """
    text = text.strip()
    if cycle == MONTHLY:
        match = _MONTH.match(text)
        if not match:
            hint = " (a year is for tenants billed Yearly)" if _YEAR.match(text) else ""
            raise PeriodError(f"{text!r} is not a month such as 2025-06; the tenant is billed Monthly{hint}")
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12 or year < 1:
            raise PeriodError(f"{text!r} is not a month such as 2025-06")
        after = _next_month(year, month)
        if anchor is None:
            return Period(text, cycle, date(year, month, 1), date(after[0], after[1], 1))
        return Period(text, cycle, _clamped(year, month, anchor.day), _clamped(*after, anchor.day))
    if cycle == YEARLY:
        match = _YEAR.match(text)
        if not match:
            hint = " (a month is for tenants billed Monthly)" if _MONTH.match(text) else ""
            raise PeriodError(f"{text!r} is not a year such as 2025; the tenant is billed Yearly{hint}")
        year = int(match[1])
        if year < 1 or year >= 9999:
            raise PeriodError(f"{text!r} is not a year such as 2025")
        if anchor is None:
            return Period(text, cycle, date(year, 1, 1), date(year + 1, 1, 1))
        return Period(
            text, cycle, _clamped(year, anchor.month, anchor.day), _clamped(year + 1, anchor.month, anchor.day)
        )
    raise PeriodError(f"unknown billing cycle {cycle!r}; use Monthly or Yearly")


def fraction(days: int, period: Period) -> Decimal:
    """The share of the period that `days` days are, exact (before any rounding)."""
    return Decimal(days) / Decimal(period.days)


def describe_span(start: date, end: date, period: Period) -> str:
    """Human words for days `[start, end)` of a period: the period's own name when whole."""
    if start == period.start and end == period.end:
        return whole_name(period)
    last = end - timedelta(days=1)
    first = f"{start.day} {_MONTH_NAMES[start.month]}"
    if start.year != last.year:
        first += f" {start.year}"
    return f"{first} to {last.day} {_MONTH_NAMES[last.month]} {last.year}"


def dates(period: Period) -> str:
    """`1 Jan 2025 to 31 Dec 2025`: the first and last day of the period."""
    first, last = period.start, period.last
    return f"{first.day} {_MONTH_NAMES[first.month]} {first.year} to {last.day} {_MONTH_NAMES[last.month]} {last.year}"


def whole_name(period: Period) -> str:
    """`Jun 2025` for a calendar month, `2025` for a calendar year, the dates otherwise."""
    calendar_month = period.start.day == 1 and period.cycle == MONTHLY
    calendar_year = period.start == date(period.start.year, 1, 1) and period.cycle == YEARLY
    if calendar_month:
        return f"{_MONTH_NAMES[period.start.month]} {period.start.year}"
    if calendar_year:
        return str(period.start.year)
    return dates(period)
