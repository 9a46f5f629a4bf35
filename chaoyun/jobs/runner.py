"""The job runner: huey queues, workers, periodic tasks once per period, claimed jobs with leases.

Transport is `huey <https://huey.readthedocs.io>`_ (pinned in pyproject.toml): an SQLite file under
``CHAOYUN_VAR_DIR`` by default (the web process runs the worker in its own threads: ``make demo`` needs nothing
else), Redis with ``CHAOYUN_JOBS_URL=redis://...`` (web processes only enqueue; ``chaoyun worker`` processes on
any host run the jobs). The platform database is the source of truth on top of it:

- periodic tasks: every worker ticks each second; a compare-and-set on ``job_periodic.last_slot`` lets one
  process per period win, and the winner enqueues the run (once per period across processes and hosts);
- claimed jobs (``jobs`` table): a worker claims a queued job with a compare-and-set, holds a lease that a
  heartbeat renews, reports progress, sees a cancel request; a job whose lease ran out (the worker died) is put
  back in the queue by the reaper and retried; completion is a compare-and-set on (id, attempt), committed in the
  same transaction as the job's own effect when it calls ``ctx.complete(db)``, so it is done once.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Worker as HueyWorker
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun.db import get_sessionmaker, utcnow
from chaoyun.jobs.models import Job, JobEvent, PeriodicSlot
from chaoyun.settings import env, get_settings

log = logging.getLogger("chaoyun.jobs")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

# Job kinds: short name -> "module:function". The function is called as fn(ctx, **args) in a worker.
KINDS: dict[str, str] = {
    "jobs.selftest": "chaoyun.jobs.selftest:count_steps",
    "export": "chaoyun.jobs.exports:run_export",
}


class Cancelled(Exception):
    """Raised inside a job by ``ctx.progress`` once someone asked to cancel it."""


class Lost(Exception):
    """Raised inside a job whose lease another worker took over (this worker was presumed dead)."""


def register_kind(name: str, target: str) -> None:
    """Declare a job kind (``"module:function"``); import-time, by the context that owns the function."""
    KINDS[name] = target


def lease_s() -> float:
    return float(env("JOBS_LEASE_S"))


def production() -> bool:
    return env("JOBS_URL").startswith(("redis://", "rediss://", "unix://"))


def _load(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the queue


def queue() -> Huey:
    return _current()[0]


def _current() -> tuple[Huey, dict[str, Any]]:
    s = get_settings()
    return _queue(env("JOBS_URL"), str(s.var_dir), s.database_url)


@lru_cache(maxsize=8)
def _queue(url: str, var_dir: str, database_url: str) -> tuple[Huey, dict[str, Any]]:
    h: Huey
    if url.startswith(("redis://", "rediss://", "unix://")):
        # One queue per platform database: workers of another installation (or test) on the same Redis never
        # take these jobs.
        name = "chaoyun-" + hashlib.sha1(database_url.encode()).hexdigest()[:10]
        h = RedisHuey(name, url=url, results=False)
    else:
        Path(var_dir).mkdir(parents=True, exist_ok=True)
        h = SqliteHuey("chaoyun", filename=str(Path(var_dir) / "jobs-queue.sqlite"), results=False)
    tasks = {
        "chaoyun.run_job": h.task(name="chaoyun.run_job")(run_job),
        "chaoyun.run_periodic": h.task(name="chaoyun.run_periodic")(run_periodic),
    }
    return h, tasks


def _send(task_name: str, *args: Any) -> None:
    _current()[1][task_name](*args)


# ---------------------------------------------------------------- claimed jobs


def enqueue(
    db: Session,
    kind: str,
    args: dict[str, Any] | None = None,
    *,
    title: str = "",
    user_id: int | None = None,
    org_id: int | None = None,
    max_attempts: int = 3,
) -> Job:
    """Record a job and put it in the queue; returns the row (its id is what pages and the API poll)."""
    job = new_job(db, kind, args, title=title, user_id=user_id, org_id=org_id, max_attempts=max_attempts)
    db.commit()
    send(job.id)
    return job


def new_job(
    db: Session,
    kind: str,
    args: dict[str, Any] | None = None,
    *,
    title: str = "",
    user_id: int | None = None,
    org_id: int | None = None,
    max_attempts: int = 3,
) -> Job:
    """The job's row, flushed in the caller's transaction (with the caller's own rows); after the commit,
    ``send(job.id)`` puts it in the queue. A job never sent is sent by the reaper once its lease runs out."""
    if kind not in KINDS:
        raise KeyError(kind)
    job = Job(
        kind=kind, title=title[:200], args=args or {}, user_id=user_id, org_id=org_id, max_attempts=max_attempts,
        lease_until=utcnow() + timedelta(seconds=2 * lease_s()),  # queued: re-sent if no worker took it by then
    )
    db.add(job)
    db.flush()
    return job


def send(job_id: int) -> None:
    _send("chaoyun.run_job", job_id)


def worker_here() -> bool:
    """Whether a worker runs in this process (else, the caller of ``drain`` runs the jobs itself)."""
    return bool(_live)


def drain(kinds: Iterable[str], timeout: float = 60.0, job_ids: Iterable[int] | None = None) -> bool:
    """Wait until no job of ``kinds`` (or of ``job_ids``) is queued or running; where no worker runs in this
    process (the CLI, the demo's set-up, tests), run the queued ones here, through the same claim as a worker.
    True when none is left."""
    kinds, ids = list(kinds), list(job_ids or ())
    end = time.monotonic() + timeout
    while True:
        with get_sessionmaker()() as db:
            q = select(Job.id, Job.status).where(Job.status.in_(("queued", "running")))
            q = q.where(Job.id.in_(ids)) if ids else q.where(Job.kind.in_(kinds))
            left = list(db.execute(q.order_by(Job.id)).all())
        if not left:
            return True
        if not worker_here():
            for job_id, status in left:
                if status == "queued":
                    run_job(job_id)
        if time.monotonic() > end:
            return False
        time.sleep(0.05)


def request_cancel(db: Session, job: Job) -> Job:
    """A queued job is cancelled at once; a running one stops at its next progress report."""
    now = utcnow()
    db.execute(update(Job).where(Job.id == job.id, Job.status == "queued").values(status="cancelled", finished_at=now))
    db.execute(update(Job).where(Job.id == job.id, Job.status == "running").values(cancel_requested=True))
    db.commit()
    db.refresh(job)
    return job


@dataclass
class JobContext:
    job_id: int
    attempt: int
    args: dict[str, Any]
    _lost: threading.Event = field(default_factory=threading.Event)
    _completed: bool = False

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Store progress (and renew the lease); raises Cancelled when a cancel was asked for, Lost when the
        lease went to another worker."""
        if self._lost.is_set():
            raise Lost()
        values: dict[str, Any] = {"done": done, "lease_until": utcnow() + timedelta(seconds=lease_s())}
        if total is not None:
            values["total"] = total
        if message:
            values["message"] = message[:300]
        with get_sessionmaker()() as db:
            n = db.execute(_mine(self).values(**values)).rowcount  # type: ignore[attr-defined]
            db.commit()
            cancel = db.execute(select(Job.cancel_requested).where(Job.id == self.job_id)).scalar()
        if not n:
            self._lost.set()
            raise Lost()
        if cancel:
            raise Cancelled()

    def complete(self, db: Session, result: dict[str, Any] | None = None) -> None:
        """Mark the job done inside ``db``'s transaction (the caller commits it with its own effect): if another
        worker took the job over meanwhile this raises Lost, and the caller's effect must be rolled back."""
        now = utcnow()
        n = db.execute(
            _mine(self).values(status="done", result=result or {}, finished_at=now, lease_until=None)
        ).rowcount  # type: ignore[attr-defined]
        if not n:
            raise Lost()
        db.execute(update(Job).where(Job.id == self.job_id, Job.total > 0).values(done=Job.total))
        db.add(JobEvent(job_id=self.job_id, attempt=self.attempt, event="done", worker=WORKER_ID, at=now))
        self._completed = True

    @property
    def folder(self) -> Path:
        """Where the job writes its files (the same for every attempt, so a retry overwrites, never adds)."""
        p = get_settings().var_dir / "jobs" / str(self.job_id)
        p.mkdir(parents=True, exist_ok=True)
        return p


def _mine(ctx: JobContext) -> Any:
    return update(Job).where(Job.id == ctx.job_id, Job.attempts == ctx.attempt, Job.status == "running")


def _claim(job_id: int) -> JobContext | None:
    now = utcnow()
    with get_sessionmaker()() as db:
        n = db.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued", Job.cancel_requested.is_(False))
            .values(
                status="running", attempts=Job.attempts + 1, worker=WORKER_ID, started_at=now,
                lease_until=now + timedelta(seconds=lease_s()),
            )
        ).rowcount  # type: ignore[attr-defined]
        if not n:
            db.rollback()
            return None
        job = db.get(Job, job_id)
        assert job is not None
        db.add(JobEvent(job_id=job_id, attempt=job.attempts, event="started", worker=WORKER_ID, at=now))
        db.commit()
        return JobContext(job_id, job.attempts, dict(job.args or {}))


def _heartbeat(ctx: JobContext, stop: threading.Event) -> None:
    every = max(lease_s() / 3, 0.2)
    while not stop.wait(every):
        try:
            with get_sessionmaker()() as db:
                n = db.execute(
                    _mine(ctx).values(lease_until=utcnow() + timedelta(seconds=lease_s()))
                ).rowcount  # type: ignore[attr-defined]
                db.commit()
            if not n:
                ctx._lost.set()
                return
        except Exception:
            log.exception("job %s: heartbeat failed", ctx.job_id)


def _finish(ctx: JobContext, status: str, error: str = "", result: dict[str, Any] | None = None) -> None:
    now = utcnow()
    with get_sessionmaker()() as db:
        values: dict[str, Any] = {"status": status, "error": error[:300], "finished_at": now, "lease_until": None}
        if result is not None:
            values["result"] = result
        if db.execute(_mine(ctx).values(**values)).rowcount:  # type: ignore[attr-defined]
            db.add(JobEvent(job_id=ctx.job_id, attempt=ctx.attempt, event=status, worker=WORKER_ID, at=now))
        db.commit()


def run_job(job_id: int) -> None:
    """The queue's task: claim the job (or leave it to whoever has it) and run it."""
    ctx = _claim(job_id)
    if ctx is None:
        return
    with get_sessionmaker()() as db:
        job = db.get(Job, job_id)
        assert job is not None
        kind, max_attempts = job.kind, job.max_attempts
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(ctx, stop), daemon=True, name=f"job-{job_id}-heartbeat")
    beat.start()
    try:
        result = _load(KINDS[kind])(ctx, **ctx.args)
        if not ctx._completed:
            with get_sessionmaker()() as db:
                ctx.complete(db, result if isinstance(result, dict) else {})
                db.commit()
    except Cancelled:
        _finish(ctx, "cancelled")
    except Lost:
        log.warning("job %s attempt %s: taken over by another worker", job_id, ctx.attempt)
    except Exception as exc:  # the job failed: retried while attempts remain
        log.exception("job %s (%s) failed", job_id, kind)
        if ctx.attempt < max_attempts:
            _requeue(ctx, repr(exc))
        else:
            _finish(ctx, "failed", error=repr(exc))
    finally:
        stop.set()


