"""Pages of device profiles: the list (city catalogue and the enterprise's own), a profile (metrics, state,
counters, connector templates), new / edit / import as a YAML or JSON document with errors by line, copy,
export; a device's connection and its generated gateway file."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.devices.connectors.permissions import GATEWAYS_READ
from chaoyun.devices.models import Device
from chaoyun.devices.permissions import DEVICES_MANAGE, DEVICES_READ
from chaoyun.devices.profiles import document as pdoc
from chaoyun.devices.profiles import gateway_config
from chaoyun.devices.profiles import service as svc
from chaoyun.devices.profiles.api import file_response
from chaoyun.devices.profiles.permissions import PROFILES_MANAGE, PROFILES_READ
from chaoyun.errors import AppError, Invalid
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)

nav.register(
    nav.NavItem("enterprise", N_("Device profiles"), "/device-profiles", PROFILES_READ, 23, group="devices"),
    nav.NavItem("government", N_("Device profiles"), "/device-profiles", PROFILES_READ, 31, group="devices"),
)

MAX_UPLOAD = 1_000_000
STARTER = """key: blow_moulding
name_zh: 吹塑机
name_en: Blow moulding machine
category: moulding
ideal_cycle_s: 12
metrics:
  - {key: status, name_zh: 状态码, name_en: Status code, type: enum,
     labels: {"1": {zh: 运行, en: Running}, "2": {zh: 待机, en: Idle}, "3": {zh: 故障, en: Fault},
              "4": {zh: 换模, en: Setup}}}
  - {key: shots, name_zh: 累计模次, name_en: Shot counter, type: number, min: 0, max: 1000000000}
  - {key: rejects, name_zh: 累计废品, name_en: Reject counter, type: number, min: 0, max: 1000000000}
  - {key: parison_temp, name_zh: 型坯温度, name_en: Parison temperature, type: number, unit: °C, min: 0, max: 300,
     precision: 1}
  - {key: parison_temp_sp, name_zh: 型坯温度设定, name_en: Parison temperature setpoint, type: number, unit: °C,
     min: 150, max: 240, writable: true}
  - {key: energy, name_zh: 累计电能, name_en: Energy, type: number, unit: kWh, min: 0, max: 1000000000000}
state: {metric: status, map: {"1": running, "2": idle, "3": down, "4": setup}}
counters: {cycle: shots, reject: rejects}
energy: energy
connectors:
  modbus:
    registers:
      - {metric: status, address: 0, table: holding, type: uint16}
      - {metric: shots, address: 1, table: holding, type: uint32}
      - {metric: rejects, address: 3, table: holding, type: uint16}
      - {metric: parison_temp, address: 4, table: holding, type: int16, scale: 0.1}
      - {metric: parison_temp_sp, address: 5, table: holding, type: int16, scale: 0.1}
      - {metric: energy, address: 6, table: holding, type: uint32, scale: 0.1}
