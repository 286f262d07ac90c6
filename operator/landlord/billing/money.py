"""Money as `decimal.Decimal`, rounded to the currency's minor unit with ROUND_HALF_UP.

Floats never appear: an amount is parsed from a decimal string (or an int), every line and
every discount is rounded once to the minor unit, and sums of rounded amounts stay exact.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 currencies whose minor unit is not the cent; every other code has two decimals.
_MINOR_UNITS = {
    "BHD": 3,
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class MoneyError(ValueError):
    """A text that is not a decimal amount (or percent) as Landlord writes them."""


def minor_units(currency: str) -> int:
    """Decimals of the currency's minor unit: 2 for EUR and USD, 0 for JPY, 3 for KWD."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    """The smallest amount of the currency (0.01 for EUR)."""
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The amount rounded to the currency's minor unit, halves away from zero (ROUND_HALF_UP)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def parse_decimal(value: object, what: str = "amount") -> Decimal:
    """A decimal string or an int as an exact Decimal; floats are refused (they are not exact)."""
    if isinstance(value, bool | float):
        raise MoneyError(f'{value!r} is a {type(value).__name__}; write the {what} as a decimal string, e.g. "49.00"')
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise MoneyError(f"{value!r} is not a decimal {what}")
    text = value.strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise MoneyError(f'{value!r} is not a decimal {what}, e.g. "49.00"') from None
    if not number.is_finite() or "e" in text.lower():
        raise MoneyError(f'{value!r} is not a decimal {what}, e.g. "49.00"')
    return number


def plain(number: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros: 20, 5.5, 0.125."""
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")


def format_money(amount: Decimal, currency: str) -> str:
    """The amount with exactly the currency's decimals: "49.00" for EUR, "1200" for JPY."""
    return str(round_money(amount, currency))


def percent_of(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    """`percent` % of `amount`, rounded to the minor unit."""
    return round_money(amount * percent / HUNDRED, currency)
