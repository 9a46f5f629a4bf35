"""The scheduling solver: flexible job shop with set-ups, calendars, pins and frozen operations, on OR-Tools CP-SAT.

Public functions: :func:`check` (bad input, named for the user), :func:`solve`, :func:`validate` and :func:`repair`.
See docs/scheduling-solver.md for the model, the working-time axis and how repair weighs moves.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
from ortools.sat.python import cp_model

from chaoyun.apps.scheduling import tabu
from chaoyun.apps.scheduling.model import (
    OBJECTIVES,
    Assignment,
    Job,
    Option,
    Problem,
    ProblemError,
    Progress,
    Result,
)

__all__ = ["WorkAxis", "check", "greedy", "repair", "solve", "validate"]

# Weight of the tardiness term and of the makespan term in "mix" are scaled to integers with this resolution.
_MIX_SCALE = 100
_BIG = 1 << 62


def merge_windows(windows: list[tuple[int, int]], lo: int | None = None) -> list[tuple[int, int]]:
    """Sorted, merged, non-empty half-open windows (clipped below at ``lo`` when given)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted((max(a, lo) if lo is not None else a, b) for a, b in windows):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


class WorkAxis:
    """Maps wall time to working time and back for merged off-shift windows ``[a, b)`` (times >= 0)."""

    def __init__(self, off_shift: list[tuple[int, int]]) -> None:
        self.windows = merge_windows(off_shift, lo=0)
        self._starts = [a for a, _ in self.windows]
        self._before: list[int] = []  # off time before window i
        self._work_at: list[int] = []  # working time at which window i sits
        total = 0
        for a, b in self.windows:
            self._before.append(total)
            self._work_at.append(a - total)
            total += b - a

    def to_work(self, t: int) -> int:
        """Working time at wall time ``t`` (a time inside a window maps to the window's start)."""
        i = bisect_right(self._starts, t) - 1
        if i < 0:
            return t
        a, b = self.windows[i]
        if t < b:
            return a - self._before[i]
        return t - self._before[i] - (b - a)

    def _off_through(self, i: int) -> int:
        """Off time in windows 0..i-1 (i windows)."""
        if i <= 0:
            return 0
        a, b = self.windows[i - 1]
        return self._before[i - 1] + (b - a)

    def start_to_wall(self, w: int) -> int:
        """Wall time at which work resumes at working time ``w`` (after any window sitting at ``w``)."""
        return w + self._off_through(bisect_right(self._work_at, w))

    def end_to_wall(self, w: int) -> int:
        """Wall time at which work up to working time ``w`` is done (before any window sitting at ``w``)."""
        return w + self._off_through(bisect_left(self._work_at, w))

    def is_off(self, t: int) -> bool:
        i = bisect_right(self._starts, t) - 1
        return i >= 0 and t < self.windows[i][1]

    def off_between(self, s: int, e: int) -> int:
        """Off-shift time inside wall ``[s, e)``."""
        return (e - s) - (self.to_work(e) - self.to_work(s))


# --------------------------------------------------------------------------------------------------------- check


def _err(code: str, job: str, operation: str, zh: str, en: str) -> ProblemError:
    return ProblemError(code=code, job=job, operation=operation, message_zh=zh, message_en=en)


def _windows_ok(windows: list[tuple[int, int]]) -> bool:
    return all(isinstance(w, tuple | list) and len(w) == 2 and w[1] > w[0] >= 0 for w in windows)


