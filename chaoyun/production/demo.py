"""Demo production data for Chenghai toy makers with simulated machines: items (积木套装, 遥控车外壳, ABS 粒料 …),
routings over their injection-moulding and packaging machines, work orders in every state, operation reports and
lots.

Everything goes through the service rules with the firm's admin as actor. Good and reject quantities are never
made up: each run's window is first simulated on the machine (the simulator's virtual machine, deterministic per
device, sent through the real ingest path) unless the machine already reported counters then, and the finish
reads them from the counters like any real run. Times are fixed relative to the day the demo is seeded
(yesterday's shifts and this morning), so a re-run the same day changes nothing (work orders that exist are left
alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.devices.demo import demo_orgs
from chaoyun.devices.ingest import ingest
from chaoyun.devices.models import Device
from chaoyun.devices.store import get_store
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.production import counters, service
from chaoyun.production.schemas import ItemIn, LotIn, LotMaterialIn, OpMachineIn, RoutingOpIn, WorkOrderIn
from chaoyun.simulator.machines import Machine

FIRMS = 3  # Chenghai toy makers with machines that get production data
STEP_S = 60.0

ITEMS = [
    ItemIn(code="BLK-500", name="积木套装（500粒）", unit="套", family="积木", kind="product"),
    ItemIn(code="RC-SHELL", name="遥控车外壳", unit="件", family="遥控车", kind="product"),
    ItemIn(code="ABS-750", name="ABS 粒料（750A）", unit="kg", family="原料", kind="material"),
    ItemIn(code="BOX-500", name="积木彩盒", unit="个", family="包材", kind="material"),
]


@dataclass
class Run:
    seq: int
    machine: int  # index into the machines of that operation
    start_h: float  # hours after yesterday's local midnight
    end_h: float | None  # None: still running
    pause: tuple[float, float] | None = None


@dataclass
class OrderPlan:
    number: str
    item: str
    quantity: int
    due_days: int  # after today
    priority: int
    state: str
    runs: list[Run]


ORDERS = [
    OrderPlan("WO-001", "BLK-500", 600, 0, 3, "done", [Run(10, 0, 8, 12), Run(20, 0, 13, 16)]),
    OrderPlan("WO-002", "RC-SHELL", 400, 1, 2, "running", [Run(10, 0, 8, 15, (10.5, 11)), Run(20, 0, 24 + 8.5, None)]),
    OrderPlan("WO-003", "BLK-500", 1500, 5, 4, "released", []),
    OrderPlan("WO-004", "RC-SHELL", 800, 10, 5, "planned", []),
    OrderPlan("WO-005", "BLK-500", 300, 3, 6, "cancelled", []),
]


def _admin(db: Session, org: Organisation) -> Actor:
    row = db.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org.id, Membership.role == Role.ENTERPRISE_ADMIN.value)
        .order_by(Membership.id)
    ).first()
    if row:
        return Actor(row[0], row[1])
    # Demo enterprises without accounts: the seeding acts as the system for that enterprise (audited as "demo");
    # these objects are never added to the session.
    m = Membership(org_id=org.id, role=Role.ENTERPRISE_ADMIN.value)
    m.org = org
    return Actor(User(username="demo", display_name="demo"), m)


def _firms(db: Session) -> list[Organisation]:
    """`factory`'s firm first, then other Chenghai toy makers that have demo machines."""
    out = []
    for org in demo_orgs(db):
        cluster = org.enterprise.cluster if org.enterprise else ""
        if org.district == "chenghai" and cluster == "toys":
            out.append(org)
        if len(out) >= FIRMS:
            break
    return out


def simulate(db: Session, device: Device, start: datetime, end: datetime) -> int:
    """Telemetry of the device's virtual machine for [start, end), unless its counters already reported then."""
    keys = counters.counter_keys(device)
    if "good_count" not in keys or get_store().raw(device.id, keys["good_count"], start, end, limit=1):
        return 0
    machine = Machine(device.uid, device.model.key, device.model.ideal_cycle_s, {m.key for m in device.model.metrics})
    # Counters go on from what the machine last reported, so they never run backwards.
    for key, attr in (("cycle_count", "cycles"), ("good_count", "good"), ("reject_count", "reject")):
        last = get_store().raw(device.id, key, start - timedelta(days=2), start, limit=1_000_000)
        if last and last[-1][1] is not None:
            setattr(machine, attr, max(getattr(machine, attr), float(last[-1][1])))
    machine.state = "running"
    points = []
    t = start
    while t < end:
        points.append({"ts": t.isoformat(), "values": machine.step(t, STEP_S)})
        t += timedelta(seconds=STEP_S)
    points.append({"ts": end.isoformat(), "values": machine.step(end, STEP_S)})
    ingest(db, device, points, "simulator", received_at=end + timedelta(minutes=1))
    get_store().flush()
    return len(points)


