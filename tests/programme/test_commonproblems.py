"""Industry common-problem report: ranking on a hand-made set, leaders against laggards, the five-enterprise rule
on every output (page, PDF text, Excel, API), district scoping, offerings matched, bad input, and a diagnosis
completed through the real flow showing up at once."""

from __future__ import annotations

import base64
import copy
import io
import re
import zlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert
from sqlalchemy.orm import Session

from chaoyun.identity.models import EnterpriseProfile, Organisation, ProviderProfile
from chaoyun.marketplace.models import Admission, Offering
from chaoyun.programme import diagnosis as dg
from chaoyun.programme.commonproblems import service
from chaoyun.programme.models import Diagnosis
from chaoyun.programme.outcomes.models import OutcomeSnapshot
from chaoyun.programme.questionnaire import get_questionnaire, score
from tests import factories
from tests.programme.helpers import actor

Q = get_questionnaire("sme-digital-level-2024")
NOTE = "样本不足 5 家，不予显示"

# Full marks everywhere (100 points); each test takes points away where it wants a weakness.
FULL: dict[str, Any] = {
    "network": ["workshop_control_network", "application_network", "industrial_5g", "full_coverage"],
    "evidence": {"device_count": 10, "digitised_devices": 10, "networked_devices": 10},
    "data_collection_areas": [o.key for o in Q.item("data_collection_areas").options],  # type: ignore[union-attr]
    "systems_coverage": "all",
    "network_security": ["policy", "products", "risk_assessment", "boundary_control"],
    "data_security": ["policy", "protection", "risk_assessment", "ledger"],
    "planning_implementation": "shares",
    "mechanisms": ["workflow", "it_operations", "data_rules", "incentives"],
    "talent": ["staff", "department", "training", "performance", "pipeline"],
    "funding": "over_5",
    "energy_trend": "down",
    "pass_rate_trend": "up",
    "revenue_per_employee": "up",
    "cost_per_revenue": "down",
    "scenes": {s.key: 3 for s in Q.scenes},
}


def answers(**changes: Any) -> dict[str, Any]:
    a = copy.deepcopy(FULL)
    scenes = changes.pop("scenes", {})
    a.update(changes)
    a["scenes"] = {**a["scenes"], **scenes}
    return a


def enterprise(db: Session, district: str, cluster: str, name: str) -> int:
    org = Organisation(
        kind="enterprise",
        name=name,
        credit_code=factories.credit_code(),
        district=district,
        status="active",
    )
    org.enterprise = EnterpriseProfile(
        industry_code="C2452", cluster=cluster, employees=50, annual_revenue=Decimal("1000"), size_class="small"
    )
    db.add(org)
    db.commit()
    return org.id


def completed(db: Session, org_id: int, ans: dict[str, Any], year: int = 2020) -> Diagnosis:
    """A diagnosis completed by an expert, scored by the real rules (``diagnosis.apply_score``)."""
    at = datetime(year, 6, 1, tzinfo=UTC)
    d = Diagnosis(
        org_id=org_id,
        questionnaire=Q.key,
        status="completed",
        answers=ans,
        evidenced={},
        year=year,
        created_at=at,
        submitted_at=at,
        completed_at=at,
    )
    dg.apply_score(d, score(Q, ans))
    db.add(d)
    db.commit()
    return d


def group(db: Session, district: str, cluster: str, sets: list[dict[str, Any]], prefix: str) -> list[int]:
    ids = []
    for i, a in enumerate(sets):
        org_id = enterprise(db, district, cluster, f"{prefix}{i + 1:02d}有限公司")
        completed(db, org_id, a)
        ids.append(org_id)
    return ids


_STREAM = re.compile(rb"<<(.*?)>>\s*stream\r?\n(.*?)\r?\n?endstream", re.S)
_TOKEN = re.compile(rb"/(F\d+)\s+[\d.]+\s+Tf|\(((?:\\.|[^\\)])*)\)", re.S)
_ESC = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}


