"""Ingest over a distributed log (issue 18): a three-node NATS JetStream cluster (MQTT listener on each node,
stream replicas 3) on loopback ports, ``chaoyun ingest-worker --source nats`` processes, the store.

Devices (raw MQTT 3.1.1 QoS 1 connections, spread over the nodes, paced at ``--rate`` msg/s, 3 points per
message) publish for ``--seconds``; with ``--kill-node`` one node is killed (SIGKILL) a third of the way in and
restarted at two thirds. Measured: messages/s stored by the workers (steady), CPU per message of the workers
and of the broker nodes (process CPU time / messages: a figure that the machine's load moves less than a rate),
and loss: every message a node acknowledged must be in the store (rows counted at the end).

With ``--broker rabbitmq`` the same devices publish to private RabbitMQ nodes (``--nodes``, default 3, clustered;
MQTT plugin on each) whose messages go to a quorum queue with a replica per node bound to ``amq.topic``: the
broker side only (messages/s acknowledged to devices, broker CPU, and the queue's count at the end), for the
comparison in docs/deployment.md.

Usage: ``.venv/bin/python benchmarks/ingest_log.py [--devices 300] [--rate 5000] [--seconds 20] [--workers 2]
[--kill-node] [--broker nats|rabbitmq]``; writes benchmarks/out/ingest_log.json.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "out"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _s(b: bytes) -> bytes:
    return len(b).to_bytes(2, "big") + b


def _connect_packet(client_id: str, user: str, password: str) -> bytes:
    # MQTT 3.1.1 CONNECT: level 4, flags user + password + clean session, keep-alive 60 s
    var = b"\x00\x04MQTT\x04\xc2\x00\x3c" + _s(client_id.encode()) + _s(user.encode()) + _s(password.encode())
    return b"\x10" + _varint(len(var)) + var


def _publisher(idx: int, uids: list[str], ports: list[int], user: str, password: str, rate: float,
               seconds: float, sent: Any, acks: Any, ready: Any, go: Any) -> None:
    """One process: a TCP connection per device (QoS 1 PUBLISH written directly, PUBACKs counted). A connection
    whose node dies is closed: what it had not got acknowledged is the device's to resend, not the platform's."""
    import selectors

    import orjson

    socks: list[socket.socket | None] = []
    for k, uid in enumerate(uids):
        s = socket.create_connection(("127.0.0.1", ports[k % len(ports)]))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(_connect_packet(uid, user, password))
        ack = s.recv(4)
        assert ack[:1] == b"\x20" and ack[3:4] == b"\x00", ack
        s.setblocking(False)
        socks.append(s)
    sel = selectors.DefaultSelector()
    for k, s in enumerate(socks):
        assert s is not None
        sel.register(s, selectors.EVENT_READ, k)
    heads = [_s(f"chaoyun/v1/devices/{uid}/telemetry".encode()) for uid in uids]
    out = [bytearray() for _ in socks]
    pid = [0] * len(socks)
    last = [0] * len(socks)
    acked = 0

    def drop(k: int) -> None:
        s = socks[k]
        if s is not None:
            sel.unregister(s)
            s.close()
            socks[k] = None
            out[k].clear()

    def pump(timeout: float) -> None:
        nonlocal acked
        for key, _ev in sel.select(timeout):
            try:
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                drop(key.data)
                continue
            acked += len(data) // 4  # PUBACK: 0x40 0x02 <id>
        for k, buf in enumerate(out):
            s = socks[k]
            if buf and s is not None:
                try:
                    del buf[: s.send(buf)]
                except BlockingIOError:
                    continue
                except OSError:
                    drop(k)

    ready.release()
    go.wait()
    n = i = 0
    t0 = time.perf_counter()
    while (el := time.perf_counter() - t0) < seconds:
        due = int(rate * el) - n
        for _ in range(min(due, 5000)):
            k = i % len(socks)
            i += 1
            if socks[k] is None:
                continue
            now = max(int(time.time() * 1000), last[k] + 1)
            last[k] = now
            body = orjson.dumps({"ts": now, "values": {"voltage": 230.0, "current": 5.0, "power": 1.1}})
            pid[k] = pid[k] % 65535 + 1
            var = heads[k] + pid[k].to_bytes(2, "big") + body
            out[k] += b"\x32" + _varint(len(var)) + var
            n += 1
        pump(0)
        sent.value = n
        acks.value = acked
        time.sleep(0.002)
    end = time.perf_counter() + 5
    while time.perf_counter() < end and any(out[k] for k in range(len(out)) if socks[k] is not None):
        pump(0.05)
    end = time.perf_counter() + 3
    while time.perf_counter() < end:
        pump(0.1)
    acks.value = acked
    for k in range(len(socks)):
        drop(k)


def _setup_db(tmp: Path, devices: int) -> list[str]:
    env = os.environ
    env.setdefault("CHAOYUN_DATABASE_URL", f"sqlite:///{tmp / 'chaoyun.db'}")
    env["CHAOYUN_VAR_DIR"] = str(tmp / "var")
    env.setdefault("CHAOYUN_SECRET_KEY", "bench")
    env["CHAOYUN_BACKGROUND"] = "0"
    from benchmarks.meters import seed_meters

    uids = [f"meter-{i:05d}" for i in range(devices)]
    seed_meters(uids, "日志基准企业", over_voltage_rule=False)
    return uids


def _publish(uids: list[str], ports: list[int], user: str, pw: str, rate: float, seconds: float, procs: int,
             during: Any = None) -> tuple[int, int, float]:
    ctx = mp.get_context("spawn")
    sent = [ctx.Value("q", 0, lock=False) for _ in range(procs)]
    acks = [ctx.Value("q", 0, lock=False) for _ in range(procs)]
    ready, go = ctx.Semaphore(0), ctx.Event()
    ps = [ctx.Process(target=_publisher, args=(k, uids[k::procs], ports, user, pw, rate / procs, seconds,
                                               sent[k], acks[k], ready, go)) for k in range(procs)]
    for p in ps:
        p.start()
    for _ in ps:
        assert ready.acquire(timeout=120), "publishers did not connect"
    t0 = time.monotonic()
    go.set()
    if during is not None:
        during(t0)
    for p in ps:
        p.join(timeout=seconds + 60)
        assert p.exitcode == 0, f"publisher failed ({p.exitcode})"
    return sum(v.value for v in sent), sum(v.value for v in acks), time.monotonic() - t0


def run_nats(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import psutil

    from chaoyun.devices.connectors.nats_broker import LocalCluster

    uids = _setup_db(tmp, args.devices)
    users = [
        {"user": "platform", "password": "platform-pw", "permissions": {"publish": {"allow": [">"]},
                                                                         "subscribe": {"allow": [">"]}}},
        # One account for all benchmark meters (the generated config has one per device: same checks per message).
        {"user": "meters", "password": "meters-pw", "permissions": {
            "publish": {"allow": ["chaoyun.v1.devices.*.telemetry"]}, "subscribe": {"allow": []}}},
    ]
    cluster = LocalCluster(tmp / "nats", users).use_admin("platform", "platform-pw").start()
    atexit.register(cluster.stop)
    cluster.wait_ready(90)
    env = dict(os.environ, CHAOYUN_MQTT_URL=f"mqtt://platform:platform-pw@127.0.0.1:{cluster.nodes[0].mqtt_port}")
    base = [sys.executable, "-m", "chaoyun.cli", "ingest-worker", "--source", "nats", "--batch", str(args.batch),
            "--nats-url", ",".join(cluster.client_urls("platform", "platform-pw"))]
    log = (tmp / "worker.log").open("ab")
    if subprocess.run([*base, "--setup-only", "--ack-wait", "5"], env=env, stdout=log, stderr=log).returncode:
        raise SystemExit("consumer setup failed: " + (tmp / "worker.log").read_text()[-2000:])
    stats = [tmp / f"stats-{k}.json" for k in range(args.workers)]
    workers = [subprocess.Popen([*base, "--client-id", f"w{k}", "--stats-file", str(stats[k])], env=env,
                                stdout=log, stderr=log) for k in range(args.workers)]
    atexit.register(lambda: [w.kill() for w in workers if w.poll() is None])
    wps = [psutil.Process(w.pid) for w in workers]

    def committed() -> int:
        total = 0
        for p in stats:
            with contextlib.suppress(OSError, ValueError, KeyError):
                total += json.loads(p.read_text())["committed"]
        return total

    def cpu(ps: list[Any]) -> float:
        total = 0.0
        for p in ps:
            with contextlib.suppress(psutil.Error):
                total += sum(p.cpu_times()[:2])
        return total

    def brokers() -> list[Any]:
        return [psutil.Process(p.pid) for p in cluster.procs.values()]

    deadline = time.time() + 60
    while not all(p.exists() for p in stats) and time.time() < deadline:
        time.sleep(0.2)
    marks: dict[str, Any] = {}

    def during(t0: float) -> None:
        # steady window: from 20 % to 90 % of the run (or to the kill)
        s = args.seconds
        time.sleep(0.2 * s)
        marks["c0"], marks["w0"], marks["b0"], marks["t0"] = committed(), cpu(wps), cpu(brokers()), time.monotonic()
        stop_at = (1 / 3 if args.kill_node else 0.9) * s
        time.sleep(max(0.0, t0 + stop_at - time.monotonic()))
        marks["c1"], marks["w1"], marks["b1"], marks["t1"] = committed(), cpu(wps), cpu(brokers()), time.monotonic()
        if args.kill_node:
            cluster.kill("n2")
            time.sleep(max(0.0, t0 + 2 * s / 3 - time.monotonic()))
            cluster.start("n2")

    ports = [n.mqtt_port for n in cluster.nodes]
    sent, acked, took = _publish(uids, ports, "meters", "meters-pw", args.rate, args.seconds, args.procs, during)
    # drain: until the workers' committed count stops moving
    last, still = -1, 0
    end = time.time() + 120
    while time.time() < end and still < 6:
        c = committed()
        still = still + 1 if c == last and c >= acked else 0
        last = c
        time.sleep(0.5)
    from chaoyun.devices.store import get_store

    rows = get_store().count()
    for w in workers:
        w.terminate()
    done = marks["c1"] - marks["c0"]
    span = max(0.1, marks["t1"] - marks["t0"])
    return {
        "broker": "nats-jetstream 3 nodes, R3", "workers": args.workers, "devices": args.devices,
        "offered_msgs_per_s": round(sent / took), "steady_stored_msgs_per_s": round(done / span),
        "worker_cpu_us_per_msg": round((marks["w1"] - marks["w0"]) / max(1, done) * 1e6, 1),
        "broker_cpu_us_per_msg": round((marks["b1"] - marks["b0"]) / max(1, done) * 1e6, 1),
        "sent": sent, "acked": acked, "rows_stored": rows, "acked_rows_missing": max(0, 3 * acked - rows),
        "node_killed": bool(args.kill_node),
    }


def run_rabbitmq(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Private RabbitMQ nodes (their own names, ports and data folders) with the MQTT plugin, clustered when
    ``--nodes`` > 1; a quorum queue (one replica per node) bound to amq.topic for the devices' topics; devices,
    spread over the nodes, publish QoS 1 (PUBACK after the queue confirmed)."""
    tmp = tmp / "rabbitmq"  # the servers run as the rabbitmq user: folders it may write
    tmp.mkdir(mode=0o777)
    tmp.chmod(0o777)
    tmp.parent.chmod(0o755)
    nodes: list[dict[str, Any]] = []
    for k in range(args.nodes):
        amqp, dist, mqtt_port = (_free_port() for _ in range(3))
        d = tmp / f"n{k + 1}"
        d.mkdir(mode=0o777)
        d.chmod(0o777)
        name = f"chaoyunbench{os.getpid()}n{k + 1}@localhost"
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{amqp}\nmqtt.listeners.tcp.default = 127.0.0.1:{mqtt_port}\n"
            "mqtt.allow_anonymous = false\nloopback_users = none\n")
        (d / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        env = dict(os.environ, RABBITMQ_NODENAME=name, RABBITMQ_NODE_PORT=str(amqp), RABBITMQ_DIST_PORT=str(dist),
                   RABBITMQ_CONFIG_FILE=str(d / "rabbitmq"), RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
                   RABBITMQ_MNESIA_BASE=str(d / "mnesia"), RABBITMQ_LOG_BASE=str(d / "log"),
                   RABBITMQ_PID_FILE=str(d / "rabbit.pid"))
        proc = subprocess.Popen(["rabbitmq-server"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nodes.append({"name": name, "env": env, "proc": proc, "mqtt": mqtt_port, "pid_file": d / "rabbit.pid"})

    def ctl(node: dict[str, Any], *a: str) -> str:
        r = subprocess.run(["rabbitmqctl", "-n", node["name"], *a], env=node["env"], capture_output=True, text=True,
                           timeout=120)
        if r.returncode:
            raise SystemExit(f"rabbitmqctl {' '.join(a)}: {r.stderr[-500:]}")
        return r.stdout

    def stop() -> None:
        for node in nodes:
            subprocess.run(["rabbitmqctl", "-n", node["name"], "stop"], env=node["env"], capture_output=True,
                           timeout=60)
            if node["proc"].poll() is None:
                node["proc"].kill()

    atexit.register(stop)
    first = nodes[0]
    for node in nodes:
        ctl(node, "wait", str(node["pid_file"]), "--timeout", "120")
    for node in nodes[1:]:  # join the first node's cluster
        ctl(node, "stop_app")
        ctl(node, "join_cluster", first["name"])
        ctl(node, "start_app")
    ctl(first, "add_user", "meters", "meters-pw")
    ctl(first, "set_permissions", "-p", "/", "meters", ".*", ".*", ".*")
    # The queue and its binding, declared through rabbitmqadmin-free rabbitmqctl eval (no AMQP client here).
    ctl(first, "eval", 'rabbit_amqqueue:declare(rabbit_misc:r(<<"/">>, queue, <<"ingest">>), true, false, '
        f'[{{<<"x-queue-type">>, longstr, <<"quorum">>}}, {{<<"x-quorum-initial-group-size">>, long, {args.nodes}}}], '
        'none, <<"bench">>).')
    ctl(first, "eval", 'rabbit_binding:add({binding, rabbit_misc:r(<<"/">>, exchange, <<"amq.topic">>), '
        '<<"chaoyun.v1.devices.*.telemetry">>, rabbit_misc:r(<<"/">>, queue, <<"ingest">>), []}, <<"bench">>).')
    uids = [f"meter-{i:05d}" for i in range(args.devices)]
    cpu0 = [_proc_cpu(n["proc"].pid) for n in nodes]
    sent, acked, took = _publish(uids, [n["mqtt"] for n in nodes], "meters", "meters-pw", args.rate, args.seconds,
                                 args.procs)
    cpu = sum(_proc_cpu(n["proc"].pid) for n in nodes) - sum(cpu0)
    time.sleep(2)
    out = ctl(first, "list_queues", "-q", "name", "messages")
    queued = int(next(line.split()[1] for line in out.splitlines() if line.startswith("ingest")))
    return {"broker": f"rabbitmq {args.nodes} node(s), quorum queue ({args.nodes} replicas)", "devices": args.devices,
            "offered_msgs_per_s": round(sent / took), "acked_msgs_per_s": round(acked / took),
            "broker_cpu_us_per_acked_msg": round(1e6 * cpu / max(acked, 1), 1),
            "sent": sent, "acked": acked, "queued": queued, "acked_missing": max(0, acked - queued)}


def _proc_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the Erlang VM runs under rabbitmq-server's shell)."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for q in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = q.cpu_times()
            total += t.user + t.system
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", choices=("nats", "rabbitmq"), default="nats")
    ap.add_argument("--devices", type=int, default=300)
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--procs", type=int, default=1, help="publisher processes")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--kill-node", action="store_true", help="kill node n2 at 1/3 of the run, restart it at 2/3")
    ap.add_argument("--nodes", type=int, default=3, help="--broker rabbitmq: cluster nodes (1: a single node)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-log-"))
    atexit.register(shutil.rmtree, tmp, True)
    load = os.getloadavg()
    result = run_nats(args, tmp) if args.broker == "nats" else run_rabbitmq(args, tmp)
    result["load_avg_before"] = [round(x, 2) for x in load]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"ingest_log_{args.broker}.json").write_text(json.dumps(result, indent=1))
    for k, v in result.items():
        print(f"{k:<28} {v}")
    missing = result.get("acked_rows_missing", result.get("acked_missing", 0))
    if missing:
        raise SystemExit(f"LOSS: {missing} acknowledged {'rows' if args.broker == 'nats' else 'messages'} missing")


if __name__ == "__main__":
    main()
