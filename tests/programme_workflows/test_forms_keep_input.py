"""Money forms keep what was typed: on bad input the same page comes back with 422, every error beside its
field, the values kept, and uploaded files staged ("already uploaded: name.pdf") and reused on resubmit."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.programme.workflow_models import DemoCall, SubsidyApplication, Voucher, VoucherRound
from chaoyun.programme.workflows import demonstration, vouchers
from tests.programme_workflows.helpers import PDF, actor, eligible_provider, make_round

STAGED = re.compile(r'name="(\w+)__staged" value="([^"]+)"')


def _errors(html: str) -> set[str]:
    return set(re.findall(r'data-field="([\w.]+)"', html))


def test_voucher_claim_shows_every_error_beside_its_field_and_keeps_values(db: Session, login: Any) -> None:
    rnd = make_round(db)
    prov = eligible_provider(db)
    ent = login("factory")
    before = db.execute(select(func.count()).select_from(Voucher)).scalar_one()
    r = ent.post(
        "/programme/vouchers/new",
        {
            "round_id": str(rnd.id),
            "provider_org_id": str(prov.id),
            "contract_no": "HT-KEEP-1",
            "contract_signed_on": "2019-13-40",
            "contract_amount": "-5",
            "cat0": "cloud_resources",
            "desc0": "云主机",
            "amt0": "abc",
        },
    )
    assert r.status_code == 422
    assert {"contract_signed_on", "contract_amount", "amt0"} <= _errors(r.text)
    assert 'value="HT-KEEP-1"' in r.text and 'value="云主机"' in r.text and 'value="abc"' in r.text
    assert "合同金额须为正数" in r.text or "合同金额" in r.text
    assert db.execute(select(func.count()).select_from(Voucher)).scalar_one() == before  # nothing stored


def test_redemption_keeps_uploaded_files_across_a_refusal(db: Session, login: Any) -> None:
    rnd = make_round(db)
    prov = eligible_provider(db)
    factory = actor(db, "factory")
    from tests.programme_workflows.helpers import claim

    v = claim(db, factory, rnd, prov, "10000")
    vouchers.act(db, factory, v.id, "submit")
    vouchers.act(db, actor(db, "provider"), v.id, "confirm_contract")
    ent = login("factory")
    url = f"/programme/vouchers/{v.id}/redeem"
    files = {k: (f"{k}.pdf", PDF, "application/pdf") for k in ("invoice", "payment_proof", "acceptance_report")}
    r = ent.post(url, {"actual_paid": "-1", "invoice_no": ""}, files=files)
    assert r.status_code == 422
    assert {"actual_paid", "invoice_no"} <= _errors(r.text)
    staged = dict(STAGED.findall(r.text))
    assert set(staged) == {"invoice", "payment_proof", "acceptance_report"}
    assert "已上传：invoice.pdf" in r.text
    # Resubmit with the corrected fields only: the staged files are used, nothing is chosen again.
    data = {"actual_paid": "9500", "invoice_no": "FP-KEEP-1", **{f"{k}__staged": t for k, t in staged.items()}}
    ok = ent.post(url, data)
    assert ok.status_code == 303, ok.text[-2000:]
    db.expire_all()
    assert db.get(Voucher, v.id).state == "district_review"  # type: ignore[union-attr]
    assert len(vouchers.voucher_files(db, db.get(Voucher, v.id))) == 3  # type: ignore[arg-type]
    # Someone else's token is refused (tokens belong to the user who uploaded).
    other = login("provider")
    assert "已上传" not in other.post(url, {"actual_paid": "1", **{"invoice__staged": staged["invoice"]}}).text


def test_subsidy_application_keeps_values_and_the_staged_evidence(db: Session, login: Any) -> None:
    ent = login("factory")
    before = db.execute(select(func.count()).select_from(SubsidyApplication)).scalar_one()
    form = {"kind": "innovation", "title": "", "cat0": "cloud_computing", "amt0": "100000", "date0": "2019-08-01"}
    r = ent.post("/programme/subsidies/new", form, files={"cost_evidence": ("cost.pdf", PDF, "application/pdf")})
    assert r.status_code == 422 and "title" in _errors(r.text)
    assert 'value="100000"' in r.text and "已上传：cost.pdf" in r.text
    assert "一次性补贴" in r.text and 'id="standing"' in r.text  # the rule and what was received, in words
    assert db.execute(select(func.count()).select_from(SubsidyApplication)).scalar_one() == before
    token = dict(STAGED.findall(r.text))["cost_evidence"]
    ok = ent.post("/programme/subsidies/new", {**form, "title": "上云改造", "cost_evidence__staged": token})
    assert ok.status_code == 303, ok.text[-1500:]


def test_score_form_keeps_values_and_names_each_wrong_criterion(db: Session, login: Any) -> None:
    from tests.programme_workflows.test_page_refusals import _in_city_review

    a = _in_city_review(db)
    expert = login("expert")
    r = expert.post(f"/programme/subsidies/{a.id}/score", {"technology": "99", "benefit": "x", "costs": "20"})
    assert r.status_code == 422
    assert {"technology", "benefit"} <= _errors(r.text) and 'value="20"' in r.text


def test_round_form_refuses_bad_values_with_messages_naming_the_field(db: Session, login: Any) -> None:
    city = login("city")
    existing = make_round(db)
    today = utcnow().date()
    form = {
        "year": "20250",
        "name": existing.name,
        "budget": "-100",
        "face_ratio": "0.5",
        "cap_per_enterprise": "100000",
        "claim_opens": (today - timedelta(days=30)).isoformat(),
        "claim_closes": (today - timedelta(days=10)).isoformat(),
        "redeem_opens": today.isoformat(),
        "redeem_closes": (today + timedelta(days=60)).isoformat(),
    }
    before = db.execute(select(func.count()).select_from(VoucherRound)).scalar_one()
    r = city.post("/gov/programme/voucher-rounds", form)
    assert r.status_code == 422 and {"year", "budget"} <= _errors(r.text)
    assert "预算" in r.text and "年份" in r.text
    assert f'value="{existing.name}"' in r.text
    r2 = city.post("/gov/programme/voucher-rounds", {**form, "year": str(today.year), "budget": "100000"})
    assert r2.status_code == 422 and "claim_closes" in _errors(r2.text)
    form3 = {
        **form,
        "year": str(today.year),
        "budget": "100000",
        "claim_closes": (today + timedelta(days=5)).isoformat(),
    }
    r3 = city.post("/gov/programme/voucher-rounds", form3)
    assert r3.status_code == 422 and "name" in _errors(r3.text) and "同名" in r3.text
    assert db.execute(select(func.count()).select_from(VoucherRound)).scalar_one() == before


def test_demonstration_application_target_and_due_date(db: Session, login: Any) -> None:
    now = utcnow()
    call = demonstration.create_call(
        db,
        actor(db, "city"),
        "benchmark_project",
        now.year,
        "表单测试",
        now - timedelta(days=1),
        now + timedelta(days=3),
        2,
    )
    ent = login("factory")
    form = {"call_id": str(call.id), "title": "示范", "summary": "s", "metric": "上云企业数"}
    r = ent.post("/programme/demonstration/apply", {**form, "target_value": "-3", "due_on": "2019-01-01"})
    assert r.status_code == 422 and "target_value" in _errors(r.text)
    assert "目标值须为正数" in r.text and 'value="示范"' in r.text
    r2 = ent.post("/programme/demonstration/apply", {**form, "target_value": "3", "due_on": "2019-01-01"})
    assert r2.status_code == 422 and "due_on" in _errors(r2.text) and "不能早于今天" in r2.text
    due = (now + timedelta(days=200)).date().isoformat()
    assert ent.post("/programme/demonstration/apply", {**form, "target_value": "3", "due_on": due}).status_code == 303
    again = ent.post("/programme/demonstration/apply", {**form, "target_value": "3", "due_on": due})
    assert again.status_code == 409 and "贵机构已申报本次征集" in again.text
    assert db.get(DemoCall, call.id) is not None


def test_a_second_submission_of_a_create_form_creates_nothing_twice(db: Session, login: Any) -> None:
    """Double click, or Back and submit again: the repeat lands on what the first submission created."""
    rnd = make_round(db)
    prov = eligible_provider(db)
    ent = login("factory")
    page = ent.get(f"/programme/vouchers/new?round_id={rnd.id}")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {
        "form_token": token,
        "round_id": str(rnd.id),
        "provider_org_id": str(prov.id),
        "contract_no": "HT-ONCE-1",
        "contract_signed_on": "2019-06-01",
        "contract_amount": "10000",
        "cat0": "cloud_resources",
        "amt0": "10000",
    }
    first = ent.post("/programme/vouchers/new", form)
    second = ent.post("/programme/vouchers/new", form)
    assert first.status_code == second.status_code == 303
    assert second.headers["location"].split("?")[0] == first.headers["location"].split("?")[0]
    n = db.execute(select(func.count()).select_from(Voucher).where(Voucher.contract_no == "HT-ONCE-1")).scalar_one()
    assert n == 1


def test_redeeming_twice_says_it_is_already_redeemed(db: Session, login: Any) -> None:
    from tests.programme_workflows.helpers import claim

    rnd = make_round(db)
    factory = actor(db, "factory")
    v = claim(db, factory, rnd, eligible_provider(db), "10000")
    vouchers.act(db, factory, v.id, "submit")
    vouchers.act(db, actor(db, "provider"), v.id, "confirm_contract")
    ent = login("factory")
    files = {k: (f"{k}.pdf", PDF, "application/pdf") for k in ("invoice", "payment_proof", "acceptance_report")}
    data = {"actual_paid": "9500", "invoice_no": "FP-TWICE-1"}
    assert ent.post(f"/programme/vouchers/{v.id}/redeem", data, files=files).status_code == 303
    again = ent.post(f"/programme/vouchers/{v.id}/redeem", data, files=files)
    assert again.status_code == 409 and "区县审核" in again.text and "Internal Server Error" not in again.text


def test_action_form_keeps_the_note_and_names_the_missing_reference(db: Session, login: Any) -> None:
    from tests.programme_workflows.test_page_refusals import _in_city_review

    a = _in_city_review(db)
    city = login("city")
    r = city.post(f"/programme/subsidies/{a.id}/act", {"action": "city_reject", "note": ""})
    assert r.status_code == 422 and "note" in _errors(r.text)
    r2 = city.post(f"/programme/subsidies/{a.id}/act", {"action": "pay", "note": "备注保留"})
    assert r2.status_code == 409 and 'value="备注保留"' in r2.text
