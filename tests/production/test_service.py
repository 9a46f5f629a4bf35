"""The production rules on a real database: items, routings, work orders and their guarded transitions,
operation reports with counts from the machine's counters, lots, the machine queue, imports."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.production import imports, service
from chaoyun.production.models import Item, WorkOrder
from chaoyun.production.schemas import ItemIn, LotIn, LotMaterialIn, OpMachineIn, RoutingOpIn, WorkOrderIn
from tests.apps.helpers import feed, local
from tests.production.helpers import Firm, firm, product

FUTURE = timefmt.local_today() + timedelta(days=30)


def _wo(db: Session, f: Firm, item: Item, number: str = "WO-1", quantity: int = 100, **kw: Any) -> WorkOrder:
    return service.create_work_order(
        db, f.admin, WorkOrderIn(number=number, item_id=item.id, quantity=quantity, due_date=FUTURE, **kw)
    )


def _count(db: Session, model: Any, org_id: int) -> int:
    return int(db.execute(select(func.count()).select_from(model).where(model.org_id == org_id)).scalar_one())


def test_items_and_routing_rules(db: Session) -> None:
    f = firm(db)
    other = firm(db, "别家厂")
    item = product(db, f)
    assert [o.seq for o in item.operations] == [10, 20]
    assert {m.cycle_s for m in item.operations[0].machines} == {24.0, 30.0}
    with pytest.raises(Conflict):
        service.create_item(db, f.admin, ItemIn(code="BLK", name="重复"))
    with pytest.raises(Invalid) as e:
        service.create_item(db, f.admin, ItemIn(code="X", name="X", kind="widget"))
    assert e.value.field == "kind"
    db.rollback()

    def refused(ops: list[RoutingOpIn]) -> Invalid:
        with pytest.raises(Invalid) as exc:
            service.set_routing(db, f.admin, item.id, ops)
        db.rollback()
        return exc.value

    no_machine = refused([RoutingOpIn(seq=10, name="注塑", machines=[])])
    assert "no eligible machine" in no_machine.messages()["en"] and "设备" in no_machine.messages()["zh"]
    foreign = refused([RoutingOpIn(seq=10, name="注塑", machines=[OpMachineIn(device_id=other.im1.id, cycle_s=20)])])
    assert foreign.field == "operations.0.machines.0.device_id"
    for bad in (0.0, -5.0):
        err = refused([RoutingOpIn(seq=10, name="注塑", machines=[OpMachineIn(device_id=f.im1.id, cycle_s=bad)])])
        assert err.field == "operations.0.machines.0.cycle_s"
    # Nothing half-saved: the routing is what it was.
    db.expire_all()
    again = service.get_item(db, f.admin, item.id)
    assert [o.seq for o in again.operations] == [10, 20] and len(again.operations[0].machines) == 2
    # Another enterprise's item is a 404.
    with pytest.raises(NotFound):
        service.get_item(db, other.admin, item.id)


def test_work_order_input_and_transitions(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    mat = service.create_item(db, f.admin, ItemIn(code="ABS", name="ABS粒料", unit="kg", kind="material"))
    bare = service.create_item(db, f.admin, ItemIn(code="NOROUTE", name="无工艺"))
    cases = [
        (dict(quantity=-5), "quantity"),
        (dict(quantity=0), "quantity"),
        (dict(due_date=timefmt.local_today() - timedelta(days=1)), "due_date"),
        (dict(item_id=mat.id), "item_id"),
        (dict(item_id=bare.id), "item_id"),
        (dict(priority=0), "priority"),
    ]
    for over, field in cases:
        data = {"number": "BAD", "item_id": item.id, "quantity": 10, "due_date": FUTURE} | over
        with pytest.raises(Invalid) as e:
            service.create_work_order(db, f.admin, WorkOrderIn(**data))
        db.rollback()
        assert e.value.field == field, over
    assert _count(db, WorkOrder, f.org.id) == 0
    wo = _wo(db, f, item)
    assert wo.state == "planned" and [o.seq for o in wo.operations] == [10, 20]
    with pytest.raises(Conflict):
        _wo(db, f, item)
    db.rollback()
    with pytest.raises(Conflict) as c:
        service.transition(db, f.admin, wo.id, "running")
    msg = c.value.messages()
    assert "WO-1" in msg["en"] and "Planned" in msg["en"] and "已计划" in msg["zh"] and "planned" not in msg["zh"]
    db.rollback()
    service.transition(db, f.admin, wo.id, "released")
    service.transition(db, f.admin, wo.id, "planned")
    service.transition(db, f.admin, wo.id, "cancelled")
    with pytest.raises(Conflict):
        service.transition(db, f.admin, wo.id, "released")
    db.rollback()


def test_reports_from_counters_pause_and_second_finish(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    wo = _wo(db, f, item, quantity=200)
    op10, op20 = wo.operations
    day = (2026, 3, 10)
    # The machine's counters: 30 pieces made during the pause must not count for the work order.
    feed(
        db,
        f.im1,
        [
            (local(*day, 7, 59), {"good_count": 1000, "reject_count": 10}),
            (local(*day, 8, 30), {"good_count": 1050}),
            (local(*day, 8, 59), {"good_count": 1100, "reject_count": 14}),
            (local(*day, 9, 30), {"good_count": 1130}),
            (local(*day, 10, 30), {"good_count": 1200, "reject_count": 17}),
            (local(*day, 10, 59), {"good_count": 1250, "reject_count": 20}),
        ],
        local(*day, 12),
    )
    with pytest.raises(Conflict):  # not released yet
        service.start_operation(db, f.member, op10.id, f.im1.id, at=local(*day, 8))
    db.rollback()
    service.transition(db, f.admin, wo.id, "released")
    with pytest.raises(Invalid):  # the packing machine is not eligible for moulding
        service.start_operation(db, f.member, op10.id, f.pack.id, at=local(*day, 8))
    db.rollback()
    r = service.start_operation(db, f.member, op10.id, f.im1.id, at=local(*day, 8))
    assert r.ideal_cycle_s == 24.0
    db.refresh(wo)
    assert wo.state == "running"
    # The machine is busy: another operation cannot start on it.
    other = _wo(db, f, item, number="WO-2")
    service.transition(db, f.admin, other.id, "released")
    with pytest.raises(Conflict) as busy:
        service.start_operation(db, f.member, other.operations[0].id, f.im1.id, at=local(*day, 8, 30))
    assert "WO-1" in busy.value.messages()["en"]
    db.rollback()
    service.pause_report(db, f.member, r.id, at=local(*day, 9))
    with pytest.raises(Conflict):
        service.pause_report(db, f.member, r.id, at=local(*day, 9, 10))
    db.rollback()
    service.resume_report(db, f.member, r.id, at=local(*day, 10))
    done = service.finish_report(db, f.member, r.id, good=1, reject=1, at=local(*day, 11))
    assert (done.good, done.reject, done.source) == (100 + 120, 4 + 6, "counters")
    segs = service.ideal_cycle_segments(db, f.org.id, f.im1.id, local(*day, 0), local(*day, 23))
    assert [(a, b, c, code) for a, b, c, code in segs] == [
        (local(*day, 8), local(*day, 9), 24.0, "BLK"),
        (local(*day, 10), local(*day, 11), 24.0, "BLK"),
    ]
    with pytest.raises(Conflict) as second:
        service.finish_report(db, f.member, r.id, at=local(*day, 11, 5))
    assert "finished already" in second.value.messages()["en"]
    db.rollback()
    with pytest.raises(Conflict):
        service.start_operation(db, f.member, op10.id, f.im2.id, at=local(*day, 12))
    db.rollback()
    # The packing machine reported nothing in its run: the operator enters the quantities.
    r2 = service.start_operation(db, f.member, op20.id, f.pack.id, at=local(*day, 12))
    with pytest.raises(Invalid) as need:
        service.finish_report(db, f.member, r2.id, at=local(*day, 13))
    assert need.value.field == "good"
    db.rollback()
    with pytest.raises(Invalid):
        service.finish_report(db, f.member, r2.id, good=-1, at=local(*day, 13))
    db.rollback()
    r2 = service.finish_report(db, f.member, r2.id, good=195, reject=3, at=local(*day, 13))
    assert (r2.good, r2.reject, r2.source) == (195, 3, "operator")
    db.refresh(wo)
    # The last operation finished: the work order is done; a done order cannot be cancelled.
    assert wo.state == "done" and wo.closed_at is not None
    with pytest.raises(Conflict):
        service.transition(db, f.admin, wo.id, "cancelled")
    db.rollback()


def test_cancel_refused_while_a_run_is_open_and_queue_order(db: Session) -> None:
    f = firm(db)
    blk = product(db, f, "BLK", "积木", 24.0)
    car = product(db, f, "CAR", "遥控车", 40.0)
    urgent = _wo(db, f, car, number="WO-URGENT", priority=1)
    normal = _wo(db, f, blk, number="WO-NORMAL", priority=5)
    planned = _wo(db, f, blk, number="WO-PLANNED", priority=1)
    for w in (urgent, normal):
        service.transition(db, f.admin, w.id, "released")
    q = service.machine_queue(db, f.member, f.im1.id)
    assert [(x.work_order.number, x.op.seq) for x in q] == [("WO-URGENT", 10), ("WO-NORMAL", 10)]
    assert planned.number not in {x.work_order.number for x in q}
    # Nothing ran yet on the machine: each needs its set-up.
    assert q[0].setup_s == 1800 and q[0].hours == pytest.approx((1800 + 40 * 100) / 3600, abs=0.01)
    r = service.start_operation(db, f.member, normal.operations[0].id, f.im1.id)
    q = service.machine_queue(db, f.member, f.im1.id)
    assert q[0].report is not None and q[0].report.id == r.id  # the open run comes first
    assert q[1].work_order.number == "WO-URGENT" and q[1].setup_s == 1800  # family change after 积木
    with pytest.raises(Conflict) as c:
        service.transition(db, f.admin, normal.id, "cancelled")
    assert "finish them first" in c.value.messages()["en"]
    db.rollback()


def test_lots_with_material_lots(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    service.create_item(db, f.admin, ItemIn(code="ABS", name="ABS粒料", unit="kg", kind="material"))
    wo = _wo(db, f, item)
    base = {"number": "L-1", "work_order_id": wo.id, "start": local(2026, 3, 10, 8), "end": local(2026, 3, 10, 12)}
    with pytest.raises(Conflict):  # planned orders have no lots
        service.create_lot(db, f.member, LotIn(**base, quantity=10))
    db.rollback()
    service.transition(db, f.admin, wo.id, "released")
    service.transition(db, f.admin, wo.id, "running")
    bad = [
        (dict(quantity=-1), "quantity"),
        (dict(end=local(2026, 3, 10, 7)), "end"),
        (dict(device_id=firm(db, "他厂").im1.id), "device_id"),
        (dict(materials=[LotMaterialIn(item_code="BLK", material_lot="x", quantity=1)]), "materials.0.item_code"),
        (dict(materials=[LotMaterialIn(item_code="ABS", material_lot="x", quantity=0)]), "materials.0.quantity"),
    ]
    for over, field in bad:
        with pytest.raises(Invalid) as e:
            service.create_lot(db, f.member, LotIn(**(base | {"quantity": 10} | over)))
        db.rollback()
        assert e.value.field == field
    lot = service.create_lot(
        db,
        f.member,
        LotIn(
            **base,
            device_id=f.im1.id,
            quantity=480,
            materials=[LotMaterialIn(item_code="ABS", material_lot="ABS-2603-01", quantity=96.5)],
        ),
    )
    g = service.lot_genealogy(db, f.org.id, "L-1")
    assert g is not None and g["work_order"] == "WO-1" and g["item"] == "BLK"
    assert g["materials"] == [{"item": "ABS", "material_lot": "ABS-2603-01", "quantity": 96.5}]
    assert lot.device_id == f.im1.id


def _csv(text: str) -> bytes:
    return text.strip().encode("utf-8")


def test_import_keeps_good_rows_and_lists_bad_ones(db: Session) -> None:
    f = firm(db)
    other = firm(db, "别家导入厂")
    rep = imports.import_file(
        db,
        f.admin,
        "items",
        "items.csv",
        _csv(
            """
