"""The rules of the production context: items, routings, work orders, operation reports, lots.

Every change commits together with its audit entry; refusals raise ``chaoyun.errors`` with bilingual msgids and
leave nothing half-saved. Other contexts (OEE, scheduling, maintenance, supply chain, traceability) read through
the functions in the "for other contexts" section at the end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.db import utcnow
from chaoyun.devices import service as devices
from chaoyun.devices.models import Device
from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.i18n import N_, Msgid
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.production import counters, events
from chaoyun.production.labels import OP_STATES
from chaoyun.production.labels import WO_STATES as WO_LABELS
from chaoyun.production.models import (
    Item,
    Lot,
    LotMaterial,
    OperationReport,
    OpMachine,
    RoutingOp,
    RunSegment,
    WorkOrder,
    WorkOrderOp,
)
from chaoyun.production.schemas import ItemIn, ItemUpdate, LotIn, OpMachineIn, RoutingOpIn, WorkOrderIn

KINDS = ("product", "material")
WO_STATES = ("planned", "released", "running", "done", "cancelled")
# Allowed work-order transitions; anything else is a 409 that says what the order is and what it may become.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "planned": ("released", "cancelled"),
    "released": ("running", "planned", "cancelled"),
    "running": ("done", "cancelled"),
    "done": (),
    "cancelled": (),
}
MAX_QUANTITY = 100_000_000
MAX_CYCLE_S = 86_400.0
MAX_SETUP_S = 7 * 86_400.0


def _now(at: datetime | None = None) -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise Invalid(N_("Give times with their zone."), field="at")
    return at.astimezone(UTC)


def _visible(actor: Actor, obj: Any) -> bool:
    return obj is not None and (obj.org_id == actor.org_id or actor.role == Role.PLATFORM_ADMIN)


# ---------------------------------------------------------------- items


def _check_item(data: ItemIn) -> None:
    if data.kind not in KINDS:
        raise Invalid(N_("The kind must be product or material."), field="kind")


def list_items(
    db: Session, actor: Actor, q: str | None = None, kind: str | None = None, limit: int = 500
) -> list[Item]:
    stmt = select(Item).where(Item.org_id == actor.org_id)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Item.code.like(like), Item.name.like(like), Item.family.like(like)))
    if kind in KINDS:
        stmt = stmt.where(Item.kind == kind)
    return list(db.execute(stmt.order_by(Item.kind.desc(), Item.code).limit(limit)).scalars())


def get_item(db: Session, actor: Actor, item_id: int) -> Item:
    item = db.get(Item, item_id)
    if not _visible(actor, item):
        raise NotFound(N_("No such item, or it is not yours to see."))
    assert item is not None
    return item


def item_by_code(db: Session, org_id: int, code: str) -> Item | None:
    return db.execute(select(Item).where(Item.org_id == org_id, Item.code == code.strip())).scalar_one_or_none()


def _item_snapshot(i: Item) -> dict[str, Any]:
    return {"code": i.code, "name": i.name, "unit": i.unit, "family": i.family, "kind": i.kind}


def _add_item(db: Session, actor: Actor, data: ItemIn) -> Item:
    _check_item(data)
    if item_by_code(db, actor.org_id, data.code) is not None:
        raise Conflict(N_("An item with code %(code)s exists already."), field="code", code=data.code)
    item = Item(org_id=actor.org_id, **data.model_dump())
    db.add(item)
    db.flush()
    record_by(db, actor, "create", "production_item", item.id, after=_item_snapshot(item))
    return item


def create_item(db: Session, actor: Actor, data: ItemIn) -> Item:
    item = _add_item(db, actor, data)
    db.commit()
    return item


def update_item(db: Session, actor: Actor, item_id: int, data: ItemUpdate) -> Item:
    item = get_item(db, actor, item_id)
    before = _item_snapshot(item)
    for k, v in data.model_dump(exclude_none=True).items():
        setattr(item, k, v)
    record_by(db, actor, "update", "production_item", item.id, before=before, after=_item_snapshot(item))
    db.commit()
    return item


# ---------------------------------------------------------------- routings


def _machine(db: Session, actor: Actor, device_id: int, field: str) -> Device:
    """A machine of the actor's enterprise; another enterprise's (or none) is refused without saying whose."""
    d = db.get(Device, device_id)
    if d is None or d.org_id != actor.org_id:
        raise Invalid(N_("Machine %(id)s is not one of your enterprise's machines."), field=field, id=device_id)
    return d


def _check_op(db: Session, actor: Actor, op: RoutingOpIn, where: str) -> None:
    if op.seq < 1 or op.seq > 9999:
        raise Invalid(N_("The operation number must be between 1 and 9999."), field=f"{where}.seq")
    if not op.machines:
        raise Invalid(
            N_("Operation %(seq)s has no eligible machine; choose at least one."), field=f"{where}.machines", seq=op.seq
        )
    if not 0 <= op.setup_s <= MAX_SETUP_S:
        raise Invalid(N_("The set-up time must be between 0 and 7 days (in seconds)."), field=f"{where}.setup_s")
    seen: set[int] = set()
    for j, m in enumerate(op.machines):
        f = f"{where}.machines.{j}"
        _machine(db, actor, m.device_id, f + ".device_id")
        if m.device_id in seen:
            raise Invalid(
                N_("Machine %(id)s is listed twice for one operation."), field=f + ".device_id", id=m.device_id
            )
        seen.add(m.device_id)
        if not 0 < m.cycle_s <= MAX_CYCLE_S:
            raise Invalid(
                N_("The cycle time must be more than 0 and at most one day (seconds per piece)."),
                field=f + ".cycle_s",
            )


def _apply_op(db: Session, item: Item, existing: RoutingOp | None, op: RoutingOpIn) -> RoutingOp:
    if existing is None:
        existing = RoutingOp(org_id=item.org_id, item_id=item.id, seq=op.seq, name=op.name, setup_s=op.setup_s)
        item.operations.append(existing)
    existing.name, existing.setup_s = op.name, float(op.setup_s)
    wanted = {m.device_id: float(m.cycle_s) for m in op.machines}
    for m in list(existing.machines):
        if m.device_id not in wanted:
            existing.machines.remove(m)
        else:
            m.cycle_s = wanted.pop(m.device_id)
    for device_id, cycle in wanted.items():
        existing.machines.append(OpMachine(device_id=device_id, cycle_s=cycle))
    return existing


def routing_snapshot(item: Item) -> list[dict[str, Any]]:
    return [
        {
            "id": o.id,
            "seq": o.seq,
            "name": o.name,
            "setup_s": o.setup_s,
            "machines": [{"device_id": m.device_id, "cycle_s": m.cycle_s} for m in o.machines],
        }
        for o in item.operations
    ]


def set_routing(db: Session, actor: Actor, item_id: int, ops: list[RoutingOpIn]) -> Item:
    """Replace an item's routing. Operations are matched by number, so work orders made from the old routing
    keep their link to an operation that stays."""
    item = _set_routing(db, actor, get_item(db, actor, item_id), ops)
    db.commit()
    return item


def _set_routing(db: Session, actor: Actor, item: Item, ops: list[RoutingOpIn]) -> Item:
    if item.kind != "product":
        raise Invalid(N_("Only products have routings."), field="item")
    seqs = [o.seq for o in ops]
    if len(set(seqs)) != len(seqs):
        raise Invalid(N_("Each operation number may appear only once."), field="operations")
    for i, op in enumerate(ops):
        _check_op(db, actor, op, f"operations.{i}")
    before = routing_snapshot(item)
    by_seq = {o.seq: o for o in item.operations}
    for o in list(item.operations):
        if o.seq not in seqs:
            item.operations.remove(o)
    for op in sorted(ops, key=lambda o: o.seq):
        _apply_op(db, item, by_seq.get(op.seq), op)
    db.flush()
    db.refresh(item)
    record_by(
        db, actor, "routing", "production_item", item.id, before={"ops": before}, after={"ops": routing_snapshot(item)}
    )
    return item


def upsert_operation(db: Session, actor: Actor, item_id: int, op: RoutingOpIn) -> Item:
    """Add an operation, or change the one with the same number (the item page's form)."""
    item = get_item(db, actor, item_id)
    ops = [
        RoutingOpIn(
            seq=o.seq,
            name=o.name,
            setup_s=o.setup_s,
            machines=[OpMachineIn(device_id=m.device_id, cycle_s=m.cycle_s) for m in o.machines],
        )
        for o in item.operations
        if o.seq != op.seq
    ]
    return set_routing(db, actor, item_id, [*ops, op])


def delete_operation(db: Session, actor: Actor, item_id: int, op_id: int) -> Item:
    item = get_item(db, actor, item_id)
    keep = [o for o in item.operations if o.id != op_id]
    if len(keep) == len(item.operations):
        raise NotFound(N_("No such operation in this routing."))
    ops = [
        RoutingOpIn(
            seq=o.seq,
            name=o.name,
            setup_s=o.setup_s,
            machines=[OpMachineIn(device_id=m.device_id, cycle_s=m.cycle_s) for m in o.machines],
        )
        for o in keep
    ]
    return set_routing(db, actor, item_id, ops)


# ---------------------------------------------------------------- work orders


def list_work_orders(
    db: Session, actor: Actor, q: str | None = None, state: str | None = None, limit: int = 500
) -> list[WorkOrder]:
    stmt = select(WorkOrder).join(Item, Item.id == WorkOrder.item_id).where(WorkOrder.org_id == actor.org_id)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(WorkOrder.number.like(like), Item.code.like(like), Item.name.like(like)))
    if state in WO_STATES:
        stmt = stmt.where(WorkOrder.state == state)
    stmt = stmt.order_by(WorkOrder.due_date, WorkOrder.priority, WorkOrder.number).limit(limit)
    return list(db.execute(stmt).unique().scalars())


