"""Maintenance work orders on a real database: create_work_order idempotency, alarms → corrective orders through
the real ingest and alarm rules (hook and sweep, each alarm once), the state machine and its refusals, parts
taken from stock (refused beyond it, reorder flag), the maintenance window as planned downtime (OEE and the
scheduler see it; moved, shortened and removed with the order), isolation between enterprises and technicians."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance import parts, service
from chaoyun.apps.maintenance.models import MaintOrder, MaintOrderAlarm, SparePart
from chaoyun.apps.maintenance.schemas import FinishIn, OrderIn, PartIn, SettingsIn, StockIn, WindowIn, WorkIn
from chaoyun.apps.models import PlannedDowntime
from chaoyun.apps.oee import service as oee
from chaoyun.apps.scheduling import build as sched_build
from chaoyun.db import utcnow
from chaoyun.devices import alarms
from chaoyun.devices.models import Alarm, AlarmRule
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from tests.apps.helpers import feed
from tests.apps.maintenance.helpers import shop


def test_create_work_order_is_idempotent_while_open(db: Session) -> None:
    s = shop(db)
    a = service.create_work_order(db, None, s.org.id, s.im1.id, "predictive", "轴承磨损", "RUL 40 h", None, "rul:1")
    b = service.create_work_order(db, None, s.org.id, s.im1.id, "predictive", "轴承磨损", "RUL 35 h", None, "rul:1")
    assert a.id == b.id and a.number == f"MO-{a.id:05d}"
    # Another machine, or another source, is another order.
    c = service.create_work_order(db, None, s.org.id, s.im2.id, "predictive", "轴承磨损", "", None, "rul:1")
    d = service.create_work_order(db, None, s.org.id, s.im1.id, "predictive", "温度漂移", "", None, "rul:2")
    assert len({a.id, c.id, d.id}) == 3
    # Once done (or cancelled) the next prediction opens a new order.
    service.cancel(db, s.admin, a.id, "误报")
    e = service.create_work_order(db, None, s.org.id, s.im1.id, "predictive", "轴承磨损", "", None, "rul:1")
    assert e.id != a.id and e.state == "open"
    # Without a source nothing is deduplicated; bad kinds, machines of another enterprise and empty titles refused.
    f1 = service.create_work_order(db, s.admin, s.org.id, s.im1.id, "corrective", "漏油", "", None, "")
    f2 = service.create_work_order(db, s.admin, s.org.id, s.im1.id, "corrective", "漏油", "", None, "")
    assert f1.id != f2.id
    other = shop(db, "别家厂")
    with pytest.raises(NotFound):
        service.create_work_order(db, None, s.org.id, other.im1.id, "corrective", "x", "", None, "")
    with pytest.raises(NotFound):
        service.create_work_order(db, other.admin, s.org.id, s.im1.id, "corrective", "x", "", None, "")
    with pytest.raises(Invalid):
        service.create_work_order(db, None, s.org.id, s.im1.id, "repair", "x", "", None, "")
    with pytest.raises(Invalid):
        service.create_work_order(db, None, s.org.id, s.im1.id, "corrective", "  ", "", None, "")


def _rule(db: Session, s: object, severity: str, name: str = "振动异常") -> AlarmRule:
    rule = AlarmRule(
        org_id=s.org.id,  # type: ignore[attr-defined]
        device_id=s.im1.id,  # type: ignore[attr-defined]
        name=name,
        kind="threshold",
        metric="vibration",
        severity=severity,
        params={"op": ">", "value": 7.1, "duration_s": 0, "hysteresis": 0.5},
    )
    db.add(rule)
    db.commit()
    alarms.forget_rules()
    return rule


def test_alarm_opens_one_corrective_order(db: Session) -> None:
    service.install()
    s = shop(db)
    rule = _rule(db, s, "critical")
    minor = _rule(db, s, "minor", "振动偏高")
    minor.params = {"op": ">", "value": 5.0, "duration_s": 0, "hysteresis": 0.5}
    db.commit()
    alarms.forget_rules()
    now = utcnow()
    feed(db, s.im1, [(now - timedelta(seconds=50), {"vibration": 8.0})], now)
    service.wait_for_alarm_orders()
    db.expire_all()
    raised = db.execute(select(Alarm).where(Alarm.device_id == s.im1.id).order_by(Alarm.id)).scalars().all()
    assert {a.severity for a in raised} == {"critical", "minor"}
    orders = db.execute(select(MaintOrder).where(MaintOrder.device_id == s.im1.id)).scalars().all()
    assert len(orders) == 1, "only the critical alarm opens an order (default: critical and major)"
    o = orders[0]
    assert o.kind == "corrective" and o.state == "open" and o.source_ref == service.ALARM_SOURCE
    assert "振动异常" in o.title and o.created_by == "system"
    # The sweep finds nothing more to do: each alarm is taken once.
    assert service.sweep_alarms(db, s.org.id) == 0
    # The same rule raises again (cleared, then over the limit) while the order is open: merged, not a second order.
    again = [(now - timedelta(seconds=40), {"vibration": 2.0}), (now - timedelta(seconds=30), {"vibration": 9.0})]
    feed(db, s.im1, again, now)
    service.wait_for_alarm_orders()
    db.expire_all()
    crit = db.execute(select(Alarm).where(Alarm.rule_id == rule.id)).scalars().all()
    assert len(crit) == 2
    assert db.execute(select(func.count(MaintOrder.id)).where(MaintOrder.device_id == s.im1.id)).scalar_one() == 1
    links = db.execute(select(MaintOrderAlarm).where(MaintOrderAlarm.order_id == o.id)).scalars().all()
    assert {x.alarm_id for x in links} == {a.id for a in crit}
    # Settings that include minor alarms: the sweep takes the minor alarm (raised before) now, into the machine's
    # open order (one breakdown, one order, whatever rules fired).
    service.set_settings(db, s.admin, SettingsIn(alarm_severities=["critical", "minor"], alarm_kinds=["threshold"]))
    assert service.sweep_alarms(db, s.org.id) == 2  # the minor rule fired twice
    assert service.sweep_alarms(db, s.org.id) == 0
    count = select(func.count(MaintOrder.id)).where(MaintOrder.device_id == s.im1.id)
    assert db.execute(count).scalar_one() == 1
    links = db.execute(select(MaintOrderAlarm.alarm_id).where(MaintOrderAlarm.order_id == o.id)).scalars().all()
    every = db.execute(select(Alarm.id).where(Alarm.device_id == s.im1.id)).scalars().all()
    assert len(every) == 4 and set(links) == set(every)
    # Once that order is done, the next alarm opens a new one.
    service.assign(db, s.admin, o.id, s.tech.user.id)
    service.start(db, s.tech, o.id)
    service.finish(db, s.tech, o.id, FinishIn(cause="wear"))
    third = [(now - timedelta(seconds=20), {"vibration": 2.0}), (now - timedelta(seconds=10), {"vibration": 9.5})]
    feed(db, s.im1, third, now)
    service.wait_for_alarm_orders()
    db.expire_all()
    assert db.execute(count).scalar_one() == 2


def test_alarm_sweep_without_the_hook(db: Session) -> None:
    """Alarms raised where nobody listened (another process, the demo's history) are taken by the sweep."""
    from chaoyun.devices import events

    s = shop(db)
    _rule(db, s, "major")
    events.unsubscribe("alarm.raised", service.on_alarm)
    try:
        now = utcnow()
        feed(db, s.im1, [(now - timedelta(seconds=20), {"vibration": 8.0})], now)
    finally:
        events.subscribe("alarm.raised", service.on_alarm)
    assert db.execute(select(func.count(MaintOrder.id)).where(MaintOrder.org_id == s.org.id)).scalar_one() == 0
    assert service.sweep_alarms(db, s.org.id) == 1
    assert service.sweep_alarms(db, s.org.id) == 0
    # Settings that open no orders: nothing.
    other = shop(db, "不开单厂")
    service.set_settings(db, other.admin, SettingsIn(alarm_severities=[], alarm_kinds=["threshold"]))
    _rule(db, other, "critical")
    feed(db, other.im1, [(now - timedelta(seconds=10), {"vibration": 9.0})], now)
    service.wait_for_alarm_orders()
    assert service.sweep_alarms(db, other.org.id) == 0


def test_state_machine_time_parts_cause_and_refusals(db: Session) -> None:
    s = shop(db)
    part = PartIn(code="BRG-6205", name="轴承 6205", unit="个", stock=3, reorder_point=1)
    bearing = parts.create_part(db, s.admin, part)
    o = service.report_order(db, s.tech, OrderIn(device_id=s.im1.id, title="合模异响"))
    assert o.state == "open" and o.kind == "corrective"
    # A member may not open preventive orders by hand, nor assign.
    with pytest.raises(Forbidden):
        service.report_order(db, s.tech, OrderIn(device_id=s.im1.id, kind="preventive", title="x"))
    # Start before assignment: refused with the states named.
    with pytest.raises(Conflict) as exc:
        service.start(db, s.admin, o.id)
    assert exc.value.messages()["en"] == f"Order {o.number} is Not assigned and cannot become In progress."
    with pytest.raises(Invalid):
        service.assign(db, s.admin, o.id, shop(db, "外厂").tech.user.id)  # not a person of this enterprise
    service.assign(db, s.admin, o.id, s.tech.user.id)
    # Another member is neither the technician nor a manager.
    with pytest.raises(Forbidden):
        service.start(db, s.other_member, o.id)
    t0 = utcnow()
    service.start(db, s.tech, o.id, now=t0)
    service.book_work(db, s.tech, o.id, WorkIn(minutes=25, note="拆开检查"))
    service.use_part(db, s.tech, o.id, bearing.id, 2)
    db.refresh(bearing)
    assert bearing.stock == 1 and bearing.below_reorder
    assert parts.below_reorder_count(db, s.org.id) == 1
    with pytest.raises(Conflict) as beyond:
        service.use_part(db, s.tech, o.id, bearing.id, 2)
    assert "Only 1" in beyond.value.messages()["en"]
    db.expire_all()
    assert db.get(SparePart, bearing.id).stock == 1  # type: ignore[union-attr]
    # Corrective orders need a cause.
    with pytest.raises(Invalid):
        service.finish(db, s.tech, o.id, FinishIn())
    with pytest.raises(Invalid):
        service.finish(db, s.tech, o.id, FinishIn(cause="gremlins"))
    done = service.finish(db, s.tech, o.id, FinishIn(cause="wear", note="更换轴承"), now=t0 + timedelta(minutes=50))
    assert done.state == "done" and done.cause == "wear" and done.minutes_spent == 25 and done.open_key is None
    assert "拆开检查" in done.notes and "更换轴承" in done.notes
    with pytest.raises(Conflict) as twice:
        service.finish(db, s.tech, o.id, FinishIn(cause="wear"))
    assert "already" in twice.value.messages()["en"]
    with pytest.raises(Conflict):
        service.cancel(db, s.admin, o.id)
    with pytest.raises(Conflict):
        service.use_part(db, s.tech, o.id, bearing.id, 1)
    with pytest.raises(Conflict):
        service.book_work(db, s.tech, o.id, WorkIn(minutes=5))
    # Receiving goods lifts the flag; a correction below zero is refused.
    parts.adjust_stock(db, s.admin, bearing.id, StockIn(change=10))
    assert parts.below_reorder_count(db, s.org.id) == 0
    with pytest.raises(Conflict):
        parts.adjust_stock(db, s.admin, bearing.id, StockIn(change=-100))
    # A preventive order's cause defaults to routine; with no time booked, start → done is the time spent.
    p = service.create_work_order(db, s.admin, s.org.id, s.im2.id, "preventive", "润滑", "", None, "")
    service.assign(db, s.admin, p.id, s.admin.user.id)
    service.start(db, s.admin, p.id, now=t0)
    p = service.finish(db, s.admin, p.id, FinishIn(), now=t0 + timedelta(minutes=42))
    assert p.cause == "routine" and p.minutes_spent == 42


def test_window_is_planned_downtime_kept_in_step(db: Session) -> None:
    s = shop(db)
    o = service.create_work_order(db, s.admin, s.org.id, s.im1.id, "preventive", "换液压油", "", None, "")
    start = utcnow() + timedelta(days=1)
    service.set_window(db, s.admin, o.id, WindowIn(start=start, end=start + timedelta(hours=4)))
    row = db.get(PlannedDowntime, o.downtime_id)
    assert row is not None and row.device_id == s.im1.id and row.org_id == s.org.id
    assert row.end - row.start == timedelta(hours=4) and o.number in row.reason
    # The scheduler sees it as the machine's blocked window (without knowing maintenance).
    blocked = sched_build.machine_downtime(db, s.org.id, [str(s.im1.id)], utcnow(), 3 * 86400)
    assert blocked.get(str(s.im1.id)), blocked
    # Moving the window moves the row (the same row).
    rid = row.id
    service.set_window(db, s.admin, o.id, WindowIn(start=start + timedelta(hours=2), end=start + timedelta(hours=3)))
    db.expire_all()
    row = db.get(PlannedDowntime, rid)
    assert row is not None and row.end - row.start == timedelta(hours=1)
    rows = select(func.count(PlannedDowntime.id)).where(PlannedDowntime.org_id == s.org.id)
    assert db.execute(rows).scalar_one() == 1
    with pytest.raises(Invalid):
        service.set_window(db, s.admin, o.id, WindowIn(start=start, end=start - timedelta(hours=1)))
    # Cancelling removes it.
    service.cancel(db, s.admin, o.id, "改期")
    assert db.get(PlannedDowntime, rid) is None
    with pytest.raises(Conflict):
        service.set_window(db, s.admin, o.id, WindowIn(start=start, end=start + timedelta(hours=1)))
    # Finished inside its window: the rest of the window is production time again.
    o2 = service.create_work_order(db, s.admin, s.org.id, s.im2.id, "preventive", "紧固", "", None, "")
    now = utcnow()
    service.set_window(db, s.admin, o2.id, WindowIn(start=now - timedelta(hours=1), end=now + timedelta(hours=3)))
    service.assign(db, s.admin, o2.id, s.tech.user.id)
    service.start(db, s.tech, o2.id)
    o2 = service.finish(db, s.tech, o2.id, FinishIn(), now=now)
    row2 = db.get(PlannedDowntime, o2.downtime_id)
    assert row2 is not None and abs((row2.end - now).total_seconds()) < 1
    assert o2.window_end is not None and abs((o2.window_end - now).total_seconds()) < 1


def test_window_excluded_from_oee_planned_time(db: Session) -> None:
    s = shop(db)
    day = utcnow().astimezone(oee.cal.LOCAL).date() - timedelta(days=3)
    base = oee.compute_period(db, s.org.id, day, day, device_ids=[s.im1.id])
    planned = base.machines[0].result.planned_s.sum()
    o = service.create_work_order(db, s.admin, s.org.id, s.im1.id, "preventive", "保养", "", None, "")
    start = oee.cal.local_day_start(day) + timedelta(hours=9)  # 09:00–11:00, inside the day shift
    service.set_window(db, s.admin, o.id, WindowIn(start=start, end=start + timedelta(hours=2)))
    after = oee.compute_period(db, s.org.id, day, day, device_ids=[s.im1.id])
    assert planned - after.machines[0].result.planned_s.sum() == pytest.approx(7200)


def test_isolation_and_technician_scope(db: Session) -> None:
    s = shop(db)
    other = shop(db, "隔壁厂")
    mine = service.create_work_order(db, None, s.org.id, s.im1.id, "corrective", "a", "", None, "")
    theirs = service.create_work_order(db, None, other.org.id, other.im1.id, "corrective", "b", "", None, "")
    assert {o.id for o in service.list_orders(db, s.admin)} == {mine.id}
    with pytest.raises(NotFound):
        service.get_order(db, s.admin, theirs.id)
    with pytest.raises(NotFound):
        service.assign(db, s.admin, theirs.id, s.tech.user.id)
    with pytest.raises(NotFound):
        service.set_window(db, s.admin, theirs.id, WindowIn(start=utcnow(), end=utcnow() + timedelta(hours=1)))
    # A technician reads every order of the enterprise; "mine" is what is assigned to them or what they reported;
    # they act only on orders assigned to them.
    assert service.list_orders(db, s.tech, only_mine=True) == []
    service.assign(db, s.admin, mine.id, s.tech.user.id)
    reported = service.report_order(db, s.other_member, OrderIn(device_id=s.im2.id, title="异响"))
    assert {o.id for o in service.list_orders(db, s.tech, only_mine=True)} == {mine.id}
    assert {o.id for o in service.list_orders(db, s.other_member, only_mine=True)} == {reported.id}
    assert {o.id for o in service.list_orders(db, s.other_member)} == {mine.id, reported.id}
    assert service.get_order(db, s.other_member, mine.id).id == mine.id
    with pytest.raises(Forbidden):
        service.start(db, s.other_member, mine.id)
    with pytest.raises(Forbidden):
        service.book_work(db, s.other_member, mine.id, WorkIn(minutes=1))
    # Parts of another enterprise cannot be taken.
    p = parts.create_part(db, other.admin, PartIn(code="X", name="x", stock=5))
    service.start(db, s.tech, mine.id)
    with pytest.raises(NotFound):
        service.use_part(db, s.tech, mine.id, p.id, 1)
    with pytest.raises(NotFound):
        parts.get_part(db, s.admin, p.id)


def test_create_work_order_concurrently_makes_one_order(db: Session) -> None:
    """Eight threads, each with its own session, ask for the same machine and source at once (two processes
    scoring the same prediction): one order, every caller gets it (the unique (machine, open source) constraint
    and the savepoint in create_work_order; on PostgreSQL the losers really hit the constraint)."""
    import threading

    from chaoyun.db import get_sessionmaker

    s = shop(db)
    RACE = "rul:race"
    barrier = threading.Barrier(8)
    got: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with get_sessionmaker()() as own:
                barrier.wait(timeout=10)
                o = service.create_work_order(own, None, s.org.id, s.im1.id, "predictive", "轴承", "", None, RACE)
                got.append(o.id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(got) == 8 and len(set(got)) == 1
    n = select(func.count(MaintOrder.id)).where(MaintOrder.device_id == s.im1.id, MaintOrder.source_ref == RACE)
    assert db.execute(n).scalar_one() == 1
