"""The annual inspection: campaign → self-check with evidence → on-site check → findings by the engine →
escalation of overdue findings → rectification and re-check; risk scores and the heat map; scope."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.identity.models import AuditEntry
from chaoyun.security import engine, files, service
from chaoyun.security.models import Finding, Inspection
from tests.security.conftest import PDF

ALL_YES = {i.code: "yes" for i in engine.load("enterprise_ics").items}


def _campaign(db: Session, city: Any, factory: Any, factory2: Any) -> Any:
    return service.create_campaign(
        db,
        city,
        2026,
        "2026 年玩具行业工控安全检查",
        ["toys"],
        date(2026, 12, 31),
        org_ids=[factory.org_id, factory2.org_id],
    )


def _insp(db: Session, campaign_id: int, org_id: int) -> Inspection:
    return db.execute(
        select(Inspection).where(Inspection.campaign_id == campaign_id, Inspection.org_id == org_id)
    ).scalar_one()


def test_whole_journey(db: Session, city: Any, chenghai: Any, chaonan: Any, factory: Any, factory2: Any) -> None:
    c = _campaign(db, city, factory, factory2)
    mine = _insp(db, c.id, factory.org_id)
    # Others' inspections answer 404: another enterprise, another district's officer.
    with pytest.raises(NotFound):
        service.get_inspection(db, factory2, mine.id)
    with pytest.raises(NotFound):
        service.get_inspection(db, chaonan, mine.id)
    assert service.get_inspection(db, chenghai, mine.id).id == mine.id

    # A draft keeps partial answers; submitting needs all and evidence for high-risk "met" items.
    service.save_self_check(db, factory, mine.id, {"E-DEV-1": "yes"}, {}, submit=False)
    with pytest.raises(Invalid) as err:
        service.save_self_check(db, factory, mine.id, {}, {}, submit=True)
    assert err.value.field and err.value.field.startswith("answer_")
    with pytest.raises(Invalid) as err:
        service.save_self_check(db, factory, mine.id, {"E-DEV-1": "maybe"}, {}, submit=False)
    assert err.value.field == "answer_E-DEV-1"
    with pytest.raises(Invalid) as err:
        service.save_self_check(db, factory, mine.id, ALL_YES, {}, submit=True)
    assert "E-DEV-1" in str(err.value.params.get("codes", ""))
    with pytest.raises(Invalid):
        service.add_evidence(db, factory, mine.id, "E-DEV-1", files.Upload("x.exe", b"MZ..."))
    high = [i.code for i in engine.load("enterprise_ics").items if i.risk == "high"]
    for code in high:
        service.add_evidence(db, factory, mine.id, code, files.Upload(f"{code}.pdf", PDF))
    i = service.save_self_check(db, factory, mine.id, ALL_YES, {}, submit=True)
    assert i.status == "self_checked" and i.self_score == 100.0

    # On site the inspector finds otherwise: the engine makes the findings.
    onsite = dict(ALL_YES) | {"E-CTL-1": "no", "E-NET-3": "partial", "E-DAT-1": "na"}
    with pytest.raises(NotFound):
        service.record_onsite(db, chaonan, mine.id, onsite, {}, conclude=True)
    i = service.record_onsite(
        db,
        chenghai,
        mine.id,
        onsite,
        {"E-CTL-1": "办公网与控制网同一网段"},
        conclude=True,
        inspected_on=date(2026, 6, 1),
    )
    assert i.status == "inspected" and i.onsite_score is not None and i.onsite_score < 100
    fs = {f.item_code: f for f in service.findings(db, chenghai, inspection_id=mine.id)}
    assert set(fs) == {"E-CTL-1", "E-NET-3"}
    assert fs["E-CTL-1"].risk == "high" and fs["E-NET-3"].risk == "medium"  # partly met: one level lower
    assert service.open_high_findings_count(db, factory) >= 1 and service.open_high_findings_count(db, factory2) == 0
    assert fs["E-CTL-1"].deadline == date(2026, 7, 1) and fs["E-CTL-1"].description == "办公网与控制网同一网段"
    with pytest.raises(Conflict):
        service.record_onsite(db, chenghai, mine.id, onsite, {}, conclude=True)

    # Risk score: open findings' weights × risk factor.
    rows = {r.org_id: r for r in service.risk_rows(db, city, c.id)}
    ck = engine.load("enterprise_ics")
    expect = round(100 * (ck.by_code["E-CTL-1"].weight * 1.0 + ck.by_code["E-NET-3"].weight * 0.6) / 100, 1)
    assert rows[factory.org_id].risk_score == expect
    assert rows[factory2.org_id].risk_score is None  # not checked yet
    heat = service.heatmap(list(rows.values()))
    assert any(h.district == "chenghai" and h.cluster == "toys" and h.assessed >= 1 for h in heat)
    # The district officer's rows are their district only.
    assert all(r.district == "chenghai" for r in service.risk_rows(db, chenghai, c.id))
    # A campaign without an enterprise of the officer's district is not theirs to see.
    with pytest.raises(NotFound):
        service.risk_rows(db, chaonan, c.id)

    # Overdue: district first, the city CITY_AFTER_DAYS later; idempotent.
    f = fs["E-CTL-1"]
    assert service.escalate_overdue(db, f.deadline) == (0, 0)
    assert service.escalate_overdue(db, f.deadline + timedelta(days=1))[0] >= 1
    db.refresh(f)
    assert f.escalation == "district"
    late = f.deadline + timedelta(days=service.CITY_AFTER_DAYS + 1)
    assert service.escalate_overdue(db, late)[1] >= 1
    db.refresh(f)
    assert f.escalation == "city"
    assert service.escalate_overdue(db, late) == (0, 0)
    assert (
        db.execute(
            select(AuditEntry).where(
                AuditEntry.action == "security_finding.escalate", AuditEntry.object_id == str(f.id)
            )
        )
        .scalars()
        .all()
    )

    # Rectify (the enterprise) and re-check (the district): failed reopens, passed closes.
    with pytest.raises(NotFound):
        service.rectify(db, factory2, f.id, "已整改")
    service.rectify(db, factory, f.id, "控制网单独划分 VLAN 并加装工业防火墙")
    with pytest.raises(Invalid):
        service.recheck(db, chenghai, f.id, False, "")
    service.recheck(db, chenghai, f.id, False, "防火墙策略未生效", new_deadline=date(2026, 8, 1))
    db.refresh(f)
    assert f.status == "open"
    service.rectify(db, factory, f.id, "策略已生效")
    service.recheck(db, chenghai, f.id, True, "复查通过")
    db.refresh(f)
    assert f.status == "closed" and f.closed_at is not None
    rows = {r.org_id: r for r in service.risk_rows(db, city, c.id)}
    assert rows[factory.org_id].risk_score == round(100 * ck.by_code["E-NET-3"].weight * 0.6 / 100, 1)


def test_campaign_needs_industries_and_sees_only_own(db: Session, city: Any, factory: Any, factory2: Any) -> None:
    with pytest.raises(Invalid) as err:
        service.create_campaign(db, city, 2026, "x", [], date(2026, 12, 31))
    assert err.value.field == "clusters"
    with pytest.raises(Invalid):
        service.create_campaign(db, city, 2026, " ", ["toys"], date(2026, 12, 31))
    c = service.create_campaign(db, city, 2026, "玩具行业全覆盖", ["toys"], date(2026, 12, 31))
    n = len(service.inspections(db, city, c.id))
    assert n >= 2  # every active toy maker
    assert [i.org_id for i in service.inspections(db, factory, c.id)] == [factory.org_id]
    assert {x.id for x in service.list_campaigns(db, factory)} >= {c.id}
    assert db.execute(select(Finding).where(Finding.inspection_id == -1)).first() is None


def test_whitelist_checklist_is_the_engines(db: Session) -> None:
    from chaoyun.marketplace import reference

    ck = engine.load("provider_whitelist")
    assert ck.items == reference.CHECKLIST and sum(i.weight for i in ck.items) == 100
    # Every item of every checklist names at least one source; clause numbers only where our reference gives one.
    for key in engine.checklist_keys():
        for item in engine.load(key).items:
            assert item.sources, item.code
            for s in item.sources:
                if s.std.startswith("GB/T 22239"):
                    assert s.clause is None and "title only" in str(s)
    with pytest.raises(Invalid) as err:
        engine.parse_points(ck, {"DEV-1": "9"})
    assert err.value.field == "score_DEV-1"
    pts = engine.parse_points(ck, {"DEV-1": "8", "DEV-2": " ", "NET-1": "3"})
    assert pts == {"DEV-1": 8, "NET-1": 3}
    assert engine.points_total(ck, pts) == 11.0 and len(engine.unscored(ck, pts)) == len(ck.items) - 2