def get_work_order(db: Session, actor: Actor, wo_id: int) -> WorkOrder:
    wo = db.get(WorkOrder, wo_id)
    if not _visible(actor, wo):
        raise NotFound(N_("No such work order, or it is not yours to see."))
    assert wo is not None
    return wo


def work_order_by_number(db: Session, org_id: int, number: str) -> WorkOrder | None:
    return db.execute(
        select(WorkOrder).where(WorkOrder.org_id == org_id, WorkOrder.number == number.strip())
    ).scalar_one_or_none()


def _wo_snapshot(wo: WorkOrder) -> dict[str, Any]:
    return {
        "number": wo.number,
        "item": wo.item.code if wo.item else None,
        "quantity": wo.quantity,
        "due_date": wo.due_date.isoformat(),
        "priority": wo.priority,
        "state": wo.state,
    }


def _add_work_order(db: Session, actor: Actor, data: WorkOrderIn, today: date | None = None) -> WorkOrder:
    if not 0 < data.quantity <= MAX_QUANTITY:
        raise Invalid(N_("The quantity must be a positive whole number."), field="quantity")
    if data.due_date < (today or timefmt.local_today()):
        raise Invalid(N_("The due date cannot be before today."), field="due_date")
    if not 1 <= data.priority <= 9:
        raise Invalid(N_("The priority must be between 1 (most urgent) and 9."), field="priority")
    item = db.get(Item, data.item_id)
    if item is None or item.org_id != actor.org_id:
        raise Invalid(N_("No such item in your enterprise."), field="item_id")
    if item.kind != "product":
        raise Invalid(N_("Work orders make products; %(code)s is a material."), field="item_id", code=item.code)
    if not item.operations:
        raise Invalid(N_("Item %(code)s has no routing; define its operations first."), field="item_id", code=item.code)
    if work_order_by_number(db, actor.org_id, data.number) is not None:
        raise Conflict(N_("A work order numbered %(number)s exists already."), field="number", number=data.number)
    wo = WorkOrder(
        org_id=actor.org_id,
        number=data.number,
        item_id=item.id,
        quantity=data.quantity,
        due_date=data.due_date,
        priority=data.priority,
        note=data.note,
        state="planned",
    )
    wo.item = item
    for o in item.operations:
        wo.operations.append(WorkOrderOp(org_id=actor.org_id, routing_op_id=o.id, seq=o.seq, name=o.name))
    db.add(wo)
    db.flush()
    record_by(db, actor, "create", "work_order", wo.id, after=_wo_snapshot(wo))
    return wo


