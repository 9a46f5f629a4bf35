"""What other contexts call in supply chain (documented in docs/interfaces.md, covered by contract tests).

- capacity sharing and payment terms (``chaoyun.supplychain.capacity`` / ``.terms``): ``create_order``,
  ``receipt_value``, ``receipts_between``;
- traceability (``chaoyun.trace``): ``shipments_of_lots`` (forward: where did these production lots go) and
  ``shipments_received_as`` (backward: which supplier lots became these material lots).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.supplychain import service
from chaoyun.supplychain.models import Receipt, ReceiptLot, Return, Shipment, ShipmentLot
from chaoyun.supplychain.service import NewLine

__all__ = [
    "NewLine",
    "ReceiptView",
    "ShippedLot",
    "create_order",
    "receipt_value",
    "receipts_between",
    "shipments_of_lots",
    "shipments_received_as",
]

CHUNK = 500


def create_order(
    db: Session,
    actor: Actor,
    supplier_org_id: int,
    lines: list[NewLine],
    *,
    reference: str = "",
    source: str = "manual",
) -> int:
    """Place a purchase order from the actor's enterprise to a supplier; returns its id.

    Checked as the pages check (positive quantities, prices ≥ 0 with at most four decimals, due dates from today,
    an active partnership — except ``source="capacity"``: a confirmed capacity booking is the agreement itself).
    Raises ``chaoyun.errors.Invalid`` (field ``lines.<i>.<field>``) and saves nothing on bad input; commits on success.
    """
    return service.create_order(db, actor, supplier_org_id, lines, reference=reference, source=source).id


@dataclass(frozen=True)
class ReceiptView:
    id: int
    number: str
    buyer_org_id: int
    supplier_org_id: int
    received_at: datetime
    value: Decimal  # accepted quantity × the line's price, less returns of accepted goods


def _values(db: Session, receipt_ids: Sequence[int]) -> dict[int, Decimal]:
    out: dict[int, Decimal] = {rid: Decimal("0.00") for rid in receipt_ids}
    for i in range(0, len(receipt_ids), CHUNK):
        ids = list(receipt_ids[i : i + CHUNK])
        for rid, v in db.execute(
            select(ReceiptLot.receipt_id, func.sum(ReceiptLot.value))
            .where(ReceiptLot.receipt_id.in_(ids))
            .group_by(ReceiptLot.receipt_id)
        ).all():
            out[rid] += Decimal(v or 0)
        for rid, v in db.execute(
            select(ReceiptLot.receipt_id, func.sum(Return.value))
            .join(Return, Return.receipt_lot_id == ReceiptLot.id)
            .where(ReceiptLot.receipt_id.in_(ids))
            .group_by(ReceiptLot.receipt_id)
        ).all():
            out[rid] -= Decimal(v or 0)
    return {k: v.quantize(Decimal("0.01")) for k, v in out.items()}


def receipt_value(db: Session, receipt_id: int) -> Decimal:
    """The accepted value of one receipt (Decimal, 2 places); 0.00 for an unknown id."""
    return _values(db, [receipt_id])[receipt_id]


def receipts_between(db: Session, buyer_org_id: int, supplier_org_id: int) -> list[ReceiptView]:
    """Every receipt of goods the buyer took from the supplier, oldest first."""
    rows = db.execute(
        select(Receipt.id, Receipt.number, Receipt.buyer_org_id, Receipt.supplier_org_id, Receipt.received_at)
        .where(Receipt.buyer_org_id == buyer_org_id, Receipt.supplier_org_id == supplier_org_id)
        .order_by(Receipt.received_at, Receipt.id)
    ).all()
    values = _values(db, [r[0] for r in rows])
    return [ReceiptView(r[0], r[1], r[2], r[3], r[4], values[r[0]]) for r in rows]


@dataclass(frozen=True)
class ShippedLot:
    shipment_id: int
    shipment_number: str
    supplier_org_id: int
    customer_org_id: int
    customer_name: str
    lot_id: int | None  # the supplier's production_lots.id
    lot_number: str  # the supplier's lot number = the material lot the customer records
    item_code: str
    quantity: int
    shipped_at: datetime
    received_at: datetime | None
    inspection: str | None  # "pass" | "fail" | None (not received yet)


def _shipped(db: Session, where: Select) -> list[ShippedLot]:  # type: ignore[type-arg]
    return [
        ShippedLot(
            shipment_id=r.shipment_id,
            shipment_number=r.number,
            supplier_org_id=r.supplier_org_id,
            customer_org_id=r.buyer_org_id,
            customer_name=r.name,
            lot_id=r.lot_id,
            lot_number=r.lot_number,
            item_code=r.item_code,
            quantity=r.quantity,
            shipped_at=r.shipped_at,
            received_at=r.received_at,
            inspection=r.inspection,
        )
        for r in db.execute(where).all()
    ]


def _base() -> Select:  # type: ignore[type-arg]
    return (
        select(
            ShipmentLot.shipment_id,
            Shipment.number,
            Shipment.supplier_org_id,
            ShipmentLot.buyer_org_id,
            Organisation.name,
            ShipmentLot.lot_id,
            ShipmentLot.lot_number,
            ShipmentLot.item_code,
            ShipmentLot.quantity,
            Shipment.shipped_at,
            Receipt.received_at,
            ShipmentLot.inspection,
        )
        .join(Shipment, Shipment.id == ShipmentLot.shipment_id)
        .join(Organisation, Organisation.id == ShipmentLot.buyer_org_id)
        .outerjoin(Receipt, Receipt.shipment_id == Shipment.id)
        .where(Shipment.state != "cancelled")
    )


def shipments_of_lots(db: Session, lot_ids: Sequence[int]) -> list[ShippedLot]:
    """Forward trace: every shipment (not cancelled) that carried any of these production lots, by shipment."""
    out: list[ShippedLot] = []
    ids = sorted(set(lot_ids))
    for i in range(0, len(ids), CHUNK):
        out += _shipped(db, _base().where(ShipmentLot.lot_id.in_(ids[i : i + CHUNK])))
    return sorted(out, key=lambda s: (s.shipped_at, s.shipment_id, s.lot_number))


def shipments_received_as(db: Session, customer_org_id: int, lot_numbers: Sequence[str]) -> list[ShippedLot]:
    """Backward trace: the supplier lots shipped to this customer under these lot numbers (the material lots it
    records when it consumes them)."""
    out: list[ShippedLot] = []
    nums = sorted({n.strip() for n in lot_numbers if n and n.strip()})
    for i in range(0, len(nums), CHUNK):
        out += _shipped(
            db,
            _base().where(ShipmentLot.buyer_org_id == customer_org_id, ShipmentLot.lot_number.in_(nums[i : i + CHUNK])),
        )
    return sorted(out, key=lambda s: (s.shipped_at, s.shipment_id, s.lot_number))
