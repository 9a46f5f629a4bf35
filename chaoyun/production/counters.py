"""Good and reject quantities from a machine's own counters (the metrics its model marks with the roles
``good_count`` / ``reject_count``), read from the devices context's telemetry store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from chaoyun.devices.models import Device
from chaoyun.devices.store import get_store

# How far before a window to look for the counter's value at its start (counters may report only on change).
LOOKBACK = timedelta(hours=12)


def counter_keys(device: Device) -> dict[str, str]:
    """Metric key by role, for the counting roles this machine's model has."""
    return {m.role: m.key for m in device.model.metrics if m.role in ("good_count", "reject_count")}


def has_counters(device: Device) -> bool:
    return "good_count" in counter_keys(device)


def increase(device_id: int, metric: str, windows: Sequence[tuple[datetime, datetime]]) -> int | None:
    """How much a monotonic counter rose within the windows; None when it reported nothing there.

    The value in force at a window's start is the last sample before it (within LOOKBACK), so pieces counted
    right at the start are not lost; a drop means the counter was reset, and the new value is what was counted
    since (the OEE app reads counters the same way).
    """
    store = get_store()
    total = 0.0
    seen = False
    for start, end in windows:
        before = store.raw(device_id, metric, start - LOOKBACK, start, limit=1_000_000)
        inside = store.raw(device_id, metric, start, end, limit=1_000_000)
        values = [v for _t, v, _x in inside if v is not None]
        if not values:
            continue
        seen = True
        prev_values = [v for _t, v, _x in before if v is not None]
        prev = prev_values[-1] if prev_values else values[0]
        for v in values:
            total += v - prev if v >= prev else v
            prev = v
    return round(total) if seen else None


def counted(device: Device, windows: Sequence[tuple[datetime, datetime]]) -> tuple[int, int] | None:
    """(good, reject) counted by the machine in the windows, or None without counters or without data."""
    keys = counter_keys(device)
    if "good_count" not in keys:
        return None
    good = increase(device.id, keys["good_count"], windows)
    if good is None:
        return None
    reject = increase(device.id, keys["reject_count"], windows) if "reject_count" in keys else None
    return good, reject or 0
