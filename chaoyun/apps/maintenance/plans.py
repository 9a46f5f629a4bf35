"""Maintenance plans and the due check.

A plan is due when, since its baseline (the last of its orders done or skipped, else its start):
- calendar: ``every`` days (or weeks) have passed;
- runtime: the machine ran ``every`` hours — time in state ``running`` of the profile's state signal (the metric
  with role ``state``, mapped by the profile's state configuration at ingest), read from the telemetry store;
- cycles: its counter rose by ``every`` — the metric with role ``cycle_counter`` (else ``good_count``), read the
  way production reads counters (a drop is a reset; the value before the window is the base).

Running hours and cycles are accrued incrementally (``meter`` up to ``meter_at``), so a check reads only the
telemetry since the previous one. Telemetry that arrives later than ``LAG`` after its time is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance import labels
from chaoyun.apps.maintenance.models import MaintOrder, MaintPlan
from chaoyun.apps.maintenance.schemas import PlanIn
from chaoyun.apps.maintenance.service import _audit, _utc, create_work_order, machine_of
from chaoyun.apps.oee import compute as oc
from chaoyun.db import utcnow
from chaoyun.devices.models import Device
from chaoyun.devices.profiles.service import roles_of
from chaoyun.devices.store import get_store
from chaoyun.errors import Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.production import counters

# Telemetry may arrive a little after its time (gateways batch): the check counts up to now − LAG.
LAG = timedelta(minutes=2)
DUE_SOON = 0.9
STATE_LOOKBACK = timedelta(days=1)


# ---------------------------------------------------------------- usage from telemetry


def running_seconds(device: Device, start: datetime, end: datetime) -> float:
    """Seconds the machine was ``running`` in [start, end), from its state signal (the state in force at
    ``start`` is the last report before it, within a day; after the last report the state lasts until ``end``)."""
    if end <= start:
        return 0.0
    key = roles_of(device.model).get("state")
    if key is None:
        return 0.0
    store = get_store()
    rows = store.raw(device.id, key, start, end, limit=5_000_000)
    before = store.raw(device.id, key, start - STATE_LOOKBACK, start, limit=5_000_000)
    if before:
        rows = [(start, None, before[-1][2]), *rows]
    if not rows:
        return 0.0
    ts = np.fromiter((int(r[0].timestamp() * 1000) for r in rows), dtype=np.int64, count=len(rows))
    codes = oc.encode_states([r[2] or "" for r in rows])
    ts, codes = oc.run_length(ts, codes)
    ends = np.append(ts[1:], int(end.timestamp() * 1000))
    dur = np.maximum(ends - np.maximum(ts, int(start.timestamp() * 1000)), 0)
    return float(dur[codes == oc.STATE_CODES["running"]].sum()) / 1000.0


def cycles_between(device: Device, start: datetime, end: datetime) -> float:
    roles = roles_of(device.model)
    key = roles.get("cycle_counter") or roles.get("good_count")
    if key is None or end <= start:
        return 0.0
    return float(counters.increase(device.id, key, [(start, end)]) or 0)


def usage(device: Device, trigger: str, start: datetime, end: datetime) -> float:
    if trigger == "runtime":
        return running_seconds(device, start, end) / 3600.0
    if trigger == "cycles":
        return cycles_between(device, start, end)
    return 0.0


def can_measure(device: Device, trigger: str) -> bool:
    roles = roles_of(device.model)
    if trigger == "runtime":
        return "state" in roles
    if trigger == "cycles":
        return "cycle_counter" in roles or "good_count" in roles
    return True


# ---------------------------------------------------------------- plans


def baseline(plan: MaintPlan) -> datetime:
    return plan.last_done_at or plan.start_at


def interval_days(plan: MaintPlan) -> float:
    return plan.every * (7 if plan.calendar_unit == "weeks" else 1)


def refresh_meter(db: Session, plan: MaintPlan, until: datetime) -> float:
    """Accrue running hours or cycles from ``meter_at`` (or the baseline) to ``until``."""
    if plan.trigger == "calendar":
        return 0.0
    since = plan.meter_at or baseline(plan)
    if until > since:
        device = db.get(Device, plan.device_id)
        if device is not None:
            plan.meter = (plan.meter or 0.0) + usage(device, plan.trigger, since, until)
        plan.meter_at = until
    return plan.meter or 0.0


@dataclass
class PlanStatus:
    plan: MaintPlan
    progress: float  # share of the interval used (1.0 = due)
    used: float  # days (calendar), hours (runtime) or cycles since the baseline
    next_due: datetime | None  # calendar plans; None for usage plans
    open_order: MaintOrder | None

    @property
    def due(self) -> bool:
        return self.progress >= 1.0

    @property
    def due_soon(self) -> bool:
        return DUE_SOON <= self.progress < 1.0


def status(db: Session, plan: MaintPlan, now: datetime) -> PlanStatus:
    base = baseline(plan)
    if plan.trigger == "calendar":
        days = interval_days(plan)
        used = max((now - base).total_seconds() / 86400.0, 0.0)
        progress = used / days if days > 0 else 0.0
        next_due: datetime | None = base + timedelta(days=days)
    else:
        used = refresh_meter(db, plan, now)
        progress = used / plan.every if plan.every > 0 else 0.0
        next_due = None
    order = db.execute(
        select(MaintOrder).where(MaintOrder.device_id == plan.device_id, MaintOrder.open_key == f"plan:{plan.id}")
    ).scalar_one_or_none()
    return PlanStatus(plan, progress, used, next_due, order)


def _check_plan(db: Session, actor: Actor, data: PlanIn) -> None:
    device = machine_of(db, actor.org_id, data.device_id)
    if not can_measure(device, data.trigger):
        signal = N_("a state signal") if data.trigger == "runtime" else N_("a cycle or good-count counter")
        raise Invalid(
            N_("This machine's profile has no %(signal)s, so the plan could never become due."),
            field="trigger",
            signal=signal,
        )


def create_plan(db: Session, actor: Actor, data: PlanIn, now: datetime | None = None) -> MaintPlan:
    _check_plan(db, actor, data)
    start_at = _utc(data.start_at) or (now or utcnow())
    plan = MaintPlan(
        org_id=actor.org_id,
        device_id=data.device_id,
        name=data.name.strip(),
        trigger=data.trigger,
        every=data.every,
        calendar_unit=data.calendar_unit,
        duration_min=data.duration_min,
        detail=data.detail,
        active=data.active,
        start_at=start_at,
        meter=0.0,
        meter_at=None,
    )
    db.add(plan)
    db.flush()
    _audit(db, actor, actor.org_id, "create", "maintenance_plan", plan.id, **data.model_dump(mode="json"))
    db.commit()
    return plan


def update_plan(db: Session, actor: Actor, plan_id: int, data: PlanIn) -> MaintPlan:
    plan = get_plan(db, actor, plan_id)
    _check_plan(db, actor, data)
    if data.device_id != plan.device_id or data.trigger != plan.trigger:
        plan.meter, plan.meter_at = 0.0, None  # another signal: count afresh from the baseline
    plan.device_id, plan.name, plan.trigger, plan.every = data.device_id, data.name.strip(), data.trigger, data.every
    plan.calendar_unit, plan.duration_min, plan.detail = data.calendar_unit, data.duration_min, data.detail
    plan.active = data.active
    if data.start_at is not None and plan.last_done_at is None:
        plan.start_at, plan.meter, plan.meter_at = _utc(data.start_at) or plan.start_at, 0.0, None
    _audit(db, actor, actor.org_id, "update", "maintenance_plan", plan.id, **data.model_dump(mode="json"))
    db.commit()
    return plan


def get_plan(db: Session, actor: Actor, plan_id: int) -> MaintPlan:
    plan = db.get(MaintPlan, plan_id)
    if plan is None or plan.org_id != actor.org_id or actor.audience != "enterprise":
        raise NotFound(N_("No such maintenance plan, or it is not yours to see."))
    return plan


def list_plans(db: Session, org_id: int) -> list[MaintPlan]:
    return list(
        db.execute(select(MaintPlan).where(MaintPlan.org_id == org_id).order_by(MaintPlan.device_id, MaintPlan.id))
        .scalars()
    )


def plan_statuses(db: Session, org_id: int, now: datetime | None = None) -> list[PlanStatus]:
    now = now or utcnow() - LAG
    out = [status(db, p, now) for p in list_plans(db, org_id)]
    db.commit()  # the meters moved on
    return out


# ---------------------------------------------------------------- the due check


def check_due(db: Session, org_id: int | None = None, now: datetime | None = None) -> list[MaintOrder]:
    """Open a preventive order for every active plan that is due and has none open. Returns the new orders."""
    now = now or utcnow() - LAG
    stmt = select(MaintPlan).where(MaintPlan.active.is_(True))
    if org_id is not None:
        stmt = stmt.where(MaintPlan.org_id == org_id)
    made: list[MaintOrder] = []
    for plan in list(db.execute(stmt.order_by(MaintPlan.id)).scalars()):
        st = status(db, plan, now)
        if not st.due or st.open_order is not None:
            continue
        unit = {"calendar": "d", "runtime": "h", "cycles": ""}[plan.trigger]
        every = interval_days(plan) if plan.trigger == "calendar" else plan.every
        detail = f"{plan.detail}\n[{plan.trigger}] {st.used:.1f}{unit} / {every:g}{unit}".strip()
        due = st.next_due if st.next_due is not None else now
        order = create_work_order(
            db, None, plan.org_id, plan.device_id, "preventive", plan.name, detail, due, f"plan:{plan.id}",
            plan_id=plan.id, commit=False,
        )
        made.append(order)
    db.commit()
    return made


def status_now(db: Session, plan: MaintPlan) -> PlanStatus:
    return status(db, plan, utcnow() - LAG)


def plan_out(st: PlanStatus) -> dict[str, Any]:
    p = st.plan
    return {
        "id": p.id,
        "device_id": p.device_id,
        "name": p.name,
        "trigger": p.trigger,
        "every": p.every,
        "calendar_unit": p.calendar_unit,
        "duration_min": p.duration_min,
        "detail": p.detail,
        "active": p.active,
        "start_at": p.start_at.astimezone(UTC).isoformat(),
        "last_done_at": p.last_done_at.isoformat() if p.last_done_at else None,
        "used": round(st.used, 3),
        "progress": round(st.progress, 4),
        "due": st.due,
        "due_soon": st.due_soon,
        "next_due": st.next_due.isoformat() if st.next_due else None,
        "open_order_id": st.open_order.id if st.open_order else None,
    }


TRIGGERS = labels.TRIGGERS
