"""JSON API of the scheduling app (``/api/v1/apps/scheduling``): everything the pages do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from chaoyun.apps.scheduling import build as b
from chaoyun.apps.scheduling import jobs, service
from chaoyun.apps.scheduling.models import PlanPin, RepairProposal, SchedulePlan, SolveJob
from chaoyun.apps.scheduling.permissions import SCHED_PLAN, SCHED_READ
from chaoyun.apps.scheduling.schemas import PinIn, ResolveIn, SolveIn
from chaoyun.apps.usage import track_use
from chaoyun.db import get_db, utcnow
from chaoyun.i18n import both
from chaoyun.identity.permissions import Actor
from chaoyun.web.deps import requires
from chaoyun.web.params import INT32_MAX, DbId

router = APIRouter(prefix="/api/v1/apps/scheduling", tags=["scheduling"], dependencies=[Depends(track_use)])
jobs.install()


def job_out(job: SolveJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    gap = None
    if job.best_objective is not None and job.bound is not None and job.best_objective > 0:
        gap = round(max(0.0, (job.best_objective - job.bound) / job.best_objective) * 100, 2)
    return {
        "id": job.id,
        "state": job.state,
        "cancel_requested": job.cancel_requested,
        "best_objective": job.best_objective,
        "bound": job.bound,
        "gap_pct": gap,
        "makespan_s": job.makespan_s,
        "solutions": job.solutions,
        "seconds": job.seconds,
        "heartbeat_at": job.heartbeat_at,
    }


def pin_out(p: PlanPin) -> dict[str, Any]:
    return {"id": p.id, "op_key": p.op_key, "device_id": p.device_id, "start": p.start}


def plan_out(db: Session, plan: SchedulePlan, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": plan.id,
        "name": plan.name,
        "status": plan.status,
        "solver_status": plan.solver_status,
        "source": plan.source,
        "parent_id": plan.parent_id,
        "published": plan.published,
        "published_at": plan.published_at,
        "origin": plan.origin,
        "horizon_s": plan.horizon_s,
        "objective": plan.objective,
        "mix": plan.mix,
        "time_limit_s": plan.time_limit_s,
        "work_order_ids": plan.work_order_ids,
        "makespan_s": plan.makespan_s,
        "objective_value": plan.objective_value,
        "bound": plan.bound,
        "weighted_tardiness_s": plan.tardiness_s,
        "late_orders": plan.late_orders,
        "seconds": plan.seconds,
        "errors": plan.errors,
        "created_at": plan.created_at,
        "job": job_out(service.job_of(db, plan.id)),
    }
    if detail:
        f = service.figures(plan)
        out["late"] = f.late
        out["machine_load_h"] = f.load
        out["pins"] = [pin_out(p) for p in plan.pins]
        names = plan.problem.get("machine_names", {})
        ops = plan.problem.get("ops", {})
        out["operations"] = [
            {
                "op_key": o.op_key,
                "work_order": ops.get(o.op_key, {}).get("number", o.job_key),
                "work_order_id": o.work_order_id,
                "operation": ops.get(o.op_key, {}).get("name", ""),
                "device_id": o.device_id,
                "machine": names.get(str(o.device_id), ""),
                "start": o.start,
                "end": o.end,
                "setup_s": o.setup_s,
                "frozen": o.frozen,
            }
            for o in plan.operations
        ]
    return out


def _started(db: Session, plan: SchedulePlan) -> Response:
    if plan.status == "invalid":
        m = both("The work orders cannot be scheduled as they are; see the list of problems.")
        return JSONResponse(
            {
                "error": {"code": "invalid_problem", "message_zh": m["zh"], "message_en": m["en"]},
                "problems": plan.errors,
                "plan_id": plan.id,
            },
            status_code=422,
        )
    return JSONResponse(_json(plan_out(db, plan)), status_code=202)


def _json(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


@router.get("/work-orders")
def work_orders(db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> list[dict[str, Any]]:
    """Released and running work orders: what a solve plans."""
    return [
        {
            "id": wo.id,
            "number": wo.number,
            "item": wo.item.code,
            "quantity": wo.quantity,
            "due_date": wo.due_date,
            "priority": wo.priority,
            "state": wo.state,
        }
        for wo in b.schedulable_orders(db, actor.org_id)
    ]


@router.post("/solve", status_code=202)
def solve(data: SolveIn, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)) -> Response:
    """Start a background solve; 202 with the plan (poll ``/plans/{id}/progress``), 422 with the problems named by
    order and operation when the input is bad, 409 while another solve of the enterprise runs."""
    return _started(db, jobs.start_solve(db, actor, data))


@router.get("/plans")
def plans(db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> list[dict[str, Any]]:
    return [plan_out(db, p) for p in service.list_plans(db, actor)]


@router.get("/published")
def published(db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> dict[str, Any] | None:
    plan = service.published_plan(db, actor.org_id)
    return plan_out(db, plan, detail=True) if plan is not None else None


@router.get("/plans/{sched_plan_id}")
def plan(sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> dict[str, Any]:
    return plan_out(db, service.get_plan(db, actor, sched_plan_id), detail=True)


@router.get("/plans/{sched_plan_id}/progress")
def progress(
    sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)
) -> dict[str, Any]:
    p = service.get_plan(db, actor, sched_plan_id)
    return {"plan_id": p.id, "status": p.status, "job": job_out(service.job_of(db, p.id))}


@router.get("/plans/{sched_plan_id}/gantt")
def gantt(sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> dict[str, Any]:
    """The Gantt chart's data: bars in epoch milliseconds, rows by machine and by order, due dates, off-shift."""
    return service.gantt(service.get_plan(db, actor, sched_plan_id))


