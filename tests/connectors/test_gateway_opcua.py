"""The OPC UA path through the edge gateway itself, against a real asyncua server with Basic256Sha256
SignAndEncrypt and a user name: values reach the platform's store through the buffer, the broker and the ingest
worker; the OPC UA server restarted mid-run → the gateway reconnects and every value reaches the store once, in
order; a write-back command to an OPC UA node goes through the gateway, the node's value changes and the result
is reported. The gateway reads its configuration from a YAML file whose certificate paths are relative to it."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session

from chaoyun.devices.connectors import commands
from chaoyun.devices.connectors.certs import make_self_signed
from chaoyun.devices.connectors.gateway import Gateway, load_config
from chaoyun.devices.connectors.models import Command
from chaoyun.devices.store import get_store
from tests.connectors.helpers import (
    Ingest,
    Mosquitto,
    Threaded,
    actor_for,
    free_port,
    make_device,
    run_async,
    setpoint_model,
    wait_for,
)
from tests.connectors.opcua_sim import SERVER_URI, OpcUaSim
from tests.test_route_security import org_of

GATEWAY_URI = "urn:chaoyun:gateway:opcua-test"


class SimThread:
    """The OPC UA server in its own thread and event loop (the gateway runs in another), restartable."""

    def __init__(self, port: int, cert: Path, key: Path) -> None:
        self.sim = OpcUaSim(port, cert, key)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture()
def setup(db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    certs_dir = tmp_path / "gw"
    server_cert, server_key = make_self_signed(tmp_path / "server", "server", SERVER_URI, ("localhost", "127.0.0.1"))
    make_self_signed(certs_dir, "gateway", GATEWAY_URI)
    sim = SimThread(free_port(), server_cert, server_key)
    sim.run(sim.sim.start(temp=21.5))
    broker = Mosquitto().start()
    monkeypatch.setenv("CHAOYUN_MQTT_URL", broker.url)
    ingest = Ingest(broker).start()
    org = org_of(db, "factory")
    dev, _ = make_device(db, org.id, model=setpoint_model(db))
    s = sim.sim
    doc = {
        "gateway": {"uid": f"gw-{secrets.token_hex(3)}", "buffer": "buffer.db", "config_source": "local"},
        "platform": {"transport": "mqtt", "mqtt_url": broker.url, "batch": 200, "retry_max_s": 1, "ack_timeout_s": 3},
        "devices": [{
            "uid": dev.uid, "protocol": "opcua", "url": s.url, "username": "gw", "password": "secret",
            "publishing_interval_ms": 50, "timeout_s": 3,
            # Relative to the configuration file, not to the folder the gateway is started from.
            "security": {"policy": "Basic256Sha256", "mode": "SignAndEncrypt", "certificate": "gateway-cert.der",
                         "private_key": "gateway-key.pem", "application_uri": GATEWAY_URI},
            "nodes": [{"metric": "temperature", "node_id": s.node_id("Temp")},
                      {"metric": "cycle_count", "node_id": s.node_id("Count")},
                      {"metric": "setpoint", "node_id": s.node_id("Setpoint"), "writable": True}],
        }],
    }
    (certs_dir / "gateway.yaml").write_text(yaml.safe_dump(doc))
    cwd = os.getcwd()
    os.chdir(tmp_path)  # anywhere but the configuration's folder
    try:
        gw = Gateway(load_config(certs_dir / "gateway.yaml"))
    finally:
        os.chdir(cwd)
    thread = Threaded(gw).start()
    collector = None

    def connected() -> bool:
        nonlocal collector
        collector = gw.collectors.get(dev.uid)
        return collector is not None and collector.connected.is_set()

    wait_for(connected, 40, what="the gateway's OPC UA session (Basic256Sha256 SignAndEncrypt)")
    yield {"db": db, "dev": dev, "gw": gw, "sim": sim, "collector": collector, "broker": broker, "ingest": ingest,
           "actor": actor_for(db, "factory"), "thread": thread}
    thread.stop()
    ingest.stop()
    broker.stop()
    sim.close()


def _latest(dev_id: int, metric: str) -> Any:
    v = get_store().latest(dev_id).get(metric)
    return None if v is None else v.value


def _series(dev_id: int, metric: str) -> list[float | None]:
    now = datetime.now(UTC)
    return [v for _ts, v, _t in get_store().raw(dev_id, metric, now - timedelta(hours=1), now + timedelta(hours=1))]


def test_values_reach_the_store_across_a_server_restart(setup: dict[str, Any]) -> None:
    dev, sim, gw, collector = setup["dev"], setup["sim"], setup["gw"], setup["collector"]
    wait_for(lambda: _latest(dev.id, "temperature") == pytest.approx(21.5), 20, what="first value stored")
    # Each value waits for the previous one to be stored: an OPC UA monitored item (queue size 1) keeps only the
    # newest change per publishing interval, which is the server's business, not the gateway's.
    for i in range(1, 7):
        sim.run(sim.sim.set("Count", i))
        wait_for(lambda i=i: _latest(dev.id, "cycle_count") == i, 20, what=f"count {i} stored")

    sim.run(sim.sim.stop())
    wait_for(lambda: not collector.connected.is_set(), 20, what="the gateway notices the server is gone")
    sim.run(sim.sim.start(temp=22.0, count=100))
    wait_for(lambda: collector.connected.is_set() and collector.connects == 2, 60, what="the gateway reconnects")
    wait_for(lambda: _latest(dev.id, "cycle_count") == 100, 20, what="the restarted server's value stored")
    for i in range(101, 106):
        sim.run(sim.sim.set("Count", i))
        wait_for(lambda i=i: _latest(dev.id, "cycle_count") == i, 20, what=f"count {i} stored")

    wait_for(lambda: gw.buffer.pending() == 0, 10, what="the buffer drained")
    # Every value once, in the order of its timestamps: nothing lost, nothing duplicated, nothing reordered. The
    # latest value is visible to this process before its row commits, so give the last row a moment to land.
    expected = [0, 1, 2, 3, 4, 5, 6, 100, 101, 102, 103, 104, 105]
    wait_for(lambda: len(_series(dev.id, "cycle_count")) >= len(expected), 10, what="the last count's row stored")
    assert _series(dev.id, "cycle_count") == expected
    assert _series(dev.id, "temperature") == [pytest.approx(21.5), pytest.approx(22.0)]
    assert gw.collected == get_store().count(dev.id)


def test_write_back_to_an_opcua_node(setup: dict[str, Any]) -> None:
    db, dev, sim, actor = setup["db"], setup["dev"], setup["sim"], setup["actor"]
    wait_for(lambda: _latest(dev.id, "setpoint") == pytest.approx(50.0), 20, what="initial setpoint stored")
    wait_for(lambda: setup["gw"].link.connected.is_set(), 10, what="the gateway's MQTT session")

    def status(cid: int) -> tuple[str, str]:
        db.expire_all()
        c = db.get(Command, cid)
        assert c is not None
        return c.status, c.message

    cmd = commands.send_command(db, actor, dev.id, "setpoint", 63.5)
    assert cmd.status == "sent"
    wait_for(lambda: status(cmd.id)[0] == "succeeded", 20, what="command succeeded")
    assert sim.run(sim.sim.get("Setpoint")) == pytest.approx(63.5)
    wait_for(lambda: _latest(dev.id, "setpoint") == pytest.approx(63.5), 20, what="the node's new value read back")

    # Writable in the device model but not in this gateway's node map: refused by the gateway, with the reason.
    bad = commands.send_command(db, actor, dev.id, "speed_setpoint", 10)
    wait_for(lambda: status(bad.id)[0] == "failed", 20, what="command failed")
    assert "not a writable node" in status(bad.id)[1]

    # While the OPC UA server is down the write fails (reported), and works again once it is back.
    sim.run(sim.sim.stop())
    wait_for(lambda: not setup["collector"].connected.is_set(), 20, what="server gone")
    down = commands.send_command(db, actor, dev.id, "setpoint", 70)
    wait_for(lambda: status(down.id)[0] == "failed", 20, what="command failed while the server is down")
    assert "not connected" in status(down.id)[1]
    sim.run(sim.sim.start(setpoint=63.5))
    wait_for(lambda: setup["collector"].connected.is_set(), 60, what="reconnected")
    again = commands.send_command(db, actor, dev.id, "setpoint", 71.25)
    wait_for(lambda: status(again.id)[0] == "succeeded", 20, what="command succeeded after the restart")
    assert sim.run(sim.sim.get("Setpoint")) == pytest.approx(71.25)


def test_a_stopping_collector_hands_over_what_it_received(tmp_path: Path) -> None:
    """Data changes already received when the collector stops (gateway stop, pushed configuration) are emitted,
    not dropped with the queue."""
    from chaoyun.devices.connectors.opcua import OpcUaCollector, OpcUaDevice

    got: list[dict[str, Any]] = []

    async def emit(uid: str, ts: datetime, values: dict[str, Any]) -> None:
        got.append(values)

    async def scenario() -> None:
        dev = OpcUaDevice.from_dict({"uid": "d", "url": f"opc.tcp://127.0.0.1:{free_port()}",
                                     "nodes": [{"metric": "cycle_count", "node_id": "ns=2;s=X"}]})
        c = OpcUaCollector(dev, emit)
        for i in range(3):
            c.queue.put_nowait((datetime.now(UTC), {"cycle_count": i}))
        stop = asyncio.Event()
        stop.set()
        await c.run(stop)

    run_async(scenario())
    assert got == [{"cycle_count": 0}, {"cycle_count": 1}, {"cycle_count": 2}]
