"""Solves and repairs are jobs of the job runner: a solve is a ``scheduling.solve`` job that reports progress and
stops on the runner's cancel as on the plan's; a solve whose worker died is retried by another and ends solved; a
breakdown alarm raised outside any web process (as in ``chaoyun ingest-worker``) becomes a repair job once it
commits."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chaoyun.apps.scheduling import hooks, jobs, service
from chaoyun.apps.scheduling.models import SchedulePlan, SolveJob
from chaoyun.apps.scheduling.schemas import SolveIn
from chaoyun.db import get_sessionmaker, utcnow
from chaoyun.jobs import runner
from chaoyun.jobs.models import Job, JobEvent
from tests.apps.scheduling.test_app_service import _wo
from tests.production.helpers import firm, product


def _run_job(db: Session, plan_id: int) -> Job:
    solve = service.job_of(db, plan_id)
    assert solve is not None and solve.run_job_id is not None
    job = db.get(Job, solve.run_job_id)
    assert job is not None
    return job


def test_a_solve_is_a_runner_job_with_progress_and_its_cancel_stops_the_search(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    for i in range(40):
        _wo(db, f, item, f"RJ-{i:02d}", quantity=20 + (i * 37) % 90, days=1 + i % 9, priority=1 + i % 9)
    plan = jobs.start_solve(db, f.admin, SolveIn(time_limit_s=120, objective="mix", mix=0.7))
    job = _run_job(db, plan.id)
    assert job.kind == hooks.SOLVE and job.org_id == f.org.id and job.user_id == f.admin.user.id
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        db.expire_all()
        job = _run_job(db, plan.id)
        if job.status == "running" and job.total == 120 and job.done >= 1:
            break
        time.sleep(0.2)
    assert job.status == "running" and job.total == 120 and job.done >= 1, (job.status, job.done, job.total)
    t0 = time.monotonic()
    runner.request_cancel(db, job)  # the runner's cancel, not the plan's
    assert jobs.wait(plan.id, 30) and time.monotonic() - t0 < 10
    db.expire_all()
    job, solve = _run_job(db, plan.id), service.job_of(db, plan.id)
    assert solve is not None
    if solve.state == "done":
        return  # proved optimal before the cancel arrived: nothing to stop
    assert job.status == "cancelled" and solve.state == "cancelled"
    assert db.get(SchedulePlan, plan.id).status == "cancelled"  # type: ignore[union-attr]


def test_a_solve_whose_worker_died_is_retried_and_ends_solved(db: Session) -> None:
    f = firm(db)
    item = product(db, f)
    _wo(db, f, item, "DIED-1")
    _wo(db, f, item, "DIED-2")
    # A worker took the job and died: the job is running under its name, its lease about to run out, and no
    # heartbeat came for minutes. The queue entry was consumed (by the dead worker), so only the reaper revives it.
    plan = SchedulePlan(org_id=f.org.id, status="solving", origin=utcnow(), horizon_s=86400, problem={})
    real = jobs.start_solve(db, f.admin, SolveIn(time_limit_s=5))
    first = _run_job(db, real.id)
    assert jobs.wait(real.id, 60)  # the first solve, to copy its problem from
    db.expire_all()
    plan.problem, plan.origin, plan.horizon_s = real.problem, real.origin, real.horizon_s
    db.add(plan)
    db.flush()
    dead = runner.new_job(db, hooks.SOLVE, {"solve_job_id": 0, "plan_id": plan.id, "time_limit": 5}, org_id=f.org.id)
    old = utcnow() - timedelta(minutes=3)
    solve = SolveJob(org_id=f.org.id, plan_id=plan.id, state="running", heartbeat_at=old, run_job_id=dead.id)
    db.add(solve)
    db.flush()
    dead.args = {**dead.args, "solve_job_id": solve.id}
    db.execute(update(Job).where(Job.id == dead.id).values(status="running", attempts=1, worker="dead:1",
                                                           lease_until=utcnow() - timedelta(seconds=1)))
    db.commit()
    jobs.clear_stale(db, f.org.id)  # the runner still has it: not failed
    db.expire_all()
    assert db.get(SolveJob, solve.id).state == "running"  # type: ignore[union-attr]
    assert runner.reap() >= 1
    assert jobs.wait(plan.id, 60)
    db.expire_all()
    got, retried = db.get(SolveJob, solve.id), db.get(Job, dead.id)
    assert got is not None and retried is not None
    assert got.state == "done" and retried.status == "done" and retried.attempts == 2
    assert db.get(SchedulePlan, plan.id).status == "solved"  # type: ignore[union-attr]
    events = [e.event for e in db.execute(select(JobEvent).where(JobEvent.job_id == dead.id)).scalars()]
    assert events == ["requeued", "started", "done"], events
    assert first.id != dead.id


def test_clear_stale_fails_a_solve_whose_runner_job_ended_without_it(db: Session) -> None:
    f = firm(db)
    plan = SchedulePlan(org_id=f.org.id, status="solving", origin=utcnow(), horizon_s=86400, problem={})
    db.add(plan)
    db.flush()
    job = runner.new_job(db, hooks.SOLVE, {"solve_job_id": 0, "plan_id": plan.id, "time_limit": 5}, org_id=f.org.id)
    job.status = "failed"
    db.add(SolveJob(org_id=f.org.id, plan_id=plan.id, state="running", heartbeat_at=utcnow(), run_job_id=job.id))
    db.commit()
    jobs.clear_stale(db, f.org.id)
    db.expire_all()
    assert service.job_of(db, plan.id).state == "failed"  # type: ignore[union-attr]
    assert db.get(SchedulePlan, plan.id).status == "failed"  # type: ignore[union-attr]


def test_a_queued_solve_cancelled_never_runs(db: Session, job_worker: runner.Runner) -> None:
    f = firm(db)
    item = product(db, f)
    _wo(db, f, item, "Q-1")
    job_worker.stop()  # no worker: the solve waits in the queue
    try:
        plan = jobs.start_solve(db, f.admin, SolveIn(time_limit_s=5))
        solve = jobs.request_cancel(db, f.admin, plan.id)
        assert solve.state == "cancelled"
        db.expire_all()
        assert _run_job(db, plan.id).status == "cancelled"
        assert db.get(SchedulePlan, plan.id).status == "failed"  # type: ignore[union-attr]  # nothing was solved
        again = jobs.start_solve(db, f.admin, SolveIn(time_limit_s=5))  # the enterprise is free to solve again
        assert jobs.wait(again.id, 60)  # no worker here: the caller runs it
        db.expire_all()
        assert db.get(SchedulePlan, again.id).status == "solved"  # type: ignore[union-attr]
    finally:
        job_worker.stop_flag.clear()
        job_worker.start()


def test_the_breakdown_hook_enqueues_after_commit_only(db: Session) -> None:
    """The hook fires after the alarm's transaction commits; a rolled-back alarm leaves no job behind."""
    from chaoyun.devices import events

    seen: list[int] = []

    def spy(**data: object) -> None:
        seen.append(int(data["alarm_id"]))  # type: ignore[call-overload]

    events.subscribe("alarm.raised", spy)
    try:
        with get_sessionmaker()() as s:
            events.publish_after_commit(s, "alarm.raised", alarm_id=1)
            assert seen == []
            s.rollback()
        with get_sessionmaker()() as s:
            events.publish_after_commit(s, "alarm.raised", alarm_id=2)
            s.commit()
            s.commit()  # a second commit publishes nothing again
    finally:
        events.unsubscribe("alarm.raised", spy)
    assert seen == [2]


def test_the_ingest_worker_installs_the_subscribers_and_their_job_kinds() -> None:
    from chaoyun.devices import events
    from chaoyun.hooks import install_all

    install_all()
    assert {hooks.SOLVE, hooks.REPAIR, "maintenance.alarm_order"} <= set(runner.KINDS)
    names = {f"{fn.__module__}.{fn.__name__}" for fn in events._subscribers["alarm.raised"]}
    assert {"chaoyun.apps.scheduling.hooks.on_alarm", "chaoyun.apps.maintenance.service.on_alarm"} <= names