def create_work_order(db: Session, actor: Actor, data: WorkOrderIn) -> WorkOrder:
    wo = _add_work_order(db, actor, data)
    db.commit()
    return wo


def _refuse(wo: WorkOrder, to: str) -> Conflict:
    return Conflict(
        N_("Work order %(number)s is %(state)s; it cannot become %(to)s."),
        number=wo.number,
        state=Msgid(WO_LABELS[wo.state]),
        to=Msgid(WO_LABELS.get(to, to)),
    )


def _set_state(db: Session, actor: Actor, wo: WorkOrder, to: str, at: datetime) -> None:
    before = wo.state
    if to not in TRANSITIONS.get(wo.state, ()):
        raise _refuse(wo, to)
    if to in ("done", "cancelled", "planned") and any(r.state != "finished" for o in wo.operations for r in o.reports):
        raise Conflict(
            N_("Work order %(number)s has operations still running or paused; finish them first."),
            number=wo.number,
        )
    if to == "running" and wo.state == "released":
        wo.started_at = wo.started_at or at
    if to == "released":
        wo.released_at = at
    if to == "planned":
        wo.released_at = None
    if to in ("done", "cancelled"):
        wo.closed_at = at
    wo.state = to
    record_by(db, actor, "transition", "work_order", wo.id, before={"state": before}, after={"state": to})


