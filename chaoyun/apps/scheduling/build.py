"""From the factory's own model to the solver's problem (and back to JSON for storage).

- Jobs: the enterprise's released and running work orders (or the chosen ones); each operation not done yet, in
  routing order. Remaining quantity = ordered quantity − good pieces already reported for the operation − what the
  machine's counters counted so far in a run still open.
- Options: every eligible machine of the routing operation, duration = cycle time on that machine × remaining
  quantity (rounded up to whole seconds), set-up = the routing operation's set-up time (sequence-independent: the
  plan reserves it before every operation; production's family rule may save it on the shop floor).
- Started operations (an open run) are frozen on their machine from now for the time their remaining pieces take;
  they are part of every plan, chosen or not, because they occupy the machine.
- Release: now (or the order's release time if later); due: the end of the due date (local midnight after it);
  an overdue order is due now. Weight: 10 − priority (priority 1 weighs 9).
- Calendar: the OEE shift calendar of the enterprise (shifts, breaks, holidays, plant-wide planned downtime) gives
  the working windows; everything else in the horizon is off-shift. Planned downtime of one machine and machines
  that are down (an open breakdown alarm) are blocked windows of that machine.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.models import PlannedDowntime
from chaoyun.apps.oee import calendar as cal
from chaoyun.apps.oee import service as oee
from chaoyun.apps.scheduling.model import Assignment, Job, Operation, Option, Pin, Problem
from chaoyun.apps.scheduling.solver import WorkAxis
from chaoyun.db import utcnow
from chaoyun.devices.models import Device
from chaoyun.production import counters
from chaoyun.production import service as production
from chaoyun.production.models import WorkOrder, WorkOrderOp

MAX_HORIZON_DAYS = 60
# How long a machine that broke down is assumed to stay down when the alarm does not say (the planner may reject
# the proposal, or re-solve later when it is back).
BREAKDOWN_HOURS = 4.0
SCHEDULABLE = ("released", "running")


@dataclass
class OpInfo:
    """What the pages show for an operation (the solver only knows keys)."""

    key: str
    job: str
    work_order_id: int
    number: str
    wo_op_id: int
    seq: int
    name: str
    item: str
    remaining: int
    due: str  # ISO UTC, the end of the due date
    priority: int
    frozen: bool = False


@dataclass
class Built:
    problem: Problem
    origin: datetime
    ops: dict[str, OpInfo] = field(default_factory=dict)
    machines: dict[str, str] = field(default_factory=dict)  # key -> name
    work_order_ids: list[int] = field(default_factory=list)


def secs(origin: datetime, t: datetime) -> int:
    return int((t - origin).total_seconds())


def at(origin: datetime, s: int | float) -> datetime:
    return origin + timedelta(seconds=float(s))


def schedulable_orders(db: Session, org_id: int) -> list[WorkOrder]:
    return [wo for wo in production.open_work_orders(db, org_id) if wo.state in SCHEDULABLE]


def op_key(wo: WorkOrder, op: WorkOrderOp) -> str:
    return f"{wo.number}/{op.seq}"


def _open_run(op: WorkOrderOp) -> Any:
    return next((r for r in op.reports if r.state != "finished"), None)


def counted_so_far(db: Session, run: Any, now: datetime) -> int:
    """Good pieces the machine's counters counted in a run still open (0 without counters)."""
    device = db.get(Device, run.device_id)
    if device is None:
        return 0
    windows = [(s.start, s.end or now) for s in run.segments if (s.end or now) > s.start]
    got = counters.counted(device, windows) if windows else None
    return got[0] if got else 0


def remaining_quantity(db: Session, wo: WorkOrder, op: WorkOrderOp, now: datetime) -> int:
    run = _open_run(op)
    so_far = counted_so_far(db, run, now) if run is not None else 0
    return max(int(wo.quantity) - int(op.good or 0) - so_far, 0)


