"""Long-running jobs of the devices context inside the server (disabled with CHAOYUN_BACKGROUND=0):
the MQTT ingest worker (CHAOYUN_MQTT_INGEST=1), the command janitor (resend pending, expire stale), and the
devices core's periodic tasks (alarms: offline detection, webhooks) where it provides them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from chaoyun.devices import alarms
from chaoyun.devices.connectors.config import mqtt_settings

log = logging.getLogger("chaoyun.devices.background")
Job = Callable[[], Coroutine[Any, Any, None]]


async def mqtt_ingest() -> None:
    from chaoyun.devices.connectors.mqtt_ingest import IngestWorker
    from chaoyun.devices.connectors.sink import PlatformSink

    worker = IngestWorker(PlatformSink())
    try:
        await worker.run()
    finally:
        worker.stop()


async def command_janitor() -> None:
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices.connectors import commands

    def once() -> None:
        with get_sessionmaker()() as db:
            commands.resend_pending(db)
            commands.expire_commands(db)

    while True:
        await asyncio.sleep(10)
        try:
            await asyncio.to_thread(once)
        except Exception:
            log.exception("command janitor failed")


def tasks() -> list[Job]:
    jobs: list[Job] = []
    s = mqtt_settings()
    if s.ingest_in_server:
        jobs.append(mqtt_ingest)
    if s.commands_in_server:
        jobs.append(command_janitor)
    jobs.extend(alarms.periodic_tasks())
    return jobs