def transition(db: Session, actor: Actor, wo_id: int, to: str, at: datetime | None = None) -> WorkOrder:
    """planned → released → running → done; cancelled from any open state; released → planned to take it back.
    A refused transition is a 409 naming the order's state."""
    wo = get_work_order(db, actor, wo_id)
    if to not in WO_STATES:
        raise Invalid(N_("Unknown work order state %(to)s."), field="to", to=to)
    _set_state(db, actor, wo, to, _now(at))
    db.commit()
    return wo


# ---------------------------------------------------------------- operation reports


def get_operation(db: Session, actor: Actor, op_id: int) -> WorkOrderOp:
    op = db.get(WorkOrderOp, op_id)
    if not _visible(actor, op):
        raise NotFound(N_("No such operation, or it is not yours to see."))
    assert op is not None
    return op


def get_report(db: Session, actor: Actor, report_id: int) -> OperationReport:
    r = db.get(OperationReport, report_id)
    if not _visible(actor, r):
        raise NotFound(N_("No such operation report, or it is not yours to see."))
    assert r is not None
    return r


def _open_report_on(db: Session, device_id: int) -> OperationReport | None:
    return (
        db.execute(
            select(OperationReport).where(OperationReport.device_id == device_id, OperationReport.state == "running")
        )
        .scalars()
        .first()
    )


def _eligible(op: WorkOrderOp, device_id: int) -> OpMachine | None:
    if op.routing_op is None:
        return None
    return next((m for m in op.routing_op.machines if m.device_id == device_id), None)


def start_operation(
    db: Session, actor: Actor, op_id: int, device_id: int, at: datetime | None = None
) -> OperationReport:
    """A machine starts an operation of a released or running work order (the order becomes running)."""
    op = get_operation(db, actor, op_id)
    wo = op.work_order
    device = devices.get_device(db, actor, device_id)
    when = _now(at)
    if wo.state not in ("released", "running"):
        raise Conflict(
            N_("Work order %(number)s is %(state)s; only released or running orders can be worked on."),
            number=wo.number,
            state=Msgid(WO_LABELS[wo.state]),
        )
    if op.state == "done":
        raise Conflict(N_("Operation %(seq)s of %(number)s is finished already."), seq=op.seq, number=wo.number)
    if op.state in ("running", "paused"):
        raise Conflict(
            N_("Operation %(seq)s of %(number)s is already under way; resume or finish that run."),
            seq=op.seq,
            number=wo.number,
        )
    m = _eligible(op, device.id)
    if m is None:
        raise Invalid(
            N_("%(machine)s is not an eligible machine for operation %(seq)s."),
            field="device_id",
            machine=device.name,
            seq=op.seq,
        )
    busy = _open_report_on(db, device.id)
    if busy is not None:
        raise Conflict(
            N_("%(machine)s is running work order %(number)s; pause or finish it first."),
            machine=device.name,
            number=busy.operation.work_order.number,
        )
    report = OperationReport(
        org_id=op.org_id,
        device_id=device.id,
        state="running",
        ideal_cycle_s=m.cycle_s,
        started_at=when,
        started_by=actor.user.username,
    )
    report.segments.append(RunSegment(device_id=device.id, start=when))
    op.reports.append(report)
    op.state = "running"
    if wo.state == "released":
        _set_state(db, actor, wo, "running", when)
    db.flush()
    record_by(db, actor, "start", "operation_report", report.id, after={"op": op.id, "device": device.id})
    db.commit()
    return report