def _requeue(ctx: JobContext, error: str) -> None:
    now = utcnow()
    with get_sessionmaker()() as db:
        if db.execute(
            _mine(ctx).values(
                status="queued", error=error[:300], worker="", lease_until=now + timedelta(seconds=lease_s())
            )
        ).rowcount:  # type: ignore[attr-defined]
            db.add(JobEvent(job_id=ctx.job_id, attempt=ctx.attempt, event="requeued", worker=WORKER_ID, at=now))
        db.commit()
    send(ctx.job_id)


def reap() -> int:
    """Jobs whose worker died (lease ran out) go back to the queue, or fail after max_attempts; queued jobs
    nobody took (a queue entry lost with a dead worker) are sent again. Returns how many were re-sent."""
    now = utcnow()
    again: list[int] = []
    with get_sessionmaker()() as db:
        dead = list(db.execute(select(Job).where(Job.status == "running", Job.lease_until < now)).scalars())
        for job in dead:
            last = job.attempts >= job.max_attempts
            n = db.execute(
                update(Job).where(Job.id == job.id, Job.attempts == job.attempts, Job.status == "running").values(
                    status="failed" if last else "queued", worker="", finished_at=now if last else None,
                    error="worker lost" if last else job.error,
                    lease_until=None if last else now + timedelta(seconds=2 * lease_s()),
                )
            ).rowcount  # type: ignore[attr-defined]
            if n:
                ev = "failed" if last else "requeued"
                db.add(JobEvent(job_id=job.id, attempt=job.attempts, event=ev, worker=WORKER_ID, at=now))
                if not last:
                    again.append(job.id)
        stale = list(db.execute(select(Job.id).where(Job.status == "queued", Job.lease_until < now)).scalars())
        if stale:
            db.execute(
                update(Job).where(Job.id.in_(stale), Job.status == "queued")
                .values(lease_until=now + timedelta(seconds=2 * lease_s()))
            )
        db.commit()
    for job_id in again + stale:
        send(job_id)
    if again:
        log.warning("jobs of lost workers retried: %s", again)
    return len(again) + len(stale)


