"""Scheduled reports inside the server (disabled with CHAOYUN_BACKGROUND=0): every
CHAOYUN_REPORTS_CHECK_S seconds (default 900) the job generates the reports that are due and missing —
yesterday's daily report and last week's weekly report for every enterprise with devices — so a server
that was down catches up when it starts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from chaoyun.apps.maintenance.background import maintenance_check
from chaoyun.apps.maintenance.predict.jobs import score_loop as predict_score_loop
from chaoyun.settings import env

log = logging.getLogger("chaoyun.apps.background")
Job = Callable[[], Coroutine[Any, Any, None]]


def _once() -> int:
    from chaoyun.apps.reports.service import run_due
    from chaoyun.db import get_sessionmaker

    with get_sessionmaker()() as db:
        return run_due(db)


async def scheduled_reports() -> None:
    every = float(env("REPORTS_CHECK_S"))
    await asyncio.sleep(30)  # let the server finish starting first
    while True:
        try:
            made = await asyncio.to_thread(_once)
            if made:
                log.info("generated %s scheduled reports", made)
        except Exception:  # a failing pass must not end the loop; the next one retries
            log.exception("scheduled reports failed")
        await asyncio.sleep(every)


def tasks() -> list[Job]:
    return [scheduled_reports, maintenance_check, predict_score_loop]
