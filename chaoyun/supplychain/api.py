"""JSON API of orders between enterprises under /api/v1/supplychain (thin over the services), for both sides:
the lead places orders and receives; the supplier answers lines and ships. Officers read aggregates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.supplychain import logistics, progress, queries, service, transfer
from chaoyun.supplychain.logistics import LotOut
from chaoyun.supplychain.models import OrderLine, Partnership, PurchaseOrder, Receipt, Shipment
from chaoyun.supplychain.permissions import (
    SUPPLYCHAIN_CLUSTER,
    SUPPLYCHAIN_PARTNERS,
    SUPPLYCHAIN_READ,
    SUPPLYCHAIN_WRITE,
)
from chaoyun.supplychain.schemas import (
    ConfirmIn,
    InviteIn,
    NoteIn,
    OrderIn,
    ProposeIn,
    ReceiveIn,
    ReturnIn,
    ShipmentIn,
)
from chaoyun.supplychain.service import NewLine
from chaoyun.web import lists
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/supplychain", tags=["supplychain"])
MAX_UPLOAD = 5 * 1024 * 1024


def line_out(ln: OrderLine) -> dict[str, Any]:
    return {
        "id": ln.id,
        "order_id": ln.order_id,
        "line_no": ln.line_no,
        "buyer_org_id": ln.buyer_org_id,
        "supplier_org_id": ln.supplier_org_id,
        "item_code": ln.item_code,
        "item_name": ln.item_name,
        "quantity": ln.quantity,
        "unit_price": str(ln.unit_price),
        "due_date": ln.due_date.isoformat(),
        "state": ln.state,
        "proposed_quantity": ln.proposed_quantity,
        "proposed_due_date": ln.proposed_due_date.isoformat() if ln.proposed_due_date else None,
        "answer_note": ln.answer_note,
        "work_order": ln.work_order_number or None,
        "made": ln.made_qty,
        "forecast_finish": ln.forecast_finish.isoformat() if ln.forecast_finish else None,
        "risk": ln.risk or None,
        "progress_at": ln.progress_at.isoformat() if ln.progress_at else None,
        "shipped": ln.shipped_qty,
        "accepted": ln.accepted_qty,
        "returned": ln.returned_qty,
    }


def order_out(po: PurchaseOrder) -> dict[str, Any]:
    return {
        "id": po.id,
        "number": po.number,
        "buyer_org_id": po.buyer_org_id,
        "supplier_org_id": po.supplier_org_id,
        "reference": po.reference,
        "source": po.source,
        "state": po.state,
        "created_at": po.created_at.isoformat(),
        "lines": [line_out(ln) for ln in po.lines],
    }


def shipment_out(s: Shipment) -> dict[str, Any]:
    return {
        "id": s.id,
        "number": s.number,
        "order_id": s.order_id,
        "state": s.state,
        "shipped_at": s.shipped_at.isoformat(),
        "expected_at": s.expected_at.isoformat() if s.expected_at else None,
        "lots": [
            {
                "id": sl.id,
                "line_id": sl.line_id,
                "lot_number": sl.lot_number,
                "item_code": sl.item_code,
                "quantity": sl.quantity,
                "inspection": sl.inspection,
            }
            for sl in s.lots
        ],
    }


def receipt_out(r: Receipt) -> dict[str, Any]:
    return {
        "id": r.id,
        "number": r.number,
        "shipment_id": r.shipment_id,
        "received_at": r.received_at.isoformat(),
        "lots": [
            {
                "id": rl.id,
                "shipment_lot_id": rl.shipment_lot_id,
                "result": rl.result,
                "received": rl.received_qty,
                "accepted": rl.accepted_qty,
                "value": str(rl.value),
                "spc": rl.spc,
            }
            for rl in r.lots
        ],
    }


def partner_out(p: Partnership) -> dict[str, Any]:
    return {"id": p.id, "buyer_org_id": p.buyer_org_id, "supplier_org_id": p.supplier_org_id, "state": p.state}


def _page(request: Request, rows: Any) -> dict[str, Any]:
    return {
        "total": rows.total,
        "page": rows.page,
        "size": rows.params.size,
        "items": [
            line_out(r.line) | {"order_number": r.order_number, "counterpart": r.counterpart} for r in rows.items
        ],
    }


@router.get("/orders")
def list_placed(
    request: Request,
    view: str = Query("active", max_length=16),
    db: Session = Depends(get_db),
    actor: Actor = requires(SUPPLYCHAIN_READ),
) -> dict[str, Any]:
    """Lines the actor's enterprise ordered (the lead's overview), paged (page, size, q, sort)."""
    p = lists.params(request, queries.LINE_SORTS, "due")
    return _page(request, queries.buyer_overview(db, actor, p, view))


@router.get("/inbox")
def list_received(
    request: Request,
    view: str = Query("active", max_length=16),
    db: Session = Depends(get_db),
    actor: Actor = requires(SUPPLYCHAIN_READ),
) -> dict[str, Any]:
    """Lines addressed to the actor's enterprise as supplier, paged."""
    p = lists.params(request, queries.LINE_SORTS, "due")
    return _page(request, queries.supplier_inbox(db, actor, p, view))


