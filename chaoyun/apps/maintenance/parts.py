"""Spare parts, kept simple: stock, a reorder point (at or below it the part is flagged and shows in the
administrators' to-do list), goods received and count corrections. Orders take parts through
``service.use_part``."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance.models import SparePart
from chaoyun.apps.maintenance.schemas import PartIn, StockIn
from chaoyun.apps.maintenance.service import _audit
from chaoyun.db import utcnow
from chaoyun.errors import Conflict, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor


def list_parts(db: Session, org_id: int) -> list[SparePart]:
    return list(db.execute(select(SparePart).where(SparePart.org_id == org_id).order_by(SparePart.code)).scalars())


def get_part(db: Session, actor: Actor, part_id: int) -> SparePart:
    p = db.get(SparePart, part_id)
    if p is None or p.org_id != actor.org_id or actor.audience != "enterprise":
        raise NotFound(N_("No such spare part in your enterprise."))
    return p


def create_part(db: Session, actor: Actor, data: PartIn) -> SparePart:
    p = SparePart(org_id=actor.org_id, **{**data.model_dump(), "code": data.code.strip(), "name": data.name.strip()})
    db.add(p)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(N_("A spare part with code %(code)s exists already."), field="code", code=data.code) from None
    _audit(db, actor, actor.org_id, "create", "spare_part", p.id, **data.model_dump())
    db.commit()
    return p


def update_part(db: Session, actor: Actor, part_id: int, data: PartIn) -> SparePart:
    """Name, unit, reorder point, location (and code); stock changes go through ``adjust_stock``."""
    p = get_part(db, actor, part_id)
    p.code, p.name, p.unit = data.code.strip(), data.name.strip(), data.unit
    p.reorder_point, p.location = data.reorder_point, data.location
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(N_("A spare part with code %(code)s exists already."), field="code", code=data.code) from None
    _audit(db, actor, actor.org_id, "update", "spare_part", p.id, **data.model_dump(exclude={"stock"}))
    db.commit()
    return p


def adjust_stock(db: Session, actor: Actor, part_id: int, data: StockIn) -> SparePart:
    """Goods received (positive) or a correction after counting (negative, never below zero)."""
    p = get_part(db, actor, part_id)
    res = db.execute(
        update(SparePart)
        .where(SparePart.id == p.id, SparePart.stock + data.change >= 0)
        .values(stock=SparePart.stock + data.change, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        stock = get_part(db, actor, part_id).stock
        raise Conflict(N_("Stock cannot go below zero (%(stock)s in stock)."), field="change", stock=stock)
    _audit(db, actor, actor.org_id, "stock", "spare_part", p.id, change=data.change, note=data.note)
    db.commit()
    db.refresh(p)
    return p


def below_reorder_count(db: Session, org_id: int) -> int:
    return int(
        db.execute(
            select(func.count(SparePart.id)).where(
                SparePart.org_id == org_id, SparePart.stock <= SparePart.reorder_point
            )
        ).scalar_one()
    )


def part_out(p: SparePart) -> dict[str, object]:
    return {
        "id": p.id,
        "code": p.code,
        "name": p.name,
        "unit": p.unit,
        "stock": p.stock,
        "reorder_point": p.reorder_point,
        "location": p.location,
        "below_reorder_point": p.below_reorder,
    }
