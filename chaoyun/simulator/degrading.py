"""A degrading machine for the predictive-maintenance demo: the third injection moulding machine of each demo firm
(uid ending ``-inj03``) runs healthy for ``ONSET_DAYS`` after its first simulated value, then a worn bearing and a
failing oil cooler make its vibration and oil temperature drift up linearly, day after day (random repairs do not
fix it). The platform's real rules — baseline, anomaly score, health-index RUL, alarm, predictive order — read
the drift from the telemetry like any other.

The onset is anchored on the machine's first stored value, so a simulator restarted later (the server after
``chaoyun demo --history-days 7``) carries on the same drift instead of starting a healthy machine again."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

SUFFIX = "-inj03"
ONSET_DAYS = 3.0
# Added per day of degradation, while running (idle: a third of it).
RATE_PER_DAY = {"vibration": 0.45, "oil_temp": 1.6}
# The simulator's own slow wear (partly reset by every random repair) is held at this level on a degrading machine,
# so the only trend in its values is the failing component's (a repair that resets wear would look like a recovery).
HELD_WEAR = 0.15


def is_degrading(uid: str) -> bool:
    return uid.endswith(SUFFIX)


def onset_from_store(store: Any, device_id: int, now: datetime) -> datetime | None:
    """The onset for a machine that already has history: ``ONSET_DAYS`` after its first stored vibration value."""
    first = store.raw(device_id, "vibration", now - timedelta(days=60), now, limit=1)
    return first[0][0] + timedelta(days=ONSET_DAYS) if first else None


def apply(machine: Any, now: datetime, out: dict[str, Any]) -> dict[str, Any]:
    """Add the drift to this instant's values (called from ``Machine.step`` for a degrading machine)."""
    machine.wear = HELD_WEAR
    if machine.degrade_from is None:
        machine.degrade_from = now + timedelta(days=ONSET_DAYS)
    days = (now - machine.degrade_from).total_seconds() / 86400
    if days <= 0 or machine.state in ("fault", "off"):
        return out
    share = 1.0 if machine.state == "running" else 0.33
    for key, rate in RATE_PER_DAY.items():
        if isinstance(out.get(key), float):
            out[key] = round(out[key] + rate * days * share, 3)
    return out
