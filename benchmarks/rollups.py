"""Rollups: a one-year chart of a 1 Hz series, on SQLite and PostgreSQL.

A year at 1 Hz is 31.5 M points. Generating and storing them raw would take most of an hour on this machine, so
the benchmark (1) stores a realistic raw slice (``--raw-hours`` of 1 Hz points for each of ``--series`` series),
builds its rollups from the raw points and reports the build rate (raw points per second), then (2) writes the
rest of the year's rollups directly (the 1-minute and 1-hour rows a year of 1 Hz points gives) and times the
one-year chart query the charts API makes (``store.query(..., buckets=1000, agg=...)``), median of ``--runs``.

    .venv/bin/python benchmarks/rollups.py [--backend sqlite|postgresql|both] [--raw-hours 6] [--series 4]

PostgreSQL: a temporary database on CHAOYUN_TEST_PG_ADMIN_URL (default postgres@127.0.0.1:5432), dropped at exit.
"""

from __future__ import annotations

import argparse
import atexit
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chaoyun.devices import rollups
from chaoyun.devices.store import PG_SCHEMA, PostgresStore, SqliteStore, TelemetryStore, to_ms

END = datetime(2026, 12, 1, tzinfo=UTC)
START = END - timedelta(days=365)
PG_ADMIN = os.environ.get("CHAOYUN_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def value(ts_ms: int) -> float:
    return 50.0 + 20.0 * math.sin(ts_ms / 3_600_000.0) + (ts_ms // 1000 % 7)


def minute_rows(device: int, lo_ms: int, hi_ms: int) -> list[tuple]:
    """The 1-minute rollup rows 60 points at 1 Hz give (computed, not sampled)."""
    out = []
    for b in range(lo_ms, hi_ms, 60_000):
        vs = [value(b + i * 1000) for i in range(60)]
        out.append((device, 1, b, 60, 60, sum(vs), min(vs), max(vs), b, vs[0], b + 59_000, vs[-1]))
    return out


def hour_rows(minutes: list[tuple]) -> list[tuple]:
    out = []
    for i in range(0, len(minutes), 60):
        ms = minutes[i : i + 60]
        d, m, b = ms[0][0], ms[0][1], ms[0][2]
        out.append(
            (
                d,
                m,
                b - b % 3_600_000,
                sum(r[3] for r in ms),
                sum(r[4] for r in ms),
                sum(r[5] for r in ms),
                min(r[6] for r in ms),
                max(r[7] for r in ms),
                ms[0][8],
                ms[0][9],
                ms[-1][10],
                ms[-1][11],
            )
        )
    return out


def load_rollups(store: TelemetryStore, device: int, lo_ms: int, hi_ms: int) -> int:
    total = 0
    step = 30 * 86_400_000
    for a in range(lo_ms, hi_ms, step):
        mins = minute_rows(device, a, min(hi_ms, a + step))
        hours = hour_rows(mins)
        for table, rows in (("telemetry_1m", mins), ("telemetry_1h", hours)):
            if isinstance(store, PostgresStore):
                conn = store._conn()
                with conn.transaction(), conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
            else:
                with store._immediate() as conn:
                    conn.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * 12)})", rows)
            total += len(rows)
    return total


def run(store: TelemetryStore, name: str, raw_hours: int, series: int, runs: int) -> dict[str, float]:
    s_ms, e_ms = to_ms(START), to_ms(END)
    raw_lo = e_ms - raw_hours * 3_600_000
    # (1) raw slice: `series` series at 1 Hz, dense batches of an hour per series (a backfill / moved buffer).
    t = time.perf_counter()
    n_raw = 0
    for h in range(raw_hours):
        lo = raw_lo + h * 3_600_000
        rows = [(d, 1, lo + i * 1000, value(lo + i * 1000), None) for d in range(1, series + 1) for i in range(3600)]
        store.write(rows)
        n_raw += len(rows)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    hours = rollups.refresh(store)
    build_s = time.perf_counter() - t
    if hours != raw_hours * series:
        raise SystemExit(f"{name}: {hours} hours rebuilt, expected {raw_hours * series}")
    # (2) the rest of the year for device 1, as rollups written directly.
    t = time.perf_counter()
    loaded = load_rollups(store, 1, s_ms - s_ms % 3_600_000, raw_lo)
    load_s = time.perf_counter() - t
    # Check: the chart counts a year of 1 Hz points.
    pts = store.query(1, 1, START, END, buckets=1000, agg="avg")
    n = sum(b.count for b in pts)
    expect = (e_ms - s_ms) // 1000
    if abs(n - expect) > 3600 or len(pts) < 900:
        raise SystemExit(f"{name}: the chart counted {n} points in {len(pts)} buckets, expected {expect}")
    times = {}
    for agg in ("avg", "max", "last"):
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            store.query(1, 1, START, END, buckets=1000, agg=agg)
            ts.append((time.perf_counter() - t) * 1000)
        times[agg] = statistics.median(ts)
    # The same year read raw would be 31.5 M points; for scale, the raw slice's chart without rollups:
    t = time.perf_counter()
    store.buckets(1, 1, raw_lo, e_ms, max(1, (e_ms - raw_lo) // 1000), "avg")
    raw_chart_ms = (time.perf_counter() - t) * 1000
    print(
        f"{name:10s}  raw slice {n_raw:,} points written in {write_s:.1f} s; rollups built from raw: "
        f"{n_raw / build_s:,.0f} points/s ({hours} series-hours in {build_s:.2f} s); "
        f"{loaded:,} rollup rows loaded in {load_s:.1f} s"
    )
    print(
        f"{name:10s}  one-year chart (1000 buckets, {n:,} points): "
        + ", ".join(f"{a} {v:.1f} ms" for a, v in times.items())
        + f"  (median of {runs}); raw chart of the {raw_hours} h slice without rollups: {raw_chart_ms:.0f} ms"
    )
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--raw-hours", type=int, default=6)
    ap.add_argument("--series", type=int, default=4)
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    worst = 0.0
    if a.backend in ("sqlite", "both"):
        tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-rollups-"))
        atexit.register(shutil.rmtree, tmp, True)
        worst = max(worst, *run(SqliteStore(tmp / "telemetry.db"), "sqlite", a.raw_hours, a.series, a.runs).values())
    if a.backend in ("postgresql", "both"):
        import psycopg

        admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
        name = f"chaoyun_bench_rollups_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = admin.rsplit("/", 1)[0] + "/" + name
        store = PostgresStore(url)

        def drop() -> None:
            conn = getattr(store._local, "conn", None)
            if conn is not None:
                conn.close()
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        atexit.register(drop)
        with psycopg.connect(url, autocommit=True) as conn:
            for ddl in PG_SCHEMA:
                conn.execute(ddl)
        worst = max(worst, *run(store, "postgresql", a.raw_hours, a.series, a.runs).values())
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"target < 100 ms: {'met' if worst < 100 else 'NOT met'} (slowest median {worst:.1f} ms)")
    if worst >= 100:
        sys.exit(1)


if __name__ == "__main__":
    main()
