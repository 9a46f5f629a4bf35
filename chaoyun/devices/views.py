"""Pages of the devices context: device list with live status, device page (live SSE chart + history with
zoom), workshop tiles, provisioning, alarms (rules, webhooks), rejection log, government cluster view."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import anyio
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from chaoyun import i18n
from chaoyun.db import get_db
from chaoyun.devices import alarms, service
from chaoyun.devices.connectors import device_certs
from chaoyun.devices.models import Device
from chaoyun.devices.permissions import ALARMS_ACK, DEVICES_CLUSTER, DEVICES_MANAGE, DEVICES_READ
from chaoyun.devices.schemas import DeviceIn, RuleIn, WebhookIn
from chaoyun.devices.store import get_store
from chaoyun.errors import AppError, Invalid
from chaoyun.i18n import N_, gettext
from chaoyun.identity import audit
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.timefmt import format_time
from chaoyun.web import excel, lists, nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import render
from chaoyun.web.validation import field_errors

router = APIRouter(include_in_schema=False)

nav.register(
    nav.NavItem("enterprise", N_("Devices"), "/devices", DEVICES_READ, 20, group="devices"),
    nav.NavItem("enterprise", N_("Workshop"), "/workshop", DEVICES_READ, 21, group="devices"),
    nav.NavItem("enterprise", N_("Alarms"), "/alarms", DEVICES_READ, 22, group="devices"),
    nav.NavItem("government", N_("Equipment online"), "/gov/devices", DEVICES_CLUSTER, 30, group="devices"),
)

FLASH = {
    "created": N_("Device registered."),
    "deleted": N_("Device deleted."),
    "acked": N_("Alarm acknowledged."),
    "acked_many": N_("The selected alarms are acknowledged."),
    "cleared": N_("Alarm cleared."),
    "rule": N_("Alarm rule saved."),
    "rule_deleted": N_("Alarm rule deleted."),
    "webhook": N_("Webhook saved."),
    "webhook_deleted": N_("Webhook deleted."),
    "retention": N_("Retention saved."),
    "saved": N_("Saved."),
    "cert_revoked": N_(
        "Certificate revoked. Regenerate the broker configuration (chaoyun broker-config) and reload "
        "the broker so that it refuses the certificate."
    ),
}
STATUS_COLOURS = {
    "running": "success",
    "idle": "warning",
    "down": "danger",
    "offline": "secondary",
    "unknown": "info",
}


def _flash(request: Request) -> str | None:
    return FLASH.get(request.query_params.get("msg", ""))


def _metric_name(m: Any, locale: str) -> str:
    return str(m.name_en if locale == "en" else m.name_zh)


# ---------------------------------------------------------------- home panels


def _enterprise_panel(db: Session, actor: Actor) -> dict[str, Any]:
    counts = service.summary(db, actor)
    open_alarms = len(alarms.list_alarms(db, actor, status="open", limit=1000))
    return {"counts": counts, "open_alarms": open_alarms}


def _government_panel(db: Session, actor: Actor) -> dict[str, Any]:
    district = actor.district if actor.role == Role.DISTRICT_OFFICER else None
    rows = service.device_counts_by_district(db, district)
    return {"total": sum(r[2] for r in rows), "online": sum(r[3] for r in rows)}


def _alarms_todo(db: Session, actor: Actor) -> list[nav.Todo]:
    if actor.audience != "enterprise" or not actor.has(ALARMS_ACK):
        return []
    n = len(alarms.list_alarms(db, actor, status="active", limit=10_000))
    return [nav.Todo(N_("Alarms to acknowledge"), n, "/alarms?status=active", 5)]


nav.register_todo("devices", _alarms_todo)
nav.register_panel(nav.HomePanel("enterprise", "devices/panel_enterprise.html", DEVICES_READ, _enterprise_panel, 10))
nav.register_panel(nav.HomePanel("government", "devices/panel_government.html", DEVICES_CLUSTER, _government_panel, 10))


# ---------------------------------------------------------------- device list


DEVICE_SORTS = ("name", "model", "workshop", "line", "uid", "status", "last_seen")


def _device_rows(db: Session, actor: Actor, request: Request) -> tuple[list[Device], dict[int, Any]]:
    """The devices the filters pick (all of them, scoped by the service) and their live statuses."""
    q = (request.query_params.get("q") or "").strip()[:100] or None
    workshop = request.query_params.get("workshop") or None
    devices = service.list_devices(db, actor, q=q, workshop=workshop)
    return devices, service.statuses(devices)


def _list_ctx(db: Session, actor: Actor, request: Request) -> dict[str, Any]:
    devices, sts = _device_rows(db, actor, request)
    locale = request.state.locale
    sort_keys: dict[str, Any] = {
        "name": lambda d: d.name,
        "model": lambda d: _metric_name(d.model, locale),
        "workshop": lambda d: d.workshop,
        "line": lambda d: d.line,
        "uid": lambda d: d.uid,
        "status": lambda d: sts[d.id].status,
        "last_seen": lambda d: sts[d.id].last_seen,
    }
    lp = lists.params(request, DEVICE_SORTS, "workshop")
    pg = lists.paginate_rows(devices, lp, sort_keys)  # the service already searched name, id and serial
    workshops = sorted({d.workshop for d in service.list_devices(db, actor)} - {""})
    return {
        "devices": pg.items,
        "pg": pg,
        "statuses": sts,
        "colours": STATUS_COLOURS,
        "workshops": workshops,
        "q": lp.q,
        "workshop": request.query_params.get("workshop") or "",
        "can_manage": actor.has(DEVICES_MANAGE) and actor.audience == "enterprise",
    }


@router.get("/devices")
def device_list(request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> Response:
    ctx = _list_ctx(db, actor, request)
    ctx["flash"] = _flash(request)
    return render(request, "devices/list.html", ctx)


@router.get("/devices.xlsx")
def device_export(request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> Response:
    """The device list as Excel, with the filters of the page (search, workshop)."""
    devices, sts = _device_rows(db, actor, request)
    locale = request.state.locale
    heads = (
        N_("Name"),
        N_("Model"),
        N_("Workshop"),
        N_("Line"),
        N_("Serial number"),
        N_("Device id"),
        N_("Status"),
        N_("Last data"),
    )
    rows = (
        [
            d.name,
            _metric_name(d.model, locale),
            d.workshop,
            d.line,
            d.serial,
            d.uid,
            gettext(sts[d.id].status),
            sts[d.id].last_seen,
        ]
        for d in devices
    )
    data = excel.table_xlsx(gettext("Devices"), [gettext(h) for h in heads], rows)
    audit.record_by(db, actor, "export", "devices", "", None, {"rows": len(devices)})
    db.commit()
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="devices.xlsx"'},
    )


@router.get("/devices/table")
def device_table(request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> Response:
    """The list's table alone: htmx refreshes it every few seconds (live status)."""
    return render(request, "devices/_table.html", _list_ctx(db, actor, request))


