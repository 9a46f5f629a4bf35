"""HTTP: anonymous resolution (Handle JSON, 403 for non-public, same 404, 429 with Retry-After), the scan page,
bulk import by Excel with errors by row, labels PDF, recall page and Excel, forms that keep input."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session

from chaoyun.identity.permissions import Permission
from chaoyun.web import ratelimit
from chaoyun.web.app import flat_routes
from tests.route_samples.trace import PUBLIC_ROUTES
from tests.test_route_security import api_routes, org_of, permission_of
from tests.trace.helpers import firm_of, lot


@pytest.fixture(autouse=True)
def _fresh_buckets() -> Any:
    ratelimit.clear()
    yield
    ratelimit.clear()


def test_public_resolution_routes_are_declared(app: Any) -> None:
    public = {
        (m, r.path)
        for m, r in api_routes(app)
        if permission_of(r) == [Permission.PUBLIC] and ("/trace" in r.path or r.path.startswith("/t/"))
    }
    assert public == PUBLIC_ROUTES
    assert any(getattr(r, "path", "") == "/t/{handle:path}" for r in flat_routes(app.routes))


def _registered(db: Session, login: Any) -> tuple[Any, str]:
    factory = login("factory")
    r = factory.post(
        "/api/v1/trace/identifiers",
        json={
            "template": "META_model",
            "attrs": {"model_code": "CAR-9", "product_name": "回力赛车", "bom_version": "v7"},
        },
    )
    assert r.status_code == 201, r.text
    return factory, r.json()["handle"]


def test_anonymous_resolution_public_values_403_and_same_404(app: Any, db: Session, login: Any) -> None:
    factory, h = _registered(db, login)
    anon = login(None)
    r = anon.get(f"/api/v1/trace/handles/{h}")
    assert r.status_code == 200
    body = r.json()
    assert body["responseCode"] == 1 and body["handle"] == h
    by_type = {v["type"]: v for v in body["values"]}
    assert by_type["model_code"]["data"]["value"] == "CAR-9" and "bom_version" not in by_type
    assert all({"index", "type", "data"} <= set(v) for v in body["values"])
    r = anon.get(f"/api/v1/trace/handles/{h}?full=true")
    assert r.status_code == 403 and r.json()["responseCode"] == 402 and "v7" not in r.text
    assert r.json()["error"]["message_zh"] and r.json()["error"]["message_en"]
    other = login("factory2")
    r = other.get(f"/api/v1/trace/handles/{h}?type=bom_version")
    assert r.status_code == 403 and r.json()["responseCode"] == 400 and "v7" not in r.text
    assert "v7" in factory.get(f"/api/v1/trace/handles/{h}?full=true").text
    absent = anon.get(f"/api/v1/trace/handles/{h[:-2]}ZZ")
    assert absent.status_code == 404 and absent.json()["responseCode"] == 100
    bad = anon.get("/api/v1/trace/handles/not-a-handle")
    assert bad.status_code == 422 and bad.json()["responseCode"] == 102
    assert "不是有效的标识" in bad.json()["error"]["message_zh"]
    page = anon.get(f"/t/{h}")
    assert page.status_code == 200 and "回力赛车" in page.text and "v7" not in page.text
    assert org_of(db, "factory").name in page.text
    assert anon.get(f"/t/{h[:-2]}ZZ").status_code == 404


def test_resolution_is_rate_limited_per_client(app: Any, db: Session, login: Any, monkeypatch: Any) -> None:
    _, h = _registered(db, login)
    monkeypatch.setenv("CHAOYUN_RATE_LIMIT_TRACE_RESOLVE", "6/3")
    anon = login(None)
    codes = [anon.get(f"/api/v1/trace/handles/{h}").status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    r = anon.get(f"/t/{h}")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_bulk_import_by_excel_reports_bad_rows_and_labels_print(app: Any, db: Session, login: Any) -> None:
    factory = login("factory")
    assert factory.get("/trace").status_code == 200  # allocates the prefix on an admin's first visit
    sheet = factory.get("/trace/import-sheet.xlsx?template=META_item")
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
    data = _xlsx(
        [
            ["template", "suffix", "serial", "produced_on"],
            ["META_item", "", "SN-1", "2026-11-30"],
            ["META_item", "", "SN-2", "yesterday"],
            [None, None, None, None],
            ["META_item", "88.1.2/X", "SN-3", ""],
            ["META_item", "", "SN-4", "2026-12-01"],
        ]
    )
    files = {"file": ("ids.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
    r = factory.client.post("/api/v1/trace/identifiers/import", files=files, headers={"X-CSRF-Token": factory.csrf})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["created"] == 2
    assert [(e["row"], e["field"]) for e in rep["errors"]] == [(3, "attrs.produced_on"), (5, "suffix")]
    page = factory.client.post("/trace/import", data={"csrf_token": factory.csrf}, files=files)
    assert page.status_code == 200 and 'id="import-errors"' in page.text
    ids = [i["id"] for i in factory.get("/api/v1/trace/identifiers?limit=3").json()]
    pdf = factory.get("/trace/labels.pdf?" + "&".join(f"id={i}" for i in ids))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    other = login("factory2")
    assert other.get(f"/api/v1/trace/labels.pdf?id={ids[0]}").status_code == 404


def test_register_form_keeps_input_and_shows_errors_beside_fields(app: Any, db: Session, login: Any) -> None:
    factory = login("factory")
    factory.get("/trace")
    r = factory.post(
        "/trace/identifiers",
        {"template": "META_item", "suffix": "", "attr_serial": "SN-keep", "attr_produced_on": "31/11/2026"},
    )
    assert r.status_code == 422
    assert 'value="SN-keep"' in r.text and 'data-field="attr_produced_on"' in r.text
    r = factory.post("/trace/identifiers", {"template": "META_item", "attr_serial": "SN-ok"})
    assert r.status_code == 303
    r = factory.post("/trace/identifiers", {"template": "META_item", "suffix": "88.9.9/ABC", "attr_serial": "x"})
    assert r.status_code == 422 and 'data-field="suffix"' in r.text


def test_recall_page_graph_and_excel(app: Any, db: Session, login: Any) -> None:
    f = firm_of(db, org_of(db, "factory").id)
    made = lot(db, f, "PAGE-CAR-1", [("ABS-M", "ABS-PAGE-BAD")])
    factory = login("factory")
    window = factory.get(f"/api/v1/trace/lots/{made.id}/window").json()
    assert window["machine"] == f.im1.name and window["work_order"] == made.work_order.number
    lot_page = factory.get(f"/trace/lots/{made.id}")
    assert lot_page.status_code == 200 and "ABS-PAGE-BAD" in lot_page.text and 'id="lot-facts"' in lot_page.text
    assert login("factory2").get(f"/trace/lots/{made.id}").status_code == 404
    r = factory.post(
        "/trace/deliveries",
        {
            "lot_number": "PAGE-CAR-1",
            "customer_name": "Berlin Spielwaren",
            "quantity": "50",
            "delivered_at": "2026-12-01T09:30",
        },
    )
    assert r.status_code == 303, r.text
    bad = factory.post(
        "/trace/deliveries", {"lot_number": "NOPE", "customer_name": "X", "quantity": "x", "delivered_at": ""}
    )
    assert bad.status_code == 422 and 'data-field="quantity"' in bad.text
    page = factory.get("/trace/recall?lot=ABS-PAGE-BAD")
    assert page.status_code == 200 and "Berlin Spielwaren" in page.text and 'id="trace-graph"' in page.text
    assert "PAGE-CAR-1" in page.text
    x = factory.get("/trace/recall.xlsx?lot=ABS-PAGE-BAD")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    api = factory.get("/api/v1/trace/recall?lot=ABS-PAGE-BAD").json()
    assert api["customers"] == ["Berlin Spielwaren"]
    missing = factory.get("/trace/recall?lot=NO-SUCH-LOT")
    assert missing.status_code == 404 and 'id="trace-error"' in missing.text
    other = login("factory2")
    assert other.get("/api/v1/trace/recall?lot=ABS-PAGE-BAD").status_code == 404
    link = factory.post("/trace/links", {"from_lot": "PAGE-CAR-1", "into_lot": "PAGE-CAR-1"})
    assert link.status_code == 422 and "循环" in link.text and 'data-field="into_lot"' in link.text
