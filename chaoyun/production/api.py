"""JSON API of the production context under /api/v1/production (thin over service.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.production import imports, service
from chaoyun.production.models import Item, Lot, OperationReport, WorkOrder, WorkOrderOp
from chaoyun.production.permissions import PRODUCTION_CLUSTER, PRODUCTION_MANAGE, PRODUCTION_READ, PRODUCTION_REPORT
from chaoyun.production.schemas import (
    FinishIn,
    ItemIn,
    ItemUpdate,
    LotIn,
    RoutingIn,
    StartIn,
    TransitionIn,
    WorkOrderIn,
)
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/production", tags=["production"])


def item_out(i: Item, routing: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": i.id,
        "code": i.code,
        "name": i.name,
        "unit": i.unit,
        "family": i.family,
        "kind": i.kind,
    }
    if routing:
        out["routing"] = service.routing_snapshot(i)
    return out


def report_out(r: OperationReport) -> dict[str, Any]:
    return {
        "id": r.id,
        "op_id": r.op_id,
        "device_id": r.device_id,
        "state": r.state,
        "ideal_cycle_s": r.ideal_cycle_s,
        "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "good": r.good,
        "reject": r.reject,
        "source": r.source or None,
        "segments": [[s.start.isoformat(), s.end.isoformat() if s.end else None] for s in r.segments],
    }


def op_out(o: WorkOrderOp) -> dict[str, Any]:
    return {
        "id": o.id,
        "seq": o.seq,
        "name": o.name,
        "state": o.state,
        "good": o.good,
        "reject": o.reject,
        "reports": [report_out(r) for r in o.reports],
    }


def wo_out(w: WorkOrder, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": w.id,
        "number": w.number,
        "item": {"id": w.item.id, "code": w.item.code, "name": w.item.name},
        "quantity": w.quantity,
        "due_date": w.due_date.isoformat(),
        "priority": w.priority,
        "state": w.state,
        "note": w.note,
        "released_at": w.released_at.isoformat() if w.released_at else None,
        "started_at": w.started_at.isoformat() if w.started_at else None,
        "closed_at": w.closed_at.isoformat() if w.closed_at else None,
    }
    if detail:
        out["operations"] = [op_out(o) for o in w.operations]
    return out


def lot_out(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.id,
        "number": lot.number,
        "work_order": lot.work_order.number,
        "work_order_id": lot.work_order_id,
        "device_id": lot.device_id,
        "start": lot.start.isoformat(),
        "end": lot.end.isoformat(),
        "quantity": lot.quantity,
        "materials": [
            {"item_code": m.item.code, "material_lot": m.material_lot, "quantity": m.quantity} for m in lot.materials
        ],
    }


# ---------------------------------------------------------------- items and routings


@router.get("/items")
def items(
    q: str | None = None,
    kind: str | None = None,
    db: Session = Depends(get_db),
    actor: Actor = requires(PRODUCTION_READ),
) -> list[dict[str, Any]]:
    return [item_out(i) for i in service.list_items(db, actor, q, kind)]


@router.post("/items", status_code=201)
def item_create(
    data: ItemIn, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> dict[str, Any]:
    return item_out(service.create_item(db, actor, data))


@router.get("/items/{prod_item_id}")
def item_get(
    prod_item_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> dict[str, Any]:
    return item_out(service.get_item(db, actor, prod_item_id), routing=True)


@router.patch("/items/{prod_item_id}")
def item_update(
    prod_item_id: DbId, data: ItemUpdate, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> dict[str, Any]:
    return item_out(service.update_item(db, actor, prod_item_id, data))


@router.put("/items/{prod_item_id}/routing")
def routing_put(
    prod_item_id: DbId, data: RoutingIn, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> dict[str, Any]:
    return item_out(service.set_routing(db, actor, prod_item_id, data.operations), routing=True)


# ---------------------------------------------------------------- work orders


@router.get("/work-orders")
def work_orders(
    q: str | None = None,
    state: str | None = None,
    db: Session = Depends(get_db),
    actor: Actor = requires(PRODUCTION_READ),
) -> list[dict[str, Any]]:
    return [wo_out(w) for w in service.list_work_orders(db, actor, q, state)]


@router.post("/work-orders", status_code=201)
def wo_create(
    data: WorkOrderIn, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> dict[str, Any]:
    return wo_out(service.create_work_order(db, actor, data), detail=True)


@router.get("/work-orders/{work_order_id}")
def wo_get(
    work_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> dict[str, Any]:
    wo = service.get_work_order(db, actor, work_order_id)
    out = wo_out(wo, detail=True)
    out["lots"] = [lot_out(lot) for lot in service.list_lots(db, actor, work_order_id=wo.id)]
    return out


@router.post("/work-orders/{work_order_id}/transition")
def wo_transition(
    work_order_id: DbId, data: TransitionIn, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> dict[str, Any]:
    return wo_out(service.transition(db, actor, work_order_id, data.to), detail=True)


# ---------------------------------------------------------------- operation reports


@router.post("/operations/{wo_op_id}/start", status_code=201)
def op_start(
    wo_op_id: DbId, data: StartIn, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> dict[str, Any]:
    return report_out(service.start_operation(db, actor, wo_op_id, data.device_id))


@router.post("/reports/{op_report_id}/pause")
def report_pause(
    op_report_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> dict[str, Any]:
    return report_out(service.pause_report(db, actor, op_report_id))


@router.post("/reports/{op_report_id}/resume")
def report_resume(
    op_report_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> dict[str, Any]:
    return report_out(service.resume_report(db, actor, op_report_id))


@router.post("/reports/{op_report_id}/finish")
def report_finish(
    op_report_id: DbId, data: FinishIn, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> dict[str, Any]:
    return report_out(service.finish_report(db, actor, op_report_id, data.good, data.reject))


@router.get("/machines/{device_id}/queue")
def machine_queue(
    device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> list[dict[str, Any]]:
    return [
        {
            "op_id": q.op.id,
            "seq": q.op.seq,
            "operation": q.op.name,
            "work_order": q.work_order.number,
            "work_order_id": q.work_order.id,
            "item": q.work_order.item.code,
            "priority": q.work_order.priority,
            "due_date": q.work_order.due_date.isoformat(),
            "remaining": q.remaining,
            "cycle_s": q.cycle_s,
            "setup_s": q.setup_s,
            "hours": q.hours,
            "report": report_out(q.report) if q.report else None,
        }
        for q in service.machine_queue(db, actor, device_id)
    ]


# ---------------------------------------------------------------- lots


@router.get("/lots")
def lots(
    q: str | None = None, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> list[dict[str, Any]]:
    return [lot_out(lot) for lot in service.list_lots(db, actor, q)]


@router.post("/lots", status_code=201)
def lot_create(
    data: LotIn, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> dict[str, Any]:
    return lot_out(service.create_lot(db, actor, data))


@router.get("/lots/{prod_lot_id}")
def lot_get(
    prod_lot_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> dict[str, Any]:
    return lot_out(service.get_lot(db, actor, prod_lot_id))


# ---------------------------------------------------------------- import and the government view


@router.post("/import")
def import_file(
    kind: str = Query(..., pattern="^(items|routings|work_orders)$"),
    file: UploadFile = File(...),
    db: Session = Depends(get_db),
    actor: Actor = requires(PRODUCTION_MANAGE),
) -> dict[str, Any]:
    content = file.file.read()
    return imports.import_file(db, actor, kind, file.filename or "upload.csv", content).as_dict()


@router.get("/cluster")
def cluster(db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_CLUSTER)) -> list[dict[str, Any]]:
    return service.cluster_summary(db, actor)
