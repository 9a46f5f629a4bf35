"""Layout on a phone (390 × 844) and a wide screen (1,440 px): the menu collapses, pages never scroll
sideways, buttons keep their label on one line."""

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import demo_password

SHOTS = Path("/tmp/h3shots")
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1440, "height": 900}
PAGES = {
    "factory": [
        "/home",
        "/devices",
        "/alarms",
        "/programme/adoptions",
        "/market",
        "/apps/oee",
        "/apps/reports",
        "/apps/quality",
    ],
    "city": [
        "/home",
        "/programme/adoptions",
        "/programme/diagnoses",
        "/programme/targets",
        "/gov/audit",
        "/gov/enterprises",
        "/gov/market",
    ],
}
OVERFLOW = "document.scrollingElement.scrollWidth - window.innerWidth"
# Buttons taller than two lines of their own text (a label wrapped one character per line).
TALL_BUTTONS = """() => [...document.querySelectorAll('.btn')].filter(b => b.offsetParent !== null).filter(b => {
  const s = getComputedStyle(b);
  const two = 2 * parseFloat(s.lineHeight) + parseFloat(s.paddingTop) + parseFloat(s.paddingBottom)
            + parseFloat(s.borderTopWidth) + parseFloat(s.borderBottomWidth);
  return b.getBoundingClientRect().height > two + 1;
}).map(b => b.innerText.trim() + ' @' + Math.round(b.getBoundingClientRect().height))"""


def _sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(username))
    page.click("#login-btn")
    page.wait_for_url("**/home")


@pytest.mark.parametrize("username", ["factory", "city"])
def test_phone_menu_collapsed_and_no_sideways_scrolling(page: Any, username: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(PHONE)
    _sign_in(page, username)
    for path in PAGES[username]:
        page.goto(path)
        page.wait_for_load_state("load")
        name = path.strip("/").replace("/", "_")
        page.screenshot(path=str(SHOTS / f"phone-{username}-{name}.png"))
        assert not page.locator("#topnav-menu").is_visible(), path
        heading = page.locator("main h1").first.bounding_box()
        assert heading is not None and heading["y"] < 200, f"{path}: content starts at {heading}"
        assert page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways by {page.evaluate(OVERFLOW)} px"
    page.goto("/home")
    page.click("#menu-toggle")
    page.wait_for_selector("#topnav-menu.show")
    assert page.locator("#topnav-menu").is_visible()
    assert page.locator("#topnav-menu [data-group]").first.is_visible()
    page.screenshot(path=str(SHOTS / f"phone-{username}-menu-open.png"))
    # A group opens in place and its entries are links.
    page.locator("#topnav-menu [data-group] > a").first.click()
    page.wait_for_selector("#topnav-menu .dropdown-menu.show")
    assert page.evaluate(OVERFLOW) <= 0


@pytest.mark.parametrize("username", ["factory", "city"])
def test_wide_screen_buttons_on_one_line(page: Any, username: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(WIDE)
    _sign_in(page, username)
    for path in PAGES[username]:
        page.goto(path)
        page.wait_for_load_state("load")
        page.screenshot(path=str(SHOTS / f"wide-{username}-{path.strip('/').replace('/', '_')}.png"), full_page=True)
        assert page.evaluate(TALL_BUTTONS) == [], path
        assert page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at 1,440 px"
        assert page.locator("#topnav-menu").is_visible()
