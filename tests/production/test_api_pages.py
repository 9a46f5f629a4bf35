"""The production API and pages as the demo users see them: the enterprise admin manages, the operator reports,
another enterprise sees nothing, the district officer sees aggregates only."""

from __future__ import annotations

import io
import secrets
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.devices.models import Device
from chaoyun.identity.models import Membership, Organisation, User
from tests.apps.helpers import new_device

FUTURE = (timefmt.local_today() + timedelta(days=20)).isoformat()
PAST = (timefmt.local_today() - timedelta(days=1)).isoformat()


def _org(db: Session, username: str) -> Organisation:
    return db.execute(
        select(Organisation)
        .join(Membership, Membership.org_id == Organisation.id)
        .join(User, User.id == Membership.user_id)
        .where(User.username == username)
    ).scalar_one()


def _machines(db: Session, username: str) -> tuple[Device, Device]:
    org = _org(db, username)
    return new_device(db, org.id, "injection_moulding", f"注塑{secrets.token_hex(2)}"), new_device(
        db, org.id, "packaging", f"包装{secrets.token_hex(2)}"
    )


def _setup(db: Session, admin: Any) -> dict[str, Any]:
    im, pk = _machines(db, "factory")
    code = f"T-{secrets.token_hex(3)}"
    r = admin.post("/api/v1/production/items", json={"code": code, "name": "测试积木", "unit": "套", "family": "积木"})
    assert r.status_code == 201, r.text
    item = r.json()
    ops = [
        {"seq": 10, "name": "注塑", "setup_s": 1800, "machines": [{"device_id": im.id, "cycle_s": 24}]},
        {"seq": 20, "name": "包装", "machines": [{"device_id": pk.id, "cycle_s": 10}]},
    ]
    r = admin.request("PUT", f"/api/v1/production/items/{item['id']}/routing", json={"operations": ops})
    assert r.status_code == 200, r.text
    assert [o["seq"] for o in r.json()["routing"]] == [10, 20]
    return {"item": item, "code": code, "im": im, "pk": pk}


def test_api_flow_and_refusals(db: Session, login: Any) -> None:
    admin = login("factory")
    s = _setup(db, admin)
    item = s["item"]
    foreign_im, _ = _machines(db, "factory2")
    bad = [
        {"seq": 10, "name": "注塑", "machines": [{"device_id": s["im"].id, "cycle_s": 0}]},
    ]
    r = admin.request("PUT", f"/api/v1/production/items/{item['id']}/routing", json={"operations": bad})
    assert r.status_code == 422 and r.json()["error"]["field"] == "operations.0.machines.0.cycle_s"
    assert r.json()["error"]["message_zh"] != r.json()["error"]["message_en"]
    bad[0]["machines"] = [{"device_id": foreign_im.id, "cycle_s": 20}]
    r = admin.request("PUT", f"/api/v1/production/items/{item['id']}/routing", json={"operations": bad})
    assert r.status_code == 422 and "本企业" in r.json()["error"]["message_zh"]
    bad[0]["machines"] = []
    r = admin.request("PUT", f"/api/v1/production/items/{item['id']}/routing", json={"operations": bad})
    assert r.status_code == 422
    assert len(admin.get(f"/api/v1/production/items/{item['id']}").json()["routing"]) == 2  # unchanged

    number = f"WO-{secrets.token_hex(3)}"
    body = {"number": number, "item_id": item["id"], "quantity": 100, "due_date": FUTURE}
    assert admin.post("/api/v1/production/work-orders", json=body | {"quantity": -3}).status_code == 422
    r = admin.post("/api/v1/production/work-orders", json=body | {"due_date": PAST})
    assert r.status_code == 422 and r.json()["error"]["field"] == "due_date"
    r = admin.post("/api/v1/production/work-orders", json=body)
    assert r.status_code == 201, r.text
    wo = r.json()
    r = admin.post(f"/api/v1/production/work-orders/{wo['id']}/transition", json={"to": "running"})
    assert r.status_code == 409
    err = r.json()["error"]
    assert number in err["message_zh"] and number in err["message_en"] and "Planned" in err["message_en"]
    assert (
        admin.post(f"/api/v1/production/work-orders/{wo['id']}/transition", json={"to": "released"}).status_code == 200
    )

    operator = login("operator")
    assert operator.post("/api/v1/production/items", json={"code": "X", "name": "X"}).status_code == 403
    op10 = wo["operations"][0]["id"]
    r = operator.post(f"/api/v1/production/operations/{op10}/start", json={"device_id": s["pk"].id})
    assert r.status_code == 422  # the packing machine is not eligible for moulding
    r = operator.post(f"/api/v1/production/operations/{op10}/start", json={"device_id": s["im"].id})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    queue = operator.get(f"/api/v1/production/machines/{s['im'].id}/queue").json()
    assert queue[0]["report"]["id"] == rid
    assert operator.post(f"/api/v1/production/reports/{rid}/pause").json()["state"] == "paused"
    assert operator.post(f"/api/v1/production/reports/{rid}/resume").json()["state"] == "running"
    r = operator.post(f"/api/v1/production/reports/{rid}/finish", json={})
    assert r.status_code == 422 and r.json()["error"]["field"] == "good"
    r = operator.post(f"/api/v1/production/reports/{rid}/finish", json={"good": 98, "reject": 2})
    assert r.status_code == 200 and r.json()["source"] == "operator"
    r = operator.post(f"/api/v1/production/reports/{rid}/finish", json={"good": 98, "reject": 2})
    assert r.status_code == 409 and "已经完工" in r.json()["error"]["message_zh"]
    detail = admin.get(f"/api/v1/production/work-orders/{wo['id']}").json()
    assert detail["state"] == "running" and detail["operations"][0]["good"] == 98

    # Another enterprise: 404 on the record, nothing in its lists.
    other = login("factory2")
    assert other.get(f"/api/v1/production/work-orders/{wo['id']}").status_code == 404
    assert other.post(f"/api/v1/production/reports/{rid}/pause").status_code == 404
    assert s["code"] not in other.get(f"/api/v1/production/items?q={s['code']}").text
    # The district officer reads aggregates only.
    officer = login("chenghai")
    assert officer.get("/api/v1/production/items").status_code == 403
    assert officer.get(f"/api/v1/production/work-orders/{wo['id']}").status_code == 403
    r = officer.get("/api/v1/production/cluster")
    assert r.status_code == 200 and s["code"] not in r.text and number not in r.text
    assert all(row["district"] == "chenghai" for row in r.json())
    assert "WO-" not in officer.get("/gov/production").text


