from typing import Any

from chaoyun import i18n_tools
from chaoyun.i18n import both, translate


def test_every_ui_string_has_a_chinese_translation() -> None:
    gaps = i18n_tools.missing()
    assert not gaps, "untranslated msgids (run `make messages`, then fill in the zh_CN catalogs): " + repr(gaps)


def test_no_msgid_has_two_translations() -> None:
    # All catalogs merge into one dictionary: "Submitted" read 提交时间 in a workflow and the audit log's
    # "Before" read 改善前 while two catalogs disagreed. A word that means something else gets its own msgid.
    clashes = i18n_tools.collisions()
    assert not clashes, "msgids translated differently in two catalogs: " + repr(clashes)


def test_words_that_differ_by_context_have_their_own_msgids() -> None:
    assert translate("Submitted", "zh_CN") == "已提交"  # a workflow status
    assert translate("Submitted at", "zh_CN") == "提交时间"  # a column of dates
    assert translate("Before", "zh_CN") == "变更前" and translate("Before improvement", "zh_CN") == "改善前"
    assert translate("Withdrawn", "zh_CN") == "已撤回" and translate("Withdrawn from sale", "zh_CN") == "已下架"


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


# --- one clock ---------------------------------------------------------------------------------------------


def test_times_are_shown_in_beijing_time_in_the_configured_format(monkeypatch: Any) -> None:
    from datetime import UTC, date, datetime

    from chaoyun import timefmt
    from chaoyun.web.render import env

    t = datetime(2026, 1, 2, 9, 44, tzinfo=UTC)
    assert timefmt.format_dt(t) == "2026-01-02 17:44"
    assert timefmt.format_dt(t.replace(tzinfo=None)) == "2026-01-02 17:44"  # stored naive = UTC
    assert timefmt.format_date(datetime(2026, 1, 2, 20, 0, tzinfo=UTC)) == "2026-01-03"  # Beijing's next day
    assert timefmt.format_dt(None, empty="—") == "—"
    assert env().from_string("{{ t|dt }}|{{ t|date }}|{{ t|time }}|{{ tz_offset() }}").render(t=t) == (
        "2026-01-02 17:44|2026-01-02|17:44|+08:00"
    )
    # an inclusive end date the user entered comes back as entered, not as the exclusive next midnight
    assert timefmt.inclusive_end(timefmt.day_end_exclusive(date(2026, 1, 31))) == date(2026, 1, 31)

    monkeypatch.setenv("CHAOYUN_DATETIME_FORMAT", "%d/%m/%Y %H:%M:%S")
    monkeypatch.setenv("CHAOYUN_TIMEZONE", "Europe/Berlin")
    assert timefmt.format_dt(t) == "02/01/2026 10:44:00"
    assert env().from_string("{{ t|dt }}").render(t=t) == "02/01/2026 10:44:00"
