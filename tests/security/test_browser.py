"""The inspection through Chromium: the city opens a campaign, the enterprise answers its self-check with evidence,
the district inspector concludes the on-site check, the campaign's heat map draws and the finding is on the
enterprise's to-do list; an incident page draws its timeline and trace."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.security import engine
from chaoyun.security.ids import service as ids_service
from chaoyun.security.models import Campaign, Inspection
from tests.conftest import demo_password
from tests.security.conftest import PDF, actor_of


def _sign_in(browser: Any, live_server: str, username: str) -> Any:
    ctx = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(15000)
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto("/login")
    p.fill("#username", username)
    p.fill("#password", demo_password(username))
    p.click("#login-btn")
    p.wait_for_url("**/home")
    p.js_errors = errors
    return p


def test_inspection_journey(browser: Any, live_server: str, db: Session, tmp_path: Any) -> None:
    city = _sign_in(browser, live_server, "city")
    city.goto("/gov/security")
    city.fill("#campaign-form [name=name]", "浏览器测试工控安全检查")
    city.fill("#campaign-form [name=self_check_due]", "2026-12-31")
    city.check("#campaign-form input[name=clusters][value=toys]")
    city.click("#campaign-form button")
    city.wait_for_url(re.compile(r".*/gov/security/campaigns/\d+\?msg=campaign$"))
    c = db.execute(select(Campaign).where(Campaign.name == "浏览器测试工控安全检查")).scalar_one()
    factory = actor_of(db, "factory")
    insp = db.execute(
        select(Inspection).where(Inspection.campaign_id == c.id, Inspection.org_id == factory.org_id)
    ).scalar_one()

    ent = _sign_in(browser, live_server, "factory")
    ent.goto(f"/security/inspections/{insp.id}")
    pdf = tmp_path / "evidence.pdf"
    pdf.write_bytes(PDF)
    items = engine.load("enterprise_ics").items
    for it in items:
        if it.risk == "high":
            ent.select_option("#evidence-form [name=item]", it.code)
            ent.set_input_files("#evidence-form input[name=file]", str(pdf))
            ent.click("#evidence-form button")
            ent.wait_for_url(re.compile(r".*msg=evidence.*"))
    for it in items:
        ent.select_option(f"#checklist-form select[name=answer_{it.code}]", "yes")
    ent.select_option("#checklist-form select[name=answer_E-NET-3]", "no")
    ent.click("#submit-self-check")
    ent.wait_for_url(re.compile(r".*msg=submitted$"))
    assert "自查已提交区里" in ent.content()

    ins = _sign_in(browser, live_server, "chenghai")
    ins.goto(f"/security/inspections/{insp.id}")
    # The self-check answers come pre-filled; the inspector finds the boundary open.
    ins.select_option("#checklist-form select[name=answer_E-NET-1]", "no")
    ins.click("#conclude-onsite")
    ins.wait_for_url(re.compile(r".*msg=concluded$"))
    assert "E-NET-1" in ins.content() and "高风险" in ins.content()

    city.goto(f"/gov/security/campaigns/{c.id}")
    city.wait_for_selector("#heatmap canvas")
    assert not city.js_errors, city.js_errors
    ent.goto("/home")
    assert "未销号的高风险安全问题" in ent.content()


def test_incident_page_draws(browser: Any, live_server: str, db: Session) -> None:
    factory = actor_of(db, "factory")
    at = datetime(2026, 8, 1, 2, 0, tzinfo=UTC).timestamp()
    res = ids_service.store_alerts(
        db,
        factory.org_id,
        [{"rule": "unknown_host", "src": "10.8.8.8", "dst": "10.8.8.20", "frames": [1], "first_ts": at}],
        source="browser-test",
    )
    ent = _sign_in(browser, live_server, "factory")
    ent.goto(f"/security/incidents/{res.incident_id}")
    assert ent.locator("#timeline tbody tr").count() >= 1
    ent.click("#timeline a")
    ent.wait_for_url(re.compile(r".*/trace/\d+$"))
    assert "10.8.8.8" in ent.locator("#hosts").inner_text()
    assert not ent.js_errors, ent.js_errors
