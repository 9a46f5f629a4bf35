"""The rules of the scheduling app: plans and their operations, pins, publishing, what-if comparison, each
machine's "next up" list, repair proposals. Solving itself runs in the background (``jobs.py``).

Every function takes the acting user; another enterprise's plan answers 404 like one that does not exist.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, defer, lazyload

from chaoyun import timefmt
from chaoyun.apps.scheduling.build import at, secs
from chaoyun.apps.scheduling.model import Assignment
from chaoyun.apps.scheduling.models import PlanOperation, PlanPin, RepairProposal, SchedulePlan, SolveJob
from chaoyun.apps.scheduling.schemas import PinIn
from chaoyun.db import utcnow
from chaoyun.devices import service as devices
from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.i18n import N_, Msgid
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.production import service as production
from chaoyun.web import excel

STATUS_LABELS = {
    "solving": N_("Solving"),
    "solved": N_("Solved"),
    "cancelled": N_("Stopped (best kept)"),
    "invalid": N_("Bad input"),
    "failed": N_("No schedule"),
}
OBJECTIVE_LABELS = {
    "makespan": N_("Shortest makespan"),
    "tardiness": N_("Least weighted tardiness"),
    "mix": N_("Weighted mix"),
}
PROPOSAL_LABELS = {
    "proposed": N_("Awaiting decision"),
    "accepted": N_("Accepted"),
    "rejected": N_("Turned down"),
    "stale": N_("Out of date"),
}
SOURCE_LABELS = {"planner": N_("Planner"), "resolve": N_("Re-solved around pins"), "repair": N_("Repair")}
MAX_PINS = 200


def _own(actor: Actor, obj: Any, what: str) -> Any:
    if obj is None or (obj.org_id != actor.org_id and actor.role != Role.PLATFORM_ADMIN):
        raise NotFound(what)
    return obj


def get_plan(db: Session, actor: Actor, plan_id: int) -> SchedulePlan:
    plan: SchedulePlan = _own(actor, db.get(SchedulePlan, plan_id), N_("No such plan, or it is not yours to see."))
    return plan


def list_plans(db: Session, actor: Actor, limit: int = 50) -> list[SchedulePlan]:
    """The enterprise's plans, newest first, without their operations, pins and problem (a list needs none)."""
    return list(
        db.execute(
            select(SchedulePlan)
            .where(SchedulePlan.org_id == actor.org_id)
            .options(lazyload(SchedulePlan.operations), lazyload(SchedulePlan.pins), defer(SchedulePlan.problem))
            .order_by(SchedulePlan.id.desc())
            .limit(limit)
        ).scalars()
    )


def published_plan(db: Session, org_id: int) -> SchedulePlan | None:
    return db.execute(
        select(SchedulePlan).where(SchedulePlan.org_id == org_id, SchedulePlan.published.is_(True))
    ).scalar_one_or_none()


def job_of(db: Session, plan_id: int) -> SolveJob | None:
    q = select(SolveJob).where(SolveJob.plan_id == plan_id).order_by(SolveJob.id.desc())
    return db.execute(q).scalars().first()


def running_job(db: Session, org_id: int) -> SolveJob | None:
    return (
        db.execute(select(SolveJob).where(SolveJob.org_id == org_id, SolveJob.state.in_(("queued", "running"))))
        .scalars()
        .first()
    )


# ---------------------------------------------------------------- stored schedule


def store_assignments(db: Session, plan: SchedulePlan, assignments: list[Assignment]) -> None:
    """Replace the plan's operations with ``assignments`` (problem times → UTC datetimes)."""
    ops = plan.problem.get("ops", {})
    setups = _setups(plan.problem)
    frozen = {a["operation"] for a in plan.problem.get("frozen", [])}
    db.execute(delete(PlanOperation).where(PlanOperation.plan_id == plan.id))
    rows = []
    for a in assignments:
        info = ops.get(a.operation, {})
        setup = setups.get((a.operation, a.machine), (0, 0))
        rows.append(
            {
                "plan_id": plan.id,
                "op_key": a.operation,
                "job_key": a.job,
                "work_order_id": info.get("work_order_id"),
                "wo_op_id": info.get("wo_op_id"),
                "device_id": int(a.machine) if a.machine.isdigit() else None,
                "start": at(plan.origin, a.start),
                "end": at(plan.origin, a.end),
                "setup_s": setup[0],
                "duration_s": setup[1],
                "frozen": a.operation in frozen,
            }
        )
    if rows:
        db.execute(insert(PlanOperation), rows)
    db.expire(plan, ["operations"])


