"""What the platform's MQTT ingest worker does with a batch: device data through ``ingest_batch`` (one
transaction), command results and gateway status into their tables. Raises when the database is unavailable,
so the worker keeps the batch unacknowledged and retries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.connectors import topics
from chaoyun.devices.connectors.mqtt_ingest import RawMessage

log = logging.getLogger("chaoyun.mqtt.ingest")
CHUNK = 500  # uids per IN (...) query


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

    def __call__(self, messages: list[RawMessage]) -> None:
        from chaoyun.devices.connectors import commands
        from chaoyun.devices.ingest import ingest_batch, log_rejection
        from chaoyun.devices.models import Device

        data: list[tuple[str, RawMessage]] = []
        results: list[tuple[str, Any]] = []
        statuses: list[tuple[str, Any]] = []
        for m in messages:
            t = topics.parse(m.topic)
            if t is None:
                gw = topics.parse_gateway(m.topic)
                if gw and gw[1] == "status":
                    statuses.append((gw[0], _loads(m.payload)))
                continue
            if t.kind in ("telemetry", "attributes"):
                data.append((t.uid, m))
            elif t.kind == "commands/result":
                results.append((t.uid, _loads(m.payload)))
        with self.sessionmaker() as db:
            uids = sorted({uid for uid, _ in data})
            devices: dict[str, Device] = {}
            for i in range(0, len(uids), CHUNK):
                part = uids[i : i + CHUNK]
                for d in db.execute(select(Device).where(Device.uid.in_(part))).scalars():
                    devices[d.uid] = d
            items: list[tuple[Device, Any]] = []
            for uid, m in data:
                dev = devices.get(uid)
                if dev is None or not dev.enabled:
                    self.unknown_devices += 1
                    log.warning("MQTT message for unknown or disabled device %r on %s dropped", uid, m.topic)
                    continue
                try:
                    payload = orjson.loads(m.payload)
                except orjson.JSONDecodeError:
                    self.malformed += 1
                    log.warning("malformed JSON from device %s on %s: %r", uid, m.topic, m.payload[:100])
                    log_rejection(db, dev, "mqtt", "bad_json", sample=m.payload[:300].decode("utf-8", "replace"))
                    continue
                if topics.parse(m.topic).kind == "attributes":  # type: ignore[union-attr]
                    # Attributes (firmware, serial...) are not telemetry: kept as the device's latest only.
                    commands.record_attributes(db, dev, payload)
                    continue
                items.append((dev, payload))
            if items:
                received = max(m.received_at for _, m in data) if data else datetime.now(UTC)
                for r in ingest_batch(db, items, "mqtt", received_at=received):
                    self.points_accepted += r.accepted
                    self.points_rejected += r.rejected_count
            if results:
                commands.apply_results(db, results)
            if statuses:
                commands.apply_gateway_status(db, statuses)
            db.commit()


def _loads(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
