"""The common-problem report in Chromium: charts drawn, a suppressed industry, a district officer's page, and an
enterprise consenting on its diagnosis page. Screenshots go to /tmp/report_*.png for a look."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.programme.outcomes import service as outcomes
from tests.conftest import demo_password
from tests.programme.helpers import actor
from tests.programme.test_commonproblems import FULL, _pool_offering, answers, completed, group


def _sign_in(page: Any, username: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(username))
    page.click("#login-btn")
    page.wait_for_url("**/home")


def _seed(db: Session) -> int:
    _pool_offering(db, "工控安全加固服务（浏览器）", "security")
    _pool_offering(db, "数字化转型咨询（浏览器）", "consulting")
    weak_security = answers(network_security=[], data_security=["policy"])
    weak_planning = answers(planning_implementation="aware", mechanisms=[], scenes={"energy": 1, "planning": 0})
    sets = []
    for i in range(24):
        a = weak_security if i % 3 == 0 else weak_planning if i % 3 == 1 else FULL
        if i % 4 == 0:
            a = {**a, "funding": "none", "systems_coverage": "one_area"}
        sets.append(a)
    group(db, "chenghai", "toys", sets, "澄海浏览器玩具")
    group(db, "chaonan", "toys", sets[:8], "潮南浏览器玩具")
    group(db, "chaonan", "textiles_apparel", sets[4:12], "潮南浏览器服装")
    group(db, "jinping", "light_equipment", sets[:3], "金平浏览器装备")
    ent = actor(db, "factory2")
    d = completed(db, ent.org_id, answers(talent=[], funding="none"))
    outcomes.snapshot_month(db, date.today())  # digital level and stars by the platform's own rules
    return d.id


def test_report_pages_in_chromium(page: Any, db: Session) -> None:
    diagnosis_id = _seed(db)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    _sign_in(page, "city")
    page.goto("/programme/common-problems")
    page.wait_for_selector("#chart-areas canvas")
    page.wait_for_selector("#chart-radar canvas")
    assert page.locator("#cp-n").inner_text() == "44"
    assert page.locator("#cp-areas tbody tr").count() == 9
    assert (
        page.locator("#cp-by-cluster tr[data-code=light_equipment] .suppressed").inner_text()
        == "样本不足 5 家，不予显示"
    )
    assert "工控安全加固服务（浏览器）" in page.locator("#cp-offerings").inner_text()
    page.wait_for_timeout(600)  # chart animation
    page.screenshot(path="/tmp/report_city.png", full_page=True)

    page.select_option("select[name=cluster]", "light_equipment")
    page.click("#cp-filters button")
    page.wait_for_selector("#cp-suppressed")
    assert "样本不足 5 家，不予显示" in page.locator("#cp-suppressed").inner_text()
    page.screenshot(path="/tmp/report_suppressed.png", full_page=True)

    page.goto("/programme/common-problems?cluster=toys&year=2017")
    assert "年份须在" in page.locator("#cp-error").inner_text()
    page.screenshot(path="/tmp/report_bad_year.png")

    _sign_in(page, "chenghai")
    page.goto("/programme/common-problems?district=chaonan")
    page.wait_for_selector("#chart-areas canvas")
    assert page.locator("select[name=district]").is_disabled()
    assert page.locator("#cp-n").inner_text() == "25"  # 24 made here + factory2's, all in Chenghai
    assert page.locator("#cp-by-district tbody tr").count() == 1
    page.wait_for_timeout(600)
    page.screenshot(path="/tmp/report_district.png", full_page=True)

    _sign_in(page, "factory2")
    page.goto(f"/programme/diagnoses/{diagnosis_id}")
    page.wait_for_selector("#consent-named")
    assert not page.locator("#consent-named").is_checked()
    page.check("#consent-named")
    page.click("#consent-save")
    page.wait_for_url(f"**/programme/diagnoses/{diagnosis_id}?msg=saved")
    page.wait_for_selector("#consent-named")
    assert page.locator("#consent-named").is_checked()
    page.screenshot(path="/tmp/report_consent.png", full_page=True)
    assert not errors, errors