def _setups(problem: dict[str, Any]) -> dict[tuple[str, str], tuple[int, int]]:
    out = {}
    for j in problem.get("jobs", []):
        for o in j["operations"]:
            for x in o["options"]:
                out[(o["key"], x["machine"])] = (int(x.get("setup", 0)), int(x["duration"]))
    return out


def assignments_of(plan: SchedulePlan, origin: datetime | None = None) -> list[Assignment]:
    """The plan's operations as solver assignments, in seconds from ``origin`` (default: the plan's)."""
    o = origin or plan.origin
    return [
        Assignment(
            operation=p.op_key,
            job=p.job_key,
            machine=str(p.device_id) if p.device_id is not None else "",
            start=secs(o, p.start),
            end=secs(o, p.end),
        )
        for p in plan.operations
    ]


@dataclass
class Figures:
    makespan_s: int
    end: datetime | None
    tardiness_s: int  # weighted
    late: list[str]  # work order numbers
    load: dict[str, float]  # machine key -> busy hours
    operations: int


def figures(plan: SchedulePlan) -> Figures:
    """What a plan achieves, computed from its stored operations and the due dates of its problem."""
    jobs = {j["key"]: j for j in plan.problem.get("jobs", [])}
    ops = plan.problem.get("ops", {})
    finish: dict[str, datetime] = {}
    load: dict[str, float] = defaultdict(float)
    for p in plan.operations:
        finish[p.job_key] = max(finish.get(p.job_key, p.end), p.end)
        if p.device_id is not None:
            load[str(p.device_id)] += (p.end - p.start).total_seconds() / 3600
    late: set[str] = set()
    tard = 0
    for key, end in finish.items():
        j = jobs.get(key)
        if j is None or j.get("due") is None:
            continue
        over = secs(plan.origin, end) - int(j["due"])
        if over > 0:
            tard += over * int(j.get("weight", 1))
            number = next((ops[o["key"]]["number"] for o in j["operations"] if o["key"] in ops), key)
            late.add(number)
    last = max(finish.values()) if finish else None
    return Figures(
        makespan_s=secs(plan.origin, last) if last else 0,
        end=last,
        tardiness_s=tard,
        late=sorted(late),
        load={k: round(v, 2) for k, v in sorted(load.items())},
        operations=len(plan.operations),
    )


def refresh_figures(plan: SchedulePlan) -> None:
    f = figures(plan)
    plan.makespan_s = f.makespan_s
    plan.tardiness_s = f.tardiness_s
    plan.late_orders = len(f.late)


# ---------------------------------------------------------------- pins


def add_pin(db: Session, actor: Actor, plan_id: int, data: PinIn) -> PlanPin:
    plan = get_plan(db, actor, plan_id)
    ops = plan.problem.get("ops", {})
    info = ops.get(data.op_key)
    if info is None:
        raise Invalid(N_("%(op)s is not an operation of this plan."), field="op_key", op=data.op_key)
    if info.get("frozen"):
        raise Conflict(
            N_("%(op)s has started on its machine; a started operation cannot be pinned elsewhere."),
            field="op_key",
            op=data.op_key,
        )
    if data.device_id is None and data.start is None:
        raise Invalid(N_("Pin a machine, a start time, or both."), field="device_id")
    if data.device_id is not None:
        eligible = _setups(plan.problem)
        if (data.op_key, str(data.device_id)) not in eligible:
            raise Invalid(
                N_("Machine %(machine)s cannot run %(op)s (it is not in the routing)."),
                field="device_id",
                machine=plan.problem.get("machine_names", {}).get(str(data.device_id), str(data.device_id)),
                op=data.op_key,
            )
    start = data.start
    if start is not None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=timefmt.zone())
        end = at(plan.origin, plan.horizon_s)
        if start < plan.origin - timedelta(minutes=1) or start >= end:
            raise Invalid(
                N_("The pinned start must lie within the plan (%(start)s – %(end)s)."),
                field="start",
                start=timefmt.format_dt(plan.origin),
                end=timefmt.format_dt(end),
            )
    if len(plan.pins) >= MAX_PINS:
        raise Conflict(N_("A plan holds at most %(n)s pins."), n=MAX_PINS)
    for old in [p for p in plan.pins if p.op_key == data.op_key]:
        plan.pins.remove(old)  # one pin per operation: the newest wins
    pin = PlanPin(op_key=data.op_key, device_id=data.device_id, start=start, created_by=actor.user.username)
    plan.pins.append(pin)
    record_by(
        db,
        actor,
        "pin",
        "schedule_plan",
        plan.id,
        after={"op": data.op_key, "device_id": data.device_id, "start": start.isoformat() if start else None},
    )
    db.commit()
    return pin