def check(problem: Problem) -> list[ProblemError]:
    """Every input error of ``problem``, each naming its order and operation (empty list: the problem is valid)."""
    errors: list[ProblemError] = []
    add = errors.append
    if problem.horizon <= 0:
        add(
            _err(
                "empty_horizon",
                "",
                "",
                f"排产时间范围为空（结束时间 {problem.horizon} 不晚于起点）。",
                f"The scheduling horizon is empty (it ends at {problem.horizon}, not after the start).",
            )
        )
    if problem.objective not in OBJECTIVES or not 0.0 <= problem.mix <= 1.0:
        add(
            _err(
                "bad_objective",
                "",
                "",
                f"未知的排产目标 {problem.objective!r}（可选 makespan、tardiness、mix，mix 权重在 0 与 1 之间）。",
                f"Unknown objective {problem.objective!r} (makespan, tardiness or mix, with a mix weight in 0..1).",
            )
        )
    machines = set(problem.machines)
    if not _windows_ok(problem.off_shift):
        add(
            _err(
                "bad_window",
                "",
                "",
                "非工作时段有误：每个时段须开始于 0 或之后，且结束晚于开始。",
                "An off-shift window is wrong: each must start at 0 or later and end after it starts.",
            )
        )
    for m, wins in problem.blocked.items():
        if m not in machines:
            add(
                _err(
                    "unknown_machine",
                    "",
                    "",
                    f"停机时段引用了未知设备 {m}。",
                    f"A downtime window names an unknown machine {m}.",
                )
            )
        if not _windows_ok(wins):
            add(
                _err(
                    "bad_window",
                    "",
                    "",
                    f"设备 {m} 的停机时段有误：每个时段须开始于 0 或之后，且结束晚于开始。",
                    f"A downtime window of machine {m} is wrong: "
                    "each must start at 0 or later and end after it starts.",
                )
            )
    op_job: dict[str, Job] = {}
    op_options: dict[str, tuple[Option, ...]] = {}
    job_keys: set[str] = set()
    for job in problem.jobs:
        jk = job.key
        if jk in job_keys:
            add(
                _err(
                    "duplicate_job",
                    jk,
                    "",
                    f"工单 {jk} 出现了不止一次。",
                    f"Work order {jk} appears more than once.",
                )
            )
        job_keys.add(jk)
        if not job.operations:
            add(
                _err(
                    "no_operations",
                    jk,
                    "",
                    f"工单 {jk} 没有任何工序（请检查其工艺路线）。",
                    f"Work order {jk} has no operations (check its routing).",
                )
            )
        if job.due is not None and job.due < job.release:
            add(
                _err(
                    "due_before_release",
                    jk,
                    "",
                    f"工单 {jk} 的交期 {job.due} 早于其下达时间 {job.release}。",
                    f"Work order {jk} is due at {job.due}, before its release at {job.release}.",
                )
            )
        if job.weight < 0:
            add(
                _err(
                    "bad_weight",
                    jk,
                    "",
                    f"工单 {jk} 的优先级权重 {job.weight} 为负数。",
                    f"Work order {jk} has a negative priority weight {job.weight}.",
                )
            )
        in_job: set[str] = set()
        for op in job.operations:
            ok = op.key
            if ok in in_job:
                add(
                    _err(
                        "precedence_cycle",
                        jk,
                        ok,
                        f"工单 {jk} 的工序 {ok} 在工艺顺序中出现两次，前后顺序形成了循环。",
                        f"Operation {ok} appears twice in the sequence of work order {jk}: "
                        "its precedences form a cycle.",
                    )
                )
            elif ok in op_job:
                add(
                    _err(
                        "duplicate_operation",
                        jk,
                        ok,
                        f"工序编号 {ok} 同时出现在工单 {op_job[ok].key} 和 {jk} 中。",
                        f"Operation key {ok} appears in work orders {op_job[ok].key} and {jk}.",
                    )
                )
            in_job.add(ok)
            op_job.setdefault(ok, job)
            op_options.setdefault(ok, op.options)
            if not op.options:
                add(
                    _err(
                        "no_machine",
                        jk,
                        ok,
                        f"工单 {jk} 的工序 {ok}{_lbl(op.label)} 没有可用设备。",
                        f"Operation {ok}{_lbl(op.label)} of work order {jk} has no eligible machine.",
                    )
                )
            for opt in op.options:
                if opt.machine not in machines:
                    add(
                        _err(
                            "unknown_machine",
                            jk,
                            ok,
                            f"工单 {jk} 的工序 {ok} 引用了不在排产范围内的设备 {opt.machine}。",
                            f"Operation {ok} of work order {jk} names machine {opt.machine}, "
                            "which is not being scheduled.",
                        )
                    )
                if opt.duration <= 0:
                    add(
                        _err(
                            "bad_duration",
                            jk,
                            ok,
                            f"工单 {jk} 的工序 {ok} 在设备 {opt.machine} 上的加工时间为 {opt.duration}，须大于 0。",
                            f"Operation {ok} of work order {jk} takes {opt.duration} on machine {opt.machine}; "
                            "it must be more than 0.",
                        )
                    )
                if opt.setup < 0:
                    add(
                        _err(
                            "bad_setup",
                            jk,
                            ok,
                            f"工单 {jk} 的工序 {ok} 在设备 {opt.machine} 上的换型时间 {opt.setup} 为负数。",
                            f"Operation {ok} of work order {jk} has a negative set-up time {opt.setup} "
                            f"on machine {opt.machine}.",
                        )
                    )
    axis = WorkAxis(problem.off_shift if _windows_ok(problem.off_shift) else [])
    frozen_ops: dict[str, tuple[str, int]] = {}
    for a in problem.frozen:
        if a.operation not in op_job:
            add(
                _err(
                    "unknown_operation",
                    a.job,
                    a.operation,
                    f"已开工的工序 {a.operation} 不在本次排产的工单中。",
                    f"Started operation {a.operation} is not in the work orders being scheduled.",
                )
            )
            continue
        if a.machine not in machines:
            add(
                _err(
                    "unknown_machine",
                    op_job[a.operation].key,
                    a.operation,
                    f"已开工的工序 {a.operation} 所在设备 {a.machine} 不在排产范围内。",
                    f"Started operation {a.operation} runs on machine {a.machine}, which is not being scheduled.",
                )
            )
        if a.end <= a.start or a.start < 0:
            add(
                _err(
                    "bad_window",
                    op_job[a.operation].key,
                    a.operation,
                    f"已开工的工序 {a.operation} 的起止时间有误（{a.start}–{a.end}）。",
                    f"Started operation {a.operation} has wrong times ({a.start}-{a.end}).",
                )
            )
        frozen_ops[a.operation] = (a.machine, a.start)
    pinned: dict[str, tuple[str | None, int | None]] = {}
    for p in problem.pins:
        pjob = op_job.get(p.operation)
        if pjob is None:
            add(
                _err(
                    "unknown_operation",
                    "",
                    p.operation,
                    f"固定的工序 {p.operation} 不在本次排产的工单中。",
                    f"Pinned operation {p.operation} is not in the work orders being scheduled.",
                )
            )
            continue
        jk, ok = pjob.key, p.operation

        def conflict(zh: str, en: str, jk: str = jk, ok: str = ok) -> None:
            add(_err("pin_conflict", jk, ok, zh, en))

        if p.machine is not None:
            if p.machine not in machines:
                add(
                    _err(
                        "unknown_machine",
                        jk,
                        ok,
                        f"工序 {ok} 被固定到未知设备 {p.machine}。",
                        f"Operation {ok} is pinned to an unknown machine {p.machine}.",
                    )
                )
            elif p.machine not in {o.machine for o in op_options[ok]}:
                conflict(
                    f"工单 {jk} 的工序 {ok} 被固定到设备 {p.machine}，但该设备不能加工此工序。",
                    f"Operation {ok} of work order {jk} is pinned to machine {p.machine}, which cannot run it.",
                )
        if p.start is not None:
            if p.start < 0 or axis.is_off(p.start):
                conflict(
                    f"工单 {jk} 的工序 {ok} 被固定在非工作时间 {p.start} 开始。",
                    f"Operation {ok} of work order {jk} is pinned to start at {p.start}, outside working time.",
                )
            elif p.start < max(pjob.release, problem.not_before) and ok not in frozen_ops:
                conflict(
                    f"工单 {jk} 的工序 {ok} 被固定在 {p.start} 开始，早于允许的最早开始时间 "
                    f"{max(pjob.release, problem.not_before)}。",
                    f"Operation {ok} of work order {jk} is pinned to start at {p.start}, before the earliest "
                    f"allowed start {max(pjob.release, problem.not_before)}.",
                )
            elif problem.horizon > 0 and p.start >= problem.horizon:
                conflict(
                    f"工单 {jk} 的工序 {ok} 被固定在排产范围之外（{p.start}）开始。",
                    f"Operation {ok} of work order {jk} is pinned to start at {p.start}, beyond the horizon.",
                )
        if ok in frozen_ops:
            fm, fs = frozen_ops[ok]
            if (p.machine is not None and p.machine != fm) or (p.start is not None and p.start != fs):
                conflict(
                    f"工单 {jk} 的工序 {ok} 已开工，不能再固定到其他设备或时间。",
                    f"Operation {ok} of work order {jk} has started; it cannot be pinned elsewhere.",
                )
        if ok in pinned and pinned[ok] != (p.machine, p.start):
            conflict(
                f"工单 {jk} 的工序 {ok} 被固定了两次且互相矛盾。",
                f"Operation {ok} of work order {jk} is pinned twice, differently.",
            )
        pinned[ok] = (p.machine, p.start)
    if not errors and problem.horizon > 0:
        hw = axis.to_work(problem.horizon)
        for job in problem.jobs:
            need = sum(
                min(o.setup + o.duration for o in op.options) for op in job.operations if op.key not in frozen_ops
            )
            if need and axis.to_work(max(job.release, problem.not_before)) + need > hw:
                add(
                    _err(
                        "horizon_too_short",
                        job.key,
                        "",
                        f"工单 {job.key} 至少需要 {need} 的工作时间，超出了排产时间范围。",
                        f"Work order {job.key} needs at least {need} of working time, more than the horizon allows.",
                    )
                )
    return errors


def _lbl(label: str) -> str:
    return f"（{label}）" if label else ""


# --------------------------------------------------------------------------------------------------- preparation


