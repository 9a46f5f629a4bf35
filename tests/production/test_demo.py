"""The production demo: Chenghai toy makers' work orders in every state, runs whose quantities come from the
simulated machines' counters, a lot with its material lots; seeding again the same day changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.devices import demo as devices_demo
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.production import demo, service
from chaoyun.production.models import WorkOrder


def test_demo_seed(db: Session) -> None:
    devices_demo.seed(db)
    members = db.execute(select(func.count()).select_from(Membership)).scalar_one()
    demo.seed(db)
    firms = db.execute(select(func.count()).select_from(WorkOrder).where(WorkOrder.number == "WO-001")).scalar_one()
    assert firms == demo.FIRMS  # Chenghai toy makers, with or without accounts of their own
    assert db.execute(select(func.count()).select_from(Membership)).scalar_one() == members
    org = db.execute(
        select(Organisation)
        .join(Membership, Membership.org_id == Organisation.id)
        .join(User, User.id == Membership.user_id)
        .where(User.username == "factory")
    ).scalar_one()
    orders = {w.number: w for w in db.execute(select(WorkOrder).where(WorkOrder.org_id == org.id)).unique().scalars()}
    assert {n: orders[n].state for n in ("WO-001", "WO-002", "WO-003", "WO-004", "WO-005")} == {
        "WO-001": "done",
        "WO-002": "running",
        "WO-003": "released",
        "WO-004": "planned",
        "WO-005": "cancelled",
    }
    done = orders["WO-001"]
    runs = [r for o in done.operations for r in o.reports]
    assert runs and all(r.state == "finished" and r.source == "counters" for r in runs)
    assert all((r.good or 0) > 0 for r in runs)
    lot = service.lot_genealogy(db, org.id, "WO-001-L1")
    assert lot is not None and {m["item"] for m in lot["materials"]} == {"ABS-750", "BOX-500"}
    running = orders["WO-002"]
    moulding = running.operations[0].reports[0]
    assert len(moulding.segments) == 2  # paused and resumed
    assert running.operations[1].reports[0].state == "running"
    # The open run's machine now runs the car shell at its routing's cycle time.
    open_run = running.operations[1].reports[0]
    segs = service.ideal_cycle_segments(db, org.id, open_run.device_id, open_run.started_at, service.utcnow())
    assert segs and segs[-1][3] == "RC-SHELL"
    assert demo.seed(db) == 0
