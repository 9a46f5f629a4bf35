"""MTBF, MTTR and availability per machine and per device profile, from real stops and corrective orders.

Definitions (docs/maintenance.md says the same):
- **Failure**: a breakdown stop — the OEE app's stop detection over the state telemetry within planned production
  time, state ``fault`` (or a stop an operator labelled as a mechanical or electrical breakdown) lasting at least
  the enterprise's threshold (default 10 min) — or a corrective order (not cancelled) created in the period that
  no such stop explains. An order created from 10 minutes before a stop's start to its end is the same failure.
- **Repair time** of a failure: the stop's duration; for an order without a stop, its start → done (orders not
  done yet count as failures but have no repair time yet).
- **Operating time**: the OEE operating time of the period (planned time − breakdowns − set-up − off − long idle −
  no signal; planned maintenance windows are not planned time).
- MTBF = operating time / failures; MTTR = total repair time / failures with a repair time;
  availability (inherent) = MTBF / (MTBF + MTTR). With no failure: MTBF and MTTR are empty, availability 100 %.
- Per profile: the sums of the profile's machines (Σ operating / Σ failures, Σ repair / Σ repaired).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance.models import MaintOrder
from chaoyun.apps.maintenance.service import machines, settings_for
from chaoyun.apps.oee import calendar as cal
from chaoyun.apps.oee import service as oee

BREAKDOWN_REASONS = {"breakdown_mechanical", "breakdown_electrical"}
MATCH_BEFORE = timedelta(minutes=10)


@dataclass
class Failure:
    device_id: int
    start: datetime
    repair_s: float | None
    source: str  # stop | order | stop+order
    order_id: int | None = None


@dataclass
class Row:
    key: str
    name: str
    machines: int = 0
    operating_s: float = 0.0
    failures: int = 0
    repaired: int = 0
    repair_s: float = 0.0
    stops: int = 0
    orders: int = 0
    device_id: int | None = None
    profile: str = ""
    failure_list: list[Failure] = field(default_factory=list)

    @property
    def mtbf_h(self) -> float | None:
        return self.operating_s / self.failures / 3600 if self.failures else None

    @property
    def mttr_h(self) -> float | None:
        return self.repair_s / self.repaired / 3600 if self.repaired else None

    @property
    def availability(self) -> float | None:
        if not self.failures:
            return 1.0 if self.operating_s > 0 else None
        mtbf, mttr = self.mtbf_h, self.mttr_h
        if mtbf is None or mttr is None:
            return None
        return mtbf / (mtbf + mttr) if mtbf + mttr > 0 else None

    def out(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "device_id": self.device_id,
            "profile": self.profile,
            "machines": self.machines,
            "operating_h": round(self.operating_s / 3600, 3),
            "failures": self.failures,
            "failure_stops": self.stops,
            "failure_orders": self.orders,
            "repaired": self.repaired,
            "repair_h": round(self.repair_s / 3600, 3),
            "mtbf_h": None if self.mtbf_h is None else round(self.mtbf_h, 3),
            "mttr_h": None if self.mttr_h is None else round(self.mttr_h, 3),
            "availability": None if self.availability is None else round(self.availability, 4),
        }


@dataclass
class Reliability:
    first_day: date
    last_day: date
    threshold_min: float
    machines: list[Row]
    profiles: list[Row]

    def out(self) -> dict[str, Any]:
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "failure_min_stop_min": self.threshold_min,
            "machines": [r.out() for r in self.machines],
            "profiles": [r.out() for r in self.profiles],
            "failures": [
                {
                    "device_id": f.device_id,
                    "start": f.start.isoformat(),
                    "repair_h": None if f.repair_s is None else round(f.repair_s / 3600, 3),
                    "source": f.source,
                    "order_id": f.order_id,
                }
                for r in self.machines
                for f in r.failure_list
            ],
        }


def compute(db: Session, org_id: int, first_day: date, last_day: date, now: datetime | None = None) -> Reliability:
    now = now or datetime.now(UTC)
    threshold = float(settings_for(db, org_id).failure_min_stop_min)
    period = oee.compute_period(db, org_id, first_day, last_day, keep_stops=True, now=now)
    breakdowns: dict[int, list[oee.Stop]] = defaultdict(list)
    for s in oee.stops(period, min_s=threshold * 60):
        if s.state == "fault" or s.reason in BREAKDOWN_REASONS:
            breakdowns[s.device_id].append(s)
    start = cal.local_day_start(first_day)
    end = min(cal.local_day_start(last_day + timedelta(days=1)), now)
    orders = (
        db.execute(
            select(MaintOrder).where(
                MaintOrder.org_id == org_id,
                MaintOrder.kind == "corrective",
                MaintOrder.state != "cancelled",
                MaintOrder.created_at >= start,
                MaintOrder.created_at < end,
            )
        )
        .scalars()
        .all()
    )
    by_device: dict[int, list[MaintOrder]] = defaultdict(list)
    for o in orders:
        by_device[o.device_id].append(o)
    operating = {m.device.id: period.summary([m]).operating_s for m in period.machines}

    rows: list[Row] = []
    for d in machines(db, org_id):
        row = Row(f"d{d.id}", d.name, machines=1, device_id=d.id, profile=d.model.name_zh)
        row.operating_s = operating.get(d.id, 0.0)
        matched: set[int] = set()
        for s in breakdowns.get(d.id, []):
            hit = next(
                (
                    o
                    for o in by_device.get(d.id, [])
                    if o.id not in matched and s.start - MATCH_BEFORE <= o.created_at.astimezone(UTC) <= s.end
                ),
                None,
            )
            if hit is not None:
                matched.add(hit.id)
            dur = (s.end - s.start).total_seconds()
            source = "stop+order" if hit else "stop"
            row.failure_list.append(Failure(d.id, s.start, dur, source, hit.id if hit else None))
            row.stops += 1
        for o in by_device.get(d.id, []):
            if o.id in matched:
                continue
            rep = (o.done_at - o.started_at).total_seconds() if o.done_at and o.started_at else None
            row.failure_list.append(Failure(d.id, o.created_at.astimezone(UTC), rep, "order", o.id))
            row.orders += 1
        row.failure_list.sort(key=lambda f: f.start)
        row.failures = len(row.failure_list)
        reps = [f.repair_s for f in row.failure_list if f.repair_s is not None]
        row.repaired, row.repair_s = len(reps), float(sum(reps))
        rows.append(row)

    profiles: dict[str, Row] = {}
    for r, d in zip(rows, machines(db, org_id), strict=True):
        p = profiles.setdefault(str(d.model_id), Row(f"p{d.model_id}", d.model.name_zh, profile=d.model.key))
        p.machines += 1
        p.operating_s += r.operating_s
        p.failures += r.failures
        p.repaired += r.repaired
        p.repair_s += r.repair_s
        p.stops += r.stops
        p.orders += r.orders
    return Reliability(first_day, last_day, threshold, rows, sorted(profiles.values(), key=lambda r: r.name))
