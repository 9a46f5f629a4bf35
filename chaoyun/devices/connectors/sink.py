"""What the platform's MQTT ingest worker does with a batch: device data through ``ingest_batch`` (one
transaction), command results and gateway status into their tables. Raises when the database is unavailable,
so the worker keeps the batch unacknowledged and retries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.connectors import topics
from chaoyun.devices.connectors.mqtt_ingest import RawMessage

log = logging.getLogger("chaoyun.mqtt.ingest")
CHUNK = 500  # uids per IN (...) query
DEVICE_CACHE_S = 30.0  # a disabled or deleted device stops being accepted within this time


class PlatformSink:
    def __init__(self, sessionmaker: Callable[[], Session] | None = None) -> None:
        if sessionmaker is None:
            from chaoyun.db import get_sessionmaker

            sessionmaker = get_sessionmaker()
        self.sessionmaker = sessionmaker
        self.unknown_devices = 0
        self.malformed = 0
        self.points_accepted = 0
        self.points_rejected = 0
        self._cache: dict[str, Any] = {}
        self._cache_at = 0.0

    def _devices(self, db: Session, uids: set[str]) -> dict[str, Any]:
        """Devices by uid, cached (detached, with their model) for DEVICE_CACHE_S: loading thousands of ORM
        objects per batch would cost as much as storing the batch."""
        from chaoyun.devices.models import Device

        now = time.monotonic()
        if now - self._cache_at > DEVICE_CACHE_S:
            self._cache, self._cache_at = {}, now
        missing = sorted(u for u in uids if u not in self._cache)
        for i in range(0, len(missing), CHUNK):
            part = missing[i : i + CHUNK]
            found = {d.uid: d for d in db.execute(select(Device).where(Device.uid.in_(part))).scalars()}
            for d in found.values():
                db.expunge(d)
            for uid in part:
                self._cache[uid] = found.get(uid)
        return {u: self._cache[u] for u in uids if self._cache.get(u) is not None}

    def __call__(self, messages: list[RawMessage]) -> None:
        from chaoyun.devices.connectors import commands
        from chaoyun.devices.ingest import PayloadError, ingest_batch, log_rejection, parse_payload
        data: list[tuple[str, RawMessage, bool]] = []  # (uid, message, is attributes)
        results: list[tuple[str, Any]] = []
        statuses: list[tuple[str, Any]] = []
        for m in messages:
            uid = topics.telemetry_uid(m.topic)
            if uid is not None:
                data.append((uid, m, False))
                continue
            t = topics.parse(m.topic)
            if t is None:
                gw = topics.parse_gateway(m.topic)
                if gw and gw[1] == "status":
                    statuses.append((gw[0], _loads(m.payload)))
                continue
            if t.kind in ("telemetry", "attributes"):
                data.append((t.uid, m, t.kind == "attributes"))
            elif t.kind == "commands/result":
                results.append((t.uid, _loads(m.payload)))
        with self.sessionmaker() as db:
            devices = self._devices(db, {uid for uid, _m, _a in data})
            items: list[tuple[Any, Any]] = []
            for uid, m, is_attributes in data:
                dev = devices.get(uid)
                if dev is None or not dev.enabled:
                    self.unknown_devices += 1
                    log.warning("MQTT message for unknown or disabled device %r on %s dropped", uid, m.topic)
                    continue
                try:
                    payload = parse_payload(m.payload)
                except PayloadError as exc:
                    self.malformed += 1
                    log.warning("refused message (%s) from %s on %s: %r", exc.code, uid, m.topic, m.payload[:100])
                    sample = m.payload[:300].decode("utf-8", "replace")
                    log_rejection(db, dev, "mqtt", exc.code, sample=sample, **exc.params)
                    continue
                if is_attributes:
                    # Attributes (firmware, serial...) are not telemetry: kept as the device's latest only.
                    commands.record_attributes(db, dev, payload)
                    continue
                items.append((dev, payload))
            if items:
                received = max(m.received_at for _u, m, _a in data) if data else datetime.now(UTC)
                for r in ingest_batch(db, items, "mqtt", received_at=received):
                    self.points_accepted += r.accepted
                    self.points_rejected += r.rejected_count
            if results:
                commands.apply_results(db, results)
            if statuses:
                commands.apply_gateway_status(db, statuses)
            db.commit()


def _loads(payload: bytes) -> Any:
    from chaoyun.devices.ingest import PayloadError, parse_payload

    try:
        return parse_payload(payload)
    except PayloadError:
        return None
