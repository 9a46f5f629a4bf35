"""JSON API of the devices context: telemetry ingest (device token) and the registry, data and alarms
(user sessions / API tokens)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import orjson  # parses and writes the large batches several times faster than the standard library
from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from chaoyun.db import get_db, get_sessionmaker
from chaoyun.devices import alarms, ingest, service
from chaoyun.devices.models import Alarm, AlarmRule, Device
from chaoyun.devices.permissions import ALARMS_ACK, DEVICES_MANAGE, DEVICES_READ
from chaoyun.devices.schemas import (
    CredentialsOut,
    DeviceCreated,
    DeviceIn,
    DeviceOut,
    DeviceUpdate,
    MetricOut,
    ModelOut,
    RetentionIn,
    RuleIn,
)
from chaoyun.errors import Invalid, Unauthorized
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor, Permission
from chaoyun.web.deps import Requires, requires
from chaoyun.web.params import DbId
from chaoyun.web.ratelimit import rate_limit

router = APIRouter(prefix="/api/v1", tags=["devices"])


class DeviceTokenRoute(Requires):
    """Declares ``POST /api/v1/telemetry`` public for the *user* permission mechanism.

    Devices are not users: they authenticate with their own access token (``Authorization: Bearer`` or
    ``X-Device-Token``), checked inside the route against ``devices.token_hash``. The generic ``public()``
    dependency cannot be used because it would try the bearer value as a user API token and refuse it;
    this declaration skips user authentication (and CSRF, which does not apply to a header credential)
    while still telling the route-table test that the route is deliberately public.
    """

    def __init__(self) -> None:
        super().__init__(Permission.PUBLIC)

    def __call__(self) -> None:  # type: ignore[override]
        return None


def _device_token(request: Request) -> str:
    tok = request.headers.get("x-device-token", "")
    if tok:
        return tok.strip()
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return ""


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def _ingest_http(raw_token: str, body: bytes) -> Response:
    lim = ingest.limits()
    with get_sessionmaker()() as db:
        device = ingest.authenticate_token(db, raw_token)
        if len(body) > lim.max_body_bytes:
            r = ingest.log_rejection(
                db, device, "http", "too_large", f"{len(body)} bytes", points="?", max=lim.max_points
            )
            return Response(
                _dumps({"accepted": 0, "rejected_count": 1, "rejected": [r.as_dict()]}),
                413,
                media_type="application/json",
            )
        try:
            payload = ingest.parse_payload(body)
        except ingest.PayloadError as exc:
            r = ingest.log_rejection(db, device, "http", exc.code, body[:500].decode("utf-8", "replace"), **exc.params)
            return Response(
                _dumps({"accepted": 0, "rejected_count": 1, "rejected": [r.as_dict()]}),
                400 if exc.code == "bad_json" else 422,
                media_type="application/json",
            )
        result = ingest.ingest(db, device, payload, "http")
    status = 200
    if result.accepted == 0 and result.rejected_count:
        status = 413 if result.rejected and result.rejected[0].code == "too_large" else 422
    return Response(_dumps(result.as_dict()), status, media_type="application/json")


@router.post(
    "/telemetry",
    summary="Send telemetry (device access token)",
    responses={
        401: {"description": "unknown token"},
        413: {"description": "too large"},
        429: {"description": "rate limited (Retry-After)"},
    },
)
async def post_telemetry(
    request: Request,
    _declared: None = Depends(DeviceTokenRoute()),
    # Per device token, then per client address (a gateway posting for many devices; random-token floods).
    _per_token: None = Depends(rate_limit("ingest", per_minute=600, burst=600, key="token")),
    _per_address: None = Depends(rate_limit("ingest-address", per_minute=12000, burst=2000, key="address")),
) -> Response:
    """Body: ``{"metric": value, ...}``, ``{"ts": epoch_ms, "values": {...}}`` or a list of these. The answer
    counts accepted points and lists each rejected one with its reason in Chinese and English."""
    raw = _device_token(request)
    if not raw:
        raise Unauthorized(N_("Send the device token as “Authorization: Bearer …” or “X-Device-Token”."))
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > ingest.limits().max_body_bytes * 4:
        # Far too big to even read: refuse before buffering it.
        return JSONResponse({"accepted": 0, "rejected_count": 1, "rejected": []}, status_code=413)
    body = await request.body()
    return await anyio.to_thread.run_sync(_ingest_http, raw, body)


# ---------------------------------------------------------------- registry


def device_out(d: Device, st: service.DeviceStatus | None) -> DeviceOut:
    return DeviceOut(
        id=d.id,
        org_id=d.org_id,
        uid=d.uid,
        name=d.name,
        model=d.model.key,
        workshop=d.workshop,
        line=d.line,
        serial=d.serial,
        enabled=d.enabled,
        status=st.status if st else "offline",
        last_seen=st.last_seen if st else None,
        created_at=d.created_at,
    )


@router.get("/device-models", response_model=list[ModelOut])
def list_models(db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> list[ModelOut]:
    return [
        ModelOut(
            key=m.key,
            name_zh=m.name_zh,
            name_en=m.name_en,
            category=m.category,
            ideal_cycle_s=m.ideal_cycle_s,
            metrics=[
                MetricOut(
                    key=x.key,
                    name_zh=x.name_zh,
                    name_en=x.name_en,
                    unit=x.unit,
                    type=x.type,
                    min=x.min_value,
                    max=x.max_value,
                    writable=x.writable,
                    role=x.role,
                )
                for x in m.metrics
            ],
        )
        for m in service.list_models(db, actor)
    ]


@router.get("/devices", response_model=list[DeviceOut])
def list_devices(
    q: str | None = Query(None, max_length=100),
    workshop: str | None = Query(None, max_length=100),
    db: Session = Depends(get_db),
    actor: Actor = requires(DEVICES_READ),
) -> list[DeviceOut]:
    devices = service.list_devices(db, actor, q=q, workshop=workshop)
    sts = service.statuses(devices)
    return [device_out(d, sts.get(d.id)) for d in devices]


@router.post("/devices", response_model=DeviceCreated, status_code=201)
def create_device(
    body: DeviceIn, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> DeviceCreated:
    device, creds = service.create_device(db, actor, body)
    return DeviceCreated(
        device=device_out(device, None),
        credentials=CredentialsOut(
            device_id=device.id,
            uid=device.uid,
            token=creds.token,
            mqtt_username=device.uid,
            mqtt_password=creds.mqtt_password,
        ),
    )


@router.post("/devices/provision")
async def provision(
    file: UploadFile = File(...), db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> dict[str, Any]:
    """CSV or Excel with a header row (name, model, workshop, line, serial[, uid]); per-row report."""
    content = await file.read()
    report = await anyio.to_thread.run_sync(service.provision, db, actor, file.filename or "devices.csv", content)
    return {
        "created": report.created,
        "failed": report.failed,
        "rows": [r.__dict__ for r in report.rows],
    }


@router.get("/devices/{device_id}", response_model=DeviceOut)
def get_device(device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> DeviceOut:
    d = service.get_device(db, actor, device_id)
    return device_out(d, service.statuses([d]).get(d.id))


@router.patch("/devices/{device_id}", response_model=DeviceOut)
def update_device(
    device_id: DbId, body: DeviceUpdate, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> DeviceOut:
    d = service.update_device(db, actor, device_id, body)
    return device_out(d, service.statuses([d]).get(d.id))


@router.delete("/devices/{device_id}", status_code=204)
def delete_device(device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)) -> Response:
    service.delete_device(db, actor, device_id)
    return Response(status_code=204)


@router.post("/devices/{device_id}/credentials", response_model=CredentialsOut)
def rotate(device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)) -> CredentialsOut:
    creds = service.rotate_credentials(db, actor, device_id)
    d = service.get_device(db, actor, device_id)
    return CredentialsOut(
        device_id=d.id, uid=d.uid, token=creds.token, mqtt_username=d.uid, mqtt_password=creds.mqtt_password
    )


# ---------------------------------------------------------------- data


@router.get("/devices/{device_id}/latest")
def latest(device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> dict[str, Any]:
    d = service.get_device(db, actor, device_id)
    from chaoyun.devices.store import get_store

    values = get_store().latest(d.id)
    st = service.statuses([d])[d.id]
    return {
        "device_id": d.id,
        "status": st.status,
        "last_seen": st.last_seen,
        "values": {k: {"ts": v.ts, "value": v.display} for k, v in values.items()},
    }


def _parse_time(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(N_("Give times as ISO 8601, e.g. 2026-01-31T08:00:00+08:00."), field="start") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@router.get("/devices/{device_id}/series")
def series(
    device_id: DbId,
    metric: str | None = Query(None, max_length=64),
    start: str | None = Query(None, max_length=40),
    end: str | None = Query(None, max_length=40),
    buckets: int = Query(1000, ge=0, le=10000),
    agg: str = Query("avg", pattern="^(avg|min|max|sum|count|last|first)$"),
    db: Session = Depends(get_db),
    actor: Actor = requires(DEVICES_READ),
) -> dict[str, Any]:
    """One metric over [start, end) (default: the last 24 h), downsampled to ``buckets`` (0 = raw points)."""
    d = service.get_device(db, actor, device_id)
    if metric is None:  # default: the model's first numeric metric
        metric = next((m.key for m in d.model.metrics if m.type == "numeric"), "")
    now = datetime.now(UTC)
    t1 = _parse_time(end, now)
    t0 = _parse_time(start, t1 - timedelta(hours=24))
    if service.metric_by_key(d.model, metric) is None:
        raise Invalid(N_("Unknown metric “%(metric)s” for this device's model."), field="metric", metric=metric)
    from chaoyun.devices.store import get_store

    pts = get_store().query(d.id, metric, t0, t1, buckets or None, agg)
    return {"metric": metric, "agg": agg, "points": [[int(p.ts.timestamp() * 1000), p.value, p.count] for p in pts]}


@router.get("/devices/{device_id}/export")
def export(
    device_id: DbId,
    start: str | None = Query(None, max_length=40),
    end: str | None = Query(None, max_length=40),
    metrics: str = Query("", max_length=2000),
    format: str = Query("csv", pattern="^(csv|xlsx)$"),
    db: Session = Depends(get_db),
    actor: Actor = requires(DEVICES_READ),
) -> Response:
    now = datetime.now(UTC)
    t1 = _parse_time(end, now)
    t0 = _parse_time(start, t1 - timedelta(hours=24))
    keys = [k for k in metrics.split(",") if k]
    data, ctype = service.export_range(db, actor, device_id, keys, t0, t1, format)
    return Response(
        data, media_type=ctype, headers={"Content-Disposition": f'attachment; filename="device-{device_id}.{format}"'}
    )


@router.get("/devices/{device_id}/rejections")
def rejections(
    device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)
) -> list[dict[str, Any]]:
    return [
        {
            "ts": r.ts,
            "source": r.source,
            "index": r.entry,
            "metric": r.metric,
            "code": r.code,
            "message_zh": r.message_zh,
            "message_en": r.message_en,
        }
        for r in service.rejections(db, actor, device_id)
    ]


@router.put("/telemetry-retention")
def set_retention(
    body: RetentionIn, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)
) -> dict[str, int]:
    return {"days": service.set_retention(db, actor, body.days)}


# ---------------------------------------------------------------- alarms


def alarm_out(a: Alarm) -> dict[str, Any]:
    out: dict[str, Any] = alarms.alarm_payload(a, "")["alarm"]
    return out


@router.get("/alarms")
def list_alarms(
    status: str | None = Query(None, pattern="^(open|active|acknowledged|cleared)$"),
    severity: str | None = Query(None, pattern="^(critical|major|minor|warning)$"),
    db: Session = Depends(get_db),
    actor: Actor = requires(DEVICES_READ),
) -> list[dict[str, Any]]:
    return [alarm_out(a) for a in alarms.list_alarms(db, actor, status=status, severity=severity)]


@router.post("/alarms/{alarm_id}/ack")
def ack(alarm_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(ALARMS_ACK)) -> dict[str, Any]:
    return alarm_out(alarms.acknowledge(db, actor, alarm_id))


@router.post("/alarms/{alarm_id}/clear")
def clear(alarm_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(ALARMS_ACK)) -> dict[str, Any]:
    return alarm_out(alarms.clear(db, actor, alarm_id))


def rule_out(r: AlarmRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "kind": r.kind,
        "metric": r.metric,
        "severity": r.severity,
        "params": r.params,
        "device_id": r.device_id,
        "model_id": r.model_id,
        "enabled": r.enabled,
    }


@router.get("/alarm-rules")
def list_rules(db: Session = Depends(get_db), actor: Actor = requires(DEVICES_READ)) -> list[dict[str, Any]]:
    return [rule_out(r) for r in alarms.list_rules(db, actor)]


@router.post("/alarm-rules", status_code=201)
def create_rule(body: RuleIn, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)) -> dict[str, Any]:
    return rule_out(alarms.create_rule(db, actor, body))


@router.delete("/alarm-rules/{rule_id}", status_code=204)
def delete_rule(rule_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(DEVICES_MANAGE)) -> Response:
    alarms.delete_rule(db, actor, rule_id)
    return Response(status_code=204)
