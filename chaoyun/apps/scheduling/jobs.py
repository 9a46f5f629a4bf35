"""Solving on the job runner, and repairs when a machine goes down.

A solve never runs in a web request: ``start_solve`` stores the plan, a ``SolveJob`` row (the plan's solve: state,
live progress, cancel flag) and a ``scheduling.solve`` job of the runner (``chaoyun.jobs.runner``), in one
transaction. A worker (the web process's embedded one, or ``chaoyun worker`` on any host) runs the solve: CP-SAT
releases the GIL while it searches, and a monitor beside it writes the progress (best objective, bound, makespan,
solutions, and the best schedule so far) to the database every ``MONITOR_S`` seconds, so any web worker can show
it, and reads the cancel flags (the plan's and the runner job's) from there: a Cancel sent to another process stops
the search within a second, and the best schedule found is kept. One queued or running solve per enterprise (a
unique index). A worker that dies mid-solve loses its lease and the runner retries the solve on another worker; a
solve whose runner job ended without it (or an old row with no job) is marked failed at the next start.

Breakdowns: ``hooks.on_alarm`` puts a ``scheduling.repair`` job on the runner; ``run_repair`` repairs the published
plan (``solver.repair``: operations already started stay, the machine is blocked for ``BREAKDOWN_HOURS``, as few
operations as possible move) and stores a repair proposal for the planner.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun.apps.scheduling import build as b
from chaoyun.apps.scheduling import service, solver
from chaoyun.apps.scheduling.hooks import DOWN_SEVERITIES, DOWN_STATES, REPAIR, SOLVE, is_down, plan_uses
from chaoyun.apps.scheduling.hooks import install as install
from chaoyun.apps.scheduling.model import Assignment, ProblemError, Progress, Result
from chaoyun.apps.scheduling.models import RepairProposal, SchedulePlan, SolveJob
from chaoyun.apps.scheduling.schemas import SolveIn
from chaoyun.db import get_sessionmaker, utcnow
from chaoyun.errors import Conflict
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor
from chaoyun.jobs import runner
from chaoyun.jobs.models import Job

log = logging.getLogger("chaoyun.apps.scheduling")
MONITOR_S = 0.5
STALE_S = 30.0
WORKERS = 2  # CP-SAT search workers (threads) of one solve
REPAIR_TIME_LIMIT_S = 5.0
__all__ = ["DOWN_SEVERITIES", "DOWN_STATES", "install", "is_down"]


# ---------------------------------------------------------------- starting a solve


def clear_stale(db: Session, org_id: int) -> None:
    """Solves that cannot end any more are failed: their runner job ended without them (its worker died more often
    than the job may be tried), or, with no runner job, no heartbeat came for STALE_S."""
    limit = utcnow() - timedelta(seconds=STALE_S)
    for job in db.execute(
        select(SolveJob).where(SolveJob.org_id == org_id, SolveJob.state.in_(("queued", "running")))
    ).scalars():
        if job.run_job_id is not None:
            status = db.execute(select(Job.status).where(Job.id == job.run_job_id)).scalar()
            if status in ("queued", "running"):
                continue  # the runner has it (a dead worker's job is retried after its lease)
        elif (job.heartbeat_at or job.created_at) >= limit:
            continue
        job.state = "failed"
        job.message = "no heartbeat: the solving process stopped"
        job.finished_at = utcnow()
        plan = db.get(SchedulePlan, job.plan_id)
        if plan is not None and plan.status == "solving":
            plan.status = "cancelled" if plan.operations else "failed"
    db.commit()


def start_solve(
    db: Session,
    actor: Actor,
    data: SolveIn,
    *,
    source: str = "planner",
    parent: SchedulePlan | None = None,
    pins: list[tuple[str, int | None, datetime | None]] | None = None,
    hint: list[Assignment] | None = None,
    now: datetime | None = None,
) -> SchedulePlan:
    """Store a plan for ``data`` and solve it in the background; a problem with bad input is stored as an
    ``invalid`` plan with its errors (nothing is solved). Refused while another solve of the enterprise runs."""
    clear_stale(db, actor.org_id)
    running = service.running_job(db, actor.org_id)
    if running is not None:
        raise _busy(running.plan_id)
    built = b.build(
        db,
        actor.org_id,
        now=now,
        work_order_ids=data.work_order_ids or None,
        horizon_days=data.horizon_days,
        objective=data.objective,
        mix=data.mix,
        pins=pins,
    )
    errors = solver.check(built.problem)
    if not built.problem.jobs and not any(e.code == "no_jobs" for e in errors):
        errors = [
            ProblemError(
                "no_jobs",
                "",
                "",
                "没有可排产的工单：请先下达工单（已下达或生产中的工单才参与排产）。",
                "No work orders to schedule: release work orders first (released and running ones are planned).",
            )
        ]
    plan = SchedulePlan(
        org_id=actor.org_id,
        name=data.name or "",
        status="invalid" if errors else "solving",
        source=source,
        parent_id=parent.id if parent is not None else None,
        origin=built.origin,
        horizon_s=built.problem.horizon,
        objective=data.objective,
        mix=data.mix,
        time_limit_s=data.time_limit_s,
        work_order_ids=built.work_order_ids,
        problem=b.problem_json(built),
        errors=[e.__dict__ for e in errors],
        created_by=actor.user.username,
    )
    if pins:
        from chaoyun.apps.scheduling.models import PlanPin

        for key, dev, start in pins:
            plan.pins.append(PlanPin(op_key=key, device_id=dev, start=start, created_by=actor.user.username))
    db.add(plan)
    db.flush()
    record_by(
        db,
        actor,
        "solve",
        "schedule_plan",
        plan.id,
        after={"objective": data.objective, "orders": len(built.work_order_ids), "invalid": bool(errors)},
    )
    if errors:
        plan.solver_status = "invalid"
        db.commit()
        return plan
    job = SolveJob(org_id=actor.org_id, plan_id=plan.id, state="queued")
    db.add(job)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        other = service.running_job(db, actor.org_id)
        raise _busy(other.plan_id if other else 0) from None
    run = runner.new_job(
        db,
        SOLVE,
        {
            "solve_job_id": job.id,
            "plan_id": plan.id,
            "time_limit": data.time_limit_s,
            "hint": [a.__dict__ for a in hint] if hint else None,
        },
        title=f"schedule plan {plan.id}",
        user_id=actor.user.id,
        org_id=actor.org_id,
        max_attempts=2,
    )
    job.run_job_id = run.id
    db.commit()
    runner.send(run.id)
    return plan


def _busy(plan_id: int) -> Conflict:
    return Conflict(
        N_("A solve is already running for your enterprise (plan %(plan)s); wait for it to finish or cancel it."),
        plan=plan_id,
    )


def request_cancel(db: Session, actor: Actor, plan_id: int) -> SolveJob:
    plan = service.get_plan(db, actor, plan_id)
    job = service.job_of(db, plan.id)
    if job is None or job.state not in ("queued", "running"):
        raise Conflict(N_("Plan %(id)s is not being solved; there is nothing to cancel."), id=plan.id)
    job.cancel_requested = True
    record_by(db, actor, "cancel", "schedule_plan", plan.id)
    db.commit()
    run = db.get(Job, job.run_job_id) if job.run_job_id is not None else None
    if run is not None and runner.request_cancel(db, run).status == "cancelled":
        # Still in the queue: it never starts, so the plan's solve ends here.
        db.refresh(job)
        if job.state == "queued":
            job.state, job.message, job.finished_at = "cancelled", "cancelled", utcnow()
            plan.status = "cancelled" if plan.operations else "failed"
            plan.solver_status = "cancelled"
            db.commit()
    return job


def wait(plan_id: int, timeout: float = 60.0) -> bool:
    """Wait for the solve of a plan to end (tests, the demo, the CLI); where no worker runs in this process, the
    caller runs it. True when it ended."""
    with get_sessionmaker()() as db:
        job = service.job_of(db, plan_id)
        if job is None or job.state not in ("queued", "running"):
            return True
        run_id = job.run_job_id
    if run_id is None:
        return False  # an old row nobody runs: clear_stale ends it
    return runner.drain((), timeout, job_ids=[run_id])


def wait_repairs(timeout: float = 60.0) -> None:
    """Wait for (or, with no worker here, run) the queued repair jobs."""
    runner.drain([REPAIR], timeout)


# ---------------------------------------------------------------- the solve, in a worker


@dataclass
class _Live:
    latest: Progress | None = None
    reported: int = 0  # schedules reported so far (the solver's quick first one included)
    written_solutions: int = 0
    stop: bool = False
    cancelled: bool = False  # the runner job was cancelled (or taken over): it ends as such
    done: threading.Event = field(default_factory=threading.Event)


def run_solve(
    ctx: runner.JobContext,
    solve_job_id: int,
    plan_id: int,
    time_limit: float,
    hint: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``scheduling.solve`` job: solve the stored problem of the plan (again, on a retry)."""
    with get_sessionmaker()() as db:
        job, plan = db.get(SolveJob, solve_job_id), db.get(SchedulePlan, plan_id)
        if job is None or plan is None or job.state not in ("queued", "running"):
            return {"status": "gone"}  # cancelled while queued, or failed by clear_stale
        problem = b.problem_from_json(plan.problem)
    live = _run(solve_job_id, plan_id, problem, time_limit, [Assignment(**a) for a in hint or []] or None, ctx)
    if ctx._lost.is_set():
        raise runner.Lost()
    if live.cancelled:
        raise runner.Cancelled()
    return {"solutions": live.reported}