@router.post("/orders", status_code=201)
def create_order(
    body: OrderIn, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    lines = [NewLine(x.item_code, x.item_name, x.quantity, x.unit_price, x.due_date) for x in body.lines]
    po = service.create_order(db, actor, body.supplier_org_id, lines, reference=body.reference, source="api")
    return order_out(po)


@router.get("/orders/{sc_order_id}")
def get_order(
    sc_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)
) -> dict[str, Any]:
    po = service.get_order(db, actor, sc_order_id)
    progress.refresh(db, [ln.id for ln in po.lines if ln.state == "confirmed"])
    db.refresh(po)
    return order_out(po) | {"shipments": [shipment_out(s) for s in queries.shipments_of(db, actor, po.id)]}


@router.post("/lines/{sc_line_id}/confirm")
def confirm(
    sc_line_id: DbId,
    body: ConfirmIn | None = None,
    db: Session = Depends(get_db),
    actor: Actor = requires(SUPPLYCHAIN_WRITE),
) -> dict[str, Any]:
    return line_out(service.confirm_line(db, actor, sc_line_id, body.item_id if body else None))


@router.post("/lines/{sc_line_id}/propose")
def propose(
    sc_line_id: DbId, body: ProposeIn, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    return line_out(service.propose_change(db, actor, sc_line_id, body.quantity, body.due_date, body.note))


@router.post("/lines/{sc_line_id}/decline")
def decline(
    sc_line_id: DbId,
    body: NoteIn | None = None,
    db: Session = Depends(get_db),
    actor: Actor = requires(SUPPLYCHAIN_WRITE),
) -> dict[str, Any]:
    return line_out(service.decline_line(db, actor, sc_line_id, body.note if body else ""))


@router.post("/lines/{sc_line_id}/accept")
def accept_proposal(
    sc_line_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    return line_out(service.answer_proposal(db, actor, sc_line_id, accept=True))


@router.post("/lines/{sc_line_id}/refuse")
def refuse_proposal(
    sc_line_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    return line_out(service.answer_proposal(db, actor, sc_line_id, accept=False))


@router.post("/lines/{sc_line_id}/cancel")
def cancel(
    sc_line_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    return line_out(service.cancel_line(db, actor, sc_line_id))


@router.post("/orders/{sc_order_id}/shipments", status_code=201)
def ship(
    sc_order_id: DbId, body: ShipmentIn, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    lots = [LotOut(x.line_id, x.lot_number, x.quantity) for x in body.lots]
    return shipment_out(logistics.create_shipment(db, actor, sc_order_id, lots, body.expected_at, body.note))


@router.get("/shipments/{sc_shipment_id}")
def get_shipment(
    sc_shipment_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)
) -> dict[str, Any]:
    return shipment_out(logistics.get_shipment(db, actor, sc_shipment_id))


@router.post("/shipments/{sc_shipment_id}/cancel")
def cancel_shipment(
    sc_shipment_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    return shipment_out(logistics.cancel_shipment(db, actor, sc_shipment_id))


@router.post("/shipments/{sc_shipment_id}/receive", status_code=201)
def receive(
    sc_shipment_id: DbId, body: ReceiveIn, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    results = {x.shipment_lot_id: x.result for x in body.results}
    notes = {x.shipment_lot_id: x.note for x in body.results}
    return receipt_out(logistics.receive(db, actor, sc_shipment_id, results, notes, body.note))


@router.get("/receipts/{sc_receipt_id}")
def get_receipt(
    sc_receipt_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)
) -> dict[str, Any]:
    return receipt_out(logistics.get_receipt(db, actor, sc_receipt_id))


@router.post("/receipt-lots/{sc_receipt_lot_id}/returns", status_code=201)
def create_return(
    sc_receipt_lot_id: DbId, body: ReturnIn, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    r = logistics.create_return(db, actor, sc_receipt_lot_id, body.quantity, body.reason)
    return {"id": r.id, "number": r.number, "quantity": r.quantity, "value": str(r.value)}


@router.get("/partners")
def partners(db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)) -> list[dict[str, Any]]:
    return [partner_out(p) | {"side": side, "name": name} for p, side, name in queries.partnerships(db, actor)]


@router.post("/partners", status_code=201)
def invite(
    body: InviteIn, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_PARTNERS)
) -> dict[str, Any]:
    return partner_out(service.invite(db, actor, body.supplier_org_id, body.note))


@router.post("/partners/{sc_partnership_id}/accept")
def accept_invitation(
    sc_partnership_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_PARTNERS)
) -> dict[str, Any]:
    return partner_out(service.answer_invitation(db, actor, sc_partnership_id, accept=True))


@router.post("/partners/{sc_partnership_id}/decline")
def decline_invitation(
    sc_partnership_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_PARTNERS)
) -> dict[str, Any]:
    return partner_out(service.answer_invitation(db, actor, sc_partnership_id, accept=False))


@router.post("/partners/{sc_partnership_id}/end")
def end_partnership(
    sc_partnership_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_PARTNERS)
) -> dict[str, Any]:
    return partner_out(service.end_partnership(db, actor, sc_partnership_id))


@router.get("/events")
def events(db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)) -> list[dict[str, Any]]:
    from chaoyun.i18n import both

    return [
        {
            "id": e.id,
            "kind": e.kind,
            "order_id": e.order_id,
            "created_at": e.created_at.isoformat(),
            "read": e.read_at is not None,
            **{f"message_{k}": v for k, v in both(e.message, **e.params).items()},
        }
        for e in queries.events(db, actor)
    ]


@router.post("/orders/import")
async def import_orders(
    file: UploadFile = File(...), db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> dict[str, Any]:
    content = await file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise Invalid(N_("The file is larger than 5 MB."), field="file")
    report = transfer.import_orders(db, actor, file.filename or "orders.csv", content)
    return report.as_dict()


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            },
            "description": "the order lines as CSV or an Excel workbook",
        }
    },
)
def export(
    side: str = Query("buyer", pattern="^(buyer|supplier)$"),
    fmt: str = Query("csv", pattern="^(csv|xlsx)$"),
    db: Session = Depends(get_db),
    actor: Actor = requires(SUPPLYCHAIN_READ),
) -> Response:
    if fmt == "xlsx":
        return Response(
            transfer.export_xlsx(db, actor, side),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="supplychain-{side}.xlsx"'},
        )
    return Response(
        transfer.export_csv(db, actor, side),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="supplychain-{side}.csv"'},
    )


@router.get("/cluster")
def cluster(db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_CLUSTER)) -> list[dict[str, Any]]:
    """Officers: per district and cluster, enterprises in exchanges, open lines, lines at risk, on-time share
    (groups under three enterprises show the enterprise count only)."""
    return queries.district_summary(db, actor)
