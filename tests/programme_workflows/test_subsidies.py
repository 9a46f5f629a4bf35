"""Innovation subsidy (30 %, 500,000 yuan per enterprise over the programme) and the 200,000 yuan
certification reward (once per enterprise): amounts at and around every boundary, reasons, review chain."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.identity.models import Organisation
from chaoyun.programme.pack import get_pack
from chaoyun.programme.workflow_models import ExpertLink, SubsidyLedger
from chaoyun.programme.workflows import files, scoring, subsidies
from chaoyun.programme.workflows.workflow import IllegalTransition
from tests.programme_workflows.helpers import PDF, actor, admin_of, district_officer, rich_enterprises

D = Decimal
IN_PERIOD = date(2019, 8, 1)


def item(amount: str, category: str = "cloud_computing", on: date = IN_PERIOD) -> subsidies.CostIn:
    return subsidies.CostIn(category, "系统建设", D(amount), on)


def apply(db: Session, who: object, items: list[subsidies.CostIn]) -> object:
    data = subsidies.ApplicationIn("innovation", "工业互联网改造", items, [files.Upload("cost_evidence", "c.pdf", PDF)])
    return subsidies.create_application(db, who, data)  # type: ignore[arg-type]


def through_to_notice(db: Session, who: object, app_id: int) -> object:
    a = subsidies.act(db, who, app_id, "submit")  # type: ignore[arg-type]
    officer = district_officer(db, a.district)
    subsidies.act(db, officer, app_id, "accept")
    subsidies.act(db, officer, app_id, "district_pass")
    subsidies.score(db, actor(db, "expert"), app_id, {"technology": "35", "benefit": "25", "costs": "25"}, "好")
    return subsidies.act(db, actor(db, "city"), app_id, "city_pass")


def fresh_enterprise(db: Session) -> object:
    # An enterprise with an empty ledger, so the per-enterprise cap starts from zero.
    for org in rich_enterprises(db, 20):
        if db.get(SubsidyLedger, org.id) is None and not subsidies.list_applications(db, admin_of(db, org)):
            return admin_of(db, org)
    raise AssertionError("no fresh enterprise left")


def test_pack_numbers() -> None:
    s = get_pack().subsidies
    assert s.innovation.max_ratio == D("0.30")
    assert s.innovation.cap_per_enterprise == D("500000")
    assert s.certification_reward.amount == D("200000")


@pytest.mark.parametrize(
    ("eligible", "expected", "capped"),
    [
        ("1000000.00", "300000.00", False),  # exactly 30 %
        ("1000000.03", "300000.00", False),  # 300,000.009 rounds down to the fen
        ("1666666.66", "499999.99", False),  # just under the cap
        ("1666666.67", "500000.00", False),  # 500,000.001 → rounds down to exactly the cap
        ("1666670.00", "500000.00", True),  # 500,001 → capped at 500,000
    ],
)
def test_thirty_percent_and_cap(db: Session, eligible: str, expected: str, capped: bool) -> None:
    who = fresh_enterprise(db)
    comp = subsidies.compute(db, who.org_id, [item(eligible)])  # type: ignore[attr-defined]
    assert comp.amount == D(expected)
    assert bool(comp.cap_note) == capped


def test_excluded_items_have_reasons(db: Session) -> None:
    who = fresh_enterprise(db)
    a = apply(db, who, [item("100000"), item("50000", "production_equipment"), item("20000", on=date(2021, 3, 1))])
    reasons = {i.category + str(i.incurred_on.year): (i.eligible, i.excluded_reason) for i in a.items}  # type: ignore[attr-defined]
    assert reasons["cloud_computing2019"] == (True, "")
    assert reasons["production_equipment2019"][0] is False and "cloud" in reasons["production_equipment2019"][1]
    assert reasons["cloud_computing2021"] == (False, "Incurred outside the programme period.")
    assert a.eligible_total == D("100000.00") and a.computed_amount == D("30000.00")  # type: ignore[attr-defined]


@pytest.fixture()
def top_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A city whose pack allows later applications to top up to the cap (``top_up_allowed: true``)."""
    pack = get_pack()
    inno = pack.subsidies.innovation.model_copy(update={"top_up_allowed": True})
    patched = pack.model_copy(update={"subsidies": pack.subsidies.model_copy(update={"innovation": inno})})
    monkeypatch.setattr(subsidies, "get_pack", lambda: patched)