@dataclass
class _Op:
    key: str
    job: int  # index into _Prep.jobs
    options: list[tuple[str, int]]  # (machine, setup + duration), after machine pins
    frozen: Assignment | None = None
    frozen_w: tuple[int, int] = (0, 0)  # working start and end of a frozen operation
    pin_start: int | None = None  # working time
    head: int = 0  # earliest working start from the release and the predecessors' shortest times
    tail: int = 0  # shortest working time of this operation and its successors


@dataclass
class _Prep:
    axis: WorkAxis
    jobs: list[Job]
    ops: list[_Op]
    job_ops: list[list[int]]
    horizon: int  # working time
    ready: list[int]  # per job: earliest working start of its operations that are not frozen
    due: list[int | None]  # per job, working time
    busy: dict[str, list[tuple[int, int]]]  # per machine: merged fixed working segments (downtime and frozen)
    points: dict[str, list[int]]  # per machine: downtime that lies wholly in off-shift: no operation may span it
    reference: dict[int, tuple[str, int]]  # op index -> (machine, working start)


def _prepare(problem: Problem) -> _Prep:
    axis = WorkAxis(problem.off_shift)
    frozen = {a.operation: a for a in problem.frozen}
    pins = {p.operation: p for p in problem.pins}
    ops: list[_Op] = []
    job_ops: list[list[int]] = []
    ready: list[int] = []
    due: list[int | None] = []
    nb = axis.to_work(max(0, problem.not_before))
    for j, job in enumerate(problem.jobs):
        idx: list[int] = []
        r = max(axis.to_work(max(0, job.release)), nb)
        ready.append(r)
        due.append(None if job.due is None else axis.to_work(max(0, job.due)))
        for op in job.operations:
            opts = [(o.machine, o.setup + o.duration) for o in op.options]
            o = _Op(key=op.key, job=j, options=opts)
            if op.key in frozen:
                fa = frozen[op.key]
                o.frozen = fa
                o.frozen_w = (axis.to_work(fa.start), axis.to_work(fa.end))
                o.options = [(fa.machine, o.frozen_w[1] - o.frozen_w[0])]
            elif op.key in pins:
                p = pins[op.key]
                if p.machine is not None:
                    o.options = [x for x in opts if x[0] == p.machine]
                if p.start is not None:
                    o.pin_start = axis.to_work(p.start)
            idx.append(len(ops))
            ops.append(o)
        job_ops.append(idx)
        t = r
        for i in idx:
            o = ops[i]
            if o.frozen is not None:
                o.head = o.frozen_w[0]
                t = max(o.frozen_w[1], r)  # what follows a finished operation still waits for release and not_before
            else:
                o.head = t
                t += min(d for _, d in o.options)
        t = 0
        for i in reversed(idx):
            o = ops[i]
            t += 0 if o.frozen is not None else min(d for _, d in o.options)
            o.tail = t
    busy_raw: dict[str, list[tuple[int, int]]] = {m: [] for m in problem.machines}
    points: dict[str, list[int]] = {m: [] for m in problem.machines}
    for m, wins in problem.blocked.items():
        for a, b in wins:
            wa, wb = axis.to_work(a), axis.to_work(b)
            if wb > wa:
                busy_raw.setdefault(m, []).append((wa, wb))
            else:
                points.setdefault(m, []).append(wa)
    for o in ops:
        if o.frozen is not None and o.frozen_w[1] > o.frozen_w[0]:
            busy_raw.setdefault(o.frozen.machine, []).append(o.frozen_w)
    busy = {m: merge_windows(w) for m, w in busy_raw.items()}
    points = {m: sorted(set(p)) for m, p in points.items()}
    key_index = {o.key: i for i, o in enumerate(ops)}
    reference = {
        key_index[a.operation]: (a.machine, axis.to_work(a.start))
        for a in problem.reference
        if a.operation in key_index and ops[key_index[a.operation]].frozen is None
    }
    return _Prep(
        axis=axis,
        jobs=problem.jobs,
        ops=ops,
        job_ops=job_ops,
        horizon=axis.to_work(problem.horizon),
        ready=ready,
        due=due,
        busy=busy,
        points=points,
        reference=reference,
    )


# A schedule on the working axis: op index -> (machine, working start). Frozen operations are not in it.
_Plan = dict[int, tuple[str, int]]


def _to_assignments(prep: _Prep, plan: _Plan) -> list[Assignment]:
    out: list[Assignment] = []
    for i, o in enumerate(prep.ops):
        jk = prep.jobs[o.job].key
        if o.frozen is not None:
            out.append(o.frozen)
            continue
        m, s = plan[i]
        d = next(d for mm, d in o.options if mm == m)
        out.append(
            Assignment(
                operation=o.key, job=jk, machine=m, start=prep.axis.start_to_wall(s), end=prep.axis.end_to_wall(s + d)
            )
        )
    return out


def _plan_from_assignments(prep: _Prep, assignments: list[Assignment]) -> _Plan:
    by_key = {a.operation: a for a in assignments}
    plan: _Plan = {}
    for i, o in enumerate(prep.ops):
        a = by_key.get(o.key)
        if o.frozen is None and a is not None and any(m == a.machine for m, _ in o.options):
            plan[i] = (a.machine, prep.axis.to_work(a.start))
    return plan


def _ends(prep: _Prep, plan: _Plan) -> list[int]:
    """Working end of each job's last operation (0 for a job without operations)."""
    out = []
    for idx in prep.job_ops:
        if not idx:
            out.append(0)
            continue
        o = prep.ops[idx[-1]]
        if o.frozen is not None:
            out.append(o.frozen_w[1])
        else:
            m, s = plan[idx[-1]]
            out.append(s + next(d for mm, d in o.options if mm == m))
    return out


def _primary(prep: _Prep, problem: Problem, plan: _Plan) -> tuple[int, float]:
    """(integer objective as the model scales it, objective in time units) of a complete plan."""
    ends = _ends(prep, plan)
    cmax = max(ends, default=0)
    tard = sum(
        job.weight * max(0, e - d) for job, e, d in zip(prep.jobs, ends, prep.due, strict=True) if d is not None
    )
    if problem.objective == "makespan":
        return cmax, float(cmax)
    if problem.objective == "tardiness":
        return tard, float(tard)
    a, b, wsum = _mix_weights(prep, problem)
    return a * wsum * cmax + b * tard, (a * wsum * cmax + b * tard) / (_MIX_SCALE * wsum)


def _mix_weights(prep: _Prep, problem: Problem) -> tuple[int, int, int]:
    """Integer weights of makespan and tardiness in "mix": objective = ((1-mix) * makespan + mix * T / W) where W is
    the total weight of the orders with a due date (so the tardiness term is a weighted mean lateness per order)."""
    b = round(problem.mix * _MIX_SCALE)
    wsum = max(1, sum(job.weight for job, d in zip(prep.jobs, prep.due, strict=True) if d is not None))
    return _MIX_SCALE - b, b, wsum


