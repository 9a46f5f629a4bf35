"""The maintenance due check inside the server (listed in ``chaoyun/apps/background.py``; off with
CHAOYUN_BACKGROUND=0): every CHECK_S seconds it opens the preventive orders of plans that became due (running
hours and cycles accrued from the telemetry since the last check) and the corrective orders of alarms that no
order took yet (the alarm hook takes live ones at once). Pages of the app run the same check when they load."""

from __future__ import annotations

import asyncio
import logging

from chaoyun.db import get_sessionmaker

log = logging.getLogger("chaoyun.apps.maintenance")
CHECK_S = 900.0


def check_once() -> tuple[int, int]:
    from chaoyun.apps.maintenance import plans, service

    with get_sessionmaker()() as db:
        made = plans.check_due(db)
        taken = service.sweep_alarms(db)
    return len(made), taken


async def maintenance_check() -> None:
    await asyncio.sleep(45)  # let the server finish starting first
    while True:
        try:
            made, taken = await asyncio.to_thread(check_once)
            if made or taken:
                log.info("maintenance: %s orders from due plans, %s from alarms", made, taken)
        except Exception:  # a failing pass must not end the loop; the next one retries
            log.exception("maintenance due check failed")
        await asyncio.sleep(CHECK_S)
