"""The profile editor in Chromium: a bad document is answered with its problems by line (in Chinese), nothing is
saved; the corrected document saves and the profile page shows its metrics and state rule."""

from __future__ import annotations

import secrets
from typing import Any

from chaoyun.devices.profiles.views import STARTER
from tests.browser.test_shell import _sign_in


def test_write_a_profile_in_the_editor(page: Any) -> None:
    _sign_in(page, "factory")
    page.goto("/device-profiles")
    page.click("text=新建或导入模板")
    page.wait_for_url("**/device-profiles/new")
    key = f"blow_{secrets.token_hex(3)}"
    good = STARTER.replace("key: blow_moulding", f"key: {key}")
    bad = good.replace("max: 300", "max: -1")
    page.fill("#profile-text", bad)
    page.click("button:has-text('保存')")
    problems = page.inner_text("#profile-problems")
    assert "模板未保存" in problems and "第 12 行" in problems and "metrics[3].min" in problems, problems
    page.fill("#profile-text", good)
    page.click("button:has-text('保存')")
    page.wait_for_url("**/device-profiles/*?saved=1")
    assert "第 1 版" in page.inner_text("#profile-saved")
    assert "型坯温度" in page.inner_text("#profile-metrics")
    assert "setup" in page.inner_text("#profile-state") or "换模" in page.inner_text("#profile-state")
    page.goto("/device-profiles")
    assert page.locator(f"a[data-key='{key}']").count() == 1