def _run(
    job_id: int,
    plan_id: int,
    problem: Any,
    time_limit: float,
    hint: list[Assignment] | None,
    ctx: runner.JobContext | None = None,
) -> _Live:
    live = _Live()
    maker = get_sessionmaker()
    with maker() as db:
        db.execute(update(SolveJob).where(SolveJob.id == job_id).values(state="running", heartbeat_at=utcnow()))
        db.commit()
    monitor = threading.Thread(target=_monitor, args=(maker, job_id, plan_id, live, time_limit, ctx), daemon=True)
    monitor.start()
    result: Result | None = None
    failure = ""
    try:
        result = solver.solve(
            problem,
            time_limit=time_limit,
            workers=WORKERS,
            on_progress=lambda p: _report(live, p),
            should_stop=lambda: live.stop,
            hint=hint,
        )
    except Exception as exc:  # the job must end in a state, whatever went wrong
        log.exception("solve of plan %s failed", plan_id)
        failure = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        live.done.set()
        monitor.join()
    if ctx is not None and ctx._lost.is_set():
        return live  # another worker has the job now: its result, not ours, is stored
    try:
        with maker() as db:
            _finish(db, job_id, plan_id, result, failure, live)
    except Exception:
        log.exception("could not store the result of plan %s", plan_id)
        raise
    return live


