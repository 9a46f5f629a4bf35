"""CPU per message of the MQTT ingest worker's sink, without broker, sockets or publishers (issue 18).

The end-to-end benchmark (``benchmarks/ingest_mqtt.py``) reports the worker's CPU per message, but on two cores
shared with the broker and the load generator that figure moves with the load. This one feeds the same messages
(the smart-meter scenario: 2,000 meters, three points per message, one threshold rule with hysteresis on the
voltage, a small share of surges) straight into ``PlatformSink`` in batches as the worker forms them, and reports
process CPU time (every thread: the store's write-behind included) per message. Add the worker's MQTT reading
(a few microseconds; ``benchmarks/ingest_mqtt.py`` measures the whole) to compare with the ≤ 25 µs goal.

Usage: ``.venv/bin/python benchmarks/ingest_sink.py [--devices 2000] [--batches 60] [--batch 2000]
[--profile]``; the database is SQLite in a temporary folder unless CHAOYUN_DATABASE_URL names another.
"""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _messages(uids: list[str], n: int, start_ms: int, rnd: random.Random, alarm_share: float) -> list[Any]:
    import orjson

    from chaoyun.devices.connectors.mqtt_ingest import RawMessage

    out = []
    now = datetime.now(UTC)
    for i in range(n):
        uid = uids[i % len(uids)]
        volts = 262.0 + rnd.random() * 5 if rnd.random() < alarm_share else 228.0 + rnd.random() * 5
        body = orjson.dumps({"ts": start_ms + i, "values": {
            "voltage": round(volts, 2), "current": round(5.0 + rnd.random(), 3), "power": 1.1}})
        out.append(RawMessage(f"chaoyun/v1/devices/{uid}/telemetry", body, now))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=2000)
    p.add_argument("--batches", type=int, default=60)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--alarm-share", type=float, default=0.001)
    p.add_argument("--rate", type=float, default=0.0,
                   help="messages per second to pace the batches at, as a worker fed by devices would see them "
                        "(the store's timed work — current values, buffer moves, checkpoints — then counts as in a "
                        "worker); 0: as fast as the sink goes")
    p.add_argument("--profile", action="store_true", help="print the top of a cProfile of the timed batches")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-sink-"))
    atexit.register(shutil.rmtree, tmp, True)
    os.environ.setdefault("CHAOYUN_DATABASE_URL", f"sqlite:///{tmp / 'chaoyun.db'}")
    os.environ["CHAOYUN_VAR_DIR"] = str(tmp / "var")
    os.environ.setdefault("CHAOYUN_SECRET_KEY", "bench")
    os.environ["CHAOYUN_BACKGROUND"] = "0"

    from benchmarks.meters import seed_meters
    from chaoyun.devices.connectors.sink import PlatformSink
    from chaoyun.devices.store import get_store
    from chaoyun.runtime import tune_gc

    uids = [f"meter-{i:05d}" for i in range(args.devices)]
    seed_meters(uids, "电表基准企业", over_voltage_rule=True)

    rnd = random.Random(7)
    start = int(time.time() * 1000) - 3_600_000  # an hour back: every message stays inside the accepted window
    warm = 5
    batches = [_messages(uids, args.batch, start + k * args.batch, rnd, args.alarm_share)
               for k in range(warm + args.batches)]
    sink = PlatformSink()
    tune_gc()  # as `chaoyun ingest-worker` does (CHAOYUN_GC_GEN0=0 measures without)
    for b in batches[:warm]:  # caches, prepared statements, rule states
        sink(b)
    get_store().flush()

    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    c0, w0 = time.process_time(), time.perf_counter()
    for k, b in enumerate(batches[warm:]):
        if args.rate > 0:
            time.sleep(max(0.0, w0 + k * args.batch / args.rate - time.perf_counter()))
        sink(b)
    get_store().flush()  # the write-behind's work belongs to these messages
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    if prof is not None:
        import pstats

        prof.disable()
        pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(35)
    n = args.batch * args.batches
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}, database {os.environ['CHAOYUN_DATABASE_URL'].split(':')[0]}")
    print(f"messages: {n:,} in {args.batches} batches of {args.batch:,}; points accepted {sink.points_accepted:,}, "
          f"rejected {sink.points_rejected}")
    print(f"sink CPU per message: {cpu / n * 1e6:.1f} us (wall {wall / n * 1e6:.1f} us; {n / wall:,.0f} msg/s)")
    return 0 if sink.points_rejected == 0 and sink.points_accepted >= 3 * n else 1


if __name__ == "__main__":
    raise SystemExit(main())
