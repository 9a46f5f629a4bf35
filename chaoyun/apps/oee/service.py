"""OEE of an enterprise's machines from telemetry: per machine, line, workshop, shift and day; losses,
stop reasons (labelled by operators), Pareto, trend and ranking; cluster aggregates for the government."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from chaoyun.apps.models import PlannedDowntime, ProductionCount, ShiftCalendar, StopLabel
from chaoyun.apps.oee import calendar as cal
from chaoyun.apps.oee import compute as oc
from chaoyun.apps.scope import own
from chaoyun.devices.models import Device
from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor
from chaoyun.production.service import ideal_cycle_segments

STOP_REASONS = (
    "breakdown_mechanical",
    "breakdown_electrical",
    "mould_change",
    "adjustment",
    "material_shortage",
    "waiting_operator",
    "quality_check",
    "other",
)
# Which loss of the tree an operator's reason belongs to.
REASON_LOSS = {
    "breakdown_mechanical": "breakdown",
    "breakdown_electrical": "breakdown",
    "mould_change": "setup",
    "adjustment": "setup",
    "material_shortage": "idle",
    "waiting_operator": "idle",
    "quality_check": "idle",
    "other": "idle",
}
DEFAULT_REASON = {1: "unlabelled_idle", 2: "unlabelled_setup", 3: "unlabelled_breakdown", 4: "off", 5: "no_signal"}
MAX_DAYS = 92


# ---------------------------------------------------------------- calendars and inputs


def calendar_for(db: Session, org_id: int) -> tuple[cal.Calendar, float]:
    """The enterprise's calendar (either stored format) and small-stop threshold; the default two shifts
    with the official holidays when it has none."""
    c = db.get(ShiftCalendar, org_id)
    if c is None or not c.shifts:
        return cal.Calendar(cal.DEFAULT_SHIFTS), oc.DEFAULT_SMALL_STOP_S
    return cal.from_stored(c.shifts), float(c.small_stop_s)


def shifts_for(db: Session, org_id: int) -> tuple[list[dict[str, Any]], float]:
    calendar, small = calendar_for(db, org_id)
    return calendar.shifts, small


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shifts: list[dict[str, Any]]
    small_stop_s: float = Field(300.0, ge=0, le=3600)
    # Days off and make-up working days; omitted: the official list (国务院办公厅 2026 arrangement).
    holidays: list[str] | None = None
    workdays: list[str] | None = None


def set_calendar(db: Session, actor: Actor, data: CalendarIn) -> ShiftCalendar:
    shifts = cal.validate_shifts(data.shifts)
    holidays = None if data.holidays is None else cal.validate_dates(data.holidays, "holidays")
    workdays = None if data.workdays is None else cal.validate_dates(data.workdays, "workdays")
    both_ways = set(holidays or []) & set(workdays or [])
    if both_ways:
        raise Invalid(
            N_("%(day)s is both a holiday and a make-up working day."), field="workdays", day=min(both_ways).isoformat()
        )
    stored = cal.Calendar(shifts, holidays, workdays).stored()
    c = db.get(ShiftCalendar, actor.org_id)
    before = {"shifts": c.shifts, "small_stop_s": c.small_stop_s} if c else None
    if c is None:
        c = ShiftCalendar(org_id=actor.org_id)
        db.add(c)
    c.shifts = stored  # type: ignore[assignment]  # the JSON column holds the version-2 mapping
    c.small_stop_s = data.small_stop_s
    record_by(db, actor, "update", "shift_calendar", actor.org_id, before=before, after=stored)
    db.commit()
    return c


def planned_week(calendar: cal.Calendar, monday: date) -> list[dict[str, Any]]:
    """Planned production hours of each day of the week starting ``monday`` (shifts minus breaks, before
    any planned downtime): the calendar form's preview."""
    w = cal.build_windows(calendar, monday, monday + timedelta(days=6))
    per_day: dict[str, float] = defaultdict(float)
    names: dict[str, list[str]] = defaultdict(list)
    for (day, key), _b in zip(w.labels, w.shift_bounds, strict=True):
        names[day].append(key)
    for a, b, i in zip(w.starts, w.ends, w.shift_idx, strict=True):
        per_day[w.labels[int(i)][0]] += (int(b) - int(a)) / 3_600_000
    out = []
    for k in range(7):
        d = monday + timedelta(days=k)
        iso = d.isoformat()
        kind = "holiday" if d in calendar.holidays else "workday" if d in calendar.workdays else ""
        out.append(
            {
                "day": iso,
                "weekday": d.weekday(),
                "shifts": names.get(iso, []),
                "hours": round(per_day[iso], 2),
                "kind": kind,
            }
        )
    return out


class DowntimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime
    device_id: int | None = Field(None, ge=1, le=2**31 - 1)
    reason: str = Field("", max_length=200)


def add_downtime(db: Session, actor: Actor, data: DowntimeIn) -> PlannedDowntime:
    start, end = _aware(data.start), _aware(data.end)
    if end <= start:
        raise Invalid(N_("The end must be after the start."), field="end")
    if data.device_id is not None:
        own(actor, db.get(Device, data.device_id), N_("No such device in your enterprise."))
    d = PlannedDowntime(org_id=actor.org_id, device_id=data.device_id, start=start, end=end, reason=data.reason)
    db.add(d)
    db.flush()
    record_by(db, actor, "create", "planned_downtime", d.id, after={"start": start.isoformat(), "end": end.isoformat()})
    db.commit()
    return d


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=cal.LOCAL)


def put_machine_downtime(
    db: Session,
    org_id: int,
    device_id: int,
    start: datetime,
    end: datetime,
    reason: str,
    downtime_id: int | None = None,
) -> PlannedDowntime:
    """Create one machine's planned downtime, or move the row ``downtime_id`` (a maintenance window that changed).

    For apps that own such windows (maintenance): no actor and no commit, the caller checks scope, audits and
    commits with its own change. The time is excluded from OEE and blocks the machine in the scheduler."""
    start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
    if end <= start:
        raise Invalid(N_("The end must be after the start."), field="end")
    d = db.get(PlannedDowntime, downtime_id) if downtime_id is not None else None
    if d is None or d.org_id != org_id:
        d = PlannedDowntime(org_id=org_id, device_id=device_id)
        db.add(d)
    d.device_id, d.start, d.end, d.reason = device_id, start, end, reason[:200]
    db.flush()
    return d


def remove_downtime(db: Session, org_id: int, downtime_id: int) -> None:
    """Delete a planned downtime row of the enterprise (no commit; see ``put_machine_downtime``)."""
    d = db.get(PlannedDowntime, downtime_id)
    if d is not None and d.org_id == org_id:
        db.delete(d)
        db.flush()


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: int = Field(ge=1, le=2**31 - 1)
    start: datetime
    end: datetime
    reason: str
    note: str = Field("", max_length=200)


def label_stop(db: Session, actor: Actor, data: LabelIn) -> StopLabel:
    if data.reason not in STOP_REASONS:
        raise Invalid(N_("Choose one of the listed stop reasons."), field="reason")
    own(actor, db.get(Device, data.device_id), N_("No such device in your enterprise."))
    start, end = _aware(data.start).astimezone(UTC), _aware(data.end).astimezone(UTC)
    if end <= start:
        raise Invalid(N_("The end must be after the start."), field="end")
    lab = db.execute(
        select(StopLabel).where(StopLabel.device_id == data.device_id, StopLabel.start == start)
    ).scalar_one_or_none()
    before = {"reason": lab.reason} if lab else None
    if lab is None:
        lab = StopLabel(org_id=actor.org_id, device_id=data.device_id, start=start, end=end)
        db.add(lab)
    lab.reason, lab.note, lab.end, lab.labelled_by = data.reason, data.note, end, actor.user.username
    db.flush()
    record_by(db, actor, "label", "stop", lab.id, before=before, after={"reason": data.reason})
    db.commit()
    return lab


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: int = Field(ge=1, le=2**31 - 1)
    day: date
    shift: str = Field(min_length=1, max_length=8)
    good: int = Field(ge=0, le=10_000_000)
    rejects: int = Field(0, ge=0, le=10_000_000)
    startup_rejects: int = Field(0, ge=0, le=10_000_000)


