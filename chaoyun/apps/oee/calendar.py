"""Shift calendars: which hours are planned production time.

A calendar is data (``shifts``: key, name, start/end "HH:MM" local time, breaks as [["HH:MM", "HH:MM"], ...]);
a shift whose end is not after its start runs past midnight and belongs to the production day it starts on.
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
        breaks = [[_hm(a).strftime("%H:%M"), _hm(b).strftime("%H:%M")] for a, b in (s.get("breaks") or [])]
        out.append(
            {
                "key": key,
                "name": str(s.get("name") or key)[:40],
                "start": start.strftime("%H:%M"),
                "end": end.strftime("%H:%M"),
                "breaks": breaks,
            }
        )
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
    shifts: list[dict[str, Any]],
    first_day: date,
    last_day: date,
    downtime: list[tuple[datetime, datetime]] | None = None,
) -> Windows:
    """Planned windows for the production days first_day … last_day (inclusive)."""
    starts: list[int] = []
    ends: list[int] = []
    idx: list[int] = []
    labels: list[tuple[str, str]] = []
    bounds: list[tuple[int, int]] = []
    down = sorted((_ms(a), _ms(b)) for a, b in (downtime or []) if b > a)
    d = first_day
    while d <= last_day:
        for s in shifts:
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
