"""Every demo role walks its menu in Chinese: no code (snake_case), no English status word, no UTC on a page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.apps.helpers import new_device
from tests.browser.test_shell import _org_of, _sign_in

# snake_case words, and the English words codes most often leak as (statuses, states)
RAW = re.compile(
    r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b(?:pending|active|running|idle|offline|draft|submitted|approved|rejected|"
    r"withdrawn|published|true|false|None|null|UTC)\b"
)
# Words that are right as they are: user data and technical names shown on purpose.
ALLOWED = {"provider_staff"}  # a demo username (user data)

ROLES = ["admin", "city", "chenghai", "expert", "evaluator", "factory", "operator", "provider"]


@pytest.mark.parametrize("username", ROLES)
def test_each_roles_menu_pages_show_no_raw_codes(page: Any, username: str) -> None:
    _sign_in(page, username)
    links = page.eval_on_selector_all(
        "#topnav a.nav-link[href^='/'], #topnav a.dropdown-item[href^='/']",
        "els => els.map(e => e.getAttribute('href'))",
    )
    paths = sorted({p for p in links if p not in ("/logout", "/lang")})
    assert paths, "no menu for " + username
    leaks: dict[str, list[str]] = {}
    for path in ["/home", *paths]:
        resp = page.goto(path)
        assert resp is not None and resp.status < 400, (path, resp.status if resp else None)
        text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
        found = sorted({m for m in RAW.findall(text) if m not in ALLOWED})
        if found:
            leaks[path] = found
    assert not leaks, f"raw codes on {username}'s pages: {leaks}"


def test_device_charts_name_the_deployments_zone(page: Any, db: Session) -> None:
    # Chart axes were drawn in the browser's zone and the live time said "UTC".
    device = new_device(db, _org_of(db, "factory").id, "injection_moulding", "时区测试机")
    _sign_in(page, "factory")
    page.goto(f"/devices/{device.id}")
    page.wait_for_function("() => window.echarts && echarts.getInstanceByDom(document.getElementById('chart-live'))")
    axis = page.evaluate(
        "(() => { const o = echarts.getInstanceByDom(document.getElementById('chart-live')).getOption();"
        " return [o.xAxis[0].name, o.xAxis[0].axisLabel.formatter(Date.UTC(2026, 0, 2, 9, 44))]; })()"
    )
    assert axis == ["UTC+08:00", "01/02 17:44"]
    assert "UTC" not in page.inner_text("#last-seen")