# -------------------------------------------------------------------------------------------------------- greedy


class _Timeline:
    """Busy segments of one machine (sorted, disjoint) plus points no operation may span."""

    def __init__(self, busy: list[tuple[int, int]], points: list[int]) -> None:
        self.starts = [a for a, _ in busy]
        self.ends = [b for _, b in busy]
        self.points = points

    def fit(self, t: int, length: int) -> int:
        """Earliest start >= t of a gap of ``length``."""
        c = t
        while True:
            i = bisect_right(self.ends, c)
            n = len(self.starts)
            while i < n and c + length > self.starts[i]:
                c = max(c, self.ends[i])
                i += 1
            moved = False
            for p in self.points:
                if c < p < c + length:
                    c = p
                    moved = True
            if not moved:
                return c

    def free_at(self, s: int, length: int) -> bool:
        return self.fit(s, length) == s

    def add(self, s: int, e: int) -> None:
        i = bisect_left(self.starts, s)
        self.starts.insert(i, s)
        self.ends.insert(i, e)


def greedy(problem: Problem) -> list[Assignment] | None:
    """A quick dispatching-rule schedule (Giffler-Thompson with a priority rule fitting the objective), or None when
    the rule fails on this problem's pins or frozen operations. Used as CP-SAT's first solution (hint)."""
    if check(problem):
        return None
    prep = _prepare(problem)
    plan = _greedy(prep, problem)
    if plan is None:
        return None
    return _to_assignments(prep, plan)


def _greedy(prep: _Prep, problem: Problem) -> _Plan | None:
    lines = {m: _Timeline(prep.busy.get(m, []), prep.points.get(m, [])) for m in problem.machines}
    plan: _Plan = {}
    # Pins with a start are reserved first, so that dispatching keeps their place free.
    reserved: dict[int, tuple[str, int]] = {}
    for i, o in enumerate(prep.ops):
        if o.frozen is None and o.pin_start is not None:
            for m, d in o.options:
                if lines[m].free_at(o.pin_start, d):
                    lines[m].add(o.pin_start, o.pin_start + d)
                    reserved[i] = (m, o.pin_start)
                    break
            else:
                return None
    remaining = [sum(min(d for _, d in prep.ops[i].options) for i in idx) for idx in prep.job_ops]
    pos = [0] * len(prep.jobs)
    ready = list(prep.ready)
    cache: dict[int, tuple[int, int, str]] = {}  # job -> (est, ect, machine)
    by_machine: dict[str, set[int]] = {m: set() for m in problem.machines}

    def advance(j: int) -> None:
        idx = prep.job_ops[j]
        while pos[j] < len(idx) and prep.ops[idx[pos[j]]].frozen is not None:
            o = prep.ops[idx[pos[j]]]
            ready[j] = max(ready[j], o.frozen_w[1])
            remaining[j] -= min(d for _, d in o.options)
            pos[j] += 1
        cache.pop(j, None)
        if pos[j] < len(idx):
            for m, _ in prep.ops[idx[pos[j]]].options:
                by_machine[m].add(j)

    def evaluate(j: int) -> tuple[int, int, str]:
        i = prep.job_ops[j][pos[j]]
        o = prep.ops[i]
        if i in reserved:
            m, s = reserved[i]
            d = next(d for mm, d in o.options if mm == m)
            return (s, s + d, m)
        best: tuple[int, int, str] | None = None
        for m, d in o.options:
            s = lines[m].fit(ready[j], d)
            if best is None or s + d < best[1]:
                best = (s, s + d, m)
        assert best is not None
        return best

    active = set()
    for j in range(len(prep.jobs)):
        advance(j)
        if pos[j] < len(prep.job_ops[j]):
            active.add(j)
    use_ref = bool(prep.reference)
    big = 1 << 60
    while active:
        for j in active:
            if j not in cache:
                cache[j] = evaluate(j)
        t_star = min(cache[j][1] for j in active)
        cands = [j for j in active if cache[j][0] < t_star]

        def priority(j: int) -> tuple[int, int]:
            i = prep.job_ops[j][pos[j]]
            if use_ref:
                return (prep.reference.get(i, (None, cache[j][0]))[1], -remaining[j])
            if problem.objective == "makespan":
                return (-remaining[j], cache[j][0])
            d = prep.due[j]
            return ((d - ready[j] - remaining[j]) if d is not None else big, -remaining[j])

        j = min(cands, key=priority)
        i = prep.job_ops[j][pos[j]]
        s, e, m = cache[j]
        if i in reserved:
            if ready[j] > s:
                return None
        else:
            lines[m].add(s, e)
            for k in by_machine[m]:
                cache.pop(k, None)
        plan[i] = (m, s)
        for mm, _ in prep.ops[i].options:
            by_machine[mm].discard(j)
        remaining[j] -= min(d for _, d in prep.ops[i].options)
        ready[j] = e
        pos[j] += 1
        advance(j)
        if pos[j] >= len(prep.job_ops[j]):
            active.discard(j)
    for j, idx in enumerate(prep.job_ops):
        if idx and prep.ops[idx[-1]].frozen is None and _ends(prep, plan)[j] > prep.horizon:
            return None
    return plan


# --------------------------------------------------------------------------------------------------------- model


@dataclass
class _Model:
    model: cp_model.CpModel
    starts: dict[int, cp_model.IntVar]  # op index -> working start (operations not frozen)
    lits: dict[int, list[tuple[str, int, cp_model.IntVar | None]]]  # op index -> (machine, length, presence or None)
    factor: int  # objective = primary * factor + secondary (secondary < factor)
    divisor: float  # primary / divisor = objective in time units
    cmax: cp_model.IntVar
    keeps: dict[int, cp_model.IntVar]
    objective: cp_model.LinearExpr
    end_vars: dict[int, cp_model.IntVar]  # op index -> working end (operations with more than one option)
    tard: list[tuple[int, cp_model.IntVar]]  # (job index, tardiness)
    spans: list[tuple[int, str, int, cp_model.IntVar]]  # (op index, machine, point, "ends before the point")


