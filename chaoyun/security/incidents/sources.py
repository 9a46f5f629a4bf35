"""What an incident gathers from other contexts, read-only: device alarms and devices (devices context), audit
entries (identity context) and the device data around the time (the devices store).

The devices and identity contexts offer no org-wide, actor-less "alarms / audit entries between two times" call
yet (their listing functions are scoped to a person), so this module is the one place in security that selects
from their tables; it never writes to them. When those contexts publish such calls, only this file changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chaoyun.devices.models import Alarm, Device
from chaoyun.devices.profiles.service import profile_for_device
from chaoyun.devices.store import get_store
from chaoyun.errors import NotFound
from chaoyun.identity.models import AuditEntry, User


@dataclass(frozen=True)
class AlarmView:
    id: int
    device_id: int
    device_name: str
    at: datetime
    severity: str
    kind: str
    message: str
    status: str


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    user_id: int | None
    username: str
    action: str
    object_type: str
    object_id: str


@dataclass(frozen=True)
class DeviceView:
    id: int
    org_id: int
    name: str
    host: str


def alarms_between(
    db: Session, org_id: int, start: datetime, end: datetime, device_ids: set[int] | None = None, limit: int = 200
) -> list[AlarmView]:
    q = select(Alarm).where(Alarm.org_id == org_id, Alarm.started_at >= start, Alarm.started_at <= end)
    if device_ids is not None:
        if not device_ids:
            return []
        q = q.where(Alarm.device_id.in_(sorted(device_ids)))
    rows = db.execute(q.order_by(Alarm.started_at).limit(limit)).scalars()
    return [
        AlarmView(a.id, a.device_id, a.device.name, a.started_at, a.severity, a.kind, a.message, a.status) for a in rows
    ]


def audit_between(
    db: Session,
    org_id: int,
    start: datetime,
    end: datetime,
    device_ids: set[int] | None = None,
    limit: int = 200,
) -> list[AuditView]:
    """Entries made by the enterprise's people in the window, and entries of anyone on its devices."""
    cond = [AuditEntry.actor_org_id == org_id]
    if device_ids:
        cond.append((AuditEntry.object_type == "device") & AuditEntry.object_id.in_([str(d) for d in device_ids]))
    q = (
        select(AuditEntry)
        .where(AuditEntry.ts >= start, AuditEntry.ts <= end, or_(*cond))
        .order_by(AuditEntry.ts, AuditEntry.id)
        .limit(limit)
    )
    return [
        AuditView(e.id, e.ts, e.actor_user_id, e.actor_username, e.action, e.object_type, e.object_id)
        for e in db.execute(q).scalars()
    ]


def _host(d: Device) -> str:
    conn: dict[str, Any] = d.connection or {}
    return str(conn.get("host") or conn.get("ip") or "")


def devices_of(db: Session, org_id: int) -> list[DeviceView]:
    rows = db.execute(select(Device).where(Device.org_id == org_id).order_by(Device.id)).scalars()
    return [DeviceView(d.id, d.org_id, d.name, _host(d)) for d in rows]


def device_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {k: v for k, v in db.execute(select(Device.id, Device.name).where(Device.id.in_(sorted(ids)))).all()}


def user_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {k: v for k, v in db.execute(select(User.id, User.display_name).where(User.id.in_(sorted(ids)))).all()}


@dataclass(frozen=True)
class Series:
    device_id: int
    metric: str
    name_zh: str
    name_en: str
    unit: str
    points: list[tuple[datetime, float]]


def device_data(db: Session, device_id: int, start: datetime, end: datetime, max_metrics: int = 4) -> list[Series]:
    """The device's numeric signals in the window (downsampled to 120 points each) from the telemetry store."""
    try:
        profile = profile_for_device(db, device_id)
    except NotFound:  # the device was removed since
        return []
    keys = [(m.key, m.name_zh, m.name_en, m.unit) for m in profile.metrics if m.type == "numeric" and not m.deprecated]
    keys = keys[:max_metrics]
    store = get_store()
    out = []
    for key, zh, en, unit in keys:
        pts = [(b.ts, b.value) for b in store.query(device_id, key, start, end, buckets=120) if b.value is not None]
        if pts:
            out.append(Series(device_id, key, zh, en, unit, pts))
    return out
