"""Demo maintenance for the Chenghai toy makers with simulated machines, run by ``chaoyun demo`` after the
simulated history (it needs the machines' past states, counters and alarms).

Nothing the platform computes is typed in: the plans become due (or not) by the real rules over the simulated
running hours, cycle counts and days; corrective orders come from the breakdown stops that the OEE stop detection
finds in the simulated history (an alarm raised during the stop is taken by the order, as the live hook would) and
from the remaining alarms (the sweep). What people do is scripted: for `factory`'s firm the breakdowns of the past
days were repaired by the operator (started five minutes into the stop, finished when the machine ran again, the
cause and the parts chosen from a fixed rotation), the latest one is still being repaired, one preventive order
is assigned with a maintenance window tomorrow morning (the machine's planned downtime), one is cancelled. Spare
parts are seeded with stock levels, one below its reorder point. Seeding again leaves a firm with plans alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.maintenance import parts, plans, reliability, service
from chaoyun.apps.maintenance.models import MaintOrder, MaintPlan, SparePart
from chaoyun.apps.maintenance.schemas import FinishIn, PartIn, PlanIn, WindowIn, WorkIn
from chaoyun.devices.demo import demo_orgs
from chaoyun.devices.models import Alarm, Device
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role

FIRMS = 3
HISTORY_DAYS = 7
PARTS = [
    PartIn(code="HB-60", name="料筒加热圈 Φ60", unit="个", stock=6, reorder_point=2, location="A-01"),
    PartIn(code="HF-10", name="液压油滤芯 10μm", unit="个", stock=4, reorder_point=2, location="A-02"),
    PartIn(code="EP-4", name="顶针 Φ4×150", unit="根", stock=40, reorder_point=10, location="B-03"),
    PartIn(code="SK-40", name="油缸密封圈套装", unit="套", stock=1, reorder_point=2, location="A-04"),
    PartIn(code="BLT-8M", name="同步带 8M-1200", unit="条", stock=3, reorder_point=1, location="C-01"),
]
CAUSES = ["hydraulic", "electrical", "wear", "sensor", "mould"]
PART_FOR_CAUSE = {"hydraulic": "SK-40", "electrical": "HB-60", "wear": "EP-4", "mould": "EP-4"}
MAX_REPAIRED = 400


def _firms(db: Session) -> list[Organisation]:
    out = []
    for org in demo_orgs(db):
        cluster = org.enterprise.cluster if org.enterprise else ""
        if org.district == "chenghai" and cluster == "toys":
            out.append(org)
        if len(out) >= FIRMS:
            break
    return out


def _people(db: Session, org: Organisation) -> tuple[Actor | None, Actor | None]:
    rows = db.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org.id)
        .order_by(Membership.id)
    ).all()
    admin = next((Actor(u, m) for u, m in rows if m.role == Role.ENTERPRISE_ADMIN.value), None)
    member = next((Actor(u, m) for u, m in rows if m.role == Role.ENTERPRISE_MEMBER.value), None)
    return admin, member or admin


def _system(org: Organisation) -> Actor:
    """For firms without accounts: the seeding acts for the enterprise (audited as "demo"; never added)."""
    m = Membership(org_id=org.id, role=Role.ENTERPRISE_ADMIN.value)
    m.org = org
    return Actor(User(username="demo", display_name="demo"), m)


def seed(db: Session, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    made = {"plans": 0, "orders": 0}
    for org in _firms(db):
        if db.execute(select(MaintPlan.id).where(MaintPlan.org_id == org.id)).first() is not None:
            continue
        admin, tech = _people(db, org)
        actor = admin or _system(org)
        made["plans"] += _plans_and_parts(db, actor, org, now)
        made["orders"] += len(plans.check_due(db, org.id, now=now))
        if admin is not None and tech is not None:
            made["orders"] += _repairs(db, org, admin, tech, now)
            _preventive_work(db, org, admin, tech, now)
        made["orders"] += service.sweep_alarms(db, org.id, now=now)
    return made


def _plans_and_parts(db: Session, actor: Actor, org: Organisation, now: datetime) -> int:
    for p in PARTS:
        if db.execute(select(SparePart.id).where(SparePart.org_id == org.id, SparePart.code == p.code)).first() is None:
            parts.create_part(db, actor, p)
    start = now - timedelta(days=HISTORY_DAYS)
    devs = list(db.execute(select(Device).where(Device.org_id == org.id).order_by(Device.id)).scalars())
    wanted: list[PlanIn] = []
    for d in devs:
        key = d.model.key
        if key == "injection_moulding":
            wanted += [
                PlanIn(device_id=d.id, name="液压油滤芯更换", trigger="runtime", every=100, duration_min=60,
                       detail="更换液压油滤芯，检查油位与油温。", start_at=start),
                PlanIn(device_id=d.id, name="模具保养", trigger="cycles", every=12000, duration_min=90,
                       detail="清洁模具排气槽，检查顶针与导柱，涂防锈油。", start_at=start),
                PlanIn(device_id=d.id, name="周点检", trigger="calendar", every=1, calendar_unit="weeks",
                       duration_min=30, detail="按点检表检查安全门、急停、加热圈、润滑。",
                       start_at=start - timedelta(days=1)),
            ]
        elif key == "packaging":
            wanted.append(PlanIn(device_id=d.id, name="月度保养", trigger="calendar", every=30, duration_min=120,
                                 detail="检查同步带张紧、封口刀温控与气路。", start_at=start - timedelta(days=12)))
        elif plans.can_measure(d, "runtime") and d.model.category != "meter":
            wanted.append(PlanIn(device_id=d.id, name="定期保养", trigger="runtime", every=200, start_at=start))
    for w in wanted:
        plans.create_plan(db, actor, w)
    return len(wanted)


def _repairs(db: Session, org: Organisation, admin: Actor, tech: Actor, now: datetime) -> int:
    """Corrective orders for the breakdown stops of the simulated history (the reliability rule's failures)."""
    today = timefmt.to_local(now).date()
    rel = reliability.compute(db, org.id, today - timedelta(days=HISTORY_DAYS - 1), today, now=now)
    stops = sorted((f for row in rel.machines for f in row.failure_list if f.source == "stop"), key=lambda f: f.start)
    stops = stops[-MAX_REPAIRED:]
    n = 0
    for i, f in enumerate(stops):
        dur = f.repair_s or 0.0
        end = f.start + timedelta(seconds=dur)
        alarm = db.execute(
            select(Alarm)
            .where(Alarm.device_id == f.device_id, Alarm.started_at >= f.start - reliability.MATCH_BEFORE,
                   Alarm.started_at <= end)
            .order_by(Alarm.started_at)
        ).scalars().first()
        order = service.order_from_alarm(db, alarm) if alarm is not None else None
        if order is None:
            dev = db.get(Device, f.device_id)
            order = service.create_work_order(
                db, None, org.id, f.device_id, "corrective", f"故障停机 — {dev.name if dev else ''}",
                f"{timefmt.format_dt(f.start)} 设备进入故障状态", f.start,
                f"stop:{f.device_id}:{int(f.start.timestamp())}",
            )
        order.created_at = f.start  # reported when the machine stopped (the history is simulated)
        db.commit()
        # Further alarms during the stop join the open order, as the live hook does.
        for later in db.execute(
            select(Alarm).where(Alarm.device_id == f.device_id, Alarm.started_at >= f.start, Alarm.started_at <= end)
        ).scalars():
            service.order_from_alarm(db, later)
        n += 1
        service.assign(db, admin, order.id, tech.user.id)
        service.start(db, tech, order.id, now=min(f.start + timedelta(minutes=5), end))
        last = i == len(stops) - 1  # the latest breakdown is still being repaired
        cause = CAUSES[i % len(CAUSES)]
        code = PART_FOR_CAUSE.get(cause)
        stmt = select(SparePart).where(SparePart.org_id == org.id, SparePart.code == code)
        part = db.execute(stmt).scalar_one_or_none()
        if part is not None and part.stock > 0 and not last:
            service.use_part(db, tech, order.id, part.id, 1)
        if last:
            service.book_work(db, tech, order.id, WorkIn(minutes=10, note="已拆检，等待备件"))
            continue
        service.finish(db, tech, order.id, FinishIn(cause=cause, minutes=max(1, round(dur / 60)),
                                                   note="已修复，试机正常"), now=end)
    return n


def _preventive_work(db: Session, org: Organisation, admin: Actor, tech: Actor, now: datetime) -> None:
    """One open preventive order gets a technician and a window tomorrow 08:00–09:30; one is cancelled."""
    open_prev = list(
        db.execute(
            select(MaintOrder)
            .where(MaintOrder.org_id == org.id, MaintOrder.kind == "preventive", MaintOrder.state == "open")
            .order_by(MaintOrder.id)
        ).scalars()
    )
    if open_prev:
        o = open_prev[0]
        service.assign(db, admin, o.id, tech.user.id)
        day = timefmt.to_local(now).date() + timedelta(days=1)
        start = timefmt.day_start(day) + timedelta(hours=8)
        service.set_window(db, admin, o.id, WindowIn(start=start, end=start + timedelta(minutes=90)))
    if len(open_prev) > 2:
        service.cancel(db, admin, open_prev[-1].id, "与模具保养合并进行")
