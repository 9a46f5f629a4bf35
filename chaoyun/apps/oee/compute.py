"""OEE arithmetic over state-change intervals (run-length encoded), with numpy: no per-second loops.

Inputs per machine: the times (epoch ms) at which the state changed and the state codes; the planned
production windows (shift instances minus breaks and planned downtime); counter samples. The planned time
inside any interval [a, b) is F(b) − F(a), where F is the cumulative planned time (piecewise linear, so
``np.interp``); state segments are first cut at shift boundaries so every piece belongs to one shift.

Definitions (Nakajima's six big losses):
- no signal: planned time in which the machine sent no state (before its first report) is not the
  machine's loss: it is taken out of the base of availability and shown on its own ("no signal");
- availability = operating time / (planned time − no signal); operating time = planned time minus
  breakdowns (``fault``), set-up (``setup``), machine off, idle stops at least ``small_stop_s`` long (short
  idles are small stops, a performance loss) and no signal;
- performance = ideal cycle time × total count / operating time (capped at 1);
- quality = good / total;
- OEE = availability × performance × quality (= ideal cycle × good / (planned time − no signal)).

Time after ``until_ms`` (now) has not happened: a stop still going on ends there, never at the end of the
shift or day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATE_CODES = {"running": 0, "idle": 1, "setup": 2, "fault": 3, "off": 4}
UNKNOWN = 5  # no data: counts as planned time lost ("no signal"), never as running
N_STATES = 6
STATE_NAMES = ("running", "idle", "setup", "fault", "off", "unknown")
DEFAULT_SMALL_STOP_S = 300.0
DEFAULT_STARTUP_S = 900.0


def encode_states(states: list[str] | np.ndarray) -> np.ndarray:
    return np.fromiter((STATE_CODES.get(str(s), UNKNOWN) for s in states), dtype=np.int8, count=len(states))


def run_length(ts: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep only the samples where the state changes (periodic reports collapse to their changes)."""
    if len(ts) == 0:
        return ts, codes
    keep = np.concatenate(([True], codes[1:] != codes[:-1]))
    return ts[keep], codes[keep]


@dataclass
class Windows:
    """Planned production windows: ``starts``/``ends`` (ms, sorted, disjoint) and the shift instance each
    belongs to (``shift_idx``, index into ``labels``: (day ISO, shift key))."""

    starts: np.ndarray
    ends: np.ndarray
    shift_idx: np.ndarray
    labels: list[tuple[str, str]]
    shift_bounds: np.ndarray  # (S, 2) start/end of each shift instance, ms

    def cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        xs = np.empty(2 * len(self.starts), dtype=np.float64)
        xs[0::2], xs[1::2] = self.starts, self.ends
        dur = (self.ends - self.starts).astype(np.float64)
        ys = np.empty_like(xs)
        cum = np.cumsum(dur)
        ys[1::2] = cum
        ys[0::2] = cum - dur
        return xs, ys


@dataclass
class MachineResult:
    """Per shift instance: seconds in each state within planned time, counts, and loss seconds."""

    state_s: np.ndarray  # (S, N_STATES)
    small_stop_s: np.ndarray  # (S,)
    total: np.ndarray  # (S,)
    rejects: np.ndarray  # (S,)
    startup_rejects: np.ndarray  # (S,)
    planned_s: np.ndarray  # (S,)
    ideal_cycle_s: float | None
    stops: list[tuple[int, int, int]] = field(default_factory=list)  # (start ms, end ms, state) within plan
    # Count-weighted ideal cycle per shift where production reported the item being run (else ideal_cycle_s).
    ideal_by_shift: np.ndarray | None = None


