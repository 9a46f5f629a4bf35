"""Industry common-problem report with 5,000 enterprises: compute time, page, API, PDF and Excel.

    .venv/bin/python benchmarks/programme_report.py [--enterprises 5000] [--months 36] [--url postgresql+psycopg://...]

Seeds a fresh database (SQLite under a temporary folder, or the given URL) with the identity demo cluster, then
*bulk-inserts* rows that the real flows would write: one completed diagnosis per enterprise (a third with an
earlier one too), scored by the real questionnaire rules (``questionnaire.score``); ``--months`` of monthly
platform outcomes per enterprise (six outcomes, ``programme_outcome_snapshots``); 200 published offerings of
pool providers. The answers and outcomes are drawn, not simulated: this measures the report's query path, not
the data. Goal: page and API under 1 s. Figures are printed and written to benchmarks/out/programme_report.json.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any


def seed(db: Any, months: int) -> dict[str, int]:
    from sqlalchemy import insert, select

    from chaoyun.identity.models import Organisation, ProviderProfile
    from chaoyun.marketplace.models import Admission, Offering
    from chaoyun.programme.demo import plausible_answers
    from chaoyun.programme.models import Diagnosis
    from chaoyun.programme.outcomes.models import OutcomeSnapshot
    from chaoyun.programme.outcomes.service import OUTCOMES, add_months, month_start
    from chaoyun.programme.pack import get_pack
    from chaoyun.programme.questionnaire import get_questionnaire, score

    q = get_questionnaire(get_pack().diagnosis.questionnaire)
    orgs = list(
        db.execute(select(Organisation.id).where(Organisation.kind == "enterprise").order_by(Organisation.id)).scalars()
    )
    rng = random.Random("chaoyun-bench-report")
    diagnoses: list[dict[str, Any]] = []
    for org_id in orgs:
        strength = rng.random() * 0.8
        for k, year in enumerate((2019, 2020) if rng.random() < 0.33 else (2020,)):
            ans = plausible_answers(rng, min(1.0, strength + 0.15 * k))
            res = score(q, ans)
            at = datetime(year, 6, 15, tzinfo=UTC)
            diagnoses.append(
                {
                    "org_id": org_id,
                    "questionnaire": q.key,
                    "status": "completed",
                    "answers": ans,
                    "evidenced": {},
                    "score": res.total,
                    "level": res.level,
                    "scene_levels": res.scenes,
                    "group_scores": {g: str(v) for g, v in res.groups.items()},
                    "expert_summary": "",
                    "year": year,
                    "created_at": at,
                    "submitted_at": at,
                    "completed_at": at,
                }
            )
    for i in range(0, len(diagnoses), 2000):
        db.execute(insert(Diagnosis), diagnoses[i : i + 2000])
    db.commit()
    last = month_start(date.today())
    first = add_months(last, -(months - 1))
    now = datetime.now(UTC)
    n_out = 0
    batch: list[dict[str, Any]] = []
    for org_id in orgs:
        base = {
            "oee": 45 + rng.random() * 35,
            "quality_rate": 90 + rng.random() * 9.5,
            "energy_per_unit": 0.2 + rng.random(),
        }
        devices = rng.randint(0, 40)
        for m in range(months):
            month = add_months(first, m)
            values = {
                "digital_level": float(rng.randint(0, 4)),
                "adoption_stars": float(rng.randint(3, 5)),
                "oee": base["oee"] + rng.gauss(0, 2),
                "quality_rate": min(100.0, base["quality_rate"] + rng.gauss(0, 0.5)),
                "energy_per_unit": base["energy_per_unit"] * (1 + rng.gauss(0, 0.03)),
                "devices_connected": float(devices),
            }
            for k in OUTCOMES:
                batch.append({"org_id": org_id, "month": month, "outcome": k, "value": values[k], "computed_at": now})
        if len(batch) >= 20000:
            db.execute(insert(OutcomeSnapshot), batch)
            n_out += len(batch)
            batch = []
    if batch:
        db.execute(insert(OutcomeSnapshot), batch)
        n_out += len(batch)
    db.commit()
    cats = ["iiot", "edge", "next_gen_network", "big_data", "solutions", "security", "consulting", "training", "ai"]
    for p in range(20):
        prov = Organisation(kind="provider", name=f"基准测试服务商{p:02d}有限公司", status="active")
        prov.provider = ProviderProfile(provider_type="service", service_categories=cats)
        db.add(prov)
        db.flush()
        db.add(Admission(org_id=prov.id, provider_type="service", categories=cats, status="admitted"))
        for k in range(10):
            db.add(
                Offering(
                    org_id=prov.id,
                    name=f"基准服务{p:02d}-{k}",
                    category=cats[(p + k) % len(cats)],
                    summary="基准",
                    search_text="基准",
                    status="published",
                )
            )
    db.commit()
    return {"enterprises": len(orgs), "diagnoses": len(diagnoses), "outcome_rows": n_out, "offerings": 200}


def _timed(fn: Any, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 1), round(max(times), 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=5000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--url", default="")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-report-"))
    atexit.register(shutil.rmtree, tmp, True)  # the database is ~400 MB: never leave it behind
    os.environ["CHAOYUN_DATABASE_URL"] = args.url or f"sqlite:///{tmp / 'bench.db'}"
    os.environ["CHAOYUN_VAR_DIR"] = str(tmp / "var")
    os.environ.setdefault("CHAOYUN_SECRET_KEY", "bench")
    os.environ["CHAOYUN_BACKGROUND"] = "0"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from chaoyun import migrate
    from chaoyun.db import get_sessionmaker
    from chaoyun.identity import demo
    from chaoyun.programme.commonproblems import pdf, service
    from chaoyun.programme.outcomes import service as outcomes
    from chaoyun.programme.outcomes.models import OutcomeSnapshot
    from chaoyun.web.app import create_app

    t0 = time.perf_counter()
    migrate.upgrade()
    with get_sessionmaker()() as db:
        demo.seed(db, enterprises=args.enterprises)
        made = seed(db, args.months)
    seed_s = time.perf_counter() - t0

    result: dict[str, Any] = {"database": os.environ["CHAOYUN_DATABASE_URL"].split(":")[0], **made}
    result["seed_s"] = round(seed_s, 1)
    city_wide = service.Filters()
    one = service.Filters(cluster="toys")
    with get_sessionmaker()() as db:
        service.build(db, city_wide)  # warm-up
        rep = service.build(db, city_wide)
        result["shown_enterprises"] = rep.n
        ids = [m.org_id for m in service.population(db, city_wide)]
        result["population_cold_ms"] = _timed(lambda: (service.forget(), service.population(db, city_wide)), 3)
        result["population_ms"] = _timed(lambda: service.population(db, city_wide), args.runs)
        result["outcomes_latest_ms"] = _timed(lambda: outcomes.latest(db, ids), args.runs)
        result["compute_city_ms"] = _timed(lambda: service.build(db, city_wide), args.runs)
        plat = outcomes.latest(db)
        result["compute_city_platform_cached_ms"] = _timed(
            lambda: service.build(db, city_wide, offerings=False, platform=plat), args.runs
        )
        result["data_version_ms"] = _timed(lambda: service.data_version(db), args.runs)
        result["compute_toys_ms"] = _timed(lambda: service.build(db, one), args.runs)
        result["pdf_ms"] = _timed(lambda: pdf.report_pdf(service.build(db, city_wide)), 3)
        result["xlsx_ms"] = _timed(lambda: pdf.report_xlsx(service.build(db, city_wide)), 3)

    app = create_app()

    def client(username: str) -> TestClient:
        c = TestClient(app, follow_redirects=False)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        c.post("/login", data={"username": username, "password": f"{username}-demo-2018", "csrf_token": csrf})
        return c

    city = client("city")
    officer = client("chenghai")

    def get(c: TestClient, url: str) -> None:
        r = c.get(url)
        assert r.status_code == 200, (url, r.status_code)

    def cold(url: str, platform: bool) -> None:
        service.forget(platform=platform, scores=platform)
        get(city, url)

    # Cold: nothing cached (first request after a start). After a new diagnosis: the platform outcomes and the
    # earlier diagnoses' scores stay cached (completed diagnoses never change), the report is computed again.
    result["page_city_cold_ms"] = _timed(lambda: cold("/programme/common-problems", True), 3)
    result["page_city_new_diagnosis_ms"] = _timed(lambda: cold("/programme/common-problems", False), args.runs)
    result["api_city_new_diagnosis_ms"] = _timed(lambda: cold("/api/v1/programme/common-problems", False), args.runs)

    def after_refresh(url: str) -> None:
        # The outcome refresh rewrites rows: one rewritten row raises the snapshot version.
        with get_sessionmaker()() as s:
            row = s.execute(select(OutcomeSnapshot).order_by(OutcomeSnapshot.id.desc()).limit(1)).scalar_one()
            data = {c: getattr(row, c) for c in ("org_id", "month", "outcome", "value", "computed_at")}
            s.delete(row)
            s.flush()
            s.add(OutcomeSnapshot(**data))
            s.commit()
        service.settle()
        t = time.perf_counter()
        get(city, url)
        times.append((time.perf_counter() - t) * 1000)

    times: list[float] = []
    for _ in range(3):
        after_refresh("/programme/common-problems")
    result["page_city_after_outcome_refresh_ms"] = (round(statistics.median(times), 1), round(max(times), 1))
    service.settle()
    get(city, "/programme/common-problems")
    result["page_city_ms"] = _timed(lambda: get(city, "/programme/common-problems"), args.runs)
    result["page_toys_ms"] = _timed(lambda: get(city, "/programme/common-problems?cluster=toys"), args.runs)
    result["page_district_officer_ms"] = _timed(lambda: get(officer, "/programme/common-problems"), args.runs)
    result["api_city_ms"] = _timed(lambda: get(city, "/api/v1/programme/common-problems"), args.runs)
    result["api_toys_2020_ms"] = _timed(
        lambda: get(city, "/api/v1/programme/common-problems?cluster=toys&year=2020"), args.runs
    )
    # Warm rows above: the report cached (same data version), offerings attached per request.
    print(f"{'measure (median, max ms)':<32}{'value':>20}")
    for k, v in result.items():
        print(f"{k:<32}{v!s:>20}")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "programme_report.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
