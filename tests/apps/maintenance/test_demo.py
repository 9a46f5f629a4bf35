"""The maintenance demo over a simulated history (the real simulator through the real ingest, two days at
5-minute steps for `factory`'s machines): plans due by the real rules, corrective orders from the simulated
breakdown stops (each done order lies in a real fault stop), orders in every state, a maintenance window as
planned downtime, a part below its reorder point; seeding again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance import demo, parts, reliability
from chaoyun.apps.maintenance.models import MaintOrder, MaintPlan
from chaoyun.apps.models import PlannedDowntime
from chaoyun.devices import demo as devices_demo
from chaoyun.devices.models import Device
from chaoyun.identity.models import Membership, User
from chaoyun.simulator import runner


def test_demo_from_simulated_history(db: Session) -> None:
    devices_demo.seed(db)
    org_id = db.execute(
        select(Membership.org_id).join(User, User.id == Membership.user_id).where(User.username == "factory")
    ).scalar_one()
    ids = set(db.execute(select(Device.id).where(Device.org_id == org_id)).scalars())
    sims = [s for s in runner.load_devices(db) if s.id in ids]
    now = datetime.now(UTC)
    assert runner.backfill(runner.InProcess(), sims, 48, 300.0, now) > 0
    db.expire_all()

    out = demo.seed(db, now=now)
    assert out["plans"] > 0 and out["orders"] > 0, out
    orders = list(db.execute(select(MaintOrder).where(MaintOrder.org_id == org_id)).scalars())
    states = {o.state for o in orders}
    assert {"open", "assigned", "in_progress", "done", "cancelled"} <= states, states
    # Every preventive order comes from a plan that the rule found due.
    for o in orders:
        if o.kind == "preventive":
            assert o.plan_id is not None and o.source_ref == f"plan:{o.plan_id}"
    # Every corrective order done lies in a breakdown stop the OEE stop detection found.
    today = now.astimezone(reliability.cal.LOCAL).date()
    from datetime import timedelta

    rel = reliability.compute(db, org_id, today - timedelta(days=6), today, now=now)
    stops = [(f.device_id, f.start, f.start + timedelta(seconds=f.repair_s or 0)) for r in rel.machines
             for f in r.failure_list if f.source != "order"]
    done = [o for o in orders if o.kind == "corrective" and o.state == "done"]
    assert done, "the simulated history has breakdowns"
    for o in done:
        assert o.cause and o.technician_id and o.minutes_spent > 0
        assert any(d == o.device_id and a <= o.done_at <= b + timedelta(seconds=1) for d, a, b in stops), o.id
    # The assigned preventive order holds a window: the machine's planned downtime.
    win = [o for o in orders if o.state == "assigned" and o.downtime_id is not None]
    assert win and db.get(PlannedDowntime, win[0].downtime_id) is not None
    assert parts.below_reorder_count(db, org_id) >= 1
    from collections import Counter

    print("demo:", out, Counter((o.kind, o.state) for o in orders), "stops:", len(stops))
    import time

    from chaoyun.apps.maintenance import plans

    t = time.perf_counter()
    plans.check_due(db, org_id, now=now + timedelta(minutes=15))
    t_check = time.perf_counter() - t
    t = time.perf_counter()
    reliability.compute(db, org_id, today - timedelta(days=6), today, now=now)
    t_rel = time.perf_counter() - t
    n_plans_org = db.execute(select(func.count(MaintPlan.id)).where(MaintPlan.org_id == org_id)).scalar_one()
    print(f"timing: due check of {n_plans_org} plans (15 min of new telemetry) {t_check * 1000:.0f} ms; "
          f"reliability of {len(rel.machines)} machines over 7 days {t_rel * 1000:.0f} ms")
    n_orders, n_plans = len(orders), db.execute(select(func.count(MaintPlan.id))).scalar_one()
    again = demo.seed(db, now=now)
    assert again == {"plans": 0, "orders": 0}
    assert db.execute(select(func.count(MaintOrder.id)).where(MaintOrder.org_id == org_id)).scalar_one() == n_orders
    assert db.execute(select(func.count(MaintPlan.id))).scalar_one() == n_plans
