"""Payment-term pages and API as the demo users: invoice a receipt, refusals beside their fields with the input
kept, a second click saves nothing twice, payments, aging in both languages, Excel, the officers' view."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.supplychain.terms.models import Invoice
from tests.route_samples.supplychain_capacity_terms import _session
from tests.supplychain.capacity_terms_helpers import receipt
from tests.test_route_security import org_of


def _token(html: str) -> str:
    m = re.search(r'name="form_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


def test_invoice_pay_and_aging_pages(db: Session, login: Any) -> None:
    buyer, supplier = org_of(db, "factory"), org_of(db, "factory2")
    r = receipt(db, buyer, supplier, Decimal("1000.00"), datetime.now(UTC) - timedelta(days=75))
    sup = login("factory2")
    page = sup.get("/supplychain/terms")
    assert page.status_code == 200 and "应收账款" in page.text and r.number in page.text
    token = _token(page.text)
    bad = sup.post(
        "/supplychain/terms/invoices",
        {"form": "invoice", "form_token": token, "receipt_id": r.id, "number": "FP-P1", "amount": "1200.00"},
    )
    assert bad.status_code == 422
    assert 'data-field="amount"' in bad.text and "发票金额超过收货价值" in bad.text and 'value="1200.00"' in bad.text
    neg = sup.post(
        "/supplychain/terms/invoices", {"form": "invoice", "receipt_id": r.id, "number": "FP-P1", "amount": "-3"}
    )
    assert neg.status_code == 422 and "金额不能为负数" in neg.text
    before = db.execute(select(func.count()).select_from(Invoice)).scalar_one()
    form = {"form": "invoice", "form_token": token, "receipt_id": r.id, "number": "FP-P1", "amount": "800.00"}
    ok = sup.post("/supplychain/terms/invoices", form)
    assert ok.status_code == 303 and "/supplychain/terms/invoices/" in ok.headers["location"]
    again = sup.post("/supplychain/terms/invoices", form)  # a second click
    assert again.status_code == 303 and again.headers["location"] == ok.headers["location"]
    assert db.execute(select(func.count()).select_from(Invoice)).scalar_one() == before + 1
    inv_url = ok.headers["location"].split("?")[0]
    # Received 75 days ago, statutory 60 days: 15 days overdue, shown to the buyer as payable and in the to-do.
    buy = login("factory")
    payables = buy.get("/supplychain/terms?side=payer")
    assert payables.status_code == 200 and "FP-P1" in payables.text and 'data-bucket="d0_30"' in payables.text
    home = buy.get("/home")
    assert "逾期待付的发票" in home.text
    detail = buy.get(inv_url)
    assert "逾期 15 天" in detail.text
    over = buy.post(inv_url + "/payments", {"form_token": _token(detail.text), "amount": "900"})
    assert over.status_code == 422 and "付款金额超过未结金额" in over.text and 'value="900"' in over.text
    paid = buy.post(
        inv_url + "/payments", {"form_token": _token(detail.text), "amount": "300.50", "reference": "回单1"}
    )
    assert paid.status_code == 303
    assert "¥499.50" in buy.get(inv_url).text
    # English on the switch.
    buy.post("/lang", {"lang": "en", "back": "/home"})
    en = buy.get("/supplychain/terms?side=payer")
    assert "We owe (payables)" in en.text and "0–30 days overdue" in en.text
    x = buy.get("/api/v1/supplychain/terms/aging.xlsx?side=payer")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1][:2] == ("counterpart", "invoices") and any(row[0] == supplier.name for row in rows)
    aging = buy.get("/api/v1/supplychain/terms/aging?side=payer").json()
    row = next(x for x in aging["rows"] if x["org_id"] == supplier.id)
    assert Decimal(row["d0_30"]) >= Decimal("499.50")
    # The API refuses bad amounts with both languages.
    api = buy.post(inv_url.replace("/supplychain/", "/api/v1/supplychain/") + "/payments", json={"amount": "-1"})
    assert api.status_code == 422 and api.json()["error"]["message_zh"] and api.json()["error"]["message_en"]
    # Officers: an anonymised view, no enterprise named.
    officer = login("chenghai")
    gov = officer.get("/gov/supplychain/terms")
    assert gov.status_code == 200 and supplier.name not in gov.text and buyer.name not in gov.text
    assert officer.get("/api/v1/supplychain/terms/overdue/areas").status_code == 200
    with _session() as s:
        assert s.get(Invoice, int(inv_url.rsplit("/", 1)[1])).paid_fen == 30050  # type: ignore[union-attr]
