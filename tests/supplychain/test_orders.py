"""Orders between enterprises on a real database: partnerships, orders and their checks, the supplier's answers
(a confirmed line becomes the supplier's work order), shipments of production lots, receipts with inspection,
returns, progress from the counters, and the public calls other contexts use."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from chaoyun.production import service as production
from chaoyun.supplychain import logistics, progress, public, service
from chaoyun.supplychain.logistics import LotOut
from chaoyun.supplychain.models import Event, OrderLine, PurchaseOrder, Receipt, Shipment
from tests.supplychain.helpers import DUE, line, make, order, pair


def _orders(db: Session, buyer: int) -> int:
    return int(db.execute(select(func.count()).where(PurchaseOrder.buyer_org_id == buyer)).scalar_one())


def test_partnership_invite_accept_end(db: Session) -> None:
    p = pair(db, partners=False)
    with pytest.raises(Invalid) as e:
        order(db, p)
    assert e.value.field == "supplier_org_id" and "邀请" in e.value.messages()["zh"]
    inv = service.invite(db, p.lead.admin, p.supplier.org.id, "请加入")
    with pytest.raises(Conflict):
        service.invite(db, p.lead.admin, p.supplier.org.id)
    with pytest.raises(Forbidden):  # only the supplier answers
        service.answer_invitation(db, p.lead.admin, inv.id, accept=True)
    service.answer_invitation(db, p.supplier.admin, inv.id, accept=True)
    with pytest.raises(Conflict):  # a second answer
        service.answer_invitation(db, p.supplier.admin, inv.id, accept=False)
    assert order(db, p).state == "open"
    service.end_partnership(db, p.supplier.admin, inv.id)
    with pytest.raises(Invalid):
        order(db, p)
    # Re-invited after the end, accepted again.
    again = service.invite(db, p.lead.admin, p.supplier.org.id)
    assert again.id == inv.id and again.state == "invited"
    kinds = {e.kind for e in db.execute(select(Event).where(Event.org_id == p.lead.org.id)).scalars()}
    assert "invitation" in kinds


@pytest.mark.parametrize(
    ("bad", "field", "en"),
    [
        (line(qty=-5), "lines.1.quantity", "positive whole number"),
        (line(qty=0), "lines.1.quantity", "positive whole number"),
        (line(due=timefmt.local_today() - timedelta(days=1)), "lines.1.due_date", "past"),
        (line(price="-1"), "lines.1.unit_price", "zero or more"),
        (line(price="1.00001"), "lines.1.unit_price", "four decimals"),
        (line(code=""), "lines.1.item_code", "item code"),
    ],
)
def test_bad_lines_refused_nothing_saved(db: Session, bad: object, field: str, en: str) -> None:
    p = pair(db)
    before = _orders(db, p.lead.org.id)
    with pytest.raises(Invalid) as e:
        order(db, p, line(), bad)  # type: ignore[arg-type]
    assert e.value.field == field
    m = e.value.messages()
    assert en in m["en"] and "第 2 行" in m["zh"]
    assert _orders(db, p.lead.org.id) == before
    assert db.execute(select(func.count()).where(OrderLine.buyer_org_id == p.lead.org.id)).scalar_one() == 0


def test_confirm_makes_the_suppliers_work_order_once(db: Session) -> None:
    p = pair(db)
    po = order(db, p, line(qty=300), line(code="OTHER", qty=5))
    l1, l2 = po.lines
    stranger = pair(db).lead
    with pytest.raises(NotFound):
        service.confirm_line(db, stranger.admin, l1.id)
    with pytest.raises(Forbidden):
        service.confirm_line(db, p.lead.admin, l1.id)
    with pytest.raises(Invalid) as e:  # the supplier has no item OTHER: choose one
        service.confirm_line(db, p.supplier.admin, l2.id)
    assert e.value.field == "item_id"
    assert db.get(OrderLine, l2.id).state == "open"  # type: ignore[union-attr]
    done = service.confirm_line(db, p.supplier.member, l1.id)
    assert done.state == "confirmed" and done.work_order_id
    wo = production.get_work_order(db, p.supplier.admin, done.work_order_id)
    assert (wo.number, wo.quantity, wo.due_date, wo.org_id) == (f"{po.number}-1", 300, DUE, p.supplier.org.id)
    with pytest.raises(Conflict) as c:
        service.confirm_line(db, p.supplier.admin, l1.id)
    assert "answered already" in c.value.messages()["en"]
    with pytest.raises(NotFound):  # the lead never sees the supplier's work order itself
        production.get_work_order(db, p.lead.admin, wo.id)


def test_proposal_accept_then_confirm_and_decline_closes(db: Session) -> None:
    p = pair(db)
    po = order(db, p, line(qty=100), line(qty=50))
    a, b = po.lines
    with pytest.raises(Invalid):
        service.propose_change(db, p.supplier.admin, a.id, -3, None)
    with pytest.raises(Invalid):
        service.propose_change(db, p.supplier.admin, a.id, None, timefmt.local_today() - timedelta(days=2))
    later = DUE + timedelta(days=5)
    service.propose_change(db, p.supplier.admin, a.id, 80, later, "模具产能")
    with pytest.raises(Conflict):  # a proposed line cannot be confirmed before the lead answers
        service.confirm_line(db, p.supplier.admin, a.id)
    got = service.answer_proposal(db, p.lead.admin, a.id, accept=True)
    assert (got.state, got.quantity, got.due_date) == ("open", 80, later)
    assert service.confirm_line(db, p.supplier.admin, a.id).state == "confirmed"
    service.decline_line(db, p.supplier.admin, b.id, "无产能")
    db.refresh(po)
    assert po.state == "open"
    po2 = order(db, p, line())
    service.cancel_line(db, p.lead.admin, po2.lines[0].id)
    db.refresh(po2)
    assert po2.state == "cancelled"


def test_shipment_receipt_return_and_public_calls(db: Session) -> None:
    p = pair(db)
    po = order(db, p, line(qty=100, price="2.50"))
    ln = service.confirm_line(db, p.supplier.admin, po.lines[0].id)
    lot = make(db, p, ln, 120)
    assert lot is not None
    # Progress from the counters: 120 made of 100.
    progress.refresh(db, [ln.id])
    db.refresh(ln)
    assert ln.made_qty == 120 and ln.risk == "on_track"
    with pytest.raises(Invalid) as e:  # larger than the open quantity
        logistics.create_shipment(db, p.supplier.admin, po.id, [LotOut(ln.id, lot.number, 101)])
    assert "still open" in e.value.messages()["en"]
    with pytest.raises(Invalid):
        logistics.create_shipment(db, p.supplier.admin, po.id, [LotOut(ln.id, "NO-SUCH-LOT", 10)])
    with pytest.raises(Invalid):
        logistics.create_shipment(db, p.supplier.admin, po.id, [LotOut(ln.id, lot.number, -1)])
    with pytest.raises(Forbidden):
        logistics.create_shipment(db, p.lead.admin, po.id, [LotOut(ln.id, lot.number, 10)])
    assert db.execute(select(func.count()).where(Shipment.order_id == po.id)).scalar_one() == 0
    s1 = logistics.create_shipment(db, p.supplier.admin, po.id, [LotOut(ln.id, lot.number, 60)])
    s2 = logistics.create_shipment(db, p.supplier.admin, po.id, [LotOut(ln.id, lot.number, 40)])
    db.refresh(ln)
    assert ln.shipped_qty == 100
    with pytest.raises(Invalid):  # nothing open any more
        logistics.create_shipment(db, p.supplier.admin, po.id, [LotOut(ln.id, lot.number, 1)])
    forward = public.shipments_of_lots(db, [lot.id])
    assert [(s.shipment_number, s.quantity, s.inspection, s.received_at) for s in forward] == [
        (s1.number, 60, None, None),
        (s2.number, 40, None, None),
    ]
    assert forward[0].customer_org_id == p.lead.org.id and forward[0].customer_name == p.lead.org.name
    assert forward[0].lot_number == lot.number and forward[0].item_code == "SHELL"
    with pytest.raises(Forbidden):
        logistics.receive(db, p.supplier.admin, s1.id, {s1.lots[0].id: "pass"})
    with pytest.raises(Invalid):
        logistics.receive(db, p.lead.admin, s1.id, {})
    r1 = logistics.receive(db, p.lead.admin, s1.id, {s1.lots[0].id: "pass"})
    with pytest.raises(Conflict):  # received once
        logistics.receive(db, p.lead.admin, s1.id, {s1.lots[0].id: "pass"})
    r2 = logistics.receive(db, p.lead.admin, s2.id, {s2.lots[0].id: "fail"}, {s2.lots[0].id: "毛边"})
    assert public.receipt_value(db, r1.id) == Decimal("150.00")
    assert public.receipt_value(db, r2.id) == Decimal("0.00")
    db.refresh(ln)
    assert (ln.accepted_qty, ln.returned_qty, ln.state) == (60, 40, "confirmed")
    assert logistics.open_to_ship(ln) == 40
    views = public.receipts_between(db, p.lead.org.id, p.supplier.org.id)
    assert [(v.number, v.value) for v in views] == [(r1.number, Decimal("150.00")), (r2.number, Decimal("0.00"))]
    assert public.receipts_between(db, p.supplier.org.id, p.lead.org.id) == []
    back = public.shipments_received_as(db, p.lead.org.id, [lot.number, "unknown"])
    assert {(b.shipment_id, b.inspection) for b in back} == {(s1.id, "pass"), (s2.id, "fail")}
    assert all(b.received_at is not None and b.lot_id == lot.id for b in back)
    assert public.shipments_received_as(db, p.supplier.org.id, [lot.number]) == []
    # A later return of accepted goods takes value off the receipt.
    with pytest.raises(Invalid):
        logistics.create_return(db, p.lead.admin, r1.lots[0].id, 61, "划伤")
    with pytest.raises(Invalid):
        logistics.create_return(db, p.lead.admin, r1.lots[0].id, 5, "")
    logistics.create_return(db, p.lead.admin, r1.lots[0].id, 10, "划伤")
    assert public.receipt_value(db, r1.id) == Decimal("125.00")
    # The rest shipped and accepted: the line is delivered and the order closed.
    s3 = logistics.create_shipment(db, p.supplier.admin, po.id, [LotOut(ln.id, lot.number, 20)])
    with pytest.raises(Invalid):  # lot holds 120; 120 shipped already
        logistics.create_shipment(db, p.supplier.admin, po.id, [LotOut(ln.id, lot.number, 30)])
    logistics.receive(db, p.lead.admin, s3.id, {s3.lots[0].id: "pass"})
    db.refresh(ln)
    assert ln.accepted_qty == 70


def test_create_order_public_contract(db: Session) -> None:
    p = pair(db)
    oid = public.create_order(db, p.lead.admin, p.supplier.org.id, [line(qty=7)], reference="CAP-1", source="api")
    po = db.get(PurchaseOrder, oid)
    assert po is not None and po.reference == "CAP-1" and po.lines[0].quantity == 7
    with pytest.raises(Invalid):
        public.create_order(db, p.lead.admin, p.supplier.org.id, [line(qty=-1)])
    other = pair(db, partners=False)
    # A confirmed capacity booking needs no partnership.
    assert public.create_order(db, other.lead.admin, other.supplier.org.id, [line()], source="capacity") > 0
    assert public.receipt_value(db, 2**31 - 1) == Decimal("0.00")
    assert public.shipments_of_lots(db, []) == [] and public.shipments_received_as(db, 1, []) == []


def test_progress_not_started_and_late_risk(db: Session) -> None:
    p = pair(db)
    soon = timefmt.local_today() + timedelta(days=1)
    po = order(db, p, line(qty=100000, due=soon))
    ln = service.confirm_line(db, p.supplier.admin, po.lines[0].id)
    progress.refresh(db, [ln.id])
    db.refresh(ln)
    assert ln.risk == "at_risk" and ln.forecast_finish is None
    make(
        db, p, ln, 100, hours_ago=10, finish=False
    )  # packing still running: 10 pieces an hour for 100,000: far beyond tomorrow
    progress.refresh(db, [ln.id])
    db.refresh(ln)
    assert ln.made_qty == 100 and ln.risk == "late" and ln.forecast_finish is not None


def test_errors_are_bilingual(db: Session) -> None:
    p = pair(db)
    try:
        order(db, p, line(qty=-1))
    except AppError as e:
        m = e.messages()
        assert m["en"] != m["zh"] and m["zh"]
    assert db.execute(select(func.count()).where(Receipt.buyer_org_id == p.lead.org.id)).scalar_one() == 0
