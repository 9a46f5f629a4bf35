"""Runs the demo enterprises' virtual machines and publishes their telemetry.

Transports:
- ``inprocess``: straight into ``chaoyun.devices.ingest.ingest_batch`` (what the server does with
  ``CHAOYUN_SIMULATE=1``; no broker needed),
- ``http``: ``POST /api/v1/telemetry`` with each device's access token,
- ``mqtt``: publish to ``chaoyun/v1/devices/{uid}/telemetry`` (QoS 1) with username = uid and the device's
  MQTT password; payload = the same JSON as HTTP.

Demo devices' credentials derive from the server's secret key (``devices.credentials.demo_secret``), so
the simulator needs the same ``CHAOYUN_SECRET_KEY`` (or ``var/secret_key``) as the platform.

Write-back: over MQTT each virtual machine subscribes to its ``chaoyun/v1/devices/{uid}/commands`` topic, applies
the setpoint (``Machine.set_setpoint``: the process then follows it) and answers on ``.../commands/result`` as the
edge gateway does (``{"id", "status": "succeeded" | "failed", "message"}``), then reports the new setpoint as
telemetry at once. In process, the machines pick up their devices' open commands from the database each tick and
record the results directly. Over HTTP there is no command channel.
"""

from __future__ import annotations

import contextlib
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

from chaoyun.devices.connectors import commands
from chaoyun.devices.connectors.models import Command
from chaoyun.devices.credentials import demo_secret
from chaoyun.devices.demo import DEMO_PREFIX
from chaoyun.devices.models import Device
from chaoyun.devices.store import to_ms
from chaoyun.settings import get_settings
from chaoyun.simulator import degrading
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
        if degrading.is_degrading(d.uid):
            machine.degrade_from = degrading.onset_from_store(store, d.id, datetime.now(UTC))
        out.append(SimDevice(d.id, d.uid, machine))
    return out


def device_orgs(db: Session, device_ids: list[int]) -> list[int]:
    """The enterprises the given devices belong to."""
    if not device_ids:
        return []
    return [int(o) for o in db.execute(select(Device.org_id).where(Device.id.in_(device_ids)).distinct()).scalars()]


def resume(machine: Machine, last: dict[str, float]) -> None:
    """Counters carry on from what the platform last stored, so a restart never makes them go back; setpoints
    keep the value last written back."""
    for key in machine.setpoints:
        if isinstance(last.get(key), int | float):
            with contextlib.suppress(ValueError):
                machine.set_setpoint(key, last[key])
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


def execute_command(machine: Machine, cmd: Any) -> dict[str, Any]:
    """A write-back command (``{"id", "metric", "value", "expires_at"}``) applied to a machine; the result
    document a gateway would report."""
    cid = cmd.get("id") if isinstance(cmd, dict) else None
    try:
        if not isinstance(cmd, dict):
            raise ValueError("malformed command")
        expires = cmd.get("expires_at")
        if isinstance(expires, int | float) and time.time() * 1000 > expires:
            raise ValueError("the command expired before it reached the machine")
        machine.set_setpoint(str(cmd.get("metric")), cmd.get("value"))
    except ValueError as exc:
        return {"id": cid, "status": "failed", "message": str(exc)[:300]}
    return {"id": cid, "status": "succeeded", "message": ""}


class InProcess:
    def __init__(self) -> None:
        from chaoyun.db import get_sessionmaker

        self.sessions = get_sessionmaker()
        self.commands_applied = 0

    def poll_commands(self, devs: list[SimDevice]) -> None:
        """Open write-back commands of the simulated devices (no broker in between): apply, record the result.
        Called by ``run`` before each step, so the step already reports the new setpoint."""
        sims = {s.id: s for s in devs}
        with self.sessions() as db:
            open_cmds = db.execute(
                select(Command).where(Command.status.in_(("pending", "sent"))).order_by(Command.id)
            ).scalars().all()
            results = [
                (sims[c.device_id].uid,
                 execute_command(sims[c.device_id].machine, {"id": c.id, "metric": c.metric, "value": c.value}))
                for c in open_cmds
                if c.device_id in sims
            ]
            if results:
                self.commands_applied += commands.apply_results(db, results)
                db.commit()

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
    """One MQTT connection per device (as real devices do), each with its own credentials; each subscribes to its
    device's commands topic and answers write-back commands."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.key = get_settings().secret_key
        self.clients: dict[str, Any] = {}
        self.commands_applied = 0
        self.commands_failed = 0

    def _client(self, dev: SimDevice) -> Any:
        import paho.mqtt.client as mqtt

        from chaoyun.devices.connectors import topics

        uid = dev.uid
        c = self.clients.get(uid)
        if c is None:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{uid}", clean_session=True)  # type: ignore[attr-defined]
            c.username_pw_set(uid, demo_secret(self.key, uid, "mqtt"))

            def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
                if not reason.is_failure:  # (re)subscribe on every connect: the session is clean
                    client.subscribe(topics.commands(uid), qos=1)

            c.on_connect = on_connect
            c.on_message = lambda client, userdata, msg: self._on_command(client, dev, bytes(msg.payload))
            c.connect(self.host, self.port, keepalive=60)
            c.loop_start()
            self.clients[uid] = c
        return c

    def _on_command(self, client: Any, dev: SimDevice, payload: bytes) -> None:
        """In paho's thread: apply the setpoint, report the result, then the new setpoint as telemetry."""
        from chaoyun.devices.connectors import topics

        try:
            cmd = json.loads(payload)
        except ValueError:
            cmd = None
        result = execute_command(dev.machine, cmd)
        log.info("command %s on %s: %s %s", result["id"], dev.uid, result["status"], result["message"])
        client.publish(topics.command_result(dev.uid), json.dumps(result), qos=1)
        if result["status"] == "succeeded":
            self.commands_applied += 1
            key = str(cmd["metric"])
            point = {"ts": to_ms(datetime.now(UTC)), "values": {key: dev.machine.setpoints[key]}}
            client.publish(topics.telemetry(dev.uid), json.dumps(point), qos=1)
        else:
            self.commands_failed += 1

    def send(self, batch: list[tuple[SimDevice, Any]]) -> int:
        from chaoyun.devices.connectors import topics

        n = 0
        for dev, payload in batch:
            try:
                info = self._client(dev).publish(topics.telemetry(dev.uid), json.dumps(payload), qos=1)
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


def backfill(
    transport: Transport,
    devs: list[SimDevice],
    hours: float,
    step_s: float,
    now: datetime,
    on_chunk: Callable[[float], None] | None = None,
) -> int:
    """History for the charts: ``hours`` of past values at ``step_s`` spacing, sent in batches.
    ``on_chunk(share_done)`` is called after each batch (a progress bar)."""
    start = t = now - timedelta(hours=hours)
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
        if on_chunk is not None:
            on_chunk(min(1.0, (t - start) / (now - start)))
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
            if isinstance(transport, InProcess):
                transport.poll_commands(devs)
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