@router.get("/devices/new")
def device_new(request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)) -> Response:
    return render(request, "devices/new.html", {"models": service.list_models(db, actor), "values": {}, "errors": {}})


@router.post("/devices/new")
def device_create(
    request: Request,
    name: str = Form("", max_length=100),
    model: str = Form("", max_length=100),
    workshop: str = Form("", max_length=100),
    line: str = Form("", max_length=100),
    serial: str = Form("", max_length=100),
    db: Session = Depends(get_db),
    actor: Actor = requires(DEVICES_MANAGE),
) -> Response:
    values = {"name": name, "model": model, "workshop": workshop, "line": line, "serial": serial}
    errors: dict[str, str] = {}
    error: AppError | None = None
    try:
        data = DeviceIn(**values)
        device, creds = service.create_device(db, actor, data)
    except ValidationError as exc:
        for fe in field_errors(exc.errors()):
            errors[fe["field"]] = fe["message_en"] if request.state.locale == "en" else fe["message_zh"]
        error = AppError(N_("Some fields are invalid; nothing was saved."))
    except AppError as exc:
        error = exc
        if exc.field:
            errors[exc.field] = exc.message()
    else:
        return render(request, "devices/credentials.html", {"device": device, "creds": creds, "new": True})
    return render(
        request,
        "devices/new.html",
        {"models": service.list_models(db, actor), "values": values, "errors": errors, "error": error},
        status=422,
    )


@router.get("/devices/provision")
def provision_page(request: Request, actor: Actor = requires(DEVICES_MANAGE)) -> Response:
    return render(request, "devices/provision.html", {"report": None})


