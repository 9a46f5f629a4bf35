"""Monthly outcome snapshots: computed by the platform's own rules from real records, no row where there is no
data (never a zero), replaced when computed again."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.apps.oee.calendar import LOCAL
from chaoyun.programme import cloud_adoption as ca
from chaoyun.programme import diagnosis as dg
from chaoyun.programme.outcomes import service as outcomes
from chaoyun.programme.outcomes.models import OutcomeSnapshot
from chaoyun.web.app import background_tasks
from tests.programme.helpers import actor


def this_month() -> date:
    return outcomes.month_start(datetime.now(UTC).astimezone(LOCAL).date())


def test_programme_outcomes_follow_the_real_flows(db: Session) -> None:
    ent = actor(db, "factory")
    org_id = ent.org_id
    month, before = this_month(), outcomes.add_months(this_month(), -1)
    assert outcomes.snapshot_month(db, month, [org_id]) == 0  # nothing recorded yet: no rows, not zeros
    assert outcomes.latest(db, [org_id]) == {}

    # A diagnosis completed by the expert, a declaration verified by the district officer (stars by the pack).
    d = dg.start(db, ent)
    dg.submit(db, ent, d.id)
    dg.complete(db, actor(db, "expert"), d.id, "现场核实")
    a = ca.declare(
        db, ent, ca.AdoptionIn(areas=["office"], provider_name="汕头电信政企云", live_since=date(2026, 1, 5))
    )
    ca.verify(db, actor(db, "chenghai"), a.id, ["office"], "现场核实合同")
    db.refresh(d)
    db.refresh(a)

    assert outcomes.snapshot_month(db, month, [org_id]) == 2
    assert outcomes.snapshot_month(db, before, [org_id]) == 0  # both happened this month
    hist = outcomes.history(db, "digital_level", [org_id])
    assert hist == {org_id: {month: float(d.level)}}
    assert outcomes.history(db, "adoption_stars", [org_id]) == {org_id: {month: float(a.stars)}}
    latest = outcomes.latest(db, [org_id])[org_id]
    assert latest["digital_level"] == d.level and latest["adoption_stars"] == a.stars
    assert latest["oee"] is None and set(latest) == set(outcomes.OUTCOMES)

    # Computing a month again replaces its rows (no duplicates).
    outcomes.snapshot_month(db, month, [org_id])
    n = db.execute(
        select(func.count()).select_from(OutcomeSnapshot).where(OutcomeSnapshot.org_id == org_id)
    ).scalar_one()
    assert n == 2


def test_future_months_unknown_outcomes_and_the_background_job(db: Session) -> None:
    assert outcomes.snapshot_month(db, outcomes.add_months(this_month(), 1)) == 0
    with pytest.raises(ValueError):
        outcomes.history(db, "happiness")
    assert outcomes.months_between(date(2025, 11, 20), date(2026, 2, 1)) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert outcomes.add_months(date(2026, 1, 1), -13) == date(2024, 12, 1)
    # The programme's background task is discovered by file name, like every context's.
    names = {job.__name__ for job in background_tasks()}
    assert "outcome_snapshots" in names
    assert outcomes.refresh_recent(db) >= 0
