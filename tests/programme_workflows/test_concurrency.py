"""Concurrent approvals on PostgreSQL: the round budget, the provider quota and the subsidy cap hold.

Threads with their own sessions fire the same kind of request at once; row locks and conditional
UPDATEs (backed by CHECK constraints) must let exactly as many through as the money allows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from chaoyun.db import get_sessionmaker
from chaoyun.errors import AppError
from chaoyun.identity import audit
from chaoyun.identity.models import Membership, User
from chaoyun.identity.permissions import Actor
from chaoyun.programme.workflow_models import VoucherProviderQuota, VoucherRound
from chaoyun.programme.workflows import vouchers
from chaoyun.settings import get_settings
from tests.programme_workflows.helpers import admin_of, claim, eligible_provider, make_round, rich_enterprises

pytestmark = pytest.mark.skipif(
    get_settings().is_sqlite,
    reason="concurrency test needs PostgreSQL (SQLite serialises all writers); CI runs it with CHAOYUN_DATABASE_URL",
)
D = Decimal


def _actor_in(db: Any, user_id: int, membership_id: int) -> Actor:
    user = db.get(User, user_id)
    m = db.get(Membership, membership_id)
    return Actor(user=user, membership=m)


def _fire(jobs: list[Callable[[Any], None]]) -> tuple[int, list[str]]:
    """Run every job at the same moment, each in its own session; count successes."""
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


@pytest.mark.postgres
def test_concurrent_confirmations_never_overspend_budget(db: Any) -> None:
    prov = eligible_provider(db)
    ents = [admin_of(db, e) for e in rich_enterprises(db, 10)]
    rnd = make_round(db, budget="15000", ratio="0.5")  # room for three vouchers of 5,000
    ids = []
    for e in ents:
        v = claim(db, e, rnd, prov, "10000")
        vouchers.act(db, e, v.id, "submit")
        ids.append(v.id)
    prov_user = db.execute(select(User).where(User.username == "provider")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == prov_user.id)).scalars().first()

    def confirm(vid: int) -> Callable[[Any], None]:
        return lambda s: vouchers.act(s, _actor_in(s, prov_user.id, m.id), vid, "confirm_contract")

    n, errors = _fire([confirm(i) for i in ids])
    assert n == 3, errors
    assert all("budget" in e for e in errors)
    db.expire_all()
    r = db.get(VoucherRound, rnd.id)
    assert r.committed == D("15000.00") == r.budget
    assert audit.verify(db).ok


@pytest.mark.postgres
def test_concurrent_confirmations_never_exceed_provider_quota(db: Any) -> None:
    prov = eligible_provider(db)
    ents = [admin_of(db, e) for e in rich_enterprises(db, 8)]
    rnd = make_round(db, budget="1000000", ratio="0.5", quota="10000")  # quota for two vouchers of 5,000
    ids = []
    for e in ents:
        v = claim(db, e, rnd, prov, "10000")
        vouchers.act(db, e, v.id, "submit")
        ids.append(v.id)
    prov_user = db.execute(select(User).where(User.username == "provider")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == prov_user.id)).scalars().first()
    n, errors = _fire(
        [
            (lambda vid: lambda s: vouchers.act(s, _actor_in(s, prov_user.id, m.id), vid, "confirm_contract"))(i)
            for i in ids
        ]
    )
    assert n == 2, errors
    db.expire_all()
    q = db.execute(select(VoucherProviderQuota).where(VoucherProviderQuota.round_id == rnd.id)).scalar_one()
    assert q.used == D("10000.00") == q.quota
    assert db.get(VoucherRound, rnd.id).committed == D("10000.00")


@pytest.mark.postgres
def test_concurrent_double_confirm_reserves_once(db: Any) -> None:
    prov = eligible_provider(db)
    e = admin_of(db, rich_enterprises(db, 1)[0])
    rnd = make_round(db, budget="100000")
    v = claim(db, e, rnd, prov, "10000")
    vouchers.act(db, e, v.id, "submit")
    prov_user = db.execute(select(User).where(User.username == "provider")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == prov_user.id)).scalars().first()
    n, _ = _fire([lambda s: vouchers.act(s, _actor_in(s, prov_user.id, m.id), v.id, "confirm_contract")] * 4)
    assert n == 1
    db.expire_all()
    assert db.get(VoucherRound, rnd.id).committed == D("5000.00")  # reserved once, not four times