def _last_segment(r: OperationReport) -> RunSegment:
    return r.segments[-1]


def pause_report(db: Session, actor: Actor, report_id: int, at: datetime | None = None) -> OperationReport:
    r = get_report(db, actor, report_id)
    when = _now(at)
    if r.state != "running":
        raise Conflict(N_("This run is %(state)s; only a running one can be paused."), state=Msgid(OP_STATES[r.state]))
    seg = _last_segment(r)
    seg.end = max(when, seg.start)
    r.state = "paused"
    r.operation.state = "paused"
    record_by(db, actor, "pause", "operation_report", r.id)
    db.commit()
    return r


def resume_report(db: Session, actor: Actor, report_id: int, at: datetime | None = None) -> OperationReport:
    r = get_report(db, actor, report_id)
    when = _now(at)
    if r.state != "paused":
        raise Conflict(N_("This run is %(state)s; only a paused one can be resumed."), state=Msgid(OP_STATES[r.state]))
    wo = r.operation.work_order
    if wo.state != "running":
        raise Conflict(
            N_("Work order %(number)s is %(state)s; it cannot be worked on."),
            number=wo.number,
            state=Msgid(WO_LABELS[wo.state]),
        )
    busy = _open_report_on(db, r.device_id)
    if busy is not None:
        raise Conflict(
            N_("The machine is running work order %(number)s; pause or finish it first."),
            number=busy.operation.work_order.number,
        )
    r.segments.append(RunSegment(device_id=r.device_id, start=max(when, _last_segment(r).end or when)))
    r.state = "running"
    r.operation.state = "running"
    record_by(db, actor, "resume", "operation_report", r.id)
    db.commit()
    return r


def finish_report(
    db: Session,
    actor: Actor,
    report_id: int,
    good: int | None = None,
    reject: int | None = None,
    at: datetime | None = None,
) -> OperationReport:
    """End a run. Good and reject quantities come from the machine's counters over the run's segments when it
    has them (and they reported in that time); otherwise the operator's figures are required."""
    r = get_report(db, actor, report_id)
    when = _now(at)
    if r.state == "finished":
        raise Conflict(
            N_("Operation %(seq)s of %(number)s was finished already."),
            seq=r.operation.seq,
            number=r.operation.work_order.number,
        )
    for value, name in ((good, "good"), (reject, "reject")):
        if value is not None and not 0 <= value <= MAX_QUANTITY:
            raise Invalid(N_("Quantities cannot be negative."), field=name)
    seg = _last_segment(r)
    if seg.end is None:
        seg.end = max(when, seg.start)
    device = db.get(Device, r.device_id)
    assert device is not None
    windows = [(s.start, s.end or when) for s in r.segments]
    measured = counters.counted(device, windows)
    if measured is not None:
        r.good, r.reject, r.source = measured[0], measured[1], "counters"
    else:
        if good is None:
            raise Invalid(
                N_("This machine reported no counts for the run; enter the good and reject quantities."), field="good"
            )
        r.good, r.reject, r.source = good, reject or 0, "operator"
    r.state = "finished"
    r.finished_at = max(when, seg.end)
    r.finished_by = actor.user.username
    op = r.operation
    op.state = "done"
    op.good = sum(x.good or 0 for x in op.reports)
    op.reject = sum(x.reject or 0 for x in op.reports)
    wo = op.work_order
    record_by(
        db,
        actor,
        "finish",
        "operation_report",
        r.id,
        after={"good": r.good, "reject": r.reject, "source": r.source},
    )
    if wo.state == "running" and all(o.state == "done" for o in wo.operations):
        _set_state(db, actor, wo, "done", r.finished_at)
    db.commit()
    return r


