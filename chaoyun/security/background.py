"""The security context's job inside the server (off with CHAOYUN_BACKGROUND=0): every CHECK_S seconds, overdue
findings of the inspection escalate — to the district once past their deadline, to the city CITY_AFTER_DAYS later
(``service.escalate_overdue``). The security pages run the same check when they load, so a server started after a
pause catches up at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from chaoyun.db import get_sessionmaker

log = logging.getLogger("chaoyun.security")
CHECK_S = 3600.0
Job = Callable[[], Coroutine[Any, Any, None]]


def check_once() -> tuple[int, int]:
    from chaoyun.security import service

    with get_sessionmaker()() as db:
        return service.escalate_overdue(db)


async def escalation_check() -> None:
    await asyncio.sleep(40)  # let the server finish starting first
    while True:
        try:
            to_district, to_city = await asyncio.to_thread(check_once)
            if to_district or to_city:
                log.info("security: %s findings escalated to the district, %s to the city", to_district, to_city)
        except Exception:  # a failing pass must not end the loop; the next one retries
            log.exception("security escalation check failed")
        await asyncio.sleep(CHECK_S)


def tasks() -> list[Job]:
    return [escalation_check]
