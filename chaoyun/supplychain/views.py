"""Pages of orders between enterprises (供应链协同): the lead's order overview, the supplier's inbox, an order with
its lines (answers, progress bars, forecast), shipments and receipts, partners, import / export, the feed of
changes, and the officers' district aggregates. Thin over the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import AppError, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.production import service as production
from chaoyun.supplychain import labels, logistics, progress, queries, service, transfer
from chaoyun.supplychain.logistics import LotOut
from chaoyun.supplychain.permissions import (
    SUPPLYCHAIN_CLUSTER,
    SUPPLYCHAIN_PARTNERS,
    SUPPLYCHAIN_READ,
    SUPPLYCHAIN_WRITE,
)
from chaoyun.supplychain.service import NewLine
from chaoyun.web import lists, nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

nav.register(
    nav.NavItem("enterprise", N_("Purchase orders"), "/supplychain", SUPPLYCHAIN_READ, 40, group="production"),
    nav.NavItem("enterprise", N_("Customer orders"), "/supplychain/inbox", SUPPLYCHAIN_READ, 41, group="production"),
    nav.NavItem(
        "enterprise", N_("Suppliers and customers"), "/supplychain/partners", SUPPLYCHAIN_READ, 42, group="production"
    ),
    nav.NavItem(
        "government", N_("Supply-chain collaboration"), "/gov/supplychain", SUPPLYCHAIN_CLUSTER, 60, group="production"
    ),
)


def _todos(db: Session, actor: Actor) -> list[nav.Todo]:
    if actor.audience != "enterprise" or not actor.has(SUPPLYCHAIN_READ):
        return []
    c = queries.order_counts(db, actor)
    out = [
        nav.Todo(N_("Customer order lines to answer"), c["todo"], "/supplychain/inbox?view=todo", 40),
        nav.Todo(N_("Supplier change proposals to answer"), c["proposals"], "/supplychain?view=proposed", 41),
        nav.Todo(N_("Shipments to receive"), c["inbound"], "/supplychain/inbound", 42),
    ]
    if actor.has(SUPPLYCHAIN_PARTNERS):
        out.append(nav.Todo(N_("Supplier invitations to answer"), c["invitations"], "/supplychain/partners", 43))
    return out


nav.register_todo("supplychain", _todos)

FLASH = {
    "created": N_("Order sent to the supplier."),
    "confirmed": N_("Line confirmed: a work order was made in your production."),
    "proposed": N_("Change proposed to the customer."),
    "declined": N_("Line declined."),
    "accepted": N_("Change accepted; the supplier confirms next."),
    "refused": N_("Change refused."),
    "cancelled": N_("Line cancelled."),
    "shipped": N_("Shipment notice sent."),
    "shipment_cancelled": N_("Shipment cancelled."),
    "received": N_("Shipment received."),
    "returned": N_("Return recorded."),
    "invited": N_("Invitation sent."),
    "partner": N_("Partnership updated."),
}


def _back(url: str, msg: str) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}msg={msg}", status_code=303)


def _ctx(request: Request, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "flash": FLASH.get(request.query_params.get("msg", "")),
        "labels": labels,
        "can_write": actor.has(SUPPLYCHAIN_WRITE),
        "can_partners": actor.has(SUPPLYCHAIN_PARTNERS),
        **extra,
    }


def _refused(db: Session, form: FormState, exc: AppError) -> None:
    db.rollback()
    if isinstance(exc, NotFound):
        raise exc
    form.fail(exc)


def _int(text: str, name: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise Invalid(N_("Enter a whole number."), field=name) from None


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(N_("Enter a date as YYYY-MM-DD."), field=name) from None


def _reader(parse: Callable[[str, str], T], text: str, name: str) -> Callable[[], T]:
    return lambda: parse(text, name)


# ---------------------------------------------------------------- overview and inbox


def _lines_page(request: Request, db: Session, actor: Actor, side: str) -> Response:
    view = request.query_params.get("view") or "active"
    view = view if view in queries.VIEWS else "active"
    risk = request.query_params.get("risk") or None
    risk = risk if risk in labels.RISKS else None
    try:
        other = int(request.query_params.get("org") or 0) or None
    except ValueError:
        other = None
    p = lists.params(request, queries.LINE_SORTS, "due")
    if side == "buyer":
        pg = queries.buyer_overview(db, actor, p, view, other, risk)
    else:
        pg = queries.supplier_inbox(db, actor, p, view, other, risk)
    return render(
        request,
        "supplychain/lines.html",
        _ctx(
            request,
            actor,
            side=side,
            pg=pg,
            view=view,
            risk=risk or "",
            org=other or 0,
            counterparts=queries.counterparts(db, actor, side),
            risks=queries.risk_counts(db, side, actor.org_id),
            counts=queries.order_counts(db, actor),
        ),
    )


@router.get("/supplychain")
def overview(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)) -> Response:
    return _lines_page(request, db, actor, "buyer")


@router.get("/supplychain/inbox")
def inbox(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)) -> Response:
    return _lines_page(request, db, actor, "supplier")


@router.get("/supplychain/inbound")
def inbound(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)) -> Response:
    """Shipments on their way to the actor's enterprise, and its suppliers' recent ones."""
    return render(
        request,
        "supplychain/inbound.html",
        _ctx(
            request,
            actor,
            rows=queries.shipments_list(db, actor, "buyer"),
            out=queries.shipments_list(db, actor, "supplier"),
        ),
    )


# ---------------------------------------------------------------- new order

FORM_LINES = 8


def _new_page(request: Request, db: Session, actor: Actor, form: FormState, status: int = 200) -> Response:
    return render(
        request,
        "supplychain/order_new.html",
        _ctx(request, actor, form=form, suppliers=queries.counterparts(db, actor, "buyer"), rows=range(FORM_LINES)),
        status=status,
    )


@router.get("/supplychain/orders/new")
def new_order(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)) -> Response:
    form = FormState()
    if request.query_params.get("supplier"):
        form.values["supplier_org_id"] = request.query_params["supplier"][:12]
    return _new_page(request, db, actor, form)


@router.post("/supplychain/orders/new")
async def create_order(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    form = await FormState.read(request, actor)
    supplier = form.check("supplier_org_id", lambda: _int(form.get("supplier_org_id") or "0", "supplier_org_id"))
    rows: list[tuple[int, NewLine]] = []
    for i in range(FORM_LINES):
        f = f"lines.{i}."
        vals = [form.get(f + k).strip() for k in ("item_code", "item_name", "quantity", "unit_price", "due_date")]
        if not any(vals):
            continue
        qty = form.check(f + "quantity", _reader(_int, form.get(f + "quantity"), f + "quantity"))
        due = form.check(f + "due_date", _reader(_date, form.get(f + "due_date"), f + "due_date"))
        if qty is not None and due is not None:
            rows.append((i, NewLine(vals[0], vals[1], qty, vals[3] or "", due)))  # type: ignore[arg-type]
    if not rows and form.ok:
        form.errors["lines.0.item_code"] = Invalid(N_("An order needs at least one line.")).message()
    if form.ok and supplier is not None:
        if form.first_submission() is None:
            try:
                po = service.create_order(
                    db, actor, supplier, [nl for _i, nl in rows], reference=form.get("reference"), source="manual"
                )
                form.submitted(f"/supplychain/orders/{po.id}")
                return _back(f"/supplychain/orders/{po.id}", "created")
            except AppError as exc:
                form.release()
                # Service fields count the filled lines; the form's rows may have gaps.
                if exc.field and exc.field.startswith("lines."):
                    _p, k, name = exc.field.split(".", 2)
                    exc.field = f"lines.{rows[int(k)][0]}.{name}"
                _refused(db, form, exc)
        else:
            return RedirectResponse(form.first_submission() or "/supplychain", status_code=303)
    return _new_page(request, db, actor, form, 422 if form.errors else form.status)


# ---------------------------------------------------------------- one order


def _order_page(
    request: Request, db: Session, actor: Actor, order_id: int, form: FormState | None = None, status: int = 200
) -> Response:
    po = service.get_order(db, actor, order_id)
    confirmed = [ln.id for ln in po.lines if ln.state == "confirmed"]
    if confirmed:
        progress.refresh(db, confirmed)
        db.refresh(po)
    side = "buyer" if po.buyer_org_id == actor.org_id else "supplier"
    items = production.list_items(db, actor, kind="product") if side == "supplier" else []
    lots = {}
    if side == "supplier":
        for ln in po.lines:
            if ln.work_order_id:
                lots[ln.id] = production.list_lots(db, actor, work_order_id=ln.work_order_id)
    return render(
        request,
        "supplychain/order.html",
        _ctx(
            request,
            actor,
            po=po,
            side=side,
            form=form or FormState(),
            items=items,
            lots=lots,
            buyer=service.enterprise(db, po.buyer_org_id),
            supplier=service.enterprise(db, po.supplier_org_id),
            shipments=queries.shipments_of(db, actor, po.id),
            open_to_ship=logistics.open_to_ship,
        ),
        status=status,
    )


@router.get("/supplychain/orders/{sc_order_id}")
def order_page(
    request: Request, sc_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)
) -> Response:
    return _order_page(request, db, actor, sc_order_id)


LINE_ACTIONS = ("confirm", "propose", "decline", "accept", "refuse", "cancel")


async def _line_action(request: Request, db: Session, actor: Actor, line_id: int, action: str) -> Response:
    ln = service.get_line(db, actor, line_id)  # scope first: another's line is a 404
    order_id = ln.order_id
    form = await FormState.read(request, actor)
    form.values["line_id"] = str(line_id)
    try:
        if action == "confirm":
            item = form.get("item_id")
            item_id = form.check("item_id", lambda: _int(item, "item_id")) if item else None
            if form.ok:
                service.confirm_line(db, actor, line_id, item_id)
        elif action == "propose":
            q, d = form.get("quantity"), form.get("due_date")
            qty = form.check("quantity", lambda: _int(q, "quantity")) if q else None
            due = form.check("due_date", lambda: _date(d, "due_date")) if d else None
            if form.ok:
                service.propose_change(db, actor, line_id, qty, due, form.get("note"))
        elif action == "decline":
            service.decline_line(db, actor, line_id, form.get("note"))
        elif action in ("accept", "refuse"):
            service.answer_proposal(db, actor, line_id, accept=action == "accept")
        elif action == "cancel":
            service.cancel_line(db, actor, line_id)
    except AppError as exc:
        _refused(db, form, exc)
    if form.ok:
        msg = {
            "confirm": "confirmed",
            "propose": "proposed",
            "decline": "declined",
            "accept": "accepted",
            "refuse": "refused",
            "cancel": "cancelled",
        }[action]
        return _back(f"/supplychain/orders/{order_id}", msg)
    return _order_page(request, db, actor, order_id, form, form.status)


@router.post("/supplychain/lines/{sc_line_id}/confirm")
async def line_confirm(
    request: Request, sc_line_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    return await _line_action(request, db, actor, sc_line_id, "confirm")


@router.post("/supplychain/lines/{sc_line_id}/propose")
async def line_propose(
    request: Request, sc_line_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    return await _line_action(request, db, actor, sc_line_id, "propose")


@router.post("/supplychain/lines/{sc_line_id}/decline")
async def line_decline(
    request: Request, sc_line_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    return await _line_action(request, db, actor, sc_line_id, "decline")


@router.post("/supplychain/lines/{sc_line_id}/accept")
async def line_accept(
    request: Request, sc_line_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    return await _line_action(request, db, actor, sc_line_id, "accept")


@router.post("/supplychain/lines/{sc_line_id}/refuse")
async def line_refuse(
    request: Request, sc_line_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    return await _line_action(request, db, actor, sc_line_id, "refuse")


@router.post("/supplychain/lines/{sc_line_id}/cancel")
async def line_cancel(
    request: Request, sc_line_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    return await _line_action(request, db, actor, sc_line_id, "cancel")


@router.post("/supplychain/orders/{sc_order_id}/shipments")
async def ship(
    request: Request, sc_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    po = service.get_order(db, actor, sc_order_id)
    form = await FormState.read(request, actor)
    form.values["form"] = "ship"
    lots: list[LotOut] = []
    for ln in po.lines:
        for k in range(3):
            key = f"qty_{ln.id}_{k}"
            number, q = form.get(f"lot_{ln.id}_{k}").strip(), form.get(key).strip()
            if not number and not q:
                continue
            qty = form.check(key, _reader(_int, q, key))
            if qty is not None:
                lots.append(LotOut(ln.id, number, qty))
    exp = form.get("expected_at")
    expected = form.check("expected_at", lambda: _date(exp, "expected_at")) if exp else None
    if form.ok:
        if form.first_submission() is None:
            try:
                s = logistics.create_shipment(db, actor, po.id, lots, expected, form.get("note"))
                form.submitted(f"/supplychain/shipments/{s.id}")
                return _back(f"/supplychain/shipments/{s.id}", "shipped")
            except AppError as exc:
                form.release()
                _refused(db, form, exc)
        else:
            return RedirectResponse(form.first_submission() or f"/supplychain/orders/{po.id}", status_code=303)
    return _order_page(request, db, actor, po.id, form, 422 if form.errors else form.status)


# ---------------------------------------------------------------- shipments, receipts, returns


def _shipment_page(
    request: Request, db: Session, actor: Actor, shipment_id: int, form: FormState | None = None, status: int = 200
) -> Response:
    s = logistics.get_shipment(db, actor, shipment_id)
    po = service.get_order(db, actor, s.order_id)
    receipt = queries.receipt_of(db, s.id)
    spc = (
        {sl.id: logistics.spc_of_lot(db, s.supplier_org_id, sl.lot_number) for sl in s.lots}
        if s.state == "sent"
        else {}
    )
    return render(
        request,
        "supplychain/shipment.html",
        _ctx(
            request,
            actor,
            s=s,
            po=po,
            receipt=receipt,
            spc=spc,
            form=form or FormState(),
            side="buyer" if s.buyer_org_id == actor.org_id else "supplier",
        ),
        status=status,
    )


@router.get("/supplychain/shipments/{sc_shipment_id}")
def shipment_page(
    request: Request, sc_shipment_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)
) -> Response:
    return _shipment_page(request, db, actor, sc_shipment_id)


@router.post("/supplychain/shipments/{sc_shipment_id}/receive")
async def shipment_receive(
    request: Request, sc_shipment_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    s = logistics.get_shipment(db, actor, sc_shipment_id)
    form = await FormState.read(request, actor)
    results = {sl.id: form.get(f"result_{sl.id}") for sl in s.lots}
    notes = {sl.id: form.get(f"note_{sl.id}") for sl in s.lots}
    try:
        logistics.receive(db, actor, s.id, results, notes, form.get("note"))
        return _back(f"/supplychain/shipments/{s.id}", "received")
    except AppError as exc:
        _refused(db, form, exc)
    return _shipment_page(request, db, actor, s.id, form, form.status)


@router.post("/supplychain/shipments/{sc_shipment_id}/cancel")
async def shipment_cancel(
    request: Request, sc_shipment_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    s = logistics.get_shipment(db, actor, sc_shipment_id)
    form = await FormState.read(request, actor)
    try:
        logistics.cancel_shipment(db, actor, s.id)
        return _back(f"/supplychain/shipments/{s.id}", "shipment_cancelled")
    except AppError as exc:
        _refused(db, form, exc)
    return _shipment_page(request, db, actor, s.id, form, form.status)


@router.post("/supplychain/receipt-lots/{sc_receipt_lot_id}/return")
async def receipt_return(
    request: Request, sc_receipt_lot_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    rl = queries.receipt_lot(db, actor, sc_receipt_lot_id)
    shipment_id = rl.receipt.shipment_id
    form = await FormState.read(request, actor)
    form.values["sc_receipt_lot_id"] = str(sc_receipt_lot_id)
    q = form.get("quantity")
    qty = form.check("quantity", lambda: _int(q, "quantity"))
    if form.ok and qty is not None:
        try:
            logistics.create_return(db, actor, sc_receipt_lot_id, qty, form.get("reason"))
            return _back(f"/supplychain/shipments/{shipment_id}", "returned")
        except AppError as exc:
            _refused(db, form, exc)
    return _shipment_page(request, db, actor, shipment_id, form, 422 if form.errors else form.status)


# ---------------------------------------------------------------- partners


def _partners_page(
    request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200
) -> Response:
    q = (request.query_params.get("q") or "").strip()[:50]
    return render(
        request,
        "supplychain/partners.html",
        _ctx(
            request,
            actor,
            rows=queries.partnerships(db, actor),
            candidates=queries.candidates(db, actor, q),
            q=q,
            form=form or FormState(),
        ),
        status=status,
    )


@router.get("/supplychain/partners")
def partners(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)) -> Response:
    return _partners_page(request, db, actor)


@router.post("/supplychain/partners/invite")
async def partner_invite(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_PARTNERS)
) -> Response:
    form = await FormState.read(request, actor)
    sid = form.check("supplier_org_id", lambda: _int(form.get("supplier_org_id") or "", "supplier_org_id"))
    if form.ok and sid is not None:
        try:
            service.invite(db, actor, sid, form.get("note"))
            return _back("/supplychain/partners", "invited")
        except AppError as exc:
            _refused(db, form, exc)
    return _partners_page(request, db, actor, form, 422 if form.errors and not form.error else form.status)


async def _partner_action(request: Request, db: Session, actor: Actor, pid: int, action: str) -> Response:
    service.get_partnership(db, actor, pid)
    form = await FormState.read(request, actor)
    try:
        if action == "end":
            service.end_partnership(db, actor, pid)
        else:
            service.answer_invitation(db, actor, pid, accept=action == "accept")
        return _back("/supplychain/partners", "partner")
    except AppError as exc:
        _refused(db, form, exc)
    return _partners_page(request, db, actor, form, form.status)


@router.post("/supplychain/partners/{sc_partnership_id}/accept")
async def partner_accept(
    request: Request,
    sc_partnership_id: DbId,
    db: Session = Depends(get_db),
    actor: Actor = requires(SUPPLYCHAIN_PARTNERS),
) -> Response:
    return await _partner_action(request, db, actor, sc_partnership_id, "accept")


@router.post("/supplychain/partners/{sc_partnership_id}/decline")
async def partner_decline(
    request: Request,
    sc_partnership_id: DbId,
    db: Session = Depends(get_db),
    actor: Actor = requires(SUPPLYCHAIN_PARTNERS),
) -> Response:
    return await _partner_action(request, db, actor, sc_partnership_id, "decline")


@router.post("/supplychain/partners/{sc_partnership_id}/end")
async def partner_end(
    request: Request,
    sc_partnership_id: DbId,
    db: Session = Depends(get_db),
    actor: Actor = requires(SUPPLYCHAIN_PARTNERS),
) -> Response:
    return await _partner_action(request, db, actor, sc_partnership_id, "end")


# ---------------------------------------------------------------- import / export / feed


@router.get("/supplychain/import")
def import_page(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    return render(
        request,
        "supplychain/import.html",
        _ctx(request, actor, form=FormState(), report=None, columns=transfer.COLUMNS),
    )


@router.post("/supplychain/import")
async def import_upload(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_WRITE)
) -> Response:
    form = await FormState.read(request, actor, files=("file",))
    up = form.upload("file")
    report = None
    if up is None:
        form.errors["file"] = Invalid(N_("Choose a CSV or Excel file.")).message()
    else:
        try:
            report = transfer.import_orders(db, actor, up.filename, up.data)
            if not report.rejected:
                form.clear_staged()
        except AppError as exc:
            _refused(db, form, exc)
    status = 422 if (form.errors or form.error or (report and report.rejected)) else 200
    return render(
        request,
        "supplychain/import.html",
        _ctx(request, actor, form=form, report=report, columns=transfer.COLUMNS),
        status=status,
    )


@router.get("/supplychain/export.csv")
def export_csv(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)) -> Response:
    side = "supplier" if request.query_params.get("side") == "supplier" else "buyer"
    return Response(
        transfer.export_csv(db, actor, side),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="supplychain-{side}.csv"'},
    )


@router.get("/supplychain/export.xlsx")
def export_xlsx(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)) -> Response:
    side = "supplier" if request.query_params.get("side") == "supplier" else "buyer"
    return Response(
        transfer.export_xlsx(db, actor, side),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="supplychain-{side}.xlsx"'},
    )


@router.get("/supplychain/events")
def events_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_READ)) -> Response:
    rows = queries.events(db, actor, 100)
    resp = render(request, "supplychain/events.html", _ctx(request, actor, rows=rows))
    queries.mark_read(db, actor)
    return resp


# ---------------------------------------------------------------- government


@router.get("/gov/supplychain")
def gov_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SUPPLYCHAIN_CLUSTER)) -> Response:
    rows = queries.district_summary(db, actor)
    return render(request, "supplychain/gov.html", _ctx(request, actor, rows=rows))
