"""Scheduling solver benchmark (issue #13): ft + la + orb job-shop instances, Brandimarte mk01-10 and the factory-sized
case, with the issue's targets checked and a summary table printed.

    .venv/bin/python benchmarks/scheduling.py                      # the full run, 60 s per instance (about an hour)
    .venv/bin/python benchmarks/scheduling.py --time-limit 10 --sets ft,mk --out /tmp/sched.csv

Reads ../shared/data (jssp/instances.json, fjsp/brandimarte/). Every schedule is validated before it is counted.
Prints the machine's load (other work on the machine slows the solver down) before and after.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaoyun.apps.scheduling.bench import COLUMNS, Row, run_factory, run_instance  # noqa: E402
from chaoyun.apps.scheduling.instances import load  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def load_avg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"
    except OSError:
        return "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sets", default="ft,la,orb,mk,factory", help="comma-separated: ft, la, orb, mk, factory")
    ap.add_argument("--out", default="", help="CSV of every row")
    ap.add_argument("--factory-time-limit", type=float, default=None, help="default: --time-limit")
    args = ap.parse_args()
    sets = {s.strip() for s in args.sets.split(",")}
    print(f"load average before: {load_avg()}", flush=True)
    t_start = time.monotonic()
    rows: list[Row] = []
    jobshop = [
        i
        for i in load(DATA / "jssp" / "instances.json")
        if any(i.name.startswith(p) and p in sets for p in ("ft", "la", "orb"))
    ]
    jobshop.sort(key=lambda i: (i.name.rstrip("0123456789"), int(i.name.lstrip("abcdefghijklmnopqrstuvwxyz"))))
    brandimarte = load(DATA / "fjsp" / "brandimarte") if "mk" in sets else []
    for inst in [*jobshop, *brandimarte]:
        row = run_instance(inst, args.time_limit, args.workers)
        rows.append(row)
        print(
            f"{row.name:8} {row.jobs:3}x{row.machines:<3} makespan {row.makespan} best {row.best_known} "
            f"lb {row.lower_bound} gap {row.gap_pct if row.gap_pct is None else round(row.gap_pct, 2)} % "
            f"{row.seconds:6.1f} s {row.status} {row.errors}",
            flush=True,
        )
    factory: Row | None = None
    cpsat_first: float | None = None
    if "factory" in sets:
        factory, cpsat_first = run_factory(args.factory_time_limit or args.time_limit, args.workers)
        rows.append(factory)
        print(
            f"factory  {factory.jobs}x{factory.machines} makespan {factory.makespan} s status {factory.status} "
            f"first schedule {factory.first_solution_s} s, CP-SAT's first {cpsat_first} s, "
            f"gap to the proved bound {factory.gap_pct and round(factory.gap_pct, 1)} % {factory.errors}",
            flush=True,
        )
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow([*COLUMNS, "first_solution_s"])
            for r in rows:
                w.writerow([*r.csv_row(), "" if r.first_solution_s is None else f"{r.first_solution_s:.2f}"])

    def summary(prefix: str) -> tuple[int, int, float, float, int]:
        rs = [r for r in rows if r.name.startswith(prefix) and r.gap_pct is not None]
        gaps = [r.gap_pct or 0.0 for r in rs]
        optimal = sum(1 for r in rs if r.status == "optimal")
        return (
            len(rs),
            sum(1 for g in gaps if g <= 1e-9),
            max(gaps, default=0.0),
            sum(gaps) / len(gaps) if gaps else 0.0,
            optimal,
        )

    print()
    print(f"time limit {args.time_limit} s, {args.workers} workers, load average after: {load_avg()}")
    print(f"{'set':10} {'n':>3} {'0 % gap':>8} {'proved':>7} {'max gap %':>10} {'mean gap %':>11}")
    ok = True
    for prefix in ("ft", "la", "orb", "mk"):
        n, zero, worst, mean, proved = summary(prefix)
        if n:
            print(f"{prefix:10} {n:3} {zero:8} {proved:7} {worst:10.2f} {mean:11.2f}")
    invalid = [r.name for r in rows if r.status in ("invalid", "invalid_schedule") or r.errors]
    jss = [r for r in rows if r.name[:2] in ("ft", "la", "or") and r.gap_pct is not None]
    la_off = [r for r in jss if (r.gap_pct or 0) > 1e-9 and r.name.startswith("la")]
    others_off = [r for r in jss if (r.gap_pct or 0) > 1e-9 and not r.name.startswith("la")]
    if jss:
        target = not others_off and len(la_off) <= 2 and all((r.gap_pct or 0) < 1.0 for r in la_off)
        print(f"target ft/la/orb (0 % except <= 2 la under 1 %): {'met' if target else 'NOT met'}"
              f" — off: {', '.join(f'{r.name} {r.gap_pct:.2f} %' for r in la_off + others_off) or 'none'}")
        ok &= target
    n, _, _, mean, _ = summary("mk")
    if n:
        print(f"target Brandimarte mean gap <= 2 %: {'met' if mean <= 2.0 else 'NOT met'} ({mean:.2f} %)")
        ok &= mean <= 2.0
    if factory is not None:
        first = factory.first_solution_s
        met = first is not None and first < 5.0 and not factory.errors
        print(
            f"target factory first feasible < 5 s: {'met' if met else 'NOT met'} "
            f"({first} s; CP-SAT's own {cpsat_first} s)"
        )
        ok &= met
    if invalid:
        print(f"INVALID schedules: {', '.join(invalid)}")
        ok = False
    print(f"total {time.monotonic() - t_start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
