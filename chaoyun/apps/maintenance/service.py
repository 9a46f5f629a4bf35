"""Maintenance work orders: creation (by hand, from plans, alarms and predictions), the state machine
open → assigned → in progress → done / cancelled, technicians, time, parts, cause, notes, and the maintenance
window (an apps planned-downtime row kept in step with the order).

For other code (the prediction half, ``chaoyun.apps.maintenance.predict``):
``create_work_order(db, actor_or_None, org_id, device_id, kind, title, detail, due, source_ref)`` — idempotent on
(device, source_ref) while an order of that source is open.

Plans and their due check are in ``plans.py``, spare parts in ``parts.py``, MTBF / MTTR in ``reliability.py``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.maintenance import labels
from chaoyun.apps.maintenance.models import (
    MaintOrder,
    MaintOrderAlarm,
    MaintPlan,
    MaintSettings,
    OrderPart,
    SparePart,
)
from chaoyun.apps.maintenance.permissions import MAINT_MANAGE
from chaoyun.apps.maintenance.schemas import FinishIn, OrderIn, SettingsIn, WindowIn, WorkIn
from chaoyun.apps.oee import service as oee
from chaoyun.apps.oee.calendar import LOCAL
from chaoyun.db import get_sessionmaker, utcnow
from chaoyun.devices import events
from chaoyun.devices.models import Alarm, Device
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, Msgid
from chaoyun.identity import audit
from chaoyun.identity.models import Membership, User
from chaoyun.identity.permissions import Actor
from chaoyun.jobs import runner

log = logging.getLogger(__name__)

DEFAULT_SEVERITIES = ("critical", "major")
DEFAULT_ALARM_KINDS = ("threshold", "rate", "state")
DEFAULT_FAILURE_MIN_STOP_MIN = 10.0
# Alarms older than this are not turned into orders by the sweep (the hook handles live ones at once).
ALARM_SWEEP_DAYS = 7
MAX_WINDOW = timedelta(days=31)
# Source of corrective orders from alarms: one open order per machine takes all its alarms.
ALARM_SOURCE = "alarms"


# ---------------------------------------------------------------- helpers


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=LOCAL)).astimezone(UTC)


def is_manager(actor: Actor) -> bool:
    return actor.has(MAINT_MANAGE)


def _audit(db: Session, actor: Actor | None, org_id: int, action: str, obj: str, oid: int, **after: Any) -> None:
    audit.record(
        db,
        actor_user_id=actor.user.id if actor else None,
        actor_username=actor.user.username if actor else "system",
        actor_org_id=actor.org_id if actor else org_id,
        action=action,
        object_type=obj,
        object_id=oid,
        after={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in after.items()} or None,
    )


def machine_of(db: Session, org_id: int, device_id: int) -> Device:
    d = db.get(Device, device_id)
    if d is None or d.org_id != org_id:
        raise NotFound(N_("No such device in your enterprise."), field="device_id")
    return d


def machines(db: Session, org_id: int) -> list[Device]:
    stmt = select(Device).where(Device.org_id == org_id).order_by(Device.workshop, Device.line, Device.name)
    return list(db.execute(stmt).scalars())


def technicians(db: Session, org_id: int) -> list[User]:
    """Active people of the enterprise (admins and members): who can be given an order."""
    stmt = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id, User.is_active.is_(True))
        .distinct()
        .order_by(User.id)
    )
    return list(db.execute(stmt).scalars())


# ---------------------------------------------------------------- settings


def settings_for(db: Session, org_id: int) -> MaintSettings:
    s = db.get(MaintSettings, org_id)
    if s is None:
        return MaintSettings(
            org_id=org_id,
            alarm_severities=list(DEFAULT_SEVERITIES),
            alarm_kinds=list(DEFAULT_ALARM_KINDS),
            failure_min_stop_min=DEFAULT_FAILURE_MIN_STOP_MIN,
        )
    return s


def set_settings(db: Session, actor: Actor, data: SettingsIn) -> MaintSettings:
    s = db.get(MaintSettings, actor.org_id)
    if s is None:
        s = MaintSettings(org_id=actor.org_id)
        db.add(s)
    s.alarm_severities = sorted(set(data.alarm_severities))
    s.alarm_kinds = sorted(set(data.alarm_kinds))
    s.failure_min_stop_min = data.failure_min_stop_min
    db.flush()
    _audit(db, actor, actor.org_id, "update", "maintenance_settings", actor.org_id, **data.model_dump())
    db.commit()
    return s


# ---------------------------------------------------------------- creating orders


def create_work_order(
    db: Session,
    actor: Actor | None,
    org_id: int,
    device_id: int,
    kind: str,
    title: str,
    detail: str = "",
    due: datetime | None = None,
    source_ref: str = "",
    *,
    plan_id: int | None = None,
    commit: bool = True,
) -> MaintOrder:
    """A new maintenance order for a machine of ``org_id`` (``actor`` None: the system — a plan, an alarm, a
    prediction). With a ``source_ref`` it is idempotent: while an order of that machine and source is open
    (open, assigned, in progress) that order is returned and nothing is created."""
    if kind not in labels.KINDS:
        raise Invalid(N_("Unknown kind of maintenance order."), field="kind")
    if actor is not None and actor.org_id != org_id:
        raise NotFound(N_("No such device in your enterprise."), field="device_id")
    machine_of(db, org_id, device_id)
    title = (title or "").strip()[:200]
    if not title:
        raise Invalid(N_("This field is required."), field="title")
    source_ref = (source_ref or "").strip()[:100]
    if source_ref:
        existing = _open_of(db, device_id, source_ref)
        if existing is not None:
            return existing
    order = MaintOrder(
        org_id=org_id,
        device_id=device_id,
        plan_id=plan_id,
        kind=kind,
        title=title,
        detail=(detail or "")[:4000],
        state="open",
        source_ref=source_ref,
        open_key=source_ref or None,
        due=_utc(due),
        created_by=actor.user.username if actor else "system",
        created_by_id=actor.user.id if actor else None,
    )
    try:
        # Added inside the savepoint, so a refused insert leaves nothing pending in the session.
        with db.begin_nested():
            db.add(order)
            db.flush()
    except IntegrityError:
        # Another process opened an order of this source at the same moment: that one stands.
        if order in db:
            db.expunge(order)
        existing = _open_of(db, device_id, source_ref)
        if existing is None:
            raise
        return existing
    _audit(db, actor, org_id, "create", "maintenance_order", order.id, kind=kind, title=title, source=source_ref)
    if commit:
        db.commit()
    return order


def _open_of(db: Session, device_id: int, source_ref: str) -> MaintOrder | None:
    return db.execute(
        select(MaintOrder).where(MaintOrder.device_id == device_id, MaintOrder.open_key == source_ref)
    ).scalar_one_or_none()


def report_order(db: Session, actor: Actor, data: OrderIn) -> MaintOrder:
    """An order opened by hand (members: a breakdown they report; admins: any kind)."""
    if data.kind != "corrective" and not is_manager(actor):
        raise Forbidden(N_("Only maintenance managers open preventive or predictive orders by hand."))
    return create_work_order(db, actor, actor.org_id, data.device_id, data.kind, data.title, data.detail, data.due)


# ---------------------------------------------------------------- orders from alarms


def alarm_opens_order(settings: MaintSettings, severity: str | None, kind: str | None) -> bool:
    return severity in (settings.alarm_severities or []) and kind in (settings.alarm_kinds or [])


def order_from_alarm(db: Session, alarm: Alarm) -> MaintOrder | None:
    """The corrective order for an alarm, when the enterprise's settings say its severity and kind open one.
    Each alarm is taken once; while the machine has an open order from alarms, further alarms of that machine
    (a repeat, or another rule firing on the same breakdown) are added to it instead of opening another."""
    settings = settings_for(db, alarm.org_id)
    if not alarm_opens_order(settings, alarm.severity, alarm.kind):
        return None
    if db.get(MaintOrderAlarm, alarm.id) is not None:
        return None
    rule = (alarm.details or {}).get("rule") or ""
    title = f"{rule} — {alarm.message}" if rule else alarm.message
    source = ALARM_SOURCE
    detail = f"{alarm.started_at.isoformat()} {alarm.severity} {alarm.kind}: {alarm.message}"
    order = create_work_order(
        db, None, alarm.org_id, alarm.device_id, "corrective", title or "alarm", detail, alarm.started_at, source,
        commit=False,
    )
    if order.detail != detail and detail not in order.detail:
        order.detail = (order.detail + "\n" + detail)[:4000]
    db.add(MaintOrderAlarm(alarm_id=alarm.id, order_id=order.id))
    try:
        db.commit()
    except IntegrityError:  # the hook and the sweep met on the same alarm
        db.rollback()
        return None
    return order


def sweep_alarms(db: Session, org_id: int | None = None, now: datetime | None = None) -> int:
    """Orders for recent alarms that have none yet (alarms raised while the hook was not listening: another
    process, a restart, the demo's simulated history). Returns how many alarms were taken."""
    now = now or utcnow()
    taken = select(MaintOrderAlarm.alarm_id)
    stmt = (
        select(Alarm)
        .where(Alarm.started_at >= now - timedelta(days=ALARM_SWEEP_DAYS), Alarm.id.not_in(taken))
        .order_by(Alarm.started_at)
    )
    if org_id is not None:
        stmt = stmt.where(Alarm.org_id == org_id)
    n = 0
    for alarm in list(db.execute(stmt).scalars()):
        if order_from_alarm(db, alarm) is not None:
            n += 1
    return n


ALARM_ORDER = "maintenance.alarm_order"
runner.register_kind(ALARM_ORDER, "chaoyun.apps.maintenance.service:run_alarm_order")


def on_alarm(**data: Any) -> None:
    """The ``alarm.raised`` subscriber (after the alarm's commit): a cheap check here, the order as a job of the
    runner (a crashed worker's job is retried; each alarm is taken once)."""
    org_id, alarm_id = data.get("org_id"), data.get("alarm_id")
    if not isinstance(org_id, int) or not isinstance(alarm_id, int):
        return
    try:
        with get_sessionmaker()() as db:
            if not alarm_opens_order(settings_for(db, org_id), data.get("severity"), data.get("kind")):
                return
            runner.enqueue(db, ALARM_ORDER, {"alarm_id": alarm_id}, title=f"order for alarm {alarm_id}", org_id=org_id)
    except Exception:
        log.exception("maintenance check of alarm %s failed", alarm_id)


def run_alarm_order(ctx: runner.JobContext, alarm_id: int) -> dict[str, Any]:
    with get_sessionmaker()() as db:
        alarm = db.get(Alarm, alarm_id)
        order = order_from_alarm(db, alarm) if alarm is not None else None
        return {"order": order.id if order is not None else None}


def wait_for_alarm_orders(timeout: float = 15.0) -> None:
    """Wait for (or, with no worker in this process, run) the queued alarm orders (tests, the demo)."""
    runner.drain([ALARM_ORDER], timeout)


_installed = False


def install() -> None:
    """Subscribe to alarms (once per process; the web app does it when the routes load)."""
    global _installed
    if not _installed:
        events.subscribe("alarm.raised", on_alarm)
        _installed = True


# ---------------------------------------------------------------- reading orders


def order_scope(actor: Actor) -> ColumnElement[bool]:
    """Every order of the actor's enterprise (members read them all, so an operator sees whether a breakdown is
    already reported; they act only on orders assigned to them)."""
    if actor.audience != "enterprise":
        return false()
    return MaintOrder.org_id == actor.org_id


def mine(actor: Actor) -> ColumnElement[bool]:
    return or_(MaintOrder.technician_id == actor.user.id, MaintOrder.created_by_id == actor.user.id)


def orders_select(
    actor: Actor,
    state: str | None = None,
    device_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    only_mine: bool = False,
) -> Select[MaintOrder]:
    """Orders of the actor's enterprise; ``state`` "active": not finished; ``only_mine``: assigned to or reported
    by the actor."""
    stmt = select(MaintOrder).where(order_scope(actor))
    if only_mine:
        stmt = stmt.where(mine(actor))
    if state == "active":
        stmt = stmt.where(MaintOrder.state.in_(labels.OPEN_STATES))
    elif state:
        stmt = stmt.where(MaintOrder.state == state)
    if device_id:
        stmt = stmt.where(MaintOrder.device_id == device_id)
    if kind:
        stmt = stmt.where(MaintOrder.kind == kind)
    if since is not None:
        stmt = stmt.where(MaintOrder.created_at >= since)
    if until is not None:
        stmt = stmt.where(MaintOrder.created_at < until)
    return stmt


def list_orders(
    db: Session,
    actor: Actor,
    state: str | None = None,
    device_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 5000,
    only_mine: bool = False,
) -> list[MaintOrder]:
    stmt = orders_select(actor, state, device_id, kind, since, until, only_mine)
    return list(db.execute(stmt.order_by(MaintOrder.id.desc()).limit(limit)).scalars())


def get_order(db: Session, actor: Actor, order_id: int) -> MaintOrder:
    o = db.execute(select(MaintOrder).where(MaintOrder.id == order_id, order_scope(actor))).scalar_one_or_none()
    if o is None:
        raise NotFound(N_("No such maintenance order, or it is not yours to see."))
    return o


def order_parts(db: Session, order_id: int) -> list[tuple[OrderPart, SparePart]]:
    stmt = (
        select(OrderPart, SparePart)
        .join(SparePart, SparePart.id == OrderPart.part_id)
        .where(OrderPart.order_id == order_id)
        .order_by(OrderPart.id)
    )
    return [(a, b) for a, b in db.execute(stmt).all()]


def alarms_of(db: Session, order_id: int) -> list[Alarm]:
    stmt = (
        select(Alarm)
        .join(MaintOrderAlarm, MaintOrderAlarm.alarm_id == Alarm.id)
        .where(MaintOrderAlarm.order_id == order_id)
        .order_by(Alarm.started_at)
    )
    return list(db.execute(stmt).scalars())


def open_counts(db: Session, actor: Actor) -> dict[str, int]:
    out = {s: 0 for s in labels.OPEN_STATES}
    for o in list_orders(db, actor, state="active"):
        out[o.state] += 1
    return out


# ---------------------------------------------------------------- the state machine


def _refuse_state(o: MaintOrder, to: str) -> Conflict:
    if o.state == to:
        return Conflict(
            N_("Order %(number)s is already %(state)s."), number=o.number, state=_state_label(o.state)
        )
    return Conflict(
        N_("Order %(number)s is %(state)s and cannot become %(to)s."),
        number=o.number,
        state=_state_label(o.state),
        to=_state_label(to),
    )


def _state_label(state: str) -> Msgid:
    return Msgid(labels.STATES.get(state, state))


def _for_work(db: Session, actor: Actor, order_id: int) -> MaintOrder:
    """An order the actor may work on: its technician, or a manager."""
    o = get_order(db, actor, order_id)
    if not is_manager(actor) and o.technician_id != actor.user.id:
        raise Forbidden(N_("Only the technician the order is assigned to, or a maintenance manager, may do this."))
    return o


def assign(db: Session, actor: Actor, order_id: int, technician_id: int) -> MaintOrder:
    o = get_order(db, actor, order_id)
    if o.state not in ("open", "assigned"):
        raise _refuse_state(o, "assigned")
    if technician_id not in {u.id for u in technicians(db, o.org_id)}:
        raise Invalid(N_("Choose a person of your enterprise."), field="technician_id")
    o.technician_id, o.state, o.assigned_at = technician_id, "assigned", utcnow()
    _audit(db, actor, o.org_id, "assign", "maintenance_order", o.id, technician_id=technician_id)
    db.commit()
    return o


def start(db: Session, actor: Actor, order_id: int, now: datetime | None = None) -> MaintOrder:
    o = _for_work(db, actor, order_id)
    if o.state != "assigned":
        raise _refuse_state(o, "in_progress")
    o.state, o.started_at = "in_progress", now or utcnow()
    _audit(db, actor, o.org_id, "start", "maintenance_order", o.id)
    db.commit()
    return o


def book_work(db: Session, actor: Actor, order_id: int, data: WorkIn) -> MaintOrder:
    """Add time spent and a note to an order being worked on."""
    o = _for_work(db, actor, order_id)
    if o.state not in ("assigned", "in_progress"):
        raise Conflict(N_("Order %(number)s is %(state)s: nothing can be booked on it."), number=o.number,
                       state=_state_label(o.state))
    o.minutes_spent += data.minutes
    _add_note(o, actor, data.note)
    _audit(db, actor, o.org_id, "book", "maintenance_order", o.id, minutes=data.minutes)
    db.commit()
    return o


def _add_note(o: MaintOrder, actor: Actor | None, note: str) -> None:
    note = (note or "").strip()
    if note:
        who = actor.user.display_name or actor.user.username if actor else "system"
        stamp = timefmt.format_dt(utcnow())
        o.notes = (f"{o.notes}\n" if o.notes else "") + f"[{stamp} {who}] {note}"
        o.notes = o.notes[-20000:]


def use_part(db: Session, actor: Actor, order_id: int, part_id: int, quantity: int) -> OrderPart:
    """Take parts from stock for the order. Refused beyond what is in stock (the decrement is one conditional
    UPDATE, so two technicians cannot both take the last one)."""
    o = _for_work(db, actor, order_id)
    if o.state not in ("assigned", "in_progress"):
        raise Conflict(N_("Order %(number)s is %(state)s: nothing can be booked on it."), number=o.number,
                       state=_state_label(o.state))
    part = db.get(SparePart, part_id)
    if part is None or part.org_id != o.org_id:
        raise NotFound(N_("No such spare part in your enterprise."), field="part_id")
    if quantity < 1:
        raise Invalid(N_("Enter a whole number of at least 1."), field="quantity")
    res = db.execute(
        update(SparePart)
        .where(SparePart.id == part_id, SparePart.stock >= quantity)
        .values(stock=SparePart.stock - quantity, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        part = db.get(SparePart, part_id)
        raise Conflict(
            N_("Only %(stock)s %(unit)s of %(part)s in stock; %(quantity)s cannot be taken."),
            field="quantity",
            stock=part.stock if part else 0,
            unit=part.unit if part else "",
            part=part.name if part else "",
            quantity=quantity,
        )
    used = OrderPart(order_id=o.id, part_id=part_id, quantity=quantity, used_by=actor.user.username)
    db.add(used)
    db.flush()
    _audit(db, actor, o.org_id, "use_part", "maintenance_order", o.id, part_id=part_id, quantity=quantity)
    db.commit()
    db.refresh(part)
    return used


def finish(db: Session, actor: Actor, order_id: int, data: FinishIn, now: datetime | None = None) -> MaintOrder:
    o = _for_work(db, actor, order_id)
    if o.state != "in_progress":
        raise _refuse_state(o, "done")
    cause = data.cause or ("routine" if o.kind == "preventive" else None)
    if cause is None:
        raise Invalid(N_("Choose the cause of the fault."), field="cause")
    if cause not in labels.CAUSES:
        raise Invalid(N_("Choose one of the listed causes."), field="cause")
    now = now or utcnow()
    if data.minutes is not None:
        o.minutes_spent = data.minutes
    elif not o.minutes_spent and o.started_at is not None:
        o.minutes_spent = max(0, round((now - o.started_at).total_seconds() / 60))
    o.cause, o.state, o.done_at, o.open_key = cause, "done", now, None
    _add_note(o, actor, data.note)
    # The machine is back: a window still running ends now (the rest of it is production time again).
    if o.downtime_id is not None and o.window_end is not None and o.window_start is not None:
        if o.window_start < now < o.window_end:
            oee.put_machine_downtime(db, o.org_id, o.device_id, o.window_start, now, _window_reason(o), o.downtime_id)
            o.window_end = now
        elif now <= o.window_start:  # done before its window: the window is released
            oee.remove_downtime(db, o.org_id, o.downtime_id)
            o.downtime_id = o.window_start = o.window_end = None
    _plan_restarts(db, o, now)
    _audit(db, actor, o.org_id, "finish", "maintenance_order", o.id, cause=cause, minutes=o.minutes_spent)
    db.commit()
    return o


def cancel(db: Session, actor: Actor, order_id: int, reason: str = "", now: datetime | None = None) -> MaintOrder:
    o = get_order(db, actor, order_id)
    if o.state not in labels.OPEN_STATES:
        raise _refuse_state(o, "cancelled")
    now = now or utcnow()
    o.state, o.cancelled_at, o.open_key = "cancelled", now, None
    if o.downtime_id is not None:
        oee.remove_downtime(db, o.org_id, o.downtime_id)
    o.downtime_id = None
    _add_note(o, actor, reason)
    # A cancelled plan order skips this occurrence: the plan counts again from now.
    _plan_restarts(db, o, now)
    _audit(db, actor, o.org_id, "cancel", "maintenance_order", o.id, reason=reason)
    db.commit()
    return o


def _plan_restarts(db: Session, o: MaintOrder, at: datetime) -> None:
    if o.plan_id is None:
        return
    plan = db.get(MaintPlan, o.plan_id)
    if plan is not None:
        plan.last_done_at, plan.meter, plan.meter_at = at, 0.0, at


# ---------------------------------------------------------------- maintenance window


def _window_reason(o: MaintOrder) -> str:
    return f"{o.number} {o.title}"[:200]


def set_window(db: Session, actor: Actor, order_id: int, data: WindowIn) -> MaintOrder:
    """Plan (or move) the time the machine is taken out of production for this order: written as the machine's
    planned downtime, so OEE leaves it out and the scheduler plans around it."""
    o = get_order(db, actor, order_id)
    if o.state not in labels.OPEN_STATES:
        raise Conflict(N_("Order %(number)s is %(state)s: its window can no longer change."), number=o.number,
                       state=_state_label(o.state))
    start_at, end_at = _utc(data.start), _utc(data.end)
    assert start_at is not None and end_at is not None
    if end_at <= start_at:
        raise Invalid(N_("The end must be after the start."), field="end")
    if end_at - start_at > MAX_WINDOW:
        raise Invalid(N_("A maintenance window lasts at most 31 days."), field="end")
    d = oee.put_machine_downtime(db, o.org_id, o.device_id, start_at, end_at, _window_reason(o), o.downtime_id)
    o.downtime_id, o.window_start, o.window_end = d.id, start_at, end_at
    _audit(db, actor, o.org_id, "window", "maintenance_order", o.id, start=start_at, end=end_at)
    db.commit()
    return o


def clear_window(db: Session, actor: Actor, order_id: int) -> MaintOrder:
    o = get_order(db, actor, order_id)
    if o.state not in labels.OPEN_STATES:
        raise Conflict(N_("Order %(number)s is %(state)s: its window can no longer change."), number=o.number,
                       state=_state_label(o.state))
    if o.downtime_id is not None:
        oee.remove_downtime(db, o.org_id, o.downtime_id)
    o.downtime_id = o.window_start = o.window_end = None
    _audit(db, actor, o.org_id, "window_clear", "maintenance_order", o.id)
    db.commit()
    return o


# ---------------------------------------------------------------- API shapes


def order_out(o: MaintOrder) -> dict[str, Any]:
    return {
        "id": o.id,
        "number": o.number,
        "device_id": o.device_id,
        "plan_id": o.plan_id,
        "kind": o.kind,
        "title": o.title,
        "detail": o.detail,
        "state": o.state,
        "source_ref": o.source_ref,
        "due": o.due.isoformat() if o.due else None,
        "technician_id": o.technician_id,
        "window_start": o.window_start.isoformat() if o.window_start else None,
        "window_end": o.window_end.isoformat() if o.window_end else None,
        "planned_downtime_id": o.downtime_id,
        "assigned_at": o.assigned_at.isoformat() if o.assigned_at else None,
        "started_at": o.started_at.isoformat() if o.started_at else None,
        "done_at": o.done_at.isoformat() if o.done_at else None,
        "cancelled_at": o.cancelled_at.isoformat() if o.cancelled_at else None,
        "minutes_spent": o.minutes_spent,
        "cause": o.cause,
        "notes": o.notes,
        "created_by": o.created_by,
        "created_at": o.created_at.isoformat(),
    }


def any_open_for_device(db: Session, org_id: int, device_id: int) -> bool:
    return (
        db.execute(
            select(MaintOrder.id).where(
                MaintOrder.org_id == org_id,
                MaintOrder.device_id == device_id,
                MaintOrder.state.in_(labels.OPEN_STATES),
            )
        ).first()
        is not None
    )

