"""The recall journey in Chromium: the toy maker opens Trace and recall, clicks Recall on a material lot, sees the
graph drawn and the buyers listed, then opens a batch's public scan page as anyone would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.trace import graph, service
from tests.conftest import demo_password
from tests.test_route_security import org_of
from tests.trace.helpers import firm_of, lot


def test_recall_in_one_click_and_the_scan_page(page: Any, db: Session) -> None:
    f = firm_of(db, org_of(db, "factory").id)
    car = lot(db, f, "BRW-CAR-1", [("ABS-M", "ABS-BRW-BAD")])
    graph.record_delivery(db, f.admin, "BRW-CAR-1", "Rotterdam Toys BV", 120, datetime.now(UTC), "NL", "EXP-RT-1")
    page.goto("/login")
    page.fill("#username", "factory")
    page.fill("#password", demo_password("factory"))
    page.click("#login-btn")
    page.wait_for_url("**/home")
    page.goto("/trace/recall")
    page.click('[data-recall="ABS-BRW-BAD"]')
    page.wait_for_selector("#recall-rows")
    assert "Rotterdam Toys BV" in page.inner_text("#customers")
    page.wait_for_selector("#trace-graph canvas")  # ECharts drew the graph
    assert page.locator("#recall-export").get_attribute("href") == "/trace/recall.xlsx?lot=ABS-BRW-BAD"
    ident = service.identifier_of_lot(db, car.id)
    assert ident is not None
    page.context.clear_cookies()
    page.goto(f"/t/{ident.handle}")
    assert "BRW-CAR-1" in page.inner_text("#scan-facts")
    assert page.locator("#hidden-note").count() == 1  # work order, quantity … not shown
