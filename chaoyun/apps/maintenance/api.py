"""JSON API of the maintenance app (``/api/v1/apps/maintenance``): everything the pages do."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance import agenda, exports, parts, plans, reliability, service
from chaoyun.apps.maintenance.permissions import MAINT_MANAGE, MAINT_READ, MAINT_WORK
from chaoyun.apps.maintenance.schemas import (
    AssignIn,
    CancelIn,
    FinishIn,
    OrderIn,
    PartIn,
    PartUseIn,
    PlanIn,
    SettingsIn,
    StockIn,
    WindowIn,
    WorkIn,
)
from chaoyun.apps.oee import calendar as cal
from chaoyun.apps.usage import track_use
from chaoyun.db import get_db
from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/apps/maintenance", tags=["maintenance"], dependencies=[Depends(track_use)])
service.install()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_DAYS = 92
States = Query(None, pattern="^(open|assigned|in_progress|done|cancelled|active|all)$")
Kinds = Query(None, pattern="^(preventive|corrective|predictive)$")


def _detail(db: Session, o: Any) -> dict[str, Any]:
    out = service.order_out(o)
    out["parts"] = [
        {"part_id": p.id, "code": p.code, "name": p.name, "quantity": u.quantity, "used_by": u.used_by}
        for u, p in service.order_parts(db, o.id)
    ]
    out["alarm_ids"] = [a.id for a in service.alarms_of(db, o.id)]
    return out


# ---------------------------------------------------------------- orders


@router.get("/orders")
def list_orders(
    state: str | None = States,
    device_id: DbId | None = None,
    kind: str | None = Kinds,
    mine: bool = False,
    db: Session = Depends(get_db),
    actor: Actor = requires(MAINT_READ),
) -> list[dict[str, Any]]:
    orders = service.list_orders(db, actor, None if state == "all" else state, device_id, kind, only_mine=mine)
    return [service.order_out(o) for o in orders]


@router.post("/orders", status_code=201)
def create_order(data: OrderIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)) -> dict[str, Any]:
    return _detail(db, service.report_order(db, actor, data))


@router.get("/orders.xlsx")
def orders_xlsx(
    state: str | None = States, db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)
) -> Response:
    data = exports.orders_xlsx(db, actor.org_id, service.list_orders(db, actor, None if state == "all" else state))
    disposition = 'attachment; filename="maintenance-orders.xlsx"'
    return Response(data, media_type=XLSX, headers={"Content-Disposition": disposition})


@router.get("/orders/{maint_order_id}")
def get_order(
    maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)
) -> dict[str, Any]:
    return _detail(db, service.get_order(db, actor, maint_order_id))


@router.post("/orders/{maint_order_id}/assign")
def assign(
    maint_order_id: DbId, data: AssignIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> dict[str, Any]:
    return _detail(db, service.assign(db, actor, maint_order_id, data.technician_id))


@router.post("/orders/{maint_order_id}/start")
def start(maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)) -> dict[str, Any]:
    return _detail(db, service.start(db, actor, maint_order_id))


@router.post("/orders/{maint_order_id}/work")
def book_work(
    maint_order_id: DbId, data: WorkIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)
) -> dict[str, Any]:
    return _detail(db, service.book_work(db, actor, maint_order_id, data))


@router.post("/orders/{maint_order_id}/parts", status_code=201)
def use_part(
    maint_order_id: DbId, data: PartUseIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)
) -> dict[str, Any]:
    service.use_part(db, actor, maint_order_id, data.part_id, data.quantity)
    return _detail(db, service.get_order(db, actor, maint_order_id))


@router.post("/orders/{maint_order_id}/finish")
def finish(
    maint_order_id: DbId, data: FinishIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_WORK)
) -> dict[str, Any]:
    return _detail(db, service.finish(db, actor, maint_order_id, data))


@router.post("/orders/{maint_order_id}/cancel")
def cancel(
    maint_order_id: DbId, data: CancelIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> dict[str, Any]:
    return _detail(db, service.cancel(db, actor, maint_order_id, data.reason))


@router.put("/orders/{maint_order_id}/window")
def set_window(
    maint_order_id: DbId, data: WindowIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> dict[str, Any]:
    return _detail(db, service.set_window(db, actor, maint_order_id, data))


@router.delete("/orders/{maint_order_id}/window")
def clear_window(
    maint_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> dict[str, Any]:
    return _detail(db, service.clear_window(db, actor, maint_order_id))


# ---------------------------------------------------------------- plans


@router.get("/plans")
def list_plans(db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)) -> list[dict[str, Any]]:
    return [plans.plan_out(st) for st in plans.plan_statuses(db, actor.org_id)]


@router.post("/plans", status_code=201)
def create_plan(data: PlanIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)) -> dict[str, Any]:
    p = plans.create_plan(db, actor, data)
    return plans.plan_out(plans.status_now(db, p))


@router.get("/plans/{maint_plan_id}")
def get_plan(maint_plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)) -> dict[str, Any]:
    p = plans.get_plan(db, actor, maint_plan_id)
    out = plans.plan_out(plans.status_now(db, p))
    db.commit()
    return out


@router.put("/plans/{maint_plan_id}")
def update_plan(
    maint_plan_id: DbId, data: PlanIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> dict[str, Any]:
    p = plans.update_plan(db, actor, maint_plan_id, data)
    out = plans.plan_out(plans.status_now(db, p))
    db.commit()
    return out


@router.post("/check")
def run_check(db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)) -> dict[str, Any]:
    """Open the orders that are due now (plans) and for alarms without one (as the background job does)."""
    made = plans.check_due(db, actor.org_id)
    taken = service.sweep_alarms(db, actor.org_id)
    return {"plan_orders": [o.id for o in made], "alarms_taken": taken}


# ---------------------------------------------------------------- parts


@router.get("/parts")
def list_parts(db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)) -> list[dict[str, Any]]:
    return [parts.part_out(p) for p in parts.list_parts(db, actor.org_id)]


@router.post("/parts", status_code=201)
def create_part(data: PartIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)) -> dict[str, Any]:
    return parts.part_out(parts.create_part(db, actor, data))


@router.put("/parts/{spare_part_id}")
def update_part(
    spare_part_id: DbId, data: PartIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> dict[str, Any]:
    return parts.part_out(parts.update_part(db, actor, spare_part_id, data))


@router.post("/parts/{spare_part_id}/stock")
def adjust_stock(
    spare_part_id: DbId, data: StockIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> dict[str, Any]:
    return parts.part_out(parts.adjust_stock(db, actor, spare_part_id, data))


# ---------------------------------------------------------------- reliability, calendar, settings


def period(days: int, end: date | None) -> tuple[date, date]:
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(N_("Choose a period of at most %(days)s days."), field="days", days=MAX_DAYS)
    last = end or datetime.now(cal.LOCAL).date()
    if not date(2000, 1, 1) <= last <= date(2200, 1, 1):
        raise Invalid(N_("Invalid value."), field="end")
    return last - timedelta(days=days - 1), last


@router.get("/reliability")
def get_reliability(
    days: int = Query(30, ge=1, le=MAX_DAYS),
    end: date | None = None,
    db: Session = Depends(get_db),
    actor: Actor = requires(MAINT_READ),
) -> dict[str, Any]:
    first, last = period(days, end)
    return reliability.compute(db, actor.org_id, first, last).out()


@router.get("/reliability.xlsx")
def reliability_xlsx(
    days: int = Query(30, ge=1, le=MAX_DAYS),
    end: date | None = None,
    db: Session = Depends(get_db),
    actor: Actor = requires(MAINT_READ),
) -> Response:
    first, last = period(days, end)
    data = exports.reliability_xlsx(reliability.compute(db, actor.org_id, first, last))
    name = f"maintenance-reliability-{first}-{last}.xlsx"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/calendar")
def get_calendar(
    month: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
    db: Session = Depends(get_db),
    actor: Actor = requires(MAINT_READ),
) -> dict[str, Any]:
    y, m = parse_month(month)
    data = agenda.month(db, actor, y, m)
    return {"month": data["month"], "entries": [agenda.entry_out(e) for e in data["entries"]]}


def parse_month(month: str | None) -> tuple[int, int]:
    if not month:
        today = datetime.now(cal.LOCAL).date()
        return today.year, today.month
    y, m = int(month[:4]), int(month[5:7])
    if not 2000 <= y <= 2200 or not 1 <= m <= 12:
        raise Invalid(N_("Invalid value."), field="month")
    return y, m


@router.get("/settings")
def get_settings(db: Session = Depends(get_db), actor: Actor = requires(MAINT_READ)) -> dict[str, Any]:
    s = service.settings_for(db, actor.org_id)
    return {
        "alarm_severities": s.alarm_severities,
        "alarm_kinds": s.alarm_kinds,
        "failure_min_stop_min": s.failure_min_stop_min,
    }


@router.put("/settings")
def put_settings(
    data: SettingsIn, db: Session = Depends(get_db), actor: Actor = requires(MAINT_MANAGE)
) -> dict[str, Any]:
    s = service.set_settings(db, actor, data)
    return {
        "alarm_severities": s.alarm_severities,
        "alarm_kinds": s.alarm_kinds,
        "failure_min_stop_min": s.failure_min_stop_min,
    }
