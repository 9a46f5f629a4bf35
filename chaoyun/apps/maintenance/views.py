"""Pages of the maintenance app (设备维护): orders (list, one order with its actions), plans, spare parts,
reliability (MTBF / MTTR / availability) and the maintenance calendar. Thin over the services."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance import agenda, labels, parts, plans, reliability, service
from chaoyun.apps.maintenance.api import MAX_DAYS, parse_month, period
from chaoyun.apps.maintenance.models import MaintOrder
from chaoyun.apps.maintenance.permissions import MAINT_MANAGE, MAINT_READ, MAINT_WORK
from chaoyun.apps.maintenance.schemas import (
    CancelIn,
    FinishIn,
    OrderIn,
    PartIn,
    PlanIn,
    SettingsIn,
    StockIn,
    WindowIn,
    WorkIn,
)
from chaoyun.apps.oee.calendar import LOCAL
from chaoyun.apps.usage import track_use
from chaoyun.db import get_db
from chaoyun.errors import AppError, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.web import lists, nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import render
from chaoyun.web.validation import field_errors

router = APIRouter(include_in_schema=False, dependencies=[Depends(track_use)])
service.install()
M = TypeVar("M", bound=BaseModel)

nav.register(nav.NavItem("enterprise", N_("Maintenance"), "/apps/maintenance", MAINT_READ, 35, group="production"))


def _todos(db: Session, actor: Actor) -> list[nav.Todo]:
    out: list[nav.Todo] = []
    if actor.audience != "enterprise":
        return out
    if actor.has(MAINT_MANAGE):
        counts = service.open_counts(db, actor)
        out.append(nav.Todo(N_("Maintenance orders to assign"), counts["open"], "/apps/maintenance?state=open", 45))
        low = parts.below_reorder_count(db, actor.org_id)
        out.append(nav.Todo(N_("Spare parts at or below their reorder point"), low, "/apps/maintenance/parts", 46))
    elif actor.has(MAINT_WORK):
        active = service.list_orders(db, actor, state="active", only_mine=True)
        mine = [o for o in active if o.technician_id == actor.user.id]
        out.append(nav.Todo(N_("Maintenance orders assigned to you"), len(mine), "/apps/maintenance?state=active", 45))
    return out


nav.register_todo("maintenance", _todos)

ORDER_SORTS: dict[str, Any] = {
    "id": MaintOrder.id,
    "due": MaintOrder.due,
    "state": MaintOrder.state,
    "kind": MaintOrder.kind,
    "window": MaintOrder.window_start,
}
NUMBER_RE = re.compile(r"(?i)MO-?0*(\d{1,9})")

FLASH = {
    "created": N_("Maintenance order saved."),
    "assigned": N_("Technician assigned."),
    "started": N_("Work started."),
    "booked": N_("Booked."),
    "part": N_("Parts taken from stock."),
    "done": N_("Order done."),
    "cancelled": N_("Order cancelled."),
    "window": N_("Maintenance window saved: the machine is blocked in the scheduler and the time left out of OEE."),
    "window_cleared": N_("Maintenance window removed."),
    "plan": N_("Maintenance plan saved."),
    "part_saved": N_("Spare part saved."),
    "stock": N_("Stock updated."),
    "settings": N_("Settings saved."),
    "checked": N_("Due plans and alarms checked."),
}


def _ctx(request: Request, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "flash": FLASH.get(request.query_params.get("msg", "")),
        "can_manage": actor.has(MAINT_MANAGE),
        "can_work": actor.has(MAINT_WORK),
        "labels": labels,
        **extra,
    }


def _back(url: str, msg: str) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}msg={msg}", status_code=303)


def _parse(form: FormState, model: type[M], values: dict[str, Any]) -> M | None:
    """The form's values as a request body; pydantic's complaints beside their fields."""
    clean = {k: v for k, v in values.items() if v not in ("", None)}
    try:
        return model(**clean)
    except ValidationError as exc:
        for fe in field_errors(exc.errors()):
            name = fe["field"].split(".")[0] if fe["field"] not in ("", "body") else next(iter(values), "")
            form.errors.setdefault(name, fe["message_zh"] if _zh() else fe["message_en"])
        return None


def _zh() -> bool:
    from chaoyun.i18n import get_locale

    return get_locale() != "en"


def _refused(db: Session, form: FormState, exc: AppError) -> None:
    db.rollback()
    if isinstance(exc, NotFound | Forbidden):
        raise exc
    form.fail(exc)


def _names(db: Session, org_id: int) -> tuple[dict[int, str], dict[int, str]]:
    machines = {d.id: d.name for d in service.machines(db, org_id)}
    people = {u.id: u.display_name or u.username for u in service.technicians(db, org_id)}
    return machines, people


# ---------------------------------------------------------------- orders


def _orders_page(
    request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200
) -> Response:
    if actor.has(MAINT_MANAGE):
        # The page is a due check too (the background job runs every 15 minutes).
        plans.check_due(db, actor.org_id)
        service.sweep_alarms(db, actor.org_id)
    state = request.query_params.get("state") or "active"
    if state not in (*labels.STATES, "active", "all"):
        state = "active"
    kind = request.query_params.get("kind") or None
    kind = kind if kind in labels.KINDS else None
    # Technicians open on their own orders ("mine": assigned to or reported by them); managers on all.
    only_mine = request.query_params.get("mine", "0" if actor.has(MAINT_MANAGE) else "1") == "1"
    stmt = service.orders_select(actor, None if state == "all" else state, kind=kind, only_mine=only_mine)
    lp = lists.params(request, ORDER_SORTS, "-id")
    number = NUMBER_RE.fullmatch(lp.q.strip())
    if number:  # an order number: that order
        stmt = stmt.where(MaintOrder.id == int(number.group(1)))
        lp = lists.ListParams("", lp.sort, lp.desc, lp.page, lp.size)
    pg = lists.paginate_select(
        db, stmt, lp, ORDER_SORTS, search_columns=[MaintOrder.title, MaintOrder.detail], tiebreak=MaintOrder.id
    )
    machines, people = _names(db, actor.org_id)
    return render(
        request,
        "maintenance/orders.html",
        _ctx(
            request,
            actor,
            orders=pg.items,
            pg=pg,
            state=state,
            kind=kind or "",
            only_mine=only_mine,
            machines=machines,
            people=people,
            counts=service.open_counts(db, actor),
            form=form or FormState(),
        ),
        status=status,
    )


@router.get("/apps/maintenance")
def orders_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)) -> Response:
    return _orders_page(request, db, actor)


@router.post("/apps/maintenance/orders")
async def order_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)
) -> Response:
    form = await FormState.read(request, actor)
    data = _parse(
        form,
        OrderIn,
        {
            "device_id": form.get("device_id"),
            "kind": form.get("kind") or "corrective",
            "title": form.get("title").strip(),
            "detail": form.get("detail"),
            "due": form.get("due"),
        },
    )
    if data is not None and form.ok:
        try:
            o = service.report_order(db, actor, data)
            return _back(f"/apps/maintenance/orders/{o.id}", "created")
        except AppError as exc:
            _refused(db, form, exc)
    return _orders_page(request, db, actor, form, form.status)


def _order_page(
    request: Request, db: Session, actor: Actor, maint_order_id: int, form: FormState | None = None, status: int = 200
) -> Response:
    o = service.get_order(db, actor, maint_order_id)
    machines, people = _names(db, o.org_id)
    can_work_here = actor.has(MAINT_MANAGE) or (actor.has(MAINT_WORK) and o.technician_id == actor.user.id)
    return render(
        request,
        "maintenance/order.html",
        _ctx(
            request,
            actor,
            o=o,
            machine=machines.get(o.device_id, ""),
            people=people,
            technicians=service.technicians(db, o.org_id),
            used=service.order_parts(db, o.id),
            alarms=service.alarms_of(db, o.id),
            part_list=parts.list_parts(db, o.org_id),
            plan=plans.get_plan(db, actor, o.plan_id) if o.plan_id and actor.has(MAINT_MANAGE) else None,
            can_work_here=can_work_here,
            form=form or FormState(),
        ),
        status=status,
    )


@router.get("/apps/maintenance/orders/{maint_order_id}")
def order_page(
    request: Request, maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)
) -> Response:
    return _order_page(request, db, actor, maint_order_id)


async def _order_action(
    request: Request, db: Session, actor: Actor, maint_order_id: int, action: str
) -> Response:
    service.get_order(db, actor, maint_order_id)  # scope first: another enterprise's order is a 404
    form = await FormState.read(request, actor)
    form.values["action"] = action
    try:
        if action == "assign":
            tech = form.check("technician_id", lambda: _int(form.get("technician_id"), "technician_id"))
            if tech is not None:
                service.assign(db, actor, maint_order_id, tech)
                return _back(f"/apps/maintenance/orders/{maint_order_id}", "assigned")
        elif action == "start":
            service.start(db, actor, maint_order_id)
            return _back(f"/apps/maintenance/orders/{maint_order_id}", "started")
        elif action == "work":
            work = _parse(form, WorkIn, {"minutes": form.get("minutes") or "0", "note": form.get("note")})
            if work is not None:
                service.book_work(db, actor, maint_order_id, work)
                return _back(f"/apps/maintenance/orders/{maint_order_id}", "booked")
        elif action == "part":
            pid = form.check("part_id", lambda: _int(form.get("part_id"), "part_id"))
            qty = form.check("quantity", lambda: _int(form.get("quantity"), "quantity"))
            if pid is not None and qty is not None:
                service.use_part(db, actor, maint_order_id, pid, qty)
                return _back(f"/apps/maintenance/orders/{maint_order_id}", "part")
        elif action == "finish":
            fin = _parse(form, FinishIn, {"cause": form.get("cause"), "minutes": form.get("minutes"),
                                          "note": form.get("note")})
            if fin is not None:
                service.finish(db, actor, maint_order_id, fin)
                return _back(f"/apps/maintenance/orders/{maint_order_id}", "done")
        elif action == "cancel":
            c = _parse(form, CancelIn, {"reason": form.get("reason")})
            if c is not None:
                service.cancel(db, actor, maint_order_id, c.reason)
                return _back(f"/apps/maintenance/orders/{maint_order_id}", "cancelled")
        elif action == "window":
            w = _parse(form, WindowIn, {"start": form.get("start"), "end": form.get("end")})
            if w is not None:
                service.set_window(db, actor, maint_order_id, w)
                return _back(f"/apps/maintenance/orders/{maint_order_id}", "window")
        elif action == "window_clear":
            service.clear_window(db, actor, maint_order_id)
            return _back(f"/apps/maintenance/orders/{maint_order_id}", "window_cleared")
    except AppError as exc:
        _refused(db, form, exc)
    return _order_page(request, db, actor, maint_order_id, form, form.status if not form.ok else 422)


def _int(text: str, name: str) -> int:
    try:
        n = int(text.strip())
    except ValueError as exc:
        raise Invalid(N_("Enter a whole number."), field=name) from exc
    if not 1 <= n < 2**31:
        raise Invalid(N_("Enter a whole number of at least 1."), field=name)
    return n


@router.post("/apps/maintenance/orders/{maint_order_id}/assign")
async def order_assign(
    request: Request, maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> Response:
    return await _order_action(request, db, actor, maint_order_id, "assign")


@router.post("/apps/maintenance/orders/{maint_order_id}/start")
async def order_start(
    request: Request, maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)
) -> Response:
    return await _order_action(request, db, actor, maint_order_id, "start")


@router.post("/apps/maintenance/orders/{maint_order_id}/work")
async def order_work(
    request: Request, maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)
) -> Response:
    return await _order_action(request, db, actor, maint_order_id, "work")


@router.post("/apps/maintenance/orders/{maint_order_id}/parts")
async def order_part(
    request: Request, maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)
) -> Response:
    return await _order_action(request, db, actor, maint_order_id, "part")


@router.post("/apps/maintenance/orders/{maint_order_id}/finish")
async def order_finish(
    request: Request, maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)
) -> Response:
    return await _order_action(request, db, actor, maint_order_id, "finish")


@router.post("/apps/maintenance/orders/{maint_order_id}/cancel")
async def order_cancel(
    request: Request, maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> Response:
    return await _order_action(request, db, actor, maint_order_id, "cancel")


@router.post("/apps/maintenance/orders/{maint_order_id}/window")
async def order_window(
    request: Request, maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> Response:
    return await _order_action(request, db, actor, maint_order_id, "window")


@router.post("/apps/maintenance/orders/{maint_order_id}/window/clear")
async def order_window_clear(
    request: Request, maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> Response:
    return await _order_action(request, db, actor, maint_order_id, "window_clear")


# ---------------------------------------------------------------- plans and settings


def _plans_page(
    request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200,
    maint_plan_id: int | None = None,
) -> Response:
    statuses = plans.plan_statuses(db, actor.org_id)
    machines, _people = _names(db, actor.org_id)
    editing = plans.get_plan(db, actor, maint_plan_id) if maint_plan_id else None
    form = form or FormState()
    if editing is not None and not form.values:
        form.values.update(
            device_id=str(editing.device_id), name=editing.name, trigger=editing.trigger, every=f"{editing.every:g}",
            calendar_unit=editing.calendar_unit, duration_min=str(editing.duration_min), detail=editing.detail,
            active="1" if editing.active else "",
        )
    return render(
        request,
        "maintenance/plans.html",
        _ctx(
            request,
            actor,
            statuses=statuses,
            machines=machines,
            editing=editing,
            settings=service.settings_for(db, actor.org_id),
            form=form,
        ),
        status=status,
    )


@router.get("/apps/maintenance/plans")
def plans_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)) -> Response:
    return _plans_page(request, db, actor)


@router.get("/apps/maintenance/plans/{maint_plan_id}")
def plan_page(
    request: Request, maint_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)
) -> Response:
    return _plans_page(request, db, actor, maint_plan_id=maint_plan_id)


def _plan_in(form: FormState) -> PlanIn | None:
    return _parse(
        form,
        PlanIn,
        {
            "device_id": form.get("device_id"),
            "name": form.get("name").strip(),
            "trigger": form.get("trigger"),
            "every": form.get("every"),
            "calendar_unit": form.get("calendar_unit") or "days",
            "duration_min": form.get("duration_min") or "60",
            "detail": form.get("detail"),
            "active": bool(form.get("active")),
            "start_at": form.get("start_at"),
        },
    )


@router.post("/apps/maintenance/plans")
async def plan_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    data = _plan_in(form)
    if data is not None and form.ok:
        try:
            plans.create_plan(db, actor, data)
            return _back("/apps/maintenance/plans", "plan")
        except AppError as exc:
            _refused(db, form, exc)
    return _plans_page(request, db, actor, form, form.status if not form.ok else 422)


@router.post("/apps/maintenance/plans/{maint_plan_id}")
async def plan_update(
    request: Request, maint_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> Response:
    plans.get_plan(db, actor, maint_plan_id)
    form = await FormState.read(request, actor)
    data = _plan_in(form)
    if data is not None and form.ok:
        try:
            plans.update_plan(db, actor, maint_plan_id, data)
            return _back("/apps/maintenance/plans", "plan")
        except AppError as exc:
            _refused(db, form, exc)
    return _plans_page(request, db, actor, form, form.status if not form.ok else 422, maint_plan_id=maint_plan_id)


@router.post("/apps/maintenance/settings")
async def settings_save(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> Response:
    raw = await request.form()
    form = await FormState.read(request, actor)
    data = _parse(
        form,
        SettingsIn,
        {
            "alarm_severities": [v for v in raw.getlist("alarm_severities") if isinstance(v, str)],
            "alarm_kinds": [v for v in raw.getlist("alarm_kinds") if isinstance(v, str)],
            "failure_min_stop_min": form.get("failure_min_stop_min") or "10",
        },
    )
    if data is not None and form.ok:
        service.set_settings(db, actor, data)
        return _back("/apps/maintenance/plans", "settings")
    return _plans_page(request, db, actor, form, 422)


@router.post("/apps/maintenance/check")
def run_check(db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)) -> Response:
    plans.check_due(db, actor.org_id)
    service.sweep_alarms(db, actor.org_id)
    return _back("/apps/maintenance", "checked")


# ---------------------------------------------------------------- parts


def _parts_page(
    request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "maintenance/parts.html",
        _ctx(request, actor, part_list=parts.list_parts(db, actor.org_id), form=form or FormState()),
        status=status,
    )


@router.get("/apps/maintenance/parts")
def parts_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)) -> Response:
    return _parts_page(request, db, actor)


@router.post("/apps/maintenance/parts")
async def part_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    form.values["form"] = "part"
    data = _parse(
        form,
        PartIn,
        {
            "code": form.get("code").strip(),
            "name": form.get("name").strip(),
            "unit": form.get("unit").strip() or "件",
            "stock": form.get("stock") or "0",
            "reorder_point": form.get("reorder_point") or "0",
            "location": form.get("location"),
        },
    )
    if data is not None and form.ok:
        try:
            parts.create_part(db, actor, data)
            return _back("/apps/maintenance/parts", "part_saved")
        except AppError as exc:
            _refused(db, form, exc)
    return _parts_page(request, db, actor, form, form.status if not form.ok else 422)


@router.post("/apps/maintenance/parts/{spare_part_id}/stock")
async def part_stock(
    request: Request, spare_part_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> Response:
    parts.get_part(db, actor, spare_part_id)
    form = await FormState.read(request, actor)
    form.values["form"] = f"stock-{spare_part_id}"
    data = _parse(form, StockIn, {"change": form.get("change"), "note": form.get("note")})
    if data is not None and form.ok:
        try:
            parts.adjust_stock(db, actor, spare_part_id, data)
            return _back("/apps/maintenance/parts", "stock")
        except AppError as exc:
            _refused(db, form, exc)
    return _parts_page(request, db, actor, form, form.status if not form.ok else 422)


# ---------------------------------------------------------------- reliability and calendar


@router.get("/apps/maintenance/reliability")
def reliability_page(
    request: Request,
    days: int = Query(30, ge=1, le=MAX_DAYS),
    db: Session = Depends(get_db),
    actor: Actor = requires(MAINT_READ),
) -> Response:
    first, last = period(days, None)
    r = reliability.compute(db, actor.org_id, first, last)
    chart = [
        {"name": row.name, "mtbf_h": row.out()["mtbf_h"], "mttr_h": row.out()["mttr_h"]}
        for row in r.machines
        if row.failures or row.operating_s
    ]
    return render(request, "maintenance/reliability.html", _ctx(request, actor, r=r, days=days, chart=chart))


@router.get("/apps/maintenance/calendar")
def calendar_page(
    request: Request,
    month: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
    db: Session = Depends(get_db),
    actor: Actor = requires(MAINT_READ),
) -> Response:
    y, m = parse_month(month)
    data = agenda.month(db, actor, y, m)
    today = datetime.now(LOCAL).date()
    return render(request, "maintenance/calendar.html", _ctx(request, actor, cal=data, today=today))
