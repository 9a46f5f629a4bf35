"""JSON API of tariffs and prices: record (provider admins), list, and the two target figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.marketplace.prices import service
from chaoyun.marketplace.prices.models import PriceRecord
from chaoyun.marketplace.prices.permissions import PRICES_READ, PRICES_WRITE
from chaoyun.web.deps import requires

router = APIRouter(prefix="/api/v1/market", tags=["marketplace"])


class PriceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=24)
    item: str = Field(max_length=120)
    unit: str = Field(max_length=24)
    list_price: str = Field(max_length=32, description='yuan, e.g. "1200"')
    programme_price: str = Field("", max_length=32, description="what programme enterprises pay; empty: list price")
    effective_from: date
    note: str = Field("", max_length=500)


def _out(r: PriceRecord, provider: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "provider_org_id": r.org_id,
        "provider_name": provider,
        "kind": r.kind,
        "item": r.item,
        "unit": r.unit,
        "list_price": str(r.list_price),
        "programme_price": None if r.programme_price is None else str(r.programme_price),
        "effective_from": r.effective_from.isoformat(),
        "note": r.note,
    }


@router.get("/prices")
def list_prices(db: Session = Depends(get_db), actor: Actor = requires(PRICES_READ)) -> list[dict[str, Any]]:
    return [_out(r, name) for r, name in service.list_records(db, actor)]


@router.post("/prices", status_code=201)
def record_price(
    body: PriceBody, db: Session = Depends(get_db), actor: Actor = requires(PRICES_WRITE)
) -> dict[str, Any]:
    data = service.PriceIn(**(body.model_dump() | {"effective_from": body.effective_from.isoformat()}))
    rec = service.record(db, actor, data)
    return _out(rec, actor.org.name)


@router.get("/price-indices")
def price_indices(
    year: int = Query(default_factory=lambda: date.today().year, ge=2018, le=2100),
    db: Session = Depends(get_db),
    actor: Actor = requires(PRICES_READ),
) -> dict[str, Any]:
    """The plan's two price targets for ``year``: mean tariff reduction against the 2017 baseline and mean
    cloud discount against list prices (percent; null while no item can be compared)."""
    service.list_records(db, actor)  # the same read check as the list
    t, c = service.tariff_reduction(db, year), service.cloud_discount(db, year)
    return {
        "year": year,
        "tariff_reduction_pct": t.value,
        "tariff_items": len([i for i in t.items if i.change_pct is not None]),
        "cloud_discount_pct": c.value,
        "cloud_items": len([i for i in c.items if i.change_pct is not None]),
        "baseline_year": service.BASELINE_YEAR,
    }