def _planned_between(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(xs) == 0:
        return np.zeros(len(a))
    return np.asarray(np.interp(b, xs, ys) - np.interp(a, xs, ys))


def counter_increments(ts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Increments of a monotonic counter between consecutive samples, stamped at the later sample; a
    drop means the counter was reset, and the new value is what was counted since."""
    if len(ts) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    d = np.diff(values)
    d = np.where(d < 0, values[1:], d)
    return ts[1:], d


def machine_oee(
    windows: Windows,
    state_ts: np.ndarray,
    state_codes: np.ndarray,
    cycle_ts: np.ndarray | None,
    cycles: np.ndarray | None,
    reject_ts: np.ndarray | None,
    rejects: np.ndarray | None,
    ideal_cycle_s: float | None,
    small_stop_s: float = DEFAULT_SMALL_STOP_S,
    startup_s: float = DEFAULT_STARTUP_S,
    keep_stops: bool = False,
    until_ms: int | None = None,
) -> MachineResult:
    S = len(windows.labels)
    xs, ys = windows.cumulative()
    bounds = windows.shift_bounds
    period_start = float(bounds[0, 0]) if S else 0.0
    period_end = float(bounds[-1, 1]) if S else 0.0
    st = state_ts.astype(np.int64)
    sc = state_codes.astype(np.int64)
    # Before the first sample nothing is known.
    if len(st) == 0 or st[0] > period_start:
        st = np.concatenate(([int(period_start)], st))
        sc = np.concatenate(([UNKNOWN], sc))
    seg_end = np.concatenate((st[1:], [int(period_end)]))
    seg_start = np.maximum(st, int(period_start))
    # A state lasts until the next report, the end of the period, or now, whichever comes first.
    stop_at = int(period_end) if until_ms is None else int(min(period_end, max(until_ms, period_start)))
    seg_end = np.minimum(np.maximum(seg_end, seg_start), stop_at)
    seg_start = np.minimum(seg_start, stop_at)
    # Stop length decides small stop vs availability loss (before cutting at shift boundaries).
    seg_len_s = (seg_end - seg_start) / 1000.0
    # Cut segments at shift boundaries: union of segment starts and shift boundaries.
    cuts = np.unique(bounds.ravel()) if S else np.zeros(0, dtype=np.int64)
    pts = np.sort(np.concatenate((seg_start, cuts, [stop_at])), kind="stable")
    pts = pts[np.concatenate(([True], pts[1:] != pts[:-1]))]
    pts = pts[(pts >= period_start) & (pts <= period_end)]
    piece_start = pts[:-1]
    piece_end = pts[1:]
    seg_of = np.searchsorted(st, piece_start, side="right") - 1
    seg_of[seg_of < 0] = 0
    code = sc[seg_of]
    planned = _planned_between(xs, ys, piece_start.astype(np.float64), piece_end.astype(np.float64)) / 1000.0
    shift_of = np.searchsorted(bounds[:, 0], piece_start, side="right") - 1 if S else np.zeros(0, dtype=np.int64)
    inside = (shift_of >= 0) & (piece_start < bounds[np.maximum(shift_of, 0), 1]) if S else shift_of >= 0
    shift_of = np.where(inside, shift_of, 0)
    planned = np.where(inside & (piece_start < stop_at), planned, 0.0)
    state_s = np.bincount(shift_of * N_STATES + code, weights=planned, minlength=S * N_STATES).reshape(S, N_STATES)
    small = (code == STATE_CODES["idle"]) & (seg_len_s[seg_of] < small_stop_s)
    small_stop = np.bincount(shift_of, weights=np.where(small, planned, 0.0), minlength=S)
    planned_s = np.bincount(shift_of, weights=planned, minlength=S)

    def per_shift(ts: np.ndarray | None, inc: np.ndarray | None) -> np.ndarray:
        # Sum of increments stamped in [shift start, shift end): differences of the cumulative sum at the
        # shift bounds (two binary searches per shift, not a pass over every sample).
        if ts is None or inc is None or len(ts) == 0 or S == 0:
            return np.zeros(S)
        cum = np.concatenate(([0.0], np.cumsum(inc)))
        lo = np.searchsorted(ts, bounds[:, 0], side="left")
        hi = np.searchsorted(ts, bounds[:, 1], side="left")
        return np.asarray(cum[hi] - cum[lo])

    total = per_shift(cycle_ts, cycles)
    rej = per_shift(reject_ts, rejects)
    startup = np.zeros(S)
    if reject_ts is not None and rejects is not None and len(reject_ts):
        # A reject is a start-up reject when it falls within startup_s of the machine starting to run after
        # set-up or being off.
        prev = sc[:-1]
        starts_run = (sc == STATE_CODES["running"]) & np.concatenate(([False], (prev == 2) | (prev == 4)))
        run_starts = st[starts_run]
        if len(run_starts):
            j = np.searchsorted(run_starts, reject_ts, side="right") - 1
            near = (j >= 0) & (reject_ts - run_starts[np.maximum(j, 0)] < startup_s * 1000)
            startup = per_shift(reject_ts[near], rejects[near])
    stops: list[tuple[int, int, int]] = []
    if keep_stops:
        sel = (sc != STATE_CODES["running"]) & (seg_end > seg_start)
        ps = _planned_between(xs, ys, seg_start[sel].astype(np.float64), seg_end[sel].astype(np.float64))
        stops = [
            (int(a), int(b), int(c))
            for a, b, c, p in zip(seg_start[sel], seg_end[sel], sc[sel], ps, strict=False)
            if p > 0
        ]
    return MachineResult(state_s, small_stop, total, rej, startup, planned_s, ideal_cycle_s, stops)


@dataclass
class Oee:
    planned_s: float  # all planned time that has passed, no signal included
    operating_s: float
    running_s: float
    total: float
    good: float
    rejects: float
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    losses: dict[str, float]  # seconds per loss of the six big losses
    no_signal_s: float = 0.0  # planned time without a state report: not a loss, outside availability's base
    counter_total: float = 0.0  # what the machine's counter counted
    manual_total: float | None = None  # good + rejects entered by operators (None: no shift entered)
    manual_shifts: int = 0  # shift instances whose counts were entered by hand

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def summarise(
    state_s: np.ndarray,
    small_stop_s: float,
    total: float,
    rejects: float,
    startup_rejects: float,
    ideal_cycle_s: float | None,
    good: float | None = None,
) -> Oee:
    """OEE from state seconds (N_STATES,) and counts of one machine or several (sums). ``ideal_cycle_s``
    for several machines is the count-weighted ideal time: pass ideal time in seconds ÷ total instead.
    ``good`` defaults to total − rejects; when given, ``total`` must be good + rejects of the same source."""
    total, rejects, startup_rejects, small_stop_s = (
        float(total),
        float(rejects),
        float(startup_rejects),
        float(small_stop_s),
    )
    planned = float(state_s.sum())
    no_signal = float(state_s[UNKNOWN])
    running = float(state_s[0])
    idle = float(state_s[1])
    long_idle = idle - small_stop_s
    operating = running + small_stop_s
    startup_rejects = min(startup_rejects, rejects)
    good = max(total - rejects, 0.0) if good is None else float(good)
    observed = planned - no_signal
    avail = float(operating / observed) if observed > 0 else None
    perf = None
    qual = None
    if ideal_cycle_s and operating > 0:
        perf = float(min(ideal_cycle_s * total / operating, 1.0))
    if total > 0:
        qual = good / total
    oee = avail * perf * qual if avail is not None and perf is not None and qual is not None else None
    ideal = ideal_cycle_s or 0.0
    reduced = max(operating * (1 - (perf or 0.0)) - small_stop_s, 0.0) if perf is not None else 0.0
    losses = {
        "breakdown": float(state_s[3]),
        "setup": float(state_s[2]),
        "off": float(state_s[4]),
        "idle": max(long_idle, 0.0),
        "small_stops": float(small_stop_s),
        "reduced_speed": reduced,
        "startup_rejects": ideal * startup_rejects,
        "production_rejects": ideal * max(rejects - startup_rejects, 0.0),
    }
    return Oee(planned, operating, running, total, good, rejects, avail, perf, qual, oee, losses, no_signal)
