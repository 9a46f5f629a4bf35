"""The policy-effect page and the what-if in Chromium, over a seeded history with a planted +3 OEE effect: a
city officer chooses instrument and outcome and sees the chart (participants against their matched controls,
the participation month marked), the estimate with its interval and the caveats; a district officer's district
is fixed; the what-if form keeps a wrong value beside its field. Screenshots: /tmp/effect_*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.programme.effect import service as effect
from tests.conftest import demo_password
from tests.programme.test_effect_planted import seed_history

SHOTS = Path("/tmp")


def _sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(username))
    page.click("#login-btn")
    page.wait_for_url("**/home")


def test_effect_page_and_whatif_in_chromium(page: Any, db: Session, browser: Any, live_server: str) -> None:
    planted = seed_history(db, 3.0)
    r = effect.estimate(db, "vouchers", "oee")
    assert r.shown and r.estimate is not None
    _sign_in(page, "city")
    page.goto("/programme/effect")
    page.select_option("#instrument", "vouchers")
    page.select_option("#outcome", "oee")
    page.click("#effect-show")
    page.wait_for_selector("#chart-effect canvas")
    assert page.inner_text("#estimate").startswith(f"{r.estimate.value:+.2f}")
    assert page.inner_text("#interval") == f"{r.estimate.low:+.2f} … {r.estimate.high:+.2f}"
    assert "这是观察数据" in page.inner_text("#caveats")
    page.screenshot(path=str(SHOTS / "effect_city_oee.png"), full_page=True)

    page.select_option("#outcome", "energy_per_unit")
    page.click("#effect-show")
    page.wait_for_selector("#chart-effect canvas")
    page.screenshot(path=str(SHOTS / "effect_city_energy.png"), full_page=True)

    year = max(planted.treated.values()).year
    page.goto(f"/programme/effect/whatif?year={year}")
    page.fill("#voucher_ratio", "1.5")
    page.fill("#voucher_cap", "60000")
    page.click("#whatif-run")
    page.wait_for_selector('[data-field="voucher_ratio"]')
    assert page.input_value("#voucher_ratio") == "1.5" and page.input_value("#voucher_cap") == "60000"
    page.screenshot(path=str(SHOTS / "effect_whatif_error.png"), full_page=True)
    page.fill("#voucher_ratio", "0.6")
    page.click("#whatif-run")
    page.wait_for_selector("#whatif-table")
    assert page.inner_text('#whatif-table tr[data-key="vouchers"] .whatif-reached').strip().isdigit()
    page.screenshot(path=str(SHOTS / "effect_whatif.png"), full_page=True)

    officer = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": 1400, "height": 900})
    p2 = officer.new_page()
    _sign_in(p2, "chenghai")
    p2.goto("/programme/effect?district=nanao")
    assert p2.is_disabled("#district")
    assert p2.eval_on_selector("#district", "e => e.value") == "chenghai"
    p2.screenshot(path=str(SHOTS / "effect_district.png"), full_page=True)
    officer.close()
