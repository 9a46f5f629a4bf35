from typing import Any

from chaoyun import i18n_tools
from chaoyun.i18n import both, translate


def test_every_ui_string_has_a_chinese_translation() -> None:
    gaps = i18n_tools.missing()
    assert not gaps, "untranslated msgids (run `make messages`, then fill in the zh_CN catalogs): " + repr(gaps)


def test_placeholders_survive_translation() -> None:
    m = both("Too many failed attempts; the account is locked for %(minutes)s more minutes.", minutes=7)
    assert "7" in m["zh"] and "7" in m["en"]
    assert translate("Sign in", "zh_CN") == "登录"
    assert translate("Sign in", "en") == "Sign in"


def test_pages_are_chinese_by_default_and_english_on_switch(login: Any) -> None:
    anon = login(None)
    page = anon.get("/login")
    assert "登录潮云" in page.text and 'lang="zh-CN"' in page.text
    r = anon.post("/lang", {"lang": "en", "back": "/login"})
    assert r.status_code == 303
    assert "Sign in to Chaoyun" in anon.get("/login").text


def test_english_choice_is_remembered_per_user(app: Any, login: Any) -> None:
    u = login("operator")
    u.post("/lang", {"lang": "en", "back": "/home"})
    again = login("operator")  # a new browser: the choice comes from the account
    assert "Sign out" in again.get("/home").text
    again.post("/lang", {"lang": "zh_CN", "back": "/home"})
    assert "退出" in login("operator").get("/home").text