# ---------------------------------------------------------------- the operator's page


@dataclass
class QueueRow:
    op: WorkOrderOp
    work_order: WorkOrder
    cycle_s: float
    setup_s: float  # set-up this machine needs first (another family ran last), 0 if none
    remaining: int
    report: OperationReport | None  # the open run on this machine, if any

    @property
    def hours(self) -> float:
        return round((self.setup_s + self.cycle_s * self.remaining) / 3600, 2)


def last_item_on(db: Session, device_id: int) -> Item | None:
    """The item the machine ran last (its latest run), for set-up decisions."""
    r = (
        db.execute(
            select(OperationReport)
            .where(OperationReport.device_id == device_id)
            .order_by(OperationReport.started_at.desc())
        )
        .scalars()
        .first()
    )
    return r.operation.work_order.item if r is not None else None


def setup_time(db: Session, device_id: int, op: RoutingOp) -> float:
    """Set-up seconds before ``op`` can run on the machine: the operation's set-up time when the machine last ran
    an item of another family (or nothing yet), else 0."""
    last = last_item_on(db, device_id)
    if last is not None and last.family == op.item.family and last.family:
        return 0.0
    return float(op.setup_s)


def machine_queue(db: Session, actor: Actor, device_id: int) -> list[QueueRow]:
    """What to run next on a machine: operations of released and running work orders it is eligible for and that
    are not finished, the open run first, then by priority and due date."""
    device = devices.get_device(db, actor, device_id)
    rows = db.execute(
        select(WorkOrderOp, OpMachine)
        .join(WorkOrder, WorkOrder.id == WorkOrderOp.work_order_id)
        .join(OpMachine, OpMachine.op_id == WorkOrderOp.routing_op_id)
        .where(
            WorkOrder.org_id == device.org_id,
            WorkOrder.state.in_(("released", "running")),
            WorkOrderOp.state != "done",
            OpMachine.device_id == device.id,
        )
    ).all()
    last = last_item_on(db, device.id)
    out = []
    for op, m in rows:
        wo = op.work_order
        open_run = next((r for r in op.reports if r.state != "finished"), None)
        if open_run is not None and open_run.device_id != device.id:
            continue  # under way on another machine
        assert op.routing_op is not None
        same_family = last is not None and bool(last.family) and last.family == wo.item.family
        setup = 0.0 if same_family or (open_run is not None) else float(op.routing_op.setup_s)
        remaining = max(wo.quantity - op.good, 0)
        out.append(QueueRow(op, wo, m.cycle_s, setup, remaining, open_run))
    out.sort(
        key=lambda q: (q.report is None, q.work_order.priority, q.work_order.due_date, q.work_order.number, q.op.seq)
    )
    return out


# ---------------------------------------------------------------- lots


def list_lots(db: Session, actor: Actor, q: str | None = None, work_order_id: int | None = None) -> list[Lot]:
    stmt = select(Lot).where(Lot.org_id == actor.org_id)
    if work_order_id is not None:
        stmt = stmt.where(Lot.work_order_id == work_order_id)
    if q:
        stmt = stmt.where(Lot.number.like(f"%{q.strip()}%"))
    return list(db.execute(stmt.order_by(Lot.start.desc()).limit(500)).unique().scalars())


def get_lot(db: Session, actor: Actor, lot_id: int) -> Lot:
    lot = db.get(Lot, lot_id)
    if not _visible(actor, lot):
        raise NotFound(N_("No such lot, or it is not yours to see."))
    assert lot is not None
    return lot


def lot_by_number(db: Session, org_id: int, number: str) -> Lot | None:
    return db.execute(select(Lot).where(Lot.org_id == org_id, Lot.number == number.strip())).scalar_one_or_none()


