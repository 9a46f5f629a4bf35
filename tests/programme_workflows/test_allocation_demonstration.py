"""Shared-service allocation (倍增优先、先到先得、分行业实施) and demonstration selection with conflict exclusion."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden
from chaoyun.identity.models import EnterpriseProfile, Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.programme.workflows import allocation, demonstration
from chaoyun.programme.workflows.workflow import IllegalTransition
from tests.programme_workflows.helpers import actor, admin_of, district_officer

D = Decimal


def _toy_firms(db: Session, n: int) -> list[Organisation]:
    rows = (
        db.execute(
            select(Organisation)
            .join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
            .where(EnterpriseProfile.cluster == "toys")
            .order_by(Organisation.id)
        )
        .unique()
        .scalars()
    )
    out = list(rows)[:n]
    assert len(out) == n
    return out


def test_doubling_first_then_time_per_industry_and_waiting_list(db: Session) -> None:
    city = actor(db, "city")
    s = allocation.create_service(db, city, "云MES共享服务", "production_control", 2019, {"toys": 2, "food": 1}, None)
    firms = _toy_firms(db, 4)
    # Make the *last* applicant the only doubling enterprise of the four (restored afterwards).
    profiles = [db.get(EnterpriseProfile, f.id) for f in firms]
    assert all(p is not None for p in profiles)
    old = [p.is_doubling for p in profiles if p is not None]
    for p, doubling in zip(profiles, (False, False, False, True), strict=True):
        assert p is not None
        p.is_doubling = doubling
    db.commit()
    try:
        t0 = utcnow()
        apps = [allocation.apply(db, admin_of(db, f), s.id, now=t0 + timedelta(minutes=i)) for i, f in enumerate(firms)]
        assert all(a.state == "waiting" for a in apps)
        allocation.run_allocation(db, city, s.id)
        db.expire_all()
        states = [allocation.get_application(db, city, a.id).state for a in apps]
        # Doubling firm (applied last) and the first applicant get the two toy seats.
        assert states == ["allocated", "waiting", "waiting", "allocated"]
        second = allocation.get_application(db, city, apps[1].id)
        assert "候补第1位" in allocation.explanation_for(second, "zh_CN")
        assert "Waiting list place 1" in allocation.explanation_for(second, "en")
        # A released seat moves the waiting list up, in order.
        allocation.release(db, admin_of(db, firms[0]), apps[0].id)
        db.expire_all()
        assert allocation.get_application(db, city, apps[1].id).state == "allocated"
        assert allocation.get_application(db, city, apps[2].id).state == "waiting"
        with pytest.raises(IllegalTransition):
            allocation.release(db, admin_of(db, firms[0]), apps[0].id)
        with pytest.raises(Conflict):
            allocation.run_allocation(db, city, s.id)
    finally:
        for p, doubling in zip(profiles, old, strict=True):
            assert p is not None
            p.is_doubling = doubling
        db.commit()


def test_allocation_is_deterministic() -> None:
    from types import SimpleNamespace

    t = utcnow()
    rows = [
        SimpleNamespace(is_doubling=d, applied_at=t + timedelta(seconds=s), id=i)
        for i, (d, s) in enumerate([(False, 0), (True, 5), (False, 0), (True, 5)], start=1)
    ]
    order = [r.id for r in sorted(rows, key=allocation.queue_key)]  # type: ignore[arg-type]
    assert order == [2, 4, 1, 3]


def _expert(db: Session, linked_org: Organisation | None = None) -> Actor:
    city = actor(db, "city").org
    u = User(username=f"wf_expert_{secrets.token_hex(3)}", display_name="专家")
    db.add(u)
    db.flush()
    m = Membership(user_id=u.id, org_id=city.id, role="expert")
    db.add(m)
    if linked_org is not None:
        db.add(Membership(user_id=u.id, org_id=linked_org.id, role="enterprise_member"))
    db.commit()
    return Actor(user=u, membership=m)


def test_demonstration_selection_ranking_conflicts_and_targets(db: Session) -> None:
    city = actor(db, "city")
    now = utcnow()
    call = demonstration.create_call(
        db,
        city,
        "benchmark_project",
        now.year,
        "标杆示范项目征集",
        now - timedelta(days=1),
        now + timedelta(days=1),
        slots=2,
    )
    firms = _toy_firms(db, 3)
    apps = []
    for f in firms:
        who = admin_of(db, f)
        a = demonstration.apply(
            db,
            who,
            call.id,
            f"{f.name}标杆项目",
            "带动上下游",
            [demonstration.MilestoneIn("带动企业上云", "带动企业上云数", D("30"), date(now.year + 1, 12, 31))],
        )
        demonstration.act(db, who, a.id, "submit")
        officer = district_officer(db, a.district)
        demonstration.act(db, officer, a.id, "accept")
        demonstration.act(db, officer, a.id, "district_pass")
        apps.append(a)
    with pytest.raises(Conflict):  # the call is still open
        demonstration.rank_call(db, city, call.id)
    # An expert who is a member of firm 0 never scores it, nor sees it in the queue.
    conflicted = _expert(db, linked_org=firms[0])
    assert apps[0].id not in {a.id for a in demonstration.expert_queue(db, conflicted)}
    with pytest.raises(Forbidden):
        demonstration.score(
            db,
            conflicted,
            apps[0].id,
            {"innovation": "30", "demonstration": "30", "benefit": "20", "feasibility": "20"},
            "",
        )
    e1, e2 = _expert(db), _expert(db)
    marks = {0: ("25", "25", "15", "15"), 1: ("28", "28", "18", "18"), 2: ("10", "10", "10", "10")}
    for i, a in enumerate(apps):
        for e in (e1, e2):
            w = dict(zip(("innovation", "demonstration", "benefit", "feasibility"), marks[i], strict=True))
            demonstration.score(db, e, a.id, w, "")
    ordered = demonstration.rank_call(db, city, call.id, now=now + timedelta(days=2))
    assert [a.id for a in ordered] == [apps[1].id, apps[0].id, apps[2].id]
    db.expire_all()
    states = [demonstration.get_application(db, city, a.id).state for a in apps]
    assert states == ["public_notice", "public_notice", "rejected"]  # third is below the pass score of 60
    for a in apps[:2]:
        demonstration.act(db, city, a.id, "conclude_notice", now=now + timedelta(days=10))
    n, ids = demonstration.selected_count(db, "benchmark_project", now.year, None, None)
    assert n >= 2 and firms[1].id in ids
    from chaoyun.programme.targets import evaluate

    assert evaluate(db, "demonstration.benchmark_projects", now.year).value >= 2
    # Milestones of selected projects are tracked.
    m = demonstration.get_application(db, city, apps[1].id).milestones[0]
    demonstration.update_milestone(db, admin_of(db, firms[1]), m.id, "31")
    db.refresh(m)
    assert m.actual_value == D("31.00")