def _unescape(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i : i + 1] == b"\\" and i + 1 < len(raw):
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            nxt = raw[i + 1 : i + 2]
            out += _ESC.get(nxt, nxt)
            i += 2
            continue
        out += raw[i : i + 1]
        i += 1
    return bytes(out)


def pdf_text(pdf: bytes) -> str:
    """The text of a ReportLab PDF (no pdftotext on every machine): content streams inflated, strings in the
    CID font (UCS-2 encoding) read as UTF-16BE, the others as Latin-1."""
    cid_fonts = {m.group(1).decode() for m in re.finditer(rb"/Name /(F\d+) /Subtype /Type0", pdf)}
    parts: list[str] = []
    for head, body in _STREAM.findall(pdf):
        data = body
        if b"ASCII85Decode" in head:
            data = base64.a85decode(data.strip() if data.startswith(b"<~") else b"<~" + data.strip(), adobe=True)
        if b"FlateDecode" in head:
            try:
                data = zlib.decompress(data)
            except zlib.error:
                continue
        font = ""
        for m in _TOKEN.finditer(data):
            if m.group(1):
                font = m.group(1).decode()
                continue
            s = _unescape(m.group(2))
            parts.append(s.decode("utf-16-be", "replace") if font in cid_fonts else s.decode("latin-1"))
    return "".join(parts)


def workbook_text(content: bytes) -> dict[str, str]:
    wb = load_workbook(io.BytesIO(content))
    return {
        ws.title: "\n".join(
            " ".join("" if c is None else str(c) for c in row) for row in ws.iter_rows(values_only=True)
        )
        for ws in wb.worksheets
    }


# ---------------------------------------------------------------- ranking


def test_weakest_areas_and_scenes_ranked_on_a_hand_made_set(db: Session) -> None:
    none: list[str] = []
    sets = []
    for i in range(6):
        sets.append(
            answers(
                network_security=none,
                data_security=none,  # security 0 for all: weakest
                energy_trend="up" if i < 3 else "same",  # green: 0, 0, 0, .5, .5, .5 → mean .25
                systems_coverage="one_area" if i < 2 else "two_or_more",  # .25 ×2, .5 ×4 → .4167
                pass_rate_trend="down" if i < 3 else "up",  # quality .5, half below the threshold
                revenue_per_employee="same",  # market .5, nobody below (.5 is not under half)
                cost_per_revenue="same",
                scenes={"energy": 0, "quality": 1},
            )
        )
    group(db, "nanao", "crafts", sets, "南澳测试工艺")
    rep = service.build(db, service.Filters("crafts", "nanao", None))
    assert rep.shown and rep.n == 6
    assert [w.key for w in rep.areas] == [
        "security",
        "green",
        "information_systems",
        "quality",  # same mean as market, more enterprises under the threshold
        "market",
        "data_collection",
        "equipment",
        "planning",
        "resources",
    ]
    by = {w.key: w for w in rep.areas}
    assert by["security"].share == 0 and by["security"].below == 1
    assert by["green"].share == pytest.approx(0.25) and by["green"].mean == pytest.approx(1.75)
    assert by["green"].below == pytest.approx(0.5)
    assert by["information_systems"].share == pytest.approx(2.5 / 6)
    assert by["information_systems"].below == pytest.approx(2 / 6)
    assert by["quality"].below == pytest.approx(0.5) and by["market"].below == 0
    assert by["planning"].share == pytest.approx(1.0)
    assert [w.key for w in rep.scenes[:2]] == ["energy", "quality"]
    assert rep.scenes[0].share == 0 and rep.scenes[1].mean == pytest.approx(1.0)
    # Six enterprises: a quartile holds fewer than five, so leaders and laggards are not shown.
    assert not rep.quartiles_shown and all(w.leaders is None for w in rep.areas)
    # The weaknesses with offerings: the three weakest areas, then the two weakest scenes.
    assert [(w.kind, w.key) for w in rep.weaknesses] == [
        ("area", "security"),
        ("area", "green"),
        ("area", "information_systems"),
        ("scene", "energy"),
        ("scene", "quality"),
    ]


