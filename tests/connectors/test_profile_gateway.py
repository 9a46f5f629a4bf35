"""A machine the catalogue does not know, end to end with the real pieces: an enterprise defines a 吹塑机
(blow-moulding machine) profile with a Modbus register map, registers a device of it, sets where its gateway
reaches it, downloads the generated ``chaoyun gateway --config`` file; the real gateway reads a real pymodbus
server by that file and forwards over a real Mosquitto to the ingest worker; the readings arrive as the
profile's metrics, and the machine state (from the profile's value map) is what the OEE app reads."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy.orm import Session

from chaoyun.devices.connectors.gateway import Gateway, load_config
from chaoyun.devices.models import Device
from chaoyun.devices.store import get_store
from tests.connectors.helpers import Ingest, Mosquitto, Threaded, wait_for
from tests.connectors.test_gateway import SimThread, modbus  # noqa: F401 - the fixture

BLOW_MOULDER = """key: {key}
name_zh: 吹塑机
name_en: Blow moulding machine
category: moulding
ideal_cycle_s: 12
metrics:
  - {{key: status, name_zh: 状态码, name_en: Status code, type: enum,
     labels: {{"1": 运行, "2": 待机, "3": 故障, "4": 换模}}}}
  - {{key: shots, name_zh: 累计模次, name_en: Shot counter, type: number, min: 0, max: 4000000000}}
  - {{key: rejects, name_zh: 累计废品, name_en: Reject counter, type: number, min: 0, max: 65535}}
  - {{key: parison_temp, name_zh: 型坯温度, name_en: Parison temperature, type: number, unit: °C, min: 0,
     max: 300, precision: 1}}
  - {{key: kwh, name_zh: 累计电能, name_en: Energy, type: number, unit: kWh, min: 0, max: 100000}}
state: {{metric: status, map: {{"1": run, "2": idle, "3": down, "4": setup}}}}
counters: {{cycle: shots, reject: rejects}}
energy: kwh
connectors:
  modbus:
    registers:
      - {{metric: status, address: 0, table: input, type: uint16}}
      - {{metric: shots, address: 1, table: input, type: uint32}}
      - {{metric: rejects, address: 3, table: input, type: uint16}}
      - {{metric: parison_temp, address: 4, table: input, type: int16, scale: 0.1}}
      - {{metric: kwh, address: 5, table: input, type: uint16, scale: 0.1}}
"""


def test_new_machine_profile_to_gateway_to_oee(
    db: Session, login: Any, tmp_path: Path, modbus: SimThread, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    broker = Mosquitto().start()
    monkeypatch.setenv("CHAOYUN_MQTT_URL", broker.url)
    client = login("factory2")
    key = f"blow_{secrets.token_hex(3)}"

    # 1. The enterprise defines the profile (YAML, as the page and the API take it).
    r = client.post("/api/v1/device-profiles", json={"text": BLOW_MOULDER.format(key=key)})
    assert r.status_code == 201, r.text
    profile = r.json()
    assert {m["key"] for m in profile["document"]["metrics"]} == {"status", "shots", "rejects", "parison_temp", "kwh"}

    # 2. A device of it, a gateway, and where the gateway reaches the machine.
    r = client.post("/api/v1/devices", json={"name": f"吹塑机 {key}", "model": key, "workshop": "吹塑车间"})
    assert r.status_code == 201, r.text
    dev_id = r.json()["device"]["id"]
    gw_uid = f"gw-{secrets.token_hex(3)}"
    r = client.post("/api/v1/gateways", json={"uid": gw_uid, "name": "吹塑车间网关"})
    assert r.status_code == 201, r.text
    gw_id = r.json()["id"]
    r = client.request("PUT", f"/api/v1/devices/{dev_id}/connection", json={
        "gateway": gw_uid, "protocol": "modbus", "host": "127.0.0.1", "port": modbus.sim.port, "unit": 1,
        "interval_s": 0.1})
    assert r.status_code == 200, r.text

    # 3. The generated gateway file: exactly what `chaoyun gateway --config` reads.
    per_device = client.get(f"/api/v1/devices/{dev_id}/gateway-config")
    assert per_device.status_code == 200, per_device.text
    r = client.get(f"/api/v1/gateways/{gw_id}/generated-config")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    doc = yaml.safe_load(r.text)
    assert doc["gateway"]["uid"] == gw_uid and len(doc["devices"]) == 1
    regs = {x["metric"]: x for x in doc["devices"][0]["registers"]}
    assert regs["parison_temp"] == {"metric": "parison_temp", "address": 4, "table": "input", "type": "int16",
                                    "scale": 0.1}
    f = tmp_path / "gateway.yaml"
    f.write_text(r.text)
    config = load_config(f)  # the gateway's own loader; the broker here takes any password
    assert config.platform.mqtt_url.startswith(f"mqtt://gw-{gw_uid}:") and config.devices[0].port == modbus.sim.port

    # 4. The machine runs: registers as a blow moulder's PLC would hold them.
    sim = modbus.sim
    sim.input[0] = 1  # running
    sim.input[1], sim.input[2] = 0, 1500  # 1500 shots (uint32, big word first)
    sim.input[3] = 7
    sim.input[4] = 1855  # 185.5 °C
    sim.input[5] = 1234  # 123.4 kWh
    ingest = Ingest(broker).start()
    gw = Gateway(config)
    gw_thread = Threaded(gw).start()
    store = get_store()
    try:
        wait_for(lambda: "parison_temp" in store.latest(dev_id) and "state" in store.latest(dev_id), 30,
                 what="the profile's metrics arriving through the gateway")
        latest = store.latest(dev_id)
        assert latest["parison_temp"].value == pytest.approx(185.5)
        assert latest["shots"].value == 1500 and latest["rejects"].value == 7
        assert latest["kwh"].value == pytest.approx(123.4)
        assert latest["status"].text == "1" and latest["state"].text == "running"
        # A mould change: the PLC's status 4 is the profile's setup.
        sim.input[0] = 4
        wait_for(lambda: store.latest(dev_id)["state"].text == "setup", 20, what="state setup")
    finally:
        gw_thread.stop()
        ingest.stop()
        broker.stop()
    assert not db.query(Device).filter(Device.id == dev_id).one().model.builtin

    # 5. The OEE app reads the state and counters by the profile's roles, not by a model key.
    from chaoyun.apps.oee import compute as oc
    from chaoyun.apps.oee import service as oee

    db.expire_all()
    device = db.get(Device, dev_id)
    assert device is not None
    roles = oee._roles(device)
    assert roles["state"] == "state" and roles["cycle_counter"] == "shots" and roles["reject_count"] == "rejects"
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    states = [r[2] for r in store.raw(dev_id, roles["state"], now - timedelta(hours=1), now + timedelta(minutes=1))]
    assert states[0] == "running" and states[-1] == "setup"
    assert list(oc.encode_states(["running", "setup"])) == [oc.STATE_CODES["running"], oc.STATE_CODES["setup"]]
    # Before 08:00 the night shift belongs to the production day it started on: take yesterday too.
    period = oee.compute_period(db, device.org_id, now.date() - timedelta(days=1), now.date(), device_ids=[dev_id])
    assert [m.device.id for m in period.machines] == [dev_id]
    seconds = period.machines[0].result.state_s.sum(axis=0)
    # Default shifts break 00:00-01:00 and 12:00-13:00: no planned time then (the data is up to minutes old).
    if now.hour not in (0, 12) and (now - timedelta(minutes=5)).hour not in (0, 12):
        assert seconds[oc.STATE_CODES["running"]] > 0 and seconds[oc.STATE_CODES["setup"]] >= 0
