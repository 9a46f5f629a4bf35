"""Capacity sharing rules: idle hours per machine type from real OEE loading, offers, search, bookings.

Idle capacity of a machine type = its machines' planned production hours per week (shift calendar minus breaks,
holidays and planned downtime, as OEE counts it, averaged over the last four full weeks) × (1 − loading), where
loading = operating time (running plus small stops) ÷ planned time in which the machines reported their state
(time without any report is not counted either way: a machine connected a week ago is judged on that week). The
proposal keeps a fifth of it in reserve for the owner's own rush orders.

A confirmed booking takes one machine of the type for whole hours: one ``CapacitySlot`` row per hour (primary key
machine + hour, so two confirmations of the same hours cannot both commit), the hours as the machine's planned
downtime (``apps.oee.service.put_machine_downtime``: OEE leaves them out, the scheduler plans around them) and a
purchase order from the requester to the owner (``supplychain.public.create_order``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.oee import service as oee
from chaoyun.apps.oee.calendar import LOCAL
from chaoyun.devices import service as devices
from chaoyun.devices.models import Device, DeviceModel
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, Msgid
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import EnterpriseProfile, Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.supplychain.capacity.labels import BOOKING_STATES
from chaoyun.supplychain.capacity.models import CapacityBooking, CapacityOffer, CapacitySlot
from chaoyun.supplychain.capacity.permissions import CAPACITY_MANAGE
from chaoyun.supplychain.service import notify
from chaoyun.supplychain.terms.money import parse_amount, to_fen, yuan

LOOKBACK_WEEKS = 4
RESERVE = Decimal("0.2")
MAX_OFFER_DAYS = 366
MAX_BOOKING_HOURS = 24 * 31
HOUR = timedelta(hours=1)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


# ---------------------------------------------------------------- idle capacity


@dataclass
class IdleType:
    machine_type: str
    name_zh: str
    name_en: str
    machines: int
    planned_h_week: float  # planned production time with a state report, per week
    operating_h_week: float
    loading_pct: int | None
    idle_h_week: float
    proposed_h_week: int
    first_day: date
    last_day: date


_CACHE: dict[tuple[str, int, date], tuple[float, list[IdleType]]] = {}
CACHE_S = 900.0  # four weeks of telemetry change little within a quarter of an hour; pages reuse the figures


def idle_capacity(db: Session, org_id: int, today: date | None = None, fresh: bool = False) -> list[IdleType]:
    """Idle hours per week of each machine type over the last four full weeks (see the module's docstring).
    Kept for a quarter of an hour per enterprise and day (the OEE of four weeks of telemetry takes seconds)."""
    today = today or timefmt.to_local(datetime.now(UTC)).date()
    key = (str(db.get_bind().engine.url), org_id, today)
    hit = _CACHE.get(key)
    if hit is not None and not fresh and time.monotonic() - hit[0] < CACHE_S:
        return hit[1]
    out = _idle_capacity(db, org_id, today)
    _CACHE[key] = (time.monotonic(), out)
    return out


def _idle_capacity(db: Session, org_id: int, today: date) -> list[IdleType]:
    last = today - timedelta(days=1)
    first = last - timedelta(days=7 * LOOKBACK_WEEKS - 1)
    period = oee.compute_period(db, org_id, first, last)
    groups: dict[str, list[oee.MachineOee]] = {}
    for m in period.machines:
        groups.setdefault(m.device.model.key, []).append(m)
    out = []
    weeks = float(LOOKBACK_WEEKS)
    for key, ms in sorted(groups.items()):
        planned = observed = operating = 0.0
        for m in ms:
            o = period.summary([m])
            planned += o.planned_s
            observed += max(o.planned_s - o.no_signal_s, 0.0)
            operating += o.operating_s
        loading = min(operating / observed, 1.0) if observed > 0 else None
        planned_h = planned / 3600 / weeks
        idle = planned_h * (1 - loading) if loading is not None else 0.0
        model = ms[0].device.model
        out.append(
            IdleType(
                machine_type=key,
                name_zh=model.name_zh,
                name_en=model.name_en,
                machines=len(ms),
                planned_h_week=round(planned_h, 1),
                operating_h_week=round(planned_h * loading, 1) if loading is not None else 0.0,
                loading_pct=round(100 * loading) if loading is not None else None,
                idle_h_week=round(idle, 1),
                proposed_h_week=math.floor(idle * float(1 - RESERVE)),
                first_day=first,
                last_day=last,
            )
        )
    return out


def machine_types(db: Session, actor: Actor) -> dict[str, tuple[DeviceModel, int]]:
    """The enterprise's machine types (device models of its enabled machines) with how many machines each."""
    out: dict[str, tuple[DeviceModel, int]] = {}
    for d in devices.list_devices(db, actor):
        if d.enabled and d.org_id == actor.org_id:
            m, n = out.get(d.model.key, (d.model, 0))
            out[d.model.key] = (m, n + 1)
    return out


def type_names(db: Session, keys: set[str]) -> dict[str, DeviceModel]:
    if not keys:
        return {}
    return {m.key: m for m in db.execute(select(DeviceModel).where(DeviceModel.key.in_(keys))).scalars()}


# ---------------------------------------------------------------- offers


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    machine_type: str = Field(min_length=1, max_length=64)
    capability: str = Field("", max_length=300)
    hours_per_week: int = Field(ge=1, le=168 * 100)
    price_per_hour: Decimal = Field(max_digits=14, decimal_places=2)
    valid_from: date
    valid_until: date


def _local_today() -> date:
    return timefmt.to_local(datetime.now(UTC)).date()


def publish_offer(db: Session, actor: Actor, data: OfferIn, today: date | None = None) -> CapacityOffer:
    _manage(actor)
    today = today or _local_today()
    types = machine_types(db, actor)
    if data.machine_type not in types:
        raise Invalid(N_("Your enterprise has no machine of this type."), field="machine_type")
    price = parse_amount(data.price_per_hour, "price_per_hour")
    _model, count = types[data.machine_type]
    if data.hours_per_week > 168 * count:
        raise Invalid(
            N_("At most %(hours)s hours a week: %(n)s machines of this type, 168 hours each."),
            field="hours_per_week",
            hours=168 * count,
            n=count,
        )
    if data.valid_from < today:
        raise Invalid(N_("The period cannot start in the past."), field="valid_from")
    if data.valid_until < data.valid_from:
        raise Invalid(N_("The end of the period must not be before its start."), field="valid_until")
    if (data.valid_until - data.valid_from).days >= MAX_OFFER_DAYS:
        raise Invalid(N_("An offer runs for at most a year."), field="valid_until")
    idle = {t.machine_type: t for t in idle_capacity(db, actor.org_id, today)}
    t = idle.get(data.machine_type)
    offer = CapacityOffer(
        org_id=actor.org_id,
        machine_type=data.machine_type,
        capability=data.capability.strip(),
        hours_per_week=data.hours_per_week,
        price_fen=to_fen(price),
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        idle_hours_per_week=t.proposed_h_week if t else 0,
        loading_pct=t.loading_pct if t else None,
        created_by=actor.user.username,
    )
    db.add(offer)
    db.flush()
    record_by(db, actor, "publish", "capacity_offer", offer.id, after=offer_out(offer))
    db.commit()
    return offer


def withdraw_offer(db: Session, actor: Actor, offer_id: int) -> CapacityOffer:
    _manage(actor)
    offer = get_own_offer(db, actor, offer_id)
    if offer.state != "published":
        raise Conflict(N_("This offer is already withdrawn."))
    offer.state = "withdrawn"
    record_by(db, actor, "withdraw", "capacity_offer", offer.id)
    db.commit()
    return offer


def get_own_offer(db: Session, actor: Actor, offer_id: int) -> CapacityOffer:
    o = db.get(CapacityOffer, offer_id)
    if o is None or o.org_id != actor.org_id:
        raise NotFound(N_("No such capacity offer."))
    return o


def get_offer(db: Session, actor: Actor, offer_id: int) -> CapacityOffer:
    """An offer the actor may see: its own, or another's that is published."""
    o = db.get(CapacityOffer, offer_id)
    if o is None or (o.org_id != actor.org_id and o.state != "published"):
        raise NotFound(N_("No such capacity offer."))
    return o


def own_offers(db: Session, org_id: int) -> list[CapacityOffer]:
    stmt = select(CapacityOffer).where(CapacityOffer.org_id == org_id).order_by(CapacityOffer.id.desc())
    return list(db.execute(stmt).scalars())


@dataclass
class OfferHit:
    offer: CapacityOffer
    org_name: str
    district: str | None
    cluster: str | None


def search_offers(
    db: Session,
    actor: Actor,
    machine_type: str | None = None,
    district: str | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
    limit: int = 200,
) -> list[OfferHit]:
    """Published offers of other enterprises still running, by machine type, district and a date range they
    overlap."""
    first_day = first_day or _local_today()
    stmt = (
        select(CapacityOffer, Organisation.name, Organisation.district, EnterpriseProfile.cluster)
        .join(Organisation, Organisation.id == CapacityOffer.org_id)
        .outerjoin(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
        .where(
            CapacityOffer.state == "published",
            CapacityOffer.org_id != actor.org_id,
            CapacityOffer.valid_until >= first_day,
            Organisation.status == "active",
        )
    )
    if machine_type:
        stmt = stmt.where(CapacityOffer.machine_type == machine_type)
    if district:
        stmt = stmt.where(Organisation.district == district)
    if last_day:
        stmt = stmt.where(CapacityOffer.valid_from <= last_day)
    rows = db.execute(stmt.order_by(CapacityOffer.price_fen, CapacityOffer.id).limit(limit)).all()
    return [OfferHit(o, name, dist, cl) for o, name, dist, cl in rows]


def offer_out(o: CapacityOffer) -> dict[str, Any]:
    return {
        "id": o.id,
        "org_id": o.org_id,
        "machine_type": o.machine_type,
        "capability": o.capability,
        "hours_per_week": o.hours_per_week,
        "price_per_hour": str(yuan(o.price_fen)),
        "valid_from": o.valid_from.isoformat(),
        "valid_until": o.valid_until.isoformat(),
        "idle_hours_per_week": o.idle_hours_per_week,
        "loading_pct": o.loading_pct,
        "state": o.state,
    }


# ---------------------------------------------------------------- bookings


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime
    item_name: str = Field("", max_length=200)
    note: str = Field("", max_length=200)


def _aware(dt: datetime, field: str = "start") -> datetime:
    try:
        out = (dt if dt.tzinfo else dt.replace(tzinfo=LOCAL)).astimezone(UTC)
    except (OverflowError, ValueError):
        raise Invalid(N_("Enter a date and time between 2000 and 2100."), field=field) from None
    if not 2000 <= out.year <= 2100:
        raise Invalid(N_("Enter a date and time between 2000 and 2100."), field=field)
    return out


def _week_hours(start: datetime, end: datetime) -> dict[tuple[int, int], int]:
    """Hours of [start, end) per ISO week of the local calendar."""
    out: dict[tuple[int, int], int] = {}
    t = start
    while t < end:
        iso = timefmt.to_local(t).isocalendar()
        out[(iso[0], iso[1])] = out.get((iso[0], iso[1]), 0) + 1
        t += HOUR
    return out


def request_booking(
    db: Session, actor: Actor, offer_id: int, data: BookingIn, now: datetime | None = None
) -> CapacityBooking:
    _manage(actor)
    offer = get_offer(db, actor, offer_id)
    if offer.org_id == actor.org_id:
        raise Invalid(N_("You cannot book your own offer."))
    if offer.state != "published":
        raise Conflict(N_("This offer has been withdrawn."))
    now = now or datetime.now(UTC)
    start, end = _aware(data.start), _aware(data.end, "end")
    if start.minute or start.second or start.microsecond or end.minute or end.second or end.microsecond:
        raise Invalid(N_("Bookings are in whole hours (e.g. 08:00 to 12:00)."), field="start")
    if end <= start:
        raise Invalid(N_("The end must be after the start."), field="end")
    if start < now:
        raise Invalid(N_("The booking cannot start in the past."), field="start")
    hours = int((end - start) / HOUR)
    if hours > MAX_BOOKING_HOURS:
        raise Invalid(N_("At most %(hours)s hours in one booking."), field="end", hours=MAX_BOOKING_HOURS)
    first, last = timefmt.to_local(start).date(), timefmt.to_local(end - HOUR).date()
    if first < offer.valid_from or last > offer.valid_until:
        raise Invalid(N_("The hours must lie within the offer's period."), field="start")
    per_week = _week_hours(start, end)
    if max(per_week.values()) > offer.hours_per_week:
        raise Invalid(N_("The offer has at most %(hours)s hours a week."), field="end", hours=offer.hours_per_week)
    b = CapacityBooking(
        offer_id=offer.id,
        owner_org_id=offer.org_id,
        requester_org_id=actor.org_id,
        start=start,
        end=end,
        hours=hours,
        amount_fen=hours * offer.price_fen,
        item_name=data.item_name.strip(),
        note=data.note.strip(),
        requested_by=actor.user.username,
        requested_by_id=actor.user.id,
    )
    db.add(b)
    db.flush()
    record_by(db, actor, "create", "capacity_booking", b.id, after=booking_out(b))
    notify(
        db,
        offer.org_id,
        "capacity_requested",
        N_("%(org)s asks to book %(hours)s machine hours of your shared capacity from %(start)s (CB-%(id)s)."),
        org=actor.org.name,
        hours=hours,
        start=timefmt.format_dt(start),
        id=b.id,
    )
    db.commit()
    return b


def get_booking(db: Session, actor: Actor, booking_id: int) -> CapacityBooking:
    b = db.get(CapacityBooking, booking_id)
    if b is None or actor.org_id not in (b.owner_org_id, b.requester_org_id):
        raise NotFound(N_("No such booking."))
    return b


def bookings(db: Session, org_id: int, side: str) -> list[CapacityBooking]:
    col = CapacityBooking.owner_org_id if side == "owner" else CapacityBooking.requester_org_id
    stmt = select(CapacityBooking).where(col == org_id).order_by(CapacityBooking.id.desc()).limit(500)
    return list(db.execute(stmt).scalars())


def _manage(actor: Actor) -> None:
    if not actor.has(CAPACITY_MANAGE):
        raise Forbidden(N_("Your role may not manage shared capacity."))


def _decided(b: CapacityBooking) -> Conflict:
    return Conflict(
        N_("This booking has already been answered (%(state)s)."), state=Msgid(BOOKING_STATES.get(b.state, b.state))
    )


def _requester_actor(db: Session, b: CapacityBooking) -> Actor:
    """The requester's person the order is created as (the one who asked; else an admin of the requester)."""
    stmt = select(Membership).where(Membership.org_id == b.requester_org_id)
    rows = list(db.execute(stmt.order_by(Membership.id)).scalars())
    pick = next((m for m in rows if m.user_id == b.requested_by_id), None) or next(
        (m for m in rows if m.role == "enterprise_admin"), None
    )
    if pick is None:
        raise Conflict(N_("The requesting enterprise has nobody who could place the order."))
    user = db.get(User, pick.user_id)
    assert user is not None
    return Actor(user=user, membership=pick)


def confirm_booking(db: Session, actor: Actor, booking_id: int) -> CapacityBooking:
    """Confirm a requested booking: pick a free machine of the type, block its hours, create the order.

    Serialised per offer (the offer row is updated first: a row lock on PostgreSQL, the write lock on SQLite);
    the slots' primary key stops two confirmations of the same machine hours in any case. Nothing is saved
    unless everything is."""
    from chaoyun.supplychain.public import NewLine, create_order

    _manage(actor)
    b = get_booking(db, actor, booking_id)
    if b.owner_org_id != actor.org_id:
        raise NotFound(N_("No such booking."))
    offer_id = b.offer_id
    db.execute(update(CapacityOffer).where(CapacityOffer.id == offer_id).values(version=CapacityOffer.version + 1))
    db.refresh(b)
    if b.state != "requested":
        exc = _decided(b)
        db.rollback()
        raise exc
    offer = db.get(CapacityOffer, offer_id)
    assert offer is not None
    if offer.state != "published":
        db.rollback()
        raise Conflict(N_("This offer has been withdrawn."))
    start, end = b.start, b.end
    # Hours per week of the offer: what is already confirmed plus this booking.
    taken: dict[tuple[int, int], int] = {}
    for s, e in db.execute(
        select(CapacityBooking.start, CapacityBooking.end).where(
            CapacityBooking.offer_id == offer_id, CapacityBooking.state == "confirmed"
        )
    ):
        for k, v in _week_hours(s, e).items():
            taken[k] = taken.get(k, 0) + v
    for k, v in _week_hours(start, end).items():
        if taken.get(k, 0) + v > offer.hours_per_week:
            db.rollback()
            raise Conflict(
                N_("The offer's %(hours)s hours in week %(week)s are already booked."),
                hours=offer.hours_per_week,
                week=f"{k[0]}-W{k[1]:02d}",
            )
    hours = [start + i * HOUR for i in range(b.hours)]
    machine = None
    for d in devices.list_devices(db, actor, model=offer.machine_type):
        if not d.enabled or d.org_id != actor.org_id:
            continue
        busy = db.execute(
            select(func.count())
            .select_from(CapacitySlot)
            .where(CapacitySlot.device_id == d.id, CapacitySlot.hour >= start, CapacitySlot.hour < end)
        ).scalar_one()
        if not busy:
            machine = d
            break
    if machine is None:
        db.rollback()
        raise Conflict(N_("Every machine of this type is already booked for some of these hours."))
    try:
        with db.begin_nested():
            db.add_all([CapacitySlot(device_id=machine.id, hour=h, booking_id=b.id) for h in hours])
            db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(N_("These hours were just booked by someone else.")) from None
    down = oee.put_machine_downtime(
        db, actor.org_id, machine.id, start, end, f"共享产能预约 CB-{b.id} / capacity booking CB-{b.id}"
    )
    b.state, b.device_id, b.downtime_id = "confirmed", machine.id, down.id
    b.decided_by, b.decided_at = actor.user.username, datetime.now(UTC)
    record_by(db, actor, "approve", "capacity_booking", b.id, after={"device_id": machine.id, "hours": b.hours})
    db.flush()
    buyer = _requester_actor(db, b)
    model = offer.machine_type
    line = NewLine(
        item_code=f"CAP-{model}"[:64],
        item_name=(b.item_name or f"共享产能 {machine.model.name_zh} {b.hours} h")[:200],
        quantity=b.hours,
        unit_price=yuan(offer.price_fen),
        due_date=timefmt.to_local(end).date(),
    )
    try:
        order_id = create_order(db, buyer, actor.org_id, [line], reference=f"CB-{b.id}", source="capacity")
    except Exception:
        db.rollback()
        raise
    b = db.get(CapacityBooking, booking_id)  # type: ignore[assignment]
    assert b is not None
    b.order_id = order_id
    notify(
        db,
        b.requester_org_id,
        "capacity_confirmed",
        N_("%(org)s confirmed your booking CB-%(id)s: %(hours)s machine hours from %(start)s; the order is placed."),
        order_id=order_id,
        org=actor.org.name,
        id=b.id,
        hours=b.hours,
        start=timefmt.format_dt(b.start),
    )
    db.commit()
    return b


def decline_booking(db: Session, actor: Actor, booking_id: int, answer: str = "") -> CapacityBooking:
    _manage(actor)
    b = get_booking(db, actor, booking_id)
    if b.owner_org_id != actor.org_id:
        raise NotFound(N_("No such booking."))
    done = _rowcount(
        db.execute(
            update(CapacityBooking)
            .where(CapacityBooking.id == b.id, CapacityBooking.state == "requested")
            .values(state="declined", decided_by=actor.user.username, decided_at=datetime.now(UTC), answer=answer[:200])
        )
    )
    if not done:
        db.rollback()
        db.refresh(b)
        raise _decided(b)
    record_by(db, actor, "reject", "capacity_booking", b.id, after={"answer": answer[:200]})
    notify(
        db,
        b.requester_org_id,
        "capacity_declined",
        N_("%(org)s declined your booking CB-%(id)s."),
        org=actor.org.name,
        id=b.id,
    )
    db.commit()
    db.refresh(b)
    return b


def cancel_booking(db: Session, actor: Actor, booking_id: int) -> CapacityBooking:
    """The requester withdraws a request not answered yet."""
    _manage(actor)
    b = get_booking(db, actor, booking_id)
    if b.requester_org_id != actor.org_id:
        raise NotFound(N_("No such booking."))
    done = _rowcount(
        db.execute(
            update(CapacityBooking)
            .where(CapacityBooking.id == b.id, CapacityBooking.state == "requested")
            .values(state="cancelled", decided_at=datetime.now(UTC))
        )
    )
    if not done:
        db.rollback()
        db.refresh(b)
        raise _decided(b)
    record_by(db, actor, "cancel", "capacity_booking", b.id)
    db.commit()
    db.refresh(b)
    return b


def booked_hours(db: Session, device_id: int, start: datetime, end: datetime) -> int:
    return int(
        db.execute(
            select(func.count())
            .select_from(CapacitySlot)
            .where(and_(CapacitySlot.device_id == device_id, CapacitySlot.hour >= start, CapacitySlot.hour < end))
        ).scalar_one()
    )


def pending_requests(db: Session, org_id: int) -> int:
    return int(
        db.execute(
            select(func.count())
            .select_from(CapacityBooking)
            .where(CapacityBooking.owner_org_id == org_id, CapacityBooking.state == "requested")
        ).scalar_one()
    )


def booking_out(b: CapacityBooking) -> dict[str, Any]:
    return {
        "id": b.id,
        "number": f"CB-{b.id}",
        "offer_id": b.offer_id,
        "owner_org_id": b.owner_org_id,
        "requester_org_id": b.requester_org_id,
        "start": b.start.isoformat(),
        "end": b.end.isoformat(),
        "hours": b.hours,
        "amount": str(yuan(b.amount_fen)),
        "item_name": b.item_name,
        "note": b.note,
        "state": b.state,
        "device_id": b.device_id,
        "order_id": b.order_id,
        "answer": b.answer,
    }


def device_name(db: Session, device_id: int | None) -> str:
    d = db.get(Device, device_id) if device_id else None
    return d.name if d else ""


def org_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {i: n for i, n in db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids)))}


def all_offered_types(db: Session) -> list[str]:
    """Machine types of the published offers (the search form's choices)."""
    stmt = select(CapacityOffer.machine_type).where(CapacityOffer.state == "published").distinct()
    return [k for (k,) in db.execute(stmt).all()]