def remove_pin(db: Session, actor: Actor, plan_id: int, pin_id: int) -> None:
    plan = get_plan(db, actor, plan_id)
    pin = next((p for p in plan.pins if p.id == pin_id), None)
    if pin is None:
        raise NotFound(N_("No such pin."))
    plan.pins.remove(pin)
    record_by(db, actor, "unpin", "schedule_plan", plan.id, before={"op": pin.op_key})
    db.commit()


def pins_of(plan: SchedulePlan) -> list[tuple[str, int | None, datetime | None]]:
    return [(p.op_key, p.device_id, p.start) for p in plan.pins]


# ---------------------------------------------------------------- publishing


def publish(db: Session, actor: Actor, plan_id: int) -> SchedulePlan:
    """Make the plan the enterprise's one published plan (the previous one is withdrawn)."""
    plan = get_plan(db, actor, plan_id)
    if plan.status != "solved":
        raise Conflict(
            N_("Plan %(id)s is %(status)s; only a solved plan can be published."),
            id=plan.id,
            status=Msgid(STATUS_LABELS.get(plan.status, plan.status)),
        )
    if plan.published:
        raise Conflict(N_("Plan %(id)s is already the published plan."), id=plan.id)
    _publish(db, plan, actor.user.username)
    record_by(db, actor, "publish", "schedule_plan", plan.id)
    db.commit()
    return plan


def _publish(db: Session, plan: SchedulePlan, who: str) -> None:
    db.execute(
        update(SchedulePlan)
        .where(SchedulePlan.org_id == plan.org_id, SchedulePlan.published.is_(True))
        .values(published=False)
    )
    db.flush()
    plan.published = True
    plan.published_at = utcnow()
    plan.published_by = who
    # Proposals that repair another plan than this one can no longer be accepted.
    db.execute(
        update(RepairProposal)
        .where(
            RepairProposal.org_id == plan.org_id,
            RepairProposal.state == "proposed",
            RepairProposal.base_plan_id != plan.id,
            RepairProposal.plan_id != plan.id,
        )
        .values(state="stale")
    )


# ---------------------------------------------------------------- compare (what-if)


def compare(db: Session, actor: Actor, a_id: int, b_id: int) -> dict[str, Any]:
    a, b = get_plan(db, actor, a_id), get_plan(db, actor, b_id)
    fa, fb = figures(a), figures(b)
    pa = {p.op_key: p for p in a.operations}
    pb = {p.op_key: p for p in b.operations}
    names = {**a.problem.get("machine_names", {}), **b.problem.get("machine_names", {})}
    ops = {**a.problem.get("ops", {}), **b.problem.get("ops", {})}
    differ = []
    for key in sorted(set(pa) | set(pb)):
        x, y = pa.get(key), pb.get(key)
        same = x is not None and y is not None and x.device_id == y.device_id
        if same and x is not None and y is not None and abs((x.start - y.start).total_seconds()) < 60:
            continue
        differ.append(
            {
                "op": key,
                "name": ops.get(key, {}).get("name", ""),
                "a_machine": names.get(str(x.device_id), "") if x else "",
                "a_start": x.start if x else None,
                "b_machine": names.get(str(y.device_id), "") if y else "",
                "b_start": y.start if y else None,
                "shift_min": round((y.start - x.start).total_seconds() / 60) if x and y else None,
            }
        )
    machines = sorted(set(fa.load) | set(fb.load), key=lambda m: names.get(m, m))
    return {
        "a": a,
        "b": b,
        "fa": fa,
        "fb": fb,
        "load": [{"machine": names.get(m, m), "a": fa.load.get(m, 0.0), "b": fb.load.get(m, 0.0)} for m in machines],
        "differ": differ,
    }


# ---------------------------------------------------------------- the operator's "next up"


@dataclass
class NextRow:
    op: PlanOperation
    number: str
    name: str
    item: str
    remaining: int
    state: str  # the work order operation's state now
    running_now: bool