def _build(prep: _Prep, problem: Problem, cmax_cap: int | None) -> _Model:
    model = cp_model.CpModel()
    horizon = prep.horizon if cmax_cap is None else min(prep.horizon, cmax_cap)
    starts: dict[int, cp_model.IntVar] = {}
    lits: dict[int, list[tuple[str, int, cp_model.IntVar | None]]] = {}
    ends: dict[int, cp_model.LinearExprT] = {}
    per_machine: dict[str, list[cp_model.IntervalVar]] = {m: [] for m in problem.machines}
    end_vars: dict[int, cp_model.IntVar] = {}
    spans: list[tuple[int, str, int, cp_model.IntVar]] = []
    tard: list[tuple[int, cp_model.IntVar]] = []
    for m, segs in prep.busy.items():
        for a, b in segs:
            per_machine.setdefault(m, []).append(model.new_fixed_size_interval_var(a, b - a, f"busy_{m}_{a}"))
    for i, o in enumerate(prep.ops):
        if o.frozen is not None:
            ends[i] = o.frozen_w[1]
            continue
        dmin = min(d for _, d in o.options)
        dmax = max(d for _, d in o.options)
        lo, hi = o.head, max(o.head, horizon - o.tail)
        if o.pin_start is not None:
            lo = hi = o.pin_start
        s = model.new_int_var(lo, hi, f"s{i}")
        starts[i] = s
        entries: list[tuple[str, int, cp_model.IntVar | None]] = []
        if len(o.options) == 1:
            m, d = o.options[0]
            per_machine[m].append(model.new_fixed_size_interval_var(s, d, f"x{i}"))
            entries.append((m, d, None))
            ends[i] = s + d
        else:
            e = model.new_int_var(lo + dmin, hi + dmax, f"e{i}")
            end_vars[i] = e
            present = []
            for m, d in o.options:
                lit = model.new_bool_var(f"p{i}_{m}")
                per_machine[m].append(model.new_optional_fixed_size_interval_var(s, d, lit, f"x{i}_{m}"))
                model.add(e == s + d).only_enforce_if(lit)
                entries.append((m, d, lit))
                present.append(lit)
            model.add_exactly_one(present)
            ends[i] = e
        lits[i] = entries
        for m, d, opt_lit in entries:
            for p in prep.points.get(m, []):
                if lo < p < hi + d:
                    before = model.new_bool_var(f"b{i}_{m}_{p}")
                    spans.append((i, m, p, before))
                    enf = [opt_lit] if opt_lit is not None else []
                    model.add(s + d <= p).only_enforce_if([*enf, before])
                    model.add(s >= p).only_enforce_if([*enf, before.Not()])
    for idx in prep.job_ops:
        for a, b in pairwise(idx):
            if b in starts:
                model.add(starts[b] >= ends[a])
            elif a in starts:
                model.add(ends[a] <= prep.ops[b].frozen_w[0])
    for intervals in per_machine.values():
        if len(intervals) > 1:
            model.add_no_overlap(intervals)
    last_ends = [ends[idx[-1]] for idx in prep.job_ops if idx]
    cmax_ub = max([horizon, *(o.frozen_w[1] for o in prep.ops if o.frozen is not None)])
    cmax = model.new_int_var(0, cmax_ub, "cmax")
    for last in last_ends:
        model.add(cmax >= last)
    # Redundant machine loads for the LP relaxation: the work a machine gets fits between the earliest start of the
    # operations it may run and the makespan (a much stronger bound than chains alone on flexible job shops).
    loads: dict[str, list[tuple[int, cp_model.IntVar | None, int]]] = {}
    for i, entries in lits.items():
        for m, d, maybe in entries:
            loads.setdefault(m, []).append((d, maybe, prep.ops[i].head))
    for items in loads.values():
        flex_vars = [x for _, x, _ in items if x is not None]
        flex_d = [d for d, x, _ in items if x is not None]
        if not flex_vars:
            continue
        fixed = sum(d for d, x, _ in items if x is None)
        earliest = min(h for _, _, h in items)
        model.add(cp_model.LinearExpr.weighted_sum(flex_vars, flex_d) + fixed + earliest <= cmax)
    # objective = factor * primary + secondary, as (variables, coefficients) plus a constant
    tard_vars: list[cp_model.IntVar] = []
    tard_w: list[int] = []
    for j, idx in enumerate(prep.job_ops):
        due = prep.due[j]
        if due is None or not idx or problem.objective == "makespan":
            continue
        t = model.new_int_var(0, max(0, cmax_ub - due), f"t{j}")
        model.add(t >= ends[idx[-1]] - due)
        tard_vars.append(t)
        tard.append((j, t))
        tard_w.append(prep.jobs[j].weight)
    divisor = 1.0
    if problem.objective == "makespan":
        p_vars, p_coef = [cmax], [1]
    elif problem.objective == "tardiness":
        p_vars, p_coef = tard_vars, tard_w
    else:
        wa, wb, wsum = _mix_weights(prep, problem)
        p_vars, p_coef = [cmax, *tard_vars], [wa * wsum, *(wb * w for w in tard_w)]
        divisor = float(_MIX_SCALE * wsum)
    keeps: dict[int, cp_model.IntVar] = {}
    for i, (m, s0) in prep.reference.items():
        entry = next((x for x in lits[i] if x[0] == m), None)
        keep = model.new_bool_var(f"k{i}")
        if entry is None:
            model.add(keep == 0)
        else:
            if entry[2] is not None:
                model.add_implication(keep, entry[2])
            model.add(starts[i] == s0).only_enforce_if(keep)
        keeps[i] = keep
    o_vars, o_coef, constant, factor = list(p_vars), list(p_coef), 0, 1
    if keeps:  # secondary: operations moved from the reference plan
        factor = len(keeps) + 1
        o_coef = [c * factor for c in o_coef]
        o_vars += list(keeps.values())
        o_coef += [-1] * len(keeps)
        constant = len(keeps)
    elif problem.objective == "tardiness":  # secondary: among equally late schedules, the shortest
        factor = cmax_ub + 1
        o_coef = [c * factor for c in o_coef]
        o_vars.append(cmax)
        o_coef.append(1)
    objective = cp_model.LinearExpr.weighted_sum(o_vars, o_coef) + constant
    built_objective = objective
    model.minimize(objective)
    return _Model(
        model=model,
        starts=starts,
        lits=lits,
        factor=factor,
        divisor=divisor,
        cmax=cmax,
        keeps=keeps,
        objective=built_objective,
        end_vars=end_vars,
        tard=tard,
        spans=spans,
    )


def _hint(built: _Model, prep: _Prep, plan: _Plan) -> None:
    """Hint every variable from ``plan`` (operations missing from it are left to the solver)."""
    model = built.model
    complete = all(i in plan for i in built.starts)
    length: dict[int, int] = {}
    for i, s in built.starts.items():
        if i not in plan:
            continue
        m, s0 = plan[i]
        model.add_hint(s, s0)
        for mm, d, lit in built.lits[i]:
            if lit is not None:
                model.add_hint(lit, mm == m)
            if mm == m:
                length[i] = d
        if i in built.end_vars:
            model.add_hint(built.end_vars[i], s0 + length[i])
    for i, m, p, before in built.spans:
        if i in plan and plan[i][0] == m:
            model.add_hint(before, plan[i][1] + length[i] <= p)
    for i, keep in built.keeps.items():
        if i in plan:
            model.add_hint(keep, plan[i] == prep.reference[i])
    if complete:
        ends = _ends(prep, plan)
        model.add_hint(built.cmax, max(ends, default=0))
        for j, t in built.tard:
            due = prep.due[j]
            model.add_hint(t, max(0, ends[j] - (due if due is not None else 0)))


