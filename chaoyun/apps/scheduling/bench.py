"""``chaoyun schedule-bench``: solve standard job-shop / flexible job-shop instances and report the gaps, and the
deterministic factory-sized case used by ``benchmarks/scheduling.py``.

Every schedule is validated (:func:`chaoyun.apps.scheduling.solver.validate`) before its row is written; a schedule
that fails is written as an error row and the command exits 1. Bad input exits 2 with one line in Chinese and English.
"""

from __future__ import annotations

import csv
import io
import math
import random
import sys
from dataclasses import dataclass

from chaoyun.apps.scheduling.instances import Instance, InstanceError, load
from chaoyun.apps.scheduling.model import Job, Operation, Option, Problem, Progress, Result
from chaoyun.apps.scheduling.solver import solve, validate

COLUMNS = [
    "name",
    "jobs",
    "machines",
    "makespan",
    "lower_bound",
    "best_known",
    "gap_pct",
    "seconds",
    "status",
]


@dataclass
class Row:
    name: str
    jobs: int
    machines: int
    makespan: int | None
    lower_bound: int | None  # proved by this run
    best_known: int | None
    gap_pct: float | None  # to the best known (else to the proved lower bound)
    seconds: float
    status: str
    first_solution_s: float | None = None
    errors: str = ""

    def csv_row(self) -> list[str]:
        def fmt(v: object) -> str:
            return "" if v is None else str(v)

        return [
            self.name,
            str(self.jobs),
            str(self.machines),
            fmt(self.makespan),
            fmt(self.lower_bound),
            fmt(self.best_known),
            "" if self.gap_pct is None else f"{self.gap_pct:.2f}",
            f"{self.seconds:.2f}",
            self.status if not self.errors else f"{self.status}: {self.errors}",
        ]


def gap(makespan: int, reference: int | None) -> float | None:
    if reference is None or reference <= 0:
        return None
    return 100.0 * (makespan - reference) / reference


def run_instance(inst: Instance, time_limit: float, workers: int) -> Row:
    first: list[float] = []

    def progress(p: Progress) -> None:
        if not first:
            first.append(p.seconds)

    result: Result = solve(inst.problem, time_limit=time_limit, workers=workers, on_progress=progress)
    lb_proved = math.ceil(result.bound - 1e-9) if result.assignments and result.bound > 0 else None
    row = Row(
        name=inst.name,
        jobs=inst.n_jobs,
        machines=inst.n_machines,
        makespan=result.makespan if result.assignments else None,
        lower_bound=lb_proved,
        best_known=inst.best_known,
        gap_pct=None,
        seconds=result.seconds,
        status=result.status,
        first_solution_s=first[0] if first else None,
    )
    if result.status == "invalid":
        row.errors = "; ".join(e.message_en for e in result.errors[:3])
        return row
    if result.assignments:
        problems = validate(inst.problem, result.assignments)
        if problems:
            row.status = "invalid_schedule"
            row.errors = "; ".join(problems[:3])
            return row
        ref = inst.best_known if inst.best_known is not None else lb_proved
        row.gap_pct = gap(result.makespan, ref)
    return row


def select(instances: list[Instance], names: str) -> list[Instance]:
    if not names.strip():
        return instances
    by_name = {i.name: i for i in instances}
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    missing = [n for n in wanted if n not in by_name]
    if missing:
        shown = ", ".join(missing)
        raise InstanceError(f"文件中没有这些实例：{shown}", f"No such instance in the file: {shown}")
    return [by_name[n] for n in wanted]


