"""Readers of the standard scheduling benchmark formats, turned into :class:`~chaoyun.apps.scheduling.model.Problem`.

* Job shop, JSON (as in ``jssp/instances.json``): ``{name: {"duration_matrix": [[...]], "machines_matrix": [[...]],
  "metadata": {"optimum", "lower_bound", "upper_bound"}}}`` — job ``j``'s ``k``-th operation runs on machine
  ``machines_matrix[j][k]`` (0-based) for ``duration_matrix[j][k]``. Zero-length operations (orb07 has a few)
  occupy nothing and are left out (the model's operations take more than 0).
* Flexible job shop, the text format of Brandimarte's and Hurink's sets: a first line ``jobs machines [avg]``, then
  one line per job: the number of operations, then for each operation the number of eligible machines followed by
  ``machine duration`` pairs (machines 1-based). A ``bounds.json`` beside the files (``{name: {"lower_bound",
  "upper_bound"}}``) gives the best known values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chaoyun.apps.scheduling.model import Job, Operation, Option, Problem


class InstanceError(Exception):
    """Bad benchmark input, with a message in Chinese and English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en

    def line(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass
class Instance:
    name: str
    problem: Problem
    lower_bound: int | None = None  # best known lower bound (from the file's metadata)
    upper_bound: int | None = None  # best known makespan
    optimum: int | None = None

    @property
    def best_known(self) -> int | None:
        return self.optimum if self.optimum is not None else self.upper_bound

    @property
    def n_jobs(self) -> int:
        return len(self.problem.jobs)

    @property
    def n_machines(self) -> int:
        return len(self.problem.machines)


def _horizon(jobs: list[Job]) -> int:
    return max(1, sum(max(o.duration for o in op.options) for job in jobs for op in job.operations))


def jobshop(name: str, durations: list[list[int]], machines: list[list[int]]) -> Problem:
    """A job-shop problem from the two matrices (machines 0-based)."""
    if len(durations) != len(machines) or any(len(d) != len(m) for d, m in zip(durations, machines, strict=False)):
        raise InstanceError(
            f"实例 {name} 的加工时间矩阵与设备矩阵形状不一致。",
            f"Instance {name}: the duration and machine matrices differ in shape.",
        )
    n_machines = 1 + max((m for row in machines for m in row), default=-1)
    jobs = [
        Job(
            key=f"J{j}",
            operations=tuple(
                Operation(key=f"J{j}/{k}", options=(Option(machine=f"M{m}", duration=int(d)),))
                for k, (d, m) in enumerate(zip(drow, mrow, strict=True))
                if int(d) != 0  # a zero-length operation occupies nothing (orb07 has some): dropped
            ),
        )
        for j, (drow, mrow) in enumerate(zip(durations, machines, strict=True))
    ]
    return Problem(jobs=jobs, machines=[f"M{m}" for m in range(n_machines)], horizon=_horizon(jobs))


def read_jobshop_json(path: Path) -> list[Instance]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError(f"无法读取文件 {path}：{exc}", f"Cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InstanceError(
            f"{path} 不是有效的 JSON（第 {exc.lineno} 行）。", f"{path} is not valid JSON (line {exc.lineno})."
        ) from exc
    if not isinstance(data, dict):
        raise InstanceError(f"{path} 应是以实例名为键的 JSON 对象。", f"{path} must be a JSON object keyed by name.")
    out = []
    for name, item in data.items():
        try:
            meta = item.get("metadata") or {}
            problem = jobshop(name, item["duration_matrix"], item["machines_matrix"])
            if any(op.options[0].duration < 0 for job in problem.jobs for op in job.operations):
                raise ValueError("negative duration")
        except InstanceError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InstanceError(
                f"{path} 中的实例 {name} 格式有误（{exc}）。", f"Instance {name} in {path} is malformed ({exc})."
            ) from exc
        out.append(
            Instance(
                name=str(name),
                problem=problem,
                lower_bound=_int(meta.get("lower_bound")),
                upper_bound=_int(meta.get("upper_bound")),
                optimum=_int(meta.get("optimum")),
            )
        )
    return out


def _int(v: object) -> int | None:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def parse_fjsp(name: str, text: str) -> Problem:
    """A flexible job-shop problem from the standard text format (machines 1-based)."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]

    def bad(why: str) -> InstanceError:
        return InstanceError(f"FJSP 实例 {name} 格式有误：{why}", f"FJSP instance {name} is malformed: {why}")

    if not lines:
        raise bad("empty file / 空文件")
    try:
        n_jobs, n_machines = int(lines[0][0]), int(lines[0][1])
    except (IndexError, ValueError) as exc:
        raise bad("first line must be 'jobs machines'") from exc
    if len(lines) < 1 + n_jobs:
        raise bad(f"{n_jobs} jobs announced, {len(lines) - 1} lines found")
    jobs = []
    for j in range(n_jobs):
        try:
            nums = [int(x) for x in lines[1 + j]]
        except ValueError as exc:
            raise bad(f"job line {j + 1} has a non-integer") from exc
        pos, ops = 1, []
        try:
            for k in range(nums[0]):
                n_opt = nums[pos]
                pos += 1
                opts = []
                for _ in range(n_opt):
                    m, d = nums[pos], nums[pos + 1]
                    pos += 2
                    if not 1 <= m <= n_machines or d <= 0:
                        raise bad(f"job {j + 1} operation {k + 1}: machine {m} or duration {d} out of range")
                    opts.append(Option(machine=f"M{m}", duration=d))
                if not opts:
                    raise bad(f"job {j + 1} operation {k + 1} has no machine")
                ops.append(Operation(key=f"J{j}/{k}", options=tuple(opts)))
        except IndexError as exc:
            raise bad(f"job line {j + 1} ends early") from exc
        if pos != len(nums):
            raise bad(f"job line {j + 1} has {len(nums) - pos} numbers too many")
        jobs.append(Job(key=f"J{j}", operations=tuple(ops)))
    return Problem(jobs=jobs, machines=[f"M{m}" for m in range(1, n_machines + 1)], horizon=_horizon(jobs))


def read_fjsp(path: Path) -> list[Instance]:
    """One FJSP file, or every ``*.txt`` / ``*.fjs`` file of a folder (sorted by name)."""
    files = sorted(p for p in path.iterdir() if p.suffix in (".txt", ".fjs")) if path.is_dir() else [path]
    if not files:
        raise InstanceError(
            f"文件夹 {path} 中没有 FJSP 实例（*.txt、*.fjs）。", f"No FJSP instances (*.txt, *.fjs) in {path}."
        )
    bounds_file = (path if path.is_dir() else path.parent) / "bounds.json"
    bounds: dict[str, dict[str, object]] = {}
    if bounds_file.is_file():
        try:
            loaded = json.loads(bounds_file.read_text(encoding="utf-8"))
            bounds = loaded if isinstance(loaded, dict) else {}
        except (OSError, json.JSONDecodeError) as exc:
            raise InstanceError(f"{bounds_file} 不是有效的 JSON。", f"{bounds_file} is not valid JSON.") from exc
    out = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InstanceError(f"无法读取文件 {f}：{exc}", f"Cannot read {f}: {exc}") from exc
        b = bounds.get(f.stem) or {}
        b = b if isinstance(b, dict) else {}
        lb, ub = _int(b.get("lower_bound")), _int(b.get("upper_bound"))
        out.append(
            Instance(
                name=f.stem,
                problem=parse_fjsp(f.stem, text),
                lower_bound=lb,
                upper_bound=ub,
                optimum=ub if lb is not None and lb == ub else None,
            )
        )
    return out


def load(path: str | Path) -> list[Instance]:
    """Instances of a job-shop JSON file, an FJSP text file, or a folder of FJSP files."""
    p = Path(path)
    if not p.exists():
        raise InstanceError(f"找不到文件或文件夹：{p}", f"No such file or folder: {p}")
    if p.is_file() and p.suffix.lower() == ".json":
        return read_jobshop_json(p)
    return read_fjsp(p)
