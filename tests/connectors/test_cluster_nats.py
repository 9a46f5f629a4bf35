"""Ingest over a three-node NATS JetStream cluster (MQTT listeners, stream replicas 3) on loopback ports: devices
stream points over MQTT QoS 1 while one broker node and one ``chaoyun ingest-worker --source nats`` process are
killed (SIGKILL) and restarted; every point the cluster acknowledged is stored, and stored once."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session

from chaoyun.devices.connectors import broker, nats_broker, topics
from chaoyun.devices.connectors.nats_broker import LocalCluster
from chaoyun.devices.store import get_store
from tests.connectors.helpers import make_device, wait_for
from tests.test_route_security import org_of

pytestmark = pytest.mark.skipif(not Path(nats_broker.NATS_SERVER).exists(), reason="nats-server not installed")

PLATFORM_USER, PLATFORM_PW = "platform", secrets.token_hex(8)
BASE_MS = int(time.time() * 1000) - 3_600_000


@pytest.fixture()
def tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="chaoyun-nats-"))
    yield d
    if not os.environ.get("CHAOYUN_KEEP_TEST_TMP"):
        shutil.rmtree(d, ignore_errors=True)


def start_worker(cluster: LocalCluster, tmp: Path, name: str, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    mqtt_node = cluster.nodes[0]
    env["CHAOYUN_MQTT_URL"] = f"mqtt://{PLATFORM_USER}:{PLATFORM_PW}@127.0.0.1:{mqtt_node.mqtt_port}"
    log = (tmp / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "chaoyun.cli", "ingest-worker", "--source", "nats", "--client-id", name,
         "--batch", "200", "--nats-url", ",".join(cluster.client_urls(PLATFORM_USER, PLATFORM_PW)), *extra],
        env=env, stdout=log, stderr=log,
    )


class Device:
    """One device's MQTT client on one node: publishes numbered messages at QoS 1 and tells which ones the
    cluster acknowledged (PUBACK)."""

    def __init__(self, uid: str, password: str, port: int) -> None:
        self.uid = uid
        self.infos: list[tuple[int, mqtt.MQTTMessageInfo]] = []
        self.backlog: list[int] = []
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{uid}-c", protocol=mqtt.MQTTv311)
        self.c.username_pw_set(uid, password)
        self.c.reconnect_delay_set(0.2, 1)
        self.c.max_inflight_messages_set(50)
        self.c.connect("127.0.0.1", port, keepalive=5)
        self.c.loop_start()

    def publish(self, i: int) -> None:
        """Send message i, after any kept while the device's node was down (a device keeps what it could not
        send, as the gateway's buffer does)."""
        self.backlog.append(i)
        if not self.c.is_connected():
            return
        for j in self.backlog:
            body = json.dumps(
                {"ts": BASE_MS + j * 1000, "values": {"voltage": 220 + j % 7, "current": 5.0, "power": j}}
            )
            self.infos.append((j, self.c.publish(topics.telemetry(self.uid), body, qos=1)))
        self.backlog.clear()

    @property
    def acked(self) -> set[int]:
        done = set()
        for i, info in self.infos:
            try:
                if info.is_published():
                    done.add(i)
            except (RuntimeError, ValueError):  # refused by the client (disconnected at that moment)
                pass
        return done

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def stored_ts(device_id: int) -> list[int]:
    start, end = datetime.fromtimestamp((BASE_MS - 1000) / 1000, UTC), datetime.now(UTC)
    return [int(t.timestamp() * 1000) for t, _v, _x in get_store().raw(device_id, "voltage", start, end)]


def test_acknowledged_points_survive_node_and_worker_loss(db: Session, tmp: Path) -> None:
    org = org_of(db, "factory")
    devs = [make_device(db, org.id) for _ in range(3)]
    # Credentials and ACLs from the registry (deny by default); NATS checks clear or bcrypt passwords only, so
    # the test hands the clear ones it knows.
    accounts = broker.collect_accounts(db, platform_password=PLATFORM_PW)
    accounts.append(broker.platform_account(PLATFORM_USER, ""))
    passwords = {d.uid: pw for d, pw in devs} | {PLATFORM_USER: PLATFORM_PW}
    cfg = nats_broker.render_users(accounts, platform_user=PLATFORM_USER, passwords=passwords)
    cluster = LocalCluster(tmp / "nats", cfg.users).use_admin(PLATFORM_USER, PLATFORM_PW).start()
    workers: dict[str, subprocess.Popen[bytes]] = {}
    devices: list[Device] = []
    try:
        cluster.wait_ready(90)
        # A crashed worker's fetched messages go to another after 3 s (30 s by default).
        setup = start_worker(cluster, tmp, "setup", "--setup-only", "--ack-wait", "3")
        assert setup.wait(timeout=90) == 0, (tmp / "setup.log").read_text()
        workers = {n: start_worker(cluster, tmp, n) for n in ("w1", "w2")}
        devices = [Device(d.uid, pw, cluster.nodes[i].mqtt_port) for i, (d, pw) in enumerate(devs)]
        wait_for(lambda: all(d.c.is_connected() for d in devices), 20, what="devices connected")
        # Deny by default: a device publishing on another device's topic gets nothing stored.
        intruder = devices[0]
        for j in range(5):
            body = json.dumps({"ts": BASE_MS + (10_000 + j) * 1000, "values": {"voltage": 1.0}})
            intruder.c.publish(topics.telemetry(devices[1].uid), body, qos=1)
        n = 600
        for i in range(n):
            for d in devices:
                d.publish(i)
            time.sleep(0.01)
            if i == n // 3:
                cluster.kill("n2")  # a broker node crashes (its device reconnects when it is back)
                workers.pop("w1").kill()  # and an ingest worker, mid-batch
            if i == n // 2:
                cluster.start("n2")
                workers["w1"] = start_worker(cluster, tmp, "w1")
        wait_for(lambda: all(d.c.is_connected() for d in devices), 30, what="devices reconnected")
        for d in devices:
            d.publish(n)  # and what they kept
        with contextlib.suppress(AssertionError):  # a few may be refused by the node as it died: not acknowledged
            wait_for(lambda: all(len(d.acked) == n + 1 for d in devices), 30, interval=0.2, what="messages acked")
        acked = {d.uid: d.acked for d in devices}
        assert sum(map(len, acked.values())) >= 0.9 * 3 * (n + 1), {u: len(a) for u, a in acked.items()}

        def all_stored() -> bool:
            return all(acked[d.uid] <= {(t - BASE_MS) // 1000 for t in stored_ts(dev.id)} for d, (dev, _pw)
                       in zip(devices, devs, strict=True))

        wait_for(all_stored, 60, interval=0.5, what="every acknowledged point stored")
        time.sleep(1.0)  # let any redelivery land before counting
        assert all(t < BASE_MS + 10_000 * 1000 for t in stored_ts(devs[1][0].id)), "another device's topic was open"
        for dev, _pw in devs:
            ts = stored_ts(dev.id)
            assert len(ts) == len(set(ts)), "a point was stored twice"
            assert get_store().count(dev.id) == 3 * len(ts), "the store counts a point more than once"
        for w in workers.values():
            assert w.poll() is None, "a worker died"
    finally:
        for d in devices:
            d.close()
        for w in workers.values():
            w.terminate()
        for w in workers.values():
            try:
                w.wait(timeout=15)
            except subprocess.TimeoutExpired:
                w.kill()
        cluster.stop()
