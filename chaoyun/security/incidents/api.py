"""JSON API of security incidents (``/api/v1/security/incidents``): list, open (a hidden danger), one incident with
its timeline, handling, the trace from an alert."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.security.incidents import service as incidents
from chaoyun.security.models import Incident
from chaoyun.security.permissions import SEC_INCIDENT, SEC_READ
from chaoyun.security.schemas import AssignIn, CloseIn, EscalateIn, IncidentIn, NoteIn, StateIn
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/security/incidents", tags=["security"])


def incident_out(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "org_id": i.org_id,
        "district": i.district,
        "title": i.title,
        "state": i.state,
        "severity": i.severity,
        "first_at": i.first_at,
        "last_at": i.last_at,
        "assignee_user_id": i.assignee_user_id,
        "escalation": i.escalation,
        "report": i.report,
        "closed_at": i.closed_at,
    }


@router.get("")
def list_incidents(
    open_only: bool = False, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> list[dict[str, Any]]:
    return [incident_out(i) for i in incidents.list_incidents(db, actor, open_only=open_only)]


@router.post("", status_code=201)
def open_incident(
    body: IncidentIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_INCIDENT)
) -> dict[str, Any]:
    return incident_out(incidents.open_manual(db, actor, body.org_id, body.title, body.severity, body.note))


@router.get("/{sec_incident_id}")
def get_incident(
    sec_incident_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> dict[str, Any]:
    tl = incidents.timeline(db, actor, sec_incident_id)
    out = incident_out(tl.incident)
    out["timeline"] = [
        {"at": e.at, "kind": e.kind, "ref_id": e.ref_id, "summary": e.summary, "details": e.details} for e in tl.entries
    ]
    out["device_data"] = [
        {"device_id": s.device_id, "metric": s.metric, "points": [[t, v] for t, v in s.points]} for s in tl.series
    ]
    return out


@router.get("/{sec_incident_id}/trace/{sec_alert_id}")
def trace(
    sec_incident_id: DbId, sec_alert_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> dict[str, Any]:
    tr = incidents.trace(db, actor, sec_incident_id, sec_alert_id)
    return {
        "alert": tr.alert.__dict__,
        "window": list(tr.window),
        "hosts": tr.hosts,
        "devices": [{"id": d, "name": n} for d, n in tr.devices.items()],
        "accounts": tr.accounts,
        "related_alerts": [a.__dict__ for a in tr.related_alerts],
        "alarms": [a.__dict__ for a in tr.alarms],
        "audit": [e.__dict__ for e in tr.audit],
    }


@router.post("/{sec_incident_id}/assign")
def assign(
    sec_incident_id: DbId, body: AssignIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_INCIDENT)
) -> dict[str, Any]:
    return incident_out(incidents.assign(db, actor, sec_incident_id, body.user_id))


@router.post("/{sec_incident_id}/state")
def set_state(
    sec_incident_id: DbId, body: StateIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_INCIDENT)
) -> dict[str, Any]:
    return incident_out(incidents.set_state(db, actor, sec_incident_id, body.state, body.note))


@router.post("/{sec_incident_id}/escalate")
def escalate(
    sec_incident_id: DbId, body: EscalateIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_INCIDENT)
) -> dict[str, Any]:
    return incident_out(incidents.escalate(db, actor, sec_incident_id, body.reason))


@router.post("/{sec_incident_id}/notes")
def add_note(
    sec_incident_id: DbId, body: NoteIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_INCIDENT)
) -> dict[str, Any]:
    return incident_out(incidents.add_note(db, actor, sec_incident_id, body.text))


@router.post("/{sec_incident_id}/close")
def close(
    sec_incident_id: DbId, body: CloseIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_INCIDENT)
) -> dict[str, Any]:
    return incident_out(incidents.close(db, actor, sec_incident_id, body.cause, body.actions, body.lessons))
