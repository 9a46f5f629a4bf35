import re
from typing import Any

import pytest

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


# --- codes that reach a reader ------------------------------------------------------------------------------


def _recorded_audit_actions() -> set[str]:
    """Every audit action code written as a literal anywhere in the code base, plus every workflow action."""
    import ast
    from pathlib import Path

    from chaoyun.programme.workflows import allocation, demonstration, subsidies, vouchers
    from chaoyun.programme.workflows.workflow import Workflow

    codes: set[str] = set()
    for path in Path(i18n_tools.PACKAGE).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            arg: ast.expr | None = None
            if name == "record_by" and len(node.args) >= 3:
                arg = node.args[2]
            elif name == "record":
                arg = next((k.value for k in node.keywords if k.arg == "action"), None)
            elif name == "_transition" and len(node.args) >= 5:  # diagnosis and cloud adoption
                arg = node.args[4]
            for sub in ast.walk(arg) if arg is not None else ():
                if isinstance(sub, ast.JoinedStr):  # f"{subject}.score": an object's verb
                    parts = [v.value for v in sub.values if isinstance(v, ast.Constant)]
                    codes.update(
                        "demonstration" + p for p in parts if isinstance(p, str) and p.startswith(".") and len(p) > 1
                    )
                    break
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value:
                    codes.add(sub.value)
    for module in (allocation, demonstration, subsidies, vouchers):
        for w in vars(module).values():
            if isinstance(w, Workflow):
                codes.update(f"{w.name}.{a}" for a in w.transitions)
    return codes


def test_every_audit_action_has_a_label_in_both_languages() -> None:
    # /gov/audit showed 35 of its 45 action codes raw (pool_admit, voucher.city_pass ...).
    from chaoyun.i18n import set_locale
    from chaoyun.identity.audit_labels import action_label, has_label

    codes = _recorded_audit_actions()
    assert {"login", "pool_admit", "voucher.city_pass", "diagnosis.submit", "device.command"} <= codes
    raw = sorted(c for c in codes if not has_label(c))
    assert not raw, "audit action codes without a label in chaoyun/identity/audit_labels.py: " + repr(raw)
    set_locale("zh_CN")
    try:
        assert action_label("voucher.city_pass") == "服务券 · 市级审核通过并公示"
        assert action_label("pool_admit") == "准予入池"
        set_locale("en")
        assert action_label("pool_admit") == "Admit to the pool"
    finally:
        set_locale("zh_CN")


def test_every_audited_object_type_has_a_label() -> None:
    import ast
    from pathlib import Path

    from chaoyun.identity.audit_labels import OBJECT_TYPES

    types: set[str] = set()
    for path in Path(i18n_tools.PACKAGE).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            arg: ast.expr | None = None
            if name == "record_by" and len(node.args) >= 4:
                arg = node.args[3]
            elif name == "record":
                arg = next((k.value for k in node.keywords if k.arg == "object_type"), None)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                types.add(arg.value)
    assert {"organisation", "voucher", "device"} <= types
    raw = sorted(types - set(OBJECT_TYPES))
    assert not raw, "audit object types without a label in chaoyun/identity/audit_labels.py: " + repr(raw)


def test_audit_log_shows_labels_and_beijing_time(db: Any, login: Any) -> None:
    from datetime import UTC, datetime

    from chaoyun.identity import audit

    e = audit.record(
        db,
        actor_user_id=None,
        actor_username="system",
        actor_org_id=None,
        action="voucher.city_pass",
        object_type="voucher",
        object_id="424242",
    )
    e.ts = datetime(2026, 3, 4, 9, 44, 5, tzinfo=UTC)
    db.commit()
    page = login("city").get("/gov/audit?object_type=voucher").text
    assert "2026-03-04 17:44" in page and "09:44" not in page and "UTC" not in page
    assert "服务券 · 市级审核通过并公示" in page and ">voucher.city_pass<" not in page
    assert "<td>服务券 424242</td>" in page


def test_the_daily_pdf_shows_words_not_codes(db: Any, monkeypatch: Any) -> None:
    # The OEE daily PDF listed stop reasons as unlabelled_breakdown and control charts as xbar_r.
    from chaoyun.apps.models import InspectionPlan
    from chaoyun.apps.quality import service as quality
    from chaoyun.apps.reports import service as reports
    from tests.apps.test_oee import DAY, _worked_example

    org_id, _dev = _worked_example(db)
    plan = InspectionPlan(org_id=org_id, name="外径", characteristic="外径", chart_type="xbar_r", subgroup_size=2)
    db.add(plan)
    db.commit()
    quality.add_subgroups(db, None, plan, [{"values": [5.0 + i / 100, 5.01]} for i in range(5)], "api")
    seen: list[Any] = []
    table, bars = reports._table, reports._bars
    monkeypatch.setattr(reports, "_table", lambda rows, *a, **k: (seen.append(rows), table(rows, *a, **k))[1])
    monkeypatch.setattr(reports, "_bars", lambda labels, *a, **k: (seen.append(labels), bars(labels, *a, **k))[1])
    reports.build_pdf(db, org_id, "daily", DAY, DAY)
    text = repr(seen)
    assert translate("xbar_r", "zh_CN") in text and translate("unlabelled_breakdown", "zh_CN") in text, text
    assert "xbar_r" not in text and "unlabelled_" not in text, text


