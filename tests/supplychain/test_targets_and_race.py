"""The collaboration target counts enterprises with a live order exchange (computed, no longer "not available");
the SPC of a supplier's lot for incoming inspection; two confirmations of one line racing in threads: exactly one
wins (on PostgreSQL the row lock decides; SQLite serialises writers)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.quality import service as quality
from chaoyun.db import get_sessionmaker
from chaoyun.errors import AppError, Conflict
from chaoyun.identity.models import Membership, User
from chaoyun.identity.permissions import Actor
from chaoyun.production import service as production
from chaoyun.programme import targets
from chaoyun.supplychain import queries, service
from chaoyun.supplychain.models import OrderLine
from tests.supplychain.helpers import line, order, pair


def test_collaboration_target_is_computed(db: Session) -> None:
    year = timefmt.local_today().year
    targets.load_rule_modules()
    before = targets.evaluate(db, "supplychain.platform_collaboration", year)
    assert before.available and before.note_msgid is None
    p = pair(db)
    po = order(db, p, line(), line())
    # An order nobody confirmed is no exchange yet.
    assert p.lead.org.id not in queries.live_exchange_orgs(db, timefmt.local_today(), timefmt.local_today())
    service.confirm_line(db, p.supplier.admin, po.lines[0].id)
    after = targets.evaluate(db, "supplychain.platform_collaboration", year)
    assert after.value == before.value + 2
    assert {p.lead.org.id, p.supplier.org.id} <= set(after.enterprise_ids or [])
    chenghai = targets.evaluate(db, "supplychain.platform_collaboration", year, district="chenghai")
    assert p.lead.org.id in (chenghai.enterprise_ids or [])
    nowhere = targets.evaluate(db, "supplychain.platform_collaboration", year, district="nanao")
    assert p.lead.org.id not in (nowhere.enterprise_ids or [])
    assert targets.evaluate(db, "supplychain.platform_collaboration", year - 3).value <= before.value


def test_lot_results_of_a_machine_without_plans_are_empty(db: Session) -> None:
    p = pair(db)
    now = datetime.now(UTC)
    assert quality.lot_results(db, p.supplier.org.id, p.supplier.pack.id, now - timedelta(hours=1), now) == []
    assert quality.lot_results(db, p.supplier.org.id, None, now - timedelta(hours=1), now) == []


def _actor(user_id: int, membership_id: int, s: Session) -> Actor:
    u = s.get(User, user_id)
    m = s.get(Membership, membership_id)
    assert u is not None and m is not None
    return Actor(u, m)


def test_second_confirmation_races_exactly_one_wins(db: Session) -> None:
    p = pair(db)
    po = order(db, p, line(qty=40))
    line_id = po.lines[0].id
    who = [
        (p.supplier.admin.user.id, p.supplier.admin.membership.id),
        (p.supplier.member.user.id, p.supplier.member.membership.id),
    ] * 2
    barrier = threading.Barrier(len(who))
    results: list[str] = []
    lock = threading.Lock()

    def confirm(uid: int, mid: int) -> None:
        with get_sessionmaker()() as s:
            actor = _actor(uid, mid, s)
            barrier.wait()
            try:
                service.confirm_line(s, actor, line_id)
                out = "won"
            except Conflict:
                out = "conflict"
            except AppError as e:  # anything else is a failure of the rule
                out = f"error {e.msgid}"
            except Exception as e:
                out = f"crash {type(e).__name__}: {e}"
        with lock:
            results.append(out)

    threads = [threading.Thread(target=confirm, args=w) for w in who]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["conflict"] * (len(who) - 1) + ["won"], results
    db.expire_all()
    ln = db.get(OrderLine, line_id)
    assert ln is not None and ln.state == "confirmed" and ln.work_order_id
    wos = [w for w in production.list_work_orders(db, p.supplier.admin, q=po.number)]
    assert len(wos) == 1
