"""The scheduling problem and its answer: plain dataclasses shared by the solver, the benchmark and the app.

Times are integers in one unit (seconds in the app; the benchmark files' own units in benchmarks), measured from the
problem's origin 0. Windows are half-open ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OBJECTIVES = ("makespan", "tardiness", "mix")
STATUSES = ("optimal", "feasible", "infeasible", "cancelled", "timeout_no_solution", "invalid")


@dataclass(frozen=True)
class Option:
    """One eligible machine for an operation."""

    machine: str  # machine key ("17" = device id in the app; "M3" in benchmarks)
    duration: int  # processing time on this machine (> 0)
    setup: int = 0  # sequence-independent set-up before the operation on this machine (>= 0)


@dataclass(frozen=True)
class Operation:
    key: str  # unique in the problem, e.g. "WO-12/20"
    options: tuple[Option, ...]
    label: str = ""  # shown to users (e.g. "注塑")


@dataclass(frozen=True)
class Job:
    """A work order: its operations run in the given order (chain precedence)."""

    key: str
    operations: tuple[Operation, ...]
    release: int = 0
    due: int | None = None
    weight: int = 1  # tardiness weight (priority)
    label: str = ""


@dataclass(frozen=True)
class Assignment:
    """One scheduled operation. ``end = start + setup + duration`` plus any off-shift time crossed; the set-up
    occupies the machine from ``start``."""

    operation: str
    job: str
    machine: str
    start: int
    end: int


@dataclass(frozen=True)
class Pin:
    """A planner's pin: machine and/or start fixed."""

    operation: str
    machine: str | None = None
    start: int | None = None


@dataclass
class Problem:
    jobs: list[Job]
    machines: list[str]
    horizon: int  # latest allowed end; <= 0 is an error ("empty_horizon")
    # plant-wide non-working time [start, end): operations pause across it (resume after), nothing is processed inside
    off_shift: list[tuple[int, int]] = field(default_factory=list)
    # per machine downtime / maintenance windows [start, end): no operation may overlap them
    blocked: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    pins: list[Pin] = field(default_factory=list)
    frozen: list[Assignment] = field(default_factory=list)  # started/finished operations: kept exactly as they are
    objective: str = "makespan"  # "makespan" | "tardiness" (total weighted tardiness) | "mix"
    mix: float = 0.5  # weight of tardiness in "mix" (0..1), makespan the rest
    # previous plan: when set, prefer to keep each operation's machine and start (repair: move as few as possible)
    reference: list[Assignment] = field(default_factory=list)
    # re-planning from "now": no operation that is not frozen may start before this time
    not_before: int = 0


@dataclass(frozen=True)
class ProblemError:
    """Bad input, named for the user.

    code: "no_machine" | "bad_duration" | "bad_setup" | "due_before_release" | "empty_horizon" | "precedence_cycle" |
    "unknown_machine" | "pin_conflict" | "duplicate_operation" | "unknown_operation" | "bad_window" |
    "bad_objective" | "frozen_conflict" | "no_jobs"
    """

    code: str
    job: str
    operation: str
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class Progress:
    """Streamed while solving."""

    seconds: float
    objective: float
    bound: float
    makespan: int
    solutions: int
    assignments: list[Assignment]  # best schedule so far


@dataclass
class Result:
    status: str  # "optimal" | "feasible" | "infeasible" | "cancelled" | "timeout_no_solution" | "invalid"
    assignments: list[Assignment]
    makespan: int
    objective: float
    bound: float
    seconds: float
    errors: list[ProblemError] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # operations whose machine or start differ from reference
    tardiness: int = 0  # total weighted tardiness of the schedule (0 when no due dates)
