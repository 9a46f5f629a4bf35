"""Cloud adoption: the state machine, audit, scope, star rating, and the counted rule."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.identity.models import AuditEntry, Organisation
from chaoyun.programme import cloud_adoption as ca
from chaoyun.programme.evidence import OrgEvidence
from chaoyun.programme.models import CloudAdoption
from chaoyun.programme.pack import get_pack
from tests.programme.helpers import actor


def _declare(db: Session, username: str = "factory", areas: list[str] | None = None) -> CloudAdoption:
    data = ca.AdoptionIn(
        areas=areas or ["office", "marketing"], provider_name="汕头电信政企云", live_since=date(2019, 3, 1)
    )
    return ca.declare(db, actor(db, username), data)


def _audits(db: Session, a: CloudAdoption) -> list[str]:
    db.expire_all()
    return list(
        db.execute(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "cloud_adoption", AuditEntry.object_id == str(a.id))
            .order_by(AuditEntry.id)
        ).scalars()
    )


def test_declare_verify_count_each_step_audited(db: Session) -> None:
    a = _declare(db)
    assert a.status == "declared" and a.areas == {"office": None, "marketing": None}
    officer = actor(db, "chenghai")
    ca.verify(db, officer, a.id, ["office"], "现场核实合同")
    assert a.status == "verified"
    # The unevidenced area is dropped; the officer-checked one is kept and marked so.
    assert a.areas == {"office": "officer"}
    assert a.stars == 3  # cloud services, no devices or monitoring on record
    ca.count(db, actor(db, "city"), a.id)
    assert a.status == "counted" and a.counted_year == 2019
    assert _audits(db, a) == ["adoption.declare", "adoption.verify", "adoption.count"]


def test_illegal_transitions_are_refused_clearly(db: Session) -> None:
    a = _declare(db)
    city = actor(db, "city")
    with pytest.raises(Conflict) as exc:
        ca.count(db, city, a.id)  # declared → counted skips verification
    assert "declared" in exc.value.message() or "已申报" in exc.value.message()
    assert exc.value.messages()["en"] == "A declaration that is declared cannot be made counted."
    ca.verify(db, actor(db, "chenghai"), a.id, ["office"])
    with pytest.raises(Conflict):
        ca.verify(db, actor(db, "chenghai"), a.id, ["office"])
    with pytest.raises(Conflict):
        ca.reject(db, actor(db, "chenghai"), a.id, "太迟了")
    ca.count(db, city, a.id, 2020)
    with pytest.raises(Conflict):
        ca.count(db, city, a.id, 2020)
    assert _audits(db, a) == ["adoption.declare", "adoption.verify", "adoption.count"]


def test_reject_needs_reason_and_can_be_resubmitted(db: Session) -> None:
    a = _declare(db)
    officer = actor(db, "chenghai")
    with pytest.raises(Invalid):
        ca.reject(db, officer, a.id, "  ")
    ca.reject(db, officer, a.id, "合同不清晰")
    assert a.status == "rejected" and a.decision_reason == "合同不清晰"
    ca.resubmit(db, actor(db, "factory"), a.id)
    assert a.status == "declared"


def test_verify_needs_some_evidence(db: Session) -> None:
    a = _declare(db)
    with pytest.raises(Invalid):
        ca.verify(db, actor(db, "chenghai"), a.id, [])
    assert a.status == "declared"


def test_other_district_and_other_enterprise_cannot_reach_it(db: Session) -> None:
    a = _declare(db)
    with pytest.raises(NotFound):
        ca.verify(db, actor(db, "chaonan"), a.id, ["office"])
    with pytest.raises(NotFound):
        ca.get(db, actor(db, "factory2"), a.id)
    assert ca.get(db, actor(db, "operator"), a.id).id == a.id


def test_count_year_bounds(db: Session) -> None:
    a = _declare(db)
    ca.verify(db, actor(db, "chenghai"), a.id, ["office"])
    with pytest.raises(Invalid):
        ca.count(db, actor(db, "city"), a.id, 2018)  # before it went live (2019)
    with pytest.raises(Invalid):
        ca.count(db, actor(db, "city"), a.id, date.today().year + 1)
    ca.count(db, actor(db, "city"), a.id, 2019)


def test_bad_declarations(db: Session) -> None:
    fa = actor(db, "factory")
    with pytest.raises(Invalid):
        ca.declare(db, fa, ca.AdoptionIn(areas=[], provider_name="x", live_since=date(2019, 1, 1)))
    with pytest.raises(Invalid):
        ca.declare(db, fa, ca.AdoptionIn(areas=["moon_base"], provider_name="x", live_since=date(2019, 1, 1)))
    with pytest.raises(Invalid):
        ca.declare(db, fa, ca.AdoptionIn(areas=["office"], provider_name=" ", live_since=date(2019, 1, 1)))


@pytest.mark.parametrize(
    "ev, areas, stars",
    [
        (OrgEvidence(), 0, None),
        (OrgEvidence(), 1, 3),
        (OrgEvidence(devices_reporting=2), 1, 3),  # devices but no monitoring
        (OrgEvidence(devices_reporting=2, alarm_rules_active=1), 1, 4),
        (OrgEvidence(devices_reporting=0, alarm_rules_active=1, data_model_apps={"m"}), 1, 3),
        (OrgEvidence(devices_reporting=2, alarm_rules_active=1, data_model_apps={"spc"}), 2, 5),
    ],
)
def test_star_rating(ev: OrgEvidence, areas: int, stars: int | None) -> None:
    assert ca.star_rating(get_pack().cloud_adoption, areas, ev) == stars


def test_corroboration_from_platform_records() -> None:
    ev = OrgEvidence(devices_available=True, devices_reporting=3, metrics={"energy_kwh"}, apps_used={"oee"})
    out = ca.corroborate({"equipment": None, "energy": None, "office": "officer", "marketing": None}, ev)
    assert out == {"equipment": "devices", "energy": "devices", "office": "officer", "marketing": None}


def test_counted_rule_counts_each_enterprise_once_by_first_year(db: Session) -> None:
    before = {y: ca.counted_rule(db, y, "chenghai", None).value for y in (2018, 2019, 2020)}
    city, officer = actor(db, "city"), actor(db, "chenghai")
    for year in (2020, 2019):  # the same enterprise twice: counts once, in 2019
        a = _declare(db, "factory2")
        ca.verify(db, officer, a.id, ["office"])
        ca.count(db, city, a.id, year)
    org2 = actor(db, "factory2").org_id
    first = db.execute(
        select(func.min(CloudAdoption.counted_year)).where(
            CloudAdoption.org_id == org2, CloudAdoption.status == "counted"
        )
    ).scalar_one()
    after = {y: ca.counted_rule(db, y, "chenghai", None) for y in (2018, 2019, 2020)}
    assert org2 in after[2019].enterprise_ids  # type: ignore[operator]
    assert first == 2019
    # The rule equals a direct count of enterprises with a counted declaration.
    for y in (2018, 2019, 2020):
        direct = db.execute(
            select(func.count(func.distinct(CloudAdoption.org_id)))
            .join(Organisation, Organisation.id == CloudAdoption.org_id)
            .where(
                CloudAdoption.status == "counted",
                CloudAdoption.counted_year <= y,
                Organisation.district == "chenghai",
            )
        ).scalar_one()
        assert after[y].value == direct
    assert after[2020].value >= before[2020]


def test_adoption_pages(login: Any, db: Session) -> None:
    ent = login("factory")
    r = ent.post(
        "/programme/adoptions",
        data={"areas": ["office", "rd_design"], "provider_name": "粤东工业互联网平台", "live_since": "2020-04-01"},
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"].split("?")[0]
    page = ent.get(url)
    assert page.status_code == 200 and "粤东工业互联网平台" in page.text
    bad = ent.post("/programme/adoptions", data={"provider_name": "x", "live_since": "2020-04-01"})
    assert bad.status_code == 422 and "至少" in bad.text
    officer = login("chenghai")
    r = officer.post(url + "/verify", data={"officer_checked": "office"})
    assert r.status_code == 303
    r = officer.post(url + "/count", data={"year": "2020"})
    assert r.status_code == 403  # district officers verify; the city counts
    city = login("city")
    assert city.post(url + "/count", data={"year": "2020"}).status_code == 303
    again = city.post(url + "/count", data={"year": "2020"})
    assert again.status_code == 409
    assert login("evaluator").get(url).status_code == 200
    assert login("evaluator").post(url + "/verify", data={"officer_checked": "office"}).status_code == 403
