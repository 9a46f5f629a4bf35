"""Drafts are private: only the enterprise (or applying organisation) sees its draft vouchers, subsidy and
demonstration applications; the provider, district and city officers and experts see them once submitted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import NotFound
from chaoyun.programme.workflows import demonstration, subsidies, vouchers
from tests.programme_workflows.helpers import D, actor, admin_of, claim, district_officer, eligible_provider, make_round
from tests.programme_workflows.test_subsidies import apply, fresh_enterprise, item

OTHERS = ("provider", "city", "expert", "evaluator", "district")


def _other(db: Session, role: str, district: str | None) -> Any:
    return district_officer(db, district) if role == "district" else actor(db, role)


def test_draft_voucher_only_the_enterprise_sees(db: Session, login: Any) -> None:
    prov = eligible_provider(db)
    ent = fresh_enterprise(db)
    rnd = make_round(db)
    v = claim(db, ent, rnd, prov, "10000")  # type: ignore[arg-type]
    assert vouchers.get_voucher(db, ent, v.id).id == v.id  # type: ignore[arg-type]
    for role in OTHERS:
        who = _other(db, role, v.district)
        with pytest.raises(NotFound):
            vouchers.get_voucher(db, who, v.id)
        assert v.id not in {x.id for x in vouchers.list_vouchers(db, who)}, role
    assert vouchers.round_summary(db, rnd.id) == {}
    for username in ("provider", "city", "expert"):
        assert login(username).get(f"/programme/vouchers/{v.id}").status_code == 404, username
    city_round = login("city").get(f"/gov/programme/voucher-rounds/{rnd.id}")
    assert f'/programme/vouchers/{v.id}"' not in city_round.text
    vouchers.act(db, ent, v.id, "submit")  # type: ignore[arg-type]
    for role in OTHERS:
        if role in ("provider", "city", "expert", "evaluator") or v.district:
            assert vouchers.get_voucher(db, _other(db, role, v.district), v.id).id == v.id


def test_draft_subsidy_only_the_enterprise_sees(db: Session, login: Any) -> None:
    who = fresh_enterprise(db)
    a = apply(db, who, [item("100000")])
    for role in OTHERS:
        other = _other(db, role, a.district)  # type: ignore[attr-defined]
        with pytest.raises(NotFound):
            subsidies.get_application(db, other, a.id)  # type: ignore[attr-defined]
        assert a.id not in {x.id for x in subsidies.list_applications(db, other)}, role  # type: ignore[attr-defined]
    assert login("city").get(f"/programme/subsidies/{a.id}").status_code == 404  # type: ignore[attr-defined]
    assert login("expert").get(f"/programme/subsidies/{a.id}").status_code == 404  # type: ignore[attr-defined]
    subsidies.act(db, who, a.id, "submit")  # type: ignore[arg-type,attr-defined]
    assert subsidies.get_application(db, actor(db, "city"), a.id).id == a.id  # type: ignore[attr-defined]


def test_draft_demonstration_application_only_the_applicant_sees(db: Session) -> None:
    now = utcnow()
    call = demonstration.create_call(
        db,
        actor(db, "city"),
        "benchmark_project",
        now.year,
        "草稿可见性",
        now - timedelta(days=1),
        now + timedelta(days=2),
        1,
    )
    who = fresh_enterprise(db)
    ms = [demonstration.MilestoneIn("上云", "上云企业数", D("10"), (now + timedelta(days=300)).date())]
    a = demonstration.apply(db, who, call.id, "示范项目", "说明", ms)  # type: ignore[arg-type]
    for role in OTHERS:
        other = _other(db, role, a.district)
        with pytest.raises(NotFound):
            demonstration.get_application(db, other, a.id)
        assert a.id not in {x.id for x in demonstration.list_applications(db, other)}, role
    assert a.id in {x.id for x in demonstration.list_applications(db, admin_of(db, db.get(type(who.org), who.org_id)))}  # type: ignore[attr-defined]
