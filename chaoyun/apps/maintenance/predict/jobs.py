"""Background scoring: every ``CHAOYUN_PREDICT_SCORE_S`` seconds (default 60) each monitored machine's new
complete windows of telemetry are scored (``service.run_pass``), in a worker thread so the event loop stays free."""

from __future__ import annotations

import asyncio
import logging
import os

log = logging.getLogger("chaoyun.apps.maintenance.predict")


def _once() -> int:
    from chaoyun.apps.maintenance.predict import service
    from chaoyun.db import get_sessionmaker

    with get_sessionmaker()() as db:
        return service.run_pass(db)


async def score_loop() -> None:
    every = float(os.environ.get("CHAOYUN_PREDICT_SCORE_S", "60"))
    await asyncio.sleep(20)  # let the server finish starting first
    while True:
        try:
            n = await asyncio.to_thread(_once)
            if n:
                log.info("scored %s health windows", n)
        except Exception:  # a failing pass must not end the loop; the next one retries
            log.exception("health scoring failed")
        await asyncio.sleep(every)
