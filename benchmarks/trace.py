"""Traceability at scale: a recall over a 10-level-deep graph of 1,000,000 lots, and bulk identifier registration.

    .venv/bin/python benchmarks/trace.py [--nodes 1000000] [--runs 50] [--register 50000]
        [--pg-admin postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--skip-pg]

For SQLite (a file under a temporary folder) and PostgreSQL (a temporary database created through --pg-admin and
dropped at exit), each:

1. migrates a fresh database and creates one enterprise with an admin;
2. fills the trace graph's own tables (``trace_nodes``, ``trace_edges``) with ``--nodes`` nodes in 10 levels —
   material lots, 8 levels of production lots, shipments — each node linked to two nodes of the next level
   (``j`` and ``j+1``), so a recall from one material lot reaches 10 levels and ~65 nodes; about 1.8 links per node;
3. times ``graph.reach`` (the recursive query alone) and ``graph.trace`` (the recall as the page gets it: nodes,
   links, depths, visibility) from ``--runs`` random material lots: median and 95th percentile, target < 100 ms;
4. times one ``graph.link`` (the cycle check on the big graph) and one refused cyclic link;
5. registers ``--register`` identifiers in one ``service.register_many`` call (checked, HMAC-signed, audited),
   target >= 5,000 identifiers/s, and the same through an Excel sheet (read + register).

Prints the figures and the machine's load (``uptime``); removes its temporary folder and database at exit; exits
non-zero when a step fails or a target is missed.
"""

from __future__ import annotations

import argparse
import atexit
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LEVELS = 10
ROOT = Path(__file__).resolve().parent.parent


def _reset_caches() -> None:
    from chaoyun import settings
    from chaoyun.db import get_engine, get_sessionmaker

    get_sessionmaker.cache_clear()
    get_engine.cache_clear()
    settings.get_settings.cache_clear()


def _copy_graph(db: Any, org_id: int, width: int) -> int:
    """PostgreSQL: the same rows through COPY (what a bulk load there uses)."""
    from sqlalchemy import text

    kinds = ["mat"] + ["lot"] * (LEVELS - 2) + ["ship"]
    raw = db.connection().connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy("COPY trace_nodes (id, kind, org_id, key, label, customer_name, quantity) FROM STDIN") as cp:
            for level in range(LEVELS):
                for j in range(width):
                    key = f"L{level}-{j:07d}" if level < LEVELS - 1 else f"SH{j:07d}/L{level - 1}-{j:07d}"
                    customer = f"客户{j % 997}" if level == LEVELS - 1 else ""
                    cp.write_row(
                        (
                            level * width + j + 1,
                            kinds[level],
                            org_id,
                            key,
                            "ABS" if level == 0 else "CAR",
                            customer,
                            100.0,
                        )
                    )
        with cur.copy("COPY trace_edges (src_id, dst_id) FROM STDIN") as cp:
            for level in range(LEVELS - 1):
                for j in range(width):
                    src = level * width + j + 1
                    for k in (j, (j + 1) % width):
                        cp.write_row((src, (level + 1) * width + k + 1))
    db.execute(text("SELECT setval(pg_get_serial_sequence('trace_nodes', 'id'), :n)"), {"n": width * LEVELS})
    db.commit()
    return 2 * width * (LEVELS - 1)


def _build_graph(db: Any, org_id: int, n: int) -> int:
    from sqlalchemy import insert

    from chaoyun.trace.models import Edge, Node

    width = n // LEVELS
    if db.get_bind().dialect.name == "postgresql":
        t0 = time.perf_counter()
        count = _copy_graph(db, org_id, width)
        print(f"  graph: {width * LEVELS:,} nodes, {count:,} links in {time.perf_counter() - t0:.1f} s (COPY)")
        return width
    kinds = ["mat"] + ["lot"] * (LEVELS - 2) + ["ship"]
    batch = 20_000
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for level in range(LEVELS):
        for j in range(width):
            nid = level * width + j + 1
            rows.append(
                {
                    "id": nid,
                    "kind": kinds[level],
                    "org_id": org_id,
                    "key": f"L{level}-{j:07d}" if level < LEVELS - 1 else f"SH{j:07d}/L{level - 1}-{j:07d}",
                    "label": "ABS" if level == 0 else "CAR",
                    "customer_name": f"客户{j % 997}" if level == LEVELS - 1 else "",
                    "quantity": 100.0,
                }
            )
            if len(rows) >= batch:
                db.execute(insert(Node), rows)
                rows = []
    if rows:
        db.execute(insert(Node), rows)
    db.commit()
    edges: list[dict[str, int]] = []
    count = 0
    for level in range(LEVELS - 1):
        for j in range(width):
            src = level * width + j + 1
            for k in (j, (j + 1) % width):
                edges.append({"src_id": src, "dst_id": (level + 1) * width + k + 1})
            if len(edges) >= batch:
                db.execute(insert(Edge), edges)
                count += len(edges)
                edges = []
    if edges:
        db.execute(insert(Edge), edges)
        count += len(edges)
    db.commit()
    print(f"  graph: {width * LEVELS:,} nodes, {count:,} links in {time.perf_counter() - t0:.1f} s")
    return width


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]


