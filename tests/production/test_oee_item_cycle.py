"""OEE performance uses the cycle time of the item the machine was running (from production's operation
reports) for those windows, and the device model's default (injection moulding: 30 s) elsewhere."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.models import ShiftCalendar
from chaoyun.apps.oee import service as oee
from chaoyun.production import service
from chaoyun.production.schemas import ItemIn, OpMachineIn, RoutingOpIn, WorkOrderIn
from tests.apps.helpers import feed, local
from tests.production.helpers import Firm, firm

DAY = date(2026, 3, 4)
OPERATING_S = 8 * 3600  # one shift 08:00–16:00, running throughout


def _machine_day(db: Session, name: str) -> Firm:
    """Identical telemetry for every firm: running all shift, 700 cycles (350 before noon, 350 after)."""
    f = firm(db, name)
    db.add(
        ShiftCalendar(
            org_id=f.org.id,
            shifts=[{"key": "A", "name": "A", "start": "08:00", "end": "16:00", "breaks": []}],
            small_stop_s=300,
        )
    )
    db.commit()
    y, m, d = DAY.year, DAY.month, DAY.day
    feed(
        db,
        f.im1,
        [
            (local(y, m, d, 7), {"state": "running"}),
            (local(y, m, d, 7, 59), {"cycle_count": 1000, "good_count": 990, "reject_count": 10}),
            (local(y, m, d, 11, 59), {"cycle_count": 1350, "good_count": 1340, "reject_count": 10}),
            (local(y, m, d, 15, 59), {"cycle_count": 1700, "good_count": 1690, "reject_count": 10}),
            (local(y, m, d, 16, 30), {"state": "off"}),
        ],
        local(y, m, d, 18),
    )
    return f


def _run(db: Session, f: Firm, cycle_s: float, start_h: int, end_h: int) -> None:
    item = service.create_item(db, f.admin, ItemIn(code=f"P{int(cycle_s)}", name="产品", family="积木"))
    service.set_routing(
        db,
        f.admin,
        item.id,
        [RoutingOpIn(seq=10, name="注塑", machines=[OpMachineIn(device_id=f.im1.id, cycle_s=cycle_s)])],
    )
    wo = service.create_work_order(
        db,
        f.admin,
        WorkOrderIn(number="WO-1", item_id=item.id, quantity=700, due_date=timefmt.local_today() + timedelta(days=9)),
    )
    service.transition(db, f.admin, wo.id, "released")
    y, m, d = DAY.year, DAY.month, DAY.day
    r = service.start_operation(db, f.member, wo.operations[0].id, f.im1.id, at=local(y, m, d, start_h))
    service.finish_report(db, f.member, r.id, at=local(y, m, d, end_h))


def _performance(db: Session, f: Firm) -> float:
    o = oee.compute_period(db, f.org.id, DAY, DAY).summary()
    assert o.total == 700 and o.operating_s == OPERATING_S
    assert o.performance is not None
    return o.performance


def test_same_counts_different_items_give_different_performance(db: Session) -> None:
    plain = _machine_day(db, "无工单厂")
    fast = _machine_day(db, "快节拍厂")
    slow = _machine_day(db, "慢节拍厂")
    half = _machine_day(db, "半班厂")
    _run(db, fast, 24.0, 8, 16)
    _run(db, slow, 36.0, 8, 16)
    _run(db, half, 24.0, 8, 12)  # the item's 24 s for the morning's 350 pieces, the model's 30 s after
    assert _performance(db, plain) == pytest.approx(30 * 700 / OPERATING_S)
    assert _performance(db, fast) == pytest.approx(24 * 700 / OPERATING_S)
    assert _performance(db, slow) == pytest.approx(36 * 700 / OPERATING_S)
    assert _performance(db, half) == pytest.approx((24 * 350 + 30 * 350) / OPERATING_S)
    # The counts from the machine's counters went into the operation report.
    wo = service.list_work_orders(db, fast.admin)[0]
    assert wo.state == "done" and wo.operations[0].good == 700 and wo.operations[0].reject == 0
