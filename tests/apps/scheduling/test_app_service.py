"""The scheduling app's rules on a real database: the problem built from work orders (cycle × remaining quantity +
set-up, the shift calendar, planned downtime), background solves with progress and cancel, pins, publishing,
repairs after a real breakdown alarm, bad input named by order and operation, isolation between enterprises."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.models import PlannedDowntime, ShiftCalendar
from chaoyun.apps.scheduling import build as b
from chaoyun.apps.scheduling import jobs, service
from chaoyun.apps.scheduling.models import RepairProposal, SchedulePlan, SolveJob
from chaoyun.apps.scheduling.schemas import PinIn, SolveIn
from chaoyun.db import utcnow
from chaoyun.devices import alarms
from chaoyun.devices.models import Alarm, AlarmRule
from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.production import counters
from chaoyun.production import service as production
from chaoyun.production.models import Item, OpMachine, WorkOrder
from chaoyun.production.schemas import WorkOrderIn
from tests.apps.helpers import feed, local
from tests.production.helpers import Firm, firm, product

FUTURE = timefmt.local_today() + timedelta(days=30)
MONDAY_9 = local(2026, 12, 7, 9)  # a Monday, no holiday near it


def _wo(db: Session, f: Firm, item: Item, number: str, quantity: int = 100, days: int = 30, **kw: Any) -> WorkOrder:
    wo = production.create_work_order(
        db,
        f.admin,
        WorkOrderIn(
            number=number,
            item_id=item.id,
            quantity=quantity,
            due_date=timefmt.local_today() + timedelta(days=days),
            **kw,
        ),
    )
    production.transition(db, f.admin, wo.id, "released")
    return wo


def _solved(db: Session, f: Firm, **kw: Any) -> SchedulePlan:
    plan = jobs.start_solve(db, f.admin, SolveIn(**({"time_limit_s": 5} | kw)))
    assert plan.status == "solving", plan.errors
    assert jobs.wait(plan.id, 60)
    db.expire_all()
    plan = db.get(SchedulePlan, plan.id)
    assert plan is not None
    return plan


def test_problem_from_work_orders_calendar_and_downtime(db: Session) -> None:
    f = firm(db)
    item = product(db, f)  # 注塑 24 s (im1) / 30 s (im2), set-up 1800 s; 包装 10 s, set-up 600 s
    wo = _wo(db, f, item, "S-1", quantity=100, priority=2)
    built = b.build(db, f.org.id, now=MONDAY_9, horizon_days=2)
    p = built.problem
    assert [j.key for j in p.jobs] == ["S-1"] and not p.frozen
    job = p.jobs[0]
    assert job.weight == 8  # priority 2
    mould, pack = job.operations
    assert mould.key == "S-1/10" and mould.label == "注塑"
    assert {(o.machine, o.duration, o.setup) for o in mould.options} == {
        (str(f.im1.id), 24 * 100, 1800),
        (str(f.im2.id), 30 * 100, 1800),
    }
    assert {(o.machine, o.duration, o.setup) for o in pack.options} == {(str(f.pack.id), 10 * 100, 600)}

    # Moulding started on machine 1 and its counters counted 40 good pieces so far: 60 remain, and the started
    # operation stays on its machine from now (frozen, no set-up).
    started = utcnow() - timedelta(hours=2)
    good_key = counters.counter_keys(f.im1)["good_count"]
    points = [(started - timedelta(minutes=1), {good_key: 1000}), (utcnow() - timedelta(minutes=1), {good_key: 1040})]
    feed(db, f.im1, points, utcnow())
    production.start_operation(db, f.admin, wo.operations[0].id, f.im1.id, at=started)
    db.expire_all()
    p = b.build(db, f.org.id, now=MONDAY_9, horizon_days=2).problem
    mould, pack = p.jobs[0].operations
    assert [(o.machine, o.duration, o.setup) for o in mould.options] == [(str(f.im1.id), 24 * 60, 0)]
    assert [(a.operation, a.machine, a.start, a.end) for a in p.frozen] == [("S-1/10", str(f.im1.id), 0, 24 * 60)]
    due = timefmt.day_end_exclusive(wo.due_date)
    assert job.due == int((due - MONDAY_9).total_seconds())
    # Default calendar: day shift 08–20 with lunch 12–13, night shift 20–08 with a break 00–01.
    assert p.off_shift[:2] == [(3 * 3600, 4 * 3600), (15 * 3600, 16 * 3600)]

    # The enterprise's own calendar: one day shift 08:00–17:00 Monday to Friday; a plant-wide stop on Tuesday
    # 14:00–15:00 and a maintenance window on machine 1 on Tuesday 10:00–12:00.
    day = {"key": "D", "name": "白班", "start": "08:00", "end": "17:00", "breaks": [], "days": [0, 1, 2, 3, 4]}
    db.add(ShiftCalendar(org_id=f.org.id, shifts={"version": 2, "shifts": [day], "holidays": [], "workdays": []}))
    tue = local(2026, 12, 8)
    db.add(PlannedDowntime(org_id=f.org.id, start=tue + timedelta(hours=14), end=tue + timedelta(hours=15)))
    maintenance = PlannedDowntime(org_id=f.org.id, device_id=f.im1.id, start=tue + timedelta(hours=10))
    maintenance.end = tue + timedelta(hours=12)
    db.add(maintenance)
    db.commit()
    p = b.build(db, f.org.id, now=MONDAY_9, horizon_days=2).problem
    h = 3600
    assert p.off_shift == [(8 * h, 23 * h), (29 * h, 30 * h), (32 * h, 47 * h)]  # Wednesday 08:00 works again
    assert p.blocked == {str(f.im1.id): [(25 * h, 27 * h)]}


def test_background_solve_stores_progress_and_publishes_one_plan(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    for i in range(4):
        _wo(db, f, item, f"P-{i}", quantity=50 + 10 * i, days=5 + i)
    plan = jobs.start_solve(db, f.admin, SolveIn(time_limit_s=5, objective="tardiness"))
    assert plan.status == "solving"
    assert jobs.wait(plan.id, 60)
    db.expire_all()
    plan = db.get(SchedulePlan, plan.id)
    assert plan is not None and plan.status == "solved", (plan.status, plan.errors)
    job = service.job_of(db, plan.id)
    assert job is not None and job.state == "done" and job.solutions >= 1 and job.heartbeat_at is not None
    assert len(plan.operations) == 8
    assert {o.device_id for o in plan.operations} <= {f.im1.id, f.im2.id, f.pack.id}
    for o in plan.operations:
        assert o.end > o.start >= plan.origin
    # Chain order inside each order.
    by_key = {o.op_key: o for o in plan.operations}
    for i in range(4):
        assert by_key[f"P-{i}/20"].start >= by_key[f"P-{i}/10"].end
    assert plan.makespan_s and plan.late_orders == 0

    assert service.published_plan(db, f.org.id) is None
    service.publish(db, f.admin, plan.id)
    with pytest.raises(Conflict):
        service.publish(db, f.admin, plan.id)
    second = _solved(db, f, objective="makespan")
    service.publish(db, f.admin, second.id)
    db.expire_all()
    published = db.execute(
        select(func.count()).select_from(SchedulePlan).where(SchedulePlan.org_id == f.org.id, SchedulePlan.published)
    ).scalar_one()
    assert published == 1 and service.published_plan(db, f.org.id).id == second.id  # type: ignore[union-attr]

    # Operators see what to run next on their machine, from the published plan.
    _device, shown, rows = service.next_up(db, f.member, f.pack.id)
    assert shown is not None and shown.id == second.id
    assert [r.op.op_key for r in rows] == sorted(
        (o.op_key for o in second.operations if o.device_id == f.pack.id),
        key=lambda k: next(o.start for o in second.operations if o.op_key == k),
    )


def test_cancel_stops_the_solve_and_keeps_the_best_schedule(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    for i in range(40):
        _wo(db, f, item, f"C-{i:02d}", quantity=20 + (i * 37) % 90, days=1 + i % 9, priority=1 + i % 9)
    plan = jobs.start_solve(db, f.admin, SolveIn(time_limit_s=120, objective="mix", mix=0.7))
    t0 = time.monotonic()
    # One solve at a time per enterprise.
    with pytest.raises(Conflict) as busy:
        jobs.start_solve(db, f.admin, SolveIn(time_limit_s=5))
    assert str(plan.id) in busy.value.messages()["en"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        db.expire_all()
        job = service.job_of(db, plan.id)
        assert job is not None
        if job.solutions >= 1 and job.best_objective is not None:
            break
        time.sleep(0.2)
    assert job.state == "running" and job.best_objective is not None and job.bound is not None
    db.expire_all()
    assert len(db.get(SchedulePlan, plan.id).operations) == 80  # type: ignore[union-attr]  # best so far, stored
    jobs.request_cancel(db, f.admin, plan.id)
    assert jobs.wait(plan.id, 30)
    assert time.monotonic() - t0 < 60  # stopped long before its 120 s
    db.expire_all()
    plan = db.get(SchedulePlan, plan.id)
    job = service.job_of(db, plan.id)  # type: ignore[union-attr]
    assert plan is not None and job is not None
    if job.state == "done":  # proved optimal before the cancel arrived: nothing to stop
        pytest.skip("the solver finished before the cancel")
    assert job.state == "cancelled" and plan.status == "cancelled"
    assert len(plan.operations) == 80 and plan.makespan_s
    with pytest.raises(Conflict):
        jobs.request_cancel(db, f.admin, plan.id)
    # A stopped plan is kept to look at, not to publish.
    with pytest.raises(Conflict) as refused:
        service.publish(db, f.admin, plan.id)
    assert "only a solved plan" in refused.value.messages()["en"]


def test_pins_are_respected_by_the_re_solve(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    for i in range(3):
        _wo(db, f, item, f"N-{i}", quantity=60)
    plan = _solved(db, f)
    target = next(o for o in plan.operations if o.op_key == "N-1/10")
    other = f.im2.id if target.device_id == f.im1.id else f.im1.id
    start = plan.origin + timedelta(hours=30)
    with pytest.raises(Invalid):
        service.add_pin(db, f.admin, plan.id, PinIn(op_key="N-1/10", device_id=f.pack.id))  # not in the routing
    with pytest.raises(Invalid):
        service.add_pin(db, f.admin, plan.id, PinIn(op_key="N-9/10", device_id=other))
    service.add_pin(db, f.admin, plan.id, PinIn(op_key="N-1/10", device_id=other, start=start))
    pin = service.add_pin(db, f.admin, plan.id, PinIn(op_key="N-2/20", device_id=f.pack.id))
    service.remove_pin(db, f.admin, plan.id, pin.id)
    db.expire_all()
    plan = db.get(SchedulePlan, plan.id)
    assert plan is not None and [p.op_key for p in plan.pins] == ["N-1/10"]
    again = jobs.start_solve(
        db, f.admin, SolveIn(time_limit_s=5), source="resolve", parent=plan, pins=service.pins_of(plan)
    )
    assert jobs.wait(again.id, 60)
    db.expire_all()
    again = db.get(SchedulePlan, again.id)
    assert again is not None and again.status == "solved", again.errors
    moved = next(o for o in again.operations if o.op_key == "N-1/10")
    assert moved.device_id == other
    assert abs((moved.start - start).total_seconds()) <= 1
    assert [p.op_key for p in again.pins] == ["N-1/10"]
    # What-if: the two plans side by side name the pinned operation among those that differ.
    cmp = service.compare(db, f.admin, plan.id, again.id)
    assert "N-1/10" in [d["op"] for d in cmp["differ"]]


def test_breakdown_alarm_proposes_a_repair_that_keeps_started_operations(db: Session) -> None:
    jobs.install()
    f = firm(db)
    item = product(db, f, cycle1=20.0, cycle2=20.0)
    for i in range(4):
        _wo(db, f, item, f"R-{i}", quantity=90)
    plan = _solved(db, f, horizon_days=5)
    service.publish(db, f.admin, plan.id)
    on_im1 = [o for o in plan.operations if o.device_id == f.im1.id]
    assert on_im1, "the plan uses machine 1"
    db.add(
        AlarmRule(
            org_id=f.org.id,
            device_id=f.im1.id,
            name="故障停机",
            kind="state",
            metric="state",
            severity="major",
            params={"states": ["fault"], "duration_s": 0},
        )
    )
    db.commit()
    alarms.forget_rules()
    now = utcnow()
    feed(db, f.im1, [(now - timedelta(seconds=5), {"state": "fault"})], now)
    jobs.wait_repairs(30)
    db.expire_all()
    alarm = db.execute(select(Alarm).where(Alarm.device_id == f.im1.id)).scalars().one()
    assert alarm.kind == "state" and alarm.severity == "major"
    proposals = service.list_proposals(db, f.admin)
    assert len(proposals) == 1
    p = proposals[0]
    assert p.state == "proposed" and p.base_plan_id == plan.id and p.device_id == f.im1.id and p.alarm_id
    assert service.pending_proposals(db, f.org.id) == 1
    before = {o.op_key: o for o in plan.operations}
    after = {o.op_key: o for o in p.plan.operations}
    assert set(after) == set(before)
    # Nothing new runs on machine 1 while it is down. An operation that had started when the repair was made is
    # kept where it is; if it was running on machine 1, the outage lengthens it (docs/scheduling-solver.md).
    for k, o in after.items():
        if o.device_id != f.im1.id:
            continue
        b = before[k]
        if b.start <= p.created_at:
            assert o.start == b.start and o.device_id == b.device_id and o.end >= b.end
        else:
            assert o.end <= p.down_from or o.start >= p.down_until
    # Moved are exactly the operations whose machine or start changed, and no more than those that had to:
    # operations on machine 1 inside the down window, and what follows them.
    changed = {k for k, o in after.items() if o.device_id != before[k].device_id or o.start != before[k].start}
    assert set(p.moved) == changed
    hit = {
        k
        for k, o in before.items()
        if o.device_id == f.im1.id and o.start < p.down_until and o.end > p.down_from and o.start > p.created_at
    }
    assert hit <= changed
    assert len(changed) <= 2 * len(hit) + len([o for o in before.values() if o.start >= p.down_from])
    rows = service.proposal_changes(p)
    assert {r["op"] for r in rows} == changed and all(r["after_start"] is not None for r in rows)

    # A second alarm of the same breakdown (vibration over its critical limit) adds no second proposal.
    db.add(
        AlarmRule(
            org_id=f.org.id,
            device_id=f.im1.id,
            name="振动超限",
            kind="threshold",
            metric="vibration",
            severity="critical",
            params={"op": ">", "value": 7.1, "duration_s": 0, "hysteresis": 0.5},
        )
    )
    db.commit()
    alarms.forget_rules()
    feed(db, f.im1, [(utcnow() - timedelta(seconds=2), {"vibration": 9.0})], utcnow())
    jobs.wait_repairs(30)
    db.expire_all()
    assert db.execute(select(func.count()).select_from(Alarm).where(Alarm.device_id == f.im1.id)).scalar_one() == 2
    assert len(service.list_proposals(db, f.admin)) == 1

    accepted = service.accept_proposal(db, f.admin, p.id)
    assert accepted.state == "accepted"
    assert service.published_plan(db, f.org.id).id == p.plan_id  # type: ignore[union-attr]
    with pytest.raises(Conflict) as twice:
        service.accept_proposal(db, f.admin, p.id)
    assert "only once" in twice.value.messages()["en"]
    with pytest.raises(Conflict):
        service.reject_proposal(db, f.admin, p.id)

    # A second breakdown on the new published plan: rejected this time; then a stale one cannot be accepted.
    second = jobs.propose_repair(db, f.org.id, f.im2.id, down_from=utcnow())
    assert second is not None
    service.reject_proposal(db, f.admin, second.id)
    third = jobs.propose_repair(db, f.org.id, f.im2.id, down_from=utcnow())
    assert third is not None
    service.publish(db, f.admin, plan.id)  # the planner published something else meanwhile
    db.expire_all()
    with pytest.raises(Conflict):
        service.accept_proposal(db, f.admin, third.id)
    assert db.get(RepairProposal, third.id).state == "stale"  # type: ignore[union-attr]


def test_bad_input_names_the_order_and_operation(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    wo = _wo(db, f, item, "BAD-7")
    op10 = item.operations[0]
    # A machine removed from the routing after the order was made: no eligible machine left for 注塑.
    db.execute(delete(OpMachine).where(OpMachine.op_id == op10.id))
    db.commit()
    db.expire_all()
    plan = jobs.start_solve(db, f.admin, SolveIn(time_limit_s=5))
    assert plan.status == "invalid"
    assert service.job_of(db, plan.id) is None  # nothing was solved
    err = next(e for e in plan.errors if e["code"] == "no_machine")
    assert err["job"] == "BAD-7" and err["operation"] == "BAD-7/10"
    assert "BAD-7" in err["message_zh"] and "BAD-7" in err["message_en"]
    with pytest.raises(Conflict):
        service.publish(db, f.admin, plan.id)
    # A zero cycle time (written around the routing rules) gives a zero duration.
    db.add(OpMachine(op_id=op10.id, device_id=f.im1.id, cycle_s=0.0))
    db.commit()
    db.expire_all()
    plan = jobs.start_solve(db, f.admin, SolveIn(time_limit_s=5))
    codes = {(e["code"], e["operation"]) for e in plan.errors}
    assert ("bad_duration", "BAD-7/10") in codes, plan.errors
    db.execute(update(OpMachine).where(OpMachine.op_id == op10.id).values(cycle_s=20.0))
    db.commit()
    db.expire_all()
    # No released work orders at all.
    production.transition(db, f.admin, wo.id, "planned")
    plan = jobs.start_solve(db, f.admin, SolveIn(time_limit_s=5))
    assert plan.status == "invalid" and plan.errors[0]["code"] == "no_jobs"


def test_an_enterprise_sees_only_its_own_plans(db: Session) -> None:
    f = firm(db)
    other = firm(db, "别家排产厂")
    item = product(db, f)
    _wo(db, f, item, "ISO-1")
    plan = _solved(db, f)
    with pytest.raises(NotFound):
        service.get_plan(db, other.admin, plan.id)
    with pytest.raises(NotFound):
        service.publish(db, other.admin, plan.id)
    with pytest.raises(NotFound):
        service.add_pin(db, other.admin, plan.id, PinIn(op_key="ISO-1/10", device_id=f.im1.id))
    with pytest.raises(NotFound):
        jobs.request_cancel(db, other.admin, plan.id)
    assert plan.id not in [p.id for p in service.list_plans(db, other.admin)]
    with pytest.raises(NotFound):
        service.next_up(db, other.member, f.pack.id)
    assert db.execute(select(func.count()).select_from(SolveJob).where(SolveJob.org_id == other.org.id)).scalar() == 0


def test_a_solve_whose_process_died_does_not_block_the_next(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    _wo(db, f, item, "ST-1")
    # A job left "running" by a server that stopped: no thread here, heartbeat two minutes old.
    old = SchedulePlan(org_id=f.org.id, status="solving", origin=utcnow(), horizon_s=86400, problem={})
    db.add(old)
    db.flush()
    db.add(SolveJob(org_id=f.org.id, plan_id=old.id, state="running", heartbeat_at=utcnow() - timedelta(minutes=2)))
    db.commit()
    plan = _solved(db, f)
    assert plan.status == "solved"
    db.expire_all()
    assert db.get(SchedulePlan, old.id).status == "failed"  # type: ignore[union-attr]
    assert service.job_of(db, old.id).state == "failed"  # type: ignore[union-attr]
