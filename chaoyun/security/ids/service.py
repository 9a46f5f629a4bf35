"""The intrusion detector on the platform: profiles an enterprise keeps, captures it uploads to learn from or to
scan, alerts (from a scan here or posted by its gateway). Each alert becomes an alarm on the device whose
connection settings name the alert's address (``connection.host``), and an enterprise's new alerts open or join an
incident (``chaoyun.security.incidents.service.open_from_alerts``)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.devices import alarms
from chaoyun.devices.models import Device
from chaoyun.errors import Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, Msgid, translate
from chaoyun.identity import audit
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor, check_org_read, visible_orgs
from chaoyun.identity.reference import Role
from chaoyun.security.ids import engine, pcap
from chaoyun.security.ids.labels import RULE_TITLES
from chaoyun.security.ids.models import IdsAlert, IdsProfile, IdsScan
from chaoyun.security.incidents import service as incidents

MAX_CAPTURE_BYTES = 64 << 20
MAX_PROFILE_BYTES = 8 << 20
MAX_POSTED_ALERTS = 1000


@dataclass
class StoreResult:
    alert_ids: list[int] = field(default_factory=list)
    alarms: int = 0
    incident_id: int | None = None


# ---------------------------------------------------------------- scope


def _write_org(db: Session, actor: Actor, org_id: int | None) -> Organisation:
    """The enterprise an actor writes for: their own; a platform admin may name one."""
    target = org_id if org_id and actor.role == Role.PLATFORM_ADMIN else actor.org_id
    org = check_org_read(actor, db.get(Organisation, target))
    if actor.role != Role.PLATFORM_ADMIN and org.id != actor.org_id:
        raise Forbidden(N_("Your role may not change this organisation."))
    return org


def _visible(actor: Actor) -> Any:
    return select(Organisation.id).where(visible_orgs(actor))


def get_profile(db: Session, actor: Actor, profile_id: int) -> IdsProfile:
    p = db.get(IdsProfile, profile_id)
    if p is None or not check_org_read_quiet(db, actor, p.org_id):
        raise NotFound(N_("No such IDS profile."))
    return p


def check_org_read_quiet(db: Session, actor: Actor, org_id: int) -> bool:
    try:
        check_org_read(actor, db.get(Organisation, org_id))
    except NotFound:
        return False
    return True


def list_profiles(db: Session, actor: Actor) -> list[IdsProfile]:
    stmt = select(IdsProfile).where(IdsProfile.org_id.in_(_visible(actor))).order_by(IdsProfile.id.desc())
    return list(db.execute(stmt.limit(500)).scalars())


def list_scans(db: Session, actor: Actor) -> list[IdsScan]:
    stmt = select(IdsScan).where(IdsScan.org_id.in_(_visible(actor))).order_by(IdsScan.id.desc())
    return list(db.execute(stmt.limit(200)).scalars())


def list_alerts(
    db: Session,
    actor: Actor,
    rule: str | None = None,
    severity: str | None = None,
    scan_id: int | None = None,
    limit: int = 500,
) -> list[IdsAlert]:
    stmt = select(IdsAlert).where(IdsAlert.org_id.in_(_visible(actor)))
    if rule:
        stmt = stmt.where(IdsAlert.rule == rule)
    if severity:
        stmt = stmt.where(IdsAlert.severity == severity)
    if scan_id:
        stmt = stmt.where(IdsAlert.scan_id == scan_id)
    return list(db.execute(stmt.order_by(IdsAlert.at.desc(), IdsAlert.id.desc()).limit(limit)).scalars())


def get_alert(db: Session, actor: Actor, alert_id: int) -> IdsAlert:
    a = db.get(IdsAlert, alert_id)
    if a is None or not check_org_read_quiet(db, actor, a.org_id):
        raise NotFound(N_("No such intrusion alert."))
    return a


def get_scan(db: Session, actor: Actor, scan_id: int) -> IdsScan:
    s = db.get(IdsScan, scan_id)
    if s is None or not check_org_read_quiet(db, actor, s.org_id):
        raise NotFound(N_("No such capture scan."))
    return s


def org_names(db: Session, org_ids: set[int]) -> dict[int, str]:
    if not org_ids:
        return {}
    rows = db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids)))
    return {i: n for i, n in rows}


def counts_by_rule(db: Session, actor: Actor) -> dict[str, int]:
    stmt = select(IdsAlert.rule, func.count()).where(IdsAlert.org_id.in_(_visible(actor))).group_by(IdsAlert.rule)
    return {r: int(n) for r, n in db.execute(stmt)}


# ---------------------------------------------------------------- profiles


def _summary(profile: dict[str, Any]) -> dict[str, Any]:
    learned = profile.get("learned", {})
    return {
        "hosts": len(profile.get("hosts", [])),
        "services": len(profile.get("services", [])),
        "modbus_pairs": len(profile.get("modbus", [])),
        "mqtt_clients": len(profile.get("mqtt", [])),
        "frames": learned.get("frames", 0),
    }


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid(N_("Give the profile a name."), field="name")
    if len(name) > 100:
        raise Invalid(N_("At most 100 characters."), field="name")
    return name


def save_profile(
    db: Session, actor: Actor, name: str, document: dict[str, Any] | str | bytes, org_id: int | None = None
) -> IdsProfile:
    """Keep a profile learned elsewhere (on the gateway, with ``chaoyun ids learn``)."""
    name = _check_name(name)
    org = _write_org(db, actor, org_id)
    if isinstance(document, bytes):
        if len(document) > MAX_PROFILE_BYTES:
            raise Invalid(N_("The profile is too large."), field="profile")
        document = document.decode("utf-8", errors="replace")
    try:
        prof = engine.load_profile(document) if isinstance(document, str) else engine.load_profile_dict(document)
    except engine.ProfileError as exc:
        raise Invalid(N_("This is not an IDS profile: %(why)s"), field="profile", why=str(exc)) from exc
    return _add_profile(db, actor, org.id, name, prof)


def _add_profile(db: Session, actor: Actor, org_id: int, name: str, prof: dict[str, Any]) -> IdsProfile:
    p = IdsProfile(
        org_id=org_id,
        name=name,
        source=str(prof.get("learned", {}).get("source", ""))[:200],
        profile=prof,
        summary=_summary(prof),
        created_by=actor.user.id,
    )
    db.add(p)
    db.flush()
    audit.record_by(db, actor, "ids_profile.create", "ids_profile", p.id, after={"name": name, **p.summary})
    db.commit()
    return p


def _frames_of(filename: str, content: bytes, field_name: str) -> list[tuple[float, bytes]]:
    if not content:
        raise Invalid(N_("Choose a capture file (pcap or pcapng)."), field=field_name)
    if len(content) > MAX_CAPTURE_BYTES:
        raise Invalid(
            N_("The capture is larger than 64 MB; scan it on the gateway with 'chaoyun ids scan'."), field=field_name
        )
    try:
        return list(pcap.iter_frames(io.BytesIO(content)))
    except (pcap.CaptureError, ValueError, IndexError) as exc:
        raise Invalid(
            N_("%(name)s is not a capture this detector reads: %(why)s"),
            field=field_name,
            name=filename[:100],
            why=str(exc)[:200],
        ) from exc


def learn_profile(
    db: Session,
    actor: Actor,
    name: str,
    filename: str,
    content: bytes,
    labels_text: str | None = None,
    org_id: int | None = None,
) -> IdsProfile:
    """Learn a profile from an uploaded capture of normal traffic (with labels: only frames labelled 0)."""
    name = _check_name(name)
    org = _write_org(db, actor, org_id)
    frames = _frames_of(filename, content, "capture")
    labels = engine.read_labels(labels_text) if labels_text else None
    prof = engine.learn(frames, labels, source=filename[:200])
    if not prof["hosts"]:
        raise Invalid(N_("No IPv4 traffic to learn from in this capture."), field="capture")
    return _add_profile(db, actor, org.id, name, prof)


def delete_profile(db: Session, actor: Actor, profile_id: int) -> None:
    p = get_profile(db, actor, profile_id)
    _write_org(db, actor, p.org_id if actor.role == Role.PLATFORM_ADMIN else None)
    if p.org_id != actor.org_id and actor.role != Role.PLATFORM_ADMIN:
        raise NotFound(N_("No such IDS profile."))
    audit.record_by(db, actor, "ids_profile.delete", "ids_profile", p.id, before={"name": p.name})
    db.delete(p)
    db.commit()


# ---------------------------------------------------------------- scans and alerts


def scan_capture(db: Session, actor: Actor, profile_id: int, filename: str, content: bytes) -> IdsScan:
    """Scan an uploaded capture with one of the enterprise's profiles; store the alerts (alarms, incident)."""
    p = get_profile(db, actor, profile_id)
    org = _write_org(db, actor, p.org_id if actor.role == Role.PLATFORM_ADMIN else None)
    if p.org_id != org.id:
        raise NotFound(N_("No such IDS profile."))
    frames = _frames_of(filename, content, "capture")
    verdicts, found = engine.scan(frames, p.profile)
    scan = IdsScan(
        org_id=org.id,
        profile_id=p.id,
        source=filename[:200],
        frames=len(verdicts),
        flagged=sum(verdicts),
        alerts=len(found),
        created_by=actor.user.id,
    )
    db.add(scan)
    db.flush()
    audit.record_by(
        db,
        actor,
        "ids_scan.create",
        "ids_scan",
        scan.id,
        after={"source": scan.source, "frames": scan.frames, "alerts": scan.alerts},
    )
    db.commit()
    result = store_alerts(db, org.id, [a.as_dict() for a in found], source=filename[:200], scan_id=scan.id)
    if result.incident_id is not None:
        scan.incident_id = result.incident_id
        db.commit()
    return scan


