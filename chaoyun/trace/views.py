"""Pages of the trace context: identifiers (register one, import a sheet, print labels), trace and recall with a
graph, deliveries outside the platform, authorisations, a lot's production window; and the public scan page
``/t/<identifier>``. Thin over service.py / graph.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import Field
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.db import get_db
from chaoyun.errors import AppError, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, gettext
from chaoyun.identity.permissions import Actor
from chaoyun.trace import exports, graph, labels, service
from chaoyun.trace.api import XLSX, base_url, resolve_limit
from chaoyun.trace.permissions import TRACE_MANAGE, TRACE_READ
from chaoyun.web import nav
from chaoyun.web.deps import public, requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import INT32_MAX, DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)
graph.install()

nav.register(
    nav.NavItem("enterprise", N_("Identifiers"), "/trace", TRACE_READ, 29, group="production"),
    nav.NavItem("enterprise", N_("Trace and recall"), "/trace/recall", TRACE_READ, 30, group="production"),
)

FLASH = {
    "registered": N_("Identifier registered."),
    "delivery": N_("Delivery recorded."),
    "grant": N_("Authorisation saved."),
    "revoked": N_("Authorisation withdrawn."),
    "linked": N_("Lots linked."),
}
MAX_UPLOAD = 20 * 1024 * 1024


def _ctx(request: Request, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "flash": FLASH.get(request.query_params.get("msg", "")),
        "can_manage": actor.has(TRACE_MANAGE),
        "labels": labels,
        **extra,
    }


def _back(url: str, msg: str) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}msg={msg}", status_code=303)


def _refused(db: Session, form: FormState, exc: AppError) -> None:
    db.rollback()
    if isinstance(exc, NotFound | Forbidden):
        raise exc
    form.fail(exc)


# ---------------------------------------------------------------- identifiers


def _home(
    request: Request,
    db: Session,
    actor: Actor,
    form: FormState | None = None,
    report: service.BulkReport | None = None,
    status: int = 200,
) -> Response:
    templates = service.list_templates(db, actor)
    code = (form.get("template") if form else "") or request.query_params.get("template") or "META_model"
    chosen = next((t for t in templates if t.code == code), templates[0] if templates else None)
    q = (request.query_params.get("q") or "")[:100]
    return render(
        request,
        "trace/home.html",
        _ctx(
            request,
            actor,
            prefix=service.prefix_of(db, actor.org_id),
            national=service.national_prefix(),
            templates=templates,
            chosen=chosen,
            idents=service.list_own(db, actor, q or None, 200),
            q=q,
            form=form or FormState(),
            report=report,
        ),
        status=status,
    )


@router.get("/trace")
def home(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> Response:
    if service.prefix_of(db, actor.org_id) is None and actor.has(TRACE_MANAGE):
        service.ensure_prefix(db, actor, actor.org_id)  # first visit of an admin: the prefix and templates
        db.commit()
    return _home(request, db, actor)


@router.post("/trace/identifiers")
async def register(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)) -> Response:
    form = await FormState.read(request, actor)
    t = service.template_by_code(db, actor.org_id, form.get("template"))
    if t is None:
        form.errors["template"] = gettext(N_("Choose a template."))
    else:
        attrs = {i.code: form.get(f"attr_{i.code}") for i in t.items}
        try:
            service.register(db, actor, t.code, attrs, form.get("suffix") or None)
            return _back(f"/trace?template={t.code}", "registered")
        except AppError as exc:
            _refused(db, form, exc)
            if exc.field and exc.field.startswith("attrs."):
                form.errors["attr_" + exc.field[6:]] = exc.message()
    return _home(request, db, actor, form, status=form.status)


@router.post("/trace/import")
async def import_sheet(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)
) -> Response:
    form = await FormState.read(request, actor, files=("file",), max_bytes=MAX_UPLOAD)
    up = form.staged.get("file")
    report = None
    try:
        if up is None:
            raise Invalid(N_("Choose a file."), field="file")
        rows, first = exports.import_rows(exports.read_rows(up.filename, up.data))
        report = service.register_many(db, actor, rows, first)
        form.clear_staged()
    except AppError as exc:
        _refused(db, form, exc)
    return _home(request, db, actor, form, report, status=form.status if not form.ok else 200)


@router.get("/trace/import-sheet.xlsx")
def import_template(
    template: str = Query(..., max_length=32), db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)
) -> Response:
    t = service.template_by_code(db, actor.org_id, template)
    if t is None:
        raise NotFound(N_("Your enterprise has no template coded %(code)s."), code=template)
    data = exports.import_sheet(t)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{t.code}.xlsx"'})


@router.get("/trace/labels.pdf")
def labels_pdf(
    request: Request,
    id: list[Annotated[int, Field(ge=1, le=INT32_MAX)]] = Query(..., min_length=1, max_length=500),
    db: Session = Depends(get_db),
    actor: Actor = requires(TRACE_READ),
) -> Response:
    idents = [service.get_own(db, actor, i) for i in id if 0 < i < 2**31]
    return Response(
        exports.labels_pdf(idents, base_url(request)),
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="labels.pdf"'},
    )


# ---------------------------------------------------------------- trace and recall


@router.get("/trace/recall")
def recall_page(
    request: Request,
    lot: str = Query("", max_length=64),
    direction: str = Query("forward", pattern="^(forward|backward)$"),
    db: Session = Depends(get_db),
    actor: Actor = requires(TRACE_READ),
) -> Response:
    g = None
    error = None
    if lot.strip():
        try:
            g = graph.recall(db, actor, lot) if direction == "forward" else graph.backward(db, actor, lot)
        except (Invalid, NotFound) as exc:
            db.rollback()
            error = exc
    data = graph.graph_json(g, {k: gettext(v) for k, v in labels.NODE_KINDS.items()}) if g else None
    return render(
        request,
        "trace/recall.html",
        _ctx(
            request,
            actor,
            lot=lot,
            direction=direction,
            g=g,
            rows=graph.recall_rows(g) if g else [],
            data=data,
            error=error,
            materials=graph.material_lots(db, actor) if g is None else [],
            form=FormState(),
        ),
        status=error.status if error else 200,
    )


@router.get("/trace/recall.xlsx")
def recall_xlsx(
    lot: str = Query(..., min_length=1, max_length=64),
    db: Session = Depends(get_db),
    actor: Actor = requires(TRACE_READ),
) -> Response:
    data = exports.recall_xlsx(graph.recall(db, actor, lot))
    return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="recall.xlsx"'})


@router.post("/trace/links")
async def link_lots(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)) -> Response:
    form = await FormState.read(request, actor)
    try:
        graph.link_lots(db, actor, form.get("from_lot"), form.get("into_lot"))
        return _back(f"/trace/deliveries?lot={form.get('into_lot')[:64]}", "linked")
    except AppError as exc:
        _refused(db, form, exc)
    return _deliveries(request, db, actor, link_form=form, status=form.status)


# ---------------------------------------------------------------- deliveries


def _deliveries(
    request: Request,
    db: Session,
    actor: Actor,
    form: FormState | None = None,
    link_form: FormState | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "trace/deliveries.html",
        _ctx(
            request,
            actor,
            deliveries=graph.list_deliveries(db, actor),
            form=form or FormState(),
            link_form=link_form or FormState(),
        ),
        status=status,
    )


@router.get("/trace/deliveries")
def deliveries_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> Response:
    return _deliveries(request, db, actor)


def _local(text: str, name: str) -> datetime:
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(N_("Invalid value."), field=name) from None
    return (naive.replace(tzinfo=timefmt.zone()) if naive.tzinfo is None else naive).astimezone(UTC)


def _int(text: str, name: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise Invalid(N_("Enter a whole number."), field=name) from None


@router.post("/trace/deliveries")
async def add_delivery(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    at = form.check("delivered_at", lambda: _local(form.get("delivered_at"), "delivered_at"))
    qty = form.check("quantity", lambda: _int(form.get("quantity"), "quantity"))
    if form.ok and at is not None and qty is not None:
        try:
            graph.record_delivery(
                db,
                actor,
                form.get("lot_number"),
                form.get("customer_name"),
                qty,
                at,
                form.get("country"),
                form.get("reference"),
            )
            return _back("/trace/deliveries", "delivery")
        except AppError as exc:
            _refused(db, form, exc)
    return _deliveries(request, db, actor, form=form, status=form.status)


# ---------------------------------------------------------------- authorisations


def _grants(request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200) -> Response:
    return render(
        request,
        "trace/grants.html",
        _ctx(request, actor, grants=service.list_grants(db, actor), form=form or FormState()),
        status=status,
    )


@router.get("/trace/grants")
def grants_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)) -> Response:
    return _grants(request, db, actor)


@router.post("/trace/grants")
async def add_grant(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)) -> Response:
    form = await FormState.read(request, actor)
    try:
        service.add_grant(db, actor, form.get("credit_code"))
        return _back("/trace/grants", "grant")
    except AppError as exc:
        _refused(db, form, exc)
    return _grants(request, db, actor, form, form.status)


@router.post("/trace/grants/{trace_grant_id}/delete")
def remove_grant(
    trace_grant_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TRACE_MANAGE)
) -> Response:
    service.remove_grant(db, actor, trace_grant_id)
    return _back("/trace/grants", "revoked")


# ---------------------------------------------------------------- a lot's window


@router.get("/trace/lots/{prod_lot_id}")
def lot_page(
    request: Request, prod_lot_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TRACE_READ)
) -> Response:
    w = graph.lot_window(db, actor, prod_lot_id)
    ident = service.identifier_of_lot(db, prod_lot_id)
    return render(request, "trace/lot.html", _ctx(request, actor, w=w, lot=w["lot"], ident=ident))


# ---------------------------------------------------------------- the public scan page


@router.get("/t/{handle:path}", dependencies=[Depends(resolve_limit)])
def scan_page(request: Request, handle: str, db: Session = Depends(get_db), actor: Actor | None = public()) -> Response:
    """What a scanned label opens: the product, its maker, the batch and its public results; the non-public
    attributes only for the registering enterprise and those it authorised."""
    try:
        v = service.view_of(db, actor, handle)
    except (Invalid, NotFound) as exc:
        return render(request, "trace/scan.html", {"error": exc, "handle": handle[:200], "v": None}, status=exc.status)
    return render(request, "trace/scan.html", {"error": None, "handle": handle, "v": v, "labels": labels})
