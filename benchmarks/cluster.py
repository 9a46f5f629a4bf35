"""Drive the network-namespace deployment (deploy/netns/up.sh): simulated devices publish MQTT QoS 1 to the three
NATS nodes at a set rate while web clients request pages and post HTTP telemetry through the haproxy balancer;
optionally one broker node is killed (SIGKILL) at 1/3 of the run and restarted at 2/3.

Reports: stored points/s, loss (acknowledged messages not stored; none may be), web p50/p95 through the
balancer, and the CPU each tier spent per stored message (from /proc, summed over the processes of each
namespace). If the deployment is not up, it runs up.sh first and down.sh at exit (unless --keep).

    sudo .venv/bin/python benchmarks/cluster.py --devices 50 --rate 500 --seconds 20 [--kill-node]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STATE = Path(os.environ.get("CHAOYUN_NETNS_STATE", "/var/tmp/chaoyun-netns"))
NET = "10.77.0"
LB = f"http://{NET}.50"
NODES = {"n1": f"{NET}.21", "n2": f"{NET}.22", "n3": f"{NET}.23"}
TICKS = os.sysconf("SC_CLK_TCK")


def ns_cpu(ns: str) -> float:
    """CPU seconds (user + system) of the processes now in namespace ``ns``."""
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
    return sum(pid_cpu(pid) for pid in out)


def pid_cpu(pid: int | str) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICKS
    except (OSError, IndexError):
        return 0.0


def tier_cpu() -> dict[str, float]:
    """CPU seconds per tier: ingest and job workers by their pid files (they share the ingest hosts), PostgreSQL
    as cy-db's processes less Redis, the others by namespace. (A restarted node's CPU before its death is lost.)"""
    def pids(*names: str) -> float:
        return sum(pid_cpu((STATE / "pids" / f"{n}.pid").read_text().strip()) for n in names
                   if (STATE / "pids" / f"{n}.pid").exists())

    return {
        "ingest workers": pids("ing1", "ing2"),
        "nats (3 nodes)": sum(ns_cpu(f"cy-nats{i}") for i in (1, 2, 3)),
        "postgres": ns_cpu("cy-db") - pids("redis"),
        "web (2 hosts)": ns_cpu("cy-web1") + ns_cpu("cy-web2"),
        "haproxy": ns_cpu("cy-lb"),
        "job workers": pids("jobs1", "jobs2"),
    }


class Device:
    def __init__(self, uid: str, password: str, host: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.uid = uid
        self.sent: list[tuple[int, Any]] = []
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{uid}-bench", protocol=mqtt.MQTTv311)
        self.c.username_pw_set(uid, password)
        self.c.reconnect_delay_set(0.2, 2)
        self.c.max_inflight_messages_set(100)
        self.c.connect(host, 1883, keepalive=10)
        self.c.loop_start()
        self.last = 0

    def publish(self) -> None:
        if not self.c.is_connected():
            return  # a device whose node is down keeps its reading (not acknowledged: not the platform's yet)
        ts = max(int(time.time() * 1000), self.last + 1)
        self.last = ts
        body = json.dumps({"ts": ts, "values": {"voltage": 230.0, "current": 5.0, "power": 1.1}})
        self.sent.append((ts, self.c.publish(f"chaoyun/v1/devices/{self.uid}/telemetry", body, qos=1)))

    def acked(self) -> set[int]:
        done = set()
        for ts, info in self.sent:
            try:
                if info.is_published():
                    done.add(ts)
            except (RuntimeError, ValueError):
                pass
        return done

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def web_client(stop: threading.Event, lat: dict[str, list[float]], errors: list[str], token: str) -> None:
    """Pages and API calls through the balancer, one request after another."""
    i = 0
    while not stop.is_set():
        i += 1
        if i % 2:
            name, req = "GET /login", urllib.request.Request(f"{LB}/login")
        else:
            body = json.dumps({"ts": int(time.time() * 1000), "values": {"voltage": 231.0}}).encode()
            name = "POST /api/v1/telemetry"
            req = urllib.request.Request(f"{LB}/api/v1/telemetry", data=body, method="POST", headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
                ok = r.status < 400 or r.status == 429
        except urllib.error.HTTPError as e:
            ok = e.code == 429  # the per-token rate limit is a correct answer
        except OSError as e:
            ok = False
            errors.append(f"{name}: {e}")
        if ok:
            lat.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
        else:
            errors.append(name)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


def restart_node(name: str) -> None:
    idx = name[1:]
    log = (STATE / "log" / f"nats{idx}.log").open("ab")
    p = subprocess.Popen(["setsid", "ip", "netns", "exec", f"cy-nats{idx}", "/usr/sbin/nats-server", "-c",
                          str(STATE / "nats" / f"n{idx}.conf")], stdout=log, stderr=log, start_new_session=True)
    (STATE / "pids" / f"nats{idx}.pid").write_text(str(p.pid))


def kill_node(name: str) -> None:
    idx = name[1:]
    pid = int((STATE / "pids" / f"nats{idx}.pid").read_text())
    os.kill(pid, 9)


def run(args: argparse.Namespace) -> dict[str, Any]:
    info = json.loads((STATE / "devices.json").read_text())
    os.environ["CHAOYUN_DATABASE_URL"] = f"postgresql+psycopg://postgres@{NET}.10:5432/chaoyun"
    from chaoyun.devices.store import get_store

    store = get_store()
    devs = info["devices"][: args.devices]
    web_token = devs[0]["token"]
    mqtt_devs = devs[1:] if len(devs) > 1 else devs
    hosts = list(NODES.values())
    devices = [Device(d["uid"], d["password"], hosts[k % 3]) for k, d in enumerate(mqtt_devs)]
    ids = {d["uid"]: d["id"] for d in mqtt_devs}
    deadline = time.monotonic() + 30
    while not all(d.c.is_connected() for d in devices):
        if time.monotonic() > deadline:
            raise SystemExit("devices did not connect")
        time.sleep(0.1)
    before_points = store.count()
    cpu0 = tier_cpu()
    stop = threading.Event()
    lat: dict[str, list[float]] = {}
    errors: list[str] = []
    webs = [threading.Thread(target=web_client, args=(stop, lat, errors, web_token), daemon=True)
            for _ in range(args.web_clients)]
    for w in webs:
        w.start()
    t0, wall0 = time.monotonic(), time.time()
    n = 0
    killed = restarted = False
    while (el := time.monotonic() - t0) < args.seconds:
        due = int(args.rate * el) - n
        for _ in range(due):
            devices[n % len(devices)].publish()
            n += 1
        if args.kill_node and not killed and el >= args.seconds / 3:
            kill_node("n2")
            killed = True
        if args.kill_node and killed and not restarted and el >= 2 * args.seconds / 3:
            restart_node("n2")
            restarted = True
        time.sleep(0.005)
    publish_s = time.monotonic() - t0
    stop.set()
    for w in webs:
        w.join(timeout=35)
    # wait for the last acknowledgements, then for every acknowledged message to be stored
    time.sleep(3)
    acked = {d.uid: d.acked() for d in devices}
    n_acked = sum(map(len, acked.values()))
    start = datetime.fromtimestamp(wall0 - 60, UTC)

    def missing() -> int:
        miss = 0
        end = datetime.now(UTC)
        for uid, ts in acked.items():
            got = {int(t.timestamp() * 1000) for t, _v, _x in store.raw(ids[uid], "voltage", start, end)}
            miss += len(ts - got)
        return miss

    drain_t0 = time.monotonic()
    miss = missing()
    while miss and time.monotonic() - drain_t0 < args.drain:
        time.sleep(1)
        miss = missing()
    stored_points = store.count() - before_points
    total_s = time.monotonic() - t0
    cpu1 = tier_cpu()
    cpu = {t: cpu1[t] - cpu0[t] for t in cpu0}
    for d in devices:
        d.close()
    stored_msgs = stored_points / 3
    return {
        "devices": len(devices), "rate_asked": args.rate, "seconds": args.seconds, "kill_node": args.kill_node,
        "published": n, "publish_rate": round(n / publish_s, 1), "acknowledged": n_acked,
        "stored_points": stored_points, "stored_points_per_s": round(stored_points / total_s, 1),
        "acked_not_stored": miss, "drain_s": round(time.monotonic() - drain_t0, 1),
        "web": {k: {"n": len(v), "p50_ms": round(pct(v, 50), 1), "p95_ms": round(pct(v, 95), 1)}
                for k, v in lat.items()},
        "web_errors": len(errors), "web_error_sample": errors[:3],
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_us_per_stored_msg": {k: round(v / stored_msgs * 1e6, 1) if stored_msgs else None
                                  for k, v in cpu.items()},
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--rate", type=float, default=500, help="MQTT messages/s over all devices (3 points each)")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--web-clients", type=int, default=4)
    ap.add_argument("--kill-node", action="store_true", help="SIGKILL nats node n2 at 1/3, restart it at 2/3")
    ap.add_argument("--drain", type=float, default=60, help="seconds to wait for acknowledged points to land")
    ap.add_argument("--keep", action="store_true", help="leave a deployment this run started up")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("cluster.py: run as root (it drives network namespaces)")
    started = False
    if not (STATE / "devices.json").exists():
        env = dict(os.environ, CHAOYUN_NETNS_DEVICES=str(max(args.devices, 2)))
        started = True
        subprocess.run([str(ROOT / "deploy/netns/up.sh")], check=True, env=env)
    try:
        res = run(args)
    finally:
        if started and not args.keep:
            subprocess.run([str(ROOT / "deploy/netns/down.sh")], check=False)
    print(json.dumps(res, indent=1, ensure_ascii=False))
    if res["acked_not_stored"] or res["web_errors"] > 0.01 * sum(v["n"] for v in res["web"].values()):
        raise SystemExit("FAILED: acknowledged points not stored or web errors (see above)")


if __name__ == "__main__":
    main()
