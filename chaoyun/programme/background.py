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
    """One pass, by one process of the machine at a time (``chaoyun serve --workers N`` starts N of these
    loops; the others skip while one holds the lock). Then the effect figures of the exports and the public page
    are computed once, so the first visitor does not wait for them."""
    import fcntl

    from chaoyun.db import get_sessionmaker
    from chaoyun.programme.effect import exports
    from chaoyun.programme.outcomes.service import refresh_recent
    from chaoyun.settings import get_settings

    folder = get_settings().var_dir
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "outcome-snapshots.lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        with get_sessionmaker()() as db:
            rows = refresh_recent(db)
            exports.results(db)
        return rows


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
