"""Targets dashboard with 10,000 enterprises: time to compute every target (per year) and to serve the page.

    .venv/bin/python benchmarks/targets.py [--enterprises 10000] [--url postgresql+psycopg://...]

Seeds a fresh SQLite database under a temporary folder (or the given URL) with the identity demo cluster,
then counted cloud adoptions and completed diagnoses for a share of the enterprises (the programme demo).
The goal is under 300 ms for the dashboard.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=10000)
    ap.add_argument("--url", default="")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-targets-"))
    atexit.register(shutil.rmtree, tmp, True)  # never leave the benchmark's database behind
    os.environ["CHAOYUN_DATABASE_URL"] = args.url or f"sqlite:///{tmp / 'bench.db'}"
    os.environ["CHAOYUN_VAR_DIR"] = str(tmp / "var")
    os.environ.setdefault("CHAOYUN_SECRET_KEY", "bench")
    os.environ["CHAOYUN_BACKGROUND"] = "0"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from fastapi.testclient import TestClient

    from chaoyun import migrate
    from chaoyun.db import get_sessionmaker
    from chaoyun.identity import demo
    from chaoyun.programme import dashboard as dash
    from chaoyun.programme import demo as programme_demo
    from chaoyun.web.app import create_app

    t0 = time.perf_counter()
    migrate.upgrade()
    with get_sessionmaker()() as db:
        demo.seed(db, enterprises=args.enterprises)
        made = programme_demo.seed(db)
    seed_s = time.perf_counter() - t0

    times = []
    with get_sessionmaker()() as db:
        rows = dash.dashboard(db)  # warm-up (imports, rule registration)
        for _ in range(args.runs):
            t = time.perf_counter()
            rows = dash.dashboard(db)
            times.append((time.perf_counter() - t) * 1000)
    app = create_app()
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login")
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"username": "city", "password": "city-demo-2018", "csrf_token": csrf, "next": "/"})
    client.get("/programme/targets")
    page_times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        r = client.get("/programme/targets")
        page_times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.status_code
    public_times = []
    anon = TestClient(app)
    for _ in range(args.runs):
        t = time.perf_counter()
        assert anon.get("/public/programme").status_code == 200
        public_times.append((time.perf_counter() - t) * 1000)

    cloud = next(r for r in rows if r.target.key == "cloud_adoption")
    result = {
        "database": os.environ["CHAOYUN_DATABASE_URL"].split(":")[0],
        "enterprises": args.enterprises,
        "adoptions": made["adoptions"],
        "diagnoses": made["diagnoses"],
        "cloud_adoption_2020": cloud.years[2].actual if cloud.years else None,
        "seed_s": round(seed_s, 1),
        "dashboard_compute_ms_median": round(statistics.median(times), 1),
        "dashboard_compute_ms_max": round(max(times), 1),
        "targets_page_ms_median": round(statistics.median(page_times), 1),
        "targets_page_ms_max": round(max(page_times), 1),
        "public_page_ms_median": round(statistics.median(public_times), 1),
    }
    print(f"{'measure':<32}{'value':>14}")
    for k, v in result.items():
        print(f"{k:<32}{v!s:>14}")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "targets.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