def _read(built: _Model, value: Callable[[cp_model.LinearExprT], int]) -> _Plan:
    plan: _Plan = {}
    for i, s in built.starts.items():
        entries = built.lits[i]
        m = entries[0][0] if len(entries) == 1 else next(mm for mm, _, lit in entries if lit is not None and value(lit))
        plan[i] = (m, int(value(s)))
    return plan


# --------------------------------------------------------------------------------------------------------- solve


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(
        self,
        report: Callable[[_Plan, int, float, int], None],
        built: _Model,
        should_stop: Callable[[], bool] | None,
        target: int | None = None,
        interval: float = 0.5,
    ) -> None:
        super().__init__()
        self.report = report
        self.built = built
        self.should_stop = should_stop
        self.target = target  # a proved lower bound: a solution reaching it is optimal, so stop there
        self.interval = interval
        self.solutions = 0
        self.last = -1e9
        self.stopped = False

    def on_solution_callback(self) -> None:
        self.solutions += 1
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
            self.stop_search()
        objective = self.objective_value
        score = round(objective) if math.isfinite(objective) else _BIG
        if self.target is not None and score <= self.target:
            self.stop_search()
        now = time.monotonic()
        if now - self.last < self.interval and self.solutions > 1:
            return
        self.last = now
        plan = _read(self.built, self.value)
        self.report(plan, score, self.best_objective_bound, self.solutions)


def _parameters(solver: cp_model.CpSolver, time_limit: float, workers: int, large: bool, lns_only: bool) -> None:
    p = solver.parameters
    p.max_time_in_seconds = max(0.05, time_limit)
    p.num_workers = max(1, workers)
    p.use_lns_only = lns_only


def solve(
    problem: Problem,
    *,
    time_limit: float = 60,
    workers: int = 2,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    hint: list[Assignment] | None = None,
) -> Result:
    """Solve ``problem``; never raises on bad input (status "invalid" with the errors). Cancelling through
    ``should_stop`` (polled on every solution and every 0.1 s) keeps the best schedule found so far."""
    t0 = time.monotonic()
    errors = check(problem)
    if errors:
        return Result(
            status="invalid", assignments=[], makespan=0, objective=0.0, bound=0.0, seconds=0.0, errors=errors
        )
    prep = _prepare(problem)
    if not any(o.frozen is None for o in prep.ops):
        plan0: _Plan = {}
        return _result(prep, problem, "optimal", plan0, t0, bound_primary=None)
    n_free = sum(1 for o in prep.ops if o.frozen is None)
    hinted = _plan_from_assignments(prep, hint) if hint else None
    candidates = [
        plan
        for plan in (hinted, _greedy(prep, problem))
        if plan is not None and len(plan) == n_free and not validate(problem, _to_assignments(prep, plan))
    ]
    best = min(candidates, key=lambda plan: _primary(prep, problem, plan)[0]) if candidates else None
    start_plan = best if best is not None else hinted
    if on_progress is not None and best is not None:
        on_progress(_progress(prep, problem, best, t0, None, 0))
    if should_stop is not None and should_stop():
        return _result(prep, problem, "cancelled", best, t0, bound_primary=None)
    cap = None
    if problem.objective == "makespan" and best is not None and not prep.reference:
        cap = _primary(prep, problem, best)[0]
    built = _build(prep, problem, cap)
    large = len(prep.ops) > 400
    best_score = _score(built, prep, problem, best) if best is not None else None
    reported = [best_score]
    bound_score: int | None = None
    proved = stopped = False

    def report(plan: _Plan, score: int, bound: float, n: int) -> None:
        if on_progress is None or (reported[0] is not None and score >= reported[0]):
            return
        reported[0] = score
        finite = math.ceil(bound - 1e-6) if math.isfinite(bound) else 0
        primary_bound = max(bound_score or 0, finite) // built.factor / built.divisor
        on_progress(_progress(prep, problem, plan, t0, primary_bound, n))

    for phase, (lns_only, share) in enumerate(_PHASES):
        left = time_limit - (time.monotonic() - t0)
        if left <= 0.05:
            break
        if phase == 1 and best is not None and best_score is not None:
            best, best_score = _tabu_phase(
                prep, problem, best, best_score, left * _TABU_SHARE, bound_score or 0, on_progress, should_stop, t0
            )
            stopped = should_stop is not None and should_stop()
            if stopped or (bound_score is not None and bound_score >= best_score):
                proved = not stopped
                break
            left = time_limit - (time.monotonic() - t0)
            if left <= 0.05:
                break
        built.model.clear_hints()  # type: ignore[no-untyped-call]
        seed = best if best is not None else start_plan
        if seed:
            _hint(built, prep, seed)
        if best_score is not None:
            built.model.add(built.objective <= best_score)
        solver = cp_model.CpSolver()
        _parameters(solver, left * share, workers, large, lns_only)
        code, phase_stopped, _n = _run(solver, built, report, should_stop, bound_score)
        stopped |= phase_stopped
        if code == cp_model.MODEL_INVALID:
            err = _err(
                "model_invalid",
                "",
                "",
                "排产模型无效（数值过大？）：" + solver.solution_info(),
                "The scheduling model is invalid (numbers too large?): " + solver.solution_info(),
            )
            return Result(
                status="invalid", assignments=[], makespan=0, objective=0.0, bound=0.0, seconds=0.0, errors=[err]
            )
        if code == cp_model.INFEASIBLE:
            if best is None:
                return _result(prep, problem, "infeasible", None, t0, bound_primary=None)
            proved = True  # nothing at most as good as the best schedule besides itself: it is optimal
            break
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            plan = _read(built, solver.value)
            score = _score(built, prep, problem, plan)
            if best_score is None or score <= best_score:
                best, best_score = plan, score
            if not lns_only and math.isfinite(solver.best_objective_bound):
                bound_score = max(bound_score or 0, math.ceil(solver.best_objective_bound - 1e-6))
            if code == cp_model.OPTIMAL:
                proved = True
        if proved or stopped:
            break
        if best_score is not None and bound_score is not None and bound_score >= best_score:
            proved = True
            break
    if best is None:
        return _result(prep, problem, "cancelled" if stopped else "timeout_no_solution", None, t0, bound_primary=None)
    status = "optimal" if proved else ("cancelled" if stopped else "feasible")
    bound_primary = None if bound_score is None else bound_score // built.factor
    if proved:
        bound_primary = _primary(prep, problem, best)[0]
    return _result(prep, problem, status, best, t0, bound_primary=bound_primary, factor_bound=built)


# --------------------------------------------------------------------------------------------------- tabu warm start


