"""The intrusion detector on the platform: learn and scan uploaded captures (API and pages), alerts stored for the
enterprise, alarms on the device whose connection names the address, an incident, the gateway's posted alerts, the
public views the incidents read, and scope (another enterprise sees nothing)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.models import Alarm, Device
from chaoyun.identity.models import Organisation
from chaoyun.security.ids import engine, pcap, public, synth
from chaoyun.security.ids.models import IdsAlert, IdsProfile
from chaoyun.security.models import Incident
from tests.route_samples.devices import _device
from tests.security.conftest import actor_of

START = 1_767_225_600.0


def capture_bytes(frames: list[tuple[float, bytes]], tmp_path: Path, name: str) -> bytes:
    path = tmp_path / name
    pcap.write_pcap(str(path), frames)
    return path.read_bytes()


@pytest.fixture()
def plc(db: Session) -> Device:
    """The factory's machine, reached by its gateway over Modbus at PLC 1's address."""
    factory = actor_of(db, "factory")
    d = _device(db, factory.org)
    d.connection = {"protocol": "modbus", "host": synth.PLCS[0], "port": 502, "unit": 1}
    db.commit()
    return d


def test_learn_then_scan_through_the_api(login: Any, db: Session, plc: Device, tmp_path: Path) -> None:
    api = login("factory")
    normal = capture_bytes(synth.plant(300, START), tmp_path, "normal.pcap")
    r = api.client.post(
        "/api/v1/security/ids/profiles/learn",
        data={"name": "一车间基线"},
        files={"capture": ("normal.pcap", normal, "application/vnd.tcpdump.pcap")},
        headers={"X-CSRF-Token": api.csrf},
    )
    assert r.status_code == 201, r.text
    prof = r.json()
    assert prof["summary"]["hosts"] == 4 and prof["summary"]["modbus_pairs"] == 3

    attack = synth.mixed(120, START + 7200, ("unknown_host", "write_unlearned_register", "slave_as_master"))
    cap = capture_bytes([(t, f) for t, f, _ in attack], tmp_path, "suspect.pcap")
    r = api.client.post(
        "/api/v1/security/ids/scans",
        data={"profile_id": str(prof["id"])},
        files={"capture": ("suspect.pcap", cap, "application/octet-stream")},
        headers={"X-CSRF-Token": api.csrf},
    )
    assert r.status_code == 201, r.text
    scan = r.json()
    assert scan["frames"] == len(attack) and scan["alerts"] >= 4 and scan["incident_id"]
    detail = api.get(f"/api/v1/security/ids/scans/{scan['id']}").json()
    rules = {a["rule"] for a in detail["alert_list"]}
    assert {"unknown_host", "modbus_address", "unknown_flow"} <= rules
    # Frame numbers name the attack's own frames.
    attack_frames = {i + 1 for i, (_t, _f, y) in enumerate(attack) if y}
    assert all(set(a["frames"]) <= attack_frames for a in detail["alert_list"])
    # Alerts on PLC 1's address became alarms on the device.
    on_plc = [a for a in detail["alert_list"] if a["device_id"] == plc.id]
    assert on_plc and all(a["alarm_id"] for a in on_plc)
    alarm = db.get(Alarm, on_plc[0]["alarm_id"])
    assert alarm is not None and alarm.device_id == plc.id and "入侵检测" not in alarm.message
    assert synth.PLCS[0] in alarm.message and alarm.details["source"] == "security.ids"
    # ... and into an incident of the enterprise.
    inc = db.get(Incident, scan["incident_id"])
    assert inc is not None and inc.org_id == plc.org_id
    # Rule names come translated.
    one = api.get(f"/api/v1/security/ids/alerts/{on_plc[0]['id']}").json()
    assert one["rule_zh"] and one["rule_en"] and one["rule_zh"] != one["rule_en"]


def test_public_views_for_incidents(db: Session, plc: Device) -> None:
    factory = actor_of(db, "factory")
    found = [
        {
            "rule": "modbus_function",
            "src": synth.HMI,
            "dst": synth.PLCS[0],
            "detail": "fc 8 (diagnostics)",
            "first_ts": START + 10,
            "last_ts": START + 10,
            "frames": [7, 8],
            "count": 2,
        },
    ]
    from chaoyun.security.ids import service

    res = service.store_alerts(db, factory.org_id, found, source="unit-test")
    assert res.alarms == 1 and res.incident_id
    views = public.alerts(db, res.alert_ids)
    assert [(v.rule, v.device_id, v.frames, v.severity) for v in views] == [
        ("modbus_function", plc.id, [7, 8], "critical")
    ]
    at = views[0].at
    between = public.alerts_between(db, factory.org_id, at - timedelta(seconds=1), at + timedelta(seconds=1))
    assert [v.id for v in between] == res.alert_ids
    assert public.alerts_between(db, factory.org_id + 100000, at - timedelta(days=1), at + timedelta(days=1)) == []
    # The same alerts again join the same incident.
    assert service.store_alerts(db, factory.org_id, found, source="unit-test").incident_id == res.incident_id


def test_gateway_posts_alerts_with_a_token(login: Any, db: Session, plc: Device) -> None:
    admin = login("factory")
    tok = admin.post("/api/v1/tokens", json={"name": "gateway", "scopes": ["read", "write"]})
    assert tok.status_code in (200, 201), tok.text
    raw = tok.json()["token"]
    from fastapi.testclient import TestClient

    from chaoyun.web.app import create_app

    gw = TestClient(create_app())
    body = {
        "source": "gw-1",
        "alerts": [
            {
                "rule": "unknown_flow",
                "src": synth.PLCS[1],
                "dst": synth.PLCS[0],
                "detail": "tcp/502",
                "first_ts": START,
                "frames": [3, 4, 5],
                "count": 3,
            }
        ],
    }
    r = gw.post("/api/v1/security/ids/alerts", json=body, headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 201, r.text
    a = db.get(IdsAlert, r.json()["alert_ids"][0])
    assert a is not None and a.source == "gateway:gw-1" and a.device_id == plc.id and a.frame_count == 3
    bad = gw.post(
        "/api/v1/security/ids/alerts",
        json={"alerts": [{"rule": "no_such_rule"}]},
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert bad.status_code == 422


def test_another_enterprise_sees_nothing(login: Any, db: Session, plc: Device) -> None:
    factory = actor_of(db, "factory")
    from chaoyun.security.ids import service

    res = service.store_alerts(
        db,
        factory.org_id,
        [{"rule": "unknown_host", "src": synth.ATTACKER, "dst": synth.PLCS[0], "first_ts": START}],
        source="x",
    )
    other = login("factory2")
    assert other.get(f"/api/v1/security/ids/alerts/{res.alert_ids[0]}").status_code == 404
    assert res.alert_ids[0] not in [a["id"] for a in other.get("/api/v1/security/ids/alerts").json()]
    assert other.get(f"/security/ids/alerts/{res.alert_ids[0]}").status_code == 404
    # The district officer of the factory's district sees it; the city too.
    org = db.get(Organisation, factory.org_id)
    assert org is not None
    city = login("city")
    assert city.get(f"/api/v1/security/ids/alerts/{res.alert_ids[0]}").status_code == 200


def test_pages_show_alerts_in_chinese_and_keep_the_form(login: Any, db: Session, plc: Device, tmp_path: Path) -> None:
    factory = actor_of(db, "factory")
    from chaoyun.security.ids import service

    service.store_alerts(
        db,
        factory.org_id,
        [
            {
                "rule": "modbus_address",
                "src": synth.HMI,
                "dst": synth.PLCS[0],
                "detail": "fc 6 write holding registers 400",
                "first_ts": START,
                "frames": [12, 13],
                "count": 2,
            }
        ],
        source="page.pcap",
    )
    web = login("factory")
    page = web.get("/security/ids")
    assert page.status_code == 200
    assert "入侵检测" in page.text and "基线之外的 Modbus 地址" in page.text
    assert "读写操作访问了学习期间" in page.text  # the rule explained
    # Learning without a capture: the same page, the error beside the field, the name kept.
    r = web.client.post(
        "/security/ids/profiles/learn",
        data={"name": "夜班基线", "csrf_token": web.csrf},
        files={"capture": ("", b"", "application/octet-stream")},
    )
    assert r.status_code == 422
    assert 'value="夜班基线"' in r.text and 'data-field="capture"' in r.text
    # Not a capture: refused beside the field, the file kept for the next try.
    r = web.client.post(
        "/security/ids/profiles/learn",
        data={"name": "夜班基线", "csrf_token": web.csrf},
        files={"capture": ("notes.txt", b"just some notes", "text/plain")},
    )
    assert r.status_code == 422 and "不是本检测器能读取的抓包文件" in r.text and 'data-staged="capture"' in r.text
    # A real capture learns; then a scan through the page shows the scan.
    normal = capture_bytes(synth.plant(120, START), tmp_path, "n.pcap")
    r = web.client.post(
        "/security/ids/profiles/learn",
        data={"name": "夜班基线", "csrf_token": web.csrf},
        files={"capture": ("n.pcap", normal, "application/octet-stream")},
    )
    assert r.status_code == 303
    p = db.execute(select(IdsProfile).where(IdsProfile.name == "夜班基线")).scalar_one()
    cap = capture_bytes([(t, f) for t, f, _ in synth.mixed(60, START + 3600, ("new_function_code",))], tmp_path, "s")
    r = web.client.post(
        "/security/ids/scans",
        data={"profile_id": str(p.id), "csrf_token": web.csrf},
        files={"capture": ("s.pcap", cap, "application/octet-stream")},
    )
    assert r.status_code == 303, r.text
    shown = web.get(r.headers["location"])
    assert shown.status_code == 200 and "基线之外的 Modbus 功能码" in shown.text
    # English on the switch.
    web.post("/lang", {"lang": "en", "back": "/security/ids"})
    en = web.get("/security/ids").text
    assert "Intrusion detection" in en and "Modbus function code not in the profile" in en
    web.post("/lang", {"lang": "zh_CN", "back": "/security/ids"})
    # Deleting twice: the second answers 404, not a server error.
    assert web.post(f"/security/ids/profiles/{p.id}/delete").status_code == 303
    assert web.post(f"/security/ids/profiles/{p.id}/delete").status_code == 404


def test_uploaded_profile_json_is_checked(login: Any) -> None:
    web = login("factory")
    good = engine.learn(synth.plant(30, START))
    r = web.post("/api/v1/security/ids/profiles", json={"name": "网关基线", "profile": good})
    assert r.status_code == 201 and r.json()["summary"]["hosts"] == 4
    r = web.post("/api/v1/security/ids/profiles", json={"name": "坏基线", "profile": {"format": "x"}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "profile"
    damaged = json.loads(json.dumps(good))
    damaged["hosts"] = ["not an address"]
    r = web.post("/api/v1/security/ids/profiles", json={"name": "坏基线", "profile": damaged})
    assert r.status_code == 422
    page = web.client.post(
        "/security/ids/profiles/upload",
        data={"name": "网关基线2", "csrf_token": web.csrf},
        files={"profile": ("p.json", io.BytesIO(json.dumps(good).encode()), "application/json")},
    )
    assert page.status_code == 303


def test_demo_seed_runs_the_detector_on_the_simulated_plant(db: Session) -> None:
    from chaoyun.security.ids import demo

    made = demo.seed(db)
    assert made["profiles"] == 1 and made["alerts"] >= 4
    factory = actor_of(db, "factory")
    alerts = db.execute(select(IdsAlert).where(IdsAlert.org_id == factory.org_id)).scalars().all()
    assert {"unknown_host", "modbus_function", "unknown_flow", "modbus_address"} <= {a.rule for a in alerts}
    assert any(a.device_id and a.alarm_id for a in alerts)
    assert demo.seed(db) == {"profiles": 0, "alerts": 0}  # idempotent