def _machines(db: Session, org: Organisation) -> tuple[list[Device], list[Device]]:
    devs = list(db.execute(select(Device).where(Device.org_id == org.id).order_by(Device.id)).scalars())
    return (
        [d for d in devs if d.model.key == "injection_moulding"],
        [d for d in devs if d.model.key == "packaging"],
    )


def _routings(im: list[Device], pk: list[Device]) -> dict[str, list[RoutingOpIn]]:
    def ops(devs: list[Device], cycles: list[float]) -> list[OpMachineIn]:
        return [OpMachineIn(device_id=d.id, cycle_s=c) for d, c in zip(devs, cycles, strict=False)]

    # Cycle times near what the simulated machines do (moulding 30 s, packing 1.2 s per pack), a little faster
    # for the better-tooled products, so the demo's OEE performance is neither capped nor absurd.
    half = max(1, len(im) // 2)
    return {
        "BLK-500": [
            RoutingOpIn(seq=10, name="注塑", setup_s=2700, machines=ops(im[:half], [24.0, 26.0, 28.0])),
            RoutingOpIn(seq=20, name="包装", setup_s=600, machines=ops(pk[:1], [1.5])),
        ],
        "RC-SHELL": [
            RoutingOpIn(seq=10, name="注塑", setup_s=3600, machines=ops(im[half:] or im, [28.0, 29.0, 30.0])),
            RoutingOpIn(seq=20, name="装配包装", setup_s=900, machines=ops(pk[-1:], [1.6])),
        ],
    }


def seed_firm(db: Session, org: Organisation, today: date | None = None) -> int:
    """Items, routings, work orders, runs and lots of one firm; returns the work orders created."""
    actor = _admin(db, org)
    im, pk = _machines(db, org)
    if not im or not pk:
        return 0
    items = {}
    for data in ITEMS:
        items[data.code] = service.item_by_code(db, org.id, data.code) or service.create_item(db, actor, data)
    for code, ops in _routings(im, pk).items():
        if not items[code].operations:
            service.set_routing(db, actor, items[code].id, ops)
    day = today or timefmt.local_today()
    base = datetime.combine(day - timedelta(days=1), time(0), timefmt.zone())
    created = 0
    for plan in ORDERS:
        if service.work_order_by_number(db, org.id, plan.number) is not None:
            continue
        item = items[plan.item]
        wo = service.create_work_order(
            db,
            actor,
            WorkOrderIn(
                number=plan.number,
                item_id=item.id,
                quantity=plan.quantity,
                due_date=day + timedelta(days=plan.due_days),
                priority=plan.priority,
            ),
        )
        created += 1
        if plan.state == "planned":
            continue
        if plan.state == "cancelled":
            service.transition(db, actor, wo.id, "cancelled", at=base + timedelta(hours=9))
            continue
        service.transition(db, actor, wo.id, "released", at=base + timedelta(hours=7))
        for run in plan.runs:
            _run(db, actor, wo.id, item.id, run, base)
        if plan.state == "done":
            _lot(db, actor, wo.id, base)
    return created


def _run(db: Session, actor: Actor, wo_id: int, item_id: int, run: Run, base: datetime) -> None:
    wo = service.get_work_order(db, actor, wo_id)
    op = next(o for o in wo.operations if o.seq == run.seq)
    assert op.routing_op is not None
    device = db.get(Device, op.routing_op.machines[run.machine].device_id)
    assert device is not None
    now = datetime.now(UTC)
    start = base + timedelta(hours=run.start_h)
    end = base + timedelta(hours=run.end_h) if run.end_h is not None else None
    if end is None:
        start = min(start, now - timedelta(hours=2))  # a run still going on started before the seeding
    simulate(db, device, start, end or now)
    report = service.start_operation(db, actor, op.id, device.id, at=start)
    if run.pause is not None:
        service.pause_report(db, actor, report.id, at=base + timedelta(hours=run.pause[0]))
        service.resume_report(db, actor, report.id, at=base + timedelta(hours=run.pause[1]))
    if end is not None:
        service.finish_report(db, actor, report.id, at=end)


def _lot(db: Session, actor: Actor, wo_id: int, base: datetime) -> None:
    wo = service.get_work_order(db, actor, wo_id)
    last = wo.operations[-1]
    report = last.reports[-1] if last.reports else None
    if report is None or report.finished_at is None:
        return
    service.create_lot(
        db,
        actor,
        LotIn(
            number=f"{wo.number}-L1",
            work_order_id=wo.id,
            device_id=report.device_id,
            start=report.started_at,
            end=report.finished_at,
            quantity=max(report.good or 0, 1),
            materials=[
                LotMaterialIn(
                    item_code="ABS-750", material_lot=f"ABS{base:%y%m%d}-01", quantity=round(0.21 * wo.quantity, 1)
                ),
                LotMaterialIn(
                    item_code="BOX-500", material_lot=f"BOX{base:%y%m%d}-A", quantity=float(report.good or 1)
                ),
            ],
        ),
    )


def seed(db: Session) -> int:
    return sum(seed_firm(db, org) for org in _firms(db))
