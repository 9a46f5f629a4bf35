"""The foundation seen through a real browser (Playwright + Debian's Chromium)."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Membership, Organisation, User
from tests.conftest import demo_password


def _sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(username))
    page.click("#login-btn")
    page.wait_for_url("**/home")


def _org_of(db: Session, username: str) -> Organisation:
    m = db.execute(select(Membership).join(User).where(User.username == username)).scalars().first()
    assert m is not None
    org = db.get(Organisation, m.org_id)
    assert org is not None
    return org


def test_enterprise_admin_in_chinese_then_english(page: Any, db: Session, tmp_path: Any) -> None:
    _sign_in(page, "factory")
    own = _org_of(db, "factory")
    assert page.locator("h1").first.inner_text() == own.name
    assert "退出" in page.content()
    page.click("#lang-switch")  # switch to English
    page.wait_for_load_state()
    assert "Sign out" in page.content()
    page.click("#own-profile")
    page.wait_for_url(f"**/orgs/{own.id}")
    assert page.locator("#org-name").inner_text() == own.name
    assert "Unified social credit code" in page.content()
    page.screenshot(path=str(tmp_path / "profile.png"))
    other = _org_of(db, "factory2")
    resp = page.goto(f"/orgs/{other.id}")
    assert resp is not None and resp.status == 404
    assert other.name not in page.content()
    assert "not yours to see" in page.content()
    page.click("#lang-switch")  # back to Chinese for the next tests of this user
    page.wait_for_load_state()


def test_district_officer_filters_the_directory(page: Any) -> None:
    _sign_in(page, "chenghai")
    page.goto("/gov/enterprises")
    total_text = page.locator("#result-count").inner_text()
    page.select_option("#filter-cluster", "toys")
    page.wait_for_function(f"() => document.querySelector('#result-count').innerText !== {total_text!r}")
    districts = page.locator("td.district-cell").all_inner_texts()
    assert districts and all(d == "澄海区" for d in districts)
    assert "cluster=toys" in page.url
    page.fill("#filter-q", "奥达")
    page.click("#filter-submit")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#directory tbody td:first-child'))"
        ".every(td => td.innerText.includes('奥达'))"
    )
    names = page.locator("#directory tbody td:first-child").all_inner_texts()
    assert names and all("奥达" in n for n in names)


def test_government_home_draws_a_chart(page: Any) -> None:
    _sign_in(page, "city")
    # The chart exists and holds one bar per district with enterprises (checked through ECharts itself: a canvas
    # can be present yet not "visible" to Playwright for a moment while a loaded machine lays the page out).
    page.wait_for_selector("#chart-district canvas", state="attached", timeout=30_000)
    page.wait_for_function(
        "() => { const c = echarts.getInstanceByDom(document.getElementById('chart-district'));"
        " return c && c.getOption().series[0].data.length > 0; }",
        timeout=30_000,
    )
    assert int(page.locator("#stat-enterprises").inner_text()) > 0
