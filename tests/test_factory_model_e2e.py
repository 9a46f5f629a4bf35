"""The factory model end to end, as a new enterprise lives it through the pages and APIs.

A Chenghai factory registered during the test (not a demo one) defines a profile for a machine the catalogue
does not know (a 吹塑机 with a Modbus register map: state, shot / good / reject counters, energy meter),
provisions a device of it, downloads the generated gateway file and runs the real gateway against a real
pymodbus server and a real Mosquitto; it defines an item whose routing names that machine with its own cycle
time, creates and releases a work order; its operator starts the operation on the machine page, the machine
produces (the registers advance), the operator finishes and the quantities come from the machine's counters;
the OEE of the machine uses the item's cycle time, not the profile's default; and the district officer verifies
the enterprise's cloud-adoption declaration, which lists the apps that really ran on its data, with the stars
the programme pack's rules give."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.oee import service as oee
from chaoyun.devices.connectors.gateway import Gateway, load_config
from chaoyun.programme.models import CloudAdoption
from tests.connectors.helpers import Ingest, Mosquitto, Threaded, wait_for
from tests.connectors.test_gateway import SimThread, modbus  # noqa: F401 - the fixture
from tests.programme.test_app_evidence import PASSWORD, _new_factory

PACK = Path(__file__).resolve().parent.parent / "chaoyun" / "programme" / "packs" / "shantou-2018.yaml"
PROFILE_CYCLE_S = 2.0  # the profile's default seconds per shot
ITEM_CYCLE_S = 1.0  # this item's seconds per shot on this machine (a small bottle)

BLOW_MOULDER = """key: {key}
name_zh: 吹塑机
name_en: Blow moulding machine
category: moulding
ideal_cycle_s: {cycle}
metrics:
  - {{key: status, name_zh: 状态码, name_en: Status code, type: enum,
     labels: {{"1": 运行, "2": 待机, "3": 故障, "4": 换模}}}}
  - {{key: shots, name_zh: 累计模次, name_en: Shot counter, type: number, min: 0, max: 4000000000}}
  - {{key: good, name_zh: 累计良品, name_en: Good counter, type: number, min: 0, max: 4000000000}}
  - {{key: rejects, name_zh: 累计废品, name_en: Reject counter, type: number, min: 0, max: 65535}}
  - {{key: kwh, name_zh: 累计电能, name_en: Energy, type: number, unit: kWh, min: 0, max: 100000}}
state: {{metric: status, map: {{"1": run, "2": idle, "3": down, "4": setup}}}}
counters: {{cycle: shots, good: good, reject: rejects}}
energy: kwh
connectors:
  modbus:
    registers:
      - {{metric: status, address: 0, table: input, type: uint16}}
      - {{metric: shots, address: 1, table: input, type: uint32}}
      - {{metric: good, address: 3, table: input, type: uint32}}
      - {{metric: rejects, address: 5, table: input, type: uint16}}
      - {{metric: kwh, address: 6, table: input, type: uint16, scale: 0.1}}
"""


def _invite_operator(manager: Any, login: Any, org_id: int) -> str:
    """The enterprise admin invites an operator, who accepts on the invitation page."""
    r = manager.post(
        f"/api/v1/organisations/{org_id}/invitations",
        json={"display_name": "李师傅", "email": "li@example.com", "role": "enterprise_member"},
    )
    assert r.status_code == 201, r.text
    path = "/invite/" + r.json()["accept_url"].rsplit("/invite/", 1)[1]
    username = f"op{secrets.token_hex(3)}"
    r = login(None).post(path, {"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text
    return username


@pytest.fixture()
def broker() -> Iterator[Mosquitto]:
    b = Mosquitto().start()
    yield b
    b.stop()


def _expected_stars(verified_areas: int, devices: int, alarm_rules: int, apps: int, model_apps: int) -> int | None:
    """The star level the programme pack's rules give for these figures (read from the pack itself)."""
    levels = yaml.safe_load(PACK.read_text(encoding="utf-8"))["cloud_adoption"]["star_rating"]
    got = None
    for lv in levels:
        if (
            verified_areas >= lv.get("min_verified_areas", 0)
            and devices >= lv.get("min_devices_reporting", 0)
            and (alarm_rules > 0 or not lv.get("requires_monitoring"))
            and apps >= lv.get("min_apps_used", 0)
            and model_apps >= lv.get("min_data_model_apps", 0)
        ):
            got = lv["stars"]
    return got