def test_errors_name_files_and_fields_in_the_readers_language() -> None:
    # 缺少“Invoice”文件 and 参数“value”必须是数字: the words inside a message were left in English / as codes.
    import pytest

    from chaoyun.devices import alarms
    from chaoyun.errors import Invalid
    from chaoyun.programme.workflows import files

    with pytest.raises(Invalid) as missing_file:
        files.validate(files.Upload("invoice", "x.pdf", b""))
    assert missing_file.value.messages() == {
        "zh": "缺少“发票”文件，或文件为空。",
        "en": "The file for “Invoice” is missing or empty.",
    }
    with pytest.raises(Invalid) as not_a_number:
        alarms._check_params("threshold", "temp", {"value": "abc"})
    m = not_a_number.value.messages()
    assert "value" not in m["zh"] and translate("Limit", "zh_CN") in m["zh"] and "Limit" in m["en"]
    # a plain parameter (a name the user typed) is never translated
    assert both("Parameter “%(param)s” must be a number.", param="Limit")["zh"].count("Limit") == 1


# --- English that reaches a Chinese page ------------------------------------------------------------------

_RAW = re.compile(
    r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b(?:pending|active|running|idle|offline|draft|submitted|approved|rejected|"
    r"withdrawn|published|true|false|None|null|UTC)\b"
)
_ALLOWED = {"provider_staff"}  # a demo username (user data)


def _visible_text(html: str) -> str:
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self.skip = 0
            self.in_main = False

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag in ("script", "style", "code", "pre"):
                self.skip += 1
            if tag == "main":
                self.in_main = True

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style", "code", "pre"):
                self.skip -= 1

        def handle_data(self, data: str) -> None:
            if self.in_main and not self.skip:
                self.parts.append(data)

    t = Text()
    t.feed(html)
    return " ".join(t.parts)


@pytest.mark.parametrize(
    "username", ["admin", "city", "chenghai", "expert", "evaluator", "factory", "operator", "provider"]
)
def test_menu_pages_show_no_raw_codes(login: Any, username: str) -> None:
    """Each demo role opens every page of its menu in Chinese: no snake_case code, no English status, no UTC."""
    c = login(username)
    home = c.get("/home").text
    paths = sorted(set(re.findall(r'class="(?:nav-link|dropdown-item)[^"]*" href="(/[^"]*)"', home)) - {"/logout"})
    assert paths
    leaks: dict[str, list[str]] = {}
    for path in ["/home", *paths]:
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        found = sorted({m for m in _RAW.findall(_visible_text(r.text)) if m not in _ALLOWED})
        if found:
            leaks[path] = found
    assert not leaks, f"raw codes on {username}'s pages: {leaks}"


def test_an_error_that_names_a_time_gives_beijing_time(db: Any) -> None:
    # The notice page said 17:44 while concluding it early failed with "09:44 UTC".
    from datetime import UTC, datetime

    from chaoyun.errors import Conflict
    from chaoyun.programme.workflows import vouchers
    from tests.programme_workflows.helpers import (
        actor,
        admin_of,
        claim,
        district_officer,
        eligible_provider,
        make_round,
        rich_enterprises,
    )
    from tests.programme_workflows.test_vouchers import redeem

    ent = admin_of(db, rich_enterprises(db, 1)[0])
    prov = eligible_provider(db)
    rnd = make_round(db, ratio="0.5", cap="100000")
    v = claim(db, ent, rnd, prov, "20000", [("cloud_resources", "20000")])  # type: ignore[arg-type]
    vouchers.act(db, ent, v.id, "submit")  # type: ignore[arg-type]
    vouchers.act(db, actor(db, "provider"), v.id, "confirm_contract")  # type: ignore[arg-type]
    redeem(db, ent, v.id, "20000", "INV-CLOCK-1")
    vouchers.act(db, district_officer(db, v.district), v.id, "district_pass")
    city = actor(db, "city")
    vouchers.act(db, city, v.id, "city_pass")
    v.notice_ends_at = datetime(2031, 5, 6, 9, 44, tzinfo=UTC)
    db.commit()
    with pytest.raises(Conflict) as early:
        vouchers.act(db, city, v.id, "conclude_notice")
    m = early.value.messages()
    assert "2031-05-06 17:44" in m["zh"] and "2031-05-06 17:44" in m["en"] and "UTC" not in m["en"]


def test_a_window_entered_with_an_inclusive_end_is_shown_as_entered(db: Any, login: Any) -> None:
    # A claims window closing "2031-03-31" is stored as the next Beijing midnight; the page showed 2031-04-01 00:00.
    from datetime import date

    from chaoyun import timefmt
    from tests.programme_workflows.helpers import make_round

    rnd = make_round(db, ratio="0.5", cap="100000")
    rnd.name = "时钟测试批次"
    rnd.claim_opens = timefmt.day_start(date(2031, 3, 1))
    rnd.claim_closes = timefmt.day_end_exclusive(date(2031, 3, 31))
    db.commit()
    page = login("city").get("/gov/programme/voucher-rounds").text
    row = next(line for line in page.splitlines() if "时钟测试批次" in line)
    assert "2031-03-01" in row and "2031-03-31" in row and "2031-04-01" not in row, row
