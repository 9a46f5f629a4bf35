"""Device profiles: bad files (line and field in the message), scope (own + read-only catalogue, district officers
read), evolution that never breaks stored data, import / export round trip, provisioning with a profile, and the
profile semantics at ingest (enum values, state from a value map or a threshold, MQTT key paths)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices import ingest
from chaoyun.devices.models import Device, DeviceModel
from chaoyun.devices.profiles import document as pdoc
from chaoyun.devices.profiles import service as psvc
from chaoyun.devices.store import get_store
from chaoyun.identity.models import AuditEntry
from tests.connectors.helpers import actor_for


def key() -> str:
    return f"p_{secrets.token_hex(4)}"


def profile_doc(k: str, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "key": k,
        "name_zh": "吹塑机",
        "name_en": "Blow moulding machine",
        "category": "moulding",
        "ideal_cycle_s": 12,
        "metrics": [
            {"key": "status", "name_zh": "状态码", "name_en": "Status", "type": "enum",
             "labels": {"1": "运行", "2": "待机", "3": "故障", "4": "换模"}},
            {"key": "shots", "name_zh": "累计模次", "name_en": "Shots", "type": "number", "min": 0, "max": 1e9},
            {"key": "rejects", "name_zh": "累计废品", "name_en": "Rejects", "type": "number", "min": 0, "max": 1e9},
            {"key": "melt_temp", "name_zh": "熔体温度", "name_en": "Melt temperature", "type": "number",
             "unit": "°C", "min": 0, "max": 300, "precision": 1},
            {"key": "melt_temp_sp", "name_zh": "熔体温度设定", "name_en": "Melt temperature setpoint",
             "type": "number", "min": 150, "max": 260, "writable": True},
            {"key": "kwh", "name_zh": "累计电能", "name_en": "Energy", "type": "number", "min": 0, "max": 1e12},
        ],
        "state": {"metric": "status", "map": {"1": "running", "2": "idle", "3": "down", "4": "setup"}},
        "counters": {"cycle": "shots", "reject": "rejects"},
        "energy": "kwh",
        "connectors": {
            "modbus": {"registers": [
                {"metric": "status", "address": 0, "table": "input", "type": "uint16"},
                {"metric": "shots", "address": 1, "table": "input", "type": "uint32"},
                {"metric": "rejects", "address": 3, "table": "input", "type": "uint16"},
                {"metric": "melt_temp", "address": 4, "table": "input", "type": "int16", "scale": 0.1},
                {"metric": "kwh", "address": 5, "table": "input", "type": "uint16", "scale": 0.1},
                {"metric": "melt_temp_sp", "address": 10, "table": "holding", "type": "int16", "scale": 0.1},
            ]},
            "mqtt": {"ts": "data.time", "values": {"status": "data.st", "melt_temp": "data.temps.melt"}},
        },
    }
    doc.update(over)
    return doc


# ---------------------------------------------------------------- bad files


def test_yaml_syntax_error_names_the_line(login: Any) -> None:
    client = login("factory")
    text = f"key: {key()}\nname_zh: 吹塑机\nmetrics:\n  - key: a\n    name_zh: [unclosed\n    name_en: A\n"
    r = client.post("/api/v1/device-profiles", json={"text": text})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert "line 5" in err["message_en"] or "line 6" in err["message_en"], err
    assert "行" in err["message_zh"] or "line" in err["message_zh"]


def test_schema_errors_name_line_and_field(login: Any, db: Session) -> None:
    k = key()
    text = f"""key: {k}
name_zh: 吹塑机
name_en: Blow moulding machine
metrics:
  - {{key: temp, name_zh: 温度, name_en: Temp, type: number, min: 300, max: 0}}
  - {{key: temp, name_zh: 温度2, name_en: Temp 2, type: number}}
  - {{key: mode, name_zh: 模式, name_en: Mode, type: enum}}
