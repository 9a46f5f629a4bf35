"""The main journey in Chromium: the supplier confirms a line on the order page, the lead's overview shows the
line with its progress bar and the chart, in Chinese and on the switch in English."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.supplychain import service
from tests.conftest import demo_password
from tests.supplychain.test_pages import _supplier_ready


def _sign_in(page: Any, username: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(username))
    page.click("#login-btn")
    page.wait_for_url("**/home")


def test_supplier_confirms_lead_sees_progress(page: Any, db: Session) -> None:
    lead, sup = _supplier_ready(db)
    due = timefmt.local_today()
    po = service.create_order(
        db,
        lead,
        sup.org_id,
        [
            service.NewLine("SHELL", "浏览器外壳", 120, Decimal("2.5"), due),
            service.NewLine("SHELL", "浏览器外壳二", 80, Decimal("2.5"), due),
        ],
        reference="BROWSER",
    )
    first = po.lines[0].id
    _sign_in(page, "supplier")
    page.goto(f"/supplychain/orders/{po.id}")
    page.click(f'form[action="/supplychain/lines/{first}/confirm"] button[data-action="confirm"]')
    page.wait_for_url("**msg=confirmed*")
    assert page.locator(f'tr[data-line="{first}"] [data-state="confirmed"]').count() == 1
    _sign_in(page, "factory")
    page.goto("/supplychain?q=BROWSER")
    page.goto(f"/supplychain?q={po.number}")
    row = page.locator(f'#lines tr[data-line="{first}"]')
    assert row.count() == 1
    assert row.locator(".progress").count() == 1
    assert "供应商已确认" in row.inner_text()
    page.goto("/supplychain")
    page.wait_for_selector("#chart-risk canvas")
    page.click("#lang-switch")
    page.wait_for_selector("#sc-tabs >> text=Purchase orders")
    assert "Supply-chain collaboration" in page.inner_text("main")
