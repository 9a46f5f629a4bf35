"""With ``CHAOYUN_SIMULATE=1`` the server runs the simulator itself, feeding the demo devices through the
in-process ingest function: the demo is alive from the first minute, no broker needed. On start it
backfills ``CHAOYUN_SIMULATE_BACKFILL_HOURS`` (default 2) of history for devices that have none."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from chaoyun.settings import env

log = logging.getLogger("chaoyun.simulator")


def _run(stop: threading.Event) -> None:
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices.store import get_store
    from chaoyun.simulator import runner

    with get_sessionmaker()() as db:
        devs = runner.load_devices(db)
    if not devs:
        log.warning("CHAOYUN_SIMULATE=1 but there are no demo devices (run `chaoyun demo`)")
        return
    transport = runner.InProcess()
    seen = get_store().last_seen([d.id for d in devs])
    fresh = [d for d in devs if d.id not in seen]
    hours = float(env("SIMULATE_BACKFILL_HOURS"))
    if fresh and hours > 0:
        n = runner.backfill(transport, fresh, hours, 60.0, datetime.now(UTC))
        log.info("simulator backfilled %s points for %s devices", n, len(fresh))
    interval = float(env("SIMULATE_INTERVAL_S"))
    runner.run(transport, devs, interval, None, stop)


async def simulate() -> None:
    stop = threading.Event()
    try:
        await asyncio.to_thread(_run, stop)
    finally:
        stop.set()


def tasks() -> list[Callable[[], Coroutine[Any, Any, None]]]:
    return [simulate] if env("SIMULATE") == "1" else []