def test_leaders_against_laggards_and_the_spread(db: Session) -> None:
    """20 enterprises: five with half the security points, ten with three quarters, five with all of it."""
    sets = []
    for i in range(20):
        ds = [] if i < 5 else (["policy", "protection"] if i < 15 else FULL["data_security"])
        sets.append(answers(data_security=ds))
    group(db, "haojiang", "electronics", sets, "濠江测试电子")
    rep = service.build(db, service.Filters("electronics", "haojiang", None))
    assert rep.n == 20 and rep.quartiles_shown and rep.leaders_n == 5 and rep.laggards_n == 5
    sec = next(w for w in rep.areas if w.key == "security")
    assert rep.areas[0].key == "security"
    assert sec.leaders == pytest.approx(1.0) and sec.laggards == pytest.approx(0.5) and sec.gap == pytest.approx(0.5)
    # numpy's linear percentiles over 5 × .5, 10 × .75, 5 × 1.0
    assert sec.p25 == pytest.approx(0.6875) and sec.p75 == pytest.approx(0.8125)
    assert sec.spread == pytest.approx(0.125)
    assert rep.p75 is not None and rep.p25 is not None and rep.p75 > rep.p25


# ---------------------------------------------------------------- the five-enterprise rule


def test_four_enterprises_are_suppressed_everywhere_five_are_shown(db: Session, login: Any) -> None:
    """Four completed diagnoses among Chenghai's toy makers: nothing shown on the page, in the PDF, the Excel or
    the API. The fifth comes through the real flow (self-assessment, submit, expert completes): all show it."""
    weak = answers(network_security=[], data_security=[])
    group(db, "chenghai", "toys", [weak] * 4, "澄海测试玩具")
    city = login("city")
    q = "?cluster=toys&district=chenghai"

    def outputs() -> tuple[Any, Any, str, dict[str, str]]:
        page = city.get("/programme/common-problems" + q)
        api = city.get("/api/v1/programme/common-problems" + q)
        pdf = city.get("/programme/common-problems/report.pdf" + q)
        xlsx = city.get("/programme/common-problems/report.xlsx" + q)
        assert page.status_code == api.status_code == pdf.status_code == xlsx.status_code == 200
        assert pdf.content.startswith(b"%PDF")
        return page, api.json(), pdf_text(pdf.content), workbook_text(xlsx.content)

    page, api, text, sheets = outputs()
    assert NOTE in page.text and 'id="cp-suppressed"' in page.text and 'id="cp-areas"' not in page.text
    assert api["shown"] is False and api["note"] == NOTE and "areas" not in api and "enterprises" not in api
    toys = next(r for r in api["by_cluster"] if r["code"] == "toys")
    assert toys == {"code": "toys", "shown": False, "note": NOTE}
    assert "行业共性问题改进建议报告" in text and NOTE in text and "薄弱环节排名" not in text
    assert NOTE in sheets["概况"] and "薄弱环节" not in sheets and "典型案例" not in sheets
    assert "信息安全" not in text and "信息安全" not in page.text.split("cp-by-cluster")[0]

    # The fifth, through the real flow.
    ent = actor(db, "factory")
    assert ent.org.district == "chenghai" and ent.org.enterprise and ent.org.enterprise.cluster == "toys"
    d = dg.start(db, ent)
    raw = {k: v for k, v in weak.items() if k != "evidence"}
    dg.save_answers(db, ent, d.id, raw)
    dg.submit(db, ent, d.id)
    dg.complete(db, actor(db, "expert"), d.id, "现场核实")

    page, api, text, sheets = outputs()
    assert 'id="cp-areas"' in page.text and 'id="cp-suppressed"' not in page.text
    assert api["shown"] is True and api["enterprises"] == 5 and api["areas"][0]["key"] == "security"
    assert api["areas"][0]["share"] == 0 and api["areas"][0]["below_threshold"] == 1
    for heading in (
        "行业共性问题改进建议报告",
        "一、总体情况",
        "二、薄弱环节排名",
        "六、典型案例",
        "七、改进建议与资源池服务",
    ):
        assert heading in text, heading
    assert "信息安全" in text
    assert {"概况", "薄弱环节", "经营场景", "平台数据", "典型案例", "改进建议", "分行业", "分区县"} <= set(sheets)
    assert "低于阈值企业占比" in sheets["薄弱环节"] and "信息安全" in sheets["薄弱环节"]
    # Leaders and laggards of five enterprises are groups of one or two: still suppressed.
    assert api["quartiles_shown"] is False and api["leaders"] is None
    wb = load_workbook(io.BytesIO(city.get("/programme/common-problems/report.xlsx" + q).content))
    assert wb["薄弱环节"].freeze_panes == "A2" and wb["薄弱环节"].auto_filter.ref


