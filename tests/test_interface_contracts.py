"""The cross-context calls of docs/interfaces.md that no context's own tests call by name: each one's contract."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from chaoyun.apps.oee import service as oee
from chaoyun.devices import service as devices
from chaoyun.errors import NotFound
from chaoyun.production import service as production
from chaoyun.production.schemas import WorkOrderIn
from chaoyun.programme import targets
from chaoyun.web import nav
from tests.apps.helpers import feed, local
from tests.production.helpers import firm, product


def test_get_device_is_scoped_to_the_owner(db: Session) -> None:
    a, b = firm(db, "接口甲厂"), firm(db, "接口乙厂")
    assert devices.get_device(db, a.admin, a.im1.id).id == a.im1.id
    with pytest.raises(NotFound):
        devices.get_device(db, b.admin, a.im1.id)


def test_models_are_the_catalogue_plus_the_organisations_own(db: Session) -> None:
    f = firm(db, "接口型号厂")
    keys = {m.key for m in devices.list_models(db, f.admin)}
    assert {"injection_moulding", "packaging"} <= keys
    assert devices.find_model(db, "injection_moulding", org_id=f.org.id) is not None
    assert devices.find_model(db, "no_such_model_anywhere", org_id=f.org.id) is None


def test_what_a_scheduler_plans_with(db: Session) -> None:
    f = firm(db, "接口排产厂")
    item = product(db, f, code="IFC", family="积木", cycle1=24.0, cycle2=30.0)
    assert production.cycle_time(db, f.org.id, item.id, f.im1.id) == {10: 24.0}
    assert production.cycle_time(db, f.org.id, item.id, f.im2.id) == {10: 30.0}
    assert production.cycle_time(db, f.org.id, item.id, f.pack.id) == {20: 10.0}
    first_op = next(op for op in item.operations if op.seq == 10)
    assert production.setup_time(db, f.im1.id, first_op) == 1800.0  # nothing ran on it yet: full set-up
    wo = production.create_work_order(
        db,
        f.admin,
        WorkOrderIn(number="WO-IFC-1", item_id=item.id, quantity=100, due_date=date.today() + timedelta(days=3)),
    )
    assert [w.id for w in production.open_work_orders(db, f.org.id)] == [wo.id]
    production.transition(db, f.admin, wo.id, "cancelled")
    assert production.open_work_orders(db, f.org.id) == []
    now = datetime.now(UTC)
    assert production.produced(db, f.org.id, now - timedelta(days=1), now) == {"good": 0, "reject": 0, "runs": 0}


def test_enterprise_and_cluster_oee(db: Session) -> None:
    f = firm(db, "接口OEE厂")
    day = date.today() - timedelta(days=1)
    points = [
        (local(day.year, day.month, day.day, h), {"state": "running", "cycle_count": h * 100}) for h in range(8, 20)
    ]
    feed(db, f.im1, points, points[-1][0])
    v = oee.enterprise_oee(db, f.org.id, day, day)
    assert v is not None and 0 < v <= 1
    rows = oee.cluster_oee(db, None, day, day)
    assert rows and all(
        (r["avg_oee"] is None) == (r["enterprises"] < oee.MIN_GROUP) for r in rows
    )  # small groups withheld


def test_a_context_registers_a_target_rule_and_a_todo(db: Session, login: object) -> None:
    targets.register_rule("test.interface_rule", lambda db, y, d, c: targets.RuleResult(value=float(y)))
    assert targets.evaluate(db, "test.interface_rule", 2020).value == 2020.0
    nav.register_todo("test-interface", lambda db, actor: [nav.Todo("Test interface to-do", 3, "/home")])
    from tests.programme.helpers import actor

    assert any(t.label == "Test interface to-do" and t.count == 3 for t in nav.todos_for(db, actor(db, "city")))
    nav._TODOS.pop("test-interface")


def test_a_context_registers_a_home_panel(db: Session) -> None:
    from chaoyun.identity.permissions import Permission
    from tests.programme.helpers import actor

    panel = nav.HomePanel("government", "_test_panel.html", Permission.AUTHENTICATED, lambda db, a: {"n": 7}, 999)
    nav.register_panel(panel)
    try:
        chosen = nav.panels_for(db, actor(db, "city"))
        assert (panel, {"n": 7}) in chosen
        assert all(p.template != "_test_panel.html" for p, _ in nav.panels_for(db, actor(db, "factory")))
    finally:
        nav._PANELS.remove(panel)


def test_shift_calendar_and_machine_downtime_for_other_apps(db: Session) -> None:
    from chaoyun.apps.models import PlannedDowntime

    f = firm(db, "接口停机厂")
    calendar, _ = oee.calendar_for(db, f.org.id)
    assert calendar.shifts, "an enterprise without its own calendar gets the default shifts"
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    d = oee.put_machine_downtime(db, f.org.id, f.im1.id, start, start + timedelta(hours=2), "保养窗口")
    db.commit()
    moved = oee.put_machine_downtime(
        db, f.org.id, f.im1.id, start + timedelta(hours=1), start + timedelta(hours=3), "保养窗口", downtime_id=d.id
    )
    assert moved.id == d.id and moved.start == start + timedelta(hours=1)
    with pytest.raises(Exception, match="end"):
        oee.put_machine_downtime(db, f.org.id, f.im1.id, start, start, "零长度")
    db.rollback()
    oee.remove_downtime(db, f.org.id, d.id)
    db.commit()
    assert db.get(PlannedDowntime, d.id) is None


def test_an_analysis_raises_and_clears_an_alarm_like_any_other(db: Session) -> None:
    from chaoyun.devices import alarms, events
    from chaoyun.devices.models import Alarm

    f = firm(db, "接口分析告警厂")
    seen: list[dict[str, object]] = []
    events.subscribe("alarm.raised", lambda **data: seen.append(data))
    now = datetime.now(UTC)
    alarm = alarms.raise_from_analysis(
        db,
        f.im1,
        name="异常检测 / anomaly detection",
        metric="vibration",
        severity="minor",
        value=4.2,
        text="异常 振动 +4.2σ",
        details={"source": "test"},
        ts=now,
    )
    db.commit()
    row = db.get(Alarm, alarm.id)
    assert row is not None and row.status == "active" and row.message.endswith("异常 振动 +4.2σ")
    assert any(e.get("alarm_id") == alarm.id and e.get("severity") == "minor" for e in seen)
    alarms.clear_alarm(db, alarm.id, now + timedelta(minutes=5), "system")
    db.commit()
    db.refresh(row)
    assert row.status == "cleared" and row.cleared_by == "system"
