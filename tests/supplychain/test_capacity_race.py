"""Two confirmations of bookings for the same machine hours at the same moment, on PostgreSQL: exactly one wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from chaoyun import timefmt
from chaoyun.apps.oee.calendar import LOCAL
from chaoyun.db import get_sessionmaker
from chaoyun.errors import AppError
from chaoyun.identity.models import Membership, User
from chaoyun.identity.permissions import Actor
from chaoyun.settings import get_settings
from chaoyun.supplychain.capacity import service
from chaoyun.supplychain.capacity.models import CapacitySlot
from chaoyun.supplychain.capacity.service import BookingIn, OfferIn
from tests.apps.helpers import new_device
from tests.supplychain.capacity_terms_helpers import admin, enterprise

pytestmark = pytest.mark.skipif(
    get_settings().is_sqlite, reason="concurrency test needs PostgreSQL (SQLite serialises all writers)"
)


def fire(jobs: list[Callable[[Any], None]]) -> tuple[int, list[str]]:
    barrier = threading.Barrier(len(jobs))
    ok: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(job: Callable[[Any], None]) -> None:
        with get_sessionmaker()() as s:
            barrier.wait()
            try:
                job(s)
                with lock:
                    ok.append(1)
            except AppError as exc:
                s.rollback()
                with lock:
                    errors.append(exc.msgid)

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return len(ok), errors


def as_actor(s: Any, user_id: int, membership_id: int) -> Actor:
    return Actor(user=s.get(User, user_id), membership=s.get(Membership, membership_id))


@pytest.mark.postgres
def test_two_bookings_same_hours_exactly_one_confirmed(db: Any) -> None:
    owner_org = enterprise(db, "并发产能")
    owner = admin(db, owner_org)
    dev = new_device(db, owner_org.id, "injection_moulding", "唯一注塑机")
    today = timefmt.local_today()
    offer = service.publish_offer(
        db,
        owner,
        OfferIn(
            machine_type="injection_moulding",
            hours_per_week=40,
            price_per_hour="99.50",  # type: ignore[arg-type]
            valid_from=today,
            valid_until=today + timedelta(days=40),
        ),
    )
    day: date = today + timedelta(days=10)
    ids = []
    for i in range(4):
        r = admin(db, enterprise(db, f"抢产能{i}"))
        b = service.request_booking(
            db,
            r,
            offer.id,
            BookingIn(
                start=datetime(day.year, day.month, day.day, 8 + i % 2, tzinfo=LOCAL),
                end=datetime(day.year, day.month, day.day, 12, tzinfo=LOCAL),
            ),
        )
        ids.append(b.id)
    uid, mid = owner.user.id, owner.membership.id

    def confirm(bid: int) -> Callable[[Any], None]:
        return lambda s: service.confirm_booking(s, as_actor(s, uid, mid), bid)

    n, errors = fire([confirm(i) for i in ids])
    assert n == 1, errors
    assert len(errors) == 3
    slots = db.execute(select(func.count()).select_from(CapacitySlot).where(CapacitySlot.device_id == dev.id))
    assert slots.scalar_one() in (3, 4)
