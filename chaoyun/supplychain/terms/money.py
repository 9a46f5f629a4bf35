"""Money of the supply-chain sub-contexts: ``Decimal`` yuan in code and pages, integer fen in the tables (sums and
the race-safe conditional updates are exact on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from chaoyun.errors import Invalid
from chaoyun.i18n import N_

CENT = Decimal("0.01")
MAX_YUAN = Decimal("999999999999.99")


def to_fen(value: Decimal) -> int:
    return int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))


def yuan(fen: int | None) -> Decimal:
    return (Decimal(int(fen or 0)) / 100).quantize(CENT)


def parse_amount(raw: object, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """A positive amount in yuan with at most two decimals; refusals name the field, in both languages."""
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise Invalid(N_("Enter an amount in yuan, e.g. 1250.50."), field=field) from None
    if not value.is_finite():
        raise Invalid(N_("Enter an amount in yuan, e.g. 1250.50."), field=field)
    if value < 0:
        raise Invalid(N_("The amount cannot be negative."), field=field)
    if value == 0 and not allow_zero:
        raise Invalid(N_("The amount must be above zero."), field=field)
    if value != value.quantize(CENT):
        raise Invalid(N_("Amounts have at most two decimals (fen)."), field=field)
    if value > MAX_YUAN:
        raise Invalid(N_("The amount is too large."), field=field)
    return value.quantize(CENT)
