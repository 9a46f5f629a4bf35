"""Pages of the production context: items and routings, work orders, the operator's machine page, lots, import
and export; the government's aggregate view. Thin over service.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.db import get_db
from chaoyun.devices import service as devices
from chaoyun.errors import AppError, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, gettext
from chaoyun.identity.permissions import Actor
from chaoyun.production import imports, labels, service
from chaoyun.production.permissions import PRODUCTION_CLUSTER, PRODUCTION_MANAGE, PRODUCTION_READ, PRODUCTION_REPORT
from chaoyun.production.schemas import ItemIn, LotIn, LotMaterialIn, OpMachineIn, RoutingOpIn, WorkOrderIn
from chaoyun.web import excel, nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)

nav.register(
    nav.NavItem("enterprise", N_("Work orders"), "/production/work-orders", PRODUCTION_READ, 25, group="production"),
    nav.NavItem("enterprise", N_("Items and routings"), "/production/items", PRODUCTION_READ, 26, group="production"),
    nav.NavItem("enterprise", N_("Machine queue"), "/production/machines", PRODUCTION_READ, 27, group="production"),
    nav.NavItem("enterprise", N_("Lots"), "/production/lots", PRODUCTION_READ, 28, group="production"),
    nav.NavItem(
        "government", N_("Work orders by cluster"), "/gov/production", PRODUCTION_CLUSTER, 32, group="production"
    ),
)

FLASH = {
    "item": N_("Item saved."),
    "routing": N_("Routing saved."),
    "wo": N_("Work order saved."),
    "state": N_("Work order state changed."),
    "started": N_("Operation started."),
    "paused": N_("Operation paused."),
    "resumed": N_("Operation resumed."),
    "finished": N_("Operation finished."),
    "lot": N_("Lot recorded."),
}


def _ctx(request: Request, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "flash": FLASH.get(request.query_params.get("msg", "")),
        "can_manage": actor.has(PRODUCTION_MANAGE),
        "can_report": actor.has(PRODUCTION_REPORT),
        "labels": labels,
        **extra,
    }


def _invalid(form: FormState, exc: ValidationError) -> None:
    """Pydantic's complaints beside their fields (types and lengths; the rules are the service's)."""
    for e in exc.errors():
        name = ".".join(str(p) for p in e.get("loc", ()))
        kind = e.get("type", "")
        if kind in ("missing", "string_too_short"):
            msg = gettext(N_("This field is required."))
        elif kind.startswith("int"):
            msg = gettext(N_("Enter a whole number."))
        elif kind.startswith(("float", "date", "datetime")):
            msg = gettext(N_("Invalid value."))
        else:
            msg = gettext(N_("Invalid value."))
        form.errors.setdefault(name, msg)


def _refused(db: Session, form: FormState, exc: AppError) -> None:
    db.rollback()
    if isinstance(exc, NotFound | Forbidden):
        raise exc
    form.fail(exc)


def _back(url: str, msg: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?msg={msg}", status_code=303)


# ---------------------------------------------------------------- items and routings


@router.get("/production")
def production_home(actor: Actor = requires(PRODUCTION_READ)) -> Response:
    return RedirectResponse("/production/work-orders", status_code=303)


def _items_page(
    request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200
) -> Response:
    q = request.query_params.get("q") or None
    kind = request.query_params.get("kind") or None
    return render(
        request,
        "production/items.html",
        _ctx(request, actor, items=service.list_items(db, actor, q, kind), q=q or "", kind=kind or "", form=form),
        status=status,
    )


@router.get("/production/items")
def items_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)) -> Response:
    return _items_page(request, db, actor)


@router.post("/production/items")
async def item_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    try:
        item = service.create_item(
            db,
            actor,
            ItemIn(
                code=form.get("code"),
                name=form.get("name"),
                unit=form.get("unit") or "pcs",
                family=form.get("family"),
                kind=form.get("kind") or "product",
            ),
        )
        return _back(f"/production/items/{item.id}", "item")
    except ValidationError as exc:
        _invalid(form, exc)
    except AppError as exc:
        _refused(db, form, exc)
    return _items_page(request, db, actor, form, form.status)


def _item_page(
    request: Request, db: Session, actor: Actor, item_id: int, form: FormState | None = None, status: int = 200
) -> Response:
    item = service.get_item(db, actor, item_id)
    machines = [d for d in devices.list_devices(db, actor) if d.org_id == item.org_id]
    names = {d.id: d.name for d in machines}
    wos = [w for w in service.list_work_orders(db, actor, q=item.code) if w.item_id == item.id]
    return render(
        request,
        "production/item.html",
        _ctx(request, actor, item=item, machines=machines, names=names, work_orders=wos[:50], form=form),
        status=status,
    )


@router.get("/production/items/{prod_item_id}")
def item_page(
    request: Request, prod_item_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> Response:
    return _item_page(request, db, actor, prod_item_id)


@router.post("/production/items/{prod_item_id}/operations")
async def operation_save(
    request: Request, prod_item_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> Response:
    service.get_item(db, actor, prod_item_id)  # scope first: another enterprise's item is a 404
    form = await FormState.read(request, actor)
    machines = []
    for key, value in form.values.items():
        # One cycle-time box per machine ("cycle_<device id>"); an empty box means "not eligible".
        if key.startswith("cycle_") and value.strip():
            try:
                machines.append(OpMachineIn(device_id=_int(key[6:], key), cycle_s=_float(value, key)))
            except AppError as exc:
                form.errors.setdefault(key, exc.message())
    seq = form.check("seq", lambda: _int(form.get("seq"), "seq"))
    setup_min = form.check("setup_min", lambda: _float(form.get("setup_min") or "0", "setup_min"))
    if form.ok and seq is not None and setup_min is not None:
        try:
            op = RoutingOpIn(seq=seq, name=form.get("name"), setup_s=setup_min * 60, machines=machines)
            service.upsert_operation(db, actor, prod_item_id, op)
            return _back(f"/production/items/{prod_item_id}", "routing")
        except ValidationError as exc:
            _invalid(form, exc)
        except AppError as exc:
            _refused(db, form, exc)
    return _item_page(request, db, actor, prod_item_id, form, form.status)


@router.post("/production/items/{prod_item_id}/operations/{routing_op_id}/delete")
def operation_delete(
    prod_item_id: DbId, routing_op_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> Response:
    service.delete_operation(db, actor, prod_item_id, routing_op_id)
    return _back(f"/production/items/{prod_item_id}", "routing")


def _int(text: str, name: str) -> int:
    try:
        n = int(text.strip())
    except ValueError as exc:
        raise Invalid(N_("Enter a whole number."), field=name) from exc
    if not -(2**31) <= n < 2**31:  # an INTEGER column (32-bit on PostgreSQL); larger numbers failed there
        raise Invalid(N_("Enter a whole number."), field=name)
    return n


def _float(text: str, name: str) -> float:
    try:
        return float(text.strip())
    except ValueError as exc:
        raise Invalid(N_("Enter a number."), field=name) from exc


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise Invalid(N_("Enter a date as YYYY-MM-DD."), field=name) from exc


def _local_time(text: str, name: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise Invalid(N_("Enter a date and time."), field=name) from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=timefmt.zone())


# ---------------------------------------------------------------- work orders


def _wos_page(
    request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200
) -> Response:
    q = request.query_params.get("q") or None
    state = request.query_params.get("state") or None
    products = service.list_items(db, actor, kind="product")
    return render(
        request,
        "production/work_orders.html",
        _ctx(
            request,
            actor,
            work_orders=service.list_work_orders(db, actor, q, state),
            products=[p for p in products if p.operations],
            q=q or "",
            state=state or "",
            today=timefmt.local_today().isoformat(),
            form=form,
        ),
        status=status,
    )


@router.get("/production/work-orders")
def work_orders_page(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> Response:
    return _wos_page(request, db, actor)


@router.post("/production/work-orders")
async def work_order_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    item_id = form.check("item_id", lambda: _int(form.get("item_id"), "item_id"))
    quantity = form.check("quantity", lambda: _int(form.get("quantity"), "quantity"))
    due = form.check("due_date", lambda: _date(form.get("due_date"), "due_date"))
    priority = form.check("priority", lambda: _int(form.get("priority") or "5", "priority"))
    if form.ok and item_id is not None and quantity is not None and due is not None and priority is not None:
        try:
            wo = service.create_work_order(
                db,
                actor,
                WorkOrderIn(
                    number=form.get("number"),
                    item_id=item_id,
                    quantity=quantity,
                    due_date=due,
                    priority=priority,
                    note=form.get("note"),
                ),
            )
            return _back(f"/production/work-orders/{wo.id}", "wo")
        except ValidationError as exc:
            _invalid(form, exc)
        except AppError as exc:
            _refused(db, form, exc)
    return _wos_page(request, db, actor, form, form.status)


def _wo_page(
    request: Request, db: Session, actor: Actor, wo_id: int, form: FormState | None = None, status: int = 200
) -> Response:
    wo = service.get_work_order(db, actor, wo_id)
    machines = [d for d in devices.list_devices(db, actor) if d.org_id == wo.org_id]
    return render(
        request,
        "production/work_order.html",
        _ctx(
            request,
            actor,
            wo=wo,
            names={d.id: d.name for d in machines},
            machines=machines,
            next_states=service.TRANSITIONS.get(wo.state, ()),
            lots=service.list_lots(db, actor, work_order_id=wo.id),
            materials=service.list_items(db, actor, kind="material"),
            form=form,
        ),
        status=status,
    )


@router.get("/production/work-orders/{work_order_id}")
def work_order_page(
    request: Request, work_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> Response:
    return _wo_page(request, db, actor, work_order_id)


@router.post("/production/work-orders/{work_order_id}/transition")
async def work_order_transition(
    request: Request, work_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> Response:
    service.get_work_order(db, actor, work_order_id)
    form = await FormState.read(request, actor)
    try:
        service.transition(db, actor, work_order_id, form.get("to"))
        return _back(f"/production/work-orders/{work_order_id}", "state")
    except AppError as exc:
        _refused(db, form, exc)
    return _wo_page(request, db, actor, work_order_id, form, form.status)


@router.post("/production/work-orders/{work_order_id}/lots")
async def lot_create(
    request: Request, work_order_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> Response:
    service.get_work_order(db, actor, work_order_id)
    form = await FormState.read(request, actor)
    start = form.check("start", lambda: _local_time(form.get("start"), "start"))
    end = form.check("end", lambda: _local_time(form.get("end"), "end"))
    quantity = form.check("quantity", lambda: _int(form.get("quantity"), "quantity"))
    device_id = form.check(
        "device_id", lambda: _int(form.get("device_id"), "device_id") if form.get("device_id") else None
    )
    materials = []
    if form.get("material_code"):
        mq = form.check("material_quantity", lambda: _float(form.get("material_quantity"), "material_quantity"))
        if not form.get("material_lot"):
            form.errors.setdefault("material_lot", gettext(N_("This field is required.")))
        elif mq is not None:
            materials.append(
                LotMaterialIn(item_code=form.get("material_code"), material_lot=form.get("material_lot"), quantity=mq)
            )
    if form.ok and start is not None and end is not None and quantity is not None:
        try:
            data = LotIn(
                number=form.get("number"),
                work_order_id=work_order_id,
                device_id=device_id,
                start=start,
                end=end,
                quantity=quantity,
                materials=materials,
            )
            service.create_lot(db, actor, data)
            return _back(f"/production/work-orders/{work_order_id}", "lot")
        except ValidationError as exc:
            _invalid(form, exc)
        except AppError as exc:
            _refused(db, form, exc)
    return _wo_page(request, db, actor, work_order_id, form, form.status)


# ---------------------------------------------------------------- the operator's page


@router.get("/production/machines")
def machines_page(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> Response:
    machines = [d for d in devices.list_devices(db, actor) if d.org_id == actor.org_id]
    return render(request, "production/machines.html", _ctx(request, actor, machines=machines))


def _machine_page(
    request: Request, db: Session, actor: Actor, device_id: int, error: AppError | None = None
) -> Response:
    device = devices.get_device(db, actor, device_id)
    queue = service.machine_queue(db, actor, device_id)
    return render(
        request,
        "production/machine.html",
        _ctx(request, actor, device=device, queue=queue, error=error),
        status=error.status if error else 200,
    )


@router.get("/production/machines/{device_id}")
def machine_page(
    request: Request, device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)
) -> Response:
    return _machine_page(request, db, actor, device_id)


async def _report_action(request: Request, db: Session, actor: Actor, run: Any, device_id: int | None) -> Response:
    back = f"/production/machines/{device_id}" if device_id else "/production/machines"
    try:
        msg = run()
        return _back(back, msg)
    except (NotFound, Forbidden):
        raise
    except AppError as exc:
        db.rollback()
        if device_id is None:
            raise
        return _machine_page(request, db, actor, device_id, exc)


@router.post("/production/operations/{wo_op_id}/start")
async def op_start(
    request: Request, wo_op_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> Response:
    service.get_operation(db, actor, wo_op_id)
    form = await FormState.read(request, actor)
    device_id = _int(form.get("device_id") or "0", "device_id")
    devices.get_device(db, actor, device_id)

    def run() -> str:
        service.start_operation(db, actor, wo_op_id, device_id)
        return "started"

    return await _report_action(request, db, actor, run, device_id)


@router.post("/production/reports/{op_report_id}/pause")
async def report_pause(
    request: Request, op_report_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> Response:
    r = service.get_report(db, actor, op_report_id)

    def run() -> str:
        service.pause_report(db, actor, op_report_id)
        return "paused"

    return await _report_action(request, db, actor, run, r.device_id)


@router.post("/production/reports/{op_report_id}/resume")
async def report_resume(
    request: Request, op_report_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> Response:
    r = service.get_report(db, actor, op_report_id)

    def run() -> str:
        service.resume_report(db, actor, op_report_id)
        return "resumed"

    return await _report_action(request, db, actor, run, r.device_id)


@router.post("/production/reports/{op_report_id}/finish")
async def report_finish(
    request: Request, op_report_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_REPORT)
) -> Response:
    r = service.get_report(db, actor, op_report_id)
    form = await FormState.read(request, actor)
    device_id = r.device_id

    def run() -> str:
        good = _int(form.get("good"), "good") if form.get("good") else None
        reject = _int(form.get("reject"), "reject") if form.get("reject") else None
        service.finish_report(db, actor, op_report_id, good, reject)
        return "finished"

    return await _report_action(request, db, actor, run, device_id)


# ---------------------------------------------------------------- lots


@router.get("/production/lots")
def lots_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)) -> Response:
    q = request.query_params.get("q") or None
    return render(
        request, "production/lots.html", _ctx(request, actor, lots=service.list_lots(db, actor, q), q=q or "")
    )


# ---------------------------------------------------------------- import and export


@router.get("/production/import")
def import_page(request: Request, actor: Actor = requires(PRODUCTION_MANAGE)) -> Response:
    return render(request, "production/import.html", _ctx(request, actor, columns=imports.COLUMNS, report=None))


@router.post("/production/import")
async def import_upload(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_MANAGE)
) -> Response:
    form = await FormState.read(request, actor, files=("file",))
    upload = form.upload("file")
    report = None
    if upload is None:
        form.errors["file"] = gettext(N_("Choose a CSV or Excel file."))
    else:
        try:
            report = imports.import_file(db, actor, form.get("kind"), upload.filename, upload.data)
            form.clear_staged()
        except AppError as exc:
            _refused(db, form, exc)
    return render(
        request,
        "production/import.html",
        _ctx(request, actor, columns=imports.COLUMNS, report=report, form=form),
        status=200 if report is not None else form.status,
    )


def _xlsx(name: str, content: bytes) -> Response:
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _export(kind: str, rows: list[list[Any]]) -> bytes:
    cols = imports.COLUMNS[kind]
    wb = excel.workbook()
    excel.write_table(excel.sheet(wb, kind), [zh for _k, zh in cols], rows, header_rows=[[k for k, _zh in cols]])
    return excel.to_bytes(wb)


@router.get("/production/items.xlsx")
def items_export(db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)) -> Response:
    rows: list[list[Any]] = [
        [i.code, i.name, i.unit, i.family, i.kind] for i in service.list_items(db, actor, limit=100_000)
    ]
    return _xlsx("items.xlsx", _export("items", rows))


@router.get("/production/routings.xlsx")
def routings_export(db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)) -> Response:
    names = {d.id: d.uid for d in devices.list_devices(db, actor)}
    rows: list[list[Any]] = [
        [i.code, o.seq, o.name, names.get(m.device_id, str(m.device_id)), m.cycle_s, o.setup_s]
        for i in service.list_items(db, actor, kind="product", limit=100_000)
        for o in i.operations
        for m in o.machines
    ]
    return _xlsx("routings.xlsx", _export("routings", rows))


@router.get("/production/work-orders.xlsx")
def work_orders_export(db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_READ)) -> Response:
    rows: list[list[Any]] = [
        [w.number, w.item.code, w.quantity, w.due_date, w.priority, w.note]
        for w in service.list_work_orders(db, actor, limit=100_000)
    ]
    return _xlsx("work-orders.xlsx", _export("work_orders", rows))


# ---------------------------------------------------------------- government


@router.get("/gov/production")
def gov_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(PRODUCTION_CLUSTER)) -> Response:
    return render(
        request, "production/gov.html", {"rows": service.cluster_summary(db, actor), "min_group": service.MIN_GROUP}
    )
