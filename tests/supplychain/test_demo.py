"""The supply-chain demo: two toy makers, five suppliers with simulated machines; progress from their counters,
shipments received with the inspection rule, a late line flagged, the collaboration target counting them all;
seeding again changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.devices import demo as devices_demo
from chaoyun.programme import targets
from chaoyun.supplychain import demo
from chaoyun.supplychain.models import OrderLine, PurchaseOrder, Receipt


def test_demo_seed(db: Session, login: object) -> None:
    devices_demo.seed(db)
    sups = demo.suppliers(db)
    assert len(sups) == 5
    assert {s.model for s in sups} == {"injection_moulding", "cnc", "packaging"}
    supplier_org = demo._user_org(db, "supplier")
    assert supplier_org is not None and sups[0].org.id == supplier_org.id
    assert demo.seed(db) == 20
    lines = list(db.execute(select(OrderLine)).scalars())
    ours = [ln for ln in lines if ln.order.source == "demo"]
    assert len(ours) == 30
    confirmed = [ln for ln in ours if ln.state in ("confirmed", "delivered")]
    assert len(confirmed) == 20 and all(ln.work_order_number for ln in confirmed)
    # Progress is what the machines counted (a single-shift machine counts nothing at night).
    assert sum(ln.made_qty > 0 for ln in confirmed) >= 16, [(ln.item_code, ln.made_qty) for ln in confirmed]
    assert any(ln.risk == "late" for ln in confirmed)
    assert any(ln.risk == "on_track" for ln in confirmed)
    assert any(ln.state == "proposed" for ln in ours) and any(ln.state == "open" for ln in ours)
    receipts = db.execute(select(func.count()).select_from(Receipt)).scalar_one()
    assert receipts >= 10
    assert any(ln.accepted_qty > 0 for ln in ours)
    year = timefmt.local_today().year
    targets.load_rule_modules()
    assert targets.evaluate(db, "supplychain.platform_collaboration", year).value >= 7
    assert demo.seed(db) == 0
    assert (
        db.execute(select(func.count()).select_from(PurchaseOrder).where(PurchaseOrder.source == "demo")).scalar_one()
        == 20
    )
    # The pages of both sides show them.
    factory = login("factory")  # type: ignore[operator]
    page = factory.get("/supplychain")
    assert page.status_code == 200 and "progress-bar" in page.text and "PT-WHEEL" in page.text
    supplier = login("supplier")  # type: ignore[operator]
    inbox = supplier.get("/supplychain/inbox")
    assert inbox.status_code == 200 and "PT-WHEEL" in inbox.text
