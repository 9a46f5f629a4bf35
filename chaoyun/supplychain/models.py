"""Tables of the supply-chain context: orders between enterprises.

A lead enterprise (buyer) and a supplier are partners once the supplier's admin accepts an invitation. Purchase
orders carry lines (item, quantity, price, due date); the supplier answers each line (confirm, propose a change,
decline). A confirmed line is linked to the supplier's own work order in its production core, so progress is read
from the supplier's real counters. Shipments (advance notices) carry the supplier's production lots; the buyer
receives them with an incoming inspection per lot; receipts hold the accepted quantity and value per lot;
returns send quantity back. Events are the notification feed of each side.

Buyer and supplier ids are repeated on lines, shipment lots and receipts so that each side's pages read one
index (the supplier's inbox, the buyer's overview) without joins over the whole cluster.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chaoyun.db import Base, UTCDateTime, utcnow

ORG_FK = "organisations.id"


class Partnership(Base):
    """A lead enterprise's invitation to a supplier; active once the supplier's admin accepts, ended by either."""

    __tablename__ = "supplychain_partnerships"
    __table_args__ = (
        UniqueConstraint("buyer_org_id", "supplier_org_id", name="uq_supplychain_partnerships_pair"),
        Index("ix_supplychain_partnerships_supplier_state", "supplier_org_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    supplier_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="invited")  # invited | active | declined | ended
    note: Mapped[str] = mapped_column(String(200), default="")
    invited_by: Mapped[str] = mapped_column(String(64), default="")
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by_org_id: Mapped[int | None] = mapped_column(Integer)


class PurchaseOrder(Base):
    __tablename__ = "supplychain_orders"
    __table_args__ = (
        UniqueConstraint("buyer_org_id", "number", name="uq_supplychain_orders_buyer_number"),
        Index("ix_supplychain_orders_buyer_state", "buyer_org_id", "state", "id"),
        Index("ix_supplychain_orders_supplier_state", "supplier_org_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    supplier_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | import | api | capacity | demo
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | closed | cancelled
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", lazy="selectin", order_by="OrderLine.line_no", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    """One line of a purchase order and the supplier's answer to it.

    States: open (waiting for the supplier) → confirmed | proposed (a change of quantity / date) | declined;
    proposed → open (the buyer accepted or refused the change; the supplier then confirms); open|proposed →
    cancelled (by the buyer); confirmed → delivered (accepted quantity reached the ordered one).
    """

    __tablename__ = "supplychain_order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no", name="uq_supplychain_order_lines_order_no"),
        Index("ix_supplychain_order_lines_supplier_state_due", "supplier_org_id", "state", "due_date", "id"),
        Index("ix_supplychain_order_lines_buyer_state_due", "buyer_org_id", "state", "due_date", "id"),
        Index("ix_supplychain_order_lines_confirmed_at", "confirmed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("supplychain_orders.id", ondelete="CASCADE"))
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    supplier_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    item_code: Mapped[str] = mapped_column(String(64))
    item_name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    due_date: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="open")
    proposed_quantity: Mapped[int | None] = mapped_column(Integer)
    proposed_due_date: Mapped[date | None] = mapped_column(Date)
    answer_note: Mapped[str] = mapped_column(String(200), default="")
    # The supplier's work order that makes this line (production_work_orders; read through production's service).
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("production_work_orders.id", ondelete="SET NULL"), index=True
    )
    work_order_number: Mapped[str] = mapped_column(String(64), default="")
    # Progress read from the supplier's work order (its machines' counters), refreshed by progress.refresh():
    # pieces made by the last operation, the forecast finish at the pace so far, and the risk against the due date.
    made_qty: Mapped[int] = mapped_column(Integer, default=0)
    forecast_finish: Mapped[datetime | None] = mapped_column(UTCDateTime)
    risk: Mapped[str] = mapped_column(String(16), default="")  # "" | on_track | at_risk | late | overdue
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipped_qty: Mapped[int] = mapped_column(Integer, default=0)
    accepted_qty: Mapped[int] = mapped_column(Integer, default=0)
    returned_qty: Mapped[int] = mapped_column(Integer, default=0)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    order: Mapped[PurchaseOrder] = relationship(back_populates="lines")


class Shipment(Base):
    """An advance shipping notice of one order: the supplier's lots and quantities."""

    __tablename__ = "supplychain_shipments"
    __table_args__ = (
        UniqueConstraint("supplier_org_id", "number", name="uq_supplychain_shipments_supplier_number"),
        Index("ix_supplychain_shipments_buyer_state", "buyer_org_id", "state", "id"),
        Index("ix_supplychain_shipments_supplier_state", "supplier_org_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int] = mapped_column(ForeignKey("supplychain_orders.id", ondelete="CASCADE"), index=True)
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    supplier_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="sent")  # sent | received | cancelled
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expected_at: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")

    lots: Mapped[list[ShipmentLot]] = relationship(
        back_populates="shipment", lazy="selectin", order_by="ShipmentLot.id", cascade="all, delete-orphan"
    )


class ShipmentLot(Base):
    """A supplier lot in a shipment, for one order line. ``lot_number`` is what the buyer records as material lot."""

    __tablename__ = "supplychain_shipment_lots"
    __table_args__ = (
        Index("ix_supplychain_shipment_lots_buyer_lot", "buyer_org_id", "lot_number"),
        Index("ix_supplychain_shipment_lots_lot_id", "lot_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("supplychain_shipments.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("supplychain_order_lines.id", ondelete="CASCADE"), index=True)
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    # The supplier's production lot (production_lots.id) when the lot was made on the platform.
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("production_lots.id", ondelete="SET NULL"))
    lot_number: Mapped[str] = mapped_column(String(64))
    item_code: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    inspection: Mapped[str | None] = mapped_column(String(8))  # pass | fail | None (not received yet)

    shipment: Mapped[Shipment] = relationship(back_populates="lots")
    line: Mapped[OrderLine] = relationship(lazy="joined")


class Receipt(Base):
    """The buyer's receipt of a shipment, after incoming inspection."""

    __tablename__ = "supplychain_receipts"
    __table_args__ = (
        UniqueConstraint("buyer_org_id", "number", name="uq_supplychain_receipts_buyer_number"),
        Index("ix_supplychain_receipts_pair_at", "buyer_org_id", "supplier_org_id", "received_at"),
        Index("ix_supplychain_receipts_supplier_at", "supplier_org_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("supplychain_shipments.id", ondelete="CASCADE"), unique=True)
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    supplier_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_by: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(200), default="")

    lots: Mapped[list[ReceiptLot]] = relationship(
        back_populates="receipt", lazy="selectin", order_by="ReceiptLot.id", cascade="all, delete-orphan"
    )


class ReceiptLot(Base):
    """Inspection result and accepted quantity / value of one shipped lot (value = accepted × the line's price)."""

    __tablename__ = "supplychain_receipt_lots"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("supplychain_receipts.id", ondelete="CASCADE"), index=True)
    shipment_lot_id: Mapped[int] = mapped_column(
        ForeignKey("supplychain_shipment_lots.id", ondelete="CASCADE"), unique=True
    )
    line_id: Mapped[int] = mapped_column(ForeignKey("supplychain_order_lines.id", ondelete="CASCADE"), index=True)
    result: Mapped[str] = mapped_column(String(8))  # pass | fail
    received_qty: Mapped[int] = mapped_column(Integer)
    accepted_qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    value: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    # SPC of the supplier's lot window at receipt (apps.quality), when the supplier measures it.
    spc: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(200), default="")

    receipt: Mapped[Receipt] = relationship(back_populates="lots")
    shipment_lot: Mapped[ShipmentLot] = relationship(lazy="joined")


class Return(Base):
    """Quantity sent back to the supplier: a failed lot at receipt, or accepted goods found bad later."""

    __tablename__ = "supplychain_returns"
    __table_args__ = (
        UniqueConstraint("buyer_org_id", "number", name="uq_supplychain_returns_buyer_number"),
        Index("ix_supplychain_returns_supplier", "supplier_org_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    receipt_lot_id: Mapped[int] = mapped_column(
        ForeignKey("supplychain_receipt_lots.id", ondelete="CASCADE"), index=True
    )
    line_id: Mapped[int] = mapped_column(ForeignKey("supplychain_order_lines.id", ondelete="CASCADE"), index=True)
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    supplier_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    # Value taken off the receipt (0 for a lot that failed inspection: it was never accepted).
    value: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """A change one side should know of (the notification feed; the home page's to-do counts open work)."""

    __tablename__ = "supplychain_events"
    __table_args__ = (Index("ix_supplychain_events_org_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("supplychain_orders.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(String(200))  # English msgid
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
