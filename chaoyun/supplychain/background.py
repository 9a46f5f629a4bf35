"""Supply-chain progress inside the server (off with CHAOYUN_BACKGROUND=0): every CHECK_S seconds the progress of
confirmed order lines is read again from the suppliers' work orders and counters (``progress.refresh``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from chaoyun.db import get_sessionmaker

log = logging.getLogger("chaoyun.supplychain")
CHECK_S = 300.0


def refresh_once() -> int:
    from chaoyun.supplychain import progress

    with get_sessionmaker()() as db:
        return progress.refresh(db)


async def progress_loop() -> None:
    await asyncio.sleep(60)
    while True:
        try:
            await asyncio.to_thread(refresh_once)
        except Exception:  # a failing pass must not end the loop; the next one retries
            log.exception("supply-chain progress refresh failed")
        await asyncio.sleep(CHECK_S)


def tasks() -> list[Callable[[], Coroutine[Any, Any, None]]]:
    return [progress_loop]
