"""The maintenance calendar: what happens on each day of a month — orders by their window (or due date, or the
day they were opened) and the calendar plans' next due dates (for managers)."""

from __future__ import annotations

import calendar as pycal
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.maintenance import plans, service
from chaoyun.apps.maintenance.models import MaintOrder
from chaoyun.identity.permissions import Actor


@dataclass
class Entry:
    day: date
    kind: str  # order | plan
    title: str
    state: str  # the order's state, or "planned" for a plan's next due date
    order_kind: str  # preventive | corrective | predictive ("preventive" for plans)
    href: str
    order: MaintOrder | None = None
    at: datetime | None = None


def _day(dt: datetime) -> date:
    return timefmt.to_local(dt).date()


def month(db: Session, actor: Actor, year: int, month_no: int, now: datetime | None = None) -> dict[str, Any]:
    first = date(year, month_no, 1)
    last = date(year, month_no, pycal.monthrange(year, month_no)[1])
    entries: list[Entry] = []
    for o in service.list_orders(db, actor, limit=20000):
        at = o.window_start or o.due or o.created_at
        d = _day(at)
        if first <= d <= last:
            href = f"/apps/maintenance/orders/{o.id}"
            entries.append(Entry(d, "order", f"{o.number} {o.title}", o.state, o.kind, href, o, at))
    if service.is_manager(actor):
        for st in plans.plan_statuses(db, actor.org_id, now=now):
            if st.next_due is not None and st.open_order is None and st.plan.active:
                d = _day(st.next_due)
                if first <= d <= last:
                    entries.append(Entry(d, "plan", st.plan.name, "planned", "preventive",
                                         f"/apps/maintenance/plans/{st.plan.id}", None, st.next_due))
    entries.sort(key=lambda e: (e.day, e.at or datetime.min.replace(tzinfo=timefmt.zone())))
    by_day: dict[date, list[Entry]] = {}
    for e in entries:
        by_day.setdefault(e.day, []).append(e)
    # Weeks Monday → Sunday covering the month (None outside it).
    weeks: list[list[date | None]] = []
    cursor = first - timedelta(days=first.weekday())
    while cursor <= last:
        weeks.append([cursor + timedelta(days=i) if first <= cursor + timedelta(days=i) <= last else None
                      for i in range(7)])
        cursor += timedelta(days=7)
    prev_month = (first - timedelta(days=1)).replace(day=1)
    next_month = last + timedelta(days=1)
    return {
        "first": first,
        "last": last,
        "weeks": weeks,
        "by_day": by_day,
        "entries": entries,
        "prev": f"{prev_month.year:04d}-{prev_month.month:02d}",
        "next": f"{next_month.year:04d}-{next_month.month:02d}",
        "month": f"{year:04d}-{month_no:02d}",
    }


def entry_out(e: Entry) -> dict[str, Any]:
    return {
        "day": e.day.isoformat(),
        "kind": e.kind,
        "title": e.title,
        "state": e.state,
        "order_kind": e.order_kind,
        "order_id": e.order.id if e.order else None,
        "at": e.at.isoformat() if e.at else None,
    }
