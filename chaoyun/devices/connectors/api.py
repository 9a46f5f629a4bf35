"""JSON API of devices/connectors: gateways, their configuration, write-back commands, and the two
endpoints a gateway itself calls with its own token (configuration fetch, HTTP forwarding)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import get_db, utcnow
from chaoyun.devices.connectors import commands as svc
from chaoyun.devices.connectors import device_certs
from chaoyun.devices.connectors.models import Command, DeviceCertificate, Gateway
from chaoyun.devices.connectors.permissions import COMMANDS_READ, COMMANDS_SEND, GATEWAYS_MANAGE, GATEWAYS_READ
from chaoyun.devices.permissions import DEVICES_MANAGE, DEVICES_READ
from chaoyun.errors import Invalid, Unauthorized
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor, Permission
from chaoyun.web.deps import Requires, requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1", tags=["devices-connectors"])
MAX_GATEWAY_MESSAGES = 5000


class GatewayOut(BaseModel):
    id: int
    org_id: int
    uid: str
    name: str
    mqtt_username: str
    config_version: int
    applied_version: int | None
    last_seen_at: datetime | None
    config: dict[str, Any]


class GatewayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uid: str = Field(min_length=2, max_length=39)
    name: str = Field(min_length=1, max_length=100)
    org_id: int | None = Field(None, ge=1, le=2**31 - 1)


class GatewayCreated(GatewayOut):
    token: str
    mqtt_password: str


class ConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: str = Field(max_length=200_000)


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str = Field(min_length=1, max_length=64)
    value: float | bool | str


class CommandOut(BaseModel):
    id: int
    device_id: int
    metric: str
    value: Any
    status: str
    message: str
    requested_by: str
    created_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None


def gateway_out(gw: Gateway) -> GatewayOut:
    return GatewayOut(
        id=gw.id, org_id=gw.org_id, uid=gw.uid, name=gw.name, mqtt_username=gw.mqtt_username,
        config_version=gw.config_version, applied_version=gw.applied_version, last_seen_at=gw.last_seen_at,
        config=gw.config or {},
    )


def command_out(c: Command) -> CommandOut:
    return CommandOut(
        id=c.id, device_id=c.device_id, metric=c.metric, value=c.value, status=c.status, message=c.message,
        requested_by=c.requested_by, created_at=c.created_at, sent_at=c.sent_at, finished_at=c.finished_at,
    )


@router.get("/gateways", response_model=list[GatewayOut])
def list_gateways(actor: Actor = requires(GATEWAYS_READ), db: Session = Depends(get_db)) -> list[GatewayOut]:
    return [gateway_out(g) for g in svc.list_gateways(db, actor)]


@router.post("/gateways", response_model=GatewayCreated, status_code=201)
def create_gateway(
    body: GatewayIn, actor: Actor = requires(GATEWAYS_MANAGE), db: Session = Depends(get_db)
) -> GatewayCreated:
    gw, token, password = svc.create_gateway(db, actor, body.org_id or actor.org_id, body.uid, body.name)
    return GatewayCreated(**gateway_out(gw).model_dump(), token=token, mqtt_password=password)


@router.get("/gateways/{gateway_id}", response_model=GatewayOut)
def get_gateway(gateway_id: DbId, actor: Actor = requires(GATEWAYS_READ), db: Session = Depends(get_db)) -> GatewayOut:
    return gateway_out(svc.get_gateway(db, actor, gateway_id))


@router.put("/gateways/{gateway_id}/config", response_model=GatewayOut)
def put_config(
    gateway_id: DbId, body: ConfigIn, actor: Actor = requires(GATEWAYS_MANAGE), db: Session = Depends(get_db)
) -> GatewayOut:
    return gateway_out(svc.update_config(db, actor, gateway_id, body.config))


@router.post("/gateways/{gateway_id}/rotate", response_model=GatewayCreated)
def rotate(gateway_id: DbId, actor: Actor = requires(GATEWAYS_MANAGE), db: Session = Depends(get_db)) -> GatewayCreated:
    gw, token, password = svc.rotate_credentials(db, actor, gateway_id)
    return GatewayCreated(**gateway_out(gw).model_dump(), token=token, mqtt_password=password)


@router.post("/devices/{device_id}/commands", response_model=CommandOut, status_code=201)
def send_command(
    device_id: DbId, body: CommandIn, actor: Actor = requires(COMMANDS_SEND), db: Session = Depends(get_db)
) -> CommandOut:
    return command_out(svc.send_command(db, actor, device_id, body.metric, body.value))


@router.get("/devices/{device_id}/commands", response_model=list[CommandOut])
def list_commands(
    device_id: DbId, actor: Actor = requires(COMMANDS_READ), db: Session = Depends(get_db)
) -> list[CommandOut]:
    return [command_out(c) for c in svc.list_commands(db, actor, device_id)]


@router.get("/commands/{command_id}", response_model=CommandOut)
def get_command(command_id: DbId, actor: Actor = requires(COMMANDS_READ), db: Session = Depends(get_db)) -> CommandOut:
    return command_out(svc.get_command(db, actor, command_id))


# ---------------------------------------------------------------- device certificates (MQTT over TLS)


class CertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(default=device_certs.DEFAULT_DAYS, ge=device_certs.MIN_DAYS, le=device_certs.MAX_DAYS)


class CertificateOut(BaseModel):
    id: int
    device_id: int | None
    device_uid: str
    serial: str
    thumbprint: str
    not_after: datetime
    issued_at: datetime
    issued_by: str
    status: str
    revoked_at: datetime | None
    revoke_reason: str


class CertificateIssued(CertificateOut):
    certificate_pem: str
    private_key_pem: str
    ca_pem: str


def certificate_out(c: DeviceCertificate) -> CertificateOut:
    return CertificateOut(
        id=c.id, device_id=c.device_id, device_uid=c.device_uid, serial=c.serial, thumbprint=c.thumbprint,
        not_after=c.not_after, issued_at=c.issued_at, issued_by=c.issued_by, status=c.status,
        revoked_at=c.revoked_at, revoke_reason=c.revoke_reason,
    )


@router.post("/devices/{device_id}/certificate", response_model=CertificateIssued, status_code=201)
def issue_certificate(
    device_id: DbId, body: CertificateIn, actor: Actor = requires(DEVICES_MANAGE), db: Session = Depends(get_db)
) -> CertificateIssued:
    """A new X.509 client certificate (CN = the device uid) and its private key, returned this once only."""
    issued = device_certs.issue_certificate(db, actor, device_id, body.days)
    return CertificateIssued(
        **certificate_out(issued.row).model_dump(), certificate_pem=issued.cert_pem,
        private_key_pem=issued.key_pem, ca_pem=issued.ca_pem,
    )


@router.get("/devices/{device_id}/certificates", response_model=list[CertificateOut])
def list_certificates(
    device_id: DbId, actor: Actor = requires(DEVICES_READ), db: Session = Depends(get_db)
) -> list[CertificateOut]:
    return [certificate_out(c) for c in device_certs.list_certificates(db, actor, device_id)]


@router.post("/devices/{device_id}/certificate/revoke", response_model=CertificateOut)
def revoke_certificate(
    device_id: DbId, actor: Actor = requires(DEVICES_MANAGE), db: Session = Depends(get_db)
) -> CertificateOut:
    return certificate_out(device_certs.revoke_certificate(db, actor, device_id))


# ---------------------------------------------------------------- called by gateways (gateway token)


class GatewayTokenRoute(Requires):
    """Declares the gateway endpoints public for the *user* permission mechanism: gateways are not users and
    authenticate with their own token (``Authorization: Bearer``), checked inside the route. The generic
    ``public()`` would try the bearer value as a user API token and refuse it."""

    def __init__(self) -> None:
        super().__init__(Permission.PUBLIC)

    def __call__(self) -> None:  # type: ignore[override]
        return None


def gateway_route() -> Any:
    return Depends(GatewayTokenRoute())


def _gateway(request: Request, db: Session) -> Gateway:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise Unauthorized(N_("Send the gateway token as a Bearer token."))
    gw = svc.authenticate_gateway(db, auth[7:].strip())
    gw.last_seen_at = utcnow()
    return gw


@router.get("/gateway/config")
def gateway_config(request: Request, _: Any = gateway_route(), db: Session = Depends(get_db)) -> dict[str, Any]:
    """The pushed configuration of the calling gateway (its token identifies it)."""
    gw = _gateway(request, db)
    db.commit()
    return svc.pushed_document(gw)


class ForwardedMessage(BaseModel):
    device: str = Field(min_length=1, max_length=40)
    kind: str = "telemetry"
    payload: Any


class ForwardIn(BaseModel):
    messages: list[ForwardedMessage]


@router.post("/gateway/telemetry")
def gateway_telemetry(
    body: ForwardIn, request: Request, _: Any = gateway_route(), db: Session = Depends(get_db)
) -> dict[str, Any]:
    """Store-and-forward over HTTP: messages of the gateway's own devices, stored in one transaction."""
    from chaoyun.devices.ingest import ingest_batch
    from chaoyun.devices.models import Device

    gw = _gateway(request, db)
    if len(body.messages) > MAX_GATEWAY_MESSAGES:
        raise Invalid(N_("At most %(max)s messages per request."), max=MAX_GATEWAY_MESSAGES)
    allowed = set(gw.device_uids())
    uids = {m.device for m in body.messages} & allowed
    devices = {
        d.uid: d
        for d in db.execute(select(Device).where(Device.uid.in_(uids), Device.org_id == gw.org_id)).scalars()
    }
    items = []
    refused: list[str] = []
    results: list[tuple[str, Any]] = []
    for m in body.messages:
        if m.kind == "status" and m.device == gw.uid:
            svc.apply_gateway_status(db, [(gw.uid, m.payload)])
            continue
        dev = devices.get(m.device)
        if dev is None or not dev.enabled:
            refused.append(m.device)
            continue
        if m.kind == "result":
            results.append((m.device, m.payload))
        elif m.kind == "telemetry":
            items.append((dev, m.payload))
    accepted = rejected = 0
    if items:
        for r in ingest_batch(db, items, "gateway"):
            accepted += r.accepted
            rejected += r.rejected_count
    if results:
        svc.apply_results(db, results)
    db.commit()
    return {"accepted": accepted, "rejected": rejected, "refused_devices": sorted(set(refused))}
