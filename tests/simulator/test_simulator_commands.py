"""Write-back to the simulator's virtual machines: setpoints are honoured (the process follows, speed changes the
cycle rate), and end to end through a real Mosquitto started with the generated password file and ACL — a user
sets a value on the device page, the virtual machine applies it and reports the result on the result topic,
the platform marks the command succeeded and stores the new setpoint; bad commands fail with the reason. In
process (no broker) the machines pick up open commands from the database."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices import catalog, demo
from chaoyun.devices.connectors import broker, commands, topics
from chaoyun.devices.connectors.config import BrokerAddress
from chaoyun.devices.connectors.models import Command
from chaoyun.devices.connectors.mqtt_ingest import IngestWorker
from chaoyun.devices.connectors.sink import PlatformSink
from chaoyun.devices.store import get_store
from chaoyun.simulator import runner
from chaoyun.simulator.machines import Machine
from tests.connectors.helpers import Mosquitto, Threaded, free_port, wait_for

DAY = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in China: single-shift firms work


def _machine(model: str, uid: str = "sim-sp") -> Machine:
    spec = catalog.spec(model)
    return Machine(uid, model, spec.ideal_cycle_s, {m.key for m in spec.metrics})


def test_every_demo_model_but_meters_has_a_writable_setpoint() -> None:
    for spec in catalog.MODELS:
        writable = [m for m in spec.metrics if m.writable]
        if spec.key in ("energy_meter", "sewing_line"):
            continue
        assert writable, spec.key
        for m in writable:
            assert m.type == "numeric" and m.min is not None and m.max is not None and m.min < m.max
            assert m.key in _machine(spec.key).setpoints


def test_process_follows_the_setpoint() -> None:
    m = _machine("injection_moulding")
    before = [m.step(DAY + timedelta(seconds=10 * i), 10)["barrel_temp"] for i in range(30)]
    assert max(before) < 245
    assert m.set_setpoint("barrel_temp_sp", 300) == 300
    after = []
    for i in range(30, 150):
        v = m.step(DAY + timedelta(seconds=10 * i), 10)
        assert v["barrel_temp_sp"] == 300
        after.append(v["barrel_temp"])
    assert after[0] < after[-1]  # no jump: the barrel heats up
    assert after[2] < 260 and sum(after[-20:]) / 20 > 270
    for bad in (351, 99, "hot", None, float("nan")):
        with pytest.raises(ValueError):
            m.set_setpoint("barrel_temp_sp", bad)
    with pytest.raises(ValueError, match="not a setpoint"):
        m.set_setpoint("barrel_temp", 200)


def test_speed_setpoint_changes_the_cycle_rate() -> None:
    slow, fast = _machine("circular_knitting", "k1"), _machine("circular_knitting", "k1")
    slow.set_setpoint("speed_sp", 10)
    fast.set_setpoint("speed_sp", 40)
    c0 = slow.cycles
    for i in range(200):
        a, b = slow.step(DAY + timedelta(seconds=30 * i), 30), fast.step(DAY + timedelta(seconds=30 * i), 30)
        if a["state"] == "running" and i > 20:
            assert b["speed"] > 30 > 15 > a["speed"]
    assert (fast.cycles - c0) == pytest.approx(4 * (slow.cycles - c0), rel=1e-6)


@pytest.fixture()
def demo_devices(db: Session) -> list[runner.SimDevice]:
    demo.seed(db)
    devs = runner.load_devices(db, limit=14)  # `factory`'s firm: moulding and packaging machines, compressor, meter
    assert {d.machine.model for d in devs} >= {"injection_moulding", "air_compressor"}
    return devs


def test_set_value_through_the_broker(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, login: Any, demo_devices: list[runner.SimDevice]
) -> None:
    platform_pw = secrets.token_urlsafe(12)
    port = free_port()
    url = f"mqtt://chaoyun-platform:{platform_pw}@127.0.0.1:{port}"
    monkeypatch.setenv("CHAOYUN_MQTT_URL", url)
    out = tmp_path / "broker"
    broker.write_files(out, broker.collect_accounts(db), port=port)  # platform account from CHAOYUN_MQTT_URL
    mosq = Mosquitto(conf=(out / "mosquitto.conf").read_text(), port=port).start()
    worker = IngestWorker(PlatformSink(), address=BrokerAddress.parse(url), client_id=f"ingest-{secrets.token_hex(3)}",
                          group="", batch_max=200, batch_wait_ms=20, session_expiry_s=60)
    wt = Threaded(worker).start()
    wait_for(worker.connected.is_set, 10, what="ingest worker connected")
    transport = runner.Mqtt("127.0.0.1", port)
    stop = threading.Event()
    sim = threading.Thread(target=runner.run, args=(transport, demo_devices, 0.5, None, stop), daemon=True)
    sim.start()
    moulder = next(d for d in demo_devices if d.machine.model == "injection_moulding")
    compressor = next(d for d in demo_devices if d.machine.model == "air_compressor")
    try:
        wait_for(lambda: "barrel_temp_sp" in get_store().latest(moulder.id), 20, what="simulated telemetry stored")
        time.sleep(0.5)  # the machines' SUBACKs

        # The device page's "set value" form (an enterprise admin of the device's firm).
        admin = login("factory")
        r = admin.post(f"/devices/{moulder.id}/commands", {"metric": "barrel_temp_sp", "value": "265"})
        assert r.status_code == 303, r.text
        q = select(Command).where(Command.device_id == moulder.id).order_by(Command.id.desc())
        cmd = db.execute(q).scalars().first()
        # Sent to the device; a quick simulator may already have answered.
        assert cmd is not None and cmd.status in ("sent", "succeeded")

        def status(cid: int) -> tuple[str, str]:
            db.expire_all()
            c = db.get(Command, cid)
            assert c is not None
            return c.status, c.message

        wait_for(lambda: status(cmd.id)[0] == "succeeded", 20, what="the machine's result reached the platform")
        assert moulder.machine.setpoints["barrel_temp_sp"] == 265
        wait_for(lambda: get_store().latest(moulder.id)["barrel_temp_sp"].value == 265, 10, what="new setpoint stored")
        assert "成功" in admin.get(f"/devices/{moulder.id}/commands").text  # "Write succeeded" on the page

        # API, another model.
        api = admin.post(f"/api/v1/devices/{compressor.id}/commands", json={"metric": "pressure_sp", "value": 8.5})
        assert api.status_code == 201, api.text
        wait_for(lambda: status(api.json()["id"])[0] == "succeeded", 20, what="compressor command succeeded")
        assert compressor.machine.setpoints["pressure_sp"] == 8.5

        # A command the platform would never send (out of range) is refused by the machine, with the reason.
        bad = Command(org_id=cmd.org_id, device_id=moulder.id, metric="barrel_temp_sp", value=999, status="sent",
                      requested_by="test")
        db.add(bad)
        db.commit()
        commands.publish(topics.commands(moulder.uid), {"id": bad.id, "metric": "barrel_temp_sp", "value": 999})
        wait_for(lambda: status(bad.id)[0] == "failed", 20, what="the refusal reached the platform")
        assert "outside the range" in status(bad.id)[1]
        assert moulder.machine.setpoints["barrel_temp_sp"] == 265
        assert transport.commands_applied == 2 and transport.commands_failed == 1
    finally:
        stop.set()
        sim.join(10)
        transport.close()
        wt.stop()
        mosq.stop()


def test_inprocess_machines_take_open_commands(db: Session, demo_devices: list[runner.SimDevice]) -> None:
    packer = next(d for d in demo_devices if d.machine.model == "packaging")
    from chaoyun.devices.models import Device

    dev = db.get(Device, packer.id)
    assert dev is not None
    ok = Command(org_id=dev.org_id, device_id=dev.id, metric="seal_temp_sp", value=200.0, status="pending",
                 requested_by="test")
    bad = Command(org_id=dev.org_id, device_id=dev.id, metric="speed", value=1.0, status="sent", requested_by="test")
    db.add_all([ok, bad])
    db.commit()
    transport = runner.InProcess()
    runner.run(transport, [packer], interval_s=0.01, duration_s=0.0)
    db.expire_all()
    assert (db.get(Command, ok.id).status, db.get(Command, bad.id).status) == ("succeeded", "failed")  # type: ignore[union-attr]
    assert packer.machine.setpoints["seal_temp_sp"] == 200.0
    assert get_store().latest(packer.id)["seal_temp_sp"].value == 200.0