"""


def _problems(exc: AppError) -> list[dict[str, str]]:
    if isinstance(exc, pdoc.ProfileInvalid):
        return exc.lines()
    m = exc.messages()
    return [{"field": exc.field or "", "line": "", "zh": m["zh"], "en": m["en"]}]


@router.get("/device-profiles")
def profiles_page(request: Request, actor: Actor = requires(PROFILES_READ), db: Session = Depends(get_db)) -> Response:
    profiles = svc.list_profiles(db, actor)
    counts = dict(db.execute(select(Device.model_id, func.count()).group_by(Device.model_id)).all())
    if actor.audience == "enterprise":
        counts = dict(
            db.execute(
                select(Device.model_id, func.count()).where(Device.org_id == actor.org_id).group_by(Device.model_id)
            ).all()
        )
    return render(
        request,
        "profiles/list.html",
        {
            "catalogue": [p for p in profiles if p.org_id is None],
            "own": [p for p in profiles if p.org_id is not None],
            "counts": counts,
            "can_manage": actor.has(PROFILES_MANAGE),
        },
    )


def _editor(
    request: Request, text: str, profile: Any = None, problems: list[dict[str, str]] | None = None, status: int = 200
) -> Response:
    return render(
        request, "profiles/edit.html", {"text": text, "profile": profile, "problems": problems or []}, status=status
    )


@router.get("/device-profiles/new")
def profile_new(request: Request, actor: Actor = requires(PROFILES_MANAGE)) -> Response:
    return _editor(request, STARTER)


async def _text(text: str, file: UploadFile | None) -> str:
    if file is not None and file.filename:
        raw = await file.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            raise Invalid(N_("The profile file is larger than 1 MB."), field="file")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid(N_("The profile file must be UTF-8 text (YAML or JSON)."), field="file") from None
    return text


@router.post("/device-profiles/new")
async def profile_create(
    request: Request,
    text: str = Form("", max_length=MAX_UPLOAD),
    catalogue: str = Form(""),
    file: UploadFile | None = File(None),
    actor: Actor = requires(PROFILES_MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    try:
        text = await _text(text, file)
        model = svc.create_profile(db, actor, text, catalogue=bool(catalogue))
    except AppError as exc:
        return _editor(request, text, problems=_problems(exc), status=422)
    return RedirectResponse(f"/device-profiles/{model.id}?saved=1", status_code=303)


@router.get("/device-profiles/{profile_id}")
def profile_page(
    profile_id: DbId, request: Request, actor: Actor = requires(PROFILES_READ), db: Session = Depends(get_db)
) -> Response:
    model = svc.get_profile(db, actor, profile_id)
    doc = pdoc.document(model)
    return render(
        request,
        "profiles/view.html",
        {
            "p": model,
            "doc": doc,
            "roles": svc.roles_of(model),
            "can_write": svc.can_write(actor, model),
            "can_copy": actor.has(PROFILES_MANAGE) and actor.audience == "enterprise",
            "yaml": pdoc.dump(doc),
        },
    )


@router.get("/device-profiles/{profile_id}/edit")
def profile_edit(
    profile_id: DbId, request: Request, actor: Actor = requires(PROFILES_MANAGE), db: Session = Depends(get_db)
) -> Response:
    model = svc.get_profile_for_write(db, actor, profile_id)
    return _editor(request, pdoc.dump(pdoc.document(model)), model)


@router.post("/device-profiles/{profile_id}/edit")
async def profile_update(
    profile_id: DbId,
    request: Request,
    text: str = Form("", max_length=MAX_UPLOAD),
    file: UploadFile | None = File(None),
    actor: Actor = requires(PROFILES_MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    model = svc.get_profile_for_write(db, actor, profile_id)
    try:
        text = await _text(text, file)
        svc.update_profile(db, actor, profile_id, text)
    except AppError as exc:
        return _editor(request, text, model, _problems(exc), status=422)
    return RedirectResponse(f"/device-profiles/{profile_id}?saved=1", status_code=303)


@router.post("/device-profiles/{profile_id}/copy")
def profile_copy(
    profile_id: DbId,
    key: str = Form("", max_length=64),
    actor: Actor = requires(PROFILES_MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    model = svc.copy_profile(db, actor, profile_id, key.strip() or None)
    return RedirectResponse(f"/device-profiles/{model.id}/edit", status_code=303)


@router.post("/device-profiles/{profile_id}/delete")
def profile_delete(
    profile_id: DbId, actor: Actor = requires(PROFILES_MANAGE), db: Session = Depends(get_db)
) -> Response:
    svc.delete_profile(db, actor, profile_id)
    return RedirectResponse("/device-profiles?deleted=1", status_code=303)


@router.get("/device-profiles/{profile_id}/export")
def profile_export(
    profile_id: DbId,
    format: str = Query("yaml", pattern="^(yaml|json)$"),
    actor: Actor = requires(PROFILES_READ),
    db: Session = Depends(get_db),
) -> Response:
    fmt = format
    model = svc.get_profile(db, actor, profile_id)
    return file_response(model.key, svc.export_text(db, actor, profile_id, fmt), fmt)


@router.get("/devices/{device_id}/connection")
def connection_page(
    device_id: DbId, request: Request, actor: Actor = requires(DEVICES_MANAGE), db: Session = Depends(get_db)
) -> Response:
    from chaoyun.devices import service as devices

    device = devices.get_device_for_write(db, actor, device_id)
    return render(
        request, "profiles/connection.html", {"device": device, "values": device.connection or {}, "error": None}
    )


@router.post("/devices/{device_id}/connection")
def connection_save(
    device_id: DbId,
    request: Request,
    gateway: str = Form("", max_length=40),
    protocol: str = Form("modbus", max_length=8),
    host: str = Form("", max_length=200),
    port: str = Form("", max_length=6),
    unit: str = Form("", max_length=4),
    url: str = Form("", max_length=200),
    interval_s: str = Form("", max_length=10),
    actor: Actor = requires(DEVICES_MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    values = {
        "gateway": gateway,
        "protocol": protocol,
        "host": host,
        "port": port,
        "unit": unit,
        "url": url,
        "interval_s": interval_s,
    }
    try:
        svc.set_connection(db, actor, device_id, values)
    except AppError as exc:
        from chaoyun.devices import service as devices

        device = devices.get_device_for_write(db, actor, device_id)
        return render(
            request, "profiles/connection.html", {"device": device, "values": values, "error": exc}, status=422
        )
    return RedirectResponse(f"/devices/{device_id}/connection?saved=1", status_code=303)


@router.get("/devices/{device_id}/gateway.yaml")
def device_gateway_file(
    device_id: DbId, actor: Actor = requires(DEVICES_READ), db: Session = Depends(get_db)
) -> Response:
    return file_response(f"gateway-{device_id}", gateway_config.for_device(db, actor, device_id), "yaml")


@router.get("/gateways/{gateway_id}/generated.yaml")
def gateway_generated_file(
    gateway_id: DbId, actor: Actor = requires(GATEWAYS_READ), db: Session = Depends(get_db)
) -> Response:
    return file_response(f"gateway-{gateway_id}", gateway_config.for_gateway(db, actor, gateway_id), "yaml")
