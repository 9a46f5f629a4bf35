"""JSON API of the security inspection programme (``/api/v1/security``): checklists, campaigns with risk scores
and the heat map, inspections (self-check, on-site check), findings (rectify, re-check)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.security import engine, service
from chaoyun.security.models import Campaign, Finding, Inspection
from chaoyun.security.permissions import SEC_INSPECT, SEC_MANAGE, SEC_READ, SEC_SELFCHECK
from chaoyun.security.schemas import CampaignIn, EnterprisesIn, FindingIn, OnsiteIn, RecheckIn, RectifyIn, SelfCheckIn
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/security", tags=["security"])


def checklist_out(c: engine.Checklist) -> dict[str, Any]:
    return {
        "key": c.key,
        "title": c.title,
        "scoring": c.scoring,
        "total_weight": c.total_weight,
        "items": [
            {
                "code": i.code,
                "domain": i.domain,
                "title": i.title,
                "weight": i.weight,
                "risk": i.risk,
                "methods": list(i.methods),
                "sources": [{"std": s.std, "clause": s.clause, "title": s.title} for s in i.sources],
            }
            for i in c.items
        ],
    }


def campaign_out(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.id,
        "year": c.year,
        "name": c.name,
        "checklist": c.checklist,
        "clusters": list(c.clusters),
        "self_check_due": c.self_check_due,
        "status": c.status,
    }


def inspection_out(i: Inspection) -> dict[str, Any]:
    return {
        "id": i.id,
        "sec_campaign_id": i.campaign_id,
        "org_id": i.org_id,
        "district": i.district,
        "cluster": i.cluster,
        "status": i.status,
        "self_answers": i.self_answers,
        "self_score": i.self_score,
        "self_submitted_at": i.self_submitted_at,
        "onsite_answers": i.onsite_answers,
        "onsite_score": i.onsite_score,
        "inspected_on": i.inspected_on,
        "inspector_name": i.inspector_name,
    }


def finding_out(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "sec_inspection_id": f.inspection_id,
        "org_id": f.org_id,
        "district": f.district,
        "item_code": f.item_code,
        "domain": f.domain,
        "source": f.source,
        "risk": f.risk,
        "description": f.description,
        "owner": f.owner,
        "deadline": f.deadline,
        "status": f.status,
        "escalation": f.escalation,
        "rectification": f.rectification,
        "recheck_note": f.recheck_note,
    }


@router.get("/checklists")
def list_checklists(actor: Actor = requires(SEC_READ)) -> list[dict[str, Any]]:
    """Every checklist of the engine, each item with its source clauses."""
    return [checklist_out(engine.load(k)) for k in engine.checklist_keys()]


@router.get("/campaigns")
def list_campaigns(db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)) -> list[dict[str, Any]]:
    return [campaign_out(c) for c in service.list_campaigns(db, actor)]


@router.post("/campaigns", status_code=201)
def create_campaign(
    body: CampaignIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_MANAGE)
) -> dict[str, Any]:
    c = service.create_campaign(db, actor, body.year, body.name, list(body.clusters), body.self_check_due, body.org_ids)
    return campaign_out(c)


@router.post("/campaigns/{sec_campaign_id}/enterprises")
def add_enterprises(
    sec_campaign_id: DbId, body: EnterprisesIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_MANAGE)
) -> dict[str, int]:
    return {"added": service.add_enterprises(db, actor, sec_campaign_id, list(body.org_ids))}


@router.get("/campaigns/{sec_campaign_id}/risk")
def campaign_risk(
    sec_campaign_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> dict[str, Any]:
    rows = service.risk_rows(db, actor, sec_campaign_id)
    return {
        "enterprises": [r.__dict__ for r in rows],
        "heatmap": [h.__dict__ for h in service.heatmap(rows)],
    }


@router.get("/inspections")
def list_inspections(db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)) -> list[dict[str, Any]]:
    return [inspection_out(i) for i in service.inspections(db, actor)]


@router.get("/inspections/{sec_inspection_id}")
def get_inspection(
    sec_inspection_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> dict[str, Any]:
    i = service.get_inspection(db, actor, sec_inspection_id)
    out = inspection_out(i)
    out["evidence"] = [
        {"id": e.id, "item_code": e.item_code, "filename": e.filename, "sha256": e.sha256, "size": e.size}
        for e in service.evidence(db, i.id)
    ]
    out["findings"] = [finding_out(f) for f in service.findings(db, actor, inspection_id=i.id)]
    return out


@router.post("/inspections/{sec_inspection_id}/self-check")
def self_check(
    sec_inspection_id: DbId, body: SelfCheckIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_SELFCHECK)
) -> dict[str, Any]:
    return inspection_out(service.save_self_check(db, actor, sec_inspection_id, body.answers, body.notes, body.submit))


@router.post("/inspections/{sec_inspection_id}/onsite")
def onsite(
    sec_inspection_id: DbId, body: OnsiteIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_INSPECT)
) -> dict[str, Any]:
    i = service.record_onsite(db, actor, sec_inspection_id, body.answers, body.notes, body.conclude, body.inspected_on)
    return inspection_out(i)


@router.get("/findings")
def list_findings(
    open_only: bool = False, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> list[dict[str, Any]]:
    return [finding_out(f) for f in service.findings(db, actor, open_only=open_only)]


@router.post("/findings/{sec_finding_id}")
def update_finding(
    sec_finding_id: DbId, body: FindingIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_INSPECT)
) -> dict[str, Any]:
    return finding_out(service.update_finding(db, actor, sec_finding_id, body.owner, body.deadline, body.description))


@router.post("/findings/{sec_finding_id}/rectify")
def rectify(
    sec_finding_id: DbId, body: RectifyIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_SELFCHECK)
) -> dict[str, Any]:
    return finding_out(service.rectify(db, actor, sec_finding_id, body.text))


@router.post("/findings/{sec_finding_id}/recheck")
def recheck(
    sec_finding_id: DbId, body: RecheckIn, db: Session = Depends(get_db), actor: Actor = requires(SEC_INSPECT)
) -> dict[str, Any]:
    return finding_out(service.recheck(db, actor, sec_finding_id, body.passed, body.note, body.new_deadline))