@router.post("/devices/provision")
async def provision_upload(
    request: Request,
    file: UploadFile = File(...),
    db: Session = Depends(get_db),
    actor: Actor = requires(DEVICES_MANAGE),
) -> Response:
    content = await file.read()
    try:
        report = await anyio.to_thread.run_sync(service.provision, db, actor, file.filename or "devices.csv", content)
    except AppError as exc:
        return render(request, "devices/provision.html", {"report": None, "error": exc}, status=422)
    return render(request, "devices/provision.html", {"report": report})


@router.get("/devices/provision/template.csv")
def provision_template(actor: Actor = requires(DEVICES_MANAGE)) -> Response:
    body = "name,model,workshop,line,serial\n1号注塑机,injection_moulding,一车间,A线,SN-0001\n"
    return Response(
        body.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="devices-template.csv"'},
    )


# ---------------------------------------------------------------- device page


@router.get("/devices/{device_id}")
def device_page(
    request: Request, device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)
) -> Response:
    device = service.get_device(db, actor, device_id)
    st = service.statuses([device])[device.id]
    latest = get_store().latest(device.id)
    locale = request.state.locale
    metrics = [
        {
            "key": m.key,
            "name": _metric_name(m, locale),
            "unit": m.unit,
            "type": m.type,
            "role": m.role,
            "writable": m.writable,
            "min": m.min_value,
            "max": m.max_value,
        }
        for m in device.model.metrics
    ]
    return render(
        request,
        "devices/device.html",
        {
            "device": device,
            "status": st,
            "colours": STATUS_COLOURS,
            "latest": latest,
            "metrics": metrics,
            # Process values first (the charts open on the first one), counters last.
            "numeric": sorted(
                (m for m in metrics if m["type"] != "string"),
                key=lambda m: m["role"] in ("cycle_counter", "good_count", "reject_count", "energy", "setpoint"),
            ),
            "writable": [m for m in metrics if m["writable"]],
            "open_alarms": alarms.list_alarms(db, actor, status="open", device_id=device.id, limit=20),
            "can_manage": actor.has(DEVICES_MANAGE) and actor.audience == "enterprise",
            "certificates": _certificates(db, actor, device.id),
            "flash": _flash(request),
        },
    )


def _certificates(db: Session, actor: Actor, device_id: int) -> list[Any] | None:
    """The device's client certificates (devices/connectors)."""
    return device_certs.list_certificates(db, actor, device_id)[:5]


@router.get("/devices/{device_id}/live")
async def device_live(
    request: Request, device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)
) -> Response:
    """Server-sent events: the device's current values once a second while they change.

    A browser's EventSource asks for ``text/event-stream`` and gets a stream of up to five minutes (it
    reconnects by itself); any other client gets one snapshot event and the response ends."""
    device = service.get_device(db, actor, device_id)
    dev_id = device.id
    keys = {m.id: m.key for m in device.model.metrics}
    streaming = "text/event-stream" in request.headers.get("accept", "")

    def snapshot() -> dict[str, Any]:
        rows = get_store().latest_rows([dev_id]).get(dev_id, {})
        seen = rows.get(0)
        values = {keys[m]: [int(v.ts.timestamp() * 1000), v.display] for m, v in rows.items() if m in keys}
        st = service.statuses([device])[dev_id]
        return {
            "values": values,
            "status": st.status,
            "last_seen": seen.ts.isoformat() if seen else None,
            "last_seen_text": format_time(seen.ts, seconds=True) if seen else None,
        }

    async def events() -> Any:
        deadline = time.monotonic() + 300
        last = ""
        yield "retry: 3000\n\n"
        while True:
            snap = await anyio.to_thread.run_sync(snapshot)
            body = json.dumps(snap, ensure_ascii=False, default=str)
            if body != last:
                yield f"data: {body}\n\n"
                last = body
            if not streaming or time.monotonic() > deadline or await request.is_disconnected():
                return
            await asyncio.sleep(1.0)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.post("/devices/{device_id}/credentials")
def device_rotate(
    request: Request, device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> Response:
    creds = service.rotate_credentials(db, actor, device_id)
    device = service.get_device(db, actor, device_id)
    return render(request, "devices/credentials.html", {"device": device, "creds": creds, "new": False})


@router.post("/devices/{device_id}/delete")
def device_delete(device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)) -> Response:
    service.delete_device(db, actor, device_id)
    return RedirectResponse("/devices?msg=deleted", status_code=303)


