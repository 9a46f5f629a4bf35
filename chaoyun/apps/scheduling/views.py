"""Pages of the scheduling app (智能排产): the planner, a plan with its Gantt chart, pins and live progress, the
what-if comparison, repair proposals, and each machine's "next up" list for its operator."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from chaoyun import timefmt
from chaoyun.apps.scheduling import build as b
from chaoyun.apps.scheduling import jobs, service
from chaoyun.apps.scheduling.api import job_out, resolve_plan
from chaoyun.apps.scheduling.permissions import SCHED_PLAN, SCHED_READ
from chaoyun.apps.scheduling.schemas import MAX_HORIZON_DAYS, MAX_TIME_LIMIT_S, PinIn, ResolveIn, SolveIn
from chaoyun.apps.usage import track_use
from chaoyun.db import get_db
from chaoyun.errors import AppError, Invalid
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import INT32_MAX, DbId
from chaoyun.web.render import render
from chaoyun.web.validation import field_errors

router = APIRouter(include_in_schema=False, dependencies=[Depends(track_use)])
jobs.install()

nav.register(nav.NavItem("enterprise", N_("Scheduling"), "/apps/scheduling", SCHED_READ, 34, group="production"))


def _todos(db: Session, actor: Actor) -> list[nav.Todo]:
    if not actor.has(SCHED_PLAN):
        return []
    n = service.pending_proposals(db, actor.org_id)
    return [nav.Todo(N_("Schedule repairs to decide"), n, "/apps/scheduling#proposals", 40)]


nav.register_todo("scheduling", _todos)

FLASH = {
    "published": N_("Plan published: operators now see it on their machines."),
    "cancelling": N_("Cancel sent; the best schedule found so far is kept."),
    "pinned": N_("Pin saved. Re-solve to plan around it."),
    "unpinned": N_("Pin removed."),
    "accepted": N_("Repair accepted: it is now the published plan."),
    "rejected": N_("Repair rejected; the published plan stays."),
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _flash(request: Request) -> str | None:
    return FLASH.get(request.query_params.get("msg", ""))


def _pydantic_errors(request: Request, form: FormState, exc: ValidationError) -> None:
    en = request.state.locale == "en"
    for fe in field_errors(exc.errors()):
        field = fe["field"].split(".")[0] if fe["field"] not in ("", "body") else "horizon_days"
        form.errors.setdefault(field, fe["message_en"] if en else fe["message_zh"])


def _num(form: FormState, name: str, default: str) -> str:
    return form.get(name, default).strip() or default


# ---------------------------------------------------------------- the planner


def _planner(request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200) -> Response:
    jobs.clear_stale(db, actor.org_id)  # a solve whose process stopped is shown as failed, not running forever
    orders = b.schedulable_orders(db, actor.org_id)
    plans = service.list_plans(db, actor, limit=30)
    running = service.running_job(db, actor.org_id)
    form = form or FormState()
    chosen = set(form.values.get("wo_list", "").split(",")) if form.values.get("wo_list") else None
    return render(
        request,
        "scheduling/planner.html",
        {
            "orders": orders,
            "chosen": chosen,
            "plans": plans,
            "published": service.published_plan(db, actor.org_id),
            "running": running,
            "proposals": service.list_proposals(db, actor, state="proposed"),
            "form": form,
            "can_plan": actor.has(SCHED_PLAN),
            "labels": service.STATUS_LABELS,
            "objectives": service.OBJECTIVE_LABELS,
            "sources": service.SOURCE_LABELS,
            "max_horizon": MAX_HORIZON_DAYS,
            "max_time": MAX_TIME_LIMIT_S,
            "flash": _flash(request) if status == 200 else None,
        },
        status=status,
    )


@router.get("/apps/scheduling")
def planner(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> Response:
    return _planner(request, db, actor)


@router.post("/apps/scheduling/solve")
async def solve(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)) -> Response:
    form = await FormState.read(request, actor)
    raw = await request.form()
    ids = [str(v) for v in raw.getlist("wo") if str(v).isdigit()]
    form.values["wo_list"] = ",".join(ids) if ids else "-"
    if not ids:
        form.errors["wo"] = Invalid(N_("Choose at least one work order.")).message()
    data: SolveIn | None = None
    try:
        data = SolveIn(
            work_order_ids=[int(i) for i in ids] or None,
            horizon_days=_num(form, "horizon_days", "7"),
            objective=form.get("objective", "makespan"),
            mix=_num(form, "mix", "0.5"),
            time_limit_s=_num(form, "time_limit_s", "10"),
            name=form.get("name", "").strip(),
        )
    except ValidationError as exc:
        _pydantic_errors(request, form, exc)
    if form.ok and data is not None:
        try:
            # Building the problem reads every open order (0.6 s for 200 orders × 8 operations): off the event loop.
            plan = await run_in_threadpool(jobs.start_solve, db, actor, data)
            return RedirectResponse(f"/apps/scheduling/plans/{plan.id}", status_code=303)
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _planner(request, db, actor, form, status=form.status)


# ---------------------------------------------------------------- one plan


def _plan_page(
    request: Request,
    db: Session,
    actor: Actor,
    plan_id: int,
    pin_form: FormState | None = None,
    error: AppError | None = None,
    status: int = 200,
) -> Response:
    plan = service.get_plan(db, actor, plan_id)
    job = service.job_of(db, plan.id)
    ops = plan.problem.get("ops", {})
    names = plan.problem.get("machine_names", {})
    eligible: dict[str, list[str]] = {}
    for j in plan.problem.get("jobs", []):
        for o in j["operations"]:
            eligible[o["key"]] = [x["machine"] for x in o["options"]]
    others = [p for p in service.list_plans(db, actor, limit=30) if p.id != plan.id and p.makespan_s]
    return render(
        request,
        "scheduling/plan.html",
        {
            "plan": plan,
            "job": job_out(job),
            "fig": service.figures(plan),
            "gantt": service.gantt(plan),
            "ops": ops,
            "names": names,
            "eligible": eligible,
            "pins": plan.pins,
            "others": others,
            "pin_form": pin_form or FormState(),
            "can_plan": actor.has(SCHED_PLAN),
            "labels": service.STATUS_LABELS,
            "objectives": service.OBJECTIVE_LABELS,
            "sources": service.SOURCE_LABELS,
            "flash": _flash(request) if status == 200 else None,
            "error": error,
        },
        status=status,
    )


@router.get("/apps/scheduling/plans/{sched_plan_id}")
def plan_page(
    request: Request, sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)
) -> Response:
    return _plan_page(request, db, actor, sched_plan_id)


@router.get("/apps/scheduling/plans/{sched_plan_id}/progress")
def progress(
    request: Request, sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)
) -> Response:
    """The live progress block (htmx polls it); when the solve has ended the page reloads itself."""
    plan = service.get_plan(db, actor, sched_plan_id)
    if plan.status == "solving":
        jobs.clear_stale(db, actor.org_id)
        db.refresh(plan)
    job = job_out(service.job_of(db, plan.id))
    resp = render(request, "scheduling/_progress.html", {"plan": plan, "job": job, "can_plan": actor.has(SCHED_PLAN)})
    if plan.status != "solving":
        resp.headers["HX-Refresh"] = "true"
    return resp


def _refused(request: Request, db: Session, actor: Actor, plan_id: int, exc: AppError) -> Response:
    db.rollback()
    return _plan_page(request, db, actor, plan_id, error=exc, status=exc.status)


@router.post("/apps/scheduling/plans/{sched_plan_id}/cancel")
def cancel(
    request: Request, sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> Response:
    try:
        jobs.request_cancel(db, actor, sched_plan_id)
    except AppError as exc:
        return _refused(request, db, actor, sched_plan_id, exc)
    return RedirectResponse(f"/apps/scheduling/plans/{sched_plan_id}?msg=cancelling", status_code=303)


@router.post("/apps/scheduling/plans/{sched_plan_id}/publish")
def publish(
    request: Request, sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> Response:
    try:
        service.publish(db, actor, sched_plan_id)
    except AppError as exc:
        return _refused(request, db, actor, sched_plan_id, exc)
    return RedirectResponse(f"/apps/scheduling/plans/{sched_plan_id}?msg=published", status_code=303)


@router.post("/apps/scheduling/plans/{sched_plan_id}/pins")
async def add_pin(
    request: Request, sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> Response:
    form = await FormState.read(request, actor)
    start: datetime | None = None
    raw_start = form.get("start").strip()
    if raw_start:
        try:
            start = datetime.fromisoformat(raw_start)
            if start.tzinfo is None:
                start = start.replace(tzinfo=timefmt.zone())
        except ValueError:
            form.errors["start"] = Invalid(N_("Write the time as 2026-12-07 08:30.")).message()
    device = form.get("device_id").strip()
    if device and not device.isdigit():
        form.errors["device_id"] = Invalid(N_("Choose a machine.")).message()
    if form.ok:
        try:
            data = PinIn(op_key=form.get("op_key"), device_id=int(device) if device else None, start=start)
            service.add_pin(db, actor, sched_plan_id, data)
            return RedirectResponse(f"/apps/scheduling/plans/{sched_plan_id}?msg=pinned#pins", status_code=303)
        except ValidationError as exc:
            _pydantic_errors(request, form, exc)
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _plan_page(request, db, actor, sched_plan_id, pin_form=form, status=form.status)


@router.post("/apps/scheduling/plans/{sched_plan_id}/pins/{sched_pin_id}/delete")
def remove_pin(
    request: Request,
    sched_plan_id: DbId,
    sched_pin_id: DbId,
    db: Session = Depends(get_db),
    actor: Actor = requires(SCHED_PLAN),
) -> Response:
    try:
        service.remove_pin(db, actor, sched_plan_id, sched_pin_id)
    except AppError as exc:
        return _refused(request, db, actor, sched_plan_id, exc)
    return RedirectResponse(f"/apps/scheduling/plans/{sched_plan_id}?msg=unpinned#pins", status_code=303)


@router.post("/apps/scheduling/plans/{sched_plan_id}/resolve")
def resolve(
    request: Request, sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> Response:
    try:
        plan = resolve_plan(db, actor, sched_plan_id, ResolveIn())
    except AppError as exc:
        return _refused(request, db, actor, sched_plan_id, exc)
    return RedirectResponse(f"/apps/scheduling/plans/{plan.id}", status_code=303)


@router.get("/apps/scheduling/plans/{sched_plan_id}/export.xlsx")
def export(sched_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> Response:
    name, body = service.export_xlsx(db, actor, sched_plan_id)
    return Response(body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------- what-if


@router.get("/apps/scheduling/compare")
def compare(
    request: Request,
    a: DbId = Query(..., ge=1, le=INT32_MAX),
    b: DbId = Query(..., ge=1, le=INT32_MAX),
    db: Session = Depends(get_db),
    actor: Actor = requires(SCHED_READ),
) -> Response:
    c = service.compare(db, actor, a, b)
    return render(request, "scheduling/compare.html", {**c, "labels": service.STATUS_LABELS})


# ---------------------------------------------------------------- repairs


@router.get("/apps/scheduling/proposals/{proposal_id}")
def proposal(
    request: Request, proposal_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)
) -> Response:
    return _proposal_page(request, db, actor, proposal_id)


def _proposal_page(
    request: Request, db: Session, actor: Actor, proposal_id: int, error: AppError | None = None, status: int = 200
) -> Response:
    p = service.get_proposal(db, actor, proposal_id)
    names = p.base_plan.problem.get("machine_names", {})
    return render(
        request,
        "scheduling/proposal.html",
        {
            "p": p,
            "changes": service.proposal_changes(p),
            "machine": names.get(str(p.device_id), str(p.device_id)),
            "before": service.figures(p.base_plan),
            "after": service.figures(p.plan),
            "gantt": service.gantt(p.plan),
            "states": service.PROPOSAL_LABELS,
            "can_plan": actor.has(SCHED_PLAN),
            "flash": _flash(request) if status == 200 else None,
            "error": error,
        },
        status=status,
    )


def _decide(request: Request, db: Session, actor: Actor, proposal_id: int, accept: bool) -> Response:
    try:
        if accept:
            service.accept_proposal(db, actor, proposal_id)
        else:
            service.reject_proposal(db, actor, proposal_id)
    except AppError as exc:
        db.rollback()
        return _proposal_page(request, db, actor, proposal_id, error=exc, status=exc.status)
    msg = "accepted" if accept else "rejected"
    return RedirectResponse(f"/apps/scheduling/proposals/{proposal_id}?msg={msg}", status_code=303)


@router.post("/apps/scheduling/proposals/{proposal_id}/accept")
def accept(
    request: Request, proposal_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> Response:
    return _decide(request, db, actor, proposal_id, True)


@router.post("/apps/scheduling/proposals/{proposal_id}/reject")
def reject(
    request: Request, proposal_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_PLAN)
) -> Response:
    return _decide(request, db, actor, proposal_id, False)


# ---------------------------------------------------------------- operators: next up per machine


@router.get("/apps/scheduling/machines")
def machines(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)) -> Response:
    plan, rows = service.plan_machines(db, actor)
    return render(request, "scheduling/machines.html", {"plan": plan, "rows": rows})


@router.get("/apps/scheduling/machines/{device_id}")
def machine(
    request: Request, device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SCHED_READ)
) -> Response:
    device, plan, rows = service.next_up(db, actor, device_id)
    return render(request, "scheduling/machine.html", {"device": device, "plan": plan, "rows": rows})

