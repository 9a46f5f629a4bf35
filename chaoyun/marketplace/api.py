"""JSON API of the marketplace: catalogue search, provider eligibility, pool counts, ratings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.i18n import both
from chaoyun.identity.permissions import Actor
from chaoyun.marketplace import catalogue, service
from chaoyun.marketplace import permissions as MP
from chaoyun.marketplace.schemas import RatingIn
from chaoyun.web.deps import public, requires
from chaoyun.web.params import DbId, Year

router = APIRouter(prefix="/api/v1/market", tags=["marketplace"])


@router.get("/offerings")
def api_offerings(
    request: Request,
    q: str = "",
    category: str = "",
    industry: str = "",
    db: Session = Depends(get_db),
    actor: Actor | None = public(),
) -> list[dict[str, Any]]:
    rows = catalogue.search(db, catalogue.SearchFilter(q=q[:200], category=category, industry=industry))
    return [
        {
            "id": o.id,
            "name": o.name,
            "provider_org_id": o.org_id,
            "provider_name": pname,
            "category": o.category,
            "industries": o.industries,
            "deployment": o.deployment,
            "price_model": o.price_model,
            "cost_categories": o.cost_categories,
            "url": f"/market/offerings/{o.id}",
        }
        for o, pname in rows
    ]


@router.get("/providers/{provider_id}/eligibility")
def api_eligibility(provider_id: DbId, db: Session = Depends(get_db), actor: Actor | None = public()) -> dict[str, Any]:
    # Public on purpose: the whitelist is published, and programme forms ask before a claim.
    ok, reason = service.voucher_eligibility(db, provider_id)
    msg = both(reason) if reason else None
    return {"eligible": ok, "reason_zh": msg["zh"] if msg else None, "reason_en": msg["en"] if msg else None}


@router.get("/pool-counts")
def api_pool_counts(
    year: Year | None = None, db: Session = Depends(get_db), actor: Actor = requires(MP.GOV_READ)
) -> dict[str, int]:
    return service.pool_counts(db, year).__dict__


@router.post("/offerings/{offering_id}/ratings", status_code=201)
def api_rate(
    offering_id: DbId, body: RatingIn, db: Session = Depends(get_db), actor: Actor = requires(MP.ENTERPRISE_WRITE)
) -> dict[str, Any]:
    r = catalogue.rate(db, actor, offering_id, body)
    return {"id": r.id, "offering_id": r.offering_id, "score": r.score}
