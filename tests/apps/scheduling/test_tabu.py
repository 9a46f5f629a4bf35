"""The tabu warm start of pure job shops: it only ever improves a valid schedule, its machine orders turn back into
a valid plan, it stops at a proved bound, and anything that is not a classical job shop never reaches it."""

from __future__ import annotations

import random
import time
from dataclasses import replace

import pytest

from chaoyun.apps.scheduling import solver, tabu
from chaoyun.apps.scheduling.instances import jobshop
from chaoyun.apps.scheduling.model import Pin, Problem
from chaoyun.apps.scheduling.solver import (
    _greedy,
    _plan_from_sequence,
    _prepare,
    _primary,
    _pure_shop,
    _tabu_phase,
    _to_assignments,
    solve,
    validate,
)


def random_jobshop(n_jobs: int, n_machines: int, seed: int) -> Problem:
    rng = random.Random(seed)
    durations = [[rng.randint(1, 99) for _ in range(n_machines)] for _ in range(n_jobs)]
    machines = [rng.sample(range(n_machines), n_machines) for _ in range(n_jobs)]
    return jobshop(f"rnd{seed}", durations, machines)


def test_tabu_improves_the_greedy_schedule_and_stays_valid() -> None:
    problem = random_jobshop(15, 10, seed=3)
    prep = _prepare(problem)
    start = _greedy(prep, problem)
    assert start is not None
    greedy_cmax = _primary(prep, problem, start)[0]
    shop = _pure_shop(prep, problem, start)
    assert shop is not None
    # The seed sequence itself decodes to the greedy makespan or better (semi-active schedule of the same orders).
    seeded = _plan_from_sequence(prep, shop, shop.sequence)
    assert seeded is not None and _primary(prep, problem, seeded)[0] <= greedy_cmax
    cmax, seq = tabu.search(shop, 2.0, threads=2, seed=5)
    assert sorted(tabu.stats) and all(k > 0 for k in tabu.stats)
    plan = _plan_from_sequence(prep, shop, seq)
    assert plan is not None
    assert validate(problem, _to_assignments(prep, plan)) == []
    assert _primary(prep, problem, plan)[0] == cmax
    assert cmax < greedy_cmax  # 15x10 greedy schedules are far from optimal: tabu search must find better


def test_tabu_stops_at_the_target() -> None:
    problem = random_jobshop(10, 5, seed=8)
    prep = _prepare(problem)
    start = _greedy(prep, problem)
    assert start is not None
    shop = _pure_shop(prep, problem, start)
    assert shop is not None
    t = time.monotonic()
    cmax, _seq = tabu.search(shop, 30.0, target=10**9)  # any schedule meets it
    assert time.monotonic() - t < 5
    assert cmax <= _primary(prep, problem, start)[0]
    t = time.monotonic()
    tabu.search(shop, 30.0, should_stop=lambda: True)
    assert time.monotonic() - t < 5


def test_a_deadlocked_sequence_is_refused() -> None:
    # Job A runs on M0 then M1, job B on M1 then M0. Orders "M0: B2 before A1" and "M1: A2 before B1" wait on
    # each other: the decoder must say so (None), never hand back a partial plan.
    problem = jobshop("dead", [[3, 4], [2, 5]], [[0, 1], [1, 0]])
    prep = _prepare(problem)
    start = _greedy(prep, problem)
    assert start is not None
    shop = _pure_shop(prep, problem, start)
    assert shop is not None
    a1, b1 = (i for i in range(len(prep.ops)) if shop.job_pred[i] == -1)
    a2, b2 = int(shop.job_succ[a1]), int(shop.job_succ[b1])
    if shop.machine[a1] != shop.machine[b2]:
        a1, b1, a2, b2 = b1, a1, b2, a2
    bad = shop.sequence.copy()
    bad[shop.machine[a1], :2] = [b2, a1]
    bad[shop.machine[a2], :2] = [a2, b1]
    assert _plan_from_sequence(prep, shop, bad) is None
    assert _plan_from_sequence(prep, shop, shop.sequence) is not None


def test_only_pure_job_shops_take_the_tabu_path(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = random_jobshop(6, 4, seed=2)
    prep = _prepare(problem)
    start = _greedy(prep, problem)
    assert start is not None
    assert _pure_shop(prep, problem, start) is not None
    tardy = replace(problem, objective="tardiness")
    assert _pure_shop(_prepare(tardy), tardy, start) is None
    first = problem.jobs[0].operations[0]
    pinned = replace(problem, pins=(Pin(operation=first.key, machine=first.options[0].machine),))
    assert _pure_shop(_prepare(pinned), pinned, start) is None
    # Above the size cap (an n × n tabu matrix per thread) the shop is left to CP-SAT.
    monkeypatch.setattr(solver, "_TABU_MAX_OPS", len(prep.ops) - 1)
    assert _pure_shop(prep, problem, start) is None
    monkeypatch.undo()
    # The phase hands a non-pure problem back unchanged.
    plan, score = _tabu_phase(_prepare(tardy), tardy, start, 123, 1.0, 0, None, None, time.monotonic())
    assert plan is start and score == 123


def test_solve_with_the_tabu_phase_reports_progress_and_a_valid_plan() -> None:
    problem = random_jobshop(15, 10, seed=11)
    seen: list[float] = []
    result = solve(problem, time_limit=6, workers=2, on_progress=lambda p: seen.append(p.makespan))
    assert result.status in ("optimal", "feasible")
    assert validate(problem, result.assignments) == []
    assert seen and seen == sorted(seen, reverse=True)
    assert result.makespan <= seen[0]
