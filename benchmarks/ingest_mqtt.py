"""MQTT end-to-end ingest benchmark (issue 3, section 8 (c)): ThingsBoard's smart-meter scenario.

One MQTT connection per device (publishers in a separate process pool, gmqtt, QoS 1), 3 data points per
message, an alarm rule on every device (threshold with hysteresis on the voltage), broker (a private Mosquitto),
platform ingest worker (``chaoyun ingest-worker``, its own process) and database on this machine.

Phases: warm-up, steady load at ``--rate`` msg/s for ``--seconds``, then a burst at 10× the rate for
``--burst-seconds`` (the publishers send as fast as they can up to that), then the drain.
Measured: messages and data points per second stored (from the worker's committed counter), latency from
publish to queryable (probe messages whose arrival in a history query is polled), RSS of the worker
process over time, the broker's RSS (it holds the backlog), and at the end that every acknowledged message is
in the store (rows counted).

Usage: ``.venv/bin/python benchmarks/ingest_mqtt.py [--devices 2000] [--rate 20000] [--seconds 60]
[--burst-seconds 10] [--procs 2]``; writes benchmarks/out/ingest_mqtt.json. ``benchmarks/ingest.py --parts c``
includes its rows.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import multiprocessing as mp
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "out"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------ publishers


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _connect_packet(client_id: str) -> bytes:
    cid = client_id.encode()
    # MQTT 3.1.1 CONNECT: protocol name, level 4, clean session, keep-alive 0 (the run is shorter than any ping)
    var = b"\x00\x04MQTT\x04\x02\x00\x00" + len(cid).to_bytes(2, "big") + cid
    return b"\x10" + _varint(len(var)) + var


def _publisher(idx: int, uids: list[str], port: int, phases: list[tuple[float, float]], sent: Any, acks: Any,
               ready: Any, go: Any, alarm_share: float) -> None:
    """One process: a TCP connection per device speaking MQTT 3.1.1 directly (QoS 1 PUBLISH, PUBACKs read and
    counted). A Python MQTT client costs tens of microseconds per message, which on a 2-core machine would take
    the CPU the platform is being measured with; here a message costs about one JSON encoding and a send."""
    import random
    import selectors

    import orjson

    rnd = random.Random(idx)
    socks: list[socket.socket] = []
    for uid in uids:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(_connect_packet(uid))
        ack = s.recv(4)
        assert ack[:1] == b"\x20" and ack[3:4] == b"\x00", ack
        s.setblocking(False)
        socks.append(s)
    sel = selectors.DefaultSelector()
    for k, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, k)
    topics_b = [f"chaoyun/v1/devices/{uid}/telemetry".encode() for uid in uids]
    heads = [len(t).to_bytes(2, "big") + t for t in topics_b]
    out: list[bytearray] = [bytearray() for _ in socks]
    dirty: set[int] = set()  # sockets with bytes to send (scanning all 1,000 every 2 ms cost ~2 µs a message)
    last = [0] * len(socks)
    pid = [0] * len(socks)
    acked = 0
    ready.release()
    go.wait()
    n = 0
    i = 0

    def pump(timeout: float) -> None:
        nonlocal acked
        for key, _ev in sel.select(timeout):
            try:
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            acked += len(data) // 4  # PUBACK: 0x40 0x02 <id>
        for k in list(dirty):
            buf = out[k]
            try:
                done = socks[k].send(buf)
            except BlockingIOError:
                continue
            del buf[:done]
            if not buf:
                dirty.discard(k)

    for seconds, rate in phases:
        t0 = time.perf_counter()
        base = n
        while (el := time.perf_counter() - t0) < seconds:
            due = int(rate * el) - (n - base)
            for _ in range(min(due, 5000)):
                k = i % len(socks)
                i += 1
                # Strictly increasing per device: the store keys points by (device, metric, millisecond).
                now = max(int(time.time() * 1000), last[k] + 1)
                last[k] = now
                # Mains voltage around 230 V; a small share of messages carries a surge that raises the alarm.
                volts = 262.0 + rnd.random() * 5 if rnd.random() < alarm_share else 228.0 + rnd.random() * 5
                body = orjson.dumps({"ts": now, "values": {
                    "voltage": round(volts, 2), "current": round(5.0 + rnd.random(), 3), "power": 1.1}})
                pid[k] = pid[k] % 65535 + 1
                var = heads[k] + pid[k].to_bytes(2, "big") + body
                out[k] += b"\x32" + _varint(len(var)) + var
                dirty.add(k)
                n += 1
            pump(0)
            with sent.get_lock():
                sent.value = n
            acks.value = acked
            time.sleep(0.002)
    deadline = time.perf_counter() + 30
    while any(out) and time.perf_counter() < deadline:
        pump(0.05)
    # Let the last PUBACKs come in before closing.
    end = time.perf_counter() + 3
    while time.perf_counter() < end:
        pump(0.1)
    # Only what the broker acknowledged is its to keep: a message still unread in its socket when the device
    # disconnects is the device's to send again (a real meter would), not data the platform can owe.
    acks.value = acked
    for s in socks:
        try:
            s.setblocking(True)
            s.sendall(b"\xe0\x00")  # DISCONNECT
        except OSError:
            pass
        s.close()


# ------------------------------------------------------------------------------------------ the run


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import psutil

    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-mqtt-"))
    atexit.register(shutil.rmtree, tmp, True)  # never leave the benchmark's database behind
    env = dict(os.environ)
    env.setdefault("CHAOYUN_DATABASE_URL", f"sqlite:///{tmp / 'chaoyun.db'}")
    env["CHAOYUN_VAR_DIR"] = env.get("CHAOYUN_BENCH_VAR_DIR", str(tmp / "var"))
    env.setdefault("CHAOYUN_SECRET_KEY", "bench")
    env["CHAOYUN_BACKGROUND"] = "0"
    os.environ.update({k: env[k] for k in ("CHAOYUN_DATABASE_URL", "CHAOYUN_VAR_DIR", "CHAOYUN_SECRET_KEY")})
    devices = getattr(args, "devices", 2000)
    rate = getattr(args, "rate", 20000)
    seconds = getattr(args, "seconds", 60)
    burst_s = getattr(args, "burst_seconds", 10)
    procs = getattr(args, "procs", 2)
    batch = getattr(args, "batch", 2000)
    alarm_share = getattr(args, "alarm_share", 0.001)

    from sqlalchemy import select

    from benchmarks.meters import seed_meters
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices.models import Device
    from chaoyun.devices.store import get_store

    uids = [f"meter-{i:05d}" for i in range(devices)]
    seed_meters([*uids, "probe"], "电表基准企业", over_voltage_rule=getattr(args, "alarms", True))
    with get_sessionmaker()() as db:
        probe_id = db.execute(select(Device.id).where(Device.uid == "probe")).scalar_one()

    port = _free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"user root\nlistener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000000\n"
                    "max_inflight_messages 0\nset_tcp_nodelay true\npersistence false\n")
    broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    n_workers = getattr(args, "workers", 1)
    stats_paths = [tmp / f"worker-stats-{k}.json" for k in range(n_workers)]
    log = (tmp / "worker.log").open("wb")
    wenv = dict(env, CHAOYUN_MQTT_URL=f"mqtt://127.0.0.1:{port}", CHAOYUN_MQTT_BATCH=str(batch))
    if n_workers > 1:
        wenv["CHAOYUN_MQTT_SHARE_GROUP"] = "bench"  # several workers split the load (shared subscription)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "chaoyun.cli", "ingest-worker", "--client-id", f"bench-ingest-{k}",
             "--stats-file", str(stats_paths[k])],
            env=wenv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
        )
        for k in range(n_workers)
    ]
    # A run that fails half-way must not leave its broker and workers behind (they would skew the next run).
    atexit.register(lambda: [p.kill() for p in (*workers, broker) if p.poll() is None])
    wprocs = [psutil.Process(w.pid) for w in workers]
    bproc = psutil.Process(broker.pid)

    def committed() -> int:
        total = 0
        for path in stats_paths:
            with contextlib.suppress(OSError, ValueError, KeyError):
                total += int(json.loads(path.read_text())["committed"])
        return total

    def rss_mb() -> float:
        return sum(w.memory_info().rss for w in wprocs) / 2**20

    def cpu_s() -> float:
        return sum(sum(w.cpu_times()[:2]) for w in wprocs)

    def db_cpu_s() -> float:
        """CPU of every PostgreSQL server process (0 on SQLite, which runs inside the workers): on one machine
        the database shares the cores with the workers and the broker."""
        total = 0.0
        for p in psutil.process_iter(["name"]):
            if p.info["name"] in ("postgres", "postmaster"):
                with contextlib.suppress(psutil.Error):
                    total += sum(p.cpu_times()[:2])
        return total

    deadline = time.time() + 30
    while not all(p.exists() for p in stats_paths) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # subscription in place

    warm = 5.0
    phases = [(warm, rate / procs), (float(seconds), rate / procs), (float(burst_s), 10 * rate / procs)]
    sent = [mp.Value("q", 0) for _ in range(procs)]
    acks = [mp.Value("q", 0) for _ in range(procs)]
    ready = mp.Semaphore(0)
    go = mp.Event()
    chunks = [uids[i::procs] for i in range(procs)]
    pubs = [mp.Process(target=_publisher, args=(i, chunks[i], port, phases, sent[i], acks[i], ready, go, alarm_share),
                       daemon=True)
            for i in range(procs)]
    for p in pubs:
        p.start()
    t_conn = time.perf_counter()
    for _ in pubs:
        ready.acquire(timeout=300)
    connect_s = time.perf_counter() - t_conn
    pprocs = [psutil.Process(p.pid) for p in pubs]

    def pub_cpu_s() -> float:
        total = 0.0
        for p in pprocs:
            with contextlib.suppress(psutil.Error):
                total += sum(p.cpu_times()[:2])
        return total

    # The probe publisher (main process) and the latency / memory samplers.
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="probe")
    probe.connect("127.0.0.1", port)
    probe.loop_start()
    store = get_store()
    samples: list[dict[str, Any]] = []
    latencies: dict[str, list[float]] = {"steady": [], "burst": []}
    timeline: list[tuple[float, float]] = []  # (seconds into the run, probe latency ms)
    go.set()
    t0 = time.perf_counter()
    phase_end = {"warm": warm, "steady": warm + seconds, "burst": warm + seconds + burst_s}
    steady_start_count = steady_end_count = 0
    pending_probe: tuple[int, float] | None = None
    probes_published = 0
    next_probe = 0.0
    last_sample = 0.0
    while True:
        el = time.perf_counter() - t0
        phase = "warm" if el < phase_end["warm"] else "steady" if el < phase_end["steady"] else \
            "burst" if el < phase_end["burst"] else "drain"
        if phase == "steady" and not steady_start_count:
            steady_start_count, steady_t0 = committed(), time.perf_counter()
        if phase != "steady" and steady_start_count and not steady_end_count:
            steady_end_count, steady_t1 = committed(), time.perf_counter()
        if el - last_sample >= 1.0:
            last_sample = el
            samples.append({"t": round(el, 1), "phase": phase, "sent": sum(s.value for s in sent),
                            "committed": committed(), "worker_rss_mb": rss_mb(),
                            "broker_rss_mb": bproc.memory_info().rss / 2**20,
                            "worker_cpu_s": cpu_s(), "broker_cpu_s": sum(bproc.cpu_times()[:2]),
                            "db_cpu_s": db_cpu_s(), "pub_cpu_s": pub_cpu_s()})
        if pending_probe is None and el >= next_probe and phase in ("steady", "burst"):
            ts = int(time.time() * 1000)
            probe.publish("chaoyun/v1/devices/probe/telemetry", json.dumps({"ts": ts, "values": {"voltage": 230}}),
                          qos=1)
            pending_probe = (ts, time.perf_counter())
            probes_published += 1
        if pending_probe is not None:
            # Queryable = returned by a history query (the device page's charts, the apps). Current values
            # (telemetry_latest) follow up to CHAOYUN's LATEST_SECONDS (0.5 s) later: they are written behind.
            sent_at = datetime.fromtimestamp(pending_probe[0] / 1000, UTC)
            if store.raw(probe_id, "voltage", sent_at, sent_at + timedelta(milliseconds=1)):
                took = time.perf_counter() - pending_probe[1]
                latencies["burst" if phase in ("burst", "drain") else "steady"].append(took)
                timeline.append((round(el, 2), round(took * 1000, 1)))
                pending_probe = None
                next_probe = el + 0.2
        if phase == "drain":
            publishing = any(p.is_alive() for p in pubs)
            if (not publishing and committed() >= sum(a.value for a in acks)) or \
                    el > phase_end["burst"] + getattr(args, "drain_timeout", 300):
                break
        # A history query scans the store's write buffer: polled every 0.1 s (at 0.05 s the probe's own scans took a
        # tenth of a core of PostgreSQL, measured with pg_stat_statements: load the platform would not see).
        time.sleep(0.1)
    drain_s = time.perf_counter() - t0 - phase_end["burst"]
    for p in pubs:
        p.join(30)
    time.sleep(2)
    total_sent = sum(s.value for s in sent)
    total_acked = sum(a.value for a in acks)
    final_committed = committed()
    for w in workers:
        w.terminate()
    for w in workers:
        try:
            w.wait(40)
        except subprocess.TimeoutExpired:
            w.kill()
    log.close()
    broker.terminate()
    broker.wait(10)
    probe.loop_stop()
    rows = store.count()

    steady_rate = (steady_end_count - steady_start_count) / (steady_t1 - steady_t0)
    steady_rss = [s["worker_rss_mb"] for s in samples if s["phase"] == "steady"]
    all_rss = [s["worker_rss_mb"] for s in samples]
    burst_sent = [s for s in samples if s["phase"] == "burst"]
    offered_burst = ((burst_sent[-1]["sent"] - burst_sent[0]["sent"]) / max(1, burst_sent[-1]["t"] - burst_sent[0]["t"])
                     if len(burst_sent) > 1 else 0.0)

    drain = [x for x in samples if x["phase"] == "drain" and x["committed"] < total_acked]
    drain_rate = ((drain[-1]["committed"] - drain[0]["committed"]) / max(0.1, drain[-1]["t"] - drain[0]["t"])
                  if len(drain) > 2 else float("nan"))

    def pct(xs: list[float], q: float) -> float:
        if not xs:
            return float("nan")
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    lat = latencies["steady"]
    steady = [x for x in samples if x["phase"] == "steady"]
    # What the publishers actually sent per second over the same phase (their pacing, not the nominal rate).
    offered_steady = ((steady[-1]["sent"] - steady[0]["sent"]) / max(0.1, steady[-1]["t"] - steady[0]["t"])
                      if len(steady) > 1 else 0.0)
    cpu_per_msg: dict[str, float] = {}
    if len(steady) > 2 and steady[-1]["committed"] > steady[0]["committed"]:
        done = steady[-1]["committed"] - steady[0]["committed"]
        for who in ("worker", "broker", "db", "pub"):
            used = steady[-1][f"{who}_cpu_s"] - steady[0][f"{who}_cpu_s"]
            cpu_per_msg[who] = round(used / done * 1e6, 1)
    result = {
        "machine": f"{platform.node()} {os.cpu_count()} cores, {platform.python_version()}",
        "database": env["CHAOYUN_DATABASE_URL"].split(":")[0], "alarms": getattr(args, "alarms", True),
        "devices": devices, "ingest_workers": n_workers, "target_rate": rate, "steady_seconds": seconds,
        "burst_seconds": burst_s,
        "connect_seconds": round(connect_s, 1),
        "steady_msgs_per_s": round(steady_rate), "steady_points_per_s": round(3 * steady_rate),
        "offered_steady_msgs_per_s": round(offered_steady),
        "offered_burst_msgs_per_s": round(offered_burst),
        "latency_p50_ms": round(pct(lat, 0.5) * 1000, 1), "latency_p99_ms": round(pct(lat, 0.99) * 1000, 1),
        "latency_burst_p50_ms": round(pct(latencies["burst"], 0.5) * 1000, 1),
        "probes": len(lat),
        "cpu_us_per_msg_steady": cpu_per_msg,
        "worker_rss_mb_steady_first": round(steady_rss[0], 1) if steady_rss else None,
        "worker_rss_mb_steady_last": round(steady_rss[-1], 1) if steady_rss else None,
        "worker_rss_mb_max": round(max(all_rss), 1) if all_rss else None,
        "broker_rss_mb_max": round(max(s["broker_rss_mb"] for s in samples), 1) if samples else None,
        "drain_seconds_after_burst": round(drain_s, 1),
        "drain_msgs_per_s": round(drain_rate) if drain_rate == drain_rate else None,
        "sent": total_sent, "acked_by_broker": total_acked, "committed": final_committed, "rows_stored": rows,
        # 3 points per meter message, 1 per probe message.
        "rows_expected": 3 * final_committed - 2 * probes_published,
        "samples": samples,
        "probe_latency_ms": timeline,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    name = getattr(args, "out_name", None) or "ingest_mqtt.json"
    (OUT / name).write_text(json.dumps(result, indent=1))
    ok_rate = steady_rate >= 20000
    alarms_on = "on" if result["alarms"] else "off"
    return [
        {"part": "c", "what": f"MQTT end to end, {devices} devices, 3 points/msg, alarms {alarms_on}: msg/s",
         "value": steady_rate, "unit": f"msg/s (publishers sent {offered_steady:,.0f}/s)", "target": ">= 20000",
         "ok": ok_rate},
        {"part": "c", "what": "MQTT end to end: data points/s", "value": 3 * steady_rate, "unit": "points/s",
         "target": ">= 60000", "ok": 3 * steady_rate >= 60000},
        {"part": "c", "what": "publish → queryable p50 / p99 (steady)", "value": result["latency_p99_ms"],
         "unit": f"ms p99 (p50 {result['latency_p50_ms']})", "target": "p99 < 1000", "ok":
         result["latency_p99_ms"] < 1000},
        # Process CPU time / messages stored over the steady phase: moved less by the machine's other load
        # than a rate is (issue 18: goal <= 25 us per message in the worker).
        {"part": "c", "what": "worker CPU per message (steady; broker alongside)",
         "value": cpu_per_msg.get("worker", float("nan")),
         "unit": f"us/msg (broker {cpu_per_msg.get('broker', float('nan'))}, PostgreSQL "
                 f"{cpu_per_msg.get('db', float('nan'))} us/msg; load {os.getloadavg()[0]:.1f})",
         "target": "<= 25", "ok": cpu_per_msg.get("worker", 1e9) <= 25},
        # Every process's CPU per message times the rate: what the steady phase asked of the machine's cores.
        {"part": "c", "what": "CPU budget at the steady rate (worker + broker + database + publishers)",
         "value": round(sum(cpu_per_msg.values()) * result["steady_msgs_per_s"] / 1e6, 2),
         "unit": f"cores of {os.cpu_count()} ({' + '.join(f'{k} {v}' for k, v in cpu_per_msg.items())} us/msg)",
         "target": "-", "ok": True},
        {"part": "c", "what": "worker RSS max (steady first → last)", "value": result["worker_rss_mb_max"],
         "unit": f"MB ({result['worker_rss_mb_steady_first']} → {result['worker_rss_mb_steady_last']})",
         "target": "< 500", "ok": (result["worker_rss_mb_max"] or 0) < 500},
        {"part": "c", "what": "backlog drain rate (publishers idle, worker + broker only)", "value": drain_rate,
         "unit": "msg/s", "target": "-", "ok": True},
        {"part": "c", "what": f"10× burst offered {result['offered_burst_msgs_per_s']} msg/s: drain after",
         "value": result["drain_seconds_after_burst"],
         "unit": ("s" if final_committed >= total_acked else
                  f"s — drain timeout: {total_acked - final_committed} acknowledged messages not stored yet")
         + (f"; {total_sent - total_acked} not acknowledged to devices before they disconnected (theirs to resend)"
            if total_sent > total_acked else ""),
         "target": "drained", "ok": final_committed >= total_acked},
        # Every message the worker acknowledged has its rows in the store (3 per meter message, 1 per probe).
        {"part": "c", "what": "acknowledged messages all stored", "value": rows,
         "unit": f"rows (at least {3 * final_committed - 2 * probes_published} expected)", "target": "no loss",
         "ok": rows >= 3 * final_committed - 2 * probes_published},
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=20000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--burst-seconds", type=float, default=10)
    ap.add_argument("--procs", type=int, default=2, help="publisher processes")
    ap.add_argument("--workers", type=int, default=1, help="ingest worker processes (shared subscription when > 1)")
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--drain-timeout", type=float, default=300)
    ap.add_argument("--out-name", default="ingest_mqtt.json")
    ap.add_argument("--no-alarms", dest="alarms", action="store_false", help="no alarm rule (isolates ingest)")
    ap.add_argument("--alarm-share", type=float, default=0.001,
                    help="share of messages carrying a voltage surge that raises the alarm (an alarm storm: 0.1)")
    args = ap.parse_args()
    rows = run(args)
    print(f"{'what':<70} {'value':>12}  unit / target")
    for r in rows:
        print(f"{r['what']:<70} {r['value']:>12,.1f}  {r['unit']}  target {r['target']}  {'OK' if r['ok'] else 'MISS'}")
    data = json.loads((OUT / args.out_name).read_text())
    print({k: v for k, v in data.items() if k != "samples"})
    # A missed speed target is a finding; lost or unstored acknowledged messages are a failed run.
    broken = [r["what"] for r in rows if r["target"] in ("no loss", "drained") and not r["ok"]]
    if broken:
        print("FAILED:", "; ".join(broken), file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
