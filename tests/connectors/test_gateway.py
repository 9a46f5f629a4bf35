"""The edge gateway end to end: Modbus machine → gateway → (network cut) → broker → ingest worker → store,
counting every reading; configuration pushed from the platform; write-back commands with results; HTTP
forwarding and configuration fetch; the store-and-forward buffer's order and durability."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.devices.connectors import commands
from chaoyun.devices.connectors.buffer import Buffer
from chaoyun.devices.connectors.gateway import ConfigError, Gateway, load_config, parse_config
from chaoyun.devices.connectors.models import Command
from chaoyun.devices.connectors.models import Gateway as GatewayRow
from chaoyun.devices.store import get_store
from chaoyun.identity.models import AuditEntry
from tests.connectors.helpers import (
    Ingest,
    Mosquitto,
    Threaded,
    actor_for,
    free_port,
    make_device,
    setpoint_model,
    wait_for,
)
from tests.connectors.modbus_sim import ModbusSim
from tests.test_route_security import org_of


class SimThread:
    """A Modbus server in its own thread/loop (the gateway runs in another)."""

    def __init__(self, port: int) -> None:
        self.sim = ModbusSim(port)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.sim.start())
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture()
def modbus() -> Iterator[SimThread]:
    s = SimThread(free_port())
    s.sim.input[0] = 2300  # voltage ×0.1
    s.sim.input[1] = 52  # current ×0.1
    yield s
    s.stop()


def _meter_device(uid: str, port: int, interval: float = 0.05) -> dict[str, Any]:
    return {
        "uid": uid,
        "protocol": "modbus",
        "host": "127.0.0.1",
        "port": port,
        "unit": 1,
        "interval_s": interval,
        "timeout_s": 1,
        "registers": [
            {"metric": "voltage", "table": "input", "address": 0, "type": "uint16", "scale": 0.1},
            {"metric": "current", "table": "input", "address": 1, "type": "uint16", "scale": 0.1},
        ],
    }


def _config(tmp: Path, uid: str, mqtt_port: int, devices: list[dict[str, Any]], **platform: Any) -> dict[str, Any]:
    return {
        "gateway": {"uid": uid, "buffer": str(tmp / f"{uid}.db")},
        "platform": {
            "transport": "mqtt",
            "mqtt_url": f"mqtt://127.0.0.1:{mqtt_port}",
            "batch": 200,
            "retry_max_s": 1,
            "ack_timeout_s": 3,
            **platform,
        },
        "devices": devices,
    }


def test_network_cut_loses_nothing_and_catches_up(db: Session, tmp_path: Path, modbus: SimThread) -> None:
    org = org_of(db, "factory")
    dev, _ = make_device(db, org.id)
    # The platform's persistent session must exist before data flows (as in production, where the ingest
    # workers' sessions live in the broker): create it, then cut the network before the gateway starts.
    broker = Mosquitto().start()
    ingest = Ingest(broker).start()
    ingest.stop()
    broker.stop()
    gw = Gateway(parse_config(_config(tmp_path, f"g{secrets.token_hex(3)}", broker.port,
                                      [_meter_device(dev.uid, modbus.sim.port)])))
    gw_thread = Threaded(gw).start()
    wait_for(lambda: gw.buffer.pending() >= 20, 15, what="readings buffered while the network is down")
    assert gw.sent == 0

    broker.start()
    ingest.start()
    wait_for(lambda: gw.sent >= 20 and get_store().count(dev.id) >= 40, 30, what="catch-up after the cut")

    # A second cut in the middle of the run (broker down for a while), then back.
    broker.stop()
    time.sleep(1.5)
    broker.start()
    time.sleep(1.0)
    gw_thread.stop()  # collectors stop, the buffer is flushed as far as possible, the rest stays on disk
    collected = gw.collected
    assert collected >= 40
    left = Buffer(gw.config.buffer_path)
    if left.pending():
        # Whatever was still buffered is sent by the next start of the gateway (same buffer file).
        left.close()
        gw2 = Gateway(parse_config(_config(tmp_path, gw.config.uid, broker.port, [])))
        t2 = Threaded(gw2).start()
        wait_for(lambda: gw2.buffer.pending() == 0, 20, what="the restarted gateway drains its buffer")
        t2.stop()
    else:
        left.close()
    try:
        wait_for(lambda: get_store().count(dev.id) == 2 * collected, 30, what="all readings stored")
    except AssertionError as exc:
        w = ingest.worker.stats.as_dict() if ingest.worker else {}
        raise AssertionError(
            f"{exc}: stored {get_store().count(dev.id)} points of {collected} readings; gateway sent {gw.sent}, "
            f"worker {w}, broker log {broker.log}"
        ) from None
    ingest.stop()
    broker.stop()


def test_buffer_keeps_order_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "buf.db"
    b = Buffer(path, max_rows=1000)
    b.append([("d1", "telemetry", {"ts": i, "values": {"v": i}}) for i in range(10)])
    b.close()
    b = Buffer(path, max_rows=1000)
    first = b.peek(4)
    assert [e.payload["ts"] for e in first] == [0, 1, 2, 3]
    b.ack(first[-1].id)
    assert [e.payload["ts"] for e in b.peek(100)] == list(range(4, 10))
    b.append([("d1", "telemetry", {"ts": 100 + i}) for i in range(995)])
    assert b.pending() == 1000 and b.dropped == 1  # full: the oldest goes, and it is counted
    b.close()


def test_config_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gateway\.uid"):
        parse_config({"platform": {}})
    with pytest.raises(ConfigError, match="protocol"):
        parse_config({"gateway": {"uid": "g"}, "devices": [{"uid": "x", "protocol": "bacnet"}]})
    with pytest.raises(ConfigError, match="register type"):
        reg = {"metric": "m", "address": 0, "type": "x"}
        parse_config(
            {"gateway": {"uid": "g"}, "devices": [{"uid": "x", "protocol": "modbus", "host": "h", "registers": [reg]}]}
        )
    f = tmp_path / "gw.yaml"
    f.write_text("gateway: {uid: g1, buffer: b.db}\nplatform: {transport: http, http_url: 'http://x'}\ndevices: []\n")
    cfg = load_config(f)
    assert cfg.platform.transport == "http" and cfg.buffer_path == str(tmp_path / "b.db")


def test_pushed_config_and_write_back(
    db: Session, tmp_path: Path, modbus: SimThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Mosquitto().start()
    monkeypatch.setenv("CHAOYUN_MQTT_URL", broker.url)
    org = org_of(db, "factory")
    actor = actor_for(db, "factory")
    dev, _ = make_device(db, org.id, model=setpoint_model(db))
    row, _token, _pw = commands.create_gateway(db, actor, org.id, f"gw-{secrets.token_hex(3)}", "车间网关")
    ingest = Ingest(broker).start()
    gw = Gateway(parse_config(_config(tmp_path, row.uid, broker.port, [])))
    gw_thread = Threaded(gw).start()
    time.sleep(0.5)

    text = f"""devices:
  - uid: {dev.uid}
    protocol: modbus
    host: 127.0.0.1
    port: {modbus.sim.port}
    interval_s: 0.1
    registers:
      - {{metric: temperature, table: holding, address: 0, type: int16, scale: 0.1}}
      - {{metric: setpoint, table: holding, address: 20, type: int16, scale: 0.1, writable: true}}
