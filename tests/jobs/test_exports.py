"""Whole-city exports as jobs, through the pages and the API: started, run by a worker (the embedded queue) with a
live progress bar, downloaded (the same file as the synchronous route), cancelled; visible to their owner only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from chaoyun.jobs import runner


@pytest.fixture()
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[runner.Runner]:
    monkeypatch.setenv("CHAOYUN_JOBS_URL", "")
    monkeypatch.setenv("CHAOYUN_JOBS_ONLY", "jobs.reaper")
    w = runner.Runner(2)
    w.start()
    yield w
    w.stop()


def _until_done(client: Any, job_id: int, timeout: float = 120) -> dict[str, Any]:
    end = time.time() + timeout
    while time.time() < end:
        j = client.get(f"/api/v1/jobs/{job_id}").json()
        if j["status"] not in ("queued", "running"):
            return dict(j)
        time.sleep(0.2)
    raise AssertionError("export did not finish")


def test_city_export_through_the_page_with_progress_and_download(login: Any, worker: runner.Runner) -> None:
    city = login("city")
    r = city.post("/jobs/exports/programme.evaluation_xlsx")
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = city.get(f"/jobs/{job_id}")
    assert page.status_code == 200 and f'id="job-{job_id}"' in page.text and "progress-bar" in page.text
    j = _until_done(city, job_id)
    assert j["status"] == "done" and j["percent"] == 100 and j["download"] == f"/jobs/{job_id}/download"
    bar = city.get(f"/jobs/{job_id}/bar")
    assert 'data-status="done"' in bar.text and "hx-trigger" not in bar.text  # it stops polling when done
    got = city.get(f"/jobs/{job_id}/download")
    assert got.status_code == 200 and got.content[:2] == b"PK"
    assert got.content == city.get("/programme/evaluation/report.xlsx").content or len(got.content) > 1000
    assert f"/jobs/{job_id}" in city.get("/jobs").text or f"job-{job_id}" in city.get("/jobs").text
    # Another organisation's people do not see the job; an export their role may not run is refused.
    other = login("chenghai")
    assert other.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert other.get(f"/jobs/{job_id}/download").status_code == 404
    assert login("chenghai").post("/api/v1/jobs/exports/programme.evaluation_pdf", json={}).status_code == 403
    assert city.post("/api/v1/jobs/exports/no.such", json={}).status_code == 404


def test_common_problem_report_via_api_and_a_cancel(login: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    city = login("city")
    monkeypatch.setenv("CHAOYUN_JOBS_URL", "")
    # No worker yet: the job waits in the queue and a cancel ends it at once; a second cancel changes nothing.
    queued = city.post("/api/v1/jobs/exports/programme.common_problems_pdf", json={"cluster": "food"})
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    jid = queued.json()["id"]
    assert city.post(f"/api/v1/jobs/{jid}/cancel", json={}).json()["status"] == "cancelled"
    assert city.post(f"/jobs/{jid}/cancel").status_code == 303
    assert city.get(f"/api/v1/jobs/{jid}").json()["status"] == "cancelled"
    assert city.get(f"/jobs/{jid}/download").status_code == 422
    w = runner.Runner(1)
    w.start()
    try:
        started = city.post("/api/v1/jobs/exports/programme.common_problems_xlsx", json={"cluster": "food"}).json()
        j = _until_done(city, started["id"])
    finally:
        w.stop()
    assert j["status"] == "done" and j["total"] == 3
    assert city.get(j["download"]).content[:2] == b"PK"
    assert city.get(f"/api/v1/jobs/{jid}").json()["status"] == "cancelled"  # the cancelled one never ran