@router.get("/devices/{device_id}/rejections")
def device_rejections(
    request: Request, device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)
) -> Response:
    device = service.get_device(db, actor, device_id)
    return render(
        request, "devices/rejections.html", {"device": device, "rows": service.rejections(db, actor, device_id)}
    )


# ---------------------------------------------------------------- workshop view


def _tiles_ctx(db: Session, actor: Actor) -> dict[str, Any]:
    devices = service.list_devices(db, actor)
    sts = service.statuses(devices)
    groups: dict[str, list[Device]] = {}
    for d in devices:
        groups.setdefault(d.workshop or "—", []).append(d)
    counts: dict[str, int] = {}
    for s in sts.values():
        counts[s.status] = counts.get(s.status, 0) + 1
    return {"groups": sorted(groups.items()), "statuses": sts, "colours": STATUS_COLOURS, "counts": counts}


@router.get("/workshop")
def workshop(request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> Response:
    return render(request, "devices/workshop.html", _tiles_ctx(db, actor))


@router.get("/workshop/tiles")
def workshop_tiles(request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> Response:
    return render(request, "devices/_tiles.html", _tiles_ctx(db, actor))


# ---------------------------------------------------------------- alarms

ALARM_SORTS = ("started", "device", "severity", "status")
SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2, "warning": 3}
SEVERITIES = ("critical", "major", "minor", "warning")
RULE_KINDS = ("threshold", "rate", "offline", "state")


def _alarms_ctx(db: Session, actor: Actor, request: Request) -> dict[str, Any]:
    status = request.query_params.get("status") or "open"
    severity = request.query_params.get("severity") or None
    if status not in ("open", "active", "acknowledged", "cleared", "all"):
        status = "open"
    if severity not in (None, *SEVERITIES):
        severity = None
    rows = alarms.list_alarms(db, actor, status=None if status == "all" else status, severity=severity, limit=5000)
    sort_keys: dict[str, Any] = {
        "started": lambda a: a.started_at,
        "device": lambda a: a.device.name,
        "severity": lambda a: SEVERITY_RANK.get(a.severity, 9),
        "status": lambda a: a.status,
    }
    lp = lists.params(request, ALARM_SORTS, "-started")
    pg = lists.paginate_rows(rows, lp, sort_keys, lambda a: f"{a.device.name} {a.message}")
    return {
        "alarms": pg.items,
        "pg": pg,
        "status": status,
        "severity": severity or "",
        "can_ack": actor.has(ALARMS_ACK),
    }


def _num(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def rule_sentence(rule: Any, target: str, metric: Any | None) -> str:
    """A rule as people read it: “注塑机 3 号 · 料筒温度 > 240 °C 持续 30 秒”."""
    p = rule.params or {}
    locale = i18n.get_locale()
    name = _metric_name(metric, locale) if metric is not None else (rule.metric or "")
    unit = f" {metric.unit}" if metric is not None and metric.unit else ""
    parts: list[str]
    if rule.kind == "threshold":
        parts = [
            gettext(
                "%(target)s · %(metric)s %(op)s %(value)s%(unit)s",
                target=target,
                metric=name,
                op=p.get("op", ">"),
                value=_num(p.get("value")),
                unit=unit,
            )
        ]
        if p.get("hysteresis"):
            parts.append(gettext("hysteresis %(n)s%(unit)s", n=_num(p["hysteresis"]), unit=unit))
    elif rule.kind == "rate":
        parts = [
            gettext(
                "%(target)s · %(metric)s changes by more than %(value)s%(unit)s a minute",
                target=target,
                metric=name,
                value=_num(p.get("max_per_min")),
                unit=unit,
            )
        ]
    elif rule.kind == "offline":
        return gettext("%(target)s · no data for %(n)s s", target=target, n=_num(p.get("seconds")))
    else:
        states = "/".join(gettext(str(s)) for s in p.get("states") or [])
        parts = [gettext("%(target)s · %(metric)s is %(states)s", target=target, metric=name, states=states)]
        shift = p.get("shift") or {}
        if shift.get("start") and shift.get("end"):
            parts.append(gettext("in the shift %(start)s–%(end)s", start=shift["start"], end=shift["end"]))
    if p.get("duration_s"):
        parts.append(gettext("for %(n)s s", n=_num(p["duration_s"])))
    return " ".join(parts)


def _rule_ctx(db: Session, actor: Actor, request: Request, form: FormState | None = None) -> dict[str, Any]:
    """Everything below the alarm list: rules as sentences, the rule form (with each model's metrics),
    webhooks and retention."""
    locale = request.state.locale
    can_manage = actor.has(DEVICES_MANAGE) and actor.audience == "enterprise"
    models = service.list_models(db, actor)
    devices = service.list_devices(db, actor)
    by_model = {m.id: m for m in models}
    by_device = {d.id: d for d in devices}
    rules = []
    for r in alarms.list_rules(db, actor):
        device = by_device.get(r.device_id) if r.device_id else None
        model = device.model if device is not None else by_model.get(r.model_id or 0)
        if device is not None:
            target = device.name
        elif model is not None:
            target = gettext("every %(model)s", model=_metric_name(model, locale))
        else:
            target = "—"
        metric = next((m for m in model.metrics if m.key == r.metric), None) if model and r.metric else None
        rules.append({"rule": r, "text": rule_sentence(r, target, metric)})
    # Only models the enterprise has devices of are worth offering (all of them when it has none yet).
    used = {d.model_id for d in devices}
    target = form.get("target") if form else ""
    if target.startswith("device:") and target[7:].isdigit() and int(target[7:]) in by_device:
        target_model = by_device[int(target[7:])].model.key
    else:
        target_model = target[6:] if target.startswith("model:") else ""
    return {
        "rules": rules,
        "webhooks": alarms.list_webhooks(db, actor) if can_manage else [],
        "models": [m for m in models if m.id in used] or models,
        "devices": devices,
        "can_manage": can_manage,
        "retention": service.retention_days(db, actor.org_id),
        "form": form,
        "kinds": RULE_KINDS,
        "severities": SEVERITIES,
        "target_model": target_model,
    }


@router.get("/alarms")
def alarms_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> Response:
    ctx = _alarms_ctx(db, actor, request)
    ctx.update(_rule_ctx(db, actor, request))
    ctx["flash"] = _flash(request)
    return render(request, "devices/alarms.html", ctx)


@router.get("/alarms/rows")
def alarm_rows(request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> Response:
    return render(request, "devices/_alarm_rows.html", _alarms_ctx(db, actor, request))


@router.post("/alarms/acknowledge")
async def alarms_ack_many(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(ALARMS_ACK)
) -> Response:
    """Acknowledge the ticked alarms in one go (only the actor's own; any other id answers 404)."""
    form = await request.form()
    ids = [int(v) for v in form.getlist("ids") if isinstance(v, str) and v.isdigit()]
    try:
        n = alarms.acknowledge_many(db, actor, ids)
    except Invalid as exc:
        db.rollback()
        ctx = _alarms_ctx(db, actor, request)
        ctx.update(_rule_ctx(db, actor, request))
        ctx["error"] = exc
        return render(request, "devices/alarms.html", ctx, status=422)
    return RedirectResponse(f"/alarms?msg=acked_many&n={n}", status_code=303)


@router.post("/alarms/{alarm_id}/ack")
def alarm_ack(alarm_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(ALARMS_ACK)) -> Response:
    alarms.acknowledge(db, actor, alarm_id)
    return RedirectResponse("/alarms?msg=acked", status_code=303)


@router.post("/alarms/{alarm_id}/clear")
def alarm_clear(alarm_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(ALARMS_ACK)) -> Response:
    alarms.clear(db, actor, alarm_id)
    return RedirectResponse("/alarms?msg=cleared", status_code=303)


def _rule_params(v: dict[str, str]) -> dict[str, Any]:
    """The parameters of the chosen kind only (the form shows just those fields)."""
    kind = v.get("kind", "threshold")
    if kind == "threshold":
        return {
            "op": "<" if v.get("op") == "<" else ">",
            "value": v.get("value", ""),
            "duration_s": v.get("duration_s") or 0,
            "hysteresis": v.get("hysteresis") or 0,
        }
    if kind == "rate":
        return {"max_per_min": v.get("max_per_min", "")}
    if kind == "offline":
        return {"seconds": v.get("seconds", "")}
    params: dict[str, Any] = {"states": v.get("states") or "fault,off", "duration_s": v.get("duration_s") or 0}
    if v.get("shift_start") and v.get("shift_end"):
        params["shift"] = {"start": v["shift_start"][:5], "end": v["shift_end"][:5]}
    return params


@router.post("/alarms/rules")
async def rule_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> Response:
    """``target`` is ``model:<key>`` or ``device:<id>``; the page comes back with every error beside its field."""
    form = await FormState.read(request, actor)
    v = {k: val[:200] for k, val in form.values.items()}
    target = v.get("target", "")
    kind = v.get("kind", "threshold")
    device_id = int(target[7:]) if target.startswith("device:") and target[7:].isdigit() else None
    data: RuleIn | None = None
    try:
        data = RuleIn(
            name=v.get("name", ""),
            kind=kind,
            metric=(v.get("metric") or None) if kind != "offline" else None,
            severity=v.get("severity", "major"),
            device_id=device_id,
            model=target[6:] if target.startswith("model:") else None,
            params=_rule_params(v),
        )
    except ValidationError as exc:
        for fe in field_errors(exc.errors()):
            form.errors.setdefault(fe["field"], fe["message_en"] if request.state.locale == "en" else fe["message_zh"])
    if data is not None:
        try:
            alarms.create_rule(db, actor, data)
            return RedirectResponse("/alarms?msg=rule", status_code=303)
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    if "model" in form.errors:  # the form calls it “applies to”
        form.errors["target"] = form.errors.pop("model")
    ctx = _alarms_ctx(db, actor, request)
    ctx.update(_rule_ctx(db, actor, request, form))
    return render(request, "devices/alarms.html", ctx, status=form.status)


@router.post("/alarms/rules/{rule_id}/delete")
def rule_delete(rule_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)) -> Response:
    alarms.delete_rule(db, actor, rule_id)
    return RedirectResponse("/alarms?msg=rule_deleted", status_code=303)


@router.post("/alarms/webhooks")
async def webhook_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> Response:
    """Bad input: the alarms page again with the error beside the field and the values kept."""
    form = await FormState.read(request, actor)
    try:
        alarms.create_webhook(db, actor, WebhookIn(name=form.get("name")[:100], url=form.get("url")[:500]))
        return RedirectResponse("/alarms?msg=webhook", status_code=303)
    except ValidationError as exc:
        for fe in field_errors(exc.errors()):
            form.errors.setdefault(fe["field"], fe["message_en"] if request.state.locale == "en" else fe["message_zh"])
        if "url" in form.errors:
            form.errors["url"] = gettext("Give an http(s) URL, e.g. https://example.com/hook.")
    except AppError as exc:
        db.rollback()
        form.fail(exc)
    ctx = _alarms_ctx(db, actor, request)
    ctx.update(_rule_ctx(db, actor, request))
    ctx["webhook_form"] = form
    return render(request, "devices/alarms.html", ctx, status=form.status)


@router.post("/alarms/webhooks/{webhook_id}/delete")
def webhook_delete(
    webhook_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> Response:
    alarms.delete_webhook(db, actor, webhook_id)
    return RedirectResponse("/alarms?msg=webhook_deleted", status_code=303)


@router.post("/alarms/webhooks/{webhook_id}/test")
def webhook_test(
    request: Request, webhook_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> Response:
    ok = alarms.test_webhook(db, actor, webhook_id)
    return render(request, "devices/_webhook_test.html", {"ok": ok})


@router.post("/alarms/retention")
def retention_set(
    days: int = Form(..., ge=1, le=3650), db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> Response:
    service.set_retention(db, actor, days)
    return RedirectResponse("/alarms?msg=retention", status_code=303)


# ---------------------------------------------------------------- government: cluster view


@router.get("/gov/devices")
def gov_devices(request: Request, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_CLUSTER)) -> Response:
    """Aggregates only: devices and devices online by district and industry cluster."""
    district = actor.district if actor.role == Role.DISTRICT_OFFICER else None
    rows = service.device_counts_by_district(db, district)
    by_district: dict[str, list[int]] = {}
    by_cluster: dict[str, list[int]] = {}
    for d, c, total, online in rows:
        a = by_district.setdefault(d, [0, 0])
        a[0] += total
        a[1] += online
        b = by_cluster.setdefault(c, [0, 0])
        b[0] += total
        b[1] += online
    return render(
        request,
        "devices/gov.html",
        {
            "rows": rows,
            "by_district": sorted(by_district.items()),
            "by_cluster": sorted(by_cluster.items(), key=lambda kv: -kv[1][0]),
            "total": sum(r[2] for r in rows),
            "online": sum(r[3] for r in rows),
            "online_s": service.online_seconds(),
        },
    )
