"""Targets dashboard: statuses at the boundaries, numbers equal to record counts, unavailable sources,
scope, drill-down, the public page and the evaluation exports."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.programme import dashboard as dash
from chaoyun.programme import targets
from chaoyun.programme.models import CloudAdoption, Diagnosis
from chaoyun.programme.pack import get_pack
from tests.programme.helpers import actor


def _t(key: str) -> Any:
    return get_pack().target(key)


@pytest.mark.parametrize(
    "key, actual, planned, final, status",
    [
        ("diagnosed_enterprises", 59, 60, True, dash.AT_RISK),
        ("diagnosed_enterprises", 60, 60, True, dash.MET),
        ("diagnosed_enterprises", 47, 60, True, dash.BEHIND),
        ("diagnosed_enterprises", 48, 60, True, dash.AT_RISK),  # 80 % of plan
        ("provincial_pool_recommended", 20, 21, True, dash.AT_RISK),  # "more than 20": 20 is not enough
        ("provincial_pool_recommended", 21, 21, True, dash.MET),
        ("leading_platforms", 2, 3, True, dash.BEHIND),  # 2 of 3 is below 80 %
        ("leading_platforms", 3, 3, True, dash.MET),  # the range 3–5 is met at its lower end
        ("demonstration_bases", 1, 1, True, dash.MET),
        ("cloud_adoption", 499, 500, False, dash.AT_RISK),
        ("cloud_adoption", 500, 500, False, dash.ON_TRACK),
        ("cloud_adoption", 4999, 5000, True, dash.AT_RISK),
        ("cloud_adoption", 5000, 5000, True, dash.MET),
        ("digital_upgrade", 250, 250, False, dash.ON_TRACK),
        ("innovation_demo_projects", 3, None, False, dash.NO_PLAN),
    ],
)
def test_status_at_boundaries(key: str, actual: int, planned: int | None, final: bool, status: str) -> None:
    assert dash.status_of(actual, planned, final, _t(key)) == status


def test_threshold_of_each_comparison() -> None:
    assert _t("provincial_pool_recommended").threshold == 21
    assert _t("innovation_centres").threshold == 3
    assert _t("innovation_demo_projects").threshold == 20
    assert _t("cloud_adoption").threshold == 5000


def test_dashboard_numbers_equal_record_counts(db: Session) -> None:
    from chaoyun.programme import demo

    demo.seed(db)
    rows = {r.target.key: r for r in dash.dashboard(db)}
    pack = get_pack()
    for y in pack.period.years:
        counted = db.execute(
            select(func.count(func.distinct(CloudAdoption.org_id))).where(
                CloudAdoption.status == "counted", CloudAdoption.counted_year <= y
            )
        ).scalar_one()
        diagnosed = db.execute(
            select(func.count(func.distinct(Diagnosis.org_id))).where(
                Diagnosis.status == "completed", Diagnosis.year <= y
            )
        ).scalar_one()
        cell = {c.year: c for c in rows["cloud_adoption"].years}[y]
        assert cell.actual == counted and cell.planned == pack.target("cloud_adoption").planned_by(y, pack.period)
        assert {c.year: c for c in rows["diagnosed_enterprises"].years}[y].actual == diagnosed
    assert counted > 0 and diagnosed > 0
    # Sources that do not exist say so instead of showing a number.
    for key in ("network_tariff_reduction", "public_cloud_discount"):
        assert not rows[key].available and rows[key].note_msgid and rows[key].years == []
    # District breakdown adds up to the city figure.
    br = dash.breakdown(db, pack.target("cloud_adoption"), 2020, "district")
    assert br is not None and sum(v for _, v in br) == {c.year: c for c in rows["cloud_adoption"].years}[2020].actual


def test_unregistered_rule_is_unavailable(db: Session) -> None:
    r = targets.evaluate(db, "nowhere.nothing", 2020)
    assert not r.available and r.note_msgid == targets.NOT_REGISTERED


def test_district_officer_sees_own_district(login: Any, db: Session) -> None:
    officer = login("chenghai")
    page = officer.get("/programme/targets?district=chaonan")
    assert page.status_code == 200
    detail = officer.get("/programme/targets/detail?key=cloud_adoption&district=chaonan&year=2020")
    assert detail.status_code == 200
    # The drill-down lists only Chenghai enterprises.
    names = db.execute(
        select(Organisation.name).where(Organisation.kind == "enterprise", Organisation.district == "chaonan")
    ).scalars()
    assert not any(n in detail.text for n in names)


def test_drilldown_lists_the_enterprises_behind_the_number(login: Any, db: Session) -> None:
    from chaoyun.programme import demo

    demo.seed(db)
    city = login("city")
    r = city.get("/programme/targets/detail?key=diagnosed_enterprises&year=2020")
    assert r.status_code == 200
    drilled = dash.drill(db, actor(db, "city"), _t("diagnosed_enterprises"), 2020, None, None)
    assert drilled is not None
    orgs, total = drilled
    assert total == dash.progress(db, _t("diagnosed_enterprises"), get_pack(), None, None).years[2].actual
    assert all(o.name in r.text for o in orgs[:20])
    unavailable = city.get("/programme/targets/detail?key=network_tariff_reduction")
    assert unavailable.status_code == 200 and 'id="unavailable"' in unavailable.text
    assert city.get("/programme/targets/detail?key=nope").status_code == 404
    api = city.get("/api/v1/programme/targets")
    assert api.status_code == 200 and {t["key"] for t in api.json()} == {t.key for t in get_pack().targets}


def test_public_page_needs_no_login(login: Any, db: Session) -> None:
    from chaoyun.programme import demo

    demo.seed(db)
    anon = login(None)
    r = anon.get("/public/programme")
    assert r.status_code == 200
    assert 'data-target="cloud_adoption"' in r.text
    # Credit codes never appear on the public page.
    codes = db.execute(select(Organisation.credit_code).where(Organisation.kind == "enterprise").limit(50)).scalars()
    assert not any(c and c in r.text for c in codes)


def test_permissions_by_route_sample(login: Any) -> None:
    assert login(None).get("/programme/targets").status_code == 303
    assert login("factory").get("/programme/targets").status_code == 403
    assert login("provider").get("/programme/adoptions").status_code == 403
    assert login("evaluator").get("/programme/targets").status_code == 200
    assert login("chenghai").get("/programme/evaluation").status_code == 403
    assert login(None).get("/api/v1/programme/targets").status_code == 401


def test_evaluation_exports_for_the_evaluator(login: Any) -> None:
    from openpyxl import load_workbook

    ev = login("evaluator")
    assert ev.get("/programme/evaluation").status_code == 200
    x = ev.get("/programme/evaluation/report.xlsx")
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames[0] == "目标完成情况" and "按区县" in wb.sheetnames
    ws = wb["目标完成情况"]
    keys = [ws.cell(row=i, column=2).value for i in range(2, ws.max_row + 1)]
    assert set(get_pack().target(k).key for k in keys if k) == {t.key for t in get_pack().targets}
    p = ev.get("/programme/evaluation/report.pdf")
    assert p.status_code == 200 and p.content.startswith(b"%PDF") and len(p.content) > 2000


def test_pool_kpis_agree_everywhere(login: Any, db: Session) -> None:
    """One definition per pool KPI: the targets card (home panel), the pool panel, /gov/market, the public
    page and the dashboard show the same figure and the same target on the demo data (they showed 19 / 14
    providers and targets 21 / 20 before)."""
    import re

    from chaoyun.marketplace import demo as market_demo
    from chaoyun.marketplace import pool
    from chaoyun.programme import demo

    demo.seed(db)
    market_demo.seed(db)
    k = pool.pool_kpis(db)
    targets = pool.pool_targets()
    assert k.service_providers > 0 and k.recommended_to_province > 0
    assert targets["service_providers"] == _t("city_pool_providers").threshold == 10
    assert targets["province"] == _t("provincial_pool_recommended").threshold == 21
    rows = {r.target.key: r for r in dash.dashboard(db)}
    assert rows["city_pool_providers"].latest == k.service_providers
    assert rows["provincial_pool_recommended"].latest == k.recommended_to_province
    assert rows["leading_platforms"].latest == k.leading_platforms

    city = login("city")
    home = city.get("/home").text

    def card(html: str, key: str) -> tuple[str, str]:
        m = re.search(rf'data-target="{key}".*?class="kpi-value">([^<]+)<.*?class="kpi-target">([^<]+)<', html, re.S)
        assert m, key
        return m.group(1).strip(), m.group(2).strip()

    assert card(home, "city_pool_providers") == (str(k.service_providers), "10")
    assert card(home, "provincial_pool_recommended") == (str(k.recommended_to_province), "21")
    panel_sp = re.search(r'data-kpi="service_providers">(\d+)</strong>/(\d+)', home)
    panel_rec = re.search(r'data-kpi="recommended_to_province">(\d+)</strong>/(\d+)', home)
    assert panel_sp and panel_sp.groups() == (str(k.service_providers), "10")
    assert panel_rec and panel_rec.groups() == (str(k.recommended_to_province), "21")
    market = city.get("/gov/market").text
    assert re.search(r'id="count-services">(\d+)<', market).group(1) == str(k.service_providers)  # type: ignore[union-attr]
    assert re.search(r'id="count-recommended">(\d+)<', market).group(1) == str(k.recommended_to_province)  # type: ignore[union-attr]
    public = login(None).get("/public/programme").text
    for key, value in (
        ("city_pool_providers", k.service_providers),
        ("provincial_pool_recommended", k.recommended_to_province),
    ):
        m = re.search(rf'data-target="{key}".*?class="stat">([^<]+)<', public, re.S)
        assert m and m.group(1).strip() == str(value), key
    api = city.get("/api/v1/market/pool-counts").json()
    assert api["admitted_service_providers"] == k.service_providers
    assert api["recommended_to_province"] == k.recommended_to_province


def _split_pack(tmp_path: Any, by_district: dict[str, int]) -> Any:
    import yaml

    from chaoyun.programme.pack import pack_path

    data = yaml.safe_load(pack_path().read_text(encoding="utf-8"))
    for t in data["targets"]:
        if t["key"] == "cloud_adoption":
            t["by_district"] = by_district
    path = tmp_path / "split.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_check_pack_validates_district_figures(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from chaoyun.cli import app as cli_app

    good = _split_pack(tmp_path, {"chenghai": 900, "longhu": 1200})
    r = CliRunner().invoke(cli_app, ["check-pack", str(good)])
    assert r.exit_code == 0, r.output
    assert "by district: chenghai=900, longhu=1200" in r.output
    bad = _split_pack(tmp_path, {"atlantis": 5, "chenghai": -1})
    r = CliRunner().invoke(cli_app, ["check-pack", str(bad)])
    assert r.exit_code == 1 and "by_district" in r.output and "atlantis" in r.output


def test_district_pages_compare_with_the_district_figure_or_say_city_wide(
    login: Any, db: Session, tmp_path: Any, monkeypatch: Any
) -> None:
    """Without a split a district is never measured against the city's 5,000; with one, against its own."""
    from chaoyun.programme import demo
    from chaoyun.programme.pack import get_pack

    demo.seed(db)
    pack = get_pack()
    row = dash.progress(db, _t("cloud_adoption"), pack, "chenghai", None)
    assert row.goal is None and row.city_wide_only and row.percent is None
    assert {c.status for c in row.years} == {dash.CITY_WIDE} and all(c.planned is None for c in row.years)
    page = login("chenghai").get("/programme/targets").text
    assert "city-wide" in page.split('data-target="cloud_adoption"')[1].split("</tr>")[0]
    # The city's own view is unchanged.
    city_row = dash.progress(db, _t("cloud_adoption"), pack, None, None)
    assert city_row.goal == 5000 and not city_row.city_wide_only

    monkeypatch.setenv("CHAOYUN_POLICY_PACK", str(_split_pack(tmp_path, {"chenghai": 3})))
    get_pack.cache_clear()
    try:
        split = get_pack()
        t = split.target("cloud_adoption")
        row = dash.progress(db, t, split, "chenghai", None)
        assert row.goal == 3 and not row.city_wide_only
        final = next(c for c in row.years if c.year == split.period.end)
        assert final.planned == 3
        assert final.status == (dash.MET if final.actual >= 3 else dash.BEHIND if final.actual < 2.4 else dash.AT_RISK)
        other = dash.progress(db, t, split, "chaonan", None)
        assert other.city_wide_only  # a district the pack does not list
        body = login("chenghai").get("/programme/targets").text
        cell = body.split('data-target="cloud_adoption"')[1].split("</tr>")[0]
        assert "≥ 3" in cell and "city-wide" not in cell
    finally:
        monkeypatch.undo()
        get_pack.cache_clear()
