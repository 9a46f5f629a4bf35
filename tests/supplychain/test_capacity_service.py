"""Capacity sharing: idle hours from real OEE loading, offers, search, bookings; a confirmed booking blocks the
machine hours (planned downtime the scheduler reads) and becomes an order between the two enterprises."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.models import ShiftCalendar
from chaoyun.apps.oee.calendar import LOCAL
from chaoyun.apps.scheduling import build
from chaoyun.errors import Conflict, Invalid
from chaoyun.supplychain.capacity import service
from chaoyun.supplychain.capacity.models import CapacitySlot
from chaoyun.supplychain.capacity.service import BookingIn, OfferIn
from chaoyun.supplychain.models import PurchaseOrder
from tests.apps.helpers import feed, local, new_device
from tests.supplychain.capacity_terms_helpers import admin, enterprise

MONDAY = date(2026, 11, 30)  # the four weeks before hold no public holiday


def test_idle_capacity_from_oee_loading(db: Session) -> None:
    org = enterprise(db, "注塑厂")
    db.add(
        ShiftCalendar(
            org_id=org.id,
            shifts=[{"key": "A", "name": "A", "start": "08:00", "end": "16:00", "breaks": [["12:00", "12:30"]]}],
            small_stop_s=300,
        )
    )
    db.commit()
    d = new_device(db, org.id, "injection_moulding", "1号注塑机")
    # Every day of the four weeks: running 08:00–12:00, then idle (3.5 of the 7.5 planned hours unused).
    pts = []
    for k in range(1, 29):
        day = MONDAY - timedelta(days=k)
        pts += [(local(day.year, day.month, day.day, 7), {"state": "running"})]
        pts += [(local(day.year, day.month, day.day, 12), {"state": "idle"})]
    feed(db, d, sorted(pts, key=lambda p: p[0]), local(2026, 11, 30, 1))
    [t] = service.idle_capacity(db, org.id, today=MONDAY)
    assert t.machine_type == "injection_moulding" and t.machines == 1
    assert t.first_day == MONDAY - timedelta(days=28) and t.last_day == MONDAY - timedelta(days=1)
    assert t.loading_pct == round(100 * 4 / 7.5)
    assert t.planned_h_week > 0
    assert t.idle_h_week == pytest.approx(t.planned_h_week * 3.5 / 7.5, abs=0.1)
    assert t.proposed_h_week == int(t.idle_h_week * 0.8)


def _next_monday() -> date:
    today = timefmt.local_today()
    return today + timedelta(days=7 - today.weekday() + 7)


def _hours(day: date, a: int, b: int) -> BookingIn:
    return BookingIn(
        start=datetime(day.year, day.month, day.day, a, tzinfo=LOCAL),
        end=datetime(day.year, day.month, day.day, b, tzinfo=LOCAL),
        item_name="外协注塑 玩具外壳",
    )


def test_publish_search_book_confirm_blocks_hours_and_orders(db: Session) -> None:
    owner_org, req_org, other_org = enterprise(db, "有闲置产能"), enterprise(db, "缺产能"), enterprise(db, "也缺")
    owner, req, other = admin(db, owner_org), admin(db, req_org), admin(db, other_org)
    dev = new_device(db, owner_org.id, "injection_moulding", "共享注塑机")
    today = timefmt.local_today()
    with pytest.raises(Invalid) as exc:
        service.publish_offer(
            db,
            owner,
            OfferIn(
                machine_type="cnc",
                hours_per_week=10,
                price_per_hour=Decimal("80"),
                valid_from=today,
                valid_until=today + timedelta(days=30),
            ),
        )
    assert exc.value.field == "machine_type"
    with pytest.raises(Invalid) as exc:
        service.publish_offer(
            db,
            owner,
            OfferIn(
                machine_type="injection_moulding",
                hours_per_week=10,
                price_per_hour=Decimal("-1"),
                valid_from=today,
                valid_until=today + timedelta(days=30),
            ),
        )
    assert exc.value.field == "price_per_hour"
    offer = service.publish_offer(
        db,
        owner,
        OfferIn(
            machine_type="injection_moulding",
            capability="250 吨, ABS/PP",
            hours_per_week=20,
            price_per_hour=Decimal("150.00"),
            valid_from=today,
            valid_until=today + timedelta(days=60),
        ),
    )
    hits = service.search_offers(db, req, machine_type="injection_moulding", district="chenghai")
    assert offer.id in {h.offer.id for h in hits}
    assert offer.id not in {h.offer.id for h in service.search_offers(db, owner, machine_type="injection_moulding")}
    assert offer.id not in {h.offer.id for h in service.search_offers(db, req, district="jinping")}
    day = _next_monday()
    with pytest.raises(Invalid):
        service.request_booking(db, req, offer.id, _hours(day, 8, 8))
    with pytest.raises(Invalid):  # more than the offer's 20 hours in one week
        service.request_booking(
            db,
            req,
            offer.id,
            BookingIn(
                start=datetime(day.year, day.month, day.day, 0, tzinfo=LOCAL),
                end=datetime(day.year, day.month, day.day, 0, tzinfo=LOCAL) + timedelta(hours=21),
            ),
        )
    a = service.request_booking(db, req, offer.id, _hours(day, 8, 12))
    b = service.request_booking(db, other, offer.id, _hours(day, 10, 14))
    assert a.hours == 4 and a.amount_fen == 60000
    a = service.confirm_booking(db, owner, a.id)
    assert a.state == "confirmed" and a.device_id == dev.id and a.order_id
    po = db.get(PurchaseOrder, a.order_id)
    assert po is not None and po.buyer_org_id == req_org.id and po.supplier_org_id == owner_org.id
    assert po.source == "capacity" and po.reference == f"CB-{a.id}"
    assert po.lines[0].quantity == 4 and po.lines[0].unit_price == Decimal("150.00")
    # The hours are the machine's planned downtime: the scheduler reads them as blocked.
    origin = datetime(day.year, day.month, day.day, 0, tzinfo=LOCAL).astimezone(UTC)
    blocked = build.machine_downtime(db, owner_org.id, [str(dev.id)], origin, 24 * 3600)
    assert blocked == {str(dev.id): [(8 * 3600, 12 * 3600)]}
    # The overlapping request cannot take the same machine hours; a second confirmation is refused.
    with pytest.raises(Conflict):
        service.confirm_booking(db, owner, b.id)
    with pytest.raises(Conflict):
        service.confirm_booking(db, owner, a.id)
    assert len(db.execute(select(CapacitySlot).where(CapacitySlot.device_id == dev.id)).all()) == 4
    service.decline_booking(db, owner, b.id, "那几个小时已订满")
    # Requester cannot confirm; owner cannot cancel the requester's request.
    c = service.request_booking(db, other, offer.id, _hours(day, 13, 15))
    with pytest.raises(Exception):  # noqa: B017
        service.confirm_booking(db, other, c.id)
    service.cancel_booking(db, other, c.id)
    with pytest.raises(Conflict):
        service.cancel_booking(db, other, c.id)
    service.withdraw_offer(db, owner, offer.id)
    assert offer.id not in {h.offer.id for h in service.search_offers(db, req)}
