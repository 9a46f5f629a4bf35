"""The demo seeds of capacity sharing and payment terms run the real rules over simulated activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.supplychain.capacity import demo as capacity_demo
from chaoyun.supplychain.capacity.models import CapacityBooking, CapacityOffer
from chaoyun.supplychain.terms import demo as terms_demo
from chaoyun.supplychain.terms import service
from chaoyun.supplychain.terms.models import Invoice
from tests.apps.helpers import feed, new_device
from tests.supplychain.capacity_terms_helpers import enterprise, receipt
from tests.test_route_security import org_of


def test_capacity_demo_offers_from_measured_loading(db: Session) -> None:
    owner = org_of(db, "factory2")
    d = new_device(db, owner.id, "injection_moulding", "演示注塑机")
    now = datetime.now(UTC)
    pts = []
    for k in range(1, 8):
        day = timefmt.to_local(now - timedelta(days=k)).date()
        base = datetime(day.year, day.month, day.day, tzinfo=timefmt.zone())
        pts += [(base + timedelta(hours=7), {"state": "running"}), (base + timedelta(hours=11), {"state": "idle"})]
    feed(db, d, pts, now)
    made = capacity_demo.seed(db, now)
    assert made["offers"] >= 1 and made["confirmed"] == 1
    offer = db.execute(select(CapacityOffer).where(CapacityOffer.org_id == owner.id)).scalars().first()
    assert offer is not None and offer.loading_pct is not None and 0 < offer.loading_pct < 100
    assert offer.hours_per_week == offer.idle_hours_per_week
    b = db.execute(select(CapacityBooking).where(CapacityBooking.state == "confirmed")).scalar_one()
    assert b.order_id and b.device_id == d.id
    assert capacity_demo.seed(db, now) == {"offers": 0, "bookings": 0, "confirmed": 0}


def test_terms_demo_invoices_receipts_and_simulates_payments(db: Session) -> None:
    buyer = enterprise(db, "演示龙头")
    suppliers = [enterprise(db, f"演示供应商{i}") for i in range(4)]
    now = datetime.now(UTC)
    for s in suppliers:
        for age in (80, 35, 5):
            receipt(db, buyer, s, Decimal("1234.56"), now - timedelta(days=age))
    made = terms_demo.seed(db, now)
    assert made["invoices"] == 12 and made["terms"] == 4
    assert made["payments"] > 0 and made["overdue"] > 0
    ag = service.aging(db, buyer.id, "payer")
    assert ag.overdue > 0 and ag.open < Decimal("1234.56") * 12
    assert db.execute(select(func.count()).select_from(Invoice)).scalar_one() == 12
    assert terms_demo.seed(db, now)["invoices"] == 0
