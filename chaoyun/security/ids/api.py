"""JSON API of the intrusion detector (``/api/v1/security/ids``): alerts (read; gateways post theirs), profiles
(upload or learn from a capture), capture scans."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import Invalid
from chaoyun.i18n import N_, both
from chaoyun.identity.permissions import Actor
from chaoyun.security.ids import engine, service
from chaoyun.security.ids.labels import RULE_EXPLANATIONS, RULE_TITLES
from chaoyun.security.ids.models import IdsAlert, IdsProfile, IdsScan
from chaoyun.security.ids.permissions import IDS_READ, IDS_WRITE
from chaoyun.web.deps import requires
from chaoyun.web.params import INT32_MAX, DbId

router = APIRouter(prefix="/api/v1/security/ids", tags=["security: intrusion detection"])
RulePattern = "^(" + "|".join(engine.RULES) + ")$"



FrameNo = Annotated[int, Field(ge=1, le=INT32_MAX)]  # frame numbers as in Wireshark, from 1

class AlertIn(BaseModel):
    rule: str = Field(pattern=RulePattern)
    severity: str = Field("", pattern="^(|critical|major|minor)$")
    src: str = Field("", max_length=64)
    dst: str = Field("", max_length=64)
    detail: str = Field("", max_length=200)
    first_ts: float = Field(0, ge=0, le=1e11)
    last_ts: float = Field(0, ge=0, le=1e11)
    frames: list[FrameNo] = Field(default_factory=list, max_length=engine.MAX_ALERT_FRAMES)
    count: int = Field(0, ge=0, le=INT32_MAX)


class AlertsIn(BaseModel):
    source: str = Field("gateway", min_length=1, max_length=100)
    alerts: list[AlertIn] = Field(max_length=service.MAX_POSTED_ALERTS)


class ProfileIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    profile: dict[str, Any]


def alert_out(a: IdsAlert) -> dict[str, Any]:
    title = both(RULE_TITLES.get(a.rule, a.rule))
    return {
        "id": a.id,
        "org_id": a.org_id,
        "device_id": a.device_id,
        "scan_id": a.scan_id,
        "at": a.at.isoformat(),
        "last_at": a.last_at.isoformat(),
        "rule": a.rule,
        "rule_zh": title["zh"],
        "rule_en": title["en"],
        "severity": a.severity,
        "summary": a.summary,
        "src": a.src,
        "dst": a.dst,
        "frames": a.frames,
        "frame_count": a.frame_count,
        "source": a.source,
        "alarm_id": a.alarm_id,
    }


def profile_out(p: IdsProfile, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "org_id": p.org_id,
        "name": p.name,
        "source": p.source,
        "summary": p.summary,
        "created_at": p.created_at.isoformat(),
    }
    if full:
        out["profile"] = p.profile
    return out


def scan_out(s: IdsScan) -> dict[str, Any]:
    return {
        "id": s.id,
        "org_id": s.org_id,
        "profile_id": s.profile_id,
        "source": s.source,
        "frames": s.frames,
        "flagged": s.flagged,
        "alerts": s.alerts,
        "incident_id": s.incident_id,
        "created_at": s.created_at.isoformat(),
    }


@router.get("/rules")
def rules(actor: Actor = requires(IDS_READ)) -> list[dict[str, Any]]:
    """Every rule with its severity, name and explanation in Chinese and English."""
    out = []
    for rule, severity in engine.RULES.items():
        t, e = both(RULE_TITLES[rule]), both(RULE_EXPLANATIONS[rule])
        out.append(
            {
                "rule": rule,
                "severity": severity,
                "title_zh": t["zh"],
                "title_en": t["en"],
                "explanation_zh": e["zh"],
                "explanation_en": e["en"],
            }
        )
    return out


@router.get("/alerts")
def list_alerts(
    rule: str | None = Query(None, pattern=RulePattern),
    severity: str | None = Query(None, pattern="^(critical|major|minor)$"),
    scan_id: DbId | None = None,
    limit: int = Query(500, ge=1, le=2000),
    actor: Actor = requires(IDS_READ),
    db: Session = Depends(get_db),
) -> list[dict[str, Any]]:
    return [alert_out(a) for a in service.list_alerts(db, actor, rule, severity, scan_id, limit)]


@router.get("/alerts/{ids_alert_id}")
def get_alert(ids_alert_id: DbId, actor: Actor = requires(IDS_READ), db: Session = Depends(get_db)) -> dict[str, Any]:
    return alert_out(service.get_alert(db, actor, ids_alert_id))


@router.post("/alerts", status_code=201)
def post_alerts(body: AlertsIn, actor: Actor = requires(IDS_WRITE), db: Session = Depends(get_db)) -> dict[str, Any]:
    """Alerts found by the enterprise's gateway (``chaoyun ids live --post``): stored, raised as device alarms,
    gathered into an incident."""
    r = service.post_alerts(db, actor, body.source, [a.model_dump() for a in body.alerts])
    return {"alert_ids": r.alert_ids, "alarms": r.alarms, "incident_id": r.incident_id}


@router.get("/profiles")
def list_profiles(actor: Actor = requires(IDS_READ), db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return [profile_out(p) for p in service.list_profiles(db, actor)]


@router.get("/profiles/{ids_profile_id}")
def get_profile(
    ids_profile_id: DbId, actor: Actor = requires(IDS_READ), db: Session = Depends(get_db)
) -> dict[str, Any]:
    return profile_out(service.get_profile(db, actor, ids_profile_id), full=True)


@router.post("/profiles", status_code=201)
def save_profile(body: ProfileIn, actor: Actor = requires(IDS_WRITE), db: Session = Depends(get_db)) -> dict[str, Any]:
    """A profile learned on the gateway (``chaoyun ids learn``)."""
    return profile_out(service.save_profile(db, actor, body.name, body.profile))


@router.post("/profiles/learn", status_code=201)
async def learn_profile(
    name: str = Form(..., min_length=1, max_length=100),
    capture: UploadFile = File(...),
    labels: UploadFile | None = File(None),
    actor: Actor = requires(IDS_WRITE),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """Learn a profile from a capture of normal traffic (pcap / pcapng); with a ``frame;0|1`` labels file only from
    frames labelled 0."""
    content = await capture.read(service.MAX_CAPTURE_BYTES + 1)
    text = None
    if labels is not None and labels.filename:
        raw = await labels.read(16 << 20)
        text = raw.decode("utf-8", errors="replace")
    p = service.learn_profile(db, actor, name, capture.filename or "capture.pcap", content, text)
    return profile_out(p)


@router.delete("/profiles/{ids_profile_id}", status_code=204)
def delete_profile(ids_profile_id: DbId, actor: Actor = requires(IDS_WRITE), db: Session = Depends(get_db)) -> None:
    service.delete_profile(db, actor, ids_profile_id)


@router.get("/scans")
def list_scans(actor: Actor = requires(IDS_READ), db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return [scan_out(s) for s in service.list_scans(db, actor)]


@router.get("/scans/{ids_scan_id}")
def get_scan(ids_scan_id: DbId, actor: Actor = requires(IDS_READ), db: Session = Depends(get_db)) -> dict[str, Any]:
    s = service.get_scan(db, actor, ids_scan_id)
    out = scan_out(s)
    out["alert_list"] = [alert_out(a) for a in service.list_alerts(db, actor, scan_id=s.id)]
    return out


@router.post("/scans", status_code=201)
async def scan_capture(
    profile_id: int = Form(..., ge=1, le=INT32_MAX),
    capture: UploadFile = File(...),
    actor: Actor = requires(IDS_WRITE),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """Scan a capture with one of the enterprise's profiles; alerts become device alarms and an incident."""
    content = await capture.read(service.MAX_CAPTURE_BYTES + 1)
    if not content:
        raise Invalid(N_("Choose a capture file (pcap or pcapng)."), field="capture")
    s = service.scan_capture(db, actor, profile_id, capture.filename or "capture.pcap", content)
    return scan_out(s)
