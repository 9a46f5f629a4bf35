"""The menu is grouped by task; items registered without a group still show."""

from typing import Any

from chaoyun.web import nav


def test_menu_groups_for_enterprise_and_city(login: Any) -> None:
    html = login("factory").get("/home").text
    for key in ("devices", "production", "programme", "market"):
        assert f'data-group="{key}"' in html
    assert 'id="menu-toggle"' in html and 'href="/alarms"' in html
    html = login("city").get("/home").text
    for key in ("devices", "programme", "market", "admin"):
        assert f'data-group="{key}"' in html
    assert 'href="/gov/audit"' in html


def test_item_without_group_is_inferred_or_lands_in_admin() -> None:
    assert nav.NavItem("any", "x", "/apps/x", "p").group_key == "production"
    assert nav.NavItem("any", "x", "/somewhere", "p").group_key == "admin"
    assert nav.NavItem("any", "x", "/market/y", "p", group="bogus").group_key == "market"


def test_menu_variables_do_not_shadow_page_variables(login: Any) -> None:
    # The workshop page has its own "groups"; the menu's must not replace them.
    assert login("factory").get("/workshop").status_code == 200
