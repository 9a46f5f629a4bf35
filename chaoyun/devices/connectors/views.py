"""Pages of devices/connectors: gateways (list, create, configuration pushed to the gateway, credentials)
and the write-back form handler used by the device page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.devices.connectors import commands as svc
from chaoyun.devices.connectors import device_certs
from chaoyun.devices.connectors.permissions import COMMANDS_READ, COMMANDS_SEND, GATEWAYS_MANAGE, GATEWAYS_READ
from chaoyun.devices.permissions import DEVICES_MANAGE
from chaoyun.errors import AppError
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)

nav.register(nav.NavItem("enterprise", N_("Gateways"), "/gateways", GATEWAYS_READ, 35, group="devices"))

EXAMPLE = """devices:
  - uid: press-01            # a device registered on the platform
    protocol: modbus
    host: 192.168.1.20
    port: 502
    unit: 1
    interval_s: 1
    timeout_s: 2
    registers:
      - {metric: mould_temp, table: holding, address: 0, type: float32, word_order: big}
      - {metric: cycle_count, table: input, address: 10, type: uint32}
      - {metric: setpoint, table: holding, address: 20, type: int16, scale: 0.1, writable: true}
  - uid: cnc-01
    protocol: opcua
    url: opc.tcp://192.168.1.30:4840
    security: {policy: Basic256Sha256, mode: SignAndEncrypt, certificate: gw-cert.der, private_key: gw-key.pem}
    username: gateway
    password: "..."
    nodes:
      - {metric: spindle_speed, node_id: "ns=2;s=Spindle.Speed"}
"""


@router.get("/gateways")
def gateways_page(request: Request, actor: Actor = requires(GATEWAYS_READ), db: Session = Depends(get_db)) -> Response:
    return render(request, "connectors/gateways.html", {"gateways": svc.list_gateways(db, actor), "errors": {}})


@router.post("/gateways")
def gateway_create(
    request: Request,
    uid: str = Form(""),
    name: str = Form(""),
    actor: Actor = requires(GATEWAYS_MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    try:
        gw, token, password = svc.create_gateway(db, actor, actor.org_id, uid, name)
    except AppError as exc:
        ctx = {"gateways": svc.list_gateways(db, actor), "errors": {exc.field or "uid": exc.message()},
               "values": {"uid": uid, "name": name}}
        return render(request, "connectors/gateways.html", ctx, status=exc.status)
    return render(request, "connectors/gateway.html", _ctx(gw, {"token": token, "password": password}))


def _ctx(gw: Any, secrets: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {"gw": gw, "secrets": secrets, "errors": errors or {}, "example": EXAMPLE, "config_text": gw.config_text}


@router.get("/gateways/{gateway_id}")
def gateway_page(
    request: Request, gateway_id: DbId, actor: Actor = requires(GATEWAYS_READ), db: Session = Depends(get_db)
) -> Response:
    return render(request, "connectors/gateway.html", _ctx(svc.get_gateway(db, actor, gateway_id)))


@router.post("/gateways/{gateway_id}/config")
def gateway_config(
    request: Request,
    gateway_id: DbId,
    config: str = Form(""),
    actor: Actor = requires(GATEWAYS_MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    try:
        svc.update_config(db, actor, gateway_id, config)
    except AppError as exc:
        if exc.status == 404:
            raise
        gw = svc.get_gateway(db, actor, gateway_id)
        ctx = _ctx(gw, errors={"config": exc.message()})
        ctx["config_text"] = config
        return render(request, "connectors/gateway.html", ctx, status=exc.status)
    return RedirectResponse(f"/gateways/{gateway_id}?saved=1", status_code=303)


@router.post("/gateways/{gateway_id}/rotate")
def gateway_rotate(
    request: Request, gateway_id: DbId, actor: Actor = requires(GATEWAYS_MANAGE), db: Session = Depends(get_db)
) -> Response:
    gw, token, password = svc.rotate_credentials(db, actor, gateway_id)
    return render(request, "connectors/gateway.html", _ctx(gw, {"token": token, "password": password}))


@router.get("/devices/{device_id}/commands")
def commands_partial(
    request: Request, device_id: DbId, actor: Actor = requires(COMMANDS_READ), db: Session = Depends(get_db)
) -> Response:
    """The device's recent commands (htmx fragment for the device page; polls while any is open)."""
    device = svc.get_device(db, actor, device_id)
    template = "connectors/_commands.html" if request.headers.get("hx-request") else "connectors/commands.html"
    return render(request, template, {
        "device": device, "commands": svc.list_commands(db, actor, device_id),
        "writable": svc.writable_metrics(device), "can_send": actor.has(COMMANDS_SEND), "command_error": None,
        "status_labels": svc.STATUS_LABELS,
    })


@router.post("/devices/{device_id}/commands")
def command_send(
    request: Request,
    device_id: DbId,
    metric: str = Form(""),
    value: str = Form(""),
    actor: Actor = requires(COMMANDS_SEND),
    db: Session = Depends(get_db),
) -> Response:
    error = None
    try:
        svc.send_command(db, actor, device_id, metric, value)
    except AppError as exc:
        if exc.status == 404:
            raise
        error = exc.message()
    device = svc.get_device(db, actor, device_id)
    ctx = {"device": device, "commands": svc.list_commands(db, actor, device_id),
           "writable": svc.writable_metrics(device), "can_send": True, "command_error": error,
           "status_labels": svc.STATUS_LABELS}
    if request.headers.get("hx-request"):
        return render(request, "connectors/_commands.html", ctx, status=422 if error else 200)
    if error:
        return render(request, "connectors/commands.html", ctx, status=422)
    return RedirectResponse(f"/devices/{device_id}/commands", status_code=303)


@router.post("/devices/{device_id}/certificate")
def certificate_issue(
    request: Request,
    device_id: DbId,
    days: int = Form(device_certs.DEFAULT_DAYS, ge=device_certs.MIN_DAYS, le=device_certs.MAX_DAYS),
    actor: Actor = requires(DEVICES_MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Issue a client certificate; the page shows the private key and certificate this once (downloads are
    data: links of the page itself, so nothing is kept on the server)."""
    import base64

    issued = device_certs.issue_certificate(db, actor, device_id, days)  # errors: the error page, both languages
    device = svc.get_device(db, actor, device_id)

    def data_uri(text: str) -> str:
        return "data:application/x-pem-file;base64," + base64.b64encode(text.encode()).decode()

    return render(request, "connectors/certificate.html", {
        "device": device, "cert": issued.row, "cert_pem": issued.cert_pem, "key_pem": issued.key_pem,
        "ca_pem": issued.ca_pem,
        "downloads": {
            f"{device.uid}-cert.pem": data_uri(issued.cert_pem),
            f"{device.uid}-key.pem": data_uri(issued.key_pem),
            "chaoyun-device-ca.pem": data_uri(issued.ca_pem),
        },
    })


@router.post("/devices/{device_id}/certificate/revoke")
def certificate_revoke(
    device_id: DbId, actor: Actor = requires(DEVICES_MANAGE), db: Session = Depends(get_db)
) -> Response:
    device_certs.revoke_certificate(db, actor, device_id)
    return RedirectResponse(f"/devices/{device_id}?msg=cert_revoked", status_code=303)
