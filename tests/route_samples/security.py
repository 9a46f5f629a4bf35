"""Samples for the security context's routes (inspections, findings, evidence, campaigns, incidents) for
tests/test_route_security.py. Each resolver makes the record for ``owner`` if it has none: a campaign holding only
the owner's inspection, a finding and an evidence file of it, an incident gathered from an IDS alert of the owner."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.security import files
from chaoyun.security.ids import service as ids_service
from chaoyun.security.models import Campaign, Evidence, Finding, Incident, IncidentItem, Inspection


def _inspection(db: Session, owner: Organisation) -> Inspection:
    name = f"路由样例检查 {owner.id}"
    c = db.execute(select(Campaign).where(Campaign.name == name)).scalar_one_or_none()
    if c is None:
        c = Campaign(
            year=2026, name=name, checklist="enterprise_ics", clusters=["toys"], self_check_due=date(2026, 12, 31)
        )
        db.add(c)
        db.flush()
    i = db.execute(
        select(Inspection).where(Inspection.campaign_id == c.id, Inspection.org_id == owner.id)
    ).scalar_one_or_none()
    if i is None:
        i = Inspection(campaign_id=c.id, org_id=owner.id, district=owner.district, cluster="toys")
        db.add(i)
    db.commit()
    return i


def sec_campaign_id(db: Session, owner: Organisation) -> str:
    return str(_inspection(db, owner).campaign_id)


def sec_inspection_id(db: Session, owner: Organisation) -> str:
    return str(_inspection(db, owner).id)


def sec_finding_id(db: Session, owner: Organisation) -> str:
    i = _inspection(db, owner)
    f = (
        db.execute(select(Finding).where(Finding.inspection_id == i.id, Finding.status == "open").order_by(Finding.id))
        .scalars()
        .first()
    )
    if f is None:
        f = Finding(
            inspection_id=i.id,
            org_id=owner.id,
            district=owner.district,
            item_code="E-CTL-1",
            domain="control",
            source="onsite",
            risk="high",
            owner="样例负责人",
            deadline=date(2026, 12, 31),
        )
        db.add(f)
        db.commit()
    return str(f.id)


def sec_evidence_id(db: Session, owner: Organisation) -> str:
    i = _inspection(db, owner)
    e = db.execute(select(Evidence).where(Evidence.inspection_id == i.id).order_by(Evidence.id)).scalars().first()
    if e is None:
        ctype, sha, stored, _path = files.write(files.Upload("样例.pdf", b"%PDF-1.4 sample"))
        e = Evidence(
            inspection_id=i.id,
            org_id=owner.id,
            item_code="E-DEV-1",
            filename="样例.pdf",
            content_type=ctype,
            size=15,
            sha256=sha,
            path=stored,
        )
        db.add(e)
        db.commit()
    return str(e.id)


def _incident(db: Session, owner: Organisation) -> Incident:
    inc = (
        db.execute(
            select(Incident)
            .join(IncidentItem, IncidentItem.incident_id == Incident.id)
            .where(Incident.org_id == owner.id, Incident.state != "closed", IncidentItem.kind == "ids_alert")
            .order_by(Incident.id)
        )
        .scalars()
        .first()
    )
    if inc is None:
        at = datetime(2026, 3, 1, 1, 0, tzinfo=UTC).timestamp() + owner.id * 7200
        found = [{"rule": "unknown_host", "src": "10.66.0.9", "dst": "10.66.0.20", "frames": [1], "first_ts": at}]
        res = ids_service.store_alerts(db, owner.id, found, source="route-samples")
        assert res.incident_id is not None
        inc = db.get(Incident, res.incident_id)
        assert inc is not None
    return inc


def sec_incident_id(db: Session, owner: Organisation) -> str:
    return str(_incident(db, owner).id)


def sec_alert_id(db: Session, owner: Organisation) -> str:
    inc = _incident(db, owner)
    ref = (
        db.execute(
            select(IncidentItem.ref_id)
            .where(IncidentItem.incident_id == inc.id, IncidentItem.kind == "ids_alert")
            .order_by(IncidentItem.id)
        )
        .scalars()
        .first()
    )
    return str(ref)


def _user_of(owner: Organisation) -> int:
    from chaoyun.db import get_sessionmaker
    from chaoyun.identity.models import Membership

    with get_sessionmaker()() as db:
        m = (
            db.execute(select(Membership).where(Membership.org_id == owner.id).order_by(Membership.id))
            .scalars()
            .first()
        )
        return m.user_id if m else 1


PATH_PARAMS = {
    "sec_campaign_id": sec_campaign_id,
    "sec_inspection_id": sec_inspection_id,
    "sec_finding_id": sec_finding_id,
    "sec_evidence_id": sec_evidence_id,
    "sec_incident_id": sec_incident_id,
    "sec_alert_id": sec_alert_id,
}

API = "/api/v1/security"
ANSWERS = {"E-DEV-1": "yes"}


def _campaign(o: Organisation) -> dict[str, Any]:
    return {
        "year": 2026,
        "name": f"路由测试专项 {o.id}",
        "clusters": ["toys"],
        "self_check_due": "2026-12-31",
        "org_ids": [o.id],
    }


BODIES = {
    ("POST", f"{API}/campaigns"): _campaign,
    ("POST", f"{API}/campaigns/{{sec_campaign_id}}/enterprises"): lambda o: {"org_ids": [o.id]},
    ("POST", f"{API}/inspections/{{sec_inspection_id}}/self-check"): lambda o: {"answers": ANSWERS},
    ("POST", f"{API}/inspections/{{sec_inspection_id}}/onsite"): lambda o: {"answers": ANSWERS},
    ("POST", f"{API}/findings/{{sec_finding_id}}"): lambda o: {"owner": "路由测试", "deadline": "2026-12-31"},
    ("POST", f"{API}/findings/{{sec_finding_id}}/rectify"): lambda o: {"text": "路由测试整改"},
    ("POST", f"{API}/findings/{{sec_finding_id}}/recheck"): lambda o: {"passed": False, "note": "路由测试复查"},
    ("POST", f"{API}/incidents"): lambda o: {"org_id": o.id, "title": "路由测试隐患", "severity": "low"},
    ("POST", f"{API}/incidents/{{sec_incident_id}}/assign"): lambda o: {"user_id": _user_of(o)},
    ("POST", f"{API}/incidents/{{sec_incident_id}}/state"): lambda o: {"state": "investigating"},
    ("POST", f"{API}/incidents/{{sec_incident_id}}/escalate"): lambda o: {"reason": "路由测试"},
    ("POST", f"{API}/incidents/{{sec_incident_id}}/notes"): lambda o: {"text": "路由测试"},
    ("POST", f"{API}/incidents/{{sec_incident_id}}/close"): lambda o: {"cause": "路由测试", "actions": "路由测试"},
    ("POST", "/gov/security/campaigns"): lambda o: {
        "name": f"路由页面专项 {o.id}",
        "year": "2026",
        "self_check_due": "2026-12-31",
        "clusters": "toys",
    },
    ("POST", "/gov/security/campaigns/{sec_campaign_id}/enterprises"): lambda o: {"org_ids": str(o.id)},
    ("POST", "/security/inspections/{sec_inspection_id}/self-check"): lambda o: {"answer_E-DEV-1": "yes"},
    ("POST", "/security/inspections/{sec_inspection_id}/onsite"): lambda o: {"answer_E-DEV-1": "yes"},
    ("POST", "/security/inspections/{sec_inspection_id}/evidence"): lambda o: {"item": "E-DEV-1"},
    ("POST", "/security/findings/{sec_finding_id}/rectify"): lambda o: {"text": "路由测试整改"},
    ("POST", "/security/findings/{sec_finding_id}/update"): lambda o: {"owner": "路由测试", "deadline": "2026-12-31"},
    ("POST", "/security/findings/{sec_finding_id}/recheck"): lambda o: {"passed": "0", "note": "路由测试"},
    ("POST", "/security/incidents"): lambda o: {"title": "路由测试隐患", "severity": "low"},
    ("POST", "/security/incidents/{sec_incident_id}/act"): lambda o: {"action": "note", "text": "路由测试"},
}
