"""JSON API of the common-problem report (the same figures and the same suppression as the page) and of an
enterprise's consent to be named as a typical case."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.programme.commonproblems import service
from chaoyun.programme.commonproblems.permissions import CONSENT_READ, CONSENT_WRITE, REPORT_READ
from chaoyun.programme.commonproblems.service import GroupRow, Report, Weakness
from chaoyun.web.deps import requires

router = APIRouter(prefix="/api/v1/programme/common-problems", tags=["programme"])


def _r(v: float | None, digits: int = 4) -> float | None:
    return None if v is None else round(v, digits)


def _weakness(w: Weakness, rank: int) -> dict[str, Any]:
    return {
        "rank": rank,
        "key": w.key,
        "kind": w.kind,
        "name_zh": w.zh,
        "name_en": w.en,
        "maximum": w.maximum,
        "mean": _r(w.mean),
        "share": _r(w.share),
        "below_threshold": _r(w.below),
        "p25": _r(w.p25),
        "p75": _r(w.p75),
        "spread": _r(w.spread),
        "leaders": _r(w.leaders),
        "laggards": _r(w.laggards),
        "gap": _r(w.gap),
        "offering_categories": w.categories,
        "offerings": [
            {"id": o.id, "name": o.name, "provider": o.provider_name, "category": o.category, "url": o.url}
            for o in w.offerings
        ],
    }


def _group(r: GroupRow) -> dict[str, Any]:
    if not r.shown:
        return {"code": r.code, "shown": False, "note": service.note()}
    return {
        "code": r.code,
        "shown": True,
        "enterprises": r.n,
        "mean_score": _r(r.mean_score),
        "p25": _r(r.p25),
        "p75": _r(r.p75),
        "area_shares": {k: _r(v) for k, v in r.area_shares.items()},
        "weakest_areas": r.weakest,
    }


def report_json(rep: Report) -> dict[str, Any]:
    f = rep.filters
    out: dict[str, Any] = {
        "filters": {"cluster": f.cluster, "district": f.district, "year": f.year},
        "min_group": service.MIN_GROUP,
        "shown": rep.shown,
        "generated_at": rep.generated_at.isoformat(),
        "by_cluster": [_group(r) for r in rep.by_cluster],
        "by_district": [_group(r) for r in rep.by_district],
    }
    if not rep.shown:
        out["note"] = service.note()
        return out
    out |= {
        "enterprises": rep.n,
        "mean_score": _r(rep.mean_score),
        "p25": _r(rep.p25),
        "p75": _r(rep.p75),
        "levels": {str(k): v for k, v in rep.levels.items()},
        "dimensions": [{"name_zh": zh, "name_en": en, "share": _r(v)} for zh, en, v in rep.dimensions],
        "thresholds": {"area_share": service.WEAK_AREA_SHARE, "scene_level": service.WEAK_SCENE_LEVEL},
        "quartiles_shown": rep.quartiles_shown,
        "leaders": rep.leaders_n if rep.quartiles_shown else None,
        "laggards": rep.laggards_n if rep.quartiles_shown else None,
        "areas": [_weakness(w, i) for i, w in enumerate(rep.areas, 1)],
        "scenes": [_weakness(w, i) for i, w in enumerate(rep.scenes, 1)],
        "recommendations": [_weakness(w, i) for i, w in enumerate(rep.weaknesses, 1)],
        "outcomes": [
            {"key": o.key, "shown": True, "enterprises": o.n, "mean": _r(o.mean), "p25": _r(o.p25)}
            | {"median": _r(o.median), "p75": _r(o.p75), "leaders": _r(o.leaders), "laggards": _r(o.laggards)}
            if o.shown
            else {"key": o.key, "shown": False, "note": service.note()}
            for o in rep.outcomes
        ],
        "cases": [
            {
                "role": c.role,
                "label_zh": c.label_zh,
                "label_en": c.label_en,
                "named": c.named,
                "score": c.score,
                "level": c.level,
                "weakest": [{"name_zh": zh, "share": _r(v)} for zh, v in c.weakest],
                "outcomes": {k: _r(v) for k, v in c.outcomes.items()},
            }
            for c in rep.cases
        ],
    }
    return out


@router.get("")
def report(
    cluster: str | None = Query(default=None, max_length=40),
    district: str | None = Query(default=None, max_length=40),
    year: str | None = Query(default=None, max_length=40),
    db: Session = Depends(get_db),
    actor: Actor = requires(REPORT_READ),
) -> dict[str, Any]:
    """The report for an industry (``cluster``), a district and the diagnoses up to ``year``; groups under five
    enterprises carry ``shown: false`` and no figure. A district officer always gets their own district."""
    return report_json(service.report(db, actor, cluster, district, year))


class ConsentBody(BaseModel):
    named: bool


@router.get("/consent")
def consent_get(db: Session = Depends(get_db), actor: Actor = requires(CONSENT_READ)) -> dict[str, Any]:
    return {"org_id": actor.org_id, "named": service.consent_of(db, actor.org_id)}


@router.put("/consent")
def consent_put(
    body: ConsentBody, db: Session = Depends(get_db), actor: Actor = requires(CONSENT_WRITE)
) -> dict[str, Any]:
    return {"org_id": actor.org_id, "named": service.set_consent(db, actor, body.named)}