编码,名称,单位,产品族,类型
BLK,积木套装,套,积木,产品
ABS,ABS粒料,kg,原料,material
,缺编码,套,,product
BAD,类型错,套,,widget
BLK,重复,套,,product
"""
        ),
    )
    assert rep.accepted == 2
    assert [(r.line, r.field) for r in rep.rejected] == [(4, "code"), (5, "kind"), (6, "code")]
    assert all(r.message_zh and r.message_en and r.message_zh != r.message_en for r in rep.rejected)
    rep = imports.import_file(
        db,
        f.admin,
        "routings",
        "r.csv",
        _csv(
            f"""
item_code,seq,name,machine,cycle_s,setup_s
BLK,10,注塑,{f.im1.name},24,1800
BLK,10,注塑,{f.im2.uid},30,1800
BLK,20,包装,{f.pack.id},10,600
BLK,30,检验,{other.im1.id},10,0
NOPE,10,注塑,{f.im1.id},20,0
"""
        ),
    )
    # The routing of BLK is saved from its good rows; a machine of another enterprise and an unknown item are listed.
    assert rep.accepted == 3 and [r.line for r in rep.rejected] == [5, 6]
    blk = service.item_by_code(db, f.org.id, "BLK")
    assert blk is not None and [o.seq for o in blk.operations] == [10, 20]
    assert {m.cycle_s for m in blk.operations[0].machines} == {24.0, 30.0}
    rep = imports.import_file(
        db,
        f.admin,
        "routings",
        "r.csv",
        _csv(f"item_code,seq,name,machine,cycle_s\nBLK,10,注塑,{f.im1.id},0\n"),
    )
    assert rep.accepted == 0 and rep.rejected[0].field.endswith("cycle_s")
    yesterday = (timefmt.local_today() - timedelta(days=1)).isoformat()
    rep = imports.import_file(
        db,
        f.admin,
        "work_orders",
        "w.csv",
        _csv(
            f"""
工单号,物料编码,数量,交期,优先级
WO-1,BLK,500,{FUTURE.isoformat()},2
WO-2,BLK,-5,{FUTURE.isoformat()},5
WO-3,BLK,10,{yesterday},5
WO-4,ABS,10,{FUTURE.isoformat()},5
WO-5,BLK,10,明天,5
"""
        ),
    )
    assert rep.accepted == 1
    assert [(r.line, r.field) for r in rep.rejected] == [
        (3, "quantity"),
        (4, "due_date"),
        (5, "item_id"),
        (6, "due_date"),
    ]
    assert [w.number for w in service.list_work_orders(db, f.admin)] == ["WO-1"]
    with pytest.raises(Invalid):
        imports.import_file(db, f.admin, "items", "x.csv", b"foo,bar\n1,2\n")


def test_due_date_today_is_allowed(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    wo = service.create_work_order(
        db, f.admin, WorkOrderIn(number="TODAY", item_id=item.id, quantity=1, due_date=timefmt.local_today())
    )
    assert wo.due_date == timefmt.local_today()
    assert isinstance(wo.due_date, date)
