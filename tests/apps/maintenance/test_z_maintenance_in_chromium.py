"""The maintenance pages in Chromium: the orders list, one order assigned, started, a part taken, finished with a
cause (done); the month calendar with the order's window; plans with their progress, spare parts with the reorder
flag, reliability with its chart. Screenshots go to /tmp/maint_*.png."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.maintenance import parts, plans, service
from chaoyun.apps.maintenance.schemas import PartIn, PlanIn, WindowIn
from chaoyun.db import utcnow
from chaoyun.devices.credentials import token_hash
from chaoyun.devices.models import Device, DeviceModel
from chaoyun.identity.models import Membership, User
from chaoyun.identity.permissions import Actor
from tests.apps.helpers import feed
from tests.browser.test_shell import _sign_in


def _admin(db: Session) -> Actor:
    u, m = db.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id).where(User.username == "factory")
    ).one()
    return Actor(u, m)


def _device(db: Session, org_id: int, name: str) -> Device:
    model = db.execute(select(DeviceModel).where(DeviceModel.key == "injection_moulding")).scalar_one()
    d = Device(org_id=org_id, model_id=model.id, uid=f"mt-{secrets.token_hex(5)}", name=name, workshop="注塑车间",
               token_hash=token_hash(secrets.token_hex(16)))
    db.add(d)
    db.commit()
    return d


def test_order_assign_to_done_calendar_and_pages(page: Any, db: Session) -> None:
    admin = _admin(db)
    im = _device(db, admin.org_id, "维护1号注塑机")
    im2 = _device(db, admin.org_id, "维护2号注塑机")
    now = utcnow()
    # A day of states with two breakdowns, so reliability has figures.
    t0 = now - timedelta(hours=20)
    states = [(t0, "running"), (t0 + timedelta(hours=3), "fault"), (t0 + timedelta(hours=3, minutes=40), "running"),
              (t0 + timedelta(hours=9), "fault"), (t0 + timedelta(hours=10), "running")]
    feed(db, im, [(t, {"state": s}) for t, s in states], now)
    part = parts.create_part(db, admin, PartIn(code=f"BR-{secrets.token_hex(2)}", name="轴承 6205", unit="个",
                                               stock=2, reorder_point=2))
    plans.create_plan(db, admin, PlanIn(device_id=im.id, name="液压油滤芯更换", trigger="runtime", every=40,
                                        start_at=t0))
    plans.create_plan(db, admin, PlanIn(device_id=im2.id, name="周点检", trigger="calendar", every=1,
                                        calendar_unit="weeks", start_at=now - timedelta(days=5)))
    o = service.create_work_order(db, admin, admin.org_id, im.id, "corrective", "合模异响，油温偏高", "夜班报修")
    start = timefmt.day_start(timefmt.local_today() + timedelta(days=2)) + timedelta(hours=8)
    service.set_window(db, admin, o.id, WindowIn(start=start, end=start + timedelta(hours=2)))

    _sign_in(page, "factory")
    page.goto("/apps/maintenance?state=all&mine=0")
    row = page.locator(f"#orders tr[data-order='{o.id}']")
    assert row.is_visible()
    page.screenshot(path="/tmp/maint_orders.png", full_page=True)
    row.locator("a").first.click()
    page.wait_for_url(f"**/apps/maintenance/orders/{o.id}")
    assert page.locator("#order-state [data-state]").get_attribute("data-state") == "open"
    operator = db.execute(select(User).where(User.username == "operator")).scalar_one()
    page.select_option("#f-tech", str(operator.id))
    page.click("#assign-submit")
    page.wait_for_selector("div.alert-success[role=status]")
    assert page.locator("#order-state [data-state]").get_attribute("data-state") == "assigned"
    page.click("#start-submit")
    page.wait_for_selector("#finish-form")
    assert page.locator("#order-state [data-state]").get_attribute("data-state") == "in_progress"
    # More than in stock: refused beside the field, the value kept.
    page.select_option("#f-part", str(part.id))
    page.fill("#f-qty", "5")
    page.click("#part-submit")
    assert page.locator("[data-field='quantity']").is_visible()
    assert page.input_value("#f-qty") == "5"
    page.fill("#f-qty", "1")
    page.click("#part-submit")
    page.wait_for_selector("#parts-used")
    page.select_option("#f-cause", "wear")
    page.fill("#f-fmin", "45")
    page.fill("#f-fnote", "更换轴承，试机正常")
    page.click("#finish-submit")
    page.wait_for_selector("div.alert-success[role=status]")
    assert page.locator("#order-state [data-state]").get_attribute("data-state") == "done"
    assert page.locator("#minutes").inner_text() == "45"
    assert "磨损" in page.locator("#cause").inner_text()
    page.screenshot(path="/tmp/maint_order.png", full_page=True)

    # The calendar of the month of another order's window.
    o2 = service.create_work_order(db, admin, admin.org_id, im2.id, "preventive", "更换同步带", "", None, "")
    service.set_window(db, admin, o2.id, WindowIn(start=start, end=start + timedelta(hours=1)))
    day = timefmt.to_local(start).date()
    page.goto(f"/apps/maintenance/calendar?month={day:%Y-%m}")
    cell = page.locator(f"#maint-calendar td[data-day='{day.isoformat()}']")
    assert cell.locator(".cal-entry", has_text="更换同步带").count() == 1
    page.screenshot(path="/tmp/maint_calendar.png", full_page=True)

    page.goto("/apps/maintenance/plans")
    assert page.locator("#plans tr[data-plan]").count() >= 2
    page.screenshot(path="/tmp/maint_plans.png", full_page=True)
    page.goto("/apps/maintenance/parts")
    assert page.locator(f"#parts tr[data-part='{part.id}'][data-reorder='1']").count() == 1
    page.screenshot(path="/tmp/maint_parts.png", full_page=True)
    page.goto("/apps/maintenance/reliability?days=7")
    page.wait_for_function("() => document.querySelector('#rel-chart canvas') !== null")
    assert page.locator("#rel-machines tr", has_text="维护1号注塑机").count() == 1
    page.screenshot(path="/tmp/maint_reliability.png", full_page=True)