def enter_counts(db: Session, actor: Actor, data: CountIn) -> ProductionCount:
    own(actor, db.get(Device, data.device_id), N_("No such device in your enterprise."))
    if data.startup_rejects > data.rejects:
        raise Invalid(N_("Start-up rejects are part of the rejects and cannot exceed them."), field="startup_rejects")
    shifts, _ = shifts_for(db, actor.org_id)
    if data.shift not in {s["key"] for s in shifts}:
        raise Invalid(N_("No such shift in your calendar."), field="shift")
    pc = db.execute(
        select(ProductionCount).where(
            ProductionCount.device_id == data.device_id,
            ProductionCount.day == data.day,
            ProductionCount.shift == data.shift,
        )
    ).scalar_one_or_none()
    if pc is None:
        pc = ProductionCount(org_id=actor.org_id, device_id=data.device_id, day=data.day, shift=data.shift)
        db.add(pc)
    pc.good, pc.rejects, pc.startup_rejects, pc.entered_by = (
        data.good,
        data.rejects,
        data.startup_rejects,
        actor.user.username,
    )
    db.flush()
    record_by(db, actor, "enter", "production_count", pc.id, after=data.model_dump(mode="json"))
    db.commit()
    return pc


# ---------------------------------------------------------------- computation


def _roles(device: Device) -> dict[str, str]:
    return {m.role: m.key for m in device.model.metrics if m.role}


def _arrays(rows: list[tuple[datetime, float | None, str | None]]) -> tuple[np.ndarray, np.ndarray]:
    ts = np.fromiter((int(r[0].timestamp() * 1000) for r in rows), dtype=np.int64, count=len(rows))
    vals = np.fromiter((r[1] if r[1] is not None else np.nan for r in rows), dtype=np.float64, count=len(rows))
    ok = ~np.isnan(vals)
    return ts[ok], vals[ok]


@dataclass
class MachineOee:
    device: Device
    result: oc.MachineResult
    overrides: dict[int, ProductionCount]  # shift index → operator counts


@dataclass
class Period:
    first_day: date
    last_day: date
    windows: oc.Windows
    machines: list[MachineOee]
    small_stop_s: float
    labels: list[StopLabel] = field(default_factory=list)
    now: datetime | None = None  # time of the computation: stops still going on end here

    def summary(self, machines: list[MachineOee] | None = None, shifts: list[int] | None = None) -> oc.Oee:
        """OEE of the machines over the shifts. Counts: for a shift an operator entered, the entered good
        and rejects win (total = good + rejects, the counter is ignored for that shift); otherwise the
        machine's counter (good = counted − rejects). Both sources are kept for display."""
        ms = self.machines if machines is None else machines
        state = np.zeros(oc.N_STATES)
        small = total = rej = startup = ideal_time = 0.0
        good_total = counter_total = manual_total = 0.0
        manual_shifts = 0
        sel = slice(None) if shifts is None else shifts
        for m in ms:
            r = m.result
            idx = range(len(self.windows.labels)) if shifts is None else shifts
            state += r.state_s[sel].sum(axis=0)
            small += float(r.small_stop_s[sel].sum())
            for i in idx:
                o = m.overrides.get(i)
                counted = float(r.total[i])
                counter_total += counted
                if o is not None:
                    rj, su, g = float(o.rejects), float(o.startup_rejects), float(o.good)
                    t = g + rj
                    manual_total += t
                    manual_shifts += 1
                else:
                    t, rj, su = counted, float(r.rejects[i]), float(r.startup_rejects[i])
                    g = max(t - rj, 0.0)
                total += t
                rej += rj
                startup += su
                good_total += g
                ic = r.ideal_by_shift[i] if r.ideal_by_shift is not None else r.ideal_cycle_s
                ideal_time += (ic or 0.0) * t
        ideal = ideal_time / total if total else None
        out = oc.summarise(state, small, total, rej, startup, ideal, good=good_total)
        out.counter_total = counter_total
        out.manual_total = manual_total if manual_shifts else None
        out.manual_shifts = manual_shifts
        return out


