"""Incidents (plan item 18: hidden danger → alert → response → trace).

An incident of one enterprise gathers IDS alerts (``chaoyun.security.ids.public``), device alarms, audit entries and
the device data around the time, in one timeline. States: open → investigating → contained → closed (a closing
report is required: cause, actions taken, lessons). It can be assigned to a person of the enterprise and escalated
to the district, then the city. ``open_from_alerts`` is what the intrusion detector calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.i18n import N_, get_locale, translate
from chaoyun.identity import audit
from chaoyun.identity.models import Membership, Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.security import scope
from chaoyun.security.ids import public as ids
from chaoyun.security.ids.labels import RULE_TITLES
from chaoyun.security.incidents import sources
from chaoyun.security.models import Incident, IncidentItem

# Alerts within this time of an open incident's span join it instead of opening another.
WINDOW = timedelta(hours=2)
# The timeline and the trace look this far around the incident's first and last event.
CONTEXT = timedelta(minutes=30)

STATES: dict[str, str] = {
    "open": N_("Awaiting response"),
    "investigating": N_("Investigating"),
    "contained": N_("Contained"),
    "closed": N_("Incident closed"),
}
SEVERITIES: dict[str, str] = {
    "high": N_("High severity"),
    "medium": N_("Medium severity"),
    "low": N_("Low severity"),
}
NEXT_STATES: dict[str, tuple[str, ...]] = {
    "open": ("investigating", "contained"),
    "investigating": ("contained",),
    "contained": ("investigating",),
    "closed": (),
}
ESCALATIONS: dict[str, str] = {
    "none": N_("Not escalated"),
    "district": N_("Escalated to the district"),
    "city": N_("Escalated to the city"),
}
ITEM_KINDS: dict[str, str] = {
    "ids_alert": N_("Intrusion alert"),
    "device_alarm": N_("Device alarm"),
    "audit": N_("Audit entry"),
    "note": N_("Note"),
    "state": N_("State change"),
}
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def severity_of(raw: str) -> str:
    """An IDS alert's or alarm's severity on the incident's scale (high / medium / low)."""
    r = (raw or "").lower()
    if r in ("critical", "high", "error"):
        return "high"
    if r in ("major", "medium", "warning", "moderate"):
        return "medium"
    return "low"


def _worst(a: str, b: str) -> str:
    return a if SEVERITY_RANK[a] <= SEVERITY_RANK[b] else b