def _pure_shop(prep: _Prep, problem: Problem, plan: _Plan) -> tabu.Shop | None:
    """The problem as a classical job shop seeded with ``plan``'s machine orders, or None when it is not one."""
    if problem.objective != "makespan" or prep.reference or problem.pins:
        return None
    if any(o.frozen is not None or len(o.options) != 1 for o in prep.ops):
        return None
    if any(prep.busy.values()) or any(prep.points.values()):
        return None
    n = len(prep.ops)
    if n > _TABU_MAX_OPS:
        return None
    machines = sorted({o.options[0][0] for o in prep.ops})
    mi = {m: k for k, m in enumerate(machines)}
    mach = np.array([mi[o.options[0][0]] for o in prep.ops], np.int64)
    dur = np.array([o.options[0][1] for o in prep.ops], np.int64)
    rel = np.zeros(n, np.int64)
    jp = np.full(n, -1, np.int64)
    js = np.full(n, -1, np.int64)
    for j, idx in enumerate(prep.job_ops):
        if idx:
            rel[idx[0]] = prep.ready[j]
        for a, b in pairwise(idx):
            jp[b] = a
            js[a] = b
    rows: list[list[int]] = [[] for _ in machines]
    for i in sorted(plan, key=lambda i: (plan[i][1], i)):
        rows[mi[plan[i][0]]].append(i)
    counts = np.array([len(r) for r in rows], np.int64)
    seq = np.full((len(machines), max(1, int(counts.max(initial=1)))), -1, np.int64)
    for k, r in enumerate(rows):
        seq[k, : len(r)] = r
    return tabu.Shop(mach, dur, rel, jp, js, seq, counts)


def _plan_from_sequence(prep: _Prep, shop: tabu.Shop, seq: np.ndarray) -> _Plan | None:
    """The semi-active schedule of machine orders ``seq`` (every operation as early as its predecessors allow)."""
    n = len(prep.ops)
    start = [-1] * n
    nxt = [0] * seq.shape[0]
    done = 0
    progress = True
    while progress:
        progress = False
        for m in range(seq.shape[0]):
            while nxt[m] < shop.counts[m]:
                o = int(seq[m, nxt[m]])
                p = int(shop.job_pred[o])
                if p >= 0 and start[p] < 0:
                    break
                t = int(shop.release[o])
                if p >= 0:
                    t = max(t, start[p] + int(shop.duration[p]))
                if nxt[m] > 0:
                    q = int(seq[m, nxt[m] - 1])
                    t = max(t, start[q] + int(shop.duration[q]))
                start[o] = t
                nxt[m] += 1
                done += 1
                progress = True
    if done < n:
        return None
    plan = {i: (prep.ops[i].options[0][0], start[i]) for i in range(n)}
    if max(start[i] + int(shop.duration[i]) for i in range(n)) > prep.horizon:
        return None
    return plan


def _tabu_phase(
    prep: _Prep,
    problem: Problem,
    best: _Plan,
    best_score: int,
    seconds: float,
    bound: int,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    t0: float,
) -> tuple[_Plan, int]:
    """Tabu search from the best plan of a pure job shop; returns the better of the two (makespan is the whole
    score there). Any other problem is returned as it came."""
    shop = _pure_shop(prep, problem, best)
    if shop is None:
        return best, best_score

    def improved(cmax: int, seq: tabu.I64) -> None:
        plan = _plan_from_sequence(prep, shop, seq)
        if on_progress is not None and plan is not None and cmax < best_score:
            on_progress(_progress(prep, problem, plan, t0, float(bound), 0))

    cmax, seq = tabu.search(shop, seconds, threads=2, target=bound, should_stop=should_stop, on_improve=improved)
    if cmax >= best_score:
        return best, best_score
    plan = _plan_from_sequence(prep, shop, seq)
    if plan is None or validate(problem, _to_assignments(prep, plan)):
        return best, best_score
    return plan, _primary(prep, problem, plan)[0]


# Share of the time left after the first complete search that a pure job shop gives to tabu search.
_TABU_SHARE = 0.6
# Each search thread keeps an n × n tabu matrix (8 bytes a pair): 4,000 operations cost 128 MB per thread.
_TABU_MAX_OPS = 4000

# (use LNS only, share of the time left): a short complete search proves the easy cases, then both workers do
# large-neighbourhood search, then the complete search again from the best schedule (improve and prove).
_PHASES = ((False, 0.1), (True, 0.8), (False, 1.0))


def _score(built: _Model, prep: _Prep, problem: Problem, plan: _Plan) -> int:
    """The model's objective value of a complete plan (primary × factor + secondary)."""
    primary = _primary(prep, problem, plan)[0]
    if built.keeps:
        kept = sum(1 for i in built.keeps if plan.get(i) == prep.reference[i])
        return primary * built.factor + len(built.keeps) - kept
    if problem.objective == "tardiness":
        return primary * built.factor + max(_ends(prep, plan), default=0)
    return primary


def _run(
    solver: cp_model.CpSolver,
    built: _Model,
    report: Callable[[_Plan, int, float, int], None],
    should_stop: Callable[[], bool] | None,
    target: int | None,
) -> tuple[int, bool, int]:
    """One CP-SAT run with the solution callback and the cancellation poller: (status, stopped, solutions)."""
    callback = _Callback(report, built, should_stop, target)
    done = threading.Event()
    polled = [False]

    def poll() -> None:
        while not done.wait(0.1):
            if should_stop is not None and should_stop():
                polled[0] = True
                solver.stop_search()
                return

    poller = threading.Thread(target=poll, daemon=True) if should_stop is not None else None
    if poller is not None:
        poller.start()
    try:
        code = solver.solve(built.model, callback)
    finally:
        done.set()
        if poller is not None:
            poller.join()
    return int(code), callback.stopped or polled[0], callback.solutions


def _progress(prep: _Prep, problem: Problem, plan: _Plan, t0: float, bound: float | None, n: int) -> Progress:
    assignments = _to_assignments(prep, plan)
    return Progress(
        seconds=round(time.monotonic() - t0, 3),
        objective=_primary(prep, problem, plan)[1],
        bound=0.0 if bound is None else float(bound),
        makespan=max((a.end for a in assignments), default=0),
        solutions=n,
        assignments=assignments,
    )


def _result(
    prep: _Prep,
    problem: Problem,
    status: str,
    plan: _Plan | None,
    t0: float,
    *,
    bound_primary: int | None,
    factor_bound: _Model | None = None,
) -> Result:
    seconds = round(time.monotonic() - t0, 3)
    if plan is None:
        return Result(status=status, assignments=[], makespan=0, objective=0.0, bound=0.0, seconds=seconds)
    assignments = _to_assignments(prep, plan)
    objective = _primary(prep, problem, plan)[1]
    divisor = factor_bound.divisor if factor_bound is not None else 1.0
    if status == "optimal" and not prep.reference:
        bound = objective
    elif bound_primary is not None:
        bound = min(bound_primary / divisor, objective)
    else:
        bound = 0.0
    moved = []
    if problem.reference:
        ref = {a.operation: a for a in problem.reference}
        moved = [
            a.operation
            for a in assignments
            if a.operation in ref and (ref[a.operation].machine != a.machine or ref[a.operation].start != a.start)
        ]
    last_end: dict[str, int] = {}
    for a in assignments:
        last_end[a.job] = max(last_end.get(a.job, 0), a.end)
    tardiness = sum(
        job.weight * max(0, last_end.get(job.key, 0) - job.due) for job in problem.jobs if job.due is not None
    )
    return Result(
        status=status,
        assignments=sorted(assignments, key=lambda a: (a.start, a.machine)),
        makespan=max((a.end for a in assignments), default=0),
        objective=objective,
        bound=bound,
        seconds=seconds,
        moved=moved,
        tardiness=tardiness,
    )


