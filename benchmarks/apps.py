"""Production apps: OEE of 200 machines × 30 days at 1 s state resolution (target < 2 s) and an SPC chart of
10,000 subgroups (server time, target < 300 ms).

    .venv/bin/python benchmarks/apps.py [--machines 200] [--days 30] [--subgroups 10000] [--json]

OEE: each machine's state history is generated as state changes at whole seconds (a realistic mix: runs of
minutes, short idles, set-ups, breakdowns; about 15,000 changes per machine-month) plus a cycle counter and
a reject counter sampled every minute; the timing covers the whole OEE computation over the default two-shift
calendar (planned windows, cutting at shift boundaries, state seconds per shift, small stops, counts,
start-up rejects, six-loss summary for the period and every shift). Reading the telemetry store is not
included (it depends on the backend; see docs/production-apps.md).

SPC: a fresh SQLite database is migrated, an inspection plan gets 10,000 subgroups of 5, and the chart is
requested (1) through the service (load from the database, limits, all eight tests, capability, histogram)
and (2) through the HTTP API in-process (FastAPI TestClient, signed in as the demo enterprise).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def gen_machine(rng: np.random.Generator, start_ms: int, end_ms: int) -> tuple[np.ndarray, ...]:
    span_s = (end_ms - start_ms) // 1000
    n = int(span_s / 170) + 10
    # Alternate running spells with stops; stop kinds: idle (short), setup, fault, off.
    run = rng.exponential(420, n).astype(np.int64) + 1
    stop_kind = rng.choice([1, 2, 3, 4], size=n, p=[0.8, 0.08, 0.08, 0.04])
    stop_len = np.where(stop_kind == 1, rng.exponential(90, n), rng.exponential(900, n)).astype(np.int64) + 1
    durations = np.empty(2 * n, dtype=np.int64)
    durations[0::2], durations[1::2] = run, stop_len
    codes = np.empty(2 * n, dtype=np.int8)
    codes[0::2], codes[1::2] = 0, stop_kind
    ts = start_ms + np.concatenate(([0], np.cumsum(durations)[:-1])) * 1000
    keep = ts < end_ms
    ts, codes = ts[keep], codes[keep]
    minutes = np.arange(start_ms, end_ms, 60_000, dtype=np.int64)
    cycles = np.cumsum(rng.poisson(1.6, len(minutes))).astype(np.float64)
    rejects = np.cumsum(rng.poisson(0.03, len(minutes))).astype(np.float64)
    return ts, codes, minutes, cycles, rejects


def bench_oee(machines: int, days: int) -> dict[str, float]:
    from chaoyun.apps.oee import calendar as cal
    from chaoyun.apps.oee import compute as oc

    first = date(2026, 3, 1)
    last = date.fromordinal(first.toordinal() + days - 1)
    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    win = cal.build_windows(cal.DEFAULT_SHIFTS, first, last)
    start_ms, end_ms = int(win.shift_bounds[0, 0]), int(win.shift_bounds[-1, 1])
    data = [gen_machine(rng, start_ms, end_ms) for _ in range(machines)]
    gen_s = time.perf_counter() - t0
    changes = sum(len(d[0]) for d in data)
    runs, cpu = [], []
    for _ in range(3):
        t1, c1 = time.perf_counter(), time.process_time()
        win = cal.build_windows(cal.DEFAULT_SHIFTS, first, last)
        S = len(win.labels)
        shift_state = np.zeros((S, oc.N_STATES))
        shift_small, shift_tot, shift_rej, shift_su = np.zeros(S), np.zeros(S), np.zeros(S), np.zeros(S)
        for ts, codes, minutes, cycles, rejects in data:
            ct, ci = oc.counter_increments(minutes, cycles)
            rt, ri = oc.counter_increments(minutes, rejects)
            r = oc.machine_oee(win, ts, codes, ct, ci, rt, ri, 30.0)
            # Per machine for the period (ranking)...
            oc.summarise(
                r.state_s.sum(axis=0),
                r.small_stop_s.sum(),
                r.total.sum(),
                r.rejects.sum(),
                r.startup_rejects.sum(),
                30.0,
            )
            shift_state += r.state_s
            shift_small += r.small_stop_s
            shift_tot += r.total
            shift_rej += r.rejects
            shift_su += r.startup_rejects
        # ...per shift over all machines (trend), and the total.
        for i in range(S):
            oc.summarise(shift_state[i], shift_small[i], shift_tot[i], shift_rej[i], shift_su[i], 30.0)
        o = oc.summarise(
            shift_state.sum(axis=0), shift_small.sum(), shift_tot.sum(), shift_rej.sum(), shift_su.sum(), 30.0
        )
        runs.append(time.perf_counter() - t1)
        cpu.append(time.process_time() - c1)
    return {
        "machines": machines,
        "days": days,
        "state_changes": changes,
        "counter_samples": sum(2 * len(d[2]) for d in data),
        "generate_s": round(gen_s, 2),
        "oee_s_median": round(statistics.median(runs), 3),
        "oee_s_best": round(min(runs), 3),
        "oee_cpu_s_median": round(statistics.median(cpu), 3),
        "oee": round(o.oee or 0, 4),
    }


def bench_spc(subgroups: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-apps-"))
    atexit.register(shutil.rmtree, tmp, True)  # never leave the benchmark's database behind
    os.environ["CHAOYUN_DATABASE_URL"] = f"sqlite:///{tmp / 'b.db'}"
    os.environ["CHAOYUN_VAR_DIR"] = str(tmp / "var")
    os.environ.setdefault("CHAOYUN_SECRET_KEY", "bench")
    os.environ["CHAOYUN_BACKGROUND"] = "0"
    from fastapi.testclient import TestClient
    from sqlalchemy import insert, select

    from chaoyun import migrate
    from chaoyun.apps.models import InspectionPlan, Subgroup
    from chaoyun.apps.quality import service as quality
    from chaoyun.db import get_sessionmaker
    from chaoyun.identity import demo
    from chaoyun.identity.models import Membership, User
    from chaoyun.identity.permissions import Actor
    from chaoyun.web.app import create_app

    migrate.upgrade()
    db = get_sessionmaker()()
    demo.seed(db, enterprises=5)
    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    actor = Actor(user, m)
    plan = InspectionPlan(
        org_id=m.org_id,
        name="bench",
        characteristic="d",
        chart_type="xbar_r",
        subgroup_size=5,
        lsl=9.9,
        usl=10.1,
        tests=list(range(1, 9)),
    )
    db.add(plan)
    db.commit()
    rng = np.random.default_rng(3)
    vals = rng.normal(10.0, 0.02, (subgroups, 5)).round(4).tolist()
    db.execute(
        insert(Subgroup),
        [{"plan_id": plan.id, "seq": i + 1, "values": v, "source": "bench"} for i, v in enumerate(vals)],
    )
    db.commit()
    service_runs, service_cpu = [], []
    for _ in range(7):
        t, c = time.perf_counter(), time.process_time()
        ch = quality.chart(db, actor, plan.id, subgroups)
        service_runs.append(time.perf_counter() - t)
        # CPU time of this process: what the request costs, whatever else the (shared) machine is doing.
        service_cpu.append(time.process_time() - c)
    assert ch is not None and len(ch.seqs) == subgroups
    t = time.perf_counter()
    flags = sum(1 for f in ch.chart.primary.flags if f)
    app = create_app()
    client = TestClient(app)
    page = client.get("/login")
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"username": "factory", "password": "factory-demo-2018", "csrf_token": csrf})
    http_runs = []
    for _ in range(7):
        t = time.perf_counter()
        r = client.get(f"/api/v1/apps/quality/plans/{plan.id}?last={subgroups}")
        http_runs.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
    size = len(r.content)
    db.close()
    return {
        "subgroups": subgroups,
        "service_ms_median": round(1000 * statistics.median(service_runs), 1),
        "service_ms_best": round(1000 * min(service_runs), 1),
        "service_cpu_ms_median": round(1000 * statistics.median(service_cpu), 1),
        "http_ms_median": round(1000 * statistics.median(http_runs), 1),
        "response_kb": round(size / 1024),
        "flagged_points": flags,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--machines", type=int, default=200)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--subgroups", type=int, default=10_000)
    ap.add_argument("--json", action="store_true", help="also write benchmarks/out/apps.json")
    a = ap.parse_args()
    oee = bench_oee(a.machines, a.days)
    print(
        f"OEE  {oee['machines']} machines × {oee['days']} days: {oee['state_changes']:,} state changes, "
        f"{oee['counter_samples']:,} counter samples"
    )
    print(
        f"     computation median {oee['oee_s_median']} s (best {oee['oee_s_best']} s, "
        f"CPU {oee['oee_cpu_s_median']} s; target < 2 s); OEE {oee['oee']}"
    )
    spc = bench_spc(a.subgroups)
    print(f"SPC  X̄-R chart of {spc['subgroups']:,} subgroups of 5, all eight tests, capability, histogram:")
    print(
        f"     service median {spc['service_ms_median']} ms (best {spc['service_ms_best']} ms, "
        f"CPU {spc['service_cpu_ms_median']} ms; target < 300 ms); "
        f"HTTP API median {spc['http_ms_median']} ms, {spc['response_kb']} KB; {spc['flagged_points']} points flagged"
    )
    if a.json:
        out = ROOT / "benchmarks" / "out"
        out.mkdir(parents=True, exist_ok=True)
        (out / "apps.json").write_text(json.dumps({"oee": oee, "spc": spc}, indent=2))


if __name__ == "__main__":
    main()
