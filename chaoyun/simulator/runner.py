"""Runs the demo enterprises' virtual machines and publishes their telemetry.

Transports:
- ``inprocess``: straight into ``chaoyun.devices.ingest.ingest_batch`` (what the server does with
  ``CHAOYUN_SIMULATE=1``; no broker needed),
- ``http``: ``POST /api/v1/telemetry`` with each device's access token,
- ``mqtt``: publish to ``chaoyun/v1/devices/{uid}/telemetry`` (QoS 1) with username = uid and the device's
  MQTT password; payload = the same JSON as HTTP.

Demo devices' credentials derive from the server's secret key (``devices.credentials.demo_secret``), so
the simulator needs the same ``CHAOYUN_SECRET_KEY`` (or ``var/secret_key``) as the platform.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.credentials import demo_secret
from chaoyun.devices.demo import DEMO_PREFIX
from chaoyun.devices.models import Device
from chaoyun.devices.store import to_ms
from chaoyun.settings import get_settings
from chaoyun.simulator.machines import Machine

log = logging.getLogger("chaoyun.simulator")


@dataclass
class SimDevice:
    id: int
    uid: str
    machine: Machine


def load_devices(db: Session, limit: int | None = None, uid_prefix: str = DEMO_PREFIX) -> list[SimDevice]:
    q = select(Device).where(Device.uid.like(f"{uid_prefix}%"), Device.enabled.is_(True)).order_by(Device.id)
    if limit:
        q = q.limit(limit)
    from chaoyun.devices.store import get_store

    out = []
    store = get_store()
    for d in db.execute(q).scalars():
        metrics = {m.key for m in d.model.metrics}
        machine = Machine(d.uid, d.model.key, d.model.ideal_cycle_s, metrics)
        resume(machine, {k: v.value for k, v in store.latest(d.id).items() if v.value is not None})
        out.append(SimDevice(d.id, d.uid, machine))
    return out


def resume(machine: Machine, last: dict[str, float]) -> None:
    """Counters carry on from what the platform last stored, so a restart never makes them go back."""
    for key, attr in (
        ("cycle_count", "cycles"),
        ("good_count", "good"),
        ("reject_count", "reject"),
        ("energy", "energy"),
        ("run_hours", "run_hours"),
    ):
        if key in last and last[key] > getattr(machine, attr):
            setattr(machine, attr, float(last[key]))


def entries(devs: list[SimDevice], now: datetime, dt: float) -> list[tuple[SimDevice, dict[str, Any]]]:
    ts = to_ms(now)
    return [(d, {"ts": ts, "values": d.machine.step(now, dt)}) for d in devs]


# ---------------------------------------------------------------- transports


class InProcess:
    def __init__(self) -> None:
        from chaoyun.db import get_sessionmaker

        self.sessions = get_sessionmaker()

    def send(self, batch: list[tuple[SimDevice, Any]]) -> int:
        from chaoyun.devices.ingest import ingest_batch

        with self.sessions() as db:
            devices = {
                d.id: d for d in db.execute(select(Device).where(Device.id.in_([s.id for s, _ in batch]))).scalars()
            }
            items = [(devices[s.id], payload) for s, payload in batch if s.id in devices]
            results = ingest_batch(db, items, "simulator")
        return sum(r.accepted for r in results)


class Http:
    def __init__(self, base_url: str) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/telemetry"
        self.key = get_settings().secret_key

    def send(self, batch: list[tuple[SimDevice, Any]]) -> int:
        accepted = 0
        for dev, payload in batch:
            req = urllib.request.Request(
                self.url,
                data=json.dumps(payload).encode(),
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {demo_secret(self.key, dev.uid, 'token')}",
                },
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    accepted += int(json.loads(resp.read()).get("accepted", 0))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.warning("HTTP publish for %s failed: %s", dev.uid, exc)
        return accepted


class Mqtt:
    """One MQTT connection per device (as real devices do), each with its own credentials."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.key = get_settings().secret_key
        self.clients: dict[str, Any] = {}

    def _client(self, uid: str) -> Any:
        import paho.mqtt.client as mqtt

        c = self.clients.get(uid)
        if c is None:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{uid}", clean_session=True)  # type: ignore[attr-defined]
            c.username_pw_set(uid, demo_secret(self.key, uid, "mqtt"))
            c.connect(self.host, self.port, keepalive=60)
            c.loop_start()
            self.clients[uid] = c
        return c

    def send(self, batch: list[tuple[SimDevice, Any]]) -> int:
        from chaoyun.devices.connectors import topics

        n = 0
        for dev, payload in batch:
            try:
                info = self._client(dev.uid).publish(topics.telemetry(dev.uid), json.dumps(payload), qos=1)
            except OSError as exc:
                log.warning("MQTT publish for %s failed: %s", dev.uid, exc)
                continue
            if info.rc == 0:
                n += len(payload.get("values", {}))
        return n

    def close(self) -> None:
        for c in self.clients.values():
            c.loop_stop()
            c.disconnect()


Transport = InProcess | Http | Mqtt


def backfill(transport: Transport, devs: list[SimDevice], hours: float, step_s: float, now: datetime) -> int:
    """History for the charts: ``hours`` of past values at ``step_s`` spacing, sent in batches."""
    t = now - timedelta(hours=hours)
    total = 0
    while t < now:
        batch: list[tuple[SimDevice, Any]] = []
        chunk_end = min(now, t + timedelta(seconds=step_s * 30))
        per_dev: dict[int, list[dict[str, Any]]] = {d.id: [] for d in devs}
        while t < chunk_end:
            for d, entry in entries(devs, t, step_s):
                per_dev[d.id].append(entry)
            t += timedelta(seconds=step_s)
        for d in devs:
            batch.append((d, per_dev[d.id]))
        total += transport.send(batch)
    return total


def run(
    transport: Transport,
    devs: list[SimDevice],
    interval_s: float = 5.0,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    on_tick: Callable[[int], None] | None = None,
) -> int:
    """Publish one message per device every ``interval_s`` until ``duration_s`` passes or ``stop`` is set."""
    stop = stop or threading.Event()
    started = time.monotonic()
    total = 0
    last = datetime.now(UTC)
    while not stop.is_set():
        now = datetime.now(UTC)
        dt = max(0.1, (now - last).total_seconds()) if total else interval_s
        last = now
        try:
            n = transport.send(list(entries(devs, now, dt)))
        except Exception:  # keep simulating through a transient failure (database busy, broker restart)
            log.exception("simulator publish failed")
            n = 0
        total += n
        if on_tick:
            on_tick(n)
        if duration_s is not None and time.monotonic() - started >= duration_s:
            break
        stop.wait(interval_s)
    return total
