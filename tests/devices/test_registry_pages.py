"""Registry (create, rotate, delete, bulk provisioning with bad rows), audit, pages, scope, SSE."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select

from chaoyun.devices import ingest
from chaoyun.devices.models import Device
from chaoyun.identity.models import AuditEntry
from tests.devices.helpers import make_device, org_of


def _audits(db: Any, object_type: str, object_id: int) -> list[str]:
    db.expire_all()
    return list(
        db.execute(
            select(AuditEntry.action).where(
                AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id)
            )
        ).scalars()
    )


def test_create_rotate_delete_audited(app: Any, db: Any, login: Any) -> None:
    client = login("factory")
    r = client.post("/api/v1/devices", json={"name": "API注塑机", "model": "注塑机", "workshop": "三车间"})
    assert r.status_code == 201, r.text
    body = r.json()
    token, dev_id = body["credentials"]["token"], body["device"]["id"]
    assert body["credentials"]["mqtt_username"] == body["device"]["uid"]
    device = db.get(Device, dev_id)
    assert token not in (device.token_hash, device.token_prefix) and device.mqtt_password_hash.startswith("$7$")
    assert ingest.authenticate_token(db, token).id == dev_id
    assert ingest.authenticate_mqtt(db, device.uid, body["credentials"]["mqtt_password"]) is not None
    # Same name again: conflict with a bilingual message.
    dup = client.post("/api/v1/devices", json={"name": "API注塑机", "model": "cnc"})
    assert dup.status_code == 409 and dup.json()["error"]["message_en"]
    r = client.post(f"/api/v1/devices/{dev_id}/credentials", json={})
    new_token = r.json()["token"]
    assert new_token != token
    db.expire_all()
    assert TestClientPost(app, token) == 401 and TestClientPost(app, new_token) == 200
    assert client.request("DELETE", f"/api/v1/devices/{dev_id}").status_code == 204
    assert _audits(db, "device", dev_id) == ["create", "rotate", "delete"]


def TestClientPost(app: Any, token: str) -> int:
    from fastapi.testclient import TestClient

    return (
        TestClient(app)
        .post("/api/v1/telemetry", json={"barrel_temp": 200}, headers={"Authorization": f"Bearer {token}"})
        .status_code
    )


def test_bulk_provisioning_with_bad_rows(db: Any, login: Any) -> None:
    client = login("factory")
    csv_text = (
        "名称,型号,车间,产线,序列号\n"
        "批量注塑机1,injection_moulding,一车间,A线,SN1\n"
        "批量包装机1,包装机,包装车间,,SN2\n"
        ",cnc,一车间,,\n"
        "批量机2,no_such_model,一车间,,\n"
        "批量注塑机1,cnc,一车间,,\n"
        "批量空压机,Air compressor,动力站,,SN5\n"
    )
    r = client.post(
        "/devices/provision", files={"file": ("devices.csv", csv_text.encode("gb18030"), "text/csv")}, data={}
    )
    assert r.status_code == 200, r.text
    assert 'id="provision-report"' in r.text
    api = client.post("/api/v1/devices/provision", files={"file": ("more.csv", b"name,model\nX,cnc\n", "text/csv")})
    assert api.json()["created"] == 1
    org = org_of(db, "factory")
    names = set(db.execute(select(Device.name).where(Device.org_id == org.id)).scalars())
    assert {"批量注塑机1", "批量包装机1", "批量空压机", "X"} <= names
    assert "批量机2" not in names
    from chaoyun.devices import service
    from chaoyun.identity.models import Membership, User

    # The report itself, through the service: rows 4, 5 and 6 fail with reasons, the others succeed.
    from chaoyun.identity.permissions import Actor
    from chaoyun.identity.service import resolve_session  # noqa: F401 - the service is what the page used

    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalar_one()
    report = service.provision(
        db, Actor(user=user, membership=m), "again.csv", csv_text.replace("批量", "再次").encode()
    )
    assert [(r.line, r.ok) for r in report.rows] == [
        (2, True),
        (3, True),
        (4, False),
        (5, False),
        (6, False),
        (7, True),
    ]
    assert "model" in report.rows[3].errors[0] or "型号" in report.rows[3].errors[0]
    assert all(r.token.startswith("cyd_") for r in report.rows if r.ok)


def test_excel_provisioning(db: Any, login: Any) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["name", "model", "workshop"])
    ws.append(["Excel数控1", "cnc", "机加工"])
    ws.append(["Excel坏行", "toaster", "机加工"])
    buf = io.BytesIO()
    wb.save(buf)
    r = login("factory2").post(
        "/api/v1/devices/provision",
        files={"file": ("d.xlsx", buf.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
    )
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["failed"] == 1


def test_pages_render_in_chinese_and_stay_in_scope(app: Any, db: Any, login: Any) -> None:
    mine, _token = make_device(db, org_of(db, "factory"), name="页面测试注塑机")
    theirs, _ = make_device(db, org_of(db, "factory2"), name="别家的设备")
    ingest.ingest(db, mine, {"barrel_temp": 215.5, "state": "running"}, "test")
    client = login("factory")
    page = client.get("/devices")
    assert page.status_code == 200 and "页面测试注塑机" in page.text and "别家的设备" not in page.text
    assert "运行" in client.get("/devices/table").text
    dev = client.get(f"/devices/{mine.id}")
    assert dev.status_code == 200 and "料筒温度" in dev.text and "215.5" in dev.text and "dataZoom" in dev.text
    assert client.get(f"/devices/{theirs.id}").status_code == 404
    tiles = client.get("/workshop")
    assert tiles.status_code == 200 and 'data-status="running"' in tiles.text
    home = client.get("/home")
    assert home.status_code == 200 and 'id="panel-devices"' in home.text
    # SSE: a non-browser client gets one snapshot and the stream ends.
    sse = client.get(f"/devices/{mine.id}/live")
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert '"barrel_temp"' in sse.text and "215.5" in sse.text
    series = client.get(f"/api/v1/devices/{mine.id}/series?metric=barrel_temp&buckets=10")
    assert series.status_code == 200 and series.json()["points"][0][1] == 215.5
    csv_export = client.get(f"/api/v1/devices/{mine.id}/export?format=csv")
    assert csv_export.status_code == 200 and "barrel_temp" in csv_export.content.decode("utf-8-sig")
    assert client.get(f"/devices/{mine.id}/rejections").status_code == 200


def test_government_sees_aggregates_only(db: Any, login: Any) -> None:
    make_device(db, org_of(db, "factory"))
    city = login("city")
    page = city.get("/gov/devices")
    assert page.status_code == 200 and 'id="cluster-table"' in page.text
    assert city.get("/devices").status_code == 403
    assert city.get("/api/v1/devices").status_code == 403
    chenghai = login("chenghai").get("/gov/devices")
    assert chenghai.status_code == 200 and "潮南区" not in chenghai.text.split('id="cluster-table"')[1]
    assert 'id="panel-devices-online"' in login("city").get("/home").text
    assert login("factory").get("/gov/devices").status_code == 403


def test_activity_and_counts_for_other_contexts(db: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from chaoyun.devices import service

    org = org_of(db, "factory2")
    d, _ = make_device(db, org, name="活跃度设备")
    ingest.ingest(db, d, {"barrel_temp": 210, "power": 30}, "test")
    act = service.activity_by_enterprise(db, datetime.now(UTC) - timedelta(hours=1))[org.id]
    assert act.devices_reporting >= 1 and {"barrel_temp", "power"} <= act.metrics_collected
    rows = service.device_counts_by_district(db)
    total = db.execute(select(func.count()).select_from(Device)).scalar_one()
    assert sum(r[2] for r in rows) == total and sum(r[3] for r in rows) >= 1
