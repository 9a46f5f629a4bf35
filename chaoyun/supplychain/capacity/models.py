"""Tables of capacity sharing: offers, bookings, and the booked machine hours.

``supplychain_capacity_slots`` holds one row per booked machine hour with the primary key (device, hour): two
confirmations of the same hours on the same machine cannot both be written, on SQLite or PostgreSQL, whatever
the interleaving. Money is stored in fen (integers, exact sums on both databases) and handled as ``Decimal``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow

ORG_FK = "organisations.id"


class CapacityOffer(Base):
    """Hours per week of one machine type an enterprise offers to others over a period, at a price per hour."""

    __tablename__ = "supplychain_capacity_offers"
    __table_args__ = (Index("ix_supplychain_capacity_offers_search", "state", "machine_type", "valid_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    machine_type: Mapped[str] = mapped_column(String(64))  # device model key
    capability: Mapped[str] = mapped_column(String(300), default="")
    hours_per_week: Mapped[int] = mapped_column(Integer)
    price_fen: Mapped[int] = mapped_column(BigInteger)  # per machine hour
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)  # inclusive
    idle_hours_per_week: Mapped[int] = mapped_column(Integer, default=0)  # the computed proposal at publication
    loading_pct: Mapped[int | None] = mapped_column(Integer)  # measured loading at publication
    state: Mapped[str] = mapped_column(String(16), default="published")  # published | withdrawn
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every confirmation (a row lock)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CapacityBooking(Base):
    """A request for hours of an offer; confirmed by the owner on one machine, it is an order between the two."""

    __tablename__ = "supplychain_capacity_bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("supplychain_capacity_offers.id", ondelete="CASCADE"), index=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    requester_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    hours: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    item_name: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16), default="requested")  # requested | confirmed | declined | cancelled
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    downtime_id: Mapped[int | None] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(64), default="")
    requested_by_id: Mapped[int | None] = mapped_column(Integer)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    answer: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CapacitySlot(Base):
    """One booked hour of one machine (the hour's start, UTC)."""

    __tablename__ = "supplychain_capacity_slots"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("supplychain_capacity_bookings.id", ondelete="CASCADE"), index=True
    )