def _device_result(
    device: Device,
    windows: oc.Windows,
    start: datetime,
    end: datetime,
    small_stop_s: float,
    keep_stops: bool,
    now: datetime,
) -> oc.MachineResult:
    from chaoyun.devices.store import get_store

    store = get_store()
    roles = _roles(device)
    st_rows = store.raw(device.id, roles["state"], start, end, limit=5_000_000) if "state" in roles else []
    # The state in force at the start: the last report before it (within a day).
    before = (
        store.raw(device.id, roles["state"], start - timedelta(days=1), start, limit=5_000_000)
        if "state" in roles
        else []
    )
    if before:
        st_rows = [(start, None, before[-1][2]), *st_rows]
    ts = np.fromiter((int(r[0].timestamp() * 1000) for r in st_rows), dtype=np.int64, count=len(st_rows))
    codes = oc.encode_states([r[2] or "" for r in st_rows])
    ts, codes = oc.run_length(ts, codes)

    def counter(role: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        if role not in roles:
            return None, None
        rows = store.raw(device.id, roles[role], start - timedelta(hours=1), end, limit=5_000_000)
        t, v = _arrays(rows)
        return oc.counter_increments(t, v)

    cyc_t, cyc = counter("cycle_counter")
    if cyc_t is None:
        cyc_t, cyc = counter("good_count")
    rej_t, rej = counter("reject_count")
    res = oc.machine_oee(
        windows,
        ts,
        codes,
        cyc_t,
        cyc,
        rej_t,
        rej,
        device.model.ideal_cycle_s,
        small_stop_s,
        keep_stops=keep_stops,
        until_ms=int(now.timestamp() * 1000),
    )
    # Where production reports say which item the machine ran, that item's cycle time on this machine is the
    # performance base for the pieces counted then; the model's default elsewhere (weighted per shift).
    db = object_session(device)
    segs = ideal_cycle_segments(db, device.org_id, device.id, start, end) if db is not None else []
    if segs and cyc_t is not None and cyc is not None and len(cyc_t):
        per_piece = np.full(len(cyc_t), float(device.model.ideal_cycle_s or 0.0))
        for a, b, cycle, _item in segs:
            per_piece[(cyc_t >= a.timestamp() * 1000) & (cyc_t < b.timestamp() * 1000)] = cycle
        lo = np.searchsorted(cyc_t, windows.shift_bounds[:, 0], side="left")
        hi = np.searchsorted(cyc_t, windows.shift_bounds[:, 1], side="left")
        cum_n = np.concatenate(([0.0], np.cumsum(cyc)))
        cum_i = np.concatenate(([0.0], np.cumsum(cyc * per_piece)))
        n = cum_n[hi] - cum_n[lo]
        res.ideal_by_shift = np.where(n > 0, (cum_i[hi] - cum_i[lo]) / np.maximum(n, 1e-9), res.ideal_cycle_s or 0.0)
    return res


def _empty_result(device: Device) -> oc.MachineResult:
    z = np.zeros(0)
    return oc.MachineResult(np.zeros((0, oc.N_STATES)), z, z, z, z, z, device.model.ideal_cycle_s)


def compute_period(
    db: Session,
    org_id: int,
    first_day: date,
    last_day: date,
    device_ids: list[int] | None = None,
    keep_stops: bool = False,
    now: datetime | None = None,
) -> Period:
    if last_day < first_day or (last_day - first_day).days > MAX_DAYS:
        raise Invalid(N_("Choose a period of at most %(days)s days."), days=MAX_DAYS)
    calendar, small = calendar_for(db, org_id)
    stmt = select(Device).where(Device.org_id == org_id).order_by(Device.workshop, Device.line, Device.name)
    if device_ids is not None:
        stmt = stmt.where(Device.id.in_(device_ids))
    devices = [d for d in db.execute(stmt).scalars().all() if d.model.ideal_cycle_s]
    start = cal.local_day_start(first_day)
    end = cal.local_day_start(last_day + timedelta(days=2))
    downtime = (
        db.execute(
            select(PlannedDowntime).where(
                PlannedDowntime.org_id == org_id, PlannedDowntime.end > start, PlannedDowntime.start < end
            )
        )
        .scalars()
        .all()
    )
    org_down = [(d.start, d.end) for d in downtime if d.device_id is None]
    # The future is not planned time yet: a period that includes today counts up to now only.
    now = now or datetime.now(UTC)
    if end > now:
        org_down.append((now, end))
    base = cal.build_windows(calendar, first_day, last_day, org_down)
    counts = (
        db.execute(
            select(ProductionCount).where(
                ProductionCount.org_id == org_id, ProductionCount.day >= first_day, ProductionCount.day <= last_day
            )
        )
        .scalars()
        .all()
    )
    label_index = {lab: i for i, lab in enumerate(base.labels)}
    machines = []
    for d in devices:
        own_down = [(x.start, x.end) for x in downtime if x.device_id == d.id]
        windows = cal.build_windows(calendar, first_day, last_day, org_down + own_down) if own_down else base
        if not windows.labels:  # no shift in the period (holidays only): nothing planned, nothing lost
            machines.append(MachineOee(d, _empty_result(d), {}))
            continue
        wstart = datetime.fromtimestamp(int(windows.shift_bounds[0, 0]) / 1000, UTC)
        wend = datetime.fromtimestamp(int(windows.shift_bounds[-1, 1]) / 1000, UTC)
        res = _device_result(d, windows, wstart, wend, small, keep_stops, now)
        ov = {
            label_index[(c.day.isoformat(), c.shift)]: c
            for c in counts
            if c.device_id == d.id and (c.day.isoformat(), c.shift) in label_index
        }
        machines.append(MachineOee(d, res, ov))
    labels = []
    if keep_stops:
        labels = list(
            db.execute(
                select(StopLabel).where(StopLabel.org_id == org_id, StopLabel.end > start, StopLabel.start < end)
            ).scalars()
        )
    return Period(first_day, last_day, base, machines, small, labels, now)


# ---------------------------------------------------------------- views of a period


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 1)


