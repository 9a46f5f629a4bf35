"""Condition monitoring on a real database and the real ingest path: a machine's telemetry (healthy, then its
vibration and oil temperature drift) is fed through the devices ingest; the baseline is fitted and registered,
the drift is flagged and the healthy part is not, the alarm names the deviating signals with their σ, the RUL
falls, and a predictive maintenance order is opened once (idempotent on repeated passes)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance.models import MaintOrder
from chaoyun.apps.maintenance.predict import service
from chaoyun.apps.maintenance.predict.models import DeviceHealth, HealthPoint, PredictModel
from chaoyun.db import utcnow
from chaoyun.devices.models import Alarm
from tests.apps.helpers import feed
from tests.apps.maintenance.helpers import shop

STEP_S = 120


def _series(
    start: datetime, hours: float, drift_from_h: float, seed: int = 1, rate: float = 1.0
) -> list[tuple[datetime, dict[str, object]]]:
    rng = random.Random(seed)
    out = []
    for i in range(int(hours * 3600 / STEP_S)):
        h = i * STEP_S / 3600
        d = rate * max(0.0, h - drift_from_h)  # hours into the drift (times its rate)
        out.append(
            (
                start + timedelta(seconds=i * STEP_S),
                {
                    "state": "running",
                    "vibration": round(2.4 + rng.gauss(0, 0.25) + 0.12 * d, 3),
                    "oil_temp": round(45 + rng.gauss(0, 0.4) + 0.2 * d, 3),
                    "barrel_temp": round(220 + rng.gauss(0, 1.2), 3),
                    "mould_temp": round(60 + rng.gauss(0, 0.8), 3),
                },
            )
        )
    return out


def test_drift_is_flagged_alarmed_and_ordered_once(db: Session) -> None:
    s = shop(db, "预测测试厂")
    now = utcnow().replace(second=0, microsecond=0)
    start = now - timedelta(hours=60)
    pts = _series(start, 60, drift_from_h=36)
    for k in range(0, len(pts), 500):
        feed(db, s.im1, pts[k : k + 500], pts[min(k + 499, len(pts) - 1)][0])
    service.enable(db, s.im1, start)
    db.commit()
    n = service.run_pass(db, s.org.id, now)
    assert n > 150
    model = db.execute(
        select(PredictModel).where(PredictModel.device_id == s.im1.id, PredictModel.kind == "anomaly")
    ).scalar_one()
    assert model.version == 1 and model.training["windows"] >= 100 and "running" in model.training["states"]
    pts_db = service.history(db, s.im1.id, start, now)
    healthy = [p for p in pts_db if p.score is not None and p.ts < start + timedelta(hours=36)]
    drifted = [p for p in pts_db if p.score is not None and p.ts > start + timedelta(hours=52)]
    assert healthy and drifted
    # The healthy part is not flagged (no window beyond the threshold), the late drift is, by vibration / oil temp.
    assert max(p.score for p in healthy) < 4.0
    assert min(p.score for p in drifted) > 4.0
    assert max(drifted[-1].signals, key=lambda k: drifted[-1].signals[k]) in ("vibration", "oil_temp")
    h = db.get(DeviceHealth, s.im1.id)
    assert h is not None and h.anomalous and h.alarm_id
    alarm = db.get(Alarm, h.alarm_id)
    assert alarm is not None and alarm.device_id == s.im1.id and alarm.status == "active"
    sig = alarm.details["signals"]
    assert max(sig.values()) > 4 and sig["vibration"] > 2 and sig["oil_temp"] > 2 and abs(sig["barrel_temp"]) < 3
    # The message names the deviating signals in Chinese with their size: "油温 +4.6σ, 振动速度 +3.5σ".
    assert "振动" in alarm.message and "油温" in alarm.message and "σ" in alarm.message and "料筒" not in alarm.message
    # The alarm came when the drift was a few σ in, not at its start and not never: detection delay in hours.
    delay_h = (alarm.started_at - (start + timedelta(hours=36))).total_seconds() / 3600
    assert 2 < delay_h < 20, delay_h
    # RUL: present, with an interval around it, and falling over the last hours.
    assert h.rul_h is not None and h.rul_lo_h is not None and h.rul_hi_h is not None
    assert h.rul_lo_h <= h.rul_h <= h.rul_hi_h
    ruls = [p.rul_h for p in service.history(db, s.im1.id, start, now) if p.rul_h is not None]
    assert ruls and ruls[-1] <= ruls[0]
    # A predictive order, once, however often the job passes.
    orders = list(
        db.execute(
            select(MaintOrder).where(MaintOrder.device_id == s.im1.id, MaintOrder.kind == "predictive")
        ).scalars()
    )
    assert len(orders) == 1 and h.order_id == orders[0].id
    service.run_pass(db, s.org.id, now + timedelta(minutes=30))
    h2 = db.get(DeviceHealth, s.im1.id)
    assert h2 is not None and h2.alarm_id == alarm.id
    assert (
        len(
            list(
                db.execute(
                    select(MaintOrder).where(MaintOrder.device_id == s.im1.id, MaintOrder.kind == "predictive")
                ).scalars()
            )
        )
        == 1
    )
    assert db.execute(select(HealthPoint).where(HealthPoint.device_id == s.im2.id)).first() is None