def test_pages(db: Session, login: Any) -> None:
    admin = login("factory")
    s = _setup(db, admin)
    item = s["item"]
    page = admin.get(f"/production/items?q={s['code']}")
    assert page.status_code == 200 and s["code"] in page.text
    page = admin.get(f"/production/items/{item['id']}")
    assert page.status_code == 200 and "注塑" in page.text and s["im"].name in page.text
    # One form pattern: the same page with the error beside its field, values kept.
    r = admin.post("/production/items", {"code": s["code"], "name": "重复的"})
    assert r.status_code == 422 and "重复的" in r.text and 'id="form-error"' in r.text
    r = admin.post(
        f"/production/items/{item['id']}/operations", {"seq": "30", "name": "检验", f"cycle_{s['im'].id}": "0"}
    )
    assert r.status_code == 422 and "检验" in r.text and "节拍" in r.text
    r = admin.post(f"/production/items/{item['id']}/operations", {"seq": "30", "name": "检验"})
    assert r.status_code == 422 and "没有可用设备" in r.text
    number = f"WP-{secrets.token_hex(3)}"
    form = {"number": number, "item_id": str(item["id"]), "quantity": "50", "due_date": PAST}
    r = admin.post("/production/work-orders", form)
    assert r.status_code == 422 and "交期不能早于今天" in r.text and number in r.text
    r = admin.post("/production/work-orders", form | {"due_date": FUTURE})
    assert r.status_code == 303
    wo_url = r.headers["location"].split("?")[0]
    wo_id = int(wo_url.rsplit("/", 1)[1])
    r = admin.post(f"{wo_url}/transition", {"to": "running"})
    assert r.status_code == 409 and "不能变为" in r.text
    assert admin.post(f"{wo_url}/transition", {"to": "released"}).status_code == 303
    assert "已下达" in admin.get(wo_url).text

    operator = login("operator")
    machine = f"/production/machines/{s['im'].id}"
    page = operator.get(machine)
    assert page.status_code == 200 and number in page.text and 'data-action="start"' in page.text
    op_id = admin.get(f"/api/v1/production/work-orders/{wo_id}").json()["operations"][0]["id"]
    r = operator.post(f"/production/operations/{op_id}/start", {"device_id": str(s["im"].id)})
    assert r.status_code == 303
    page = operator.get(machine)
    assert 'data-action="pause"' in page.text and 'data-action="finish"' in page.text
    rid = admin.get(f"/api/v1/production/work-orders/{wo_id}").json()["operations"][0]["reports"][0]["id"]
    r = operator.post(f"/production/reports/{rid}/finish", {})
    assert r.status_code == 422 and "录入良品数" in r.text
    assert operator.post(f"/production/reports/{rid}/finish", {"good": "49", "reject": "1"}).status_code == 303
    r = operator.post(f"/production/reports/{rid}/finish", {"good": "49"})
    assert r.status_code == 409 and "不能重复完工" in r.text
    page = admin.get(wo_url)
    assert "操作工录入" in page.text and "49" in page.text
    r = operator.post(
        f"{wo_url}/lots",
        {"number": f"L-{number}", "start": "2026-03-10T08:00", "end": "2026-03-10T12:00", "quantity": "49"},
    )
    assert r.status_code == 303
    assert f"L-{number}" in operator.get("/production/lots").text
    assert operator.get("/production/import").status_code == 403


def test_import_page_and_exports(db: Session, login: Any) -> None:
    admin = login("factory")
    code = f"I-{secrets.token_hex(3)}"
    csv = f"编码,名称,单位,产品族,类型\n{code},导入积木,套,积木,产品\n,缺编码,套,,产品\n{code}M,导入粒料,kg,,物料\n"
    r = admin.post(
        "/production/import",
        {"kind": "items"},
        files={"file": ("items.csv", csv.encode("utf-8"), "text/csv")},
    )
    assert r.status_code == 200 and 'id="import-rejected"' in r.text
    assert "已保存 2 行" in r.text and "This field is required." in r.text
    x = admin.get("/production/items.xlsx")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).worksheets[0]
    assert [c.value for c in ws[1]] == ["编码", "名称", "单位", "产品族", "类型"]
    assert [c.value for c in ws[2]] == ["code", "name", "unit", "family", "kind"]
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref
    assert code in [c.value for c in ws["A"]]
    # The export is a valid import file: importing it again refuses only the codes that exist.
    r = admin.post(
        "/api/v1/production/import?kind=items",
        files={"file": ("items.xlsx", x.content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 0 and body["rejected"] and all(e["line"] >= 3 for e in body["rejected"])
    for path in ("/production/routings.xlsx", "/production/work-orders.xlsx"):
        assert admin.get(path).status_code == 200