def oee_row(name: str, o: oc.Oee) -> dict[str, Any]:
    return {
        "name": name,
        "availability": _pct(o.availability),
        "performance": _pct(o.performance),
        "quality": _pct(o.quality),
        "oee": _pct(o.oee),
        "planned_h": round(o.planned_s / 3600, 2),
        "total": round(o.total),
        "good": round(o.good),
        "rejects": round(o.rejects),
        "no_signal_h": round(o.no_signal_s / 3600, 2),
        "counter_total": round(o.counter_total),
        "manual_total": None if o.manual_total is None else round(o.manual_total),
        "manual_shifts": o.manual_shifts,
    }


def by_group(p: Period, key: str) -> list[dict[str, Any]]:
    """Rows per machine / line / workshop, ranked by OEE (highest first)."""
    groups: dict[str, list[MachineOee]] = defaultdict(list)
    for m in p.machines:
        d = m.device
        name = {"machine": d.name, "line": f"{d.workshop} / {d.line}".strip(" /"), "workshop": d.workshop}[key]
        groups[name or "—"].append(m)
    rows = [
        oee_row(k, p.summary(v)) | {"device_id": v[0].device.id if key == "machine" else None}
        for k, v in groups.items()
    ]
    return sorted(rows, key=lambda r: -(r["oee"] if r["oee"] is not None else -1))


def by_shift(p: Period) -> list[dict[str, Any]]:
    return [
        oee_row(f"{day} {shift}", p.summary(shifts=[i])) | {"day": day, "shift": shift}
        for i, (day, shift) in enumerate(p.windows.labels)
    ]


def by_day(p: Period) -> list[dict[str, Any]]:
    days: dict[str, list[int]] = defaultdict(list)
    for i, (day, _s) in enumerate(p.windows.labels):
        days[day].append(i)
    return [oee_row(day, p.summary(shifts=idx)) | {"day": day} for day, idx in sorted(days.items())]


def loss_tree(o: oc.Oee) -> list[dict[str, Any]]:
    """Hours lost per category of the six big losses, grouped under availability, performance, quality;
    then the hours without signal, apart (they are not the machine's loss)."""
    L = o.losses
    h = {k: round(v / 3600, 2) for k, v in L.items()}
    return [
        {
            "group": "availability",
            "items": [
                ("breakdown", h["breakdown"]),
                ("setup", h["setup"]),
                ("idle", h["idle"]),
                ("off", h["off"]),
            ],
        },
        {"group": "performance", "items": [("small_stops", h["small_stops"]), ("reduced_speed", h["reduced_speed"])]},
        {
            "group": "quality",
            "items": [("startup_rejects", h["startup_rejects"]), ("production_rejects", h["production_rejects"])],
        },
        # Not a loss of the machine: time the platform heard nothing from it (outside availability's base).
        {"group": "no_signal_group", "items": [("no_signal", round(o.no_signal_s / 3600, 2))]},
    ]


@dataclass
class Stop:
    device_id: int
    device: str
    start: datetime
    end: datetime
    state: str
    reason: str
    labelled: bool
    ongoing: bool = False  # still going on: it ends "now" (the time of the computation)

    @property
    def minutes(self) -> float:
        return round((self.end - self.start).total_seconds() / 60, 1)