def next_up(
    db: Session, actor: Actor, device_id: int, limit: int = 20
) -> tuple[Any, SchedulePlan | None, list[NextRow]]:
    """What the published plan puts on this machine from now, in order (operations finished since are left out)."""
    device = devices.get_device(db, actor, device_id)
    plan = published_plan(db, device.org_id)
    if plan is None:
        return device, None, []
    now = utcnow()
    ops = plan.problem.get("ops", {})
    rows = []
    for p in plan.operations:
        if p.device_id != device.id or p.end <= now - timedelta(hours=1):
            continue
        state = "pending"
        if p.wo_op_id is not None:
            try:
                woo = production.get_operation(db, actor, p.wo_op_id)
                state = woo.state
            except NotFound:
                continue
        if state == "done":
            continue
        info = ops.get(p.op_key, {})
        rows.append(
            NextRow(
                op=p,
                number=info.get("number", p.job_key),
                name=info.get("name", ""),
                item=info.get("item", ""),
                remaining=int(info.get("remaining", 0)),
                state=state,
                running_now=p.start <= now < p.end,
            )
        )
        if len(rows) >= limit:
            break
    return device, plan, rows


def plan_machines(db: Session, actor: Actor) -> tuple[SchedulePlan | None, list[dict[str, Any]]]:
    """Machines of the published plan with their count of operations still ahead."""
    plan = published_plan(db, actor.org_id)
    if plan is None:
        return None, []
    now = utcnow()
    names = plan.problem.get("machine_names", {})
    count: dict[int, int] = defaultdict(int)
    first: dict[int, datetime] = {}
    for p in plan.operations:
        if p.device_id is None or p.end <= now:
            continue
        count[p.device_id] += 1
        first[p.device_id] = min(first.get(p.device_id, p.start), p.start)
    rows = [
        {"device_id": d, "name": names.get(str(d), str(d)), "ahead": count.get(d, 0), "next_start": first.get(d)}
        for d in sorted({int(m) for m in plan.problem.get("machines", []) if str(m).isdigit()})
    ]
    return plan, sorted(rows, key=lambda r: r["name"])


# ---------------------------------------------------------------- repair proposals


def list_proposals(db: Session, actor: Actor, state: str | None = None) -> list[RepairProposal]:
    q = select(RepairProposal).where(RepairProposal.org_id == actor.org_id)
    if state:
        q = q.where(RepairProposal.state == state)
    return list(db.execute(q.order_by(RepairProposal.id.desc()).limit(100)).unique().scalars())


def pending_proposals(db: Session, org_id: int) -> int:
    return int(
        db.execute(
            select(func.count())
            .select_from(RepairProposal)
            .where(RepairProposal.org_id == org_id, RepairProposal.state == "proposed")
        ).scalar_one()
    )


def get_proposal(db: Session, actor: Actor, proposal_id: int) -> RepairProposal:
    p: RepairProposal = _own(
        actor, db.get(RepairProposal, proposal_id), N_("No such proposal, or it is not yours to see.")
    )
    return p


def _decided(p: RepairProposal) -> Conflict:
    return Conflict(
        N_("Proposal %(id)s is %(state)s already; it can be decided only once."),
        id=p.id,
        state=Msgid(PROPOSAL_LABELS.get(p.state, p.state)),
    )


def accept_proposal(db: Session, actor: Actor, proposal_id: int) -> RepairProposal:
    """The repaired plan becomes the published plan — if the plan it repairs is still the published one."""
    p = get_proposal(db, actor, proposal_id)
    if p.state != "proposed":
        raise _decided(p)
    current = published_plan(db, p.org_id)
    if current is None or current.id != p.base_plan_id:
        p.state = "stale"
        db.commit()
        raise Conflict(
            N_("Proposal %(id)s repairs plan %(plan)s, which is no longer the published plan; solve again instead."),
            id=p.id,
            plan=p.base_plan_id,
        )
    _publish(db, p.plan, actor.user.username)
    p.state = "accepted"
    p.decided_at = utcnow()
    p.decided_by = actor.user.username
    record_by(db, actor, "proposal_accept", "repair_proposal", p.id, after={"plan": p.plan_id})
    db.commit()
    return p


def reject_proposal(db: Session, actor: Actor, proposal_id: int) -> RepairProposal:
    p = get_proposal(db, actor, proposal_id)
    if p.state != "proposed":
        raise _decided(p)
    p.state = "rejected"
    p.decided_at = utcnow()
    p.decided_by = actor.user.username
    record_by(db, actor, "proposal_reject", "repair_proposal", p.id)
    db.commit()
    return p