def test_pack_says_the_subsidy_is_one_time() -> None:
    assert get_pack().subsidies.innovation.top_up_allowed is False


def test_one_time_by_default_second_application_refused(db: Session) -> None:
    who = fresh_enterprise(db)
    assert subsidies.standing(db, who.org_id).one_time_refusal is None  # type: ignore[attr-defined]
    first = apply(db, who, [item("1000000")])  # 300,000: the first application gets its 30 %
    assert first.computed_amount == D("300000.00")  # type: ignore[attr-defined]
    # A second draft may be written while the first is a draft, but only one can be submitted.
    spare = apply(db, who, [item("100000")])
    through_to_notice(db, who, first.id)  # type: ignore[attr-defined]
    st = subsidies.standing(db, who.org_id)  # type: ignore[attr-defined]
    assert st.innovation_received == D("300000.00") and st.innovation_remaining == D("200000.00")
    assert st.one_time_refusal is not None
    # The already-paid (here: granted) enterprise is refused, not given the remainder up to 500,000.
    with pytest.raises(Conflict) as exc:
        apply(db, who, [item("1000000")])
    assert "一次性" in exc.value.messages()["zh"]
    assert subsidies.compute(db, who.org_id, [item("1000000")]).amount == 0  # type: ignore[attr-defined]
    with pytest.raises(Conflict):
        subsidies.act(db, who, spare.id, "submit")  # type: ignore[arg-type,attr-defined]


def test_one_time_second_submission_refused_while_first_in_review(db: Session) -> None:
    who = fresh_enterprise(db)
    a = apply(db, who, [item("100000")])
    b = apply(db, who, [item("100000")])
    subsidies.act(db, who, a.id, "submit")  # type: ignore[arg-type,attr-defined]
    with pytest.raises(Conflict):
        subsidies.act(db, who, b.id, "submit")  # type: ignore[arg-type,attr-defined]
    subsidies.act(db, who, a.id, "withdraw")  # type: ignore[arg-type,attr-defined]
    assert subsidies.act(db, who, b.id, "submit").state == "submitted"  # type: ignore[arg-type,attr-defined]


def test_top_up_allowed_gives_only_the_remainder_and_stops_at_the_cap(db: Session, top_up: None) -> None:
    who = fresh_enterprise(db)
    first = apply(db, who, [item("1333333.33")])  # 399,999.99
    through_to_notice(db, who, first.id)  # type: ignore[attr-defined]
    # A second application only gets what is left of 500,000: 100,000.01.
    second = apply(db, who, [item("1000000")])
    assert second.computed_amount == D("100000.01")  # type: ignore[attr-defined]
    assert "cap" in second.cap_note  # type: ignore[attr-defined]
    a2 = through_to_notice(db, who, second.id)  # type: ignore[attr-defined]
    assert a2.approved_amount == D("100000.01")  # type: ignore[attr-defined]
    assert db.get(SubsidyLedger, who.org_id).innovation_total == D("500000.00")  # type: ignore[attr-defined,union-attr]
    # The cap is exactly reached: 0 remains, and an application for 0 cannot be made.
    assert subsidies.standing(db, who.org_id).innovation_remaining == 0  # type: ignore[attr-defined]
    assert subsidies.compute(db, who.org_id, [item("10000")]).amount == 0  # type: ignore[attr-defined]
    with pytest.raises(Conflict) as exc:
        apply(db, who, [item("10000")])
    assert "上限" in exc.value.messages()["zh"]
    # Rejecting an application in notice gives its amount back to the cap.
    subsidies.act(db, actor(db, "city"), second.id, "city_reject", "异议成立")  # type: ignore[attr-defined]
    db.expire_all()
    assert db.get(SubsidyLedger, who.org_id).innovation_total == D("399999.99")  # type: ignore[attr-defined,union-attr]


def test_nothing_eligible_cannot_be_applied_for(db: Session) -> None:
    who = fresh_enterprise(db)
    with pytest.raises(Invalid):
        apply(db, who, [item("100000", "production_equipment")])