def stops(p: Period, min_s: float | None = None) -> list[Stop]:
    """Stops within planned time (at least ``min_s`` long; default the small-stop threshold), with the
    operator's reason where one was given (a label matches a stop starting within a minute of it)."""
    threshold = p.small_stop_s if min_s is None else min_s
    labels: dict[int, list[StopLabel]] = defaultdict(list)
    for sl in p.labels:
        labels[sl.device_id].append(sl)
    out = []
    for m in p.machines:
        for a, b, code in m.result.stops:
            if (b - a) / 1000 < threshold or code == oc.UNKNOWN:
                continue
            s = datetime.fromtimestamp(a / 1000, UTC)
            e = datetime.fromtimestamp(b / 1000, UTC)
            lab: StopLabel | None = next(
                (x for x in labels.get(m.device.id, []) if abs((x.start.astimezone(UTC) - s).total_seconds()) < 60),
                None,
            )
            reason = lab.reason if lab else DEFAULT_REASON.get(code, "other")
            ongoing = p.now is not None and b >= int(p.now.timestamp() * 1000)
            out.append(Stop(m.device.id, m.device.name, s, e, oc.STATE_NAMES[code], reason, lab is not None, ongoing))
    return sorted(out, key=lambda x: x.start, reverse=True)


def pareto(stop_list: list[Stop]) -> list[dict[str, Any]]:
    tot: dict[str, float] = defaultdict(float)
    for s in stop_list:
        tot[s.reason] += s.minutes
    rows = sorted(tot.items(), key=lambda kv: -kv[1])
    grand = sum(tot.values()) or 1.0
    cum = 0.0
    out = []
    for reason, minutes in rows:
        cum += minutes
        out.append({"reason": reason, "minutes": round(minutes, 1), "cumulative_pct": round(100 * cum / grand, 1)})
    return out


def period_bounds(request_days: int | None, end_day: date | None = None) -> tuple[date, date]:
    days = max(1, min(request_days or 7, MAX_DAYS))
    last = end_day or (datetime.now(cal.LOCAL).date())
    return last - timedelta(days=days - 1), last


def overview(db: Session, actor: Actor, first_day: date, last_day: date) -> dict[str, Any]:
    p = compute_period(db, actor.org_id, first_day, last_day, keep_stops=True)
    total = p.summary()
    st = stops(p)
    return {
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "total": oee_row("total", total),
        "losses": loss_tree(total),
        "machines": by_group(p, "machine"),
        "lines": by_group(p, "line"),
        "workshops": by_group(p, "workshop"),
        "days": by_day(p),
        "shifts": by_shift(p),
        "pareto": pareto(st),
        "stops": [
            {
                "device_id": s.device_id,
                "device": s.device,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "minutes": s.minutes,
                "state": s.state,
                "reason": s.reason,
                "labelled": s.labelled,
                "ongoing": s.ongoing,
            }
            for s in st[:300]
        ],
    }


# ---------------------------------------------------------------- other contexts and the government


def enterprise_oee(db: Session, org_id: int, first_day: date, last_day: date) -> float | None:
    """The enterprise's OEE over the period (None without machines reporting)."""
    p = compute_period(db, org_id, first_day, last_day)
    if not p.machines:
        return None
    return p.summary().oee


def cluster_oee(db: Session, district: str | None, first_day: date, last_day: date) -> list[dict[str, Any]]:
    """Average OEE of enterprises by (district, industry cluster): counts and means only, never one
    enterprise's figures. Groups of fewer than three enterprises are withheld so no one can be singled out."""
    from chaoyun.identity.models import EnterpriseProfile, Organisation

    stmt = (
        select(Device.org_id, Organisation.district, EnterpriseProfile.cluster)
        .join(Organisation, Organisation.id == Device.org_id)
        .join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id, isouter=True)
        .distinct()
    )
    if district:
        stmt = stmt.where(Organisation.district == district)
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for org_id, dist, cluster in db.execute(stmt).all():
        v = enterprise_oee(db, int(org_id), first_day, last_day)
        if v is not None:
            groups[(dist or "", cluster or "")].append(v)
    out = []
    for (dist, cluster), vals in sorted(groups.items()):
        row: dict[str, Any] = {"district": dist, "cluster": cluster, "enterprises": len(vals), "avg_oee": None}
        if len(vals) >= MIN_GROUP:
            row["avg_oee"] = round(100 * sum(vals) / len(vals), 1)
        out.append(row)
    return out


MIN_GROUP = 3
