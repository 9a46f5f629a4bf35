"""JSON API of the programme context (thin over the services)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.programme import cloud_adoption as adoption
from chaoyun.programme import dashboard as dash
from chaoyun.programme import diagnosis as diag
from chaoyun.programme import permissions as P
from chaoyun.programme.pack import get_pack
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

# This context's routes; ``router`` (auto-included by the app) carries them and the workflows' API, whose
# own paths are full paths (no prefix is added to them here).
_own = APIRouter(prefix="/api/v1/programme", tags=["programme"])
router = APIRouter()


@_own.get("/pack")
def pack(actor: Actor = requires(P.TARGETS_READ)) -> dict[str, Any]:
    return get_pack().model_dump(mode="json")


@_own.get("/targets")
def targets(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.TARGETS_READ)
) -> list[dict[str, Any]]:
    district = dash.scope_district(actor, request.query_params.get("district"))
    cluster = dash.clean_cluster(request.query_params.get("cluster"))
    out = []
    for r in dash.dashboard(db, district, cluster):
        out.append(
            {
                "key": r.target.key,
                "name_zh": r.target.name_zh,
                "rule": r.target.rule,
                "target": r.target.target,
                "threshold": r.target.threshold,
                "available": r.available,
                "note": r.note_msgid,
                "status": r.status,
                "years": [
                    {"year": c.year, "planned": c.planned, "actual": c.actual, "status": c.status} for c in r.years
                ],
            }
        )
    return out


class AdoptionBody(BaseModel):
    areas: list[str] = Field(min_length=1, max_length=20)
    provider_name: str = Field(min_length=1, max_length=200)
    live_since: date
    contract_no: str = Field(default="", max_length=64)
    contract_date: date | None = None
    contract_amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    note: str = Field(default="", max_length=2000)


class VerifyBody(BaseModel):
    officer_checked: list[str] = Field(default_factory=list, max_length=20)
    reason: str = Field(default="", max_length=2000)


def _adoption_out(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "org_id": a.org_id,
        "status": a.status,
        "areas": a.areas,
        "provider_name": a.provider_name,
        "live_since": a.live_since.isoformat(),
        "stars": a.stars,
        "counted_year": a.counted_year,
    }


@_own.get("/adoptions")
def adoptions(db: Session = Depends(get_db), actor: Actor = requires(P.ADOPTION_READ)) -> list[dict[str, Any]]:
    return [_adoption_out(a) for a, _ in adoption.list_for(db, actor)]


@_own.post("/adoptions", status_code=201)
def adoption_create(
    body: AdoptionBody, db: Session = Depends(get_db), actor: Actor = requires(P.ADOPTION_DECLARE)
) -> dict[str, Any]:
    a = adoption.declare(db, actor, adoption.AdoptionIn(**body.model_dump()))
    return _adoption_out(a)


@_own.get("/adoptions/{adoption_id}")
def adoption_get(
    adoption_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ADOPTION_READ)
) -> dict[str, Any]:
    return _adoption_out(adoption.get(db, actor, adoption_id))


@_own.post("/adoptions/{adoption_id}/verify")
def adoption_verify(
    adoption_id: DbId, body: VerifyBody, db: Session = Depends(get_db), actor: Actor = requires(P.ADOPTION_VERIFY)
) -> dict[str, Any]:
    return _adoption_out(adoption.verify(db, actor, adoption_id, body.officer_checked, body.reason))


@_own.get("/diagnoses/{diagnosis_id}")
def diagnosis_get(
    diagnosis_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.DIAGNOSIS_READ)
) -> dict[str, Any]:
    d = diag.get(db, actor, diagnosis_id)
    result = diag.current_score(d)
    return {
        "id": d.id,
        "org_id": d.org_id,
        "status": d.status,
        "questionnaire": d.questionnaire,
        "answers": d.answers,
        "evidenced": sorted(d.evidenced or {}),
        "score": str(result.total),
        "level": result.level,
        "groups": {k: str(v) for k, v in result.groups.items()},
        "scenes": result.scenes,
        "year": d.year,
    }


router.include_router(_own)