"""
    r = login("factory").post("/api/v1/device-profiles", json={"text": text})
    assert r.status_code == 422, r.text
    problems = r.json()["error"]["problems"]
    by_field = {p["field"]: p for p in problems}
    assert by_field["metrics[0].min"]["line"] == "5" and "greater than max" in by_field["metrics[0].min"]["en"]
    assert by_field["metrics[1].key"]["line"] == "6" and "appears twice" in by_field["metrics[1].key"]["en"]
    assert by_field["metrics[2].labels"]["line"] == "7" and "needs labels" in by_field["metrics[2].labels"]["en"]
    assert all(p["zh"] != p["en"] for p in problems)  # Chinese too
    assert db.execute(select(DeviceModel).where(DeviceModel.key == k)).first() is None  # nothing half-saved


def test_section_errors() -> None:
    bad = profile_doc(key(), state={"metric": "nope", "map": {"1": "running"}}, counters={"good": "status"})
    with pytest.raises(pdoc.ProfileInvalid) as ei:
        pdoc.check(bad)
    fields = {p.path for p in ei.value.problems}
    assert {"state.metric", "counters.good"} <= fields
    bad = profile_doc(key(), state={"metric": "status", "map": {"1": "sleeping"}})
    with pytest.raises(pdoc.ProfileInvalid, match="not a machine state"):
        pdoc.check(bad)
    bad = profile_doc(key())
    bad["connectors"]["modbus"]["registers"][0]["type"] = "float99"
    with pytest.raises(pdoc.ProfileInvalid, match="register type"):
        pdoc.check(bad)


# ---------------------------------------------------------------- scope


def test_scope_catalogue_copy_and_district(db: Session, login: Any) -> None:
    factory, factory2, officer = login("factory"), login("factory2"), login("chenghai")
    k = key()
    r = factory.post("/api/v1/device-profiles", json={"profile": profile_doc(k)})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["version"] == 1 and not r.json()["catalogue"]
    listed = {p["key"]: p for p in factory.get("/api/v1/device-profiles").json()}
    assert k in listed and "injection_moulding" in listed and listed["injection_moulding"]["catalogue"]
    # Another enterprise neither sees nor changes it.
    assert k not in {p["key"] for p in factory2.get("/api/v1/device-profiles").json()}
    assert factory2.get(f"/api/v1/device-profiles/{pid}").status_code == 404
    assert factory2.request("PUT", f"/api/v1/device-profiles/{pid}",
                            json={"profile": profile_doc(k)}).status_code == 404
    # The catalogue is read-only for enterprises; copying is the way.
    cat = listed["injection_moulding"]["id"]
    refused = factory.request("PUT", f"/api/v1/device-profiles/{cat}", json={"text": factory.get(
        f"/api/v1/device-profiles/{cat}/export").text})
    assert refused.status_code == 403 and "copy" in refused.json()["error"]["message_en"]
    copy = factory.post(f"/api/v1/device-profiles/{cat}/copy", json={"key": f"{k}_im"})
    assert copy.status_code == 201 and copy.json()["source_key"] == "injection_moulding"
    assert copy.json()["document"]["state"] == {"metric": "state"}
    # A district officer of the enterprise's district reads; the pages render for both.
    assert officer.get(f"/api/v1/device-profiles/{pid}").status_code == 200
    assert officer.request("PUT", f"/api/v1/device-profiles/{pid}",
                           json={"profile": profile_doc(k)}).status_code == 403
    page = factory.get(f"/device-profiles/{pid}")
    assert page.status_code == 200 and "状态码" in page.text and 'id="profile-state"' in page.text
    assert k in factory.get("/device-profiles").text and k not in factory2.get("/device-profiles").text
    # Platform admin adds a catalogue entry everyone sees.
    ck = key()
    admin = login("admin").post("/api/v1/device-profiles", json={"profile": profile_doc(ck), "catalogue": True})
    assert admin.status_code == 201 and admin.json()["catalogue"]
    assert ck in {p["key"] for p in factory2.get("/api/v1/device-profiles").json()}
    actions = set(db.execute(select(AuditEntry.action).where(AuditEntry.object_type == "device_profile",
                                                             AuditEntry.object_id == str(pid))).scalars())
    assert actions == {"create"}


# ---------------------------------------------------------------- evolution


def test_changes_never_break_stored_data(db: Session, login: Any) -> None:
    client = login("factory")
    k = key()
    pid = client.post("/api/v1/device-profiles", json={"profile": profile_doc(k)}).json()["id"]
    dev = client.post("/api/v1/devices", json={"name": f"吹塑机{k}", "model": k}).json()
    device = db.get(Device, dev["device"]["id"])
    assert device is not None
    res = ingest.ingest(db, device, {"melt_temp": 201.5, "status": 1, "shots": 10}, "test")
    assert res.accepted == 3, res.as_dict()

    # Renaming melt_temp (= removing it) is refused while it has data; nothing changes.
    renamed = profile_doc(k)
    renamed["metrics"][3]["key"] = "melt_temperature"
    renamed["connectors"]["modbus"]["registers"][3]["metric"] = "melt_temperature"
    renamed["connectors"]["mqtt"]["values"] = {"status": "data.st", "melt_temperature": "data.temps.melt"}
    r = client.request("PUT", f"/api/v1/device-profiles/{pid}", json={"profile": renamed})
    assert r.status_code == 422 and "melt_temp" in r.json()["error"]["message_en"]
    assert "deprecated" in r.json()["error"]["message_en"]
    retyped = profile_doc(k)
    retyped["metrics"][0] = {"key": "status", "name_zh": "状态码", "name_en": "Status", "type": "number"}
    r = client.request("PUT", f"/api/v1/device-profiles/{pid}", json={"profile": retyped})
    assert r.status_code == 422 and "type cannot change" in r.json()["error"]["message_en"]
    db.expire_all()
    assert db.get(DeviceModel, pid).version == 1  # type: ignore[union-attr]

    # A metric without data may go; new ones come; a metric with data is deprecated and keeps its data.
    changed = profile_doc(k)
    changed["metrics"] = [m for m in changed["metrics"] if m["key"] != "melt_temp_sp"]
    changed["connectors"]["modbus"]["registers"] = [
        r for r in changed["connectors"]["modbus"]["registers"] if r["metric"] != "melt_temp_sp"]
    changed["metrics"][3]["deprecated"] = True
    changed["metrics"].append({"key": "blow_pressure", "name_zh": "吹气压力", "name_en": "Blow pressure",
                               "type": "number", "unit": "bar", "min": 0, "max": 40})
    r = client.request("PUT", f"/api/v1/device-profiles/{pid}", json={"profile": changed})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    # The device keeps sending; the new metric is accepted at once, the deprecated one still is.
    db.expire_all()
    device = db.get(Device, device.id)
    assert device is not None
    res = ingest.ingest(db, device, {"blow_pressure": 8.5, "melt_temp": 202.0, "melt_temp_sp": 200}, "test")
    assert res.accepted == 2 and [x.metric for x in res.rejected] == ["melt_temp_sp"]
    assert get_store().latest(device.id)["blow_pressure"].value == 8.5
    # The key is fixed; deleting is refused while devices use the profile.
    r = client.request("PUT", f"/api/v1/device-profiles/{pid}", json={"profile": profile_doc(key())})
    assert r.status_code == 422 and "cannot change" in r.json()["error"]["message_en"]
    assert client.request("DELETE", f"/api/v1/device-profiles/{pid}").status_code == 409
    # Audit: create and one update (the refused edits left nothing).
    actions = list(db.execute(select(AuditEntry.action).where(
        AuditEntry.object_type == "device_profile", AuditEntry.object_id == str(pid))).scalars())
    assert actions == ["create", "update"]


def test_edit_page_shows_refusal_with_reason(db: Session, login: Any) -> None:
    client = login("factory")
    k = key()
    pid = client.post("/api/v1/device-profiles", json={"profile": profile_doc(k)}).json()["id"]
    edit = client.get(f"/device-profiles/{pid}/edit")
    assert edit.status_code == 200 and "melt_temp" in edit.text
    bad = pdoc.dump(profile_doc(k)).replace("max: 300", "max: -5")
    r = client.post(f"/device-profiles/{pid}/edit", data={"text": bad})
    assert r.status_code == 422 and 'id="profile-problems"' in r.text and "metrics[3].min" in r.text
    ok = client.post(f"/device-profiles/{pid}/edit", data={"text": pdoc.dump(profile_doc(k, ideal_cycle_s=10))})
    assert ok.status_code == 303
    assert 'id="profile-version">2<' in client.get(f"/device-profiles/{pid}").text


# ---------------------------------------------------------------- import / export


def test_export_import_round_trip(login: Any) -> None:
    client = login("factory")
    k = key()
    created = client.post("/api/v1/device-profiles", json={"profile": profile_doc(k)}).json()
    y = client.get(f"/api/v1/device-profiles/{created['id']}/export?format=yaml")
    j = client.get(f"/api/v1/device-profiles/{created['id']}/export?format=json")
    assert y.status_code == 200 and "attachment" in y.headers["content-disposition"]
    assert yaml.safe_load(y.text) == j.json() == created["document"]
    # Imported under another key (a file from another installation), through the page upload.
    k2 = key()
    r = client.post("/device-profiles/new", data={"text": ""},
                    files={"file": ("p.yaml", y.text.replace(k, k2).encode(), "application/yaml")})
    assert r.status_code == 303, r.text
    again = client.get(r.headers["location"].split("?")[0].replace("/device-profiles/", "/api/v1/device-profiles/"))
    doc2 = again.json()["document"]
    assert {**doc2, "key": k} == created["document"]
    page = client.get(f"/device-profiles/{created['id']}/export?format=json")
    assert page.status_code == 200 and page.json()["key"] == k


# ---------------------------------------------------------------- provisioning with profiles


def test_provisioning_uses_own_profiles_only(db: Session, login: Any) -> None:
    factory = login("factory")
    k = key()
    assert factory.post("/api/v1/device-profiles", json={"profile": profile_doc(k)}).status_code == 201
    # Connection columns come along, so the gateway file of each device can be generated at once.
    sheet = (f"name,model,workshop,网关,地址,端口\n吹塑{k}a,{k},吹塑车间,gw-blow,10.0.0.5,502\n"
             f"吹塑{k}b,吹塑机,吹塑车间,,,\n吹塑{k}c,{k},吹塑车间,gw-blow,10.0.0.6,99999\n")
    r = factory.post("/api/v1/devices/provision", files={"file": ("p.csv", sheet.encode(), "text/csv")})
    assert r.status_code == 200 and r.json()["created"] == 2 and r.json()["failed"] == 1, r.text
    dev = db.execute(select(Device).where(Device.name == f"吹塑{k}a")).scalar_one()
    assert dev.connection == {"gateway": "gw-blow", "protocol": "modbus", "host": "10.0.0.5", "port": 502}
    assert db.execute(select(Device).where(Device.name == f"吹塑{k}c")).first() is None  # bad port: not stored
    conf = yaml.safe_load(factory.get(f"/api/v1/devices/{dev.id}/gateway-config").text)
    assert conf["gateway"]["uid"] == "gw-blow" and conf["devices"][0]["host"] == "10.0.0.5"
    assert {r["metric"] for r in conf["devices"][0]["registers"]} >= {"status", "melt_temp"}
    other = db.execute(select(Device).where(Device.name == f"吹塑{k}b")).scalar_one()
    missing = factory.get(f"/api/v1/devices/{other.id}/gateway-config")
    assert missing.status_code == 422 and "host" in missing.json()["error"]["message_en"]
    # Another enterprise cannot use it.
    r = login("factory2").post("/api/v1/devices/provision",
                               files={"file": ("p.csv", f"name,model\nX{k},{k}\n".encode(), "text/csv")})
    assert r.json()["created"] == 0 and r.json()["failed"] == 1


# ---------------------------------------------------------------- semantics at ingest


def _device_of(db: Session, username: str, doc: dict[str, Any]) -> Device:
    actor = actor_for(db, username)
    model = psvc.create_profile(db, actor, doc)
    from chaoyun.devices import service
    from chaoyun.devices.schemas import DeviceIn

    device, _ = service.create_device(db, actor, DeviceIn(name=f"设备{model.key}", model=model.key))
    return device


def test_state_map_enum_and_mqtt_paths(db: Session) -> None:
    device = _device_of(db, "factory", profile_doc(key()))
    # The device's own payload shape, mapped by the profile's key paths; state derived from the value map.
    res = ingest.ingest(db, device, {"data": {"st": 4, "temps": {"melt": 180.0}}}, "mqtt")
    assert res.accepted == 2, res.as_dict()
    latest = get_store().latest(device.id)
    assert latest["status"].text == "4" and latest["state"].text == "setup" and latest["melt_temp"].value == 180.0
    res = ingest.ingest(db, device, {"status": 9}, "http")
    assert res.rejected and res.rejected[0].code == "not_in_enum"
    from chaoyun.devices import service

    assert service.statuses([device])[device.id].status == "idle"  # setup folds into idle on the pages
    ingest.ingest(db, device, {"status": "1"}, "http")
    assert service.statuses([device])[device.id].status == "running"
    profile = psvc.profile_for_device(db, device.id)
    assert psvc.roles_of(profile)["state"] == "state" and psvc.roles_of(profile)["energy"] == "kwh"
    assert psvc.state_of(profile, 3) == "fault" and psvc.default_cycle_s(profile) == 12


def test_state_from_power_threshold(db: Session) -> None:
    doc = {
        "key": key(), "name_zh": "烘箱", "name_en": "Oven",
        "metrics": [{"key": "power", "name_zh": "功率", "name_en": "Power", "type": "number", "unit": "kW",
                     "min": 0, "max": 500}],
        "state": {"metric": "power", "running_above": 5, "idle_above": 0.5},
        "power": "power",
    }
    device = _device_of(db, "factory", doc)
    for kw, expected in ((12.0, "running"), (1.0, "idle"), (0.1, "off")):
        ingest.ingest(db, device, {"power": kw}, "http")
        assert get_store().latest(device.id)["state"].text == expected


def test_generated_device_list_pushed_to_a_gateway(db: Session, login: Any) -> None:
    from chaoyun.devices.connectors.models import Gateway as GatewayRow

    client = login("factory")
    k = key()
    assert client.post("/api/v1/device-profiles", json={"profile": profile_doc(k)}).status_code == 201
    dev = client.post("/api/v1/devices", json={"name": f"吹塑{k}", "model": k}).json()["device"]
    gw_uid = f"gw-{secrets.token_hex(3)}"
    gw = client.post("/api/v1/gateways", json={"uid": gw_uid, "name": "网关"}).json()
    r = client.request("PUT", f"/api/v1/devices/{dev['id']}/connection",
                       json={"gateway": gw_uid, "host": "10.1.1.9", "unit": 3, "port": 70000})
    assert r.status_code == 422 and "65535" in r.text, r.text
    r = client.request("PUT", f"/api/v1/devices/{dev['id']}/connection",
                       json={"gateway": gw_uid, "host": "10.1.1.9", "unit": 3})
    assert r.status_code == 200 and r.json()["unit"] == 3
    r = client.post(f"/api/v1/gateways/{gw['id']}/generated-config/push", json={})
    assert r.status_code == 200 and r.json()["devices"] == 1, r.text
    db.expire_all()
    row = db.get(GatewayRow, gw["id"])
    assert row is not None and row.device_uids() == [dev["uid"]]
    entry = row.config["devices"][0]
    assert entry["unit"] == 3 and any(x["metric"] == "melt_temp_sp" and x.get("writable") for x in entry["registers"])
    page = client.get(f"/devices/{dev['id']}/connection")
    assert page.status_code == 200 and "10.1.1.9" in page.text