# ------------------------------------------------------------------------------------------------------ validate


def validate(problem: Problem, assignments: list[Assignment]) -> list[str]:
    """What is wrong with a schedule (empty: it is valid): every operation scheduled once on an eligible machine for
    its set-up plus duration of working time, starting in working time, after its release and its predecessor,
    within the horizon; no two operations overlap on a machine and none overlaps the machine's downtime (set-ups
    included; an operation paused over a night counts as occupying its machine through it); frozen operations kept
    exactly; pins kept."""
    problems: list[str] = []
    say = problems.append
    axis = WorkAxis(problem.off_shift)
    frozen = {a.operation: a for a in problem.frozen}
    by_op: dict[str, Assignment] = {}
    for x in assignments:
        if x.operation in by_op:
            say(f"{x.operation}: scheduled more than once")
        by_op[x.operation] = x
    known: set[str] = set()
    for job in problem.jobs:
        prev: Assignment | None = None
        for op in job.operations:
            known.add(op.key)
            a = by_op.get(op.key)
            if a is None:
                say(f"{op.key} ({job.key}): not scheduled")
                prev = None
                continue
            if a.job != job.key:
                say(f"{op.key}: reported under order {a.job}, belongs to {job.key}")
            if op.key in frozen:
                f = frozen[op.key]
                if (a.machine, a.start, a.end) != (f.machine, f.start, f.end):
                    say(f"{op.key} ({job.key}): started operation not kept ({f.machine} {f.start}-{f.end})")
            else:
                opt = next((o for o in op.options if o.machine == a.machine), None)
                if opt is None:
                    say(f"{op.key} ({job.key}): machine {a.machine} is not eligible")
                else:
                    work = axis.to_work(a.end) - axis.to_work(a.start)
                    if work != opt.setup + opt.duration:
                        say(
                            f"{op.key} ({job.key}): {work} of working time between {a.start} and {a.end}, "
                            f"needs set-up {opt.setup} + duration {opt.duration}"
                        )
                if axis.is_off(a.start):
                    say(f"{op.key} ({job.key}): starts at {a.start}, in off-shift time")
                if a.end != axis.end_to_wall(axis.to_work(a.end)):
                    say(f"{op.key} ({job.key}): ends at {a.end}, in off-shift time")
                if a.start < job.release:
                    say(f"{op.key} ({job.key}): starts at {a.start}, before the release {job.release}")
                if a.start < problem.not_before:
                    say(f"{op.key} ({job.key}): starts at {a.start}, before {problem.not_before}")
                if a.end > problem.horizon:
                    say(f"{op.key} ({job.key}): ends at {a.end}, after the horizon {problem.horizon}")
                for b0, b1 in problem.blocked.get(a.machine, []):
                    if a.start < b1 and b0 < a.end:
                        say(f"{op.key} ({job.key}): overlaps downtime {b0}-{b1} of machine {a.machine}")
            if prev is not None and a.start < prev.end and not (op.key in frozen and prev.operation in frozen):
                say(
                    f"{op.key} ({job.key}): starts at {a.start}, "
                    f"before its predecessor {prev.operation} ends ({prev.end})"
                )
            prev = a
    for key in by_op:
        if key not in known:
            say(f"{key}: not an operation of this problem")
    per_machine: dict[str, list[Assignment]] = {}
    for x in by_op.values():
        per_machine.setdefault(x.machine, []).append(x)
    for m, items in per_machine.items():
        if m not in problem.machines:
            say(f"machine {m}: not in the problem")
        items.sort(key=lambda x: (x.start, x.end))
        running: Assignment | None = None
        for x in items:
            if (
                running is not None
                and x.start < running.end
                and not (x.operation in frozen and running.operation in frozen)
            ):
                say(
                    f"machine {m}: {running.operation} ({running.start}-{running.end}) overlaps {x.operation} "
                    f"({x.start}-{x.end})"
                )
            if running is None or x.end > running.end:
                running = x
    for p in problem.pins:
        pa = by_op.get(p.operation)
        if pa is None:
            continue
        if p.machine is not None and pa.machine != p.machine:
            say(f"{p.operation}: pinned to machine {p.machine}, scheduled on {pa.machine}")
        if p.start is not None and pa.start != p.start:
            say(f"{p.operation}: pinned to start at {p.start}, starts at {pa.start}")
    return problems


# -------------------------------------------------------------------------------------------------------- repair


def repair(
    problem: Problem,
    previous: list[Assignment],
    now: int,
    down: dict[str, tuple[int, int]],
    **solve_kwargs: object,
) -> Result:
    """Repair ``previous`` after machines go down (``down``: machine -> window ``[start, end)``) at time ``now``.

    Operations that started before ``now`` are frozen as they are, except that one running on a machine when it goes
    down is extended by the downtime (it pauses and resumes: simple, and what a planner expects of a stopped press).
    Everything else may move, starting no earlier than ``now``; the new plan minimises the problem's objective first
    and then the number of operations whose machine or start differ from ``previous`` (``Result.moved``)."""
    axis = WorkAxis(problem.off_shift if _windows_ok(problem.off_shift) else [])
    blocked = {m: list(w) for m, w in problem.blocked.items()}
    for m, window in down.items():
        blocked.setdefault(m, []).append(window)
    frozen = {a.operation: a for a in problem.frozen}
    for a in previous:
        if a.operation in frozen or a.start >= now:
            continue
        end = a.end
        if a.machine in down:
            ds, de = down[a.machine]
            if a.start < de and ds < a.end:
                lost = axis.to_work(de) - axis.to_work(max(ds, a.start))
                end = axis.end_to_wall(axis.to_work(a.end) + lost)
        frozen[a.operation] = replace(a, end=end)
    # Room for the old plan shifted right by the downtime (in working time), whatever the horizon was.
    lost = sum(max(0, axis.to_work(de) - axis.to_work(max(ds, now))) for ds, de in down.values())
    last = max((a.end for a in [*previous, *frozen.values()]), default=0)
    horizon = max(problem.horizon, axis.end_to_wall(axis.to_work(last) + lost))
    fixed = replace(
        problem,
        blocked=blocked,
        frozen=list(frozen.values()),
        reference=list(previous),
        not_before=max(problem.not_before, now),
        # pins of started operations and pinned starts already past cannot be kept
        pins=[p for p in problem.pins if p.operation not in frozen and (p.start is None or p.start >= now)],
        horizon=horizon,
    )
    return solve(fixed, **solve_kwargs)  # type: ignore[arg-type]
