"""A job kind for checking a deployment (and for the tests): counts ``steps`` steps of ``step_s`` seconds with
progress, then records its effect in the same transaction as its completion."""

from __future__ import annotations

import time
from typing import Any

from chaoyun.db import get_sessionmaker
from chaoyun.jobs.models import JobEvent
from chaoyun.jobs.runner import WORKER_ID, JobContext


def count_steps(ctx: JobContext, steps: int = 5, step_s: float = 0.2) -> dict[str, Any]:
    for i in range(steps):
        ctx.progress(i, steps, f"{i}/{steps}")
        time.sleep(step_s)
    ctx.progress(steps, steps, f"{steps}/{steps}")
    with get_sessionmaker()() as db:
        db.add(JobEvent(job_id=ctx.job_id, attempt=ctx.attempt, event="effect", worker=WORKER_ID))
        ctx.complete(db, {"steps": steps})
        db.commit()
    return {"steps": steps}