def proposal_changes(p: RepairProposal) -> list[dict[str, Any]]:
    """Moved operations with their machine and start before and after."""
    before = {o.op_key: o for o in p.base_plan.operations}
    after = {o.op_key: o for o in p.plan.operations}
    names = {**p.base_plan.problem.get("machine_names", {}), **p.plan.problem.get("machine_names", {})}
    ops = p.plan.problem.get("ops", {})
    out = []
    for key in p.moved:
        x, y = before.get(key), after.get(key)
        out.append(
            {
                "op": key,
                "name": ops.get(key, {}).get("name", ""),
                "before_machine": names.get(str(x.device_id), "") if x else "",
                "before_start": x.start if x else None,
                "before_end": x.end if x else None,
                "after_machine": names.get(str(y.device_id), "") if y else "",
                "after_start": y.start if y else None,
                "after_end": y.end if y else None,
            }
        )
    return out


# ---------------------------------------------------------------- the Gantt chart's data


def gantt(plan: SchedulePlan) -> dict[str, Any]:
    """Bars (epoch ms), rows by machine and by order, due dates, off-shift and blocked windows, for ECharts."""
    names = plan.problem.get("machine_names", {})
    ops = plan.problem.get("ops", {})
    jobs = {j["key"]: j for j in plan.problem.get("jobs", [])}
    base = plan.origin.timestamp() * 1000
    f = figures(plan)
    late = set(f.late)
    machines = [m for m in plan.problem.get("machines", [])]
    orders: list[str] = []
    due: dict[str, float] = {}
    bars = []
    pinned = {p.op_key for p in plan.pins}
    for p in plan.operations:
        info = ops.get(p.op_key, {})
        number = info.get("number", p.job_key)
        if number not in orders:
            orders.append(number)
        j = jobs.get(p.job_key)
        if j is not None and j.get("due") is not None:
            due[number] = base + int(j["due"]) * 1000
        bars.append(
            {
                "op": p.op_key,
                "order": number,
                "machine": str(p.device_id) if p.device_id is not None else "",
                "name": info.get("name", ""),
                "item": info.get("item", ""),
                "qty": info.get("remaining", 0),
                "start": p.start.timestamp() * 1000,
                "end": p.end.timestamp() * 1000,
                "setup_end": p.start.timestamp() * 1000 + p.setup_s * 1000,
                "late": number in late,
                "frozen": p.frozen,
                "pinned": p.op_key in pinned,
            }
        )
    return {
        "machines": [{"key": m, "name": names.get(m, m)} for m in machines],
        "orders": sorted(orders),
        "bars": bars,
        "due": due,
        "off": [[base + a * 1000, base + b * 1000] for a, b in plan.problem.get("off_shift", [])],
        "blocked": {
            m: [[base + a * 1000, base + b * 1000] for a, b in ws] for m, ws in plan.problem.get("blocked", {}).items()
        },
        "origin": base,
        "end": base + plan.horizon_s * 1000,
        "tz": timefmt.zone_name(),
    }


# ---------------------------------------------------------------- Excel


def export_xlsx(db: Session, actor: Actor, plan_id: int) -> tuple[str, bytes]:
    from chaoyun.i18n import gettext

    plan = get_plan(db, actor, plan_id)
    names = plan.problem.get("machine_names", {})
    ops = plan.problem.get("ops", {})
    late = set(figures(plan).late)
    headers = [
        gettext("Work order"),
        gettext("Product"),
        gettext("Operation"),
        gettext("Machine"),
        gettext("Start"),
        gettext("End"),
        gettext("Set-up (min)"),
        gettext("To make"),
        gettext("Due date"),
        gettext("Late"),
    ]
    rows = []
    for p in sorted(plan.operations, key=lambda x: (names.get(str(x.device_id), ""), x.start)):
        info = ops.get(p.op_key, {})
        due = info.get("due")
        rows.append(
            [
                info.get("number", p.job_key),
                info.get("item", ""),
                f"{info.get('seq', '')} {info.get('name', '')}".strip(),
                names.get(str(p.device_id), ""),
                p.start,
                p.end,
                round(p.setup_s / 60, 1),
                info.get("remaining", 0),
                timefmt.inclusive_end(datetime.fromisoformat(due)) if due else None,
                gettext("Yes") if info.get("number") in late else "",
            ]
        )
    data = excel.table_xlsx(gettext("Schedule"), headers, rows)
    return f"schedule-{plan.id}.xlsx", data
