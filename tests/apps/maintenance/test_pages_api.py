"""The maintenance app through HTTP: pages and JSON API as the demo firm's admin (factory) and operator; forms
that come back with errors beside fields and values kept; refusals as messages (never 500); Excel exports; the
to-do list; who may see what (another enterprise, a city officer); app use recorded for the programme."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.models import AppUse
from chaoyun.apps.usage import app_of_path
from chaoyun.devices.models import Device
from chaoyun.identity.models import Membership, User
from tests.apps.helpers import new_device


def _org_and_ids(db: Session) -> tuple[int, int, int]:
    _u, m = db.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id).where(User.username == "factory")
    ).one()
    op = db.execute(select(User).where(User.username == "operator")).scalar_one()
    return m.org_id, op.id, _u.id


def _machine(db: Session, org_id: int) -> Device:
    d = db.execute(select(Device).where(Device.org_id == org_id, Device.name == "维护页1号注塑机")).scalar_one_or_none()
    return d or new_device(db, org_id, "injection_moulding", "维护页1号注塑机")


def test_order_flow_through_pages_and_api(db: Session, login: Any) -> None:
    org_id, operator_id, _admin_id = _org_and_ids(db)
    m = _machine(db, org_id)
    admin = login("factory")
    r = admin.get("/apps/maintenance")
    assert r.status_code == 200 and 'id="maint-tabs"' in r.text and "设备维护" in r.text
    # A form with an empty title comes back with the error beside it and the detail kept.
    r = admin.post("/apps/maintenance/orders", {"device_id": str(m.id), "kind": "corrective", "title": "",
                                                "detail": "液压站漏油"})
    assert r.status_code == 422 and 'data-field="title"' in r.text and "液压站漏油" in r.text
    r = admin.post("/apps/maintenance/orders", {"device_id": str(m.id), "kind": "corrective", "title": "液压站漏油"})
    assert r.status_code == 303
    order_url = r.headers["location"].split("?")[0]
    oid = int(order_url.rsplit("/", 1)[1])
    assert admin.get(order_url).status_code == 200
    # Start before assignment: a message on the page, not a 500.
    r = admin.post(f"{order_url}/start", {})
    assert r.status_code == 409 and "form-error" in r.text
    assert admin.post(f"{order_url}/assign", {"technician_id": str(operator_id)}).status_code == 303
    # A window with its end before its start: the error beside the end field.
    r = admin.post(f"{order_url}/window", {"start": "2026-12-20T10:00", "end": "2026-12-20T08:00"})
    assert r.status_code == 422 and 'data-field="end"' in r.text
    window = {"start": "2026-12-20T08:00", "end": "2026-12-20T10:00"}
    assert admin.post(f"{order_url}/window", window).status_code == 303
    assert admin.get(f"/api/v1/apps/maintenance/orders/{oid}").json()["planned_downtime_id"] is not None
    cal = admin.get("/api/v1/apps/maintenance/calendar?month=2026-12").json()
    assert any(e["order_id"] == oid and e["day"] == "2026-12-20" for e in cal["entries"])

    op = login("operator")
    assert op.post(f"{order_url}/start", {}).status_code == 303
    part = admin.post("/api/v1/apps/maintenance/parts", json={"code": "SEAL-1", "name": "油封", "stock": 1,
                                                               "reorder_point": 2})
    assert part.status_code == 201, part.text
    # Taking more than is in stock: a message beside the quantity, the value kept.
    r = op.post(f"{order_url}/parts", {"part_id": str(part.json()["id"]), "quantity": "5"})
    assert r.status_code == 422 and 'data-field="quantity"' in r.text and 'value="5"' in r.text
    assert op.post(f"{order_url}/parts", {"part_id": str(part.json()["id"]), "quantity": "1"}).status_code == 303
    # Finishing a corrective order without a cause is refused beside the field.
    r = op.post(f"{order_url}/finish", {"cause": "", "minutes": "35", "note": "更换油封"})
    assert r.status_code == 422 and 'data-field="cause"' in r.text and "更换油封" in r.text
    done = {"cause": "hydraulic", "minutes": "35", "note": "更换油封"}
    assert op.post(f"{order_url}/finish", done).status_code == 303
    # Done twice: a message.
    r = op.post(f"{order_url}/finish", {"cause": "hydraulic"})
    assert r.status_code == 409 and "form-error" in r.text
    got = admin.get(f"/api/v1/apps/maintenance/orders/{oid}").json()
    assert got["state"] == "done" and got["minutes_spent"] == 35 and got["cause"] == "hydraulic"
    assert got["parts"] == [{"part_id": part.json()["id"], "code": "SEAL-1", "name": "油封", "quantity": 1,
                             "used_by": "operator"}]
    # Done before its window: the window (and its planned downtime) is released.
    assert got["planned_downtime_id"] is None and got["window_start"] is None
    # The operator sees their order; the API refuses what their role may not do.
    assert any(o["id"] == oid for o in op.get("/api/v1/apps/maintenance/orders?state=done").json())
    assert op.post("/api/v1/apps/maintenance/parts", json={"code": "X", "name": "x"}).status_code == 403
    # The part is now below its reorder point: flagged on the page and in the admin's to-do list.
    assert 'data-reorder="1"' in admin.get("/apps/maintenance/parts").text
    home = admin.get("/home").text
    assert "/apps/maintenance/parts" in home
    # Exports.
    x = admin.get("/api/v1/apps/maintenance/orders.xlsx?state=done")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).worksheets[0]
    assert ws["A2"].value == "number" and any(c.value == got["number"] for c in ws["A"])
    rel = admin.get("/api/v1/apps/maintenance/reliability.xlsx?days=7")
    assert rel.status_code == 200 and len(load_workbook(io.BytesIO(rel.content)).worksheets) == 3
    for url in ("/apps/maintenance/plans", "/apps/maintenance/reliability", "/apps/maintenance/calendar?month=2026-12",
                "/api/v1/apps/maintenance/reliability?days=30", "/api/v1/apps/maintenance/calendar?month=2026-12",
                "/api/v1/apps/maintenance/plans", "/api/v1/apps/maintenance/settings"):
        assert admin.get(url).status_code == 200, url
    # The list: search by number or title, sort, page.
    page = admin.get(f"/apps/maintenance?state=all&mine=0&q={got['number']}").text
    assert f'data-order="{oid}"' in page and page.count("data-order=") == 1
    page = admin.get("/apps/maintenance?state=all&mine=0&q=液压站&sort=-due").text
    assert f'data-order="{oid}"' in page and 'data-total="' in page
    # App use is recorded under "maintenance".
    assert app_of_path("/apps/maintenance/plans") == "maintenance"
    db.expire_all()
    assert db.execute(select(AppUse).where(AppUse.org_id == org_id, AppUse.app == "maintenance")).first() is not None


def test_plan_form_and_settings(db: Session, login: Any) -> None:
    org_id, _op, _a = _org_and_ids(db)
    m = _machine(db, org_id)
    meter = new_device(db, org_id, "energy_meter", "维护页电表")
    admin = login("factory")
    r = admin.post("/apps/maintenance/plans", {"device_id": str(meter.id), "name": "按小时", "trigger": "runtime",
                                               "every": "500", "active": "1"})
    assert r.status_code == 422 and 'data-field="trigger"' in r.text and 'value="按小时"' in r.text
    r = admin.post("/apps/maintenance/plans", {"device_id": str(m.id), "name": "按小时", "trigger": "runtime",
                                               "every": "abc", "active": "1"})
    assert r.status_code == 422 and 'data-field="every"' in r.text
    r = admin.post("/apps/maintenance/plans", {"device_id": str(m.id), "name": "按小时保养", "trigger": "runtime",
                                               "every": "500", "duration_min": "90", "active": "1"})
    assert r.status_code == 303
    assert any(p["name"] == "按小时保养" for p in admin.get("/api/v1/apps/maintenance/plans").json())
    r = admin.post("/apps/maintenance/settings", {"alarm_severities": ["critical"], "alarm_kinds": ["state"],
                                                  "failure_min_stop_min": "15"})
    assert r.status_code == 303
    assert admin.get("/api/v1/apps/maintenance/settings").json() == {
        "alarm_severities": ["critical"], "alarm_kinds": ["state"], "failure_min_stop_min": 15.0}


def test_who_may_see_what(db: Session, login: Any) -> None:
    org_id, _op, _a = _org_and_ids(db)
    m = _machine(db, org_id)
    admin = login("factory")
    oid = admin.post("/api/v1/apps/maintenance/orders", json={"device_id": m.id, "title": "异响"}).json()["id"]
    other = login("factory2")
    assert other.get(f"/apps/maintenance/orders/{oid}").status_code == 404
    assert other.get(f"/api/v1/apps/maintenance/orders/{oid}").status_code == 404
    assert other.post(f"/api/v1/apps/maintenance/orders/{oid}/cancel", json={}).status_code == 404
    assert all(o["id"] != oid for o in other.get("/api/v1/apps/maintenance/orders?state=all").json())
    r = other.post("/api/v1/apps/maintenance/orders", json={"device_id": m.id, "title": "x"})
    assert r.status_code == 404
    city = login("city")
    assert city.get("/apps/maintenance").status_code == 403
    assert city.get("/api/v1/apps/maintenance/orders").status_code == 403
    assert city.get("/api/v1/apps/maintenance/reliability").status_code == 403
    # A member who is not the technician reads the order (is the breakdown reported already?) but cannot act on it.
    op = login("operator")
    assert op.get(f"/api/v1/apps/maintenance/orders/{oid}").status_code == 200
    assert all(o["id"] != oid for o in op.get("/api/v1/apps/maintenance/orders?mine=true").json())
    assert op.post(f"/api/v1/apps/maintenance/orders/{oid}/cancel", json={}).status_code == 403
    assert op.post(f"/api/v1/apps/maintenance/orders/{oid}/start", json={}).status_code == 403
