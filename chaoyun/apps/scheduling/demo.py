"""Demo of the scheduling app for the toy makers that production's demo equips (`factory`'s firm first): a few more
released work orders through the production rules, a plan solved by the real solver (a short time limit) and
published, then a breakdown: the machine's vibration goes over its critical limit, reported through the real ingest
path, so the devices context's alarm rule raises a real alarm; the scheduling app, subscribed to it, repairs the
published plan and leaves a proposal on the planner's page.

Idempotent: a firm that has a published plan is left alone.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.scheduling import jobs, service
from chaoyun.apps.scheduling.models import RepairProposal
from chaoyun.apps.scheduling.schemas import SolveIn
from chaoyun.db import utcnow
from chaoyun.devices import alarms
from chaoyun.devices.ingest import ingest
from chaoyun.devices.models import Device
from chaoyun.devices.schemas import RuleIn
from chaoyun.production import demo as production_demo
from chaoyun.production import service as production
from chaoyun.production.schemas import WorkOrderIn

log = logging.getLogger(__name__)
TIME_LIMIT_S = 3.0
# (number, item code, quantity, due in days, priority): released orders next to production's WO-002 / WO-003.
ORDERS = [
    ("WO-011", "BLK-500", 800, 2, 2),
    ("WO-012", "RC-SHELL", 600, 3, 3),
    ("WO-013", "BLK-500", 1200, 4, 5),
    ("WO-014", "RC-SHELL", 500, 2, 1),
]
VIBRATION = 9.5  # mm/s: over the demo's critical limit (振动异常, 7.1 mm/s for 20 s)


def _orders(db: Session, org_id: int, actor: Any) -> int:
    made = 0
    today = timefmt.local_today()
    for number, code, qty, days, prio in ORDERS:
        if production.work_order_by_number(db, org_id, number) is not None:
            continue
        item = production.item_by_code(db, org_id, code)
        if item is None or not item.operations:
            continue
        wo = production.create_work_order(
            db,
            actor,
            WorkOrderIn(
                number=number, item_id=item.id, quantity=qty, due_date=today + timedelta(days=days), priority=prio
            ),
        )
        production.transition(db, actor, wo.id, "released")
        made += 1
    return made


def _vibration_rule(db: Session, actor: Any, device: Device) -> None:
    """The demo's critical vibration rule (devices' demo gives it to the first firm only): made for the others."""
    for r in alarms.rules_for(db, device):
        if r.kind == "threshold" and r.metric == "vibration" and r.severity == "critical" and r.enabled:
            return
    alarms.create_rule(
        db,
        actor,
        RuleIn(
            name="振动异常",
            kind="threshold",
            metric="vibration",
            severity="critical",
            device_id=device.id,
            params={"op": ">", "value": 7.1, "duration_s": 20.0, "hysteresis": 0.5},
        ),
    )


def _proposal(db: Session, org_id: int, plan_id: int) -> RepairProposal | None:
    q = select(RepairProposal).where(RepairProposal.org_id == org_id, RepairProposal.base_plan_id == plan_id)
    return db.execute(q).scalars().first()


def _breakdown(db: Session, actor: Any, org_id: int, plan_id: int) -> RepairProposal | None:
    """Vibration over the limit on the busiest moulding machine of the plan, through ingest (a real alarm)."""
    plan = service.published_plan(db, org_id)
    if plan is None:
        return None
    now = utcnow()
    load: dict[int, int] = {}
    for o in plan.operations:
        if o.device_id is not None and o.end > now and not o.frozen:
            load[o.device_id] = load.get(o.device_id, 0) + 1
    devices = [d for d in (db.get(Device, i) for i in sorted(load, key=lambda i: -load[i])) if d is not None]
    moulding = [d for d in devices if d.model.key == "injection_moulding"]
    if not (moulding or devices):
        return None
    device = (moulding or devices)[0]
    _vibration_rule(db, actor, device)
    points = [{"ts": (now - timedelta(seconds=s)).isoformat(), "values": {"vibration": VIBRATION}} for s in (45, 25, 5)]
    ingest(db, device, points, "simulator", received_at=now)
    jobs.wait_repairs(30)
    if _proposal(db, org_id, plan_id) is None:
        # The machine's vibration alarm was open already (the simulated week had it shake): that alarm is the
        # breakdown, repaired from now.
        for alarm in alarms.list_alarms(db, actor, status="open", device_id=device.id):
            if jobs.is_down(alarm.severity, alarm.kind, (alarm.details or {}).get("state")):
                jobs.propose_repair(
                    db, org_id, device.id, down_from=max(alarm.started_at, now), alarm_id=alarm.id, reason=alarm.message
                )
                break
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        db.expire_all()
        found = _proposal(db, org_id, plan_id)
        if found is not None:
            return found
        time.sleep(0.2)
    log.warning("no repair proposal after the demo breakdown on %s (is its vibration alarm already open?)", device.name)
    return None


def seed(db: Session) -> dict[str, Any]:
    jobs.install()
    started = time.monotonic()
    out: dict[str, Any] = {"plans": 0, "proposals": 0, "seconds": []}
    for org in production_demo._firms(db):
        if service.published_plan(db, org.id) is not None:
            continue
        actor = production_demo._admin(db, org)
        _orders(db, org.id, actor)
        t0 = time.monotonic()
        plan = jobs.solve_now(
            db, actor, SolveIn(horizon_days=7, objective="mix", mix=0.6, time_limit_s=TIME_LIMIT_S, name="演示排产")
        )
        out["seconds"].append(round(time.monotonic() - t0, 2))
        if plan.status != "solved":
            log.warning("demo plan of %s not solved: %s %s", org.name, plan.status, plan.errors)
            continue
        service.publish(db, actor, plan.id)
        out["plans"] += 1
        if _breakdown(db, actor, org.id, plan.id) is not None:
            out["proposals"] += 1
    out["total_s"] = round(time.monotonic() - started, 2)
    return out
