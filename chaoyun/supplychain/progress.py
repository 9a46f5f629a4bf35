"""Progress of confirmed lines, read from the supplier's own work orders (production) and machines' counters.

``refresh`` computes, for each confirmed line, the pieces made by the work order's last operation (finished runs,
whose counts come from the machines' counters, plus what the counters show for runs still going on), a forecast
finish at the pace each operation has kept since it started (wall-clock, so nights and breaks are in it), and the
risk against the due date. The figures are kept on the line so the overview pages read them from one index; the
server refreshes them in the background (``background.py``) and an order's page refreshes its own lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.db import utcnow
from chaoyun.devices.models import Device
from chaoyun.production import counters
from chaoyun.production import service as production
from chaoyun.production.models import WorkOrder, WorkOrderOp
from chaoyun.supplychain.models import OrderLine

# A line not started yet is at risk when this many days or fewer are left.
RISK_DAYS = 2
# For an operation not started yet: its routing's ideal cycle time at this share of ideal pace.
PLAN_EFFICIENCY = 0.8


def _op_done(db: Session, op: WorkOrderOp, now: datetime) -> tuple[int, datetime | None]:
    """Good pieces of an operation (finished runs + counters of runs still open) and when it first started."""
    good = sum(r.good or 0 for r in op.reports if r.state == "finished")
    first = min((r.started_at for r in op.reports), default=None)
    for r in op.reports:
        if r.state == "finished":
            continue
        device = db.get(Device, r.device_id)
        if device is None:
            continue
        measured = counters.counted(device, [(s.start, s.end or now) for s in r.segments])
        if measured is not None:
            good += measured[0]
    return good, first


def _remaining_hours(op: WorkOrderOp, qty: int, done: int, first: datetime | None, now: datetime) -> float | None:
    left = max(qty - done, 0)
    if left == 0:
        return 0.0
    if first is not None and done > 0:
        hours = max((now - first).total_seconds() / 3600, 1 / 60)
        return left / (done / hours)
    cycles = [m.cycle_s for m in op.routing_op.machines] if op.routing_op else []
    if not cycles:
        return None
    return left * min(cycles) / PLAN_EFFICIENCY / 3600


def assess(db: Session, line: OrderLine, wo: WorkOrder | None, now: datetime | None = None) -> None:
    """Set made_qty, forecast_finish and risk of one line from its work order."""
    now = now or utcnow()
    today = timefmt.local_today()
    line.progress_at = now
    if wo is None:
        line.made_qty, line.forecast_finish = 0, None
        line.risk = (
            "overdue" if line.due_date < today else ("at_risk" if (line.due_date - today).days <= RISK_DAYS else "")
        )
        return
    if wo.state == "done":
        last = wo.operations[-1] if wo.operations else None
        line.made_qty = last.good if last else wo.quantity
        line.forecast_finish = wo.closed_at
        closed_day = timefmt.to_local(wo.closed_at).date() if wo.closed_at else today
        # Closed short of the ordered quantity counts as late as well: the rest will not come from this order.
        line.risk = "late" if closed_day > line.due_date or line.made_qty < line.quantity else "on_track"
        return
    done_first = [_op_done(db, op, now) for op in wo.operations]
    line.made_qty = done_first[-1][0] if done_first else 0
    started = any(first is not None for _d, first in done_first)
    if not started:
        line.forecast_finish = None
        days_left = (line.due_date - today).days
        line.risk = "overdue" if days_left < 0 else ("at_risk" if days_left <= RISK_DAYS else "")
        return
    hours = [_remaining_hours(op, wo.quantity, d, f, now) for op, (d, f) in zip(wo.operations, done_first, strict=True)]
    known = [h for h in hours if h is not None and math.isfinite(h)]
    line.forecast_finish = now + timedelta(hours=max(known)) if known else None
    if line.made_qty >= line.quantity:
        line.risk = "on_track"
    elif line.due_date < today:
        line.risk = "overdue"
    elif line.forecast_finish is None:
        line.risk = "at_risk"
    else:
        finish_day = timefmt.to_local(line.forecast_finish).date()
        line.risk = "late" if finish_day > line.due_date else ("at_risk" if finish_day == line.due_date else "on_track")


def refresh(db: Session, line_ids: Sequence[int] | None = None, limit: int = 5000) -> int:
    """Recompute the progress of confirmed lines (these ids, or every confirmed line); commits; returns how many."""
    # Delivered lines keep the figures they had; one delivered before it was ever read is read once.
    stmt = select(OrderLine).where(
        or_(OrderLine.state == "confirmed", and_(OrderLine.state == "delivered", OrderLine.progress_at.is_(None)))
    )
    if line_ids is not None:
        if not line_ids:
            return 0
        stmt = stmt.where(OrderLine.id.in_(list(line_ids)))
    lines = list(
        db.execute(stmt.order_by(OrderLine.progress_at.is_not(None), OrderLine.progress_at).limit(limit)).scalars()
    )
    now = utcnow()
    for line in lines:
        wo = (
            production.work_order_by_number(db, line.supplier_org_id, line.work_order_number)
            if line.work_order_number
            else None
        )
        assess(db, line, wo, now)
    db.commit()
    return len(lines)
