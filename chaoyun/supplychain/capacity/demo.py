"""Demo of capacity sharing: offers computed from the demo machines' real OEE loading (the simulator's history
read by the same rules as real telemetry), one booking confirmed by the owner (hours blocked on a machine, an
order between the two firms) and one waiting for an answer. Idempotent: nothing is added once offers exist.

Run by ``chaoyun demo`` after the simulated machine history and the supply-chain seed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.oee.calendar import LOCAL
from chaoyun.devices.demo import demo_orgs
from chaoyun.errors import AppError
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.supplychain.capacity import service
from chaoyun.supplychain.capacity.models import CapacityOffer
from chaoyun.supplychain.capacity.service import BookingIn, OfferIn

FIRMS = 4
OFFER_DAYS = 90
# Hourly rates asked in the cluster for machine time with an operator (a business input, not a computed figure).
PRICES = {"injection_moulding": Decimal("95.00"), "cnc": Decimal("160.00"), "blow_moulding": Decimal("110.00")}
DEFAULT_PRICE = Decimal("100.00")


def admin_of(db: Session, org: Organisation) -> Actor | None:
    row = db.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org.id, Membership.role == Role.ENTERPRISE_ADMIN.value)
        .order_by(Membership.id)
    ).first()
    return Actor(row[0], row[1]) if row else None


def system_actor(org: Organisation) -> Actor:
    """For firms without accounts: the seeding acts for the enterprise (audited as "demo"; never added)."""
    m = Membership(org_id=org.id, role=Role.ENTERPRISE_ADMIN.value)
    m.org = org
    return Actor(User(username="demo", display_name="demo"), m)


def seed(db: Session, now: datetime | None = None) -> dict[str, int]:
    made = {"offers": 0, "bookings": 0, "confirmed": 0}
    if db.execute(select(CapacityOffer.id)).first() is not None:
        return made
    now = now or datetime.now(UTC)
    today = timefmt.to_local(now).date()
    firms = demo_orgs(db)
    offers: list[CapacityOffer] = []
    for org in firms[:FIRMS]:
        actor = admin_of(db, org) or system_actor(org)
        for t in service.idle_capacity(db, org.id, today):
            if t.loading_pct is None or t.proposed_h_week < 4:
                continue
            price = PRICES.get(t.machine_type, DEFAULT_PRICE)
            data = OfferIn(
                machine_type=t.machine_type,
                capability=f"{t.name_zh} ×{t.machines}，实测负荷率 {t.loading_pct}%，带操作工",
                hours_per_week=t.proposed_h_week,
                price_per_hour=price,
                valid_from=today,
                valid_until=today + timedelta(days=OFFER_DAYS),
            )
            offers.append(service.publish_offer(db, actor, data, today))
            made["offers"] += 1
    # Requests from the two firms with accounts: `factory` books another firm's hours next week and the owner
    # confirms; `factory2` asks for hours the owner has not answered yet.
    monday = today + timedelta(days=7 - today.weekday())
    for k, org in enumerate(firms[:2]):
        requester = admin_of(db, org)
        offer = next((o for o in offers if o.org_id != org.id), None)
        if requester is None or offer is None:
            continue
        day = monday + timedelta(days=1 + k)
        hours = min(4, offer.hours_per_week)
        start = datetime(day.year, day.month, day.day, 8, tzinfo=LOCAL)
        try:
            b = service.request_booking(
                db,
                requester,
                offer.id,
                BookingIn(start=start, end=start + timedelta(hours=hours), item_name="外协加工 玩具外壳"),
                now=now,
            )
            made["bookings"] += 1
            if k == 0:
                owner_org = db.get(Organisation, offer.org_id)
                assert owner_org is not None
                service.confirm_booking(db, admin_of(db, owner_org) or system_actor(owner_org), b.id)
                made["confirmed"] += 1
        except AppError:
            db.rollback()
    return made
