"""Samples for the supply-chain routes (tests/test_route_security.py): an order of the owner (as buyer) to a
sample supplier of its own, with an open line, a shipment in transit and a received one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.identity.models import Organisation
from chaoyun.supplychain.models import (
    OrderLine,
    Partnership,
    PurchaseOrder,
    Receipt,
    ReceiptLot,
    Shipment,
    ShipmentLot,
)

REF = "RS-SC-1"


def _supplier(db: Session, owner: Organisation) -> Organisation:
    name = f"RS供应商-{owner.id}"
    org = db.execute(select(Organisation).where(Organisation.name == name)).scalar_one_or_none()
    if org is None:
        org = Organisation(kind="enterprise", name=name, district=owner.district or "chenghai", status="active")
        db.add(org)
        db.commit()
    return org


def _partnership(db: Session, owner: Organisation) -> Partnership:
    sup = _supplier(db, owner)
    p = db.execute(
        select(Partnership).where(Partnership.buyer_org_id == owner.id, Partnership.supplier_org_id == sup.id)
    ).scalar_one_or_none()
    if p is None:
        p = Partnership(buyer_org_id=owner.id, supplier_org_id=sup.id, state="active")
        db.add(p)
        db.commit()
    return p


def _order(db: Session, owner: Organisation) -> PurchaseOrder:
    sup = _supplier(db, owner)
    _partnership(db, owner)
    po = db.execute(
        select(PurchaseOrder).where(PurchaseOrder.buyer_org_id == owner.id, PurchaseOrder.reference == REF)
    ).scalar_one_or_none()
    if po is not None:
        return po
    due = timefmt.local_today() + timedelta(days=30)
    po = PurchaseOrder(number=f"RS{owner.id:07d}", buyer_org_id=owner.id, supplier_org_id=sup.id, reference=REF)
    for no, state in ((1, "open"), (2, "confirmed"), (3, "confirmed")):
        po.lines.append(
            OrderLine(
                buyer_org_id=owner.id,
                supplier_org_id=sup.id,
                line_no=no,
                item_code="RS-ITEM",
                item_name="样例件",
                quantity=100,
                unit_price=Decimal("1.5"),
                due_date=due,
                state=state,
                shipped_qty=10 if no > 1 else 0,
            )
        )
    db.add(po)
    db.flush()
    for n, line in ((1, po.lines[1]), (2, po.lines[2])):
        s = Shipment(
            number=f"RS{owner.id:06d}{n}",
            order_id=po.id,
            buyer_org_id=owner.id,
            supplier_org_id=sup.id,
            state="sent" if n == 1 else "received",
        )
        s.lots.append(
            ShipmentLot(
                line_id=line.id,
                buyer_org_id=owner.id,
                lot_number=f"RS-LOT-{n}",
                item_code="RS-ITEM",
                quantity=10,
                inspection=None if n == 1 else "pass",
            )
        )
        db.add(s)
        db.flush()
        if n == 2:
            line.accepted_qty = 10
            r = Receipt(number=f"RSR{owner.id:06d}", shipment_id=s.id, buyer_org_id=owner.id, supplier_org_id=sup.id)
            r.lots.append(
                ReceiptLot(
                    shipment_lot_id=s.lots[0].id,
                    line_id=line.id,
                    result="pass",
                    received_qty=10,
                    accepted_qty=10,
                    unit_price=Decimal("1.5"),
                    value=Decimal("15.00"),
                )
            )
            db.add(r)
    db.commit()
    return po


def _shipment(db: Session, owner: Organisation, state: str) -> Shipment:
    po = _order(db, owner)
    return db.execute(select(Shipment).where(Shipment.order_id == po.id, Shipment.state == state)).scalars().first()  # type: ignore[return-value]


def sc_order_id(db: Session, owner: Organisation) -> str:
    return str(_order(db, owner).id)


def sc_line_id(db: Session, owner: Organisation) -> str:
    return str(_order(db, owner).lines[0].id)


def sc_shipment_id(db: Session, owner: Organisation) -> str:
    return str(_shipment(db, owner, "sent").id)


def sc_receipt_id(db: Session, owner: Organisation) -> str:
    s = _shipment(db, owner, "received")
    return str(db.execute(select(Receipt.id).where(Receipt.shipment_id == s.id)).scalar_one())


def sc_receipt_lot_id(db: Session, owner: Organisation) -> str:
    r = db.get(Receipt, int(sc_receipt_id(db, owner)))
    assert r is not None
    return str(r.lots[0].id)


def sc_partnership_id(db: Session, owner: Organisation) -> str:
    return str(_partnership(db, owner).id)


PATH_PARAMS = {
    "sc_order_id": sc_order_id,
    "sc_line_id": sc_line_id,
    "sc_shipment_id": sc_shipment_id,
    "sc_receipt_id": sc_receipt_id,
    "sc_receipt_lot_id": sc_receipt_lot_id,
    "sc_partnership_id": sc_partnership_id,
}


def _due() -> str:
    return (timefmt.local_today() + timedelta(days=20)).isoformat()


def _order_body(o: Organisation) -> dict[str, Any]:
    return {
        "supplier_org_id": o.id,
        "reference": "RS",
        "lines": [{"item_code": "X", "item_name": "X", "quantity": 5, "unit_price": "1.00", "due_date": _due()}],
    }


BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/supplychain/orders"): _order_body,
    ("POST", "/api/v1/supplychain/lines/{sc_line_id}/propose"): lambda o: {"quantity": 50},
    ("POST", "/api/v1/supplychain/lines/{sc_line_id}/decline"): lambda o: {"note": "x"},
    ("POST", "/api/v1/supplychain/orders/{sc_order_id}/shipments"): lambda o: {
        "lots": [{"line_id": 1, "lot_number": "RS-LOT-1", "quantity": 1}]
    },
    ("POST", "/api/v1/supplychain/shipments/{sc_shipment_id}/receive"): lambda o: {
        "results": [{"shipment_lot_id": 1, "result": "pass"}]
    },
    ("POST", "/api/v1/supplychain/receipt-lots/{sc_receipt_lot_id}/returns"): lambda o: {"quantity": 1, "reason": "x"},
    ("POST", "/api/v1/supplychain/partners"): lambda o: {"supplier_org_id": o.id},
    ("POST", "/supplychain/orders/new"): lambda o: {
        "supplier_org_id": str(o.id),
        "lines.0.item_code": "X",
        "lines.0.item_name": "X",
        "lines.0.quantity": "5",
        "lines.0.unit_price": "1",
        "lines.0.due_date": _due(),
    },
    ("POST", "/supplychain/lines/{sc_line_id}/propose"): lambda o: {"quantity": "50"},
    ("POST", "/supplychain/lines/{sc_line_id}/decline"): lambda o: {"note": "x"},
    ("POST", "/supplychain/receipt-lots/{sc_receipt_lot_id}/return"): lambda o: {"quantity": "1", "reason": "x"},
    ("POST", "/supplychain/partners/invite"): lambda o: {"supplier_org_id": str(o.id)},
}
