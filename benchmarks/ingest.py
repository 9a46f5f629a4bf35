"""Telemetry ingest benchmark (issue 3, section 8). Prints a table and writes benchmarks/out/ingest.json.

  (a) store only: rows/s into SQLite and PostgreSQL with the indexes the queries need (the primary key
      (device_id, metric_id, ts) is the only index; PostgreSQL partitioned by day, binary COPY);
  (b) HTTP batch ingest: points/s through uvicorn on 127.0.0.1 (one worker), batched JSON, device token;
  (c) MQTT end to end — helper D2's ``benchmarks/ingest_mqtt.py``: if it defines ``run(args) -> list[dict]``
      its rows are added to the table (``--parts c``);
  (d) query: one metric, 24 h at 1 Hz, downsampled to 1,000 buckets (median of repeated runs).

Usage: ``.venv/bin/python benchmarks/ingest.py [--parts a,b,d] [--rows 2000000] [--seconds 15]``.
Needs PostgreSQL on 127.0.0.1:5432 for the PostgreSQL rows (skipped with a note otherwise).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="chaoyun-bench-ingest-"))
atexit.register(shutil.rmtree, TMP, True)  # databases of millions of rows: never leave them behind
os.environ.setdefault("CHAOYUN_DATABASE_URL", f"sqlite:///{TMP / 'chaoyun.db'}")
os.environ.setdefault("CHAOYUN_VAR_DIR", str(TMP / "var"))
os.environ.setdefault("CHAOYUN_SECRET_KEY", "bench")
os.environ["CHAOYUN_BACKGROUND"] = "0"

PG_ADMIN = os.environ.get("CHAOYUN_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
METRICS = 16  # an injection moulding machine reports 16 metrics


def _rows(n: int, devices: int, start_ms: int) -> list[tuple[int, int, int, float, None]]:
    """n rows as a fleet produces them: every device reports every metric once per second."""
    out = []
    per_tick = devices * METRICS
    for i in range(n):
        tick, k = divmod(i, per_tick)
        d, m = divmod(k, METRICS)
        out.append((d + 1, m + 1, start_ms + tick * 1000, float(i % 1000) * 0.1, None))
    return out


def _pg_scratch(name: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL not available ({exc}); skipping its rows")
        return None
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    from chaoyun.devices.store import PG_SCHEMA

    with psycopg.connect(url, autocommit=True) as conn:
        for ddl in PG_SCHEMA:
            conn.execute(ddl)
    return url


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _stores() -> list[tuple[str, Any, str | None]]:
    from chaoyun.devices.store import PostgresStore, SqliteStore

    out: list[tuple[str, Any, str | None]] = [("SQLite", SqliteStore(TMP / "bench-telemetry.db"), None)]
    url = _pg_scratch("chaoyun_bench_store")
    if url:
        out.append(("PostgreSQL", PostgresStore(url), "chaoyun_bench_store"))
    return out


def part_a(stores: list[tuple[str, Any, str | None]], n: int, batch: int) -> list[dict[str, Any]]:
    start = int((datetime.now(UTC) - timedelta(hours=6)).timestamp() * 1000)
    rows = _rows(n, 200, start)
    results = []
    for name, store, _db in stores:
        store.write(rows[:batch])  # warm-up: connection, partitions
        t = time.perf_counter()
        for i in range(batch, n, batch):
            store.write(rows[i : i + batch])
        dt = time.perf_counter() - t
        rate = (n - batch) / dt
        results.append(
            {
                "part": "a",
                "what": f"store write, {name}",
                "value": rate,
                "unit": "rows/s",
                "target": ">= 300000",
                "ok": rate >= 300_000,
                "rows": n - batch,
                "batch": batch,
            }
        )
        if hasattr(store, "url"):  # PostgreSQL: the same batches by plain binary COPY into a table with the same key
            results.append(_plain_copy(store.url, rows, n, batch, rate))
    return results


def _plain_copy(url: str, rows: list[Any], n: int, batch: int, store_rate: float) -> dict[str, Any]:
    import psycopg

    from chaoyun.devices.store import _copy_image

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(
            "CREATE UNLOGGED TABLE IF NOT EXISTS bench_plain (device_id int NOT NULL, metric_id int NOT NULL, "
            "ts bigint NOT NULL, value float8, text text, PRIMARY KEY (device_id, metric_id, ts))"
        )
        conn.execute("ALTER TABLE bench_plain SET LOGGED")  # the store's tables are logged too
        conn.execute("TRUNCATE bench_plain")
        t = time.perf_counter()
        for i in range(batch, n, batch):
            image = _copy_image(rows[i : i + batch], by_key=True)
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                "COPY bench_plain (device_id, metric_id, ts, value, text) FROM STDIN (FORMAT BINARY)"
            ) as cp:
                cp.write(image)
        dt = time.perf_counter() - t
    rate = (n - batch) / dt
    ratio = store_rate / rate
    print(f"  PostgreSQL plain binary COPY (same key, same batches): {rate:,.0f} rows/s; store / COPY = {ratio:.2f}")
    return {
        "part": "a",
        "what": "store write / plain binary COPY, PostgreSQL",
        "value": ratio,
        "unit": "ratio",
        "target": ">= 0.8",
        "ok": ratio >= 0.8,
        "copy_rows_per_s": rate,
    }


def part_d(stores: list[tuple[str, Any, str | None]], repeats: int = 20) -> list[dict[str, Any]]:
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(hours=24)
    s = int(start.timestamp() * 1000)
    day = [(9999, 42, s + i * 1000, 200.0 + (i % 600) * 0.05, None) for i in range(86_400)]
    results = []
    for name, store, _db in stores:
        for i in range(0, len(day), 20_000):
            store.write(day[i : i + 20_000])
        store.query(9999, 42, start, end, 1000, "avg")  # warm cache
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            pts = store.query(9999, 42, start, end, 1000, "avg")
            times.append((time.perf_counter() - t) * 1000)
        assert len(pts) == 1000, len(pts)
        med = statistics.median(times)
        results.append(
            {
                "part": "d",
                "what": f"query 24 h @1 Hz → 1,000 buckets, {name}",
                "value": med,
                "unit": "ms",
                "target": "< 50",
                "ok": med < 50,
                "p95_ms": sorted(times)[int(0.95 * len(times)) - 1],
            }
        )
    return results


def _dumps(obj: Any) -> bytes:
    try:
        import orjson

        return bytes(orjson.dumps(obj))
    except ImportError:
        return json.dumps(obj).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def part_b(seconds: float, points_per_request: int, clients: int, workers: int) -> list[dict[str, Any]]:
    """HTTP ingest against `chaoyun serve --workers N` on 127.0.0.1 (separate processes)."""
    import http.client

    from sqlalchemy import select

    from chaoyun import migrate
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices.credentials import token_hash
    from chaoyun.devices.models import Device, DeviceModel
    from chaoyun.identity.models import Organisation

    migrate.upgrade()
    tokens = []
    with get_sessionmaker()() as db:
        org = Organisation(kind="enterprise", name="基准测试企业", status="active", district="chenghai")
        db.add(org)
        db.flush()
        model = db.execute(select(DeviceModel).where(DeviceModel.key == "injection_moulding")).scalar_one()
        for c in range(clients):
            raw = f"cyd_bench_{c}_{os.urandom(8).hex()}"
            db.add(
                Device(org_id=org.id, model_id=model.id, uid=f"bench-{c}", name=f"基准{c}", token_hash=token_hash(raw))
            )
            tokens.append(raw)
        db.commit()
        # Values inside each metric's declared range (the server rejects the rest: out_of_range).
        ranges = {
            m.key: (m.min_value, m.max_value)
            for m in model.metrics
            if m.type == "numeric" and not m.derived and not m.deprecated
        }
        keys = list(ranges)
        lo = {k: (a if a is not None else 0.0) for k, (a, _b) in ranges.items()}
        span = {k: (b - lo[k] if b is not None else 100.0) for k, (_a, b) in ranges.items()}
        samples = [{k: round(lo[k] + span[k] * (0.3 + 0.05 * j), 3) for k in keys} for j in range(7)]
    env = dict(os.environ)
    # The limiter stays in the path (its cost is part of the figure) with limits no benchmark reaches.
    env["CHAOYUN_RATE_LIMIT_INGEST"] = "60000000/10000000"
    env["CHAOYUN_RATE_LIMIT_INGEST_ADDRESS"] = "60000000/10000000"
    per_entry = len(keys)
    entries = max(1, points_per_request // per_entry)

    def drive(cmd: list[str], env: dict[str, str]) -> tuple[float, list[int], list[str]]:
        """Start a server, wait until it answers, run the clients for ``seconds``; (points/s, per client, errors)."""
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        try:
            # Ready when it answers (not merely when the port accepts): start-up is not part of the figure.
            deadline = time.monotonic() + 180
            while True:
                try:
                    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    probe.request("GET", "/login")
                    if probe.getresponse().status == 200:
                        probe.close()
                        break
                except (OSError, http.client.HTTPException):
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"part (b): the server did not start (exit status {server.poll()})")
                time.sleep(0.3)
            counts = [0] * clients
            errors: list[str] = []
            stop = time.perf_counter() + seconds
            # Every point must be valid for the whole run: timestamps start just inside the accepted age
            # (CHAOYUN_INGEST_MAX_AGE_DAYS, 30) and advance 1 ms per entry (each client is its own device, so its
            # series are its own); at 1 M points/s that lasts hours, never reaching the present (ts_future).
            max_age_days = int(env.get("CHAOYUN_INGEST_MAX_AGE_DAYS", "30"))
            first_ts = int(time.time() * 1000) - (max_age_days * 86_400_000 - 3_600_000)

            def client(c: int) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                ts = first_ts
                headers = {"Authorization": f"Bearer {tokens[c]}", "Content-Type": "application/json"}
                while time.perf_counter() < stop:
                    if ts + entries > int(time.time() * 1000) - 60_000:
                        errors.append(f"client {c}: ran out of valid timestamps")
                        return
                    body = _dumps([{"ts": ts + i, "values": samples[i % 7]} for i in range(entries)])
                    ts += entries
                    try:
                        conn.request("POST", "/api/v1/telemetry", body=body, headers=headers)
                        resp = conn.getresponse()
                        out = json.loads(resp.read())
                    except (OSError, http.client.HTTPException, ValueError) as exc:
                        errors.append(f"client {c}: {exc!r}")
                        return
                    if resp.status != 200:
                        errors.append(f"client {c}: HTTP {resp.status} {str(out)[:200]}")
                        return
                    counts[c] += out["accepted"]
                    if out.get("rejected_count"):
                        errors.append(
                            f"client {c}: {out['rejected_count']} points rejected: {str(out['rejected'][:2])[:300]}"
                        )
                        return

            # Bodies are built by the clients (one thread each) while the server parses, validates and stores.
            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            dt = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(10)
        return sum(counts) / dt, counts, errors

    port = _free_port()
    # `chaoyun serve` as deployed: one worker process per core, each binding the port (SO_REUSEPORT).
    rate, counts, errors = drive(
        [sys.executable, "-m", "chaoyun", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        env,
    )
    if errors:
        print(f"part (b): {len(errors)} client(s) stopped on errors:", *errors[:5], sep="\n  ")
    # The baseline: the same clients, rows and store (a fresh telemetry file) behind a bare ASGI app, served the
    # same way (benchmarks/bare_ingest.py).
    port = _free_port()
    bare_env = dict(env, CHAOYUN_VAR_DIR=str(TMP / "var-bare"))
    bare_rate, _bare_counts, bare_errors = drive(
        [sys.executable, "-c", f"from chaoyun.web.server import serve; serve('127.0.0.1', {port}, {workers}, "
         "app='benchmarks.bare_ingest:app')"],
        bare_env,
    )
    if bare_errors:
        print(f"part (b), bare app: {len(bare_errors)} client(s) stopped on errors:", *bare_errors[:5],
              sep="\n  ")
    ratio = rate / bare_rate if bare_rate else 0.0
    print(f"  bare ASGI app, same rows and store: {bare_rate:,.0f} points/s; platform / bare = {ratio:.2f}")
    return [
        {
            "part": "b",
            "what": f"HTTP batch ingest, SQLite, {workers} workers, {clients} clients × "
            f"{entries * per_entry} points/request",
            "value": rate,
            "unit": "points/s",
            "target": ">= 200000",
            "ok": rate >= 200_000 and not errors,
            "points": sum(counts),
            "errors": errors,
        },
        {
            "part": "b",
            "what": "HTTP batch ingest / a bare ASGI app writing the same rows",
            "value": ratio,
            "unit": "ratio",
            "target": ">= 0.6",
            "ok": ratio >= 0.6 and not bare_errors,
            "bare_points_per_s": bare_rate,
            "errors": bare_errors,
        },
    ]


def part_c(args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        from benchmarks import ingest_mqtt  # helper D2's part (c)
    except ImportError:
        print("part (c): benchmarks/ingest_mqtt.py not present")
        return []
    run = getattr(ingest_mqtt, "run", None)
    return list(run(args)) if callable(run) else []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="a,b,d")
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--points", type=int, default=10_000, help="points per HTTP request")
    ap.add_argument("--clients", type=int, default=4,
                    help="client connections (part b); with two the kernel often puts both on one server worker")
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (part b)")
    args = ap.parse_args()
    from chaoyun.runtime import tune_gc

    tune_gc()  # as the platform's ingest and web processes do (CHAOYUN_GC_GEN0=0 measures without)
    parts = set(args.parts.split(","))
    results: list[dict[str, Any]] = []
    stores = _stores() if parts & {"a", "d"} else []
    try:
        if "a" in parts:
            results += part_a(stores, args.rows, args.batch)
        if "d" in parts:
            results += part_d(stores)
    finally:
        for _n, store, db in stores:
            conn = getattr(getattr(store, "_local", None), "conn", None)
            if conn is not None:
                conn.close()
            if db:
                _drop_pg(db)
    if "b" in parts:
        results += part_b(args.seconds, args.points, args.clients, args.workers)
    if "c" in parts:
        results += part_c(args)
    load = os.getloadavg()[0]
    # Calibration: a plain CPython loop (10 M additions) takes about 0.4 s on an idle current x86 core.
    t = time.perf_counter()
    acc = 0
    for i in range(10_000_000):
        acc += i
    calib = time.perf_counter() - t
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load:.1f} at the end, reference loop {calib:.2f} s (≈0.4 s on an idle core; "
        "figures shrink in proportion when other work shares the CPUs)"
    )
    print(f"\nIngest benchmark — {machine}")
    print(f"{'part':<5}{'measure':<66}{'value':>14} {'unit':<9}{'target':<11}ok")
    for r in results:
        ok = "yes" if r["ok"] else "NO"
        print(f"{r['part']:<5}{r['what']:<66}{r['value']:>14,.1f} {r['unit']:<9}{r['target']:<11}{ok}")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest.json").write_text(
        json.dumps({"machine": machine, "at": datetime.now(UTC).isoformat(), "results": results}, indent=2)
    )
    print(f"written to {out / 'ingest.json'}")
    failed = [r for r in results if r.get("errors")]
    if failed:
        for r in failed:
            print(f"FAILED part ({r['part']}) {r['what']}: {len(r['errors'])} error(s), first: {r['errors'][0]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
