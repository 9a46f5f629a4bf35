"""Programme-level jobs inside the server (disabled with CHAOYUN_BACKGROUND=0).

- Monthly outcome snapshots (``chaoyun.programme.outcomes``): every ``OUTCOMES_REFRESH_S`` seconds this month's
  and the previous month's outcomes of every enterprise are computed again by the platform's rules, so the
  policy-effect figures and the common-problem report follow what the factories record. A server that was down
  catches up on its first pass; older months are computed with ``chaoyun outcomes-snapshot --months N``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("chaoyun.programme.background")
Job = Callable[[], Coroutine[Any, Any, None]]
OUTCOMES_REFRESH_S = 6 * 3600
FIRST_DELAY_S = 120  # let the server finish starting (and the simulator write) first


def _refresh_outcomes() -> int:
    from chaoyun.db import get_sessionmaker
    from chaoyun.programme.outcomes.service import refresh_recent

    with get_sessionmaker()() as db:
        return refresh_recent(db)


async def outcome_snapshots() -> None:
    await asyncio.sleep(FIRST_DELAY_S)
    while True:
        try:
            rows = await asyncio.to_thread(_refresh_outcomes)
            log.info("outcome snapshots refreshed: %s rows", rows)
        except Exception:  # a failing pass must not end the loop; the next one retries
            log.exception("outcome snapshots failed")
        await asyncio.sleep(OUTCOMES_REFRESH_S)


def tasks() -> list[Job]:
    return [outcome_snapshots]
