"""The security demo: an inspection of Chenghai's toy makers by the real rules (scores and findings from the engine,
escalation by the overdue rule), idempotent; incidents from the intrusion detector's alerts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.security import demo, engine, service
from chaoyun.security.ids import service as ids_service
from chaoyun.security.models import Campaign, Finding, Inspection
from tests.security.conftest import actor_of


def test_demo_inspection_by_the_rules(db: Session) -> None:
    out = demo.seed(db)
    assert out["self_checks"] >= 2 and out["onsite"] >= 1 and out["findings"] >= 1, out
    assert demo.seed(db) == {"campaigns": 0}  # idempotent
    c = db.execute(select(Campaign).where(Campaign.name.like("%澄海区玩具行业%"))).scalars().one()
    ck = service.checklist_of(c)
    for i in db.execute(select(Inspection).where(Inspection.campaign_id == c.id)).scalars():
        if i.status != "inspected":
            continue
        answered = {k: v["answer"] for k, v in i.onsite_answers.items()}
        r = engine.score_answers(ck, answered)
        assert i.onsite_score == r.score
        fs = db.execute(select(Finding).where(Finding.inspection_id == i.id)).scalars().all()
        assert {f.item_code for f in fs} == {g.item.code for g in r.gaps}
    states = {i.status for i in db.execute(select(Inspection).where(Inspection.campaign_id == c.id)).scalars()}
    assert "inspected" in states and "self_checked" in states
    rows = service.risk_rows(db, actor_of(db, "city"), c.id)
    assert any(r.risk_score is not None for r in rows)


def test_demo_incidents_from_ids_alerts(db: Session) -> None:
    factory = actor_of(db, "factory")
    now = datetime.now(UTC)
    ids_service.store_alerts(
        db,
        factory.org_id,
        [
            {
                "rule": "modbus_write_rate",
                "src": "192.168.10.66",
                "dst": "192.168.10.21",
                "frames": [5],
                "first_ts": now.timestamp() - 3600,
            }
        ],
        source="demo-test",
    )
    out = demo.seed_incidents(db, now)
    assert out["incidents"] >= 1
    assert demo.seed_incidents(db, now)["incidents"] == out["incidents"]
