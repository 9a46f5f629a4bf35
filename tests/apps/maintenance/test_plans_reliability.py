"""Maintenance plans due by calendar, running hours and cycle counts from telemetry written through the real
ingest; MTBF / MTTR / availability on a hand-made day with known answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance import plans, reliability, service
from chaoyun.apps.maintenance.models import MaintOrder
from chaoyun.apps.maintenance.schemas import FinishIn, PlanIn
from chaoyun.apps.models import ShiftCalendar
from chaoyun.errors import Invalid
from tests.apps.helpers import feed, local, new_device
from tests.apps.maintenance.helpers import shop

DAY = (2026, 11, 30)  # a Monday, no holiday


def _plan_orders(db: Session, plan_id: int) -> list[MaintOrder]:
    return list(db.execute(select(MaintOrder).where(MaintOrder.plan_id == plan_id)).scalars())


def test_calendar_plan_due_after_its_interval(db: Session) -> None:
    s = shop(db)
    t0 = local(*DAY, 8)
    plan = plans.create_plan(
        db, s.admin, PlanIn(device_id=s.im1.id, name="周保养", trigger="calendar", every=1, calendar_unit="weeks",
                            start_at=t0)
    )
    assert plans.check_due(db, s.org.id, now=t0 + timedelta(days=6, hours=23)) == []
    st = plans.status(db, plan, t0 + timedelta(days=6, hours=23))
    assert st.due_soon and not st.due and st.next_due == t0 + timedelta(days=7)
    made = plans.check_due(db, s.org.id, now=t0 + timedelta(days=7, minutes=1))
    assert len(made) == 1
    o = made[0]
    assert o.kind == "preventive" and o.plan_id == plan.id and o.title == "周保养" and o.due == t0 + timedelta(days=7)
    # Checked again (every 15 minutes, on every page load): no second order.
    assert plans.check_due(db, s.org.id, now=t0 + timedelta(days=7, hours=5)) == []
    # Done on day 8: the next one is due a week after that.
    service.assign(db, s.admin, o.id, s.tech.user.id)
    service.start(db, s.tech, o.id, now=t0 + timedelta(days=8))
    service.finish(db, s.tech, o.id, FinishIn(), now=t0 + timedelta(days=8, hours=1))
    assert plans.check_due(db, s.org.id, now=t0 + timedelta(days=14)) == []
    assert len(plans.check_due(db, s.org.id, now=t0 + timedelta(days=15, hours=2))) == 1
    assert len(_plan_orders(db, plan.id)) == 2


def test_runtime_plan_counts_running_hours_from_the_state_signal(db: Session) -> None:
    s = shop(db)
    t = lambda h, m=0: local(*DAY, h, m)  # noqa: E731
    plan = plans.create_plan(
        db, s.admin, PlanIn(device_id=s.im1.id, name="换滤芯", trigger="runtime", every=2.0, start_at=t(8))
    )
    # Running 08:00–09:30, idle 09:30–10:00, fault 10:00–10:10, running from 10:10.
    feed(db, s.im1, [(t(8), {"state": "running"}), (t(8, 30), {"state": "running"}), (t(9, 30), {"state": "idle"}),
                     (t(10), {"state": "fault"}), (t(10, 10), {"state": "running"})], t(10, 10))
    assert plans.check_due(db, s.org.id, now=t(10, 10)) == []
    db.refresh(plan)
    assert plan.meter == pytest.approx(1.5)
    # 10:10–10:40 running: 2.0 h exactly → due (the meter continues from 10:10, reading only the new telemetry).
    feed(db, s.im1, [(t(10, 40), {"state": "running"})], t(10, 40))
    made = plans.check_due(db, s.org.id, now=t(10, 40))
    db.refresh(plan)
    assert plan.meter == pytest.approx(2.0) and len(made) == 1 and made[0].source_ref == f"plan:{plan.id}"
    # The whole-window computation agrees with the incremental meter.
    assert plans.running_seconds(s.im1, t(8), t(10, 40)) == pytest.approx(2 * 3600)


def test_cycle_plan_counts_the_cycle_counter_with_a_reset(db: Session) -> None:
    s = shop(db)
    t = lambda h, m=0: local(*DAY, h, m)  # noqa: E731
    feed(db, s.im2, [(t(7, 50), {"cycle_count": 10_000})], t(7, 50))
    plan = plans.create_plan(
        db, s.admin, PlanIn(device_id=s.im2.id, name="模具保养", trigger="cycles", every=1000, start_at=t(8))
    )
    # +300 by 09:00, reset to 0 and +200 by 10:00 (a reset counts from zero), +400 by 11:00.
    feed(db, s.im2, [(t(9), {"cycle_count": 10_300}), (t(9, 30), {"cycle_count": 0}),
                     (t(10), {"cycle_count": 200})], t(10))
    assert plans.check_due(db, s.org.id, now=t(10, 1)) == []
    db.refresh(plan)
    assert plan.meter == pytest.approx(500)
    feed(db, s.im2, [(t(11), {"cycle_count": 700})], t(11))
    made = plans.check_due(db, s.org.id, now=t(11, 1))
    db.refresh(plan)
    assert plan.meter == pytest.approx(1000) and len(made) == 1


def test_plan_on_a_machine_without_the_signal_is_refused(db: Session) -> None:
    s = shop(db)
    meter = new_device(db, s.org.id, "energy_meter", "总电表")
    with pytest.raises(Invalid) as exc:
        plans.create_plan(db, s.admin, PlanIn(device_id=meter.id, name="x", trigger="runtime", every=100))
    assert exc.value.field == "trigger"
    plans.create_plan(db, s.admin, PlanIn(device_id=meter.id, name="校表", trigger="calendar", every=365))


def test_mtbf_mttr_availability_on_a_known_day(db: Session) -> None:
    """One 08:00–20:00 shift without breaks. Running, with a 30 min breakdown at 10:00, a 5 min one at 14:00
    (under the 10 min threshold: not a failure, but not operating either), and a 60 min one at 18:00; a corrective
    order opened at 18:02 (the same failure as the 18:00 stop) and one at 12:00 with no stop (started 12:00, done
    12:20). Operating = 12 h − 30 − 5 − 60 min = 625 min; failures 3; repair 30 + 60 + 20 = 110 min.
    MTBF = 625 / 3 = 208.33 min, MTTR = 36.67 min, availability = 208.33 / 245 = 0.85034."""
    s = shop(db)
    db.merge(ShiftCalendar(org_id=s.org.id, shifts=[{"key": "D", "name": "白班", "start": "08:00", "end": "20:00",
                                                       "breaks": []}], small_stop_s=300.0))
    db.commit()
    t = lambda h, m=0: local(*DAY, h, m)  # noqa: E731
    feed(db, s.im1, [(t(8), {"state": "running"}), (t(10), {"state": "fault"}), (t(10, 30), {"state": "running"}),
                     (t(14), {"state": "fault"}), (t(14, 5), {"state": "running"}), (t(18), {"state": "fault"}),
                     (t(19), {"state": "running"}), (t(20), {"state": "off"})], t(20))
    a = service.create_work_order(db, None, s.org.id, s.im1.id, "corrective", "主机报警", "", None, "")
    a.created_at = t(18, 2)
    b = service.create_work_order(db, None, s.org.id, s.im1.id, "corrective", "漏油", "", None, "")
    b.created_at = t(12)
    db.commit()
    for o, start, end in ((a, t(18, 5), t(19)), (b, t(12), t(12, 20))):
        service.assign(db, s.admin, o.id, s.tech.user.id)
        service.start(db, s.tech, o.id, now=start)
        service.finish(db, s.tech, o.id, FinishIn(cause="hydraulic"), now=end)
    # A cancelled corrective order is no failure.
    c = service.create_work_order(db, None, s.org.id, s.im1.id, "corrective", "误报", "", None, "")
    c.created_at = t(15)
    db.commit()
    service.cancel(db, s.admin, c.id)

    r = reliability.compute(db, s.org.id, DAY_DATE, DAY_DATE, now=t(23))
    row = next(x for x in r.machines if x.device_id == s.im1.id)
    assert row.operating_s == pytest.approx(625 * 60)
    assert row.failures == 3 and row.stops == 2 and row.orders == 1 and row.repaired == 3
    assert row.repair_s == pytest.approx(110 * 60)
    assert row.mtbf_h == pytest.approx(625 / 3 / 60)
    assert row.mttr_h == pytest.approx(110 / 3 / 60)
    assert row.availability == pytest.approx((625 / 3) / (625 / 3 + 110 / 3))
    sources = sorted(f.source for f in row.failure_list)
    assert sources == ["order", "stop", "stop+order"]
    # The second machine reported nothing: no operating time, no failures, no figures.
    idle = next(x for x in r.machines if x.device_id == s.im2.id)
    assert idle.failures == 0 and idle.mtbf_h is None and idle.availability is None
    # Per profile: the sums of its machines (both are injection moulding machines).
    prof = r.profiles[0]
    assert prof.machines == 2 and prof.failures == 3 and prof.mtbf_h == pytest.approx(row.mtbf_h)
    # A higher threshold (40 min) leaves only the 60 min stop and the order without a stop.
    from chaoyun.apps.maintenance.schemas import SettingsIn

    service.set_settings(db, s.admin, SettingsIn(alarm_severities=["critical"], alarm_kinds=["state"],
                                                 failure_min_stop_min=40))
    r2 = reliability.compute(db, s.org.id, DAY_DATE, DAY_DATE, now=t(23))
    row2 = next(x for x in r2.machines if x.device_id == s.im1.id)
    assert row2.failures == 2 and row2.repair_s == pytest.approx(80 * 60)


DAY_DATE = local(*DAY).date()
