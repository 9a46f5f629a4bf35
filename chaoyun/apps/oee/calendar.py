"""Shift calendars: which hours are planned production time.

A calendar is data (``shifts``: key, name, start/end "HH:MM" local time, breaks as [["HH:MM", "HH:MM"], ...],
optional ``days``: the weekdays it runs, 0 = Monday … 6 = Sunday, all when absent); a shift whose end is not
after its start runs past midnight and belongs to the production day it starts on. Public holidays have no
shifts; a make-up working day (调休上班) runs Monday's shifts. Stored format: the old plain list of shifts (read
as "every day, official holidays") or ``{"version": 2, "shifts": [...], "holidays": [...], "workdays": [...]}``.
Planned downtime (maintenance, no orders) is subtracted from the windows. Shantou keeps China Standard Time
(UTC+8, no daylight saving), so local days are fixed offsets from UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import numpy as np

from chaoyun.apps.oee.compute import Windows
from chaoyun.errors import Invalid
from chaoyun.i18n import N_

LOCAL = timezone(timedelta(hours=8))
DEFAULT_SHIFTS: list[dict[str, Any]] = [
    {"key": "A", "name": "白班", "start": "08:00", "end": "20:00", "breaks": [["12:00", "13:00"]]},
    {"key": "B", "name": "夜班", "start": "20:00", "end": "08:00", "breaks": [["00:00", "01:00"]]},
]


# 国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕7号, 2025-11-04): days off, and the weekend
# days worked instead. The default when an enterprise has not written its own list.
OFFICIAL_HOLIDAYS: dict[int, list[str]] = {
    2026: [
        "2026-01-01", "2026-01-02", "2026-01-03",
        "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21",
        "2026-02-22", "2026-02-23",
        "2026-04-04", "2026-04-05", "2026-04-06",
        "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05",
        "2026-06-19", "2026-06-20", "2026-06-21",
        "2026-09-25", "2026-09-26", "2026-09-27",
        "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07",
    ],
}  # fmt: skip
OFFICIAL_WORKDAYS: dict[int, list[str]] = {
    2026: ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
}
ALL_DAYS = [0, 1, 2, 3, 4, 5, 6]
MAKEUP_WEEKDAY = 0  # a make-up working day runs this weekday's shifts (Monday)
MAX_DATES = 400


def official_holidays() -> list[date]:
    return sorted(date.fromisoformat(d) for ds in OFFICIAL_HOLIDAYS.values() for d in ds)


def official_workdays() -> list[date]:
    return sorted(date.fromisoformat(d) for ds in OFFICIAL_WORKDAYS.values() for d in ds)


class Calendar:
    """Shifts with their weekdays, holidays and make-up working days: what decides planned time."""

    def __init__(
        self,
        shifts: list[dict[str, Any]],
        holidays: list[date] | None = None,
        workdays: list[date] | None = None,
    ) -> None:
        self.shifts = shifts
        # None: the official list (an enterprise that never wrote its own).
        self.holidays = set(official_holidays() if holidays is None else holidays)
        self.workdays = set(official_workdays() if workdays is None else workdays)

    def shifts_on(self, d: date) -> list[dict[str, Any]]:
        if d in self.holidays:
            return []
        wd = MAKEUP_WEEKDAY if d in self.workdays else d.weekday()
        return [s for s in self.shifts if wd in (s.get("days") or ALL_DAYS)]

    def stored(self) -> dict[str, Any]:
        return {
            "version": 2,
            "shifts": self.shifts,
            "holidays": [d.isoformat() for d in sorted(self.holidays)],
            "workdays": [d.isoformat() for d in sorted(self.workdays)],
        }


def from_stored(stored: Any) -> Calendar:
    """Read either stored format: the old list of shifts (every day, official holidays) or version 2."""
    if isinstance(stored, dict):
        return Calendar(
            list(stored.get("shifts") or DEFAULT_SHIFTS),
            [date.fromisoformat(d) for d in stored.get("holidays") or []],
            [date.fromisoformat(d) for d in stored.get("workdays") or []],
        )
    return Calendar(list(stored) if stored else DEFAULT_SHIFTS)


def validate_dates(values: Any, field: str) -> list[date]:
    if not isinstance(values, list) or len(values) > MAX_DATES:
        raise Invalid(N_("At most %(n)s dates, written as 2026-10-01."), field=field, n=MAX_DATES)
    out = set()
    for v in values:
        try:
            out.add(v if isinstance(v, date) else date.fromisoformat(str(v).strip()))
        except ValueError as exc:
            raise Invalid(N_("%(value)s is not a date (2026-10-01)."), field=field, value=str(v)[:20]) from exc
    return sorted(out)


def _hm(v: Any) -> time:
    try:
        h, m = str(v).strip().split(":")
        return time(int(h), int(m))
    except (ValueError, TypeError) as exc:
        raise Invalid(N_("Times are written as HH:MM, e.g. 08:00."), field="shifts") from exc


def validate_shifts(shifts: Any) -> list[dict[str, Any]]:
    if not isinstance(shifts, list) or not shifts or len(shifts) > 6:
        raise Invalid(N_("A calendar has one to six shifts."), field="shifts")
    out = []
    keys = set()
    for s in shifts:
        if not isinstance(s, dict):
            raise Invalid(N_("A calendar has one to six shifts."), field="shifts")
        key = str(s.get("key") or "").strip()[:8]
        if not key or key in keys:
            raise Invalid(N_("Each shift needs its own short key."), field="shifts")
        keys.add(key)
        start, end = _hm(s.get("start")), _hm(s.get("end"))
        try:
            breaks = [[_hm(a).strftime("%H:%M"), _hm(b).strftime("%H:%M")] for a, b in (s.get("breaks") or [])]
        except (TypeError, ValueError) as exc:
            raise Invalid(N_("A break is a start and an end, e.g. 12:00-13:00."), field="shifts") from exc
        row: dict[str, Any] = {
            "key": key,
            "name": str(s.get("name") or key)[:40],
            "start": start.strftime("%H:%M"),
            "end": end.strftime("%H:%M"),
            "breaks": breaks,
        }
        days = s.get("days")
        if days is not None:
            try:
                ds = sorted({int(x) for x in days})
            except (TypeError, ValueError) as exc:
                raise Invalid(N_("Weekdays are 0 (Monday) to 6 (Sunday)."), field="shifts") from exc
            if not ds or ds[0] < 0 or ds[-1] > 6:
                raise Invalid(N_("Each shift runs on at least one weekday (0 Monday … 6 Sunday)."), field="shifts")
            if ds != ALL_DAYS:
                row["days"] = ds  # absent means every day: the old format stays valid and unchanged
        out.append(row)
    return out


def local_day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), LOCAL).astimezone(UTC)


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _at(d: date, t: time, not_before: datetime | None = None) -> datetime:
    dt = datetime.combine(d, t, LOCAL)
    if not_before is not None and dt <= not_before:
        dt += timedelta(days=1)
    return dt


def build_windows(
    shifts: list[dict[str, Any]] | Calendar,
    first_day: date,
    last_day: date,
    downtime: list[tuple[datetime, datetime]] | None = None,
) -> Windows:
    """Planned windows for the production days first_day … last_day (inclusive): the shifts that run on
    each day (weekdays, holidays, make-up working days), minus breaks and downtime."""
    calendar = shifts if isinstance(shifts, Calendar) else Calendar(shifts, [], [])
    starts: list[int] = []
    ends: list[int] = []
    idx: list[int] = []
    labels: list[tuple[str, str]] = []
    bounds: list[tuple[int, int]] = []
    down = sorted((_ms(a), _ms(b)) for a, b in (downtime or []) if b > a)
    d = first_day
    while d <= last_day:
        for s in calendar.shifts_on(d):
            s0 = _at(d, _hm(s["start"]))
            s1 = _at(d, _hm(s["end"]), not_before=s0)
            pieces = [(_ms(s0), _ms(s1))]
            cut = []
            for a, b in s.get("breaks") or []:
                b0 = _at(d, _hm(a))
                if b0 < s0:
                    b0 += timedelta(days=1)
                b1 = _at(d, _hm(b), not_before=b0)
                cut.append((_ms(b0), _ms(b1)))
            cut += down
            for c0, c1 in cut:
                nxt = []
                for p0, p1 in pieces:
                    if c1 <= p0 or c0 >= p1:
                        nxt.append((p0, p1))
                        continue
                    if p0 < c0:
                        nxt.append((p0, c0))
                    if c1 < p1:
                        nxt.append((c1, p1))
                pieces = nxt
            k = len(labels)
            labels.append((d.isoformat(), str(s["key"])))
            bounds.append((_ms(s0), _ms(s1)))
            for p0, p1 in pieces:
                starts.append(p0)
                ends.append(p1)
                idx.append(k)
        d += timedelta(days=1)
    order = np.argsort(np.asarray(starts, dtype=np.int64), kind="stable")
    b_arr = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    border = np.argsort(b_arr[:, 0], kind="stable")
    # Shift instances sorted by start; remap window indices accordingly.
    remap = np.empty(len(border), dtype=np.int64)
    remap[border] = np.arange(len(border))
    return Windows(
        starts=np.asarray(starts, dtype=np.int64)[order],
        ends=np.asarray(ends, dtype=np.int64)[order],
        shift_idx=remap[np.asarray(idx, dtype=np.int64)[order]] if idx else np.zeros(0, dtype=np.int64),
        labels=[labels[i] for i in border],
        shift_bounds=b_arr[border],
    )