# ---------------------------------------------------------------- scope and permissions


def test_district_officer_sees_only_their_district(db: Session, login: Any) -> None:
    low = answers(talent=[], funding="none")
    group(db, "chenghai", "food", [low] * 5, "澄海测试食品")
    group(db, "chaonan", "food", [FULL] * 5, "潮南测试食品")
    officer = login("chenghai")
    r = officer.get("/api/v1/programme/common-problems?cluster=food&district=chaonan").json()
    assert r["filters"]["district"] == "chenghai" and r["enterprises"] == 5
    assert r["mean_score"] == pytest.approx(85.0) and r["areas"][0]["key"] == "resources"
    assert [g["code"] for g in r["by_district"]] == ["chenghai"]
    page = officer.get("/programme/common-problems?cluster=food")
    assert page.status_code == 200 and "潮南测试食品" not in page.text
    assert re.search(r'<select name="district"[^>]*disabled', page.text)
    city = login("city").get("/api/v1/programme/common-problems?cluster=food&district=chaonan").json()
    assert city["filters"]["district"] == "chaonan" and city["mean_score"] == pytest.approx(100.0)
    both = login("city").get("/api/v1/programme/common-problems?cluster=food").json()
    assert both["enterprises"] == 10
    assert {g["code"]: g["shown"] for g in both["by_district"]}["chaonan"] is True
    # Evaluators read; enterprises and providers do not.
    assert login("evaluator").get("/api/v1/programme/common-problems?cluster=food").status_code == 200
    assert login("evaluator").get("/programme/common-problems/report.pdf?cluster=food").status_code == 200
    for username in ("factory", "operator", "provider"):
        c = login(username)
        assert c.get("/api/v1/programme/common-problems").status_code == 403
        assert c.get("/programme/common-problems").status_code == 403
        assert c.get("/programme/common-problems/report.xlsx").status_code == 403


def test_bad_input_is_refused_in_chinese_and_english(login: Any) -> None:
    city = login("city")
    for query, field in (
        ("cluster=steel", "cluster"),
        ("district=shenzhen", "district"),
        ("year=2017", "year"),
        ("year=2999", "year"),
        ("year=abc", "year"),
    ):
        r = city.get("/api/v1/programme/common-problems?" + query)
        assert r.status_code == 422, query
        err = r.json()["error"]
        assert err["field"] == field and err["message_zh"] and err["message_en"], query
        assert err["message_zh"] != err["message_en"]
        page = city.get("/programme/common-problems?" + query)
        assert page.status_code == 422 and 'id="cp-error"' in page.text
        assert city.get("/programme/common-problems/report.pdf?" + query).status_code == 422
    r = city.get("/api/v1/programme/common-problems?cluster=steel").json()["error"]
    assert r["message_zh"] == "未知的行业：steel。" and r["message_en"] == "Unknown industry: steel."
    assert city.get("/api/v1/programme/common-problems?year=2018").status_code == 200


# ---------------------------------------------------------------- offerings


def _pool_offering(db: Session, name: str, category: str) -> int:
    prov = Organisation(kind="provider", name=f"{name}服务商", credit_code=factories.credit_code(), status="active")
    prov.provider = ProviderProfile(provider_type="service", service_categories=[category])
    db.add(prov)
    db.flush()
    db.add(Admission(org_id=prov.id, provider_type="service", categories=[category], status="admitted"))
    off = Offering(org_id=prov.id, name=name, category=category, summary="测试", search_text=name, status="published")
    db.add(off)
    db.commit()
    return off.id