def test_certification_reward_once(db: Session) -> None:
    who = fresh_enterprise(db)

    def cert() -> object:
        data = subsidies.ApplicationIn(
            "certification",
            "两化融合贯标",
            [],
            [files.Upload("certificate", "c.png", b"\x89PNG\r\n\x1a\n...")],
            certificate_no=f"AA{secrets.token_hex(3)}",
            certificate_date=date(2019, 10, 1),
        )
        return subsidies.create_application(db, who, data)  # type: ignore[arg-type]

    a = cert()
    assert a.computed_amount == D("200000.00")  # type: ignore[attr-defined]
    with pytest.raises(Conflict):
        cert()
    subsidies.act(db, who, a.id, "submit")  # type: ignore[arg-type,attr-defined]
    officer = district_officer(db, a.district)  # type: ignore[attr-defined]
    subsidies.act(db, officer, a.id, "accept")  # type: ignore[attr-defined]
    subsidies.act(db, officer, a.id, "district_pass")  # type: ignore[attr-defined]
    city = actor(db, "city")
    a = subsidies.act(db, city, a.id, "city_pass")  # type: ignore[attr-defined]
    assert a.approved_amount == D("200000.00")  # type: ignore[attr-defined]
    with pytest.raises(Conflict):
        subsidies.act(db, city, a.id, "conclude_notice")  # type: ignore[attr-defined]
    subsidies.act(db, city, a.id, "conclude_notice", now=utcnow() + timedelta(days=6))  # type: ignore[attr-defined]
    with pytest.raises(Exception):  # noqa: B017 — disbursement needs its reference
        subsidies.act(db, city, a.id, "pay")  # type: ignore[attr-defined]
    paid = subsidies.act(db, city, a.id, "pay", reference="CZ-2019-88")  # type: ignore[attr-defined]
    assert paid.state == "paid" and paid.disbursement_ref == "CZ-2019-88"
    assert sum(r.amount for r in subsidies.spending_rows(db)) >= D("200000.00")
    assert db.get(SubsidyLedger, who.org_id).certification_count == 1  # type: ignore[attr-defined,union-attr]


def test_review_chain_is_enforced(db: Session) -> None:
    who = fresh_enterprise(db)
    a = apply(db, who, [item("100000")])
    city = actor(db, "city")
    with pytest.raises(NotFound):  # a draft is the enterprise's own: the city does not see it yet
        subsidies.act(db, city, a.id, "city_pass")  # type: ignore[attr-defined]
    subsidies.act(db, who, a.id, "submit")  # type: ignore[arg-type,attr-defined]
    with pytest.raises(IllegalTransition):
        subsidies.act(db, city, a.id, "city_pass")  # type: ignore[attr-defined]
    with pytest.raises(Forbidden):  # city cannot skip the district
        subsidies.act(db, city, a.id, "accept")  # type: ignore[attr-defined]
    officer = district_officer(db, a.district)  # type: ignore[attr-defined]
    subsidies.act(db, officer, a.id, "accept")  # type: ignore[attr-defined]
    subsidies.act(db, officer, a.id, "district_pass")  # type: ignore[attr-defined]
    with pytest.raises(Conflict):  # no expert score yet
        subsidies.act(db, city, a.id, "city_pass")  # type: ignore[attr-defined]


def test_conflicted_expert_cannot_score(db: Session) -> None:
    who = fresh_enterprise(db)
    a = apply(db, who, [item("100000")])
    subsidies.act(db, who, a.id, "submit")  # type: ignore[arg-type,attr-defined]
    officer = district_officer(db, a.district)  # type: ignore[attr-defined]
    subsidies.act(db, officer, a.id, "accept")  # type: ignore[attr-defined]
    subsidies.act(db, officer, a.id, "district_pass")  # type: ignore[attr-defined]
    expert = actor(db, "expert")
    org = db.get(Organisation, who.org_id)  # type: ignore[attr-defined]
    scoring.declare_link(db, expert, org.id, "曾任该企业技术顾问")  # type: ignore[union-attr]
    try:
        assert a not in subsidies.expert_queue(db, expert)
        with pytest.raises(Forbidden) as exc:
            subsidies.score(db, expert, a.id, {"technology": "30", "benefit": "20", "costs": "20"}, "")  # type: ignore[attr-defined]
        assert "利益冲突" in exc.value.messages()["zh"]
    finally:
        db.query(ExpertLink).filter(ExpertLink.org_id == who.org_id).delete()  # type: ignore[attr-defined]
        db.commit()