def _devices_by_host(db: Session, org_id: int) -> dict[str, Device]:
    """The enterprise's devices by the host in their connection settings (Modbus / OPC UA address). Reads the
    device registry (the devices context offers no lookup by address)."""
    out: dict[str, Device] = {}
    for d in db.execute(select(Device).where(Device.org_id == org_id).order_by(Device.id)).scalars():
        host = str((d.connection or {}).get("host") or "").strip()
        if host and host not in out:
            out[host] = d
    return out


def _as_time(ts: Any) -> datetime:
    try:
        t = float(ts)
    except (TypeError, ValueError):
        return utcnow()
    if t <= 0:
        return utcnow()
    return datetime.fromtimestamp(t, UTC)


def alert_summary(rule: str, src: str, dst: str, detail: str, count: int) -> str:
    """One line in Chinese (the deployment's default language; the rule name is translated in pages)."""
    title = translate(RULE_TITLES.get(rule, rule), "zh_CN")
    arrow = f"{src} → {dst}" if dst else src
    return f"{title}: {arrow} ({detail}; {count} 帧)"[:300]


def store_alerts(
    db: Session, org_id: int, found: list[dict[str, Any]], source: str, scan_id: int | None = None
) -> StoreResult:
    """Store detector alerts for an organisation, raise an alarm on the device each names, then open or join an
    incident. ``found`` holds ``engine.Alert.as_dict()`` shapes (what the gateway posts)."""
    result = StoreResult()
    if not found:
        return result
    devices = _devices_by_host(db, org_id)
    for a in found:
        rule = str(a.get("rule", ""))
        if rule not in engine.RULES:
            raise Invalid(N_("Unknown IDS rule %(rule)s."), field="alerts", rule=rule[:40])
        src, dst = str(a.get("src", ""))[:64], str(a.get("dst", ""))[:64]
        frames = [int(f) for f in (a.get("frames") or [])[: engine.MAX_ALERT_FRAMES] if 0 < int(f) < 2**31]
        count = int(a.get("count") or len(frames))
        detail = str(a.get("detail", ""))[:200]
        at = _as_time(a.get("first_ts"))
        device = devices.get(dst) or devices.get(src)
        severity = str(a.get("severity") or engine.RULES[rule])
        if severity not in ("critical", "major", "minor"):
            severity = engine.RULES[rule]
        row = IdsAlert(
            org_id=org_id,
            device_id=device.id if device else None,
            scan_id=scan_id,
            at=at,
            last_at=max(at, _as_time(a.get("last_ts", a.get("first_ts")))),
            rule=rule,
            severity=severity,
            summary=alert_summary(rule, src, dst, detail, count),
            src=src,
            dst=dst,
            frames=frames,
            frame_count=min(max(count, len(frames)), 2**31 - 1),
            source=source[:200],
        )
        db.add(row)
        db.flush()
        if device is not None:
            alarm = alarms.raise_from_analysis(
                db,
                device,
                name="入侵检测 / intrusion detection",
                metric="ids",
                severity=severity,
                value=None,
                text=row.summary,
                details={
                    "state": row.summary,
                    "source": "security.ids",
                    "alert_id": row.id,
                    "rule": rule,
                    "src": src,
                    "dst": dst,
                    "frames": frames[:20],
                },
                ts=at,
            )
            row.alarm_id = alarm.id
            result.alarms += 1
        result.alert_ids.append(row.id)
    audit.record(
        db,
        actor_user_id=None,
        actor_username="ids",
        actor_org_id=org_id,
        action="ids_alert.import",
        object_type="organisation",
        object_id=str(org_id),
        after={"alerts": len(result.alert_ids), "source": source[:100]},
    )
    db.commit()
    result.incident_id = incidents.open_from_alerts(db, org_id, result.alert_ids)
    return result


def post_alerts(
    db: Session, actor: Actor, source: str, found: list[dict[str, Any]], org_id: int | None = None
) -> StoreResult:
    """Alerts found by the enterprise's gateway (``chaoyun ids live --post``)."""
    org = _write_org(db, actor, org_id)
    if len(found) > MAX_POSTED_ALERTS:
        raise Invalid(N_("At most %(n)s alerts per request."), field="alerts", n=MAX_POSTED_ALERTS)
    return store_alerts(db, org.id, found, source=f"gateway:{source}"[:200])


def rule_label(rule: str) -> Msgid:
    return Msgid(RULE_TITLES.get(rule, rule))
