"""Rules of the devices context: registry, credentials, provisioning, live status, retention, export,
and the functions other contexts call (``activity_by_enterprise``, ``device_counts_by_district``).

Functions take a session and the acting ``Actor``; each commits its change with the audit entry that
describes it. Enterprise users see their own organisation's devices only (others' answer 404);
government roles get aggregates only.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.devices import catalog
from chaoyun.devices.credentials import (
    mosquitto_hash,
    nats_hash,
    new_device_token,
    new_mqtt_password,
    token_hash,
)
from chaoyun.devices.models import (
    AlarmRule,
    Device,
    DeviceModel,
    MetricDef,
    RejectedMessage,
    TelemetryRetention,
)
from chaoyun.devices.permissions import DEVICES_MANAGE
from chaoyun.devices.schemas import DeviceIn, DeviceUpdate
from chaoyun.devices.store import from_ms, get_store, to_ms
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.settings import env
from chaoyun.web import excel


def online_seconds() -> int:
    return int(env("DEVICE_ONLINE_S"))


def default_retention_days() -> int:
    return int(env("TELEMETRY_RETENTION_DAYS"))


# ---------------------------------------------------------------- scope


def device_scope(actor: Actor) -> ColumnElement[bool]:
    """SQL filter over ``Device``: platform admins see all, enterprise users their own, others none."""
    if actor.role == Role.PLATFORM_ADMIN:
        return true()
    if actor.audience == "enterprise":
        return Device.org_id == actor.org_id
    return false()


def get_device(db: Session, actor: Actor, device_id: int) -> Device:
    device = db.execute(select(Device).where(Device.id == device_id, device_scope(actor))).scalar_one_or_none()
    if device is None:
        raise NotFound(N_("No such device, or it is not yours to see."))
    return device


def get_device_for_write(db: Session, actor: Actor, device_id: int) -> Device:
    device = get_device(db, actor, device_id)
    if not actor.has(DEVICES_MANAGE):
        raise Forbidden(N_("Your role may not change devices."))
    return device


def _target_org(actor: Actor, org_id: int | None) -> int:
    if not actor.has(DEVICES_MANAGE):
        raise Forbidden(N_("Your role may not change devices."))
    if actor.role == Role.PLATFORM_ADMIN and org_id is not None:
        return org_id
    if actor.audience != "enterprise":
        raise Forbidden(N_("Only enterprises register devices."))
    return actor.org_id


# ---------------------------------------------------------------- models


def ensure_catalog(db: Session) -> None:
    if catalog.sync_models(db):
        db.commit()
        from chaoyun.devices.store import forget_metric_cache

        forget_metric_cache()


def list_models(db: Session, actor: Actor | None = None) -> list[DeviceModel]:
    """Device models (profiles); with an actor, those it may use: the city catalogue and its own."""
    stmt = select(DeviceModel)
    if actor is not None:
        from chaoyun.devices.profiles.service import profile_scope

        stmt = stmt.where(profile_scope(actor))
    return list(db.execute(stmt.order_by(DeviceModel.org_id.is_not(None), DeviceModel.id)).scalars())


def find_model(db: Session, name: str, org_id: int | None = None) -> DeviceModel | None:
    """A model by key or name; with ``org_id``, among the catalogue and that organisation's own profiles (its
    own first, so a copy named like its catalogue entry wins)."""
    n = name.strip()
    stmt = select(DeviceModel).where(or_(DeviceModel.key == n, DeviceModel.name_zh == n, DeviceModel.name_en == n))
    if org_id is not None:
        stmt = stmt.where(or_(DeviceModel.org_id.is_(None), DeviceModel.org_id == org_id))
    found = list(db.execute(stmt).scalars())
    found.sort(key=lambda m: m.org_id is None)
    return found[0] if found else None


def metric_by_key(model: DeviceModel, key: str) -> MetricDef | None:
    return next((m for m in model.metrics if m.key == key), None)


# ---------------------------------------------------------------- registry


@dataclass
class Credentials:
    token: str
    mqtt_password: str


def snapshot(d: Device) -> dict[str, Any]:
    return {
        "uid": d.uid,
        "name": d.name,
        "model": d.model.key if d.model else d.model_id,
        "workshop": d.workshop,
        "line": d.line,
        "serial": d.serial,
        "enabled": d.enabled,
        "org_id": d.org_id,
    }


def new_uid(db: Session) -> str:
    while True:
        uid = f"d-{secrets.token_hex(5)}"
        if db.execute(select(Device.id).where(Device.uid == uid)).first() is None:
            return uid


def _issue(device: Device) -> Credentials:
    token = new_device_token()
    password = new_mqtt_password()
    device.token_hash = token_hash(token)
    device.token_prefix = token[:10]
    device.mqtt_password_hash = mosquitto_hash(password)
    device.mqtt_password_bcrypt = nats_hash(password)
    return Credentials(token, password)


def _build(db: Session, org_id: int, data: DeviceIn) -> tuple[Device, Credentials]:
    model = find_model(db, data.model, org_id)
    if model is None:
        raise Invalid(N_("Unknown device model “%(model)s”."), field="model", model=data.model)
    uid = data.uid or new_uid(db)
    if db.execute(select(Device.id).where(Device.uid == uid)).first() is not None:
        raise Conflict(N_("The device id %(uid)s is taken."), field="uid", uid=uid)
    dup = db.execute(select(Device.id).where(Device.org_id == org_id, Device.name == data.name)).first()
    if dup is not None:
        raise Conflict(N_("A device named “%(name)s” already exists."), field="name", name=data.name)
    device = Device(
        org_id=org_id,
        model_id=model.id,
        uid=uid,
        name=data.name,
        workshop=data.workshop,
        line=data.line,
        serial=data.serial,
        token_hash="",
    )
    device.model = model
    creds = _issue(device)
    db.add(device)
    db.flush()
    return device, creds


def create_device(db: Session, actor: Actor, data: DeviceIn, org_id: int | None = None) -> tuple[Device, Credentials]:
    target = _target_org(actor, org_id)
    device, creds = _build(db, target, data)
    audit.record_by(db, actor, "create", "device", device.id, after=snapshot(device))
    db.commit()
    return device, creds


def update_device(db: Session, actor: Actor, device_id: int, data: DeviceUpdate) -> Device:
    device = get_device_for_write(db, actor, device_id)
    before = snapshot(device)
    for k, v in data.model_dump(exclude_none=True).items():
        setattr(device, k, v)
    if data.name and data.name != before["name"]:
        dup = db.execute(
            select(Device.id).where(Device.org_id == device.org_id, Device.name == data.name, Device.id != device.id)
        ).first()
        if dup is not None:
            db.rollback()
            raise Conflict(N_("A device named “%(name)s” already exists."), field="name", name=data.name)
    after = snapshot(device)
    if after != before:
        audit.record_by(db, actor, "update", "device", device.id, before=before, after=after)
    db.commit()
    return device


def delete_device(db: Session, actor: Actor, device_id: int) -> None:
    device = get_device_for_write(db, actor, device_id)
    audit.record_by(db, actor, "delete", "device", device.id, before=snapshot(device))
    db.delete(device)
    db.commit()
    get_store().delete_device(device_id)


def rotate_credentials(db: Session, actor: Actor, device_id: int) -> Credentials:
    device = get_device_for_write(db, actor, device_id)
    creds = _issue(device)
    device.credentials_rotated_at = utcnow()
    audit.record_by(db, actor, "rotate", "device", device.id, after={"token_prefix": device.token_prefix})
    db.commit()
    return creds


def list_devices(
    db: Session,
    actor: Actor,
    q: str | None = None,
    workshop: str | None = None,
    model: str | None = None,
    limit: int = 2000,
) -> list[Device]:
    stmt = select(Device).where(device_scope(actor))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Device.name.like(like), Device.uid.like(like), Device.serial.like(like)))
    if workshop:
        stmt = stmt.where(Device.workshop == workshop)
    if model:
        stmt = stmt.join(DeviceModel, DeviceModel.id == Device.model_id).where(DeviceModel.key == model)
    return list(db.execute(stmt.order_by(Device.workshop, Device.line, Device.id).limit(limit)).scalars())


# ---------------------------------------------------------------- provisioning


@dataclass
class ProvisionRow:
    line: int
    name: str
    ok: bool
    errors: list[str] = field(default_factory=list)
    device_id: int | None = None
    uid: str = ""
    token: str = ""
    mqtt_password: str = ""


@dataclass
class ProvisionReport:
    rows: list[ProvisionRow]

    @property
    def created(self) -> int:
        return sum(1 for r in self.rows if r.ok)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if not r.ok)


PROVISION_COLUMNS = ("name", "model", "workshop", "line", "serial", "uid")
HEADER_ALIASES = {
    "名称": "name",
    "设备名称": "name",
    "型号": "model",
    "设备型号": "model",
    "车间": "workshop",
    "产线": "line",
    "序列号": "serial",
    "设备编号": "uid",
    "网关": "conn_gateway",
    "协议": "conn_protocol",
    "地址": "conn_host",
    "端口": "conn_port",
    "从站号": "conn_unit",
    "端点": "conn_url",
    "gateway": "conn_gateway",
    "protocol": "conn_protocol",
    "host": "conn_host",
    "port": "conn_port",
    "unit": "conn_unit",
    "url": "conn_url",
}
MAX_PROVISION_ROWS = 5000


def _table_rows(filename: str, content: bytes) -> list[list[str]]:
    if filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise Invalid(N_("The file is not a readable Excel workbook.")) from exc
        ws = wb.worksheets[0]
        rows = [["" if c is None else str(c).strip() for c in r] for r in ws.iter_rows(values_only=True)]
        wb.close()
        return rows
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            decoded = content.decode("gb18030")  # what Excel in Chinese Windows saves as "CSV"
        except UnicodeDecodeError as exc:
            raise Invalid(N_("The file is neither UTF-8 nor GB18030 text.")) from exc
    if "\x00" in decoded:
        raise Invalid(N_("The file contains NUL characters; save it again as CSV text."))
    # newline="" lets the csv module read any line ending (a bare carriage return from old Mac/Excel exports
    # made csv.reader fail with "new-line character seen in unquoted field").
    try:
        return [[c.strip() for c in r] for r in csv.reader(io.StringIO(decoded, newline=""))]
    except csv.Error as exc:
        raise Invalid(N_("The file is not readable CSV: %(detail)s"), detail=str(exc)[:200]) from exc


def provision(db: Session, actor: Actor, filename: str, content: bytes, org_id: int | None = None) -> ProvisionReport:
    """Create devices from a CSV or Excel sheet (header row: name, model, workshop, line, serial[, uid]).

    Each valid row is created (and audited); each bad row is reported with its reasons and nothing of it
    is stored."""
    target = _target_org(actor, org_id)
    table = [r for r in _table_rows(filename, content) if any(c for c in r)]
    if not table:
        raise Invalid(N_("The file has no rows."))
    header = [HEADER_ALIASES.get(h.strip(), h.strip().lower()) for h in table[0]]
    if "name" not in header or "model" not in header:
        raise Invalid(N_("The first row must name the columns; “name” and “model” are required."))
    body = table[1:]
    if len(body) > MAX_PROVISION_ROWS:
        raise Invalid(N_("At most %(max)s devices per file."), max=MAX_PROVISION_ROWS)
    report: list[ProvisionRow] = []
    from chaoyun.i18n import gettext

    for i, raw in enumerate(body, start=2):
        rec = {header[j]: raw[j] for j in range(min(len(header), len(raw))) if header[j] in PROVISION_COLUMNS}
        # Optional connection columns (gateway, protocol, host, port, unit, url) for the generated gateway file.
        conn = {header[j][5:]: raw[j] for j in range(min(len(header), len(raw)))
                if header[j].startswith("conn_") and raw[j] != ""}
        name = rec.get("name", "")
        try:
            data = DeviceIn(**{k: v for k, v in rec.items() if v != "" or k in ("name", "model")})
        except ValidationError as exc:
            from chaoyun.web.validation import field_errors

            errs = [
                f"{fe['field']}: {fe['message_zh'] if _zh() else fe['message_en']}" for fe in field_errors(exc.errors())
            ]
            report.append(ProvisionRow(i, name, False, errs))
            continue
        sp = db.begin_nested()
        try:
            device, creds = _build(db, target, data)
            if conn:
                from chaoyun.devices.profiles.service import check_connection

                device.connection = check_connection(conn)
            audit.record_by(db, actor, "create", "device", device.id, after=snapshot(device) | {"source": filename})
            sp.commit()
        except (Invalid, Conflict) as exc:
            sp.rollback()
            report.append(ProvisionRow(i, name, False, [gettext(exc.msgid, **exc.params)]))
            continue
        report.append(ProvisionRow(i, name, True, [], device.id, device.uid, creds.token, creds.mqtt_password))
    db.commit()
    return ProvisionReport(report)


def _zh() -> bool:
    from chaoyun.i18n import get_locale

    return get_locale() == "zh_CN"


# ---------------------------------------------------------------- live status


@dataclass(frozen=True)
class DeviceStatus:
    online: bool
    status: str  # running | idle | down | offline | unknown (online, no state metric)
    state: str | None
    last_seen: datetime | None


def statuses(devices: Sequence[Device], now: datetime | None = None) -> dict[int, DeviceStatus]:
    now = now or utcnow()
    limit = timedelta(seconds=online_seconds())
    latest = get_store().latest_rows([d.id for d in devices])
    state_ids: dict[int, int] = {}
    for d in devices:
        m = next((m for m in d.model.metrics if m.role == "state"), None)
        if m is not None:
            state_ids[d.id] = m.id
    out: dict[int, DeviceStatus] = {}
    for d in devices:
        rows = latest.get(d.id, {})
        seen = rows.get(0)
        last_seen = seen.ts if seen else None
        online = last_seen is not None and now - last_seen <= limit
        sid = state_ids.get(d.id)
        state = rows[sid].text if sid is not None and sid in rows else None
        if not online:
            status = "offline"
        elif state is None:
            status = "running" if sid is None else "unknown"
        else:
            status = catalog.STATUS_OF_STATE.get(state, "unknown")
        out[d.id] = DeviceStatus(online, status, state, last_seen)
    return out


def summary(db: Session, actor: Actor) -> dict[str, int]:
    devices = list_devices(db, actor)
    counts = {"total": len(devices), "online": 0, "running": 0, "idle": 0, "down": 0, "offline": 0, "unknown": 0}
    for st in statuses(devices).values():
        counts["online"] += int(st.online)
        counts[st.status] += 1
    return counts


# ---------------------------------------------------------------- rejection log


def rejections(db: Session, actor: Actor, device_id: int, limit: int = 200) -> list[RejectedMessage]:
    get_device(db, actor, device_id)
    return list(
        db.execute(
            select(RejectedMessage)
            .where(RejectedMessage.device_id == device_id)
            .order_by(RejectedMessage.id.desc())
            .limit(limit)
        ).scalars()
    )


def prune_rejections(db: Session, keep_days: int = 30) -> int:
    cut = utcnow() - timedelta(days=keep_days)
    n = db.execute(RejectedMessage.__table__.delete().where(RejectedMessage.ts < cut)).rowcount  # type: ignore[attr-defined]
    db.commit()
    return int(n or 0)


# ---------------------------------------------------------------- retention


def retention_days(db: Session, org_id: int) -> int:
    row = db.get(TelemetryRetention, org_id)
    return row.days if row else default_retention_days()


def set_retention(db: Session, actor: Actor, days: int, org_id: int | None = None) -> int:
    target = _target_org(actor, org_id)
    if not 1 <= days <= 3650:
        raise Invalid(N_("Retention must be between 1 and 3650 days."), field="days")
    row = db.get(TelemetryRetention, target)
    before = {"days": row.days if row else default_retention_days()}
    if row is None:
        db.add(TelemetryRetention(org_id=target, days=days))
    else:
        row.days = days
    audit.record_by(db, actor, "update", "telemetry_retention", target, before=before, after={"days": days})
    db.commit()
    return days


@dataclass
class RetentionResult:
    rows_deleted: int
    partitions_dropped: int
    bytes_before: int
    bytes_after: int


def apply_tier_retention(db: Session, now: datetime | None = None) -> dict[str, int]:
    """Delete 1-minute and 1-hour rollups older than their tier's retention (setting or the enterprise's own;
    0 = forever). Returns rows deleted per tier."""
    from chaoyun.devices import rollups

    now = now or utcnow()
    store = get_store()
    out = {}
    for name, tier, col, var in (
        ("1m", rollups.MINUTE_MS, TelemetryRetention.minute_days, "TELEMETRY_1M_DAYS"),
        ("1h", rollups.HOUR_MS, TelemetryRetention.hour_days, "TELEMETRY_1H_DAYS"),
    ):
        default = int(env(var))
        rows = db.execute(select(TelemetryRetention.org_id, col)).all()
        overrides = {int(o): int(d) for o, d in rows if d is not None}
        n = 0
        by_days: dict[int, list[int]] = {}
        for dev_id, org in db.execute(select(Device.id, Device.org_id)).all():
            days = overrides.get(int(org), default)
            if days > 0:
                by_days.setdefault(days, []).append(int(dev_id))
        for days, ids in by_days.items():
            n += rollups.delete_tier_before(store, tier, ids, to_ms(now - timedelta(days=days)))
        out[name] = n
    return out


def apply_retention(db: Session, now: datetime | None = None) -> RetentionResult:
    """Delete telemetry older than each enterprise's retention and give the space back.

    Everything older than the longest retention in force goes at once (on PostgreSQL: whole day
    partitions dropped); enterprises with a shorter retention lose their older rows by device."""
    now = now or utcnow()
    store = get_store()
    before = store.size_bytes()
    from chaoyun.devices import rollups

    rollups.refresh(store)  # rollups of hours about to lose their raw points are computed first
    overrides = dict(db.execute(select(TelemetryRetention.org_id, TelemetryRetention.days)).all())
    horizon = max([default_retention_days(), *overrides.values()])
    dropped = store.drop_before(to_ms(now - timedelta(days=horizon)))
    deleted = 0
    by_days: dict[int, list[int]] = {}
    default = default_retention_days()
    if default < horizon:
        others = select(Device.id, Device.org_id)
        for dev_id, org in db.execute(others).all():
            if org not in overrides:
                by_days.setdefault(default, []).append(int(dev_id))
    for org, days in overrides.items():
        if days < horizon:
            ids = [int(i) for i in db.execute(select(Device.id).where(Device.org_id == org)).scalars()]
            by_days.setdefault(days, []).extend(ids)
    for days, ids in by_days.items():
        deleted += store.delete_before(ids, to_ms(now - timedelta(days=days)))
    apply_tier_retention(db, now)
    store.reclaim()
    return RetentionResult(deleted, dropped, before, store.size_bytes())


# ---------------------------------------------------------------- export


def export_range(
    db: Session, actor: Actor, device_id: int, metrics: list[str], start: datetime, end: datetime, fmt: str = "csv"
) -> tuple[bytes, str]:
    """Raw points of the chosen metrics in [start, end) as CSV or Excel (at most 1,000,000 rows)."""
    device = get_device(db, actor, device_id)
    keys = [m.key for m in device.model.metrics if not metrics or m.key in metrics]
    store = get_store()
    rows: list[tuple[str, str, Any]] = []
    for key in keys:
        for ts, v, t in store.raw(device.id, key, start, end, limit=1_000_000):
            rows.append((ts.isoformat(), key, t if t is not None else v))
    rows.sort()
    audit.record_by(
        db, actor, "export", "device", device.id, after={"metrics": keys, "start": start, "end": end, "rows": len(rows)}
    )
    db.commit()
    if fmt == "xlsx":
        # Real date cells in the local zone (the CSV keeps the UTC ISO text).
        cells = ((datetime.fromisoformat(ts), key, v) for ts, key, v in rows)
        data = excel.table_xlsx(device.uid, ["ts", "metric", "value"], cells, write_only=True)
        return data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["ts", "metric", "value"])
    # Text values are device-sent text: written so that Excel opening the CSV never evaluates them.
    w.writerows(excel.csv_row(r) for r in rows)
    return out.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8"


# ---------------------------------------------------------------- other contexts


@dataclass
class DeviceActivity:
    org_id: int
    devices_total: int
    devices_reporting: int
    metrics_collected: set[str]
    workshops: int
    alarms_rules_active: int
    # What the arrived metrics mean (state, energy, good_count, ...): apps and the programme read roles,
    # not model-specific keys.
    roles_collected: set[str] = field(default_factory=set)


def activity_by_enterprise(db: Session, since: datetime) -> dict[int, DeviceActivity]:
    """Per enterprise: devices registered, devices that sent data since ``since``, which metric keys
    arrived (from the latest-values table), workshops, active alarm rules. Counts only, no actor: callers
    (programme: cloud adoption) apply their own scope."""
    devices = db.execute(select(Device.id, Device.org_id, Device.workshop, Device.model_id)).all()
    if not devices:
        return {}
    latest = get_store().latest_rows([int(d.id) for d in devices])
    keys: dict[int, str] = {}
    roles: dict[int, str] = {}
    for mid, key, role in db.execute(select(MetricDef.id, MetricDef.key, MetricDef.role)).all():
        keys[mid] = key
        if role:
            roles[mid] = role
    since_ms = to_ms(since)
    rules = dict(
        db.execute(
            select(AlarmRule.org_id, func.count()).where(AlarmRule.enabled.is_(True)).group_by(AlarmRule.org_id)
        ).all()
    )
    out: dict[int, DeviceActivity] = {}
    workshops: dict[int, set[str]] = {}
    for dev_id, org_id, workshop, _model in devices:
        act = out.get(org_id)
        if act is None:
            act = out[org_id] = DeviceActivity(org_id, 0, 0, set(), 0, int(rules.get(org_id, 0)))
        act.devices_total += 1
        workshops.setdefault(org_id, set()).add(workshop or "")
        rows = latest.get(dev_id, {})
        seen = rows.get(0)
        if seen is not None and to_ms(seen.ts) >= since_ms:
            act.devices_reporting += 1
        for mid, lv in rows.items():
            if mid and to_ms(lv.ts) >= since_ms and mid in keys:
                act.metrics_collected.add(str(keys[mid]))
                if mid in roles:
                    act.roles_collected.add(roles[mid])
    for org_id, ws in workshops.items():
        out[org_id].workshops = len(ws)
    return out


def device_counts_by_district(db: Session, district: str | None = None) -> list[tuple[str, str, int, int]]:
    """(district, cluster, devices, online now) over all enterprises (or one district)."""
    stmt = (
        select(Device.id, Organisation.district, EnterpriseProfile.cluster)
        .join(Organisation, Organisation.id == Device.org_id)
        .join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id, isouter=True)
    )
    if district:
        stmt = stmt.where(Organisation.district == district)
    rows = db.execute(stmt).all()
    seen = get_store().last_seen([int(r[0]) for r in rows])
    cut = utcnow() - timedelta(seconds=online_seconds())
    agg: dict[tuple[str, str], list[int]] = {}
    for dev_id, dist, cluster in rows:
        k = (dist or "", cluster or "")
        a = agg.setdefault(k, [0, 0])
        a[0] += 1
        ts = seen.get(dev_id)
        if ts is not None and ts >= cut:
            a[1] += 1
    return sorted((d, c, t, o) for (d, c), (t, o) in agg.items())


def now_utc() -> datetime:
    return datetime.now(UTC)


__all__ = ["from_ms"]
