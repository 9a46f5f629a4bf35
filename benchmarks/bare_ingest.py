"""The baseline of ``benchmarks/ingest.py --parts b``: a bare ASGI app that stores the same HTTP telemetry rows in
the same store, without the platform (issue 18: HTTP batch ingest ≥ 0.6× a bare ASGI app writing the same rows).

No framework, no routing, no rate limiter, no validation beyond what building a row needs, no rejection log and no
alarms: the device is found by its token's hash, each ``{"ts": ..., "values": {...}}`` entry becomes rows, and
``TelemetryStore.write`` stores them (in a worker thread, as any ASGI app must keep its event loop free). What the
platform does on top of this is what the ratio prices.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from sqlalchemy import text

from chaoyun.db import get_engine
from chaoyun.devices.credentials import token_hash
from chaoyun.devices.store import get_store

_devices: dict[str, tuple[int, dict[str, int]]] = {}  # token hash → (device id, metric key → id)


def _load() -> None:
    with get_engine().connect() as c:
        metrics: dict[int, dict[str, int]] = {}
        for mid, model_id, key in c.execute(text("SELECT id, model_id, key FROM device_metrics")):
            metrics.setdefault(model_id, {})[key] = mid
        for th, did, model_id in c.execute(text("SELECT token_hash, id, model_id FROM devices")):
            _devices[th] = (did, metrics.get(model_id, {}))


def _store(device_id: int, spec: dict[str, int], body: bytes) -> int:
    doc = orjson.loads(body)
    rows = [
        (device_id, spec[k], int(e["ts"]), float(v), None)
        for e in (doc if isinstance(doc, list) else [doc])
        for k, v in e["values"].items()
    ]
    get_store().write(rows, received_ms=int(time.time() * 1000))
    return len(rows)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                _load()
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        more = msg.get("more_body", False)
    status, out = 200, {"accepted": 0}
    if scope["method"] == "POST":
        auth = dict(scope["headers"]).get(b"authorization", b"").decode()
        found = _devices.get(token_hash(auth.removeprefix("Bearer ")))
        if found is None:
            status = 401
        else:
            out["accepted"] = await asyncio.to_thread(_store, found[0], found[1], b"".join(chunks))
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": orjson.dumps(out)})