def test_new_enterprise_models_a_new_machine_and_runs_a_work_order_on_it(
    db: Session,
    login: Any,
    tmp_path: Path,
    modbus: SimThread,  # noqa: F811 - the fixture imported above
    broker: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAOYUN_MQTT_URL", broker.url)  # the platform's broker, named in the generated file
    org, username = _new_factory(db)
    assert org.district == "chenghai"
    manager = login(username, PASSWORD)
    operator_name = _invite_operator(manager, login, org.id)
    operator = login(operator_name, PASSWORD)

    # 1. The machine's profile, written by the enterprise (the catalogue has no blow moulder).
    key = f"blow_{secrets.token_hex(3)}"
    r = manager.post("/api/v1/device-profiles", json={"text": BLOW_MOULDER.format(key=key, cycle=PROFILE_CYCLE_S)})
    assert r.status_code == 201, r.text
    profile = r.json()
    assert profile["document"]["ideal_cycle_s"] == PROFILE_CYCLE_S
    assert key in manager.get("/device-profiles").text

    # 2. A device of it, its gateway, where the gateway reaches it, and the generated gateway file.
    r = manager.post("/api/v1/devices", json={"name": "1号吹塑机", "model": key, "workshop": "吹塑车间"})
    assert r.status_code == 201, r.text
    dev_id = r.json()["device"]["id"]
    gw_uid = f"gw-{secrets.token_hex(3)}"
    r = manager.post("/api/v1/gateways", json={"uid": gw_uid, "name": "吹塑车间网关"})
    assert r.status_code == 201, r.text
    gw_id = r.json()["id"]
    conn = {"gateway": gw_uid, "protocol": "modbus", "host": "127.0.0.1", "port": modbus.sim.port, "unit": 1}
    r = manager.request("PUT", f"/api/v1/devices/{dev_id}/connection", json=conn | {"interval_s": 0.2})
    assert r.status_code == 200, r.text
    r = manager.get(f"/api/v1/gateways/{gw_id}/generated-config")
    assert r.status_code == 200, r.text
    doc = yaml.safe_load(r.text)
    assert [d["port"] for d in doc["devices"]] == [modbus.sim.port]
    assert doc["platform"]["mqtt_url"].endswith(f"@127.0.0.1:{broker.port}")
    assert {x["metric"] for x in doc["devices"][0]["registers"]} == {"status", "shots", "good", "rejects", "kwh"}
    config_file = tmp_path / "gateway.yaml"
    config_file.write_text(r.text)

    # The OEE calendar: one shift round the clock, every day, so any hour of the test run is planned time;
    # no small stops, so the operating time is the machine's running time only.
    r = manager.request(
        "PUT",
        "/api/v1/apps/oee/calendar",
        json={
            "shifts": [{"key": "D", "name": "全天", "start": "00:00", "end": "00:00", "breaks": []}],
            "small_stop_s": 0,
            "holidays": [],
            "workdays": [],
        },
    )
    assert r.status_code == 200, r.text
    # Monitoring: the machine is watched for going offline.
    r = manager.post(
        "/api/v1/alarm-rules",
        json={"name": "吹塑机离线", "kind": "offline", "device_id": dev_id, "params": {"seconds": 300}},
    )
    assert r.status_code == 201, r.text

    # 3. The item and its routing on that machine (the item page's cycle-time box per machine).
    code = f"PET-{secrets.token_hex(3)}"
    r = manager.post("/production/items", {"code": code, "name": "500ml 塑料瓶", "unit": "个", "family": "瓶"})
    assert r.status_code == 303, r.text
    item_url = r.headers["location"].split("?")[0]
    item_id = int(item_url.rsplit("/", 1)[1])
    r = manager.post(f"{item_url}/operations", {"seq": "10", "name": "吹塑", f"cycle_{dev_id}": str(ITEM_CYCLE_S)})
    assert r.status_code == 303, r.text
    routing = manager.get(f"/api/v1/production/items/{item_id}").json()["routing"]
    assert [(o["seq"], [(m["device_id"], m["cycle_s"]) for m in o["machines"]]) for o in routing] == [
        (10, [(dev_id, ITEM_CYCLE_S)])
    ]
    assert "1号吹塑机" in manager.get(item_url).text

    # 4. A work order, released.
    number = f"WO-{secrets.token_hex(3)}"
    due = (timefmt.local_today() + timedelta(days=7)).isoformat()
    r = manager.post(
        "/production/work-orders", {"number": number, "item_id": str(item_id), "quantity": "3", "due_date": due}
    )
    assert r.status_code == 303, r.text
    wo_url = r.headers["location"].split("?")[0]
    wo_id = int(wo_url.rsplit("/", 1)[1])
    assert manager.post(f"{wo_url}/transition", {"to": "released"}).status_code == 303
    assert "已下达" in manager.get(wo_url).text

    # 5. The real gateway reads the machine by the generated file and forwards to the platform.
    sim = modbus.sim
    sim.input[:8] = [2, 0, 1000, 0, 990, 10, 500, 0]  # idle; 1000 shots, 990 good, 10 rejects; 50.0 kWh

    def latest() -> dict[str, Any]:
        r = manager.get(f"/api/v1/devices/{dev_id}/latest")
        assert r.status_code == 200, r.text
        return {k: v["value"] for k, v in r.json()["values"].items()}

    def seen(cond: Any, what: str) -> None:
        try:
            wait_for(cond, 20, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the device page's latest values: {latest()}") from None

    def shots_seen(n: int) -> bool:
        v = latest()
        return v.get("shots") == n and v.get("good") is not None

    ingest = Ingest(broker).start()
    gw = Threaded(Gateway(load_config(config_file))).start()
    try:
        seen(lambda: shots_seen(1000) and latest().get("state") == "idle", "the machine's baseline")
        assert latest()["kwh"] == pytest.approx(50.0)

        # 6. The operator starts the operation on the machine page; the machine runs and makes 4 bottles
        #    (one reject), the energy meter advancing.
        page = operator.get(f"/production/machines/{dev_id}")
        assert page.status_code == 200 and number in page.text and 'data-action="start"' in page.text
        op_id = manager.get(f"/api/v1/production/work-orders/{wo_id}").json()["operations"][0]["id"]
        r = operator.post(f"/production/operations/{op_id}/start", {"device_id": str(dev_id)})
        assert r.status_code == 303, r.text
        assert 'data-action="finish"' in operator.get(f"/production/machines/{dev_id}").text
        sim.input[0] = 1  # running
        seen(lambda: latest().get("state") == "running", "state running")
        for shots, good, rejects in ((1001, 991, 10), (1002, 992, 10), (1003, 992, 11), (1004, 993, 11)):
            sim.input[2], sim.input[4], sim.input[5] = shots, good, rejects
            sim.input[6] += 3
            seen(lambda s=shots: shots_seen(s), f"shot counter {shots}")  # type: ignore[misc]
            seen(lambda g=good: latest().get("good") == g, f"good counter {good}")  # type: ignore[misc]
            # A shot every ~3 s: slower than the item's 1 s, so the performance stays below 100 %.
            time.sleep(2.5)

        # 7. The operator finishes without typing quantities: they come from the machine's counters.
        r = operator.post(f"/production/reports/{_report_id(manager, wo_id)}/finish", {})
        assert r.status_code == 303, r.text
        sim.input[0] = 2  # idle again
        seen(lambda: latest().get("state") == "idle", "state idle")
    finally:
        gw.stop()
        ingest.stop()

    wo = manager.get(f"/api/v1/production/work-orders/{wo_id}").json()
    assert wo["state"] == "done"
    run = wo["operations"][0]["reports"][0]
    assert (run["good"], run["reject"], run["source"]) == (3, 1, "counters")
    page = manager.get(wo_url).text
    assert "设备计数器" in page and "已完成" in page

    # 8. OEE: the 4 shots of the run are measured against the item's 1 s, not the profile's 2 s.
    r = manager.get("/api/v1/apps/oee?days=2")
    assert r.status_code == 200, r.text
    row = next(m for m in r.json()["machines"] if m["device_id"] == dev_id)
    assert (row["total"], row["good"], row["rejects"]) == (4, 3, 1)
    today = timefmt.local_today()
    summary = oee.compute_period(db, org.id, today - timedelta(days=1), today, device_ids=[dev_id]).summary()
    assert summary.total == 4 and summary.operating_s > 0
    with_item = min(ITEM_CYCLE_S * 4 / summary.operating_s, 1.0)
    with_profile = min(PROFILE_CYCLE_S * 4 / summary.operating_s, 1.0)
    assert row["performance"] == pytest.approx(round(100 * with_item, 1), abs=0.11)
    assert row["performance"] != pytest.approx(round(100 * with_profile, 1), abs=0.5)
    assert with_item < with_profile
    page = manager.get("/apps/oee")
    assert page.status_code == 200 and "1号吹塑机" in page.text
    assert manager.get("/apps/energy").status_code == 200

    # 9. The cloud-adoption declaration, verified by the Chenghai officer, shows the apps as evidence.
    r = manager.post(
        "/programme/adoptions",
        data={"areas": ["equipment", "production_control"], "provider_name": "潮汕智造云", "live_since": "2026-01-05"},
    )
    assert r.status_code == 303, r.text
    adoption_id = int(r.headers["location"].split("/")[-1].split("?")[0])
    officer = login("chenghai")
    page = officer.get(f"/programme/adoptions/{adoption_id}")
    assert page.status_code == 200, page.text
    for app in ("oee", "energy"):
        assert f'data-model-app="{app}"' in page.text, app
    for app in ("oee", "energy", "production"):
        assert f'data-app="{app}"' in page.text, app
    r = officer.post(f"/programme/adoptions/{adoption_id}/verify", data={})
    assert r.status_code == 303, r.text

    db.expire_all()
    a = db.get(CloudAdoption, adoption_id)
    assert a is not None and a.status == "verified"
    ev = a.evidence
    assert {"oee", "energy"} <= set(ev["data_model_apps"]) and "production" in ev["apps_used"]
    assert ev["devices_reporting"] == 1 and ev["alarm_rules_active"] == 1
    stars = _expected_stars(
        len(a.areas),
        ev["devices_reporting"],
        ev["alarm_rules_active"],
        len(ev["apps_used"]),
        len(ev["data_model_apps"]),
    )
    assert a.stars == stars == 5
    page = officer.get(f"/programme/adoptions/{adoption_id}").text
    assert "★★★★★" in page and 'data-met="0"' not in page


def _report_id(client: Any, wo_id: int) -> int:
    wo = client.get(f"/api/v1/production/work-orders/{wo_id}").json()
    return int(wo["operations"][0]["reports"][0]["id"])