def _run(label: str, url: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    os.environ["CHAOYUN_DATABASE_URL"] = url
    _reset_caches()
    from sqlalchemy import text

    from chaoyun import migrate
    from chaoyun.db import get_sessionmaker
    from chaoyun.errors import Conflict
    from chaoyun.identity.models import Membership, Organisation, User
    from chaoyun.identity.permissions import Actor
    from chaoyun.trace import exports, graph, service
    from chaoyun.trace.models import Node

    print(f"\n== {label}")
    t0 = time.perf_counter()
    migrate.upgrade()
    print(f"  migrated in {time.perf_counter() - t0:.1f} s")
    out: dict[str, float] = {}
    with get_sessionmaker()() as db:
        org = Organisation(kind="enterprise", name="基准玩具厂", district="chenghai", status="active")
        db.add(org)
        db.flush()
        user = User(username="bench-admin", display_name="基准")
        db.add(user)
        db.flush()
        m = Membership(user_id=user.id, org_id=org.id, role="enterprise_admin")
        db.add(m)
        db.commit()
        db.refresh(m)
        actor = Actor(user, m)
        width = _build_graph(db, org.id, args.nodes)
        if url.startswith("postgresql"):
            db.execute(text("ANALYZE trace_nodes"))
            db.execute(text("ANALYZE trace_edges"))
            db.commit()
        else:
            db.execute(text("ANALYZE"))
            db.commit()
        rnd = random.Random(7)
        starts = [rnd.randrange(width) + 1 for _ in range(args.runs)]
        reach_ms, trace_ms, sizes, depths = [], [], [], []
        for s in starts:
            t = time.perf_counter()
            found = graph.reach(db, s)
            reach_ms.append((time.perf_counter() - t) * 1000)
            sizes.append(len(found))
            node = db.get(Node, s)
            assert node is not None
            t = time.perf_counter()
            g = graph.trace(db, actor, node, forward=True, refresh=False)
            trace_ms.append((time.perf_counter() - t) * 1000)
            depths.append(max(g.depth.values()))
            db.expunge_all()
        assert min(depths) == LEVELS - 1, f"recall depth {min(depths)}, expected {LEVELS - 1}"
        out["reach_p50"], out["reach_p95"] = statistics.median(reach_ms), _pct(reach_ms, 0.95)
        out["trace_p50"], out["trace_p95"] = statistics.median(trace_ms), _pct(trace_ms, 0.95)
        print(
            f"  recall over {LEVELS} levels ({statistics.mean(sizes):.0f} nodes reached, {args.runs} runs): "
            f"recursive query p50 {out['reach_p50']:.1f} ms, p95 {out['reach_p95']:.1f} ms; "
            f"whole trace p50 {out['trace_p50']:.1f} ms, p95 {out['trace_p95']:.1f} ms"
        )
        # Backward from a shipment: the same depth upstream.
        last = (LEVELS - 1) * width + 1 + rnd.randrange(width)
        t = time.perf_counter()
        up = graph.reach(db, last, forward=False)
        print(f"  backward from a shipment: {len(up)} nodes in {(time.perf_counter() - t) * 1000:.1f} ms")
        # One link with its cycle check on the big graph, and one refused.
        a, b = db.get(Node, 2), db.get(Node, width * 5 + 3)
        assert a is not None and b is not None
        t = time.perf_counter()
        graph.link(db, a, b)
        db.commit()
        out["link_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        try:
            graph.link(db, b, a)  # a already reaches b: b -> a would close a cycle
            refused = False
        except Conflict:
            refused = True
            db.rollback()
        print(
            f"  one link with its cycle check: {out['link_ms']:.1f} ms; cyclic link refused: {refused} "
            f"({(time.perf_counter() - t) * 1000:.1f} ms)"
        )
        assert refused, "a cyclic link was accepted"
        # Bulk registration.
        service.ensure_prefix(db, actor, org.id)
        db.commit()
        rows = [
            {"template": "META_item", "attrs": {"serial": f"SN{i:08d}", "produced_on": "2026-12-01"}}
            for i in range(args.register)
        ]
        t, cpu = time.perf_counter(), time.process_time()
        rep = service.register_many(db, actor, rows)
        secs, cpu = time.perf_counter() - t, time.process_time() - cpu
        assert len(rep.created) == args.register and not rep.errors, rep.errors[:3]
        out["register_per_s"] = args.register / secs
        out["register_cpu_per_s"] = args.register / cpu
        print(
            f"  bulk registration: {args.register:,} identifiers in {secs:.2f} s = {out['register_per_s']:,.0f}/s "
            f"(this process's CPU time {cpu:.2f} s = {out['register_cpu_per_s']:,.0f}/s)"
        )
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(["template", "suffix", "serial", "produced_on"])
        n_x = min(args.register, 20_000)
        for i in range(n_x):
            ws.append(["META_item", "", f"XS{i:08d}", "2026-12-01"])
        buf = io.BytesIO()
        wb.save(buf)
        t = time.perf_counter()
        parsed, first = exports.import_rows(exports.read_rows("ids.xlsx", buf.getvalue()))
        rep = service.register_many(db, actor, parsed, first)
        secs = time.perf_counter() - t
        assert len(rep.created) == n_x and not rep.errors
        out["excel_per_s"] = n_x / secs
        print(f"  Excel import: {n_x:,} rows read and registered in {secs:.2f} s = {out['excel_per_s']:,.0f}/s")
        checked, bad = service.verify_all(db)
        assert not bad and checked == args.register + n_x
    from chaoyun.db import get_engine

    get_engine().dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--register", type=int, default=50_000)
    ap.add_argument("--pg-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--skip-pg", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-trace-"))
    atexit.register(shutil.rmtree, tmp, True)
    os.environ["CHAOYUN_VAR_DIR"] = str(tmp / "var")
    os.environ.setdefault("CHAOYUN_SECRET_KEY", "bench")
    os.environ["CHAOYUN_BACKGROUND"] = "0"
    sys.path.insert(0, str(ROOT))
    results = {"SQLite": _run("SQLite", f"sqlite:///{tmp / 'trace.db'}", args, tmp)}
    if not args.skip_pg:
        import psycopg

        admin = args.pg_admin.replace("postgresql+psycopg", "postgresql")
        name = f"chaoyun_bench_trace_{os.getpid()}"

        def drop() -> None:
            from chaoyun.db import get_engine

            get_engine().dispose()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        atexit.register(drop)
        root = args.pg_admin.rsplit("/", 1)[0]
        results["PostgreSQL"] = _run("PostgreSQL", f"{root}/{name}", args, tmp)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nload: {load}")
    failed = []
    for label, r in results.items():
        print(
            f"{label}: recall p95 {r['trace_p95']:.1f} ms (query alone {r['reach_p95']:.1f} ms), "
            f"bulk registration {r['register_per_s']:,.0f}/s (per CPU second {r['register_cpu_per_s']:,.0f}), "
            f"Excel {r['excel_per_s']:,.0f}/s"
        )
        if r["trace_p95"] >= 100:
            failed.append(f"{label}: recall p95 {r['trace_p95']:.1f} ms >= 100 ms")
        if r["register_per_s"] < 5000:
            failed.append(f"{label}: registration {r['register_per_s']:,.0f}/s < 5,000/s")
    if failed:
        print("TARGETS MISSED: " + "; ".join(failed))
        sys.exit(1)
    print("targets met: recall < 100 ms, registration >= 5,000 identifiers/s")


if __name__ == "__main__":
    main()