def _report(live: _Live, p: Progress) -> None:
    live.latest = p
    live.reported += 1


def _monitor(
    maker: Callable[[], Session],
    job_id: int,
    plan_id: int,
    live: _Live,
    time_limit: float,
    ctx: runner.JobContext | None,
) -> None:
    """Progress to the database, cancel flags from it, until the solve ends."""
    started = time.monotonic()
    while not live.done.wait(MONITOR_S):
        if ctx is not None:
            # The runner job's bar (on the jobs page): seconds of the time limit; a cancel there stops the search.
            try:
                msg = f"{live.reported} solutions" if live.reported else ""
                ctx.progress(min(int(time.monotonic() - started), int(time_limit)), int(time_limit), msg)
            except (runner.Cancelled, runner.Lost):
                live.stop = live.cancelled = True
            except Exception:
                log.exception("job progress of plan %s not written", plan_id)
        try:
            with maker() as db:
                job = db.get(SolveJob, job_id)
                if job is None:
                    live.stop = True
                    return
                if job.cancel_requested:
                    live.stop = True
                p = live.latest
                job.heartbeat_at = utcnow()
                if p is not None:
                    job.best_objective = float(p.objective)
                    job.bound = float(p.bound)
                    job.makespan_s = int(p.makespan)
                    job.seconds = float(p.seconds)
                    reported = live.reported
                    if reported != live.written_solutions:
                        plan = db.get(SchedulePlan, plan_id)
                        if plan is not None:
                            service.store_assignments(db, plan, list(p.assignments))
                        live.written_solutions = reported
                        job.solutions = reported
                db.commit()
        except Exception:  # a busy database must not end the solve; the next beat tries again
            log.exception("progress of plan %s not written", plan_id)


STATUS_OF = {
    "optimal": "solved",
    "feasible": "solved",
    "cancelled": "cancelled",
    "invalid": "invalid",
    "infeasible": "failed",
    "timeout_no_solution": "failed",
}


def _finish(db: Session, job_id: int, plan_id: int, result: Result | None, failure: str, live: _Live) -> None:
    job = db.get(SolveJob, job_id)
    plan = db.get(SchedulePlan, plan_id)
    if job is None or plan is None:
        return
    job.heartbeat_at = job.finished_at = utcnow()
    if result is None:
        job.state = "failed"
        job.message = failure
        plan.status = "cancelled" if plan.operations else "failed"
        db.commit()
        return
    _apply(db, plan, result)
    job.state = {"cancelled": "cancelled", "invalid": "failed", "infeasible": "failed"}.get(result.status, "done")
    if result.status == "timeout_no_solution":
        job.state = "failed"
    job.best_objective = float(result.objective) if result.assignments else None
    job.bound = float(result.bound)
    job.makespan_s = int(result.makespan)
    job.seconds = float(result.seconds)
    job.solutions = max(job.solutions, live.reported, 1 if result.assignments else 0)
    job.message = result.status
    db.commit()


