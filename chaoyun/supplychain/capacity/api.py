"""JSON API of capacity sharing (``/api/v1/supplychain/capacity``): everything the pages do."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.supplychain.capacity import service
from chaoyun.supplychain.capacity.permissions import CAPACITY_MANAGE, CAPACITY_READ
from chaoyun.supplychain.capacity.service import BookingIn, OfferIn
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/supplychain/capacity", tags=["supplychain capacity"])


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field("", max_length=200)


@router.get("/idle")
def idle(db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_READ)) -> list[dict[str, Any]]:
    """Idle hours per week of each machine type over the last four weeks, and the proposed offer."""
    return [
        {**t.__dict__, "first_day": t.first_day.isoformat(), "last_day": t.last_day.isoformat()}
        for t in service.idle_capacity(db, actor.org_id)
    ]


@router.get("/offers")
def my_offers(db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_READ)) -> list[dict[str, Any]]:
    return [service.offer_out(o) for o in service.own_offers(db, actor.org_id)]


@router.post("/offers", status_code=201)
def publish(data: OfferIn, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)) -> dict[str, Any]:
    return service.offer_out(service.publish_offer(db, actor, data))


@router.get("/offers/search")
def search(
    machine_type: str | None = Query(None, max_length=64),
    district: str | None = Query(None, max_length=16),
    first_day: date | None = None,
    last_day: date | None = None,
    db: Session = Depends(get_db),
    actor: Actor = requires(CAPACITY_READ),
) -> list[dict[str, Any]]:
    hits = service.search_offers(db, actor, machine_type or None, district or None, first_day, last_day)
    return [
        {**service.offer_out(h.offer), "org_name": h.org_name, "district": h.district, "cluster": h.cluster}
        for h in hits
    ]


@router.get("/offers/{capacity_offer_id}")
def offer(
    capacity_offer_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_READ)
) -> dict[str, Any]:
    return service.offer_out(service.get_offer(db, actor, capacity_offer_id))


@router.post("/offers/{capacity_offer_id}/withdraw")
def withdraw(
    capacity_offer_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)
) -> dict[str, Any]:
    return service.offer_out(service.withdraw_offer(db, actor, capacity_offer_id))


@router.post("/offers/{capacity_offer_id}/bookings", status_code=201)
def book(
    capacity_offer_id: DbId,
    data: BookingIn,
    db: Session = Depends(get_db),
    actor: Actor = requires(CAPACITY_MANAGE),
) -> dict[str, Any]:
    return service.booking_out(service.request_booking(db, actor, capacity_offer_id, data))


@router.get("/bookings")
def list_bookings(
    side: str = Query("owner", pattern="^(owner|requester)$"),
    db: Session = Depends(get_db),
    actor: Actor = requires(CAPACITY_READ),
) -> list[dict[str, Any]]:
    return [service.booking_out(b) for b in service.bookings(db, actor.org_id, side)]


@router.get("/bookings/{capacity_booking_id}")
def booking(
    capacity_booking_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_READ)
) -> dict[str, Any]:
    return service.booking_out(service.get_booking(db, actor, capacity_booking_id))


@router.post("/bookings/{capacity_booking_id}/confirm")
def confirm(
    capacity_booking_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)
) -> dict[str, Any]:
    return service.booking_out(service.confirm_booking(db, actor, capacity_booking_id))


@router.post("/bookings/{capacity_booking_id}/decline")
def decline(
    capacity_booking_id: DbId,
    data: AnswerIn,
    db: Session = Depends(get_db),
    actor: Actor = requires(CAPACITY_MANAGE),
) -> dict[str, Any]:
    return service.booking_out(service.decline_booking(db, actor, capacity_booking_id, data.answer))


@router.post("/bookings/{capacity_booking_id}/cancel")
def cancel(
    capacity_booking_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)
) -> dict[str, Any]:
    return service.booking_out(service.cancel_booking(db, actor, capacity_booking_id))
