"""The job runner with real parts: worker processes (`chaoyun worker`), the embedded SQLite queue and the real
Redis (127.0.0.1:6379), the platform database of the test (SQLite or PostgreSQL).

- claimed jobs run with progress and can be cancelled;
- periodic tasks run once per period across three worker processes;
- a worker killed with SIGKILL mid-job: the job is retried by another worker and done exactly once;
- webhook deliveries sent by three concurrent passes reach the receiver once each, with an Idempotency-Key;
- every background loop of the contexts is either moved onto the runner or a declared per-process service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from chaoyun.db import get_sessionmaker
from chaoyun.jobs import runner, schedule
from chaoyun.jobs.models import Job, JobEvent

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS, socket_timeout=1).ping())
    except Exception:
        return False


MODES = [
    pytest.param("", id="embedded"),
    pytest.param(REDIS, id="redis", marks=pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")),
]


@pytest.fixture()
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CHAOYUN_JOBS_URL", request.param)
    monkeypatch.setenv("CHAOYUN_JOBS_ONLY", "jobs.reaper")
    yield request.param
    if request.param:  # leave nothing in Redis
        runner.queue().flush()


def _worker(extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **(extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "chaoyun", "worker", "--threads", "2"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _job(job_id: int) -> Job:
    with get_sessionmaker()() as db:
        job = db.get(Job, job_id)
        assert job is not None
        db.expunge(job)
        return job


def _events(job_id: int) -> list[str]:
    with get_sessionmaker()() as db:
        return list(db.execute(select(JobEvent.event).where(JobEvent.job_id == job_id).order_by(JobEvent.id)).scalars())


def _wait(cond: Any, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("mode", MODES, indirect=True)
def test_a_job_runs_with_progress_and_another_is_cancelled(mode: str) -> None:
    with get_sessionmaker()() as db:
        quick = runner.enqueue(db, "jobs.selftest", {"steps": 3, "step_s": 0.05}, title="quick").id
        slow = runner.enqueue(db, "jobs.selftest", {"steps": 200, "step_s": 0.05}, title="slow").id
    w = runner.Runner(2)
    w.start()
    try:
        _wait(lambda: _job(quick).status == "done", 20, "the quick job")
        _wait(lambda: _job(slow).done >= 2, 20, "progress of the slow job")
        with get_sessionmaker()() as db:
            job = db.get(Job, slow)
            assert job is not None and job.status == "running" and job.total == 200
            runner.request_cancel(db, job)
        _wait(lambda: _job(slow).status == "cancelled", 20, "the cancel")
    finally:
        w.stop()
    q = _job(quick)
    assert (q.done, q.total, q.result, q.attempts) == (3, 3, {"steps": 3}, 1)
    assert _events(quick) == ["started", "effect", "done"]
    assert _events(slow) == ["started", "cancelled"]
    assert _job(slow).done < 200


@pytest.mark.parametrize("mode", MODES, indirect=True)
def test_periodic_task_runs_once_per_period_across_three_worker_processes(mode: str) -> None:
    from sqlalchemy import delete

    with get_sessionmaker()() as db:
        db.execute(delete(Job).where(Job.kind == "jobs.tick"))
        db.commit()
    env = {"CHAOYUN_JOBS_ONLY": "jobs.selftest", "CHAOYUN_JOBS_SELFTEST_S": "1"}
    procs = [_worker(env) for _ in range(3)]
    try:
        _wait(lambda: _ticks() >= 2, 60, "the first periodic runs")
        time.sleep(5)
        assert all(p.poll() is None for p in procs), [p.stderr.read() for p in procs if p.stderr and p.poll()]
    finally:
        _stop(procs)
    with get_sessionmaker()() as db:
        slots = [j.args["slot"] for j in db.execute(select(Job).where(Job.kind == "jobs.tick")).scalars()]
        workers = set(db.execute(select(Job.worker).where(Job.kind == "jobs.tick")).scalars())
    # Never two runs of one period; and the periods are run (a tick delayed past a whole second by a loaded
    # machine may skip one: a periodic task is a sweep that the next period catches up on).
    assert len(slots) == len(set(slots)) >= 6
    assert len(slots) >= 0.7 * (max(slots) - min(slots) + 1)
    print(f"{len(slots)} periods, {len(slots)} runs by {len(workers)} of 3 workers")


def _ticks() -> int:
    with get_sessionmaker()() as db:
        return int(db.execute(select(func.count()).select_from(Job).where(Job.kind == "jobs.tick")).scalar_one())


@pytest.mark.parametrize("mode", MODES, indirect=True)
def test_a_worker_killed_mid_job_the_job_is_retried_and_done_exactly_once(mode: str) -> None:
    env = {"CHAOYUN_JOBS_LEASE_S": "2"}
    first = _worker(env)
    procs = [first]
    try:
        with get_sessionmaker()() as db:
            job_id = runner.enqueue(db, "jobs.selftest", {"steps": 30, "step_s": 0.2}).id
        _wait(lambda: _job(job_id).done >= 3, 60, "the first worker's progress")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = _job(job_id).done
        assert _job(job_id).status == "running"  # as the dead worker left it
        procs.append(_worker(env))
        _wait(lambda: _job(job_id).status == "done", 90, "the retry")
    finally:
        _stop(procs)
    job = _job(job_id)
    assert job.attempts == 2 and job.result == {"steps": 30} and killed_at < 30
    assert _events(job_id) == ["started", "requeued", "started", "effect", "done"]


def test_webhook_deliveries_are_claimed_once_with_an_idempotency_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from chaoyun.devices import alarms
    from chaoyun.devices.models import Webhook, WebhookDelivery
    from chaoyun.identity.models import Organisation

    monkeypatch.setenv("CHAOYUN_WEBHOOK_ALLOW_PRIVATE", "1")
    got: list[str] = []
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(0.05)  # a slow receiver widens the window for a double send
            with lock:
                got.append(self.headers.get("Idempotency-Key", ""))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with get_sessionmaker()() as db:
            org = db.execute(select(Organisation).order_by(Organisation.id)).scalars().first()
            assert org is not None
            hook = Webhook(org_id=org.id, name="jobs test", url=f"http://127.0.0.1:{server.server_port}/hook",
                           secret="s" * 32)
            db.add(hook)
            db.flush()
            ids = []
            for i in range(12):
                d = WebhookDelivery(webhook_id=hook.id, event="test", payload={"n": i})
                db.add(d)
                db.flush()
                ids.append(d.id)
            db.commit()

        def one_pass() -> None:
            with get_sessionmaker()() as db:
                alarms.deliver_pending(db)

        passes = [threading.Thread(target=one_pass) for _ in range(3)]
        for t in passes:
            t.start()
        for t in passes:
            t.join(60)
    finally:
        server.shutdown()
    assert sorted(got) == sorted(f"chaoyun-delivery-{i}" for i in ids)  # each once, none twice
    with get_sessionmaker()() as db:
        rows = db.execute(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids))).scalars().all()
        assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


def test_every_background_loop_is_on_the_runner_or_a_declared_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from chaoyun.web.app import background_tasks

    monkeypatch.setenv("CHAOYUN_SIMULATE", "1")
    monkeypatch.setenv("CHAOYUN_MQTT_INGEST", "1")
    monkeypatch.setenv("CHAOYUN_JOBS_URL", "redis://127.0.0.1:6379/0")  # enqueue-only: no worker started here
    names = {f"{t.__module__}.{t.__qualname__}" for t in background_tasks()}
    left = names - schedule.replaced() - schedule.SERVICES
    assert not left, f"background loops neither moved onto chaoyun/jobs/schedule.py nor declared services: {left}"
    kept = runner.in_process(background_tasks())
    assert {f"{t.__module__}.{t.__qualname__}" for t in kept} <= schedule.SERVICES
    names_by_entry = {e.name for e in schedule.entries()}
    assert {"devices.webhooks", "devices.offline", "apps.reports", "programme.outcomes"} <= names_by_entry


def test_a_context_registers_a_job_kind() -> None:
    """``register_kind`` is how a context declares a job: the name resolves to the function it names."""
    from chaoyun.jobs import runner

    runner.register_kind("tests.contract_kind", "chaoyun.jobs.runner:lease_s")
    try:
        assert runner.KINDS["tests.contract_kind"] == "chaoyun.jobs.runner:lease_s"
        assert runner._load(runner.KINDS["tests.contract_kind"]) is runner.lease_s
    finally:
        runner.KINDS.pop("tests.contract_kind", None)
