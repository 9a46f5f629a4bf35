"""Money rules shared by the workflows: Decimal only, yuan with two decimals (分).

Rounding rule: computed grants (a ratio times a cost) are rounded *down* to the fen (0.01 yuan), so a
grant never exceeds its ratio of the cost; entered amounts must already have at most two decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from chaoyun.errors import Invalid
from chaoyun.i18n import N_

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("999999999999.99")


def grant_of(base: Decimal, ratio: Decimal) -> Decimal:
    """``base × ratio`` rounded down to the fen."""
    return (base * ratio).quantize(FEN, rounding=ROUND_DOWN)


def parse_amount(raw: object, field: str) -> Decimal:
    """An amount typed by a person: positive, at most two decimals, never via float."""
    if isinstance(raw, float):
        raise Invalid(N_("Amounts must be given as exact decimals, not floating point."), field=field)
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise Invalid(N_("“%(value)s” is not an amount in yuan."), value=str(raw)[:40], field=field) from None
    if not value.is_finite() or value <= 0 or value > MAX_AMOUNT:
        raise Invalid(N_("Amounts must be positive yuan figures."), field=field)
    if value != value.quantize(FEN):
        raise Invalid(N_("Amounts have at most two decimals (fen)."), field=field)
    return value.quantize(FEN)


def yuan(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(FEN):,}"


@dataclass
class SpendingRow:
    """Money granted in one year, district and industry (vouchers and subsidies report the same shape)."""

    year: int
    district: str | None
    cluster: str | None
    count: int
    amount: Decimal