def _aware(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _system_audit(db: Session, org_id: int, action: str, inc: Incident, after: dict[str, Any]) -> None:
    audit.record(
        db,
        actor_user_id=None,
        actor_username="system",
        actor_org_id=org_id,
        action=action,
        object_type="security_incident",
        object_id=inc.id,
        after=after,
    )


def _alert_summary(a: ids.IdsAlertView) -> str:
    return a.summary or translate(RULE_TITLES.get(a.rule, a.rule), "zh_CN")


IDS_TITLE = "ids:"


def display_title(inc: Incident, locale: str | None = None) -> str:
    """The incident's title in the reader's language: an incident opened from alerts names their rules (stored as
    ``ids:<rule>,<rule>``), one reported by hand keeps what its reporter wrote."""
    if not inc.title.startswith(IDS_TITLE):
        return inc.title
    loc = locale or get_locale()
    rules = [r for r in inc.title[len(IDS_TITLE) :].split(",") if r]
    sep = "、" if loc != "en" else ", "
    return sep.join(translate(RULE_TITLES.get(r, r), loc) for r in rules)


def _add_alert(db: Session, inc: Incident, a: ids.IdsAlertView) -> bool:
    exists = db.execute(
        select(IncidentItem.id).where(
            IncidentItem.incident_id == inc.id, IncidentItem.kind == "ids_alert", IncidentItem.ref_id == a.id
        )
    ).first()
    if exists:
        return False
    db.add(
        IncidentItem(
            incident_id=inc.id,
            kind="ids_alert",
            ref_id=a.id,
            at=_aware(a.at),
            summary=_alert_summary(a)[:2000],
            details={
                "rule": a.rule,
                "severity": a.severity,
                "src": a.src,
                "dst": a.dst,
                "device_id": a.device_id,
                "frames": list(a.frames)[:50],
            },
        )
    )
    return True


def gather(db: Session, inc: Incident) -> int:
    """Add the device alarms and audit entries of the incident's window (devices it involves; the enterprise's
    people) that it does not hold yet. Returns how many were added."""
    start, end = _aware(inc.first_at) - CONTEXT, _aware(inc.last_at) + CONTEXT
    have = {
        (k, r)
        for k, r in db.execute(
            select(IncidentItem.kind, IncidentItem.ref_id).where(IncidentItem.incident_id == inc.id)
        ).all()
    }
    devs = involved_devices(db, inc)
    added = 0
    for al in sources.alarms_between(db, inc.org_id, start, end, devs or None):
        if ("device_alarm", al.id) in have:
            continue
        db.add(
            IncidentItem(
                incident_id=inc.id,
                kind="device_alarm",
                ref_id=al.id,
                at=al.at,
                summary=f"{al.device_name}: {al.message}"[:2000],
                details={"device_id": al.device_id, "severity": al.severity, "kind": al.kind, "status": al.status},
            )
        )
        added += 1
    for e in sources.audit_between(db, inc.org_id, start, end, devs):
        if ("audit", e.id) in have or e.object_type == "security_incident":
            continue
        db.add(
            IncidentItem(
                incident_id=inc.id,
                kind="audit",
                ref_id=e.id,
                at=e.at,
                summary=f"{e.username} · {e.action} · {e.object_type} {e.object_id}"[:2000],
                details={
                    "user_id": e.user_id,
                    "username": e.username,
                    "action": e.action,
                    "object_type": e.object_type,
                    "object_id": e.object_id,
                },
            )
        )
        added += 1
    db.flush()
    return added


def open_from_alerts(db: Session, org_id: int, alert_ids: list[int]) -> int:
    """Group IDS alerts of one enterprise into its open incident whose span lies within ``WINDOW`` of them, or
    open one. Idempotent: alerts already in an incident are not added again, and when every alert is already in
    one, that incident's id is returned. Commits (with an audit entry) and returns the incident id."""
    views = [a for a in ids.alerts(db, list(dict.fromkeys(alert_ids))) if a.org_id == org_id]
    if not views:
        raise NotFound(N_("No such intrusion alerts for this enterprise."))
    views.sort(key=lambda a: _aware(a.at))
    held = (
        db.execute(
            select(IncidentItem.incident_id)
            .join(Incident, Incident.id == IncidentItem.incident_id)
            .where(
                Incident.org_id == org_id,
                IncidentItem.kind == "ids_alert",
                IncidentItem.ref_id.in_([a.id for a in views]),
            )
            .order_by(IncidentItem.incident_id.desc())
        )
        .scalars()
        .all()
    )
    held_ids = {
        r
        for r in db.execute(
            select(IncidentItem.ref_id)
            .join(Incident, Incident.id == IncidentItem.incident_id)
            .where(
                Incident.org_id == org_id,
                IncidentItem.kind == "ids_alert",
                IncidentItem.ref_id.in_([a.id for a in views]),
            )
        ).scalars()
    }
    new = [a for a in views if a.id not in held_ids]
    if not new:
        return int(held[0])
    first, last = _aware(new[0].at), _aware(new[-1].at)
    inc = db.execute(
        select(Incident)
        .where(
            Incident.org_id == org_id,
            Incident.state != "closed",
            Incident.first_at <= last + WINDOW,
            Incident.last_at >= first - WINDOW,
        )
        .order_by(Incident.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    severity = "low"
    for a in new:
        severity = _worst(severity, severity_of(a.severity))
    created = inc is None
    if inc is None:
        org = db.get(Organisation, org_id)
        if org is None:
            raise NotFound(N_("No such organisation, or it is not yours to see."))
        rules = sorted({a.rule for a in new})
        inc = Incident(
            org_id=org_id,
            district=org.district,
            title=(IDS_TITLE + ",".join(rules))[:200],
            state="open",
            severity=severity,
            first_at=first,
            last_at=last,
            report={},
        )
        db.add(inc)
        db.flush()
    else:
        inc.first_at = min(_aware(inc.first_at), first)
        inc.last_at = max(_aware(inc.last_at), last)
        inc.severity = _worst(inc.severity, severity)
    added = sum(_add_alert(db, inc, a) for a in new)
    db.flush()
    gather(db, inc)
    _system_audit(
        db,
        org_id,
        "security_incident.open" if created else "security_incident.add_alerts",
        inc,
        {"alerts": [a.id for a in new], "added": added, "severity": inc.severity},
    )
    db.commit()
    return inc.id


# ---------------------------------------------------------------- reading


def get_incident(db: Session, actor: Actor, incident_id: int) -> Incident:
    inc = db.get(Incident, incident_id)
    if inc is None or not scope.can_see(actor, inc.org_id, inc.district):
        raise NotFound(N_("No such incident, or it is not yours to see."))
    return inc


def list_incidents(
    db: Session, actor: Actor, state: str | None = None, open_only: bool = False, limit: int = 500
) -> list[Incident]:
    q = select(Incident).where(scope.where(actor, Incident.org_id, Incident.district))
    if state:
        q = q.where(Incident.state == state)
    elif open_only:
        q = q.where(Incident.state != "closed")
    return list(db.execute(q.order_by(Incident.id.desc()).limit(limit)).scalars())


def open_count(db: Session, actor: Actor, high_only: bool = False) -> int:
    q = select(func.count(Incident.id)).where(
        scope.where(actor, Incident.org_id, Incident.district), Incident.state != "closed"
    )
    if high_only:
        q = q.where(Incident.severity == "high")
    return int(db.execute(q).scalar_one())


def open_high_by_org(db: Session) -> dict[int, int]:
    rows = db.execute(
        select(Incident.org_id, func.count(Incident.id))
        .where(Incident.state != "closed", Incident.severity == "high")
        .group_by(Incident.org_id)
    ).all()
    return {int(o): int(n) for o, n in rows}


def items(db: Session, inc: Incident) -> list[IncidentItem]:
    return list(
        db.execute(
            select(IncidentItem).where(IncidentItem.incident_id == inc.id).order_by(IncidentItem.at, IncidentItem.id)
        ).scalars()
    )


def involved_devices(db: Session, inc: Incident) -> set[int]:
    out: set[int] = set()
    for details in db.execute(
        select(IncidentItem.details).where(
            IncidentItem.incident_id == inc.id, IncidentItem.kind.in_(("ids_alert", "device_alarm"))
        )
    ).scalars():
        d = (details or {}).get("device_id")
        if isinstance(d, int):
            out.add(d)
    return out


@dataclass
class Timeline:
    incident: Incident
    entries: list[IncidentItem]
    series: list[sources.Series]
    device_names: dict[int, str]
    window: tuple[datetime, datetime]


def timeline(db: Session, actor: Actor, incident_id: int) -> Timeline:
    inc = get_incident(db, actor, incident_id)
    start, end = _aware(inc.first_at) - CONTEXT, _aware(inc.last_at) + CONTEXT
    devs = involved_devices(db, inc)
    series: list[sources.Series] = []
    for d in sorted(devs)[:4]:
        series.extend(sources.device_data(db, d, start, end, max_metrics=3))
    return Timeline(inc, items(db, inc), series, sources.device_names(db, devs), (start, end))


# ---------------------------------------------------------------- 攻击溯源 (tracing)


@dataclass
class Trace:
    alert: ids.IdsAlertView
    window: tuple[datetime, datetime]
    hosts: list[str] = field(default_factory=list)
    devices: dict[int, str] = field(default_factory=dict)  # device id → name
    host_devices: dict[str, list[str]] = field(default_factory=dict)  # host → device names registered at it
    accounts: list[str] = field(default_factory=list)
    related_alerts: list[ids.IdsAlertView] = field(default_factory=list)
    alarms: list[sources.AlarmView] = field(default_factory=list)
    audit: list[sources.AuditView] = field(default_factory=list)


def trace(db: Session, actor: Actor, incident_id: int, alert_id: int) -> Trace:
    """From one alert of the incident: the hosts, devices and accounts involved, and what else they touched in the
    incident's window — other alerts from or to the same hosts (followed one hop: the hosts those reached), alarms
    on the devices, audit entries by the enterprise's people and on those devices."""
    inc = get_incident(db, actor, incident_id)
    held = db.execute(
        select(IncidentItem.id).where(
            IncidentItem.incident_id == inc.id, IncidentItem.kind == "ids_alert", IncidentItem.ref_id == alert_id
        )
    ).first()
    found = ids.alerts(db, [alert_id]) if held else []
    if not found:
        raise NotFound(N_("No such alert in this incident."))
    alert = found[0]
    start, end = _aware(inc.first_at) - CONTEXT, _aware(inc.last_at) + CONTEXT
    window = ids.alerts_between(db, inc.org_id, start, end)
    hosts = {h for h in (alert.src, alert.dst) if h}
    related: dict[int, ids.IdsAlertView] = {}
    for _hop in range(2):
        for a in window:
            if a.id != alert.id and ({a.src, a.dst} & hosts):
                related[a.id] = a
        hosts |= {h for a in related.values() for h in (a.src, a.dst) if h}
    inv = [alert, *sorted(related.values(), key=lambda a: _aware(a.at))]
    dev_ids = {a.device_id for a in inv if a.device_id}
    by_host: dict[str, list[str]] = {}
    for d in sources.devices_of(db, inc.org_id):
        if d.host and d.host.split(":")[0] in {h.split(":")[0] for h in hosts}:
            dev_ids.add(d.id)
            by_host.setdefault(d.host.split(":")[0], []).append(d.name)
    audit_rows = sources.audit_between(db, inc.org_id, start, end, dev_ids)
    accounts = sorted({e.username for e in audit_rows if e.username and e.username != "system"})
    return Trace(
        alert=alert,
        window=(start, end),
        hosts=sorted(hosts),
        devices=sources.device_names(db, dev_ids),
        host_devices=by_host,
        accounts=accounts,
        related_alerts=inv[1:],
        alarms=sources.alarms_between(db, inc.org_id, start, end, dev_ids),
        audit=audit_rows,
    )


# ---------------------------------------------------------------- handling


def _can_handle(actor: Actor, inc: Incident) -> None:
    if inc.state == "closed":
        raise Conflict(N_("This incident is closed."))


def _note(db: Session, actor: Actor, inc: Incident, kind: str, text: str, details: dict[str, Any]) -> None:
    db.add(
        IncidentItem(
            incident_id=inc.id,
            kind=kind,
            ref_id=None,
            at=utcnow(),
            summary=text[:2000],
            details=details,
            user_id=actor.user.id,
        )
    )


def open_manual(db: Session, actor: Actor, org_id: int, title: str, severity: str, note: str) -> Incident:
    """A hidden danger reported by a person (an enterprise for itself, an officer for an enterprise in scope)."""
    org = db.get(Organisation, org_id)
    if org is None or org.kind != "enterprise" or not scope.can_see(actor, org.id, org.district):
        raise NotFound(N_("No such organisation, or it is not yours to see."))
    title = title.strip()
    if not title:
        raise Invalid(N_("Give the incident a title."), field="title")
    if severity not in SEVERITY_RANK:
        raise Invalid(N_("Choose a severity."), field="severity")
    now = utcnow()
    inc = Incident(
        org_id=org.id, district=org.district, title=title[:200], severity=severity, first_at=now, last_at=now, report={}
    )
    db.add(inc)
    db.flush()
    if note.strip():
        _note(db, actor, inc, "note", note.strip(), {})
    gather(db, inc)
    audit.record_by(db, actor, "security_incident.open", "security_incident", inc.id, None, {"title": inc.title})
    db.commit()
    return inc


def add_note(db: Session, actor: Actor, incident_id: int, text: str) -> Incident:
    inc = get_incident(db, actor, incident_id)
    _can_handle(actor, inc)
    if not text.strip():
        raise Invalid(N_("Write the note first."), field="text")
    _note(db, actor, inc, "note", text.strip(), {})
    audit.record_by(
        db, actor, "security_incident.note", "security_incident", inc.id, None, {"text": text.strip()[:500]}
    )
    db.commit()
    return inc


def assignable(db: Session, inc: Incident) -> list[tuple[int, str]]:
    rows = db.execute(
        select(Membership.user_id, Membership.role).where(Membership.org_id == inc.org_id).order_by(Membership.id)
    ).all()
    ids_ = [u for u, _r in rows]
    names = sources.user_names(db, set(ids_))
    return [(u, names.get(u, str(u))) for u in ids_]


def assign(db: Session, actor: Actor, incident_id: int, user_id: int) -> Incident:
    inc = get_incident(db, actor, incident_id)
    _can_handle(actor, inc)
    people = dict(assignable(db, inc))
    if user_id not in people:
        raise Invalid(N_("Choose a person of the enterprise."), field="user_id")
    before = {"assignee": inc.assignee_name}
    inc.assignee_user_id = user_id
    inc.assignee_name = people[user_id]
    _note(db, actor, inc, "state", people[user_id], {"assigned": user_id})
    audit.record_by(
        db, actor, "security_incident.assign", "security_incident", inc.id, before, {"assignee": people[user_id]}
    )
    db.commit()
    return inc


def set_state(db: Session, actor: Actor, incident_id: int, state: str, note: str = "") -> Incident:
    inc = get_incident(db, actor, incident_id)
    _can_handle(actor, inc)
    if state not in NEXT_STATES.get(inc.state, ()):
        raise Conflict(N_("An incident cannot go from this state to that one."))
    before = {"state": inc.state}
    inc.state = state
    _note(db, actor, inc, "state", note.strip(), {"from": before["state"], "to": state})
    audit.record_by(db, actor, "security_incident.change_state", "security_incident", inc.id, before, {"state": state})
    db.commit()
    return inc


def escalate(db: Session, actor: Actor, incident_id: int, reason: str) -> Incident:
    """One level up: the enterprise (or the district officer) escalates to the district, the district to the
    city."""
    inc = get_incident(db, actor, incident_id)
    _can_handle(actor, inc)
    if not reason.strip():
        raise Invalid(N_("Give the reason for escalating."), field="reason")
    if inc.escalation == "none":
        to = "district"
    elif inc.escalation == "district" and actor.role != Role.ENTERPRISE_ADMIN:
        to = "city"
    else:
        raise Conflict(N_("This incident is already escalated as far as you can take it."))
    before = {"escalation": inc.escalation}
    inc.escalation = to
    _note(db, actor, inc, "state", reason.strip(), {"escalation": to})
    audit.record_by(db, actor, "security_incident.escalate", "security_incident", inc.id, before, {"escalation": to})
    db.commit()
    return inc


REPORT_FIELDS = ("cause", "actions", "lessons")


def close(db: Session, actor: Actor, incident_id: int, cause: str, actions: str, lessons: str) -> Incident:
    """Close with the closing report: cause, actions taken, lessons (cause and actions required)."""
    inc = get_incident(db, actor, incident_id)
    _can_handle(actor, inc)
    errors = []
    if not cause.strip():
        errors.append(("cause", N_("Describe the cause.")))
    if not actions.strip():
        errors.append(("actions", N_("Describe the actions taken.")))
    if errors:
        raise Invalid(errors[0][1], field=errors[0][0])
    before = {"state": inc.state}
    inc.report = {"cause": cause.strip()[:4000], "actions": actions.strip()[:4000], "lessons": lessons.strip()[:4000]}
    inc.state = "closed"
    inc.closed_at = utcnow()
    _note(db, actor, inc, "state", "", {"from": before["state"], "to": "closed"})
    audit.record_by(
        db, actor, "security_incident.close", "security_incident", inc.id, before, {"state": "closed", **inc.report}
    )
    db.commit()
    return inc
