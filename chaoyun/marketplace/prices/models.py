"""Tariffs and prices recorded by providers: carriers' dedicated-line and data-traffic tariffs, cloud
providers' list and programme prices. The plan's −30 % tariff target (item 2) and ≥ 30 % cloud discount
target (item 5) are computed from these records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow


class PriceRecord(Base):
    """One dated price of one item of one provider (a new price is a new record; none is ever edited)."""

    __tablename__ = "market_price_records"
    __table_args__ = (
        UniqueConstraint("org_id", "kind", "item", "effective_from", name="uq_market_price_records_item_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # dedicated_line | data_traffic | cloud_resource | cloud_software
    item: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(24))
    list_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    # What enterprises of the programme pay (after the programme's reductions); None: list price applies.
    programme_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    effective_from: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