def _apply(db: Session, plan: SchedulePlan, result: Result) -> None:
    plan.solver_status = result.status
    plan.status = STATUS_OF.get(result.status, "failed")
    if result.status == "cancelled" and not result.assignments:
        plan.status = "failed"
    plan.errors = [e.__dict__ for e in result.errors]
    plan.seconds = float(result.seconds)
    plan.bound = float(result.bound)
    if result.assignments:
        service.store_assignments(db, plan, result.assignments)
        plan.objective_value = float(result.objective)
        db.flush()
        db.refresh(plan)
        service.refresh_figures(plan)


def solve_now(db: Session, actor: Actor, data: SolveIn, now: datetime | None = None) -> SchedulePlan:
    """Solve and wait (the demo, the CLI): the same rows and job as a background solve."""
    plan = start_solve(db, actor, data, now=now)
    wait(plan.id, timeout=data.time_limit_s + 60)
    db.refresh(plan)
    return plan


# ---------------------------------------------------------------- breakdowns → repair proposals


def run_repair(
    ctx: runner.JobContext,
    org_id: int,
    device_id: int,
    alarm_id: int | None = None,
    started_at: str | None = None,
    message: str = "",
) -> dict[str, Any]:
    """The ``scheduling.repair`` job (one proposal per alarm: a retry adds none)."""
    with get_sessionmaker()() as db:
        proposal = propose_repair(
            db,
            org_id,
            device_id,
            down_from=datetime.fromisoformat(started_at) if started_at else utcnow(),
            alarm_id=alarm_id,
            reason=message,
        )
        return {"proposal": proposal.id if proposal is not None else None}


def propose_repair(
    db: Session,
    org_id: int,
    device_id: int,
    *,
    down_from: datetime,
    down_until: datetime | None = None,
    alarm_id: int | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> RepairProposal | None:
    """A repaired copy of the published plan with the machine down in [down_from, down_until), as a proposal."""
    now = now or utcnow()
    base = plan_uses(db, org_id, device_id, now)
    if base is None:
        return None
    if alarm_id is not None:
        seen = db.execute(
            select(RepairProposal.id).where(RepairProposal.org_id == org_id, RepairProposal.alarm_id == alarm_id)
        ).first()
        if seen is not None:
            return None  # one proposal per alarm
        # Two alarms of one breakdown (a fault state and a vibration limit): the open proposal already covers it.
        open_one = db.execute(
            select(RepairProposal.id).where(
                RepairProposal.base_plan_id == base.id,
                RepairProposal.device_id == device_id,
                RepairProposal.state == "proposed",
                RepairProposal.alarm_id.is_not(None),
            )
        ).first()
        if open_one is not None:
            return None
    down_until = down_until or max(down_from, now) + timedelta(hours=b.BREAKDOWN_HOURS)
    origin = base.origin
    problem = b.problem_from_json(base.problem)
    m = str(device_id)
    window = (max(0, b.secs(origin, down_from)), max(1, b.secs(origin, down_until)))
    previous = service.assignments_of(base)
    t_now = max(0, b.secs(origin, now))
    result = solver.repair(problem, previous, t_now, {m: window}, time_limit=REPAIR_TIME_LIMIT_S, workers=WORKERS)
    if not result.assignments or result.status not in ("optimal", "feasible", "cancelled"):
        log.warning("no repair for plan %s after device %s went down: %s", base.id, device_id, result.status)
        return None
    stored = dict(base.problem)
    blocked = {k: list(v) for k, v in stored.get("blocked", {}).items()}
    blocked.setdefault(m, []).append(list(window))
    stored["blocked"] = blocked
    kept = {a.operation for a in previous if a.start < t_now} | {f["operation"] for f in base.problem.get("frozen", [])}
    stored["frozen"] = [a.__dict__ for a in result.assignments if a.operation in kept]
    plan = SchedulePlan(
        org_id=org_id,
        name=f"{base.name or base.id} · 修复",
        status="solved",
        solver_status=result.status,
        source="repair",
        parent_id=base.id,
        origin=origin,
        horizon_s=max(base.horizon_s, result.makespan),
        objective=base.objective,
        mix=base.mix,
        time_limit_s=REPAIR_TIME_LIMIT_S,
        work_order_ids=list(base.work_order_ids),
        problem=stored,
        created_by="system",
        seconds=float(result.seconds),
        bound=float(result.bound),
        objective_value=float(result.objective),
    )
    db.add(plan)
    db.flush()
    service.store_assignments(db, plan, result.assignments)
    db.flush()
    db.refresh(plan)
    service.refresh_figures(plan)
    proposal = RepairProposal(
        org_id=org_id,
        base_plan_id=base.id,
        plan_id=plan.id,
        device_id=device_id,
        alarm_id=alarm_id,
        reason=reason,
        down_from=b.at(origin, window[0]),
        down_until=b.at(origin, window[1]),
        moved=list(result.moved),
    )
    db.add(proposal)
    db.commit()
    return proposal