def test_offerings_address_each_weakness(db: Session, login: Any) -> None:
    sec_id = _pool_offering(db, "测试工控安全防护服务", "security")
    _pool_offering(db, "测试人才培训服务", "training")
    group(db, "longhu", "light_equipment", [answers(network_security=[], data_security=[])] * 5, "龙湖测试装备")
    rep = service.build(db, service.Filters("light_equipment", "longhu", None))
    security = next(w for w in rep.weaknesses if w.key == "security")
    assert [o.id for o in security.offerings] == [sec_id]
    assert all(o.category in ("security",) for o in security.offerings)
    api = login("city").get("/api/v1/programme/common-problems?cluster=light_equipment&district=longhu").json()
    rec = next(r for r in api["recommendations"] if r["key"] == "security")
    assert rec["offerings"][0]["name"] == "测试工控安全防护服务"
    assert rec["offering_categories"] == ["security"]
    page = login("city").get("/programme/common-problems?cluster=light_equipment&district=longhu")
    assert f'href="/market/offerings/{sec_id}"' in page.text
    # Nobody is weak in training here (talent full): that offering is not recommended.
    assert "测试人才培训服务" not in page.text


def test_year_filter_takes_each_enterprise_latest_diagnosis_up_to_that_year(db: Session) -> None:
    ids = group(db, "jinping", "textiles_apparel", [answers(funding="none")] * 5, "金平测试纺织")
    for org_id in ids:  # a better diagnosis later
        completed(db, org_id, FULL, year=2022)
    old = service.build(db, service.Filters("textiles_apparel", "jinping", 2021))
    new = service.build(db, service.Filters("textiles_apparel", "jinping", None))
    assert old.n == new.n == 5
    assert old.mean_score == pytest.approx(92.5) and new.mean_score == pytest.approx(100.0)
    assert service.build(db, service.Filters("textiles_apparel", "jinping", 2019)).shown is False


def test_the_page_in_english(db: Session, login: Any) -> None:
    group(db, "chaoyang", "chemicals_plastics", [answers(funding="none")] * 5, "潮阳测试化工")
    city = login("city")
    city.post("/lang", {"lang": "en", "back": "/home"})
    page = city.get("/programme/common-problems?cluster=chemicals_plastics&district=chaoyang")
    assert page.status_code == 200
    assert "Weakest areas, ranked" in page.text and "Resources" in page.text  # 要素保障 in English
    assert "A chemicals &amp; plastics enterprise in Chaoyang" in page.text
    api = city.get("/api/v1/programme/common-problems?cluster=nope").json()["error"]
    assert api["message_en"] == "Unknown industry: nope."
    city.post("/lang", {"lang": "zh_CN", "back": "/home"})  # the user's language is stored with the user


def test_new_platform_outcomes_show_after_the_background_read(db: Session, login: Any) -> None:
    """Outcome snapshots are rewritten by the platform every few hours; the report reads them again in the
    background and shows them from the next request on (bulk-inserted rows: the platform's OEE of the month)."""
    ids = group(db, "longhu", "printing_packaging", [FULL] * 5, "龙湖测试印刷")
    city = login("city")
    url = "/api/v1/programme/common-problems?cluster=printing_packaging&district=longhu"

    def oee() -> dict[str, Any]:
        return next(o for o in city.get(url).json()["outcomes"] if o["key"] == "oee")

    assert oee()["shown"] is False
    month = date.today().replace(day=1)
    now = datetime.now(UTC)
    rows = [
        {"org_id": o, "month": month, "outcome": "oee", "value": 60.0 + i, "computed_at": now}
        for i, o in enumerate(ids)
    ]
    db.execute(insert(OutcomeSnapshot), rows)
    db.commit()
    service.settle()
    oee()  # answered with the outcomes held; the new ones are read in the background
    service.settle()
    after = oee()
    assert after["shown"] is True and after["enterprises"] == 5 and after["median"] == 62.0
