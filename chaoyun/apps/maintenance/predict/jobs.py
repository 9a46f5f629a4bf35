"""Background scoring: every ``CHAOYUN_PREDICT_SCORE_S`` seconds (default 60) each monitored machine's new
complete windows of telemetry are scored (``service.run_pass``), in a worker thread so the event loop stays free."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timedelta
from typing import Any

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


def seed_demo(db: Any, now: datetime | None = None) -> dict[str, Any]:
    """The demo: monitor the demo firm's degrading machine(s) (``chaoyun.simulator.degrading``) from their first
    simulated value and score their whole history with the real rules — baseline, anomaly alarm, health-index RUL,
    predictive order. Returns what it found."""
    from sqlalchemy import select

    from chaoyun.apps.maintenance.predict import service
    from chaoyun.apps.maintenance.predict.models import DeviceHealth
    from chaoyun.db import utcnow
    from chaoyun.devices.models import Device
    from chaoyun.devices.store import get_store
    from chaoyun.simulator import degrading

    now = now or utcnow()
    store = get_store()
    devices = [d for d in db.execute(select(Device).where(Device.uid.like(f"%{degrading.SUFFIX}"))).scalars()]
    out: dict[str, Any] = {"machines": 0, "windows": 0, "alarms": 0, "orders": 0}
    for d in devices:
        first = store.raw(d.id, "vibration", now - timedelta(days=60), now, limit=1)
        if not first or db.get(DeviceHealth, d.id) is not None:
            continue
        service.enable(db, d, first[0][0])
        db.commit()
        for _ in range(20):  # MAX_WINDOWS_PER_PASS windows a pass: a few passes cover weeks
            n = service.score_device(db, d, now)
            db.commit()
            out["windows"] += n
            if not n:
                break
        h = db.get(DeviceHealth, d.id)
        out["machines"] += 1
        out["alarms"] += int(bool(h and h.alarm_id))
        out["orders"] += int(bool(h and h.order_id))
    return out
