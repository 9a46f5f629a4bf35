"""The OEE, SPC and energy pages in Chromium, with figures a user acts on: an ongoing stop ends now, no
signal apart, both count sources; SPC limits at the plan's precision, capability per phase, bulk
acknowledge; energy savings labelled as estimates. Screenshots go to /tmp/shots for a look.

Named to run last in tests/apps: after the live server has run in this process, a later direct read of the
telemetry store in test_energy_reports saw no rows (seen 2026-12-03, cause not found yet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.models import ShiftCalendar
from chaoyun.identity.models import Membership, User
from tests.apps.helpers import feed, new_device
from tests.apps.textbook import PISTON_RINGS
from tests.conftest import demo_password

SHOTS = Path("/tmp/shots")


def _sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(username))
    page.click("#login-btn")
    page.wait_for_url("**/home")


def test_oee_spc_energy_pages_in_chromium(page: Any, login: Any, db: Session) -> None:
    SHOTS.mkdir(exist_ok=True)
    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    cal = db.get(ShiftCalendar, m.org_id)
    day = [{"key": "D", "name": "全天", "start": "00:00", "end": "00:00"}]
    if cal is None:
        db.add(ShiftCalendar(org_id=m.org_id, shifts=day))
    else:
        cal.shifts = day
    db.commit()
    now = datetime.now(UTC)
    machine = new_device(db, m.org_id, "injection_moulding", "浏览器注塑机")
    feed(
        db,
        machine,
        [
            (now - timedelta(hours=3), {"state": "running", "cycle_count": 0, "energy": 100}),
            (now - timedelta(minutes=20), {"state": "fault", "cycle_count": 300, "energy": 130}),
        ],
        now - timedelta(minutes=1),
    )
    c = login("factory")
    plan = c.post(
        "/api/v1/apps/quality/plans",
        json={
            "name": "活塞环内径（浏览器）",
            "characteristic": "内径",
            "unit": "mm",
            "chart_type": "xbar_r",
            "subgroup_size": 5,
            "lsl": 73.95,
            "usl": 74.05,
            "limits_mode": "fixed",
            "baseline_count": 25,
            "tests": [1, 2],
        },
    ).json()
    shifted = [[round(v + 0.012, 3) for v in row] for row in PISTON_RINGS[:10]]
    c.post(
        f"/api/v1/apps/quality/plans/{plan['id']}/measurements",
        json={"subgroups": [{"values": row} for row in PISTON_RINGS + shifted]},
    )

    _sign_in(page, "factory")
    # Two days: in the minutes after Shanghai's midnight, "today" holds only part of the 20-minute stop.
    page.goto("/apps/oee?days=2")
    page.wait_for_selector("#oee-stops")
    row = page.locator("#oee-stops tr", has_text="浏览器注塑机").first
    text = row.inner_text()
    assert "进行中" in text, text
    minutes = float(row.locator("td.text-end").first.inner_text())
    assert 19 <= minutes <= 22, minutes  # not up to the end of the day
    assert "无信号" in page.locator("#oee-basis").inner_text()
    page.screenshot(path=str(SHOTS / "oee.png"), full_page=True)

    page.goto(f"/apps/quality/plans/{plan['id']}")
    page.wait_for_selector("#capability")
    assert "CL 74.0012" in page.locator("#limits").inner_text()
    assert page.locator('#capability th[data-phase="II"]').count() == 1
    page.screenshot(path=str(SHOTS / "spc.png"), full_page=True)
    page.goto("/apps/quality")
    page.wait_for_selector("#bulk-ack")
    page.check("#ack-toggle")
    assert page.locator("input[name=alarm_ids]:checked").count() == page.locator("input[name=alarm_ids]").count() > 0
    page.screenshot(path=str(SHOTS / "quality.png"), full_page=True)
    page.click("#ack-selected")
    page.wait_for_url("**/apps/quality?msg=acked_many")

    page.goto("/apps/energy?days=1")
    page.wait_for_selector("h1")
    page.screenshot(path=str(SHOTS / "energy.png"), full_page=True)
    body = page.content()
    assert "估算" in body
    cal = db.get(ShiftCalendar, m.org_id)
    db.refresh(cal)