def off_shift(db: Session, org_id: int, origin: datetime, horizon_s: int) -> list[tuple[int, int]]:
    """Non-working time in [0, horizon) from the enterprise's shift calendar and plant-wide planned downtime."""
    calendar, _small = oee.calendar_for(db, org_id)
    end = at(origin, horizon_s)
    first = timefmt.to_local(origin).date() - timedelta(days=1)  # a night shift from the day before
    last = timefmt.to_local(end).date()
    plant_down = [
        (d.start, d.end)
        for d in db.execute(
            select(PlannedDowntime).where(
                PlannedDowntime.org_id == org_id,
                PlannedDowntime.device_id.is_(None),
                PlannedDowntime.end > origin,
                PlannedDowntime.start < end,
            )
        ).scalars()
    ]
    w = cal.build_windows(calendar, first, last, plant_down)
    base_ms = origin.timestamp() * 1000
    out: list[tuple[int, int]] = []
    cursor = 0
    for s_ms, e_ms in zip(w.starts.tolist(), w.ends.tolist(), strict=True):
        a = max(0, math.floor((s_ms - base_ms) / 1000))
        b = min(horizon_s, math.ceil((e_ms - base_ms) / 1000))
        if b <= a:
            continue
        if a > cursor:
            out.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < horizon_s:
        out.append((cursor, horizon_s))
    return out


def machine_downtime(
    db: Session, org_id: int, machines: list[str], origin: datetime, horizon_s: int
) -> dict[str, list[tuple[int, int]]]:
    """Planned downtime of single machines (maintenance) as blocked windows."""
    ids = [int(m) for m in machines if m.isdigit()]
    if not ids:
        return {}
    end = at(origin, horizon_s)
    out: dict[str, list[tuple[int, int]]] = {}
    for d in db.execute(
        select(PlannedDowntime).where(
            PlannedDowntime.org_id == org_id,
            PlannedDowntime.device_id.in_(ids),
            PlannedDowntime.end > origin,
            PlannedDowntime.start < end,
        )
    ).scalars():
        a, b = max(0, secs(origin, d.start)), min(horizon_s, secs(origin, d.end))
        if b > a:
            out.setdefault(str(d.device_id), []).append((a, b))
    return out


def build(
    db: Session,
    org_id: int,
    *,
    now: datetime | None = None,
    work_order_ids: list[int] | None = None,
    horizon_days: float = 7,
    objective: str = "makespan",
    mix: float = 0.5,
    pins: list[tuple[str, int | None, datetime | None]] | None = None,
    down: dict[str, list[tuple[datetime, datetime]]] | None = None,
) -> Built:
    """The problem for the enterprise's schedulable work orders from ``now`` (time 0)."""
    origin = (now or utcnow()).replace(microsecond=0)
    horizon_s = round(horizon_days * 86400)
    chosen = set(work_order_ids) if work_order_ids else None
    orders = schedulable_orders(db, org_id)
    jobs: list[Job] = []
    frozen: list[Assignment] = []
    ops: dict[str, OpInfo] = {}
    machine_ids: set[int] = set()
    axis = WorkAxis(off_shift(db, org_id, origin, horizon_s)) if horizon_s > 0 else WorkAxis([])
    used_orders: list[int] = []
    for wo in orders:
        started_here = any(_open_run(o) is not None for o in wo.operations)
        if chosen is not None and wo.id not in chosen and not started_here:
            continue
        due_at = timefmt.day_end_exclusive(wo.due_date)
        release = max(0, secs(origin, wo.released_at)) if wo.released_at else 0
        due = max(secs(origin, due_at), release)
        weight = max(1, 10 - int(wo.priority or 5))
        pending = [o for o in wo.operations if o.state != "done"]
        # A started operation with unfinished operations before it (shops overlap them): the chain is split there,
        # so the earlier operations are planned on their own and the started one stays where it runs.
        chains: list[list[Operation]] = [[]]
        for o in pending:
            key = op_key(wo, o)
            run = _open_run(o)
            remaining = remaining_quantity(db, wo, o, origin)
            info = OpInfo(
                key=key,
                job=wo.number,
                work_order_id=wo.id,
                number=wo.number,
                wo_op_id=o.id,
                seq=o.seq,
                name=o.name,
                item=f"{wo.item.code} {wo.item.name}",
                remaining=remaining,
                due=due_at.isoformat(),
                priority=int(wo.priority or 5),
            )
            if run is not None:
                dur = max(1, math.ceil(float(run.ideal_cycle_s) * remaining))
                m = str(run.device_id)
                machine_ids.add(run.device_id)
                end = axis.end_to_wall(axis.to_work(0) + dur)
                frozen.append(Assignment(operation=key, job=wo.number, machine=m, start=0, end=end))
                info.frozen = True
                if chains[-1]:
                    chains.append([])
                chains[-1].append(Operation(key=key, options=(Option(m, dur, 0),), label=o.name))
                ops[key] = info
                continue
            if chosen is not None and wo.id not in chosen:
                continue  # only its started operation is planned
            options: list[Option] = []
            rop = o.routing_op
            if rop is not None:
                for om in rop.machines:
                    machine_ids.add(om.device_id)
                    options.append(
                        Option(
                            machine=str(om.device_id),
                            duration=math.ceil(float(om.cycle_s) * remaining),
                            setup=math.ceil(float(rop.setup_s or 0)),
                        )
                    )
            chains[-1].append(Operation(key=key, options=tuple(options), label=o.name))
            ops[key] = info
        chains = [c for c in chains if c]
        for i, chain in enumerate(chains):
            jobs.append(
                Job(
                    key=wo.number if i == 0 else f"{wo.number}#{i + 1}",
                    operations=tuple(chain),
                    release=release,
                    due=due,
                    weight=weight,
                    label=f"{wo.item.code} {wo.item.name}",
                )
            )
            for op in chain:
                ops[op.key].job = jobs[-1].key
        if chains:
            used_orders.append(wo.id)
    machines = sorted(machine_ids)
    names = {str(d.id): d.name for d in db.execute(select(Device).where(Device.id.in_(machines))).scalars()}
    keys = [str(m) for m in machines]
    blocked = machine_downtime(db, org_id, keys, origin, horizon_s)
    for m, windows in (down or {}).items():
        for a, b in windows:
            sa, sb = max(0, secs(origin, a)), min(horizon_s, secs(origin, b))
            if sb > sa:
                blocked.setdefault(m, []).append((sa, sb))
    problem = Problem(
        jobs=jobs,
        machines=keys,
        horizon=horizon_s,
        off_shift=axis.windows,
        blocked=blocked,
        pins=[
            Pin(operation=k, machine=str(m) if m else None, start=secs(origin, s) if s else None)
            for k, m, s in (pins or [])
            if k in ops and not ops[k].frozen
        ],
        frozen=frozen,
        objective=objective,
        mix=mix,
    )
    return Built(problem=problem, origin=origin, ops=ops, machines=names, work_order_ids=used_orders)


