"""Breakdowns → repair jobs: the scheduling context's ``alarm.raised`` subscriber, light enough to run in every
process that raises alarms (web processes and ``chaoyun ingest-worker``; it imports no solver).

A machine counts as down when the alarm's severity is ``critical``, or it is a ``state`` alarm for the states
``fault`` or ``off``. If that machine has operations in the enterprise's published plan that have not ended, a
``scheduling.repair`` job goes on the job runner (``jobs.run_repair`` repairs the plan in a worker; a worker that
dies mid-repair has its job retried, and one proposal per alarm keeps the retry from adding a second).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from chaoyun.apps.scheduling.models import PlanOperation, SchedulePlan
from chaoyun.db import get_sessionmaker, utcnow
from chaoyun.devices import events
from chaoyun.jobs import runner

log = logging.getLogger("chaoyun.apps.scheduling")
DOWN_SEVERITIES = ("critical",)
DOWN_STATES = ("fault", "off")
SOLVE = "scheduling.solve"
REPAIR = "scheduling.repair"
runner.register_kind(SOLVE, "chaoyun.apps.scheduling.jobs:run_solve")
runner.register_kind(REPAIR, "chaoyun.apps.scheduling.jobs:run_repair")


def is_down(severity: str | None, kind: str | None, state: str | None) -> bool:
    return severity in DOWN_SEVERITIES or (kind == "state" and state in DOWN_STATES)


def plan_uses(db: Session, org_id: int, device_id: int, now: datetime) -> SchedulePlan | None:
    """The published plan, when it has operations on ``device_id`` that have not ended."""
    plan = db.execute(
        select(SchedulePlan).where(SchedulePlan.org_id == org_id, SchedulePlan.published.is_(True))
    ).scalar_one_or_none()
    if plan is None:
        return None
    used = db.execute(
        select(
            exists().where(
                PlanOperation.plan_id == plan.id, PlanOperation.device_id == device_id, PlanOperation.end > now
            )
        )
    ).scalar()
    return plan if used else None


def on_alarm(**data: Any) -> None:
    """The ``alarm.raised`` subscriber (after the alarm's commit): cheap checks here, the repair as a job."""
    if not is_down(data.get("severity"), data.get("kind"), data.get("state")):
        return
    org_id, device_id = data.get("org_id"), data.get("device_id")
    if not isinstance(org_id, int) or not isinstance(device_id, int):
        return
    start = data.get("started_at")
    try:
        with get_sessionmaker()() as db:
            if plan_uses(db, org_id, device_id, utcnow()) is None:
                return
            runner.enqueue(
                db,
                REPAIR,
                {
                    "org_id": org_id,
                    "device_id": device_id,
                    "alarm_id": data.get("alarm_id"),
                    "started_at": start.isoformat() if isinstance(start, datetime) else None,
                    "message": str(data.get("message") or "")[:300],
                },
                title=f"repair after device {device_id} went down",
                org_id=org_id,
            )
    except Exception:
        log.exception("breakdown check for device %s failed", device_id)


_installed = False


def install() -> None:
    """Subscribe to breakdowns (once per process)."""
    global _installed
    if not _installed:
        events.subscribe("alarm.raised", on_alarm)
        _installed = True
