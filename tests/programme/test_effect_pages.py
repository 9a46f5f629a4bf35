"""The policy-effect page, API, CLI, what-if, exports and public page over a seeded history (a planted +3 OEE
effect, see test_effect_planted.py): who sees what, the same figures everywhere, errors in both languages."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chaoyun.cli import app as cli_app
from chaoyun.db import get_sessionmaker
from chaoyun.programme.effect import exports
from chaoyun.programme.effect import service as effect
from chaoyun.programme.workflow_models import Voucher, VoucherRound
from chaoyun.simulator import planted
from tests.programme.test_commonproblems import pdf_text
from tests.programme.test_effect_planted import seed_history


@pytest.fixture(scope="module")
def history() -> Iterator[planted.Planted]:
    with get_sessionmaker()() as db:
        result = seed_history(db, 3.0)
    exports.forget()
    yield result


def test_city_sees_the_estimate_with_interval_and_chart(history: planted.Planted, db: Session, login: Any) -> None:
    r = effect.estimate(db, "vouchers", "oee")
    assert r.shown and r.estimate is not None
    page = login("city").get("/programme/effect?instrument=vouchers&outcome=oee")
    assert page.status_code == 200
    text = page.text
    assert f"{r.estimate.value:+.2f}" in text and f"{r.estimate.low:+.2f} … {r.estimate.high:+.2f}" in text
    assert f"参与企业 {r.treated} 家，对照企业 {r.controls} 家" in text
    assert 'id="chart-effect"' in text and "markLine" in text
    assert "这是观察数据，不是随机试验" in text and "Observational data, not a trial" in text
    assert f"{r.money_per_unit:,.2f}" in text
    assert 'id="whatif-quick"' in text and 'action="/programme/effect/whatif"' in text
    # An outcome the effect did not touch: no cost per unit of improvement.
    q = login("city").get("/programme/effect?instrument=vouchers&outcome=quality_rate")
    assert 'id="money-note"' in q.text and "未测得改善" in q.text
    # A small group is withheld on the page too.
    s = login("city").get("/programme/effect?instrument=subsidies&outcome=oee")
    assert 'id="withheld"' in s.text and 'id="estimate"' not in s.text


def test_who_sees_the_page(history: planted.Planted, db: Session, login: Any) -> None:
    for username in ("factory", "operator", "provider", "expert"):
        assert login(username).get("/programme/effect").status_code == 403, username
        assert login(username).get("/api/v1/programme/effect").status_code == 403, username
    assert login("evaluator").get("/programme/effect").status_code == 200
    # A district officer always gets their own district, whatever the query says.
    officer = login("chenghai")
    page = officer.get("/programme/effect?district=nanao")
    assert page.status_code == 200 and "disabled" in page.text.split('id="district"')[1][:80]
    assert 'id="whatif-quick"' not in page.text  # the what-if re-runs every district's money: city-wide roles
    api = officer.get("/api/v1/programme/effect?district=nanao").json()
    assert api["district"] == "chenghai"
    own = effect.estimate(db, "vouchers", "oee", district="chenghai")
    assert api["participants"] == own.participants
    assert officer.get("/programme/effect/whatif").status_code == 403


def test_api_and_cli_say_the_same_and_refuse_unknown_choices(history: planted.Planted, login: Any) -> None:
    city = login("city")
    bad = city.get("/api/v1/programme/effect?instrument=coupons&outcome=oee")
    assert bad.status_code == 422
    err = bad.json()["error"]
    assert "coupons" in err["message_zh"] and "未知的政策工具" in err["message_zh"]
    assert err["message_en"].startswith("Unknown instrument") and err["field"] == "instrument"
    page = city.get("/programme/effect?instrument=coupons")
    assert page.status_code == 422 and 'id="choice-error"' in page.text
    assert city.get("/api/v1/programme/effect?year=1999").status_code == 422

    api = city.get("/api/v1/programme/effect?instrument=vouchers&outcome=oee").json()
    est = api["estimate"]
    assert api["treated"] >= 10 and est["low"] <= 3.0 <= est["high"]
    assert api["caveats"][0]["zh"].startswith("这是观察数据") and api["caveats"][0]["en"].startswith("Observational")

    runner = CliRunner()
    out = runner.invoke(cli_app, ["policy-effect", "--instrument", "vouchers", "--outcome", "oee"])
    assert out.exit_code == 0, out.output
    assert f"{est['value']:+.2f}" in out.output and f"{est['low']:+.2f} … {est['high']:+.2f}" in out.output
    assert f"{Decimal(api['money_per_unit']):,.2f}" in out.output
    wrong = runner.invoke(cli_app, ["policy-effect", "--instrument", "vouchers", "--outcome", "happiness"])
    assert wrong.exit_code == 2
    assert "未知的成效指标“happiness”" in wrong.output and "Unknown outcome “happiness”" in wrong.output


def test_whatif_reruns_the_years_vouchers(history: planted.Planted, db: Session, login: Any) -> None:
    year = max(history.treated.values()).year
    vouchers = db.execute(
        select(Voucher).join(VoucherRound, VoucherRound.id == Voucher.round_id).where(VoucherRound.year == year)
    ).scalars().all()
    assert vouchers
    city = login("city")
    page = city.get(f"/programme/effect/whatif?year={year}")
    assert page.status_code == 200
    actual = sum(v.face_value for v in vouchers)
    assert f"{actual:,.2f}" in page.text
    # 60 % with a cap of 50,000: each voucher's face value recomputed, reached while the budget lasts.
    cap, fen = Decimal("50000"), Decimal("0.01")
    faces = [min(cap, (Decimal("0.6") * v.eligible_amount).quantize(fen, ROUND_DOWN)) for v in vouchers]
    api = city.get(f"/api/v1/programme/effect/whatif?year={year}&voucher_ratio=0.6&voucher_cap=50000").json()
    row = next(r for r in api["rows"] if r["instrument"] == "vouchers")
    assert Decimal(row["whatif_money"]) == sum(faces) and row["whatif_reached"] == len(vouchers)
    assert Decimal(row["actual_money"]) == actual
    budget = sum(sorted(faces)[:3])
    query = f"year={year}&voucher_ratio=0.6&voucher_cap=50000&voucher_budget={budget}"
    small = city.get(f"/api/v1/programme/effect/whatif?{query}")
    row = next(r for r in small.json()["rows"] if r["instrument"] == "vouchers")
    # First come, first served: in issue order, a voucher that no longer fits the budget is refused.
    left, granted = budget, 0
    for _v, face in sorted(zip(vouchers, faces, strict=True), key=lambda p: (p[0].issued_at, p[0].id)):
        if face <= left:
            left, granted = left - face, granted + 1
    assert Decimal(row["whatif_money"]) == budget - left and row["whatif_reached"] == granted < len(vouchers)
    # Bad input: the same page with 422 and each error beside its field, the typed values kept.
    bad = city.get(f"/programme/effect/whatif?year={year}&voucher_ratio=1.5&seats_toys=-3&subsidy_cap=1.234")
    assert bad.status_code == 422
    for name in ("voucher_ratio", "seats_toys", "subsidy_cap"):
        assert f'data-field="{name}"' in bad.text, name
    assert 'value="1.5"' in bad.text and 'id="whatif-table"' not in bad.text
    assert city.get("/api/v1/programme/effect/whatif?voucher_ratio=abc").status_code == 422


def test_exports_and_public_page_carry_the_figures(history: planted.Planted, db: Session, login: Any) -> None:
    r = effect.estimate(db, "vouchers", "oee")
    assert r.estimate is not None
    city = login("evaluator")
    xlsx = city.get("/programme/evaluation/report.xlsx")
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.content))
    rows = list(wb["政策效果"].iter_rows(values_only=True))
    oee = next(row for row in rows if row[0] == "服务券" and str(row[1]).startswith("设备综合效率"))
    assert oee[3] == r.treated and oee[4] == r.controls
    assert abs(oee[5] - r.estimate.value) < 1e-4 and abs(oee[6] - r.estimate.low) < 1e-4
    assert "观察数据" in str(list(wb["政策效果说明"].iter_rows(values_only=True)))
    pdf = city.get("/programme/evaluation/report.pdf")
    text = pdf_text(pdf.content)
    assert "三、政策效果" in text and f"{r.estimate.low:+.2f} … {r.estimate.high:+.2f}" in text
    public = login(None).get("/public/programme")
    assert public.status_code == 200 and 'id="public-effects"' in public.text
    assert f"{r.estimate.low:+.2f} … {r.estimate.high:+.2f}" in public.text
    # Small groups never reach the public page.
    assert "创新补助" not in re.sub(r"\s+", " ", public.text.split('id="public-effects"')[1].split("</table>")[0])