def create_lot(db: Session, actor: Actor, data: LotIn) -> Lot:
    """A lot made by a work order (on a machine) in a time window, with the material lots it consumed."""
    wo = get_work_order(db, actor, data.work_order_id)
    if wo.state not in ("running", "done"):
        raise Conflict(
            N_("Work order %(number)s is %(state)s; lots are recorded for running or completed orders."),
            number=wo.number,
            state=Msgid(WO_LABELS[wo.state]),
        )
    start, end = _now(data.start), _now(data.end)
    if end <= start:
        raise Invalid(N_("The end must be after the start."), field="end")
    if not 0 < data.quantity <= MAX_QUANTITY:
        raise Invalid(N_("The quantity must be a positive whole number."), field="quantity")
    if data.device_id is not None:
        _machine(db, actor, data.device_id, "device_id")
    if lot_by_number(db, actor.org_id, data.number) is not None:
        raise Conflict(N_("A lot numbered %(number)s exists already."), field="number", number=data.number)
    lot = Lot(
        org_id=wo.org_id,
        number=data.number,
        work_order_id=wo.id,
        device_id=data.device_id,
        start=start,
        end=end,
        quantity=data.quantity,
        created_by=actor.user.username,
    )
    for j, m in enumerate(data.materials):
        mat = item_by_code(db, actor.org_id, m.item_code)
        if mat is None or mat.kind != "material":
            raise Invalid(
                N_("%(code)s is not a material of your enterprise."), field=f"materials.{j}.item_code", code=m.item_code
            )
        if not 0 < m.quantity <= MAX_QUANTITY:
            raise Invalid(N_("Quantities must be more than 0."), field=f"materials.{j}.quantity")
        lot.materials.append(LotMaterial(item_id=mat.id, material_lot=m.material_lot, quantity=m.quantity))
    db.add(lot)
    db.flush()
    events.publish("lot.created", db=db, actor=actor, lot=lot)
    record_by(
        db,
        actor,
        "create",
        "lot",
        lot.id,
        after={
            "number": lot.number,
            "work_order": wo.number,
            "quantity": lot.quantity,
            "materials": len(lot.materials),
        },
    )
    db.commit()
    return lot


# ---------------------------------------------------------------- for other contexts


def ideal_cycle_segments(
    db: Session, org_id: int, device_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, float, str]]:
    """(segment start, segment end, ideal cycle s, item code) for the times in [start, end) the machine was
    running an operation (pauses excluded), from the operation reports; an open run counts up to now.

    The OEE app uses it for the performance of those windows; outside them the device model's default applies."""
    now = utcnow()
    rows = db.execute(
        select(RunSegment.start, RunSegment.end, OperationReport.ideal_cycle_s, Item.code)
        .join(OperationReport, OperationReport.id == RunSegment.report_id)
        .join(WorkOrderOp, WorkOrderOp.id == OperationReport.op_id)
        .join(WorkOrder, WorkOrder.id == WorkOrderOp.work_order_id)
        .join(Item, Item.id == WorkOrder.item_id)
        .where(
            RunSegment.device_id == device_id,
            OperationReport.org_id == org_id,
            RunSegment.start < end,
            or_(RunSegment.end.is_(None), RunSegment.end > start),
        )
        .order_by(RunSegment.start)
    ).all()
    out = []
    for s, e, cycle, code in rows:
        a, b = max(s, start), min(e or now, end)
        if b > a:
            out.append((a, b, float(cycle), str(code)))
    return out


def cycle_time(db: Session, org_id: int, item_id: int, device_id: int) -> dict[int, float]:
    """Cycle time (s/piece) of each routing operation of the item on the machine, by operation number."""
    rows = db.execute(
        select(RoutingOp.seq, OpMachine.cycle_s)
        .join(OpMachine, OpMachine.op_id == RoutingOp.id)
        .where(RoutingOp.item_id == item_id, RoutingOp.org_id == org_id, OpMachine.device_id == device_id)
    ).all()
    return {int(seq): float(c) for seq, c in rows}


