"""The demo claims only what the platform computes: adoption stars and evidence come from the real rules
over simulated activity (machines that report, people who use the apps), never from random draws."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.models import AppUse
from chaoyun.identity.models import Organisation
from chaoyun.programme import demo as programme_demo
from chaoyun.programme import evidence
from chaoyun.programme.cloud_adoption import star_rating
from chaoyun.programme.evidence import OrgEvidence
from chaoyun.programme.models import CloudAdoption
from chaoyun.programme.pack import get_pack
from chaoyun.simulator import people, runner


def _seed(db: Session) -> None:
    """The contexts' demo seeding, as ``chaoyun demo`` runs it after identity's (this file has its own database)."""
    from chaoyun.devices import demo as devices_demo

    devices_demo.seed(db)
    programme_demo.seed(db)


def test_historical_adoptions_are_officer_checked_with_computed_stars(db: Session) -> None:
    _seed(db)
    rules = get_pack().cloud_adoption
    rows = db.execute(select(CloudAdoption).where(CloudAdoption.status == "counted")).scalars().all()
    assert rows, "the demo seeds counted adoptions"
    for a in rows:
        assert set(a.areas.values()) == {"officer"}, a.areas
        assert a.stars == star_rating(rules, len(a.areas), OrgEvidence())


def test_simulated_factories_are_verified_from_their_real_use(db: Session) -> None:
    _seed(db)
    devs = runner.load_devices(db)
    orgs = runner.device_orgs(db, [d.id for d in devs])
    chenghai = [
        o
        for o in db.execute(
            select(Organisation.id).where(Organisation.id.in_(orgs), Organisation.district == "chenghai")
        ).scalars()
    ]
    assert len(chenghai) >= 3, "the test cluster has simulated factories in Chenghai"
    runner.backfill(runner.InProcess(), devs, 1.0, 300.0, datetime.now(UTC))

    uses = people.simulate_app_use(db, orgs, days=7)
    assert uses > 0
    assert db.execute(select(AppUse.id).where(AppUse.org_id.in_(orgs))).first() is not None
    assert people.simulate_app_use(db, orgs, days=7) == 0  # the same routine is not recorded twice

    result = programme_demo.adoptions_from_use(db, orgs)
    assert result["declared"] >= len(chenghai)
    rules = get_pack().cloud_adoption
    year_start = date(date.today().year, 1, 1)
    current = db.execute(
        select(CloudAdoption, Organisation.district)
        .join(Organisation, Organisation.id == CloudAdoption.org_id)
        .where(CloudAdoption.org_id.in_(orgs), CloudAdoption.live_since >= year_start)
    ).all()
    verified = [a for a, _ in current if a.status == "verified"]
    left = [a for a, d in current if a.status == "declared" and d == "chenghai"]
    assert verified and len(left) == programme_demo.LEFT_FOR_OFFICER  # the officer's to-do on first login
    for a in verified:
        assert set(a.areas.values()) <= {"devices", "apps"}
        ev = evidence.for_org(db, a.org_id)
        assert a.evidence["devices_reporting"] >= 1
        assert a.stars == star_rating(rules, len(a.areas), ev)
    # Idempotent: a second run declares nothing new.
    assert programme_demo.adoptions_from_use(db, orgs)["declared"] == 0