@router.post("/plans/{sched_plan_id}/cancel")
def cancel(sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)) -> dict[str, Any]:
    return {"job": job_out(jobs.request_cancel(db, actor, sched_plan_id))}


@router.post("/plans/{sched_plan_id}/publish")
def publish(
    sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> dict[str, Any]:
    return plan_out(db, service.publish(db, actor, sched_plan_id))


@router.post("/plans/{sched_plan_id}/pins", status_code=201)
def add_pin(
    sched_plan_id: DbId, data: PinIn, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> dict[str, Any]:
    return pin_out(service.add_pin(db, actor, sched_plan_id, data))


@router.delete("/plans/{sched_plan_id}/pins/{sched_pin_id}", status_code=204)
def remove_pin(
    sched_plan_id: DbId, sched_pin_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> Response:
    service.remove_pin(db, actor, sched_plan_id, sched_pin_id)
    return Response(status_code=204)


def resolve_plan(db: Session, actor: Actor, plan_id: int, data: ResolveIn) -> SchedulePlan:
    """A new plan for the same orders, solved around the plan's pins, starting from its schedule."""
    old = service.get_plan(db, actor, plan_id)
    now = utcnow()
    req = SolveIn(
        work_order_ids=list(old.work_order_ids) or None,
        horizon_days=min(max(old.horizon_s / 86400, 0.5), 60),
        objective=data.objective or old.objective,
        mix=old.mix if data.mix is None else data.mix,
        time_limit_s=data.time_limit_s or old.time_limit_s,
        name=(old.name or "")[:90],
    )
    hint = [a for a in service.assignments_of(old, now) if a.start >= 0]
    return jobs.start_solve(
        db, actor, req, source="resolve", parent=old, pins=service.pins_of(old), hint=hint or None, now=now
    )


@router.post("/plans/{sched_plan_id}/resolve", status_code=202)
def resolve(
    sched_plan_id: DbId, data: ResolveIn, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> Response:
    return _started(db, resolve_plan(db, actor, sched_plan_id, data))


@router.get("/compare")
def compare(
    a: DbId = Query(..., ge=1, le=INT32_MAX),
    b: DbId = Query(..., ge=1, le=INT32_MAX),
    db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)
) -> dict[str, Any]:
    c = service.compare(db, actor, a, b)

    def fig(f: service.Figures) -> dict[str, Any]:
        return {
            "makespan_s": f.makespan_s,
            "end": f.end,
            "weighted_tardiness_s": f.tardiness_s,
            "late_orders": f.late,
            "machine_load_h": f.load,
        }

    body = {"a": c["a"].id, "b": c["b"].id, "fa": fig(c["fa"]), "fb": fig(c["fb"]), "differ": c["differ"]}
    out: dict[str, Any] = _json(body)
    return out


@router.get("/machines/{device_id}/next")
def machine_next(device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> dict[str, Any]:
    """What the published plan puts on this machine next."""
    device, plan, rows = service.next_up(db, actor, device_id)
    return {
        "device_id": device.id,
        "plan_id": plan.id if plan else None,
        "next": [
            {
                "op_key": r.op.op_key,
                "work_order": r.number,
                "operation": r.name,
                "item": r.item,
                "quantity": r.remaining,
                "start": r.op.start,
                "end": r.op.end,
                "setup_s": r.op.setup_s,
                "state": r.state,
                "running_now": r.running_now,
            }
            for r in rows
        ],
    }


def proposal_out(p: RepairProposal, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "state": p.state,
        "base_plan_id": p.base_plan_id,
        "plan_id": p.plan_id,
        "device_id": p.device_id,
        "alarm_id": p.alarm_id,
        "reason": p.reason,
        "down_from": p.down_from,
        "down_until": p.down_until,
        "moved": p.moved,
        "created_at": p.created_at,
        "decided_at": p.decided_at,
    }
    if detail:
        out["changes"] = service.proposal_changes(p)
    return out


@router.get("/proposals")
def proposals(db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> list[dict[str, Any]]:
    return [proposal_out(p) for p in service.list_proposals(db, actor)]


@router.get("/proposals/{proposal_id}")
def proposal(proposal_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> dict[str, Any]:
    return proposal_out(service.get_proposal(db, actor, proposal_id), detail=True)


@router.post("/proposals/{proposal_id}/accept")
def accept(proposal_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)) -> dict[str, Any]:
    return proposal_out(service.accept_proposal(db, actor, proposal_id))


@router.post("/proposals/{proposal_id}/reject")
def reject(proposal_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)) -> dict[str, Any]:
    return proposal_out(service.reject_proposal(db, actor, proposal_id))

