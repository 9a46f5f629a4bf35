"""Pages of capacity sharing: the enterprise's idle capacity with its proposal, its offers and the bookings it
answers or asked for; the search over other enterprises' offers with a booking form on each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.oee.calendar import LOCAL
from chaoyun.db import get_db
from chaoyun.errors import AppError, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, get_locale
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import District
from chaoyun.supplychain.capacity import labels, service
from chaoyun.supplychain.capacity.permissions import CAPACITY_MANAGE, CAPACITY_READ
from chaoyun.supplychain.capacity.service import BookingIn, OfferIn
from chaoyun.supplychain.terms.money import yuan
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import render
from chaoyun.web.validation import field_errors

router = APIRouter(include_in_schema=False)
BASE = "/supplychain/capacity"

nav.register(
    nav.NavItem("enterprise", N_("Shared capacity"), BASE, CAPACITY_READ, 60, group="production"),
    nav.NavItem("enterprise", N_("Find capacity"), f"{BASE}/search", CAPACITY_READ, 61, group="production"),
)


def _todos(db: Session, actor: Actor) -> list[nav.Todo]:
    if actor.audience != "enterprise" or not actor.has(CAPACITY_MANAGE):
        return []
    n = service.pending_requests(db, actor.org_id)
    return [nav.Todo(N_("Capacity bookings to answer"), n, f"{BASE}#incoming", 50)]


nav.register_todo("supplychain_capacity", _todos)

FLASH = {
    "published": N_("Offer published."),
    "withdrawn": N_("Offer withdrawn."),
    "requested": N_("Booking requested: the owner will confirm or decline it."),
    "confirmed": N_("Booking confirmed: the hours are blocked on the machine and the order is created."),
    "declined": N_("Booking declined."),
    "cancelled": N_("Booking request withdrawn."),
}


def _parse(form: FormState, model: type[BaseModel], values: dict[str, Any]) -> Any:
    clean = {k: v for k, v in values.items() if v not in ("", None)}
    try:
        return model(**clean)
    except ValidationError as exc:
        zh = get_locale() != "en"
        for fe in field_errors(exc.errors()):
            name = fe["field"].split(".")[0] if fe["field"] not in ("", "body") else next(iter(values), "")
            form.errors.setdefault(name, fe["message_zh"] if zh else fe["message_en"])
        return None


def _refused(db: Session, form: FormState, exc: AppError) -> None:
    db.rollback()
    form.release()
    if isinstance(exc, NotFound | Forbidden):
        raise exc
    form.fail(exc)


def _once(form: FormState, save: Callable[[], str]) -> Response | None:
    """Save once per form token: a second click is sent where the first one went."""
    repeat = form.first_submission()
    if repeat is not None:
        return RedirectResponse(repeat or BASE, status_code=303)
    url = save()
    form.submitted(url)
    return RedirectResponse(url, status_code=303)


def _local_dt(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=LOCAL)
    except ValueError:
        raise Invalid(N_("Enter a date and time, e.g. 2026-12-14 08:00."), field=field) from None


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _home(request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200) -> Response:
    idle = service.idle_capacity(db, actor.org_id)
    types = service.machine_types(db, actor)
    offers = service.own_offers(db, actor.org_id)
    incoming = service.bookings(db, actor.org_id, "owner")
    outgoing = service.bookings(db, actor.org_id, "requester")
    keys = {o.machine_type for o in offers} | {t.machine_type for t in idle} | set(types)
    orgs = {b.requester_org_id for b in incoming} | {b.owner_org_id for b in outgoing}
    today = timefmt.local_today()
    return render(
        request,
        "sc_capacity/home.html",
        {
            "flash": FLASH.get(request.query_params.get("msg", "")),
            "idle": idle,
            "types": types,
            "offers": offers,
            "incoming": incoming,
            "outgoing": outgoing,
            "names": service.type_names(db, keys),
            "orgs": service.org_names(db, orgs),
            "devices": {b.device_id: service.device_name(db, b.device_id) for b in incoming if b.device_id},
            "labels": labels,
            "yuan": yuan,
            "can_manage": actor.has(CAPACITY_MANAGE),
            "form": form or FormState(),
            "today": today.isoformat(),
            "until": date(today.year + (today.month + 2) // 13, (today.month + 2) % 12 or 12, 1).isoformat(),
        },
        status=status,
    )


@router.get(BASE)
def home(request: Request, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_READ)) -> Response:
    return _home(request, db, actor)


@router.post(f"{BASE}/offers")
async def publish(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    data = _parse(
        form,
        OfferIn,
        {
            k: form.get(k).strip()
            for k in ("machine_type", "capability", "hours_per_week", "price_per_hour", "valid_from", "valid_until")
        },
    )
    if data is not None and form.ok:
        try:
            done = _once(form, lambda: (service.publish_offer(db, actor, data), f"{BASE}?msg=published")[1])
            if done is not None:
                return done
        except AppError as exc:
            _refused(db, form, exc)
    return _home(request, db, actor, form, form.status)


async def _action(
    request: Request, db: Session, actor: Actor, fn: Callable[[], Any], msg: str, back: str = BASE
) -> Response:
    form = await FormState.read(request, actor)
    try:
        fn()
        return RedirectResponse(f"{back}?msg={msg}", status_code=303)
    except AppError as exc:
        _refused(db, form, exc)
    return _home(request, db, actor, form, form.status)


@router.post(f"{BASE}/offers/{{capacity_offer_id}}/withdraw")
async def withdraw(
    request: Request, capacity_offer_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)
) -> Response:
    return await _action(request, db, actor, lambda: service.withdraw_offer(db, actor, capacity_offer_id), "withdrawn")


@router.post(f"{BASE}/bookings/{{capacity_booking_id}}/confirm")
async def confirm(
    request: Request, capacity_booking_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)
) -> Response:
    return await _action(
        request, db, actor, lambda: service.confirm_booking(db, actor, capacity_booking_id), "confirmed"
    )


@router.post(f"{BASE}/bookings/{{capacity_booking_id}}/decline")
async def decline(
    request: Request, capacity_booking_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    answer = form.get("answer").strip()[:200]
    try:
        service.decline_booking(db, actor, capacity_booking_id, answer)
        return RedirectResponse(f"{BASE}?msg=declined", status_code=303)
    except AppError as exc:
        _refused(db, form, exc)
    return _home(request, db, actor, form, form.status)


@router.post(f"{BASE}/bookings/{{capacity_booking_id}}/cancel")
async def cancel(
    request: Request, capacity_booking_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)
) -> Response:
    return await _action(
        request, db, actor, lambda: service.cancel_booking(db, actor, capacity_booking_id), "cancelled"
    )


# ---------------------------------------------------------------- search and booking


def _search(
    request: Request,
    db: Session,
    actor: Actor,
    form: FormState | None = None,
    status: int = 200,
    sent: int | None = None,
) -> Response:
    q = request.query_params
    machine_type = (q.get("machine_type") or "")[:64]
    district = q.get("district") or ""
    district = district if district in {d.value for d in District} else ""
    first, last = _date(q.get("first_day")), _date(q.get("last_day"))
    hits = service.search_offers(db, actor, machine_type or None, district or None, first, last)
    keys = {h.offer.machine_type for h in hits} | set(service.all_offered_types(db))
    return render(
        request,
        "sc_capacity/search.html",
        {
            "flash": FLASH.get(q.get("msg", "")),
            "hits": hits,
            "names": service.type_names(db, keys),
            "type_keys": sorted(keys),
            "districts": [d.value for d in District],
            "machine_type": machine_type,
            "district": district,
            "first_day": first.isoformat() if first else "",
            "last_day": last.isoformat() if last else "",
            "yuan": yuan,
            "can_manage": actor.has(CAPACITY_MANAGE),
            "form": form or FormState(),
            "sent": sent,
            "new_token": lambda: FormState().token,
        },
        status=status,
    )


@router.get(f"{BASE}/search")
def search(request: Request, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_READ)) -> Response:
    return _search(request, db, actor)


@router.post(f"{BASE}/offers/{{capacity_offer_id}}/book")
async def book(
    request: Request, capacity_offer_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(CAPACITY_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    start = form.check("start", lambda: _local_dt(form.get("start").strip(), "start"))
    end = form.check("end", lambda: _local_dt(form.get("end").strip(), "end"))
    if start is None and "start" not in form.errors:
        form.errors["start"] = Invalid(N_("Enter a date and time, e.g. 2026-12-14 08:00.")).message()
    if end is None and "end" not in form.errors:
        form.errors["end"] = Invalid(N_("Enter a date and time, e.g. 2026-12-14 08:00.")).message()
    data = None
    if form.ok:
        data = _parse(
            form,
            BookingIn,
            {"start": start, "end": end, "item_name": form.get("item_name").strip(), "note": form.get("note").strip()},
        )
    if data is not None and form.ok:
        try:
            done = _once(
                form,
                lambda: (service.request_booking(db, actor, capacity_offer_id, data), f"{BASE}?msg=requested#outgoing")[
                    1
                ],
            )
            if done is not None:
                return done
        except AppError as exc:
            _refused(db, form, exc)
    return _search(request, db, actor, form, form.status, sent=capacity_offer_id)
