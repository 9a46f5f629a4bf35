"""Catalogue search with many offerings: Chinese full-text search latency (service call and page).

    .venv/bin/python benchmarks/marketplace_search.py [--offerings 20000] [--url postgresql+psycopg://...]

Seeds a fresh database (SQLite under a temporary folder, or the given URL) with the identity demo and the
marketplace demo, then copies the demo offerings with varied names until there are ``--offerings`` rows,
and times ``catalogue.search`` for queries of 2, 3, 4 and more characters and the public ``/market`` page.
Queries of 3+ characters use the trigram index (FTS5 on SQLite, pg_trgm GIN on PostgreSQL); shorter ones
scan with LIKE/ILIKE.
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
from pathlib import Path

QUERIES = ["排产", "能耗监测", "智能排产", "视觉 注塑", "区块链溯源", "不存在的词语"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--offerings", type=int, default=20000)
    ap.add_argument("--url", default="")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-market-"))
    atexit.register(shutil.rmtree, tmp, True)  # never leave the benchmark's database behind
    os.environ["CHAOYUN_DATABASE_URL"] = args.url or f"sqlite:///{tmp / 'bench.db'}"
    os.environ["CHAOYUN_VAR_DIR"] = str(tmp / "var")
    os.environ.setdefault("CHAOYUN_SECRET_KEY", "bench")
    os.environ["CHAOYUN_BACKGROUND"] = "0"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from fastapi.testclient import TestClient
    from sqlalchemy import func, select, text

    from chaoyun import migrate
    from chaoyun.db import get_sessionmaker
    from chaoyun.identity import demo
    from chaoyun.marketplace import catalogue
    from chaoyun.marketplace import demo as market_demo
    from chaoyun.marketplace.models import Offering
    from chaoyun.web.app import create_app

    migrate.upgrade()
    with get_sessionmaker()() as db:
        demo.seed(db, enterprises=50)
        market_demo.seed(db)
        base = list(db.execute(select(Offering)).scalars())
        n = int(db.execute(select(func.count()).select_from(Offering)).scalar_one())
        t0 = time.perf_counter()
        i = 0
        while n < args.offerings:
            src = base[i % len(base)]
            copy = Offering(
                org_id=src.org_id,
                kind=src.kind,
                name=f"{src.name}（{i}型）",
                category=src.category,
                summary=src.summary,
                description=src.description + f" 版本{i}",
                industries=src.industries,
                saas_domains=src.saas_domains,
                deployment=src.deployment,
                price_model=src.price_model,
                price_text=src.price_text,
                cost_categories=src.cost_categories,
                case_studies=src.case_studies,
                status="published",
                search_text=src.search_text + f"\n版本{i}",
            )
            db.add(copy)
            n += 1
            i += 1
            if i % 2000 == 0:
                db.commit()
        db.commit()
        seed_s = time.perf_counter() - t0
        # Fresh planner statistics, as autovacuum (PostgreSQL) would have after a bulk load.
        db.execute(text("ANALYZE"))
        db.commit()

    rows = []
    with get_sessionmaker()() as db:
        for q in QUERIES:
            catalogue.search(db, catalogue.SearchFilter(q=q))  # warm-up
            times = []
            hits = 0
            for _ in range(args.runs):
                t = time.perf_counter()
                hits = len(catalogue.search(db, catalogue.SearchFilter(q=q), limit=100))
                times.append((time.perf_counter() - t) * 1000)
            rows.append(
                {
                    "query": q,
                    "chars": len(q),
                    "hits(<=100)": hits,
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(sorted(times)[int(0.95 * len(times)) - 1], 1),
                }
            )
    client = TestClient(create_app(), follow_redirects=False)
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        r = client.get("/market?q=智能排产")
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    page_ms = round(statistics.median(times), 1)

    backend = "postgresql" if os.environ["CHAOYUN_DATABASE_URL"].startswith("postgresql") else "sqlite"
    print(f"backend={backend} offerings={n} (copied in {seed_s:.1f} s)")
    print(f"{'query':<14}{'chars':>6}{'hits':>6}{'median ms':>11}{'p95 ms':>9}")
    for r in rows:
        print(f"{r['query']:<12}{r['chars']:>6}{r['hits(<=100)']:>6}{r['median_ms']:>11}{r['p95_ms']:>9}")
    print(f"/market?q=智能排产 page: median {page_ms} ms")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / f"marketplace_search_{backend}.json").write_text(
        json.dumps(
            {"backend": backend, "offerings": n, "queries": rows, "page_median_ms": page_ms},
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
