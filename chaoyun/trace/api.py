"""JSON API of the trace context (``/api/v1/trace``).

``GET /api/v1/trace/handles/{handle}`` is resolution, open to anyone (declared ``public()``), rate-limited per
client, in the Handle System's REST shape; the rest needs ``trace.read`` / ``trace.manage``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import AppError, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.settings import env
from chaoyun.trace import exports, graph, service
from chaoyun.trace.permissions import TRACE_MANAGE, TRACE_READ
from chaoyun.trace.schemas import AttrsIn, BulkIn, DeliveryIn, GrantIn, IdentifierIn, LinkIn, TemplateIn
from chaoyun.web.deps import public, requires
from chaoyun.web.params import INT32_MAX, DbId
from chaoyun.web.ratelimit import rate_limit

router = APIRouter(prefix="/api/v1/trace", tags=["trace"])
graph.install()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD = 20 * 1024 * 1024
resolve_limit = rate_limit("trace-resolve", per_minute=600, burst=120)


def base_url(request: Request) -> str:
    return env("TRACE_PUBLIC_BASE_URL").rstrip("/") or str(request.base_url).rstrip("/")


def _rc(exc: AppError, actor: Actor | None) -> int:
    """Handle protocol response codes: 100 not found, 102 invalid handle, 400 insufficient permissions,
    402 authentication needed, 2 any other error."""
    if isinstance(exc, NotFound):
        return 100
    if isinstance(exc, Invalid):
        return 102
    if isinstance(exc, Forbidden):
        return 402 if actor is None else 400
    return 2


# ---------------------------------------------------------------- resolution (public)


@router.get("/handles/{handle:path}", dependencies=[Depends(resolve_limit)])
def resolve_handle(
    request: Request,
    handle: str,
    full: bool = False,
    type: list[str] | None = Query(None, max_length=20),
    index: list[int] | None = Query(None, max_length=20),
    db: Session = Depends(get_db),
    actor: Actor | None = public(),
) -> Response:
    """Resolve an identifier: ``responseCode``, ``handle``, ``values`` (index, type, data, ttl, timestamp).
    Public values for anyone; ``full=true`` (or a private ``type`` / ``index``) needs an authorised enterprise."""
    idx = [i for i in (index or []) if 0 < i < 100_000] or None
    try:
        body = service.resolve(db, actor, handle, base_url(request), full=full, types=type, indexes=idx)
    except AppError as exc:
        return JSONResponse(
            {"responseCode": _rc(exc, actor), "handle": handle[:200], **exc.payload()}, status_code=exc.status
        )
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------- prefix and templates


def _template_out(t: Any) -> dict[str, Any]:
    return {
        "id": t.id,
        "code": t.code,
        "name": t.name,
        "object_class": t.object_class,
        "items": [
            {
                "index": i.idx,
                "code": i.code,
                "name_en": i.name_en,
                "name_zh": i.name_zh,
                "dtype": i.dtype,
                "options": i.options,
                "required": i.required,
                "public": i.public,
            }
            for i in t.items
        ],
    }


@router.get("/prefix")
def my_prefix(db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> dict[str, Any]:
    p = service.prefix_of(db, actor.org_id)
    return {"national_prefix": service.national_prefix(), "prefix": p.prefix if p else None}


@router.get("/templates")
def templates(db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> list[dict[str, Any]]:
    return [_template_out(t) for t in service.list_templates(db, actor)]


@router.post("/templates", status_code=201)
def create_template(body: TemplateIn, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)) -> Any:
    items = [service.ItemSpec(**i.model_dump()) for i in body.items]
    return _template_out(service.create_template(db, actor, body.code, body.name, body.object_class, items))


# ---------------------------------------------------------------- identifiers


def _ident_out(i: Any) -> dict[str, Any]:
    return {
        "id": i.id,
        "handle": i.handle,
        "template": i.template.code,
        "object_class": i.template.object_class,
        "lot_id": i.lot_id,
        "attrs": i.attrs,
        "status": i.status,
        "version": i.version,
        "created_at": i.created_at.isoformat() if i.created_at else None,
    }


@router.get("/identifiers")
def identifiers(
    q: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
    db: Session = Depends(get_db),
    actor: Actor = requires(TRACE_READ),
) -> list[dict[str, Any]]:
    return [_ident_out(i) for i in service.list_own(db, actor, q, limit, offset)]


@router.post("/identifiers", status_code=201)
def register(body: IdentifierIn, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)) -> Any:
    return _ident_out(service.register(db, actor, body.template, body.attrs, body.suffix))


def _report(r: service.BulkReport) -> dict[str, Any]:
    return {"created": len(r.created), "handles": r.created, "errors": [e.__dict__ for e in r.errors]}


@router.post("/identifiers/bulk")
def register_bulk(body: BulkIn, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)) -> Any:
    """Many identifiers at once: good rows are registered, bad ones reported by row (1 = the first)."""
    return _report(service.register_many(db, actor, body.rows))


@router.post("/identifiers/import")
async def import_file(
    file: UploadFile = File(...), db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)
) -> Any:
    """An Excel (or CSV) sheet: header ``template, suffix, <item codes>``; errors by sheet row."""
    content = await file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise Invalid(N_("The file is too large."), field="file")
    rows, first = exports.import_rows(exports.read_rows(file.filename or "", content))
    return _report(service.register_many(db, actor, rows, first))


@router.get("/identifiers/{identifier_id}")
def identifier(identifier_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> Any:
    i = service.get_own(db, actor, identifier_id)
    return {**_ident_out(i), "intact": service.intact(i)}


@router.patch("/identifiers/{identifier_id}")
def update_identifier(
    identifier_id: DbId, body: AttrsIn, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)
) -> Any:
    return _ident_out(service.update_attrs(db, actor, identifier_id, body.attrs))


@router.get(
    "/labels.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "a printable sheet of QR labels"}},
)
def labels_pdf(
    request: Request,
    id: list[Annotated[int, Field(ge=1, le=INT32_MAX)]] = Query(..., min_length=1, max_length=500),
    db: Session = Depends(get_db),
    actor: Actor = requires(TRACE_READ),
) -> Response:
    idents = [service.get_own(db, actor, i) for i in id if 0 < i < 2**31]
    pdf = exports.labels_pdf(idents, base_url(request))
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": 'inline; filename="labels.pdf"'})


# ---------------------------------------------------------------- authorisations


@router.get("/grants")
def grants(db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> list[dict[str, Any]]:
    return [{"id": g.id, "grantee": o.name, "grantee_org_id": o.id} for g, o in service.list_grants(db, actor)]


@router.post("/grants", status_code=201)
def add_grant(body: GrantIn, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)) -> Any:
    g = service.add_grant(db, actor, body.credit_code)
    return {"id": g.id, "grantee_org_id": g.grantee_org_id}


@router.delete("/grants/{trace_grant_id}", status_code=204)
def remove_grant(
    trace_grant_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)
) -> Response:
    service.remove_grant(db, actor, trace_grant_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- trace graph


def _graph_out(g: graph.Graph) -> dict[str, Any]:
    return {
        "start": {"id": g.start.id, "kind": g.start.kind, "key": g.start.key},
        "direction": g.direction,
        "nodes": [
            {
                "id": n.id,
                "kind": n.kind,
                "key": n.key,
                "org": g.org_names.get(n.org_id, ""),
                "item": n.label,
                "customer": n.customer_name or g.org_names.get(n.customer_org_id or 0, ""),
                "quantity": n.quantity,
                "at": n.at.isoformat() if n.at else None,
                "depth": g.depth.get(n.id),
            }
            for n in g.nodes
        ],
        "edges": [{"source": s, "target": d} for s, d in g.edges],
        "customers": g.customers(),
        "hidden": g.hidden,
        "truncated": g.truncated,
    }


LotQ = Query(..., min_length=1, max_length=64)


@router.get("/recall")
def recall(lot: str = LotQ, db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> Any:
    """Forward trace: every lot, shipment and delivery downstream of a (material) lot, and the customers."""
    return _graph_out(graph.recall(db, actor, lot))


@router.get("/backward")
def backward(lot: str = LotQ, db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> Any:
    """Backward trace: what went into a lot (material lots, supplier lots, their shipments)."""
    return _graph_out(graph.backward(db, actor, lot))


@router.get("/recall.xlsx")
def recall_xlsx(lot: str = LotQ, db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> Response:
    data = exports.recall_xlsx(graph.recall(db, actor, lot))
    return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="recall.xlsx"'})


@router.get("/lots/{prod_lot_id}/window")
def lot_window(prod_lot_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> Any:
    w = graph.lot_window(db, actor, prod_lot_id)
    lot = w["lot"]
    return {
        "lot": lot.number,
        "work_order": lot.work_order.number,
        "item": lot.work_order.item.code,
        "machine": w["machine"].name if w["machine"] else None,
        "start": lot.start.isoformat(),
        "end": lot.end.isoformat(),
        "process": w["process"],
        "spc": [
            {"plan": s["plan"].name, "points": s["points"], "flagged": s["flagged"], "cpk": s["cpk"]} for s in w["spc"]
        ],
    }


@router.post("/links", status_code=201)
def link_lots(body: LinkIn, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)) -> Any:
    graph.link_lots(db, actor, body.from_lot, body.into_lot)
    return {"from_lot": body.from_lot, "into_lot": body.into_lot}


# ---------------------------------------------------------------- deliveries outside the platform


@router.get("/deliveries")
def deliveries(db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "lot": lot.number,
            "customer_name": d.customer_name,
            "country": d.country,
            "reference": d.reference,
            "quantity": d.quantity,
            "delivered_at": d.delivered_at.isoformat(),
        }
        for d, lot in graph.list_deliveries(db, actor)
    ]


@router.post("/deliveries", status_code=201)
def add_delivery(body: DeliveryIn, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)) -> Any:
    d = graph.record_delivery(
        db, actor, body.lot_number, body.customer_name, body.quantity, body.delivered_at, body.country, body.reference
    )
    return {"id": d.id}
