"""Capacity sharing and payment terms in Chromium: an offer published from the measured proposal, found and
booked by another firm, confirmed by the owner; an invoice refused above the received value (error beside the
field, input kept) then issued, a partial payment, the aging chart drawn. Screenshots go to /tmp/sc_*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from chaoyun import timefmt
from tests.apps.helpers import new_device
from tests.browser.test_shell import _sign_in
from tests.supplychain.capacity_terms_helpers import receipt
from tests.test_route_security import org_of

pytestmark = pytest.mark.browser


def test_capacity_and_terms_journey(page: Any, db: Session) -> None:
    owner, buyer = org_of(db, "factory2"), org_of(db, "factory")
    new_device(db, owner.id, "cnc", "浏览器CNC")
    r = receipt(db, buyer, owner, Decimal("2500.00"), datetime.now(UTC) - timedelta(days=70))

    _sign_in(page, "factory2")
    page.goto("/supplychain/capacity")
    page.select_option("#o-type", "cnc")
    page.fill("#o-hours", "12")
    page.fill("#o-price", "150")
    page.click("#offer-submit")
    page.wait_for_selector("div.alert-success[role=status]")
    assert page.locator("#offers tr[data-offer]").count() == 1

    page.goto("/supplychain/terms")
    page.select_option("#i-receipt", str(r.id))
    page.fill("#i-number", "FP-CHROME")
    page.fill("#i-amount", "2600")
    page.click("#invoice-submit")
    assert page.locator("[data-field='amount']").is_visible()
    assert page.input_value("#i-amount") == "2600" and page.input_value("#i-number") == "FP-CHROME"
    page.fill("#i-amount", "2500")
    page.click("#invoice-submit")
    page.wait_for_selector("#inv-state")
    assert page.locator("#overdue-badge").is_visible()
    page.screenshot(path="/tmp/sc_invoice.png", full_page=True)

    page.context.clear_cookies()
    _sign_in(page, "factory")
    page.goto("/supplychain/capacity/search?machine_type=cnc")
    card = page.locator("[data-offer]").first
    day = (timefmt.local_today() + timedelta(days=8)).isoformat()
    card.locator("input[name=start]").fill(f"{day}T09:00")
    card.locator("input[name=end]").fill(f"{day}T13:00")
    card.locator("input[name=item_name]").fill("外壳精加工")
    card.locator("button").click()
    page.wait_for_selector("#outgoing-table")
    page.goto("/supplychain/terms?side=payer")
    page.wait_for_selector("#aging-chart canvas")
    page.screenshot(path="/tmp/sc_aging.png", full_page=True)
    page.click("#overdue-table a")
    page.fill("#p-amount", "1000")
    page.click("#payment-submit")
    page.wait_for_selector("div.alert-success[role=status]")
    assert "¥1,500.00" in page.locator("#open").inner_text()

    page.context.clear_cookies()
    _sign_in(page, "factory2")
    page.goto("/supplychain/capacity")
    page.click("#incoming-table button[data-action=confirm]")
    page.wait_for_selector("div.alert-success[role=status]")
    assert page.locator("#incoming-table tr[data-state=confirmed]").count() == 1
    page.screenshot(path="/tmp/sc_capacity.png", full_page=True)
