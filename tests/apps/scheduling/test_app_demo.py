"""The scheduling demo: the toy makers' released work orders get a solved, published plan from the real solver,
and a simulated breakdown (vibration over the limit, through ingest, raising the demo's real alarm rule) leaves a
repair proposal; seeding again changes nothing. The whole addition stays small (< 20 s for all firms)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.apps.scheduling import demo
from chaoyun.apps.scheduling.models import RepairProposal, SchedulePlan
from chaoyun.db import utcnow
from chaoyun.devices import demo as devices_demo
from chaoyun.devices.ingest import ingest
from chaoyun.devices.models import Alarm, Device
from chaoyun.production import demo as production_demo


def test_demo_plans_publishes_and_proposes_a_repair(db: Session) -> None:
    devices_demo.seed(db)
    production_demo.seed(db)
    # The first firm's moulding machines are shaking already (as after the demo's simulated week): their critical
    # vibration alarms are open before there is a plan, so the breakdown is that open alarm.
    first = production_demo._firms(db)[0]
    for d in db.execute(select(Device).where(Device.org_id == first.id)).scalars():
        if d.model.key == "injection_moulding":
            now = utcnow()
            points = [{"ts": (now - timedelta(minutes=m)).isoformat(), "values": {"vibration": 9.0}} for m in (3, 2, 1)]
            ingest(db, d, points, "simulator", received_at=now)
    open_before = db.execute(select(func.count()).select_from(Alarm).where(Alarm.status == "active")).scalar_one()
    assert open_before >= 2
    t0 = time.monotonic()
    out = demo.seed(db)
    took = time.monotonic() - t0
    assert out["plans"] == production_demo.FIRMS, out
    assert out["proposals"] == production_demo.FIRMS, out
    assert took < 20 * 1.5, took  # the budget is 20 s on an idle machine; this one is shared
    plans = list(db.execute(select(SchedulePlan).where(SchedulePlan.published.is_(True))).scalars())
    assert len(plans) == production_demo.FIRMS
    for plan in plans:
        numbers = {o.op_key.split("/")[0] for o in plan.operations}
        assert {"WO-002", "WO-003", "WO-011", "WO-014"} <= numbers
        assert plan.status == "solved" and plan.late_orders is not None
    for p in db.execute(select(RepairProposal)).scalars():
        assert p.state == "proposed" and p.moved
        alarm = db.get(Alarm, p.alarm_id)
        assert alarm is not None and alarm.severity == "critical" and alarm.device_id == p.device_id
    again = demo.seed(db)
    assert again["plans"] == 0
    assert db.execute(select(func.count()).select_from(RepairProposal)).scalar_one() == production_demo.FIRMS