def open_work_orders(db: Session, org_id: int) -> list[WorkOrder]:
    """Planned, released and running work orders of an enterprise (what scheduling plans)."""
    return list(
        db.execute(
            select(WorkOrder)
            .where(WorkOrder.org_id == org_id, WorkOrder.state.in_(("planned", "released", "running")))
            .order_by(WorkOrder.due_date, WorkOrder.priority)
        )
        .unique()
        .scalars()
    )


def produced(db: Session, org_id: int, since: datetime, until: datetime) -> dict[str, int]:
    """Good and reject pieces reported in finished runs in [since, until) (programme evidence, maintenance)."""
    g, r, n = db.execute(
        select(
            func.coalesce(func.sum(OperationReport.good), 0),
            func.coalesce(func.sum(OperationReport.reject), 0),
            func.count(OperationReport.id),
        ).where(
            OperationReport.org_id == org_id,
            OperationReport.state == "finished",
            OperationReport.finished_at >= since,
            OperationReport.finished_at < until,
        )
    ).one()
    return {"good": int(g or 0), "reject": int(r or 0), "runs": int(n or 0)}


def lots_after(db: Session, after_id: int = 0, limit: int = 1000, org_id: int | None = None) -> list[Lot]:
    """Lots in id order after ``after_id`` (traceability rebuilds its graph from them in pages)."""
    stmt = select(Lot).where(Lot.id > after_id)
    if org_id is not None:
        stmt = stmt.where(Lot.org_id == org_id)
    return list(db.execute(stmt.order_by(Lot.id).limit(limit)).unique().scalars())


def lot_genealogy(db: Session, org_id: int, lot_number: str) -> dict[str, Any] | None:
    """A lot with its work order, item, machine, window and consumed material lots (traceability's input)."""
    lot = lot_by_number(db, org_id, lot_number)
    if lot is None:
        return None
    wo = lot.work_order
    return {
        "lot": lot.number,
        "work_order": wo.number,
        "item": wo.item.code,
        "device_id": lot.device_id,
        "start": lot.start.isoformat(),
        "end": lot.end.isoformat(),
        "quantity": lot.quantity,
        "materials": [
            {"item": m.item.code, "material_lot": m.material_lot, "quantity": m.quantity} for m in lot.materials
        ],
    }


MIN_GROUP = 3


def cluster_summary(db: Session, actor: Actor) -> list[dict[str, Any]]:
    """Government view: per district and industry cluster, how many enterprises use work orders, how many
    orders are open and completed, and the share completed on time. Groups of fewer than three enterprises
    show no rates, so no one enterprise can be singled out; nothing names an enterprise or an item."""
    from chaoyun.identity.models import EnterpriseProfile, Organisation

    stmt = (
        select(
            Organisation.district,
            EnterpriseProfile.cluster,
            WorkOrder.org_id,
            WorkOrder.state,
            WorkOrder.due_date,
            WorkOrder.closed_at,
        )
        .join(Organisation, Organisation.id == WorkOrder.org_id)
        .join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id, isouter=True)
    )
    if actor.role == Role.DISTRICT_OFFICER:
        stmt = stmt.where(Organisation.district == actor.district)
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"orgs": set(), "open": 0, "done": 0, "on_time": 0}
    )
    for district, cluster, org_id, state, due, closed in db.execute(stmt).all():
        g = groups[(district or "", cluster or "")]
        g["orgs"].add(org_id)
        if state in ("planned", "released", "running"):
            g["open"] += 1
        elif state == "done":
            g["done"] += 1
            if closed is not None and timefmt.to_local(closed).date() <= due:
                g["on_time"] += 1
    out = []
    for (district, cluster), g in sorted(groups.items()):
        n = len(g["orgs"])
        row: dict[str, Any] = {"district": district, "cluster": cluster, "enterprises": n, "open": None, "done": None}
        row["on_time_pct"] = None
        if n >= MIN_GROUP:
            row["open"], row["done"] = g["open"], g["done"]
            row["on_time_pct"] = round(100 * g["on_time"] / g["done"], 1) if g["done"] else None
        out.append(row)
    return out
