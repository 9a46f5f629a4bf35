"""Helpers of the capacity and payment-terms tests: enterprises with an admin actor, receipts of delivered goods
(the rows the supply-chain context's receiving writes: order, line, shipment with one lot, receipt with one lot)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import EnterpriseProfile, Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.supplychain.models import OrderLine, PurchaseOrder, Receipt, ReceiptLot, Shipment, ShipmentLot


def enterprise(db: Session, name: str, district: str = "chenghai", cluster: str = "toys") -> Organisation:
    org = Organisation(kind="enterprise", name=f"{name}{secrets.token_hex(3)}", district=district, status="active")
    db.add(org)
    db.flush()
    db.add(
        EnterpriseProfile(
            org_id=org.id,
            industry_code="2450",
            cluster=cluster,
            employees=50,
            annual_revenue=Decimal("2000"),
            size_class="small",
        )
    )
    db.commit()
    return org


def admin(db: Session, org: Organisation, role: str = "enterprise_admin") -> Actor:
    u = User(username=f"u{secrets.token_hex(5)}", display_name="测试", password_hash="x")
    db.add(u)
    db.flush()
    m = Membership(user_id=u.id, org_id=org.id, role=role)
    db.add(m)
    db.commit()
    return Actor(user=u, membership=m)


def receipt(
    db: Session,
    buyer: Organisation,
    supplier: Organisation,
    value: Decimal,
    received_at: datetime | None = None,
) -> Receipt:
    received_at = received_at or datetime.now(UTC) - timedelta(days=1)
    tag = secrets.token_hex(4)
    po = PurchaseOrder(number=f"PO-{tag}", buyer_org_id=buyer.id, supplier_org_id=supplier.id, source="manual")
    db.add(po)
    db.flush()
    line = OrderLine(
        order_id=po.id,
        buyer_org_id=buyer.id,
        supplier_org_id=supplier.id,
        line_no=1,
        item_code="M-1",
        item_name="模具件",
        quantity=100,
        unit_price=value / 100,
        due_date=date.today(),
        state="confirmed",
    )
    db.add(line)
    db.flush()
    sh = Shipment(number=f"SH-{tag}", order_id=po.id, buyer_org_id=buyer.id, supplier_org_id=supplier.id)
    db.add(sh)
    db.flush()
    sl = ShipmentLot(
        shipment_id=sh.id,
        line_id=line.id,
        buyer_org_id=buyer.id,
        lot_number=f"L-{tag}",
        item_code="M-1",
        quantity=100,
        inspection="pass",
    )
    db.add(sl)
    db.flush()
    r = Receipt(
        number=f"GR-{tag}",
        shipment_id=sh.id,
        buyer_org_id=buyer.id,
        supplier_org_id=supplier.id,
        received_at=received_at,
    )
    db.add(r)
    db.flush()
    db.add(
        ReceiptLot(
            receipt_id=r.id,
            shipment_lot_id=sl.id,
            line_id=line.id,
            result="pass",
            received_qty=100,
            accepted_qty=100,
            unit_price=value / 100,
            value=value,
        )
    )
    db.commit()
    return r


def members(db: Session, org: Organisation) -> list[Membership]:
    return list(db.execute(select(Membership).where(Membership.org_id == org.id)).scalars())