# ---------------------------------------------------------------- JSON (the plan keeps the problem it solved)


def problem_json(b: Built) -> dict[str, Any]:
    p = b.problem
    return {
        "jobs": [
            {
                "key": j.key,
                "label": j.label,
                "release": j.release,
                "due": j.due,
                "weight": j.weight,
                "operations": [
                    {"key": o.key, "label": o.label, "options": [asdict(x) for x in o.options]} for o in j.operations
                ],
            }
            for j in p.jobs
        ],
        "machines": p.machines,
        "horizon": p.horizon,
        "off_shift": [list(w) for w in p.off_shift],
        "blocked": {m: [list(w) for w in ws] for m, ws in p.blocked.items()},
        "pins": [asdict(x) for x in p.pins],
        "frozen": [asdict(a) for a in p.frozen],
        "objective": p.objective,
        "mix": p.mix,
        "ops": {k: asdict(v) for k, v in b.ops.items()},
        "machine_names": b.machines,
    }


def problem_from_json(d: dict[str, Any]) -> Problem:
    return Problem(
        jobs=[
            Job(
                key=j["key"],
                label=j.get("label", ""),
                release=int(j.get("release", 0)),
                due=j.get("due"),
                weight=int(j.get("weight", 1)),
                operations=tuple(
                    Operation(
                        key=o["key"],
                        label=o.get("label", ""),
                        options=tuple(Option(**x) for x in o["options"]),
                    )
                    for o in j["operations"]
                ),
            )
            for j in d.get("jobs", [])
        ],
        machines=list(d.get("machines", [])),
        horizon=int(d.get("horizon", 0)),
        off_shift=[(int(a), int(b)) for a, b in d.get("off_shift", [])],
        blocked={m: [(int(a), int(b)) for a, b in ws] for m, ws in d.get("blocked", {}).items()},
        pins=[Pin(**x) for x in d.get("pins", [])],
        frozen=[Assignment(**a) for a in d.get("frozen", [])],
        objective=d.get("objective", "makespan"),
        mix=float(d.get("mix", 0.5)),
    )
