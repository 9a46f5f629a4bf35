"""The pages and the API for both sides, signed in as the demo's toy maker (`factory`) and supplier (`supplier`):
forms that keep input with errors beside fields, a second click that saves nothing twice, a second confirmation
that is a clear 409, CSV / Excel import (all or nothing) and export, each side seeing only what concerns it."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.supplychain import service
from chaoyun.supplychain.models import OrderLine, Partnership, PurchaseOrder
from tests.production.helpers import Firm, firm, product

DUE = (timefmt.local_today() + timedelta(days=15)).isoformat()


def _actor(db: Session, username: str) -> Actor:
    u = db.execute(select(User).where(User.username == username)).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == u.id)).scalars().first()
    assert m is not None
    return Actor(u, m)


def _supplier_ready(db: Session) -> tuple[Actor, Actor]:
    """factory and supplier as partners; the supplier makes SHELL on machines of its own."""
    from tests.apps.helpers import new_device
    from tests.production.helpers import product as make_product

    lead, sup = _actor(db, "factory"), _actor(db, "supplier")
    if service.partnership(db, lead.org_id, sup.org_id) is None:
        p = service.invite(db, lead, sup.org_id)
        service.answer_invitation(db, sup, p.id, accept=True)
    from chaoyun.production import service as production

    if production.item_by_code(db, sup.org_id, "SHELL") is None:
        f = Firm(
            sup.org,
            sup,
            sup,
            new_device(db, sup.org_id, "injection_moulding", "1号注塑机"),
            new_device(db, sup.org_id, "injection_moulding", "2号注塑机"),
            new_device(db, sup.org_id, "packaging", "1号包装机"),
        )
        make_product(db, f, code="SHELL")
    return lead, sup


def _line_form(i: int, code: str = "SHELL", qty: str = "100", price: str = "2.5", due: str = DUE) -> dict[str, str]:
    f = f"lines.{i}."
    return {
        f + "item_code": code,
        f + "item_name": "外壳",
        f + "quantity": qty,
        f + "unit_price": price,
        f + "due_date": due,
    }


def _token(html: str) -> str:
    m = re.search(r'name="form_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


def test_order_journey_on_pages(db: Session, login: Any) -> None:
    _lead, sup = _supplier_ready(db)
    factory, supplier = login("factory"), login("supplier")
    page = factory.get("/supplychain/orders/new")
    assert page.status_code == 200 and "新建采购订单" in page.text
    token = _token(page.text)
    before = db.execute(select(func.count()).select_from(PurchaseOrder)).scalar_one()
    # Bad input: a negative quantity on the second row and a past date on the third; values kept, nothing saved.
    past = (timefmt.local_today() - timedelta(days=1)).isoformat()
    bad = {
        "supplier_org_id": str(sup.org_id),
        "reference": "P-1",
        "form_token": token,
        **_line_form(0),
        **_line_form(1, qty="-5"),
        **_line_form(2, due=past),
    }
    r = factory.post("/supplychain/orders/new", bad)
    assert r.status_code == 422
    assert 'data-field="lines.1.quantity"' in r.text and "数量必须是正整数" in r.text
    assert 'value="-5"' in r.text and 'value="P-1"' in r.text
    db.expire_all()
    assert db.execute(select(func.count()).select_from(PurchaseOrder)).scalar_one() == before
    good = {
        "supplier_org_id": str(sup.org_id),
        "reference": "P-1",
        "form_token": token,
        **_line_form(0),
        **_line_form(1, code="SHELL", qty="50"),
    }
    r = factory.post("/supplychain/orders/new", good)
    assert r.status_code == 303, r.text
    order_url = r.headers["location"].split("?")[0]
    again = factory.post("/supplychain/orders/new", good)  # a second click: no second order
    assert again.status_code == 303 and again.headers["location"].split("?")[0] == order_url
    db.expire_all()
    assert db.execute(select(func.count()).select_from(PurchaseOrder)).scalar_one() == before + 1
    order_id = int(order_url.rsplit("/", 1)[1])
    po = db.get(PurchaseOrder, order_id)
    assert po is not None and len(po.lines) == 2
    # The supplier's inbox and the order page with the answers.
    inbox = supplier.get("/supplychain/inbox?view=todo")
    assert inbox.status_code == 200 and po.number in inbox.text
    op = supplier.get(order_url)
    assert op.status_code == 200 and 'data-action="confirm"' in op.text
    l1, l2 = po.lines
    r = supplier.post(f"/supplychain/lines/{l1.id}/confirm", {"item_id": ""})
    assert r.status_code == 303
    r = supplier.post(f"/supplychain/lines/{l1.id}/confirm", {"item_id": ""})
    assert r.status_code == 409 and "已被答复过" in r.text
    r = supplier.post(f"/supplychain/lines/{l2.id}/propose", {"quantity": "-3"})
    assert r.status_code == 422 and 'data-field="quantity"' in r.text
    r = supplier.post(f"/supplychain/lines/{l2.id}/propose", {"quantity": "40", "note": "产能"})
    assert r.status_code == 303
    # The lead sees the proposal, accepts it; the buyer cannot confirm.
    view = factory.get(order_url)
    assert "供应商提议" in view.text and 'data-action="accept"' in view.text
    assert factory.post(f"/supplychain/lines/{l2.id}/accept").status_code == 303
    assert factory.post(f"/supplychain/lines/{l2.id}/confirm").status_code in (403, 409)
    overview = factory.get("/supplychain")
    assert overview.status_code == 200 and "progress-bar" in overview.text and po.number in overview.text
    ev = supplier.get("/supplychain/events")
    assert ev.status_code == 200 and "接受了您对订单" in ev.text
    assert factory.get("/supplychain/partners").status_code == 200
    assert factory.get("/supplychain/inbound").status_code == 200


def test_each_side_sees_only_what_concerns_it(db: Session, login: Any) -> None:
    lead, _sup = _supplier_ready(db)
    other = firm(db, "另一家供应商")
    p = service.invite(db, lead, other.org.id)
    service.answer_invitation(db, other.admin, p.id, accept=True)
    secret = service.create_order(
        db,
        lead,
        other.org.id,
        [service.NewLine("SECRET-1", "别家的件", 10, __import__("decimal").Decimal("1"), timefmt.local_today())],
    )
    supplier = login("supplier")
    for url in (
        "/supplychain/inbox?view=active",
        "/supplychain/inbox?view=done",
        "/api/v1/supplychain/inbox",
        "/supplychain/inbound",
        "/supplychain/export.csv?side=supplier",
    ):
        r = supplier.get(url)
        assert r.status_code == 200 and "SECRET-1" not in r.text and other.org.name not in r.text, url
    partners = supplier.get("/supplychain/partners").text
    table = partners.split('id="partners"', 1)[-1].split("</table>", 1)[0]
    assert other.org.name not in table  # the invite list is the enterprise directory; relations stay private
    assert supplier.get(f"/supplychain/orders/{secret.id}").status_code == 404
    assert supplier.get(f"/api/v1/supplychain/orders/{secret.id}").status_code == 404
    officer = login("chenghai")
    g = officer.get("/gov/supplychain")
    assert g.status_code == 200 and "SECRET-1" not in g.text and other.org.name not in g.text
    assert officer.get("/supplychain").status_code in (403, 404)


def test_api_both_sides(db: Session, login: Any) -> None:
    _lead, sup = _supplier_ready(db)
    factory, supplier = login("factory"), login("supplier")
    bad = {
        "supplier_org_id": sup.org_id,
        "lines": [{"item_code": "SHELL", "item_name": "外壳", "quantity": -1, "unit_price": "1.00", "due_date": DUE}],
    }
    r = factory.post("/api/v1/supplychain/orders", json=bad)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] == "lines.0.quantity" and "正整数" in err["message_zh"] and "positive" in err["message_en"]
    ok = {**bad, "lines": [{**bad["lines"][0], "quantity": 30}]}
    r = factory.post("/api/v1/supplychain/orders", json=ok)
    assert r.status_code == 201, r.text
    body = r.json()
    line_id = body["lines"][0]["id"]
    inbox = supplier.get("/api/v1/supplychain/inbox?view=todo").json()
    assert any(i["id"] == line_id for i in inbox["items"])
    assert supplier.post(f"/api/v1/supplychain/lines/{line_id}/confirm", json={}).status_code == 200
    second = supplier.post(f"/api/v1/supplychain/lines/{line_id}/confirm", json={})
    assert second.status_code == 409 and second.json()["error"]["message_zh"]
    got = factory.get(f"/api/v1/supplychain/orders/{body['id']}").json()
    assert got["lines"][0]["state"] == "confirmed" and got["lines"][0]["work_order"]
    assert factory.get("/api/v1/supplychain/partners").status_code == 200
    assert supplier.get("/api/v1/supplychain/events").status_code == 200


def test_import_all_or_nothing_and_export(db: Session, login: Any) -> None:
    _lead, sup = _supplier_ready(db)
    factory = login("factory")
    supplier_name = db.get(Organisation, sup.org_id).name  # type: ignore[union-attr]
    past = (timefmt.local_today() - timedelta(days=3)).isoformat()

    def upload(rows: list[list[str]]) -> Any:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["供应商", "参考号", "物料编码", "物料名称", "数量", "单价", "交期"])
        w.writerows(rows)
        page = factory.get("/supplychain/import")
        assert page.status_code == 200
        return factory.post("/supplychain/import", files={"file": ("orders.csv", buf.getvalue().encode("utf-8"))})

    before = db.execute(select(func.count()).select_from(OrderLine)).scalar_one()
    r = upload(
        [
            [supplier_name, "IMP-1", "SHELL", "外壳", "100", "2.5", DUE],
            [supplier_name, "IMP-1", "SHELL", "外壳", "-4", "2.5", DUE],
            [supplier_name, "IMP-2", "SHELL", "外壳", "10", "2.5", past],
            ["不存在的厂", "IMP-3", "SHELL", "外壳", "10", "2.5", DUE],
        ]
    )
    assert r.status_code == 422 and "未保存任何数据" in r.text
    assert r.text.count("<tr><td>") >= 3
    db.expire_all()
    assert db.execute(select(func.count()).select_from(OrderLine)).scalar_one() == before
    r = upload(
        [
            [supplier_name, "IMP-1", "SHELL", "外壳", "100", "2.5", DUE],
            [supplier_name, "IMP-1", "SHELL", "外壳", "40", "2.5", DUE],
            [supplier_name, "IMP-2", "SHELL", "外壳", "10", "2.5", DUE],
        ]
    )
    assert r.status_code == 200 and 'id="import-ok"' in r.text
    db.expire_all()
    assert db.execute(select(func.count()).select_from(OrderLine)).scalar_one() == before + 3
    assert db.execute(select(func.count()).where(PurchaseOrder.reference == "IMP-1")).scalar_one() == 1
    csv_r = factory.get("/supplychain/export.csv?side=buyer")
    assert csv_r.status_code == 200 and "IMP-1" in csv_r.content.decode("utf-8-sig")
    x = factory.get("/supplychain/export.xlsx?side=buyer")
    ws = load_workbook(io.BytesIO(x.content)).active
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref
    assert any(c.value == "IMP-1" for row in ws.iter_rows() for c in row)
    assert db.execute(select(func.count()).select_from(Partnership)).scalar_one() >= 1
    _ = product  # the helper module is shared with the service tests