"""
    commands.update_config(db, actor, row.id, text)
    wait_for(lambda: gw.config.version == 2 and dev.uid in gw.collectors, 15, what="config applied by the gateway")

    def applied() -> bool:
        db.expire_all()
        return db.get(GatewayRow, row.id).applied_version == 2  # type: ignore[union-attr]

    wait_for(applied, 15, what="the platform sees the applied version")
    wait_for(lambda: get_store().count(dev.id) > 0, 15, what="readings of the pushed device")

    cmd = commands.send_command(db, actor, dev.id, "setpoint", 72.5)
    assert cmd.status == "sent"

    def status(c: Command) -> str:
        db.expire_all()
        return db.get(Command, c.id).status  # type: ignore[union-attr]

    wait_for(lambda: status(cmd) == "succeeded", 15, what="command succeeded")
    assert modbus.sim.server is not None
    # The gateway wrote the register (72.5 / 0.1 = 725), and reads it back as telemetry.
    wait_for(
        lambda: (get_store().latest(dev.id).get("setpoint") or _none()).value == pytest.approx(72.5),
        10,
        what="setpoint read back",
    )
    # A writable metric of the model that this gateway's map does not make writable fails, with the reason.
    bad = commands.send_command(db, actor, dev.id, "speed_setpoint", 10)
    wait_for(lambda: status(bad) == "failed", 15, what="command failed")
    db.expire_all()
    assert "not a writable" in db.get(Command, bad.id).message  # type: ignore[union-attr]
    actions = set(
        db.execute(
            select(AuditEntry.action).where(AuditEntry.object_type == "device", AuditEntry.object_id == str(dev.id))
        ).scalars()
    )
    assert {"device.command", "device.command_result"} <= actions
    n_cfg = db.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "gateway.config"))
    assert n_cfg.scalar_one() >= 1
    gw_thread.stop()
    ingest.stop()
    broker.stop()


class _None:
    value = None


def _none() -> Any:
    return _None()


def test_command_validation(db: Session) -> None:
    from chaoyun.errors import Invalid, NotFound

    org = org_of(db, "factory")
    actor = actor_for(db, "factory")
    dev, _ = make_device(db, org.id, model=setpoint_model(db))
    with pytest.raises(Invalid):
        commands.send_command(db, actor, dev.id, "temperature", 1)  # not writable
    with pytest.raises(Invalid):
        commands.send_command(db, actor, dev.id, "setpoint", 999)  # out of range
    with pytest.raises(Invalid):
        commands.send_command(db, actor, dev.id, "setpoint", "hot")
    other = actor_for(db, "factory2")
    with pytest.raises(NotFound):
        commands.send_command(db, other, dev.id, "setpoint", 10)


def test_http_forwarding_and_config_fetch(db: Session, tmp_path: Path, modbus: SimThread, live_server: str) -> None:
    org = org_of(db, "factory")
    actor = actor_for(db, "factory")
    dev, _ = make_device(db, org.id)
    row, token, _pw = commands.create_gateway(db, actor, org.id, f"gw-{secrets.token_hex(3)}", "HTTP 网关")
    commands.update_config(
        db,
        actor,
        row.id,
        "devices:\n" + "\n".join("  " + line for line in _yaml_device(dev.uid, modbus.sim.port).splitlines()) + "\n",
    )
    cfg = _config(tmp_path, row.uid, 1, [], transport="http", http_url=live_server, token=token, config_poll_s=1)
    gw = Gateway(parse_config(cfg))
    t = Threaded(gw).start()
    wait_for(lambda: gw.config.version == 2, 15, what="config fetched over HTTP")
    wait_for(lambda: gw.sent >= 10, 20, what="readings forwarded over HTTP")
    t.stop()
    wait_for(lambda: get_store().count(dev.id) >= 20, 10, what="stored")
    left = Buffer(gw.config.buffer_path)
    pending = left.pending()
    left.close()
    assert get_store().count(dev.id) == 2 * (gw.collected - pending)
    db.expire_all()
    assert db.get(GatewayRow, row.id).applied_version == 2  # type: ignore[union-attr]


def _yaml_device(uid: str, port: int) -> str:
    return f"""- uid: {uid}
  protocol: modbus
  host: 127.0.0.1
  port: {port}
  interval_s: 0.05
  registers:
    - {{metric: voltage, table: input, address: 0, type: uint16, scale: 0.1}}
    - {{metric: current, table: input, address: 1, type: uint16, scale: 0.1}}"""