def main(file: str, *, instances: str = "", time_limit: float = 60.0, workers: int = 2, out: str = "") -> int:
    """The command: 0 when every schedule is valid, 1 when one is not (or the solver refused an instance), 2 on bad
    input."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    err = Console(stderr=True)
    try:
        chosen = select(load(file), instances)
        if time_limit <= 0 or workers < 1:
            raise InstanceError(
                "--time-limit 须大于 0，--workers 须至少为 1。",
                "--time-limit must be above 0 and --workers at least 1.",
            )
    except InstanceError as exc:
        err.print(f"[red]错误 / error:[/red] {exc.line()}", highlight=False, soft_wrap=True)
        return 2
    stream = io.StringIO() if not out else None
    try:
        handle = open(out, "w", newline="", encoding="utf-8") if out else stream  # noqa: SIM115
    except OSError as exc:
        err.print(f"[red]错误 / error:[/red] 无法写入 {out}：{exc} / Cannot write {out}: {exc}", highlight=False)
        return 2
    assert handle is not None
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    failed = False
    rows: list[Row] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task("schedule-bench", total=len(chosen))
        for inst in chosen:
            bar.update(task, description=f"{inst.name} ({inst.n_jobs}×{inst.n_machines})")
            row = run_instance(inst, time_limit, workers)
            rows.append(row)
            writer.writerow(row.csv_row())
            handle.flush()
            if row.errors or row.status in ("invalid", "invalid_schedule"):
                failed = True
            bar.advance(task)
    if out:
        handle.close()
    else:
        assert stream is not None
        sys.stdout.write(stream.getvalue())
    solved = [r for r in rows if r.gap_pct is not None]
    zero = sum(1 for r in solved if r.gap_pct is not None and r.gap_pct <= 1e-9)
    mean = sum(r.gap_pct or 0.0 for r in solved) / len(solved) if solved else 0.0
    err.print(
        f"{len(rows)} instances, {zero} at 0 % gap, mean gap {mean:.2f} %"
        + (f", written to {out}" if out else ""),
        highlight=False,
    )
    return 1 if failed else 0


# ------------------------------------------------------------------------------------------- the factory case

HOUR = 3600
DAY = 24 * HOUR


def factory_problem(
    orders: int = 200, steps: int = 8, machines: int = 30, seed: int = 13, objective: str = "mix"
) -> Problem:
    """A deterministic factory-sized case: ``orders`` work orders of ``steps`` operations over ``machines`` machines
    in work centres of 3-4 similar machines (each operation eligible on 2-3 of its centre's machines at different
    speeds), sequence-independent set-ups, two shifts a day (00:00-08:00 off) with Sundays off, and maintenance
    windows; releases over the first two days, due dates from each order's work content."""
    rng = random.Random(seed)
    names = [f"M{m + 1}" for m in range(machines)]
    centres: list[list[str]] = []
    i = 0
    while i < machines:
        size = min(machines - i, 4 if rng.random() < 0.5 else 3)
        if machines - i - size in (1, 2):
            size = machines - i
        centres.append(names[i : i + size])
        i += size
    speed = {m: rng.uniform(0.8, 1.25) for m in names}
    days = 21
    off = [(d * DAY, d * DAY + 8 * HOUR) for d in range(days)]
    off += [(d * DAY, (d + 1) * DAY) for d in range(6, days, 7)]  # Sundays
    blocked: dict[str, list[tuple[int, int]]] = {}
    for m in rng.sample(names, k=max(1, machines // 5)):
        d = rng.randrange(1, 5)
        start = d * DAY + rng.choice([10, 14, 18]) * HOUR
        blocked[m] = [(start, start + rng.choice([2, 4]) * HOUR)]
    jobs = []
    for j in range(orders):
        route = [rng.randrange(len(centres)) for _ in range(steps)]
        qty = rng.randrange(50, 400)
        ops = []
        work = 0
        for k, c in enumerate(route):
            cycle = rng.randrange(4, 20)  # seconds per piece
            eligible = rng.sample(centres[c], k=min(len(centres[c]), rng.choice([2, 3])))
            opts = tuple(
                Option(
                    machine=m,
                    duration=max(60, int(qty * cycle * speed[m])),
                    setup=rng.choice([300, 600, 900, 1800]),
                )
                for m in eligible
            )
            work += min(o.duration + o.setup for o in opts)
            ops.append(Operation(key=f"WO-{j + 1}/{(k + 1) * 10}", options=opts, label=f"step {k + 1}"))
        release = rng.randrange(0, 2 * DAY, 900)
        due = release + int(work * rng.uniform(2.5, 6.0)) + 2 * DAY
        jobs.append(
            Job(
                key=f"WO-{j + 1}",
                operations=tuple(ops),
                release=release,
                due=due,
                weight=rng.choice([1, 1, 1, 2, 3]),
            )
        )
    return Problem(
        jobs=jobs,
        machines=names,
        horizon=days * DAY,
        off_shift=off,
        blocked=blocked,
        objective=objective,
        mix=0.5,
    )


def run_factory(time_limit: float, workers: int, objective: str = "mix") -> tuple[Row, float | None]:
    """The factory case: its row (gap to the proved bound) and the seconds to CP-SAT's first own solution."""
    problem = factory_problem(objective=objective)
    marks: list[tuple[float, int]] = []

    def progress(p: Progress) -> None:
        marks.append((p.seconds, p.solutions))

    result = solve(problem, time_limit=time_limit, workers=workers, on_progress=progress)
    problems = validate(problem, result.assignments) if result.assignments else ["no schedule"]
    row = Row(
        name=f"factory-{objective}",
        jobs=len(problem.jobs),
        machines=len(problem.machines),
        makespan=result.makespan if result.assignments else None,
        lower_bound=None,
        best_known=None,
        gap_pct=None,
        seconds=result.seconds,
        status=result.status if not problems else "invalid_schedule",
        first_solution_s=marks[0][0] if marks else None,
        errors="; ".join(problems[:3]),
    )
    if result.assignments and result.objective > 0:
        row.gap_pct = 100.0 * (result.objective - result.bound) / result.objective
    cpsat_first = next((s for s, n in marks if n >= 1), None)
    return row, cpsat_first