# ---------------------------------------------------------------- periodic tasks


_periodic = threading.local()


def current_slot() -> int | None:
    """Inside a periodic task: the period it was started for."""
    return getattr(_periodic, "slot", None)


def run_periodic(name: str, slot: int | None = None) -> None:
    from chaoyun.jobs.schedule import by_name

    entry = by_name().get(name)
    if entry is None:
        return
    _periodic.slot = slot
    try:
        entry.run()
    except Exception:  # the next period runs it again
        log.exception("periodic task %s failed", name)


def try_slot(name: str, slot: int) -> bool:
    """True for the one process (of any host) that starts ``name``'s period ``slot``."""
    now = utcnow()
    with get_sessionmaker()() as db:
        n = db.execute(
            update(PeriodicSlot).where(PeriodicSlot.name == name, PeriodicSlot.last_slot < slot)
            .values(last_slot=slot, runs=PeriodicSlot.runs + 1, worker=WORKER_ID, last_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if n:
            db.commit()
            return True
        db.rollback()
        if db.get(PeriodicSlot, name) is not None:
            return False
        try:
            db.add(PeriodicSlot(name=name, last_slot=slot, runs=1, worker=WORKER_ID, last_at=now))
            db.commit()
            return True
        except IntegrityError:
            db.rollback()
            return False


def tick(started: float, now: float | None = None) -> list[str]:
    """One pass of the scheduler: the periodic tasks whose new period this process won, enqueued."""
    from chaoyun.jobs.schedule import entries

    now = time.time() if now is None else now
    won = []
    for e in entries():
        if now - started < e.first_delay_s:
            continue
        slot = int(now // e.every_s)
        if try_slot(e.name, slot):
            _send("chaoyun.run_periodic", e.name, slot)
            won.append(e.name)
    return won


# ---------------------------------------------------------------- workers


_live: set[int] = set()  # ids of the Runners started in this process


class Runner:
    """A worker: huey worker threads consuming the queue plus the periodic scheduler thread."""

    def __init__(self, threads: int | None = None, *, schedule: bool = True) -> None:
        self.threads = threads or int(env("JOBS_WORKERS"))
        self.schedule = schedule
        self.stop_flag = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        _live.add(id(self))
        h = queue()
        for i in range(self.threads):
            w = HueyWorker(h, self.stop_flag, 0.1, 1.0, 1.15)
            t = threading.Thread(target=self._work, args=(w,), daemon=True, name=f"chaoyun-job-worker-{i + 1}")
            t.start()
            self._threads.append(t)
        if self.schedule:
            t = threading.Thread(target=self._schedule, daemon=True, name="chaoyun-job-scheduler")
            t.start()
            self._threads.append(t)
        log.info("job worker %s: %s threads on %s", WORKER_ID, self.threads, "redis" if production() else "sqlite")

    def _work(self, w: HueyWorker) -> None:
        w.initialize()
        while not self.stop_flag.is_set():
            try:
                w.loop()
            except Exception:
                log.exception("job worker loop failed")
                time.sleep(1)

    def _schedule(self) -> None:
        started = time.time()
        while not self.stop_flag.is_set():
            try:
                tick(started)
            except Exception:
                log.exception("job scheduler tick failed")
            self.stop_flag.wait(1.0 - time.time() % 1.0 + 0.01)

    def stop(self, timeout: float = 10.0) -> None:
        _live.discard(id(self))
        self.stop_flag.set()
        end = time.time() + timeout
        for t in self._threads:
            t.join(max(end - time.time(), 0))


_in_process: Runner | None = None


Loop = Callable[[], Coroutine[Any, Any, None]]


def in_process(tasks: Iterable[Loop]) -> list[Loop]:
    """For the web process's lifespan: the background tasks that remain per-process services (MQTT ingest, the
    simulator, any not yet moved); with the embedded queue this process also runs a worker."""
    global _in_process
    from chaoyun.jobs.schedule import replaced

    gone = replaced()
    keep = [t for t in tasks if f"{t.__module__}.{t.__qualname__}" not in gone]
    if not production() and _in_process is None:
        _in_process = Runner()
        _in_process.start()
    return keep


def stop_in_process() -> None:
    global _in_process
    if _in_process is not None:
        _in_process.stop()
        _in_process = None


def when(job: Job) -> datetime | None:
    return job.finished_at or job.started_at or job.created_at
