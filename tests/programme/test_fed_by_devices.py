"""The programme fed by the factory side: a device that really sends data corroborates a cloud-adoption
area and pre-fills a diagnosis as evidenced."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy.orm import Session

from chaoyun.devices import ingest as devices_ingest
from chaoyun.identity.models import Organisation
from chaoyun.programme import cloud_adoption as ca
from chaoyun.programme import diagnosis as dg
from chaoyun.programme.models import CloudAdoption, Diagnosis
from tests.devices import helpers as devices_helpers
from tests.programme.helpers import actor


def _quiet_enterprise(db: Session) -> Organisation:
    """A new active Chenghai toy maker with no device yet (the shared test data may give every firm devices)."""
    from decimal import Decimal

    from chaoyun.identity.models import EnterpriseProfile
    from tests.factories import credit_code

    org = Organisation(
        kind="enterprise", credit_code=credit_code(), name="汕头市澄海区无设备测试玩具厂", status="active",
        district="chenghai",
    )
    org.enterprise = EnterpriseProfile(
        industry_code="C2452", cluster="toys", employees=30, annual_revenue=Decimal("800"), size_class="small"
    )
    db.add(org)
    db.commit()
    return org


def test_device_data_corroborates_and_prefills(db: Session) -> None:
    org = _quiet_enterprise(db)
    device, _ = devices_helpers.make_device(db, org)
    now = int(time.time() * 1000)
    result = devices_ingest.ingest(db, device, {"ts": now, "values": {"barrel_temp": 210, "mould_temp": 55}}, "test")
    assert result.accepted == 2

    a = CloudAdoption(
        org_id=org.id,
        status="declared",
        areas={"equipment": None, "marketing": None},
        provider_name="潮汕智造云",
        live_since=date(2020, 6, 1),
    )
    db.add(a)
    db.commit()
    officer = actor(db, "chenghai")
    _, preview, ev = ca.preview(db, officer, a.id)
    assert ev.devices_available and ev.devices_reporting >= 1
    assert preview == {"equipment": "devices", "marketing": None}
    ca.verify(db, officer, a.id, [])  # nothing checked by hand: the device alone evidences one area
    assert a.status == "verified" and a.areas == {"equipment": "devices"} and a.stars == 3
    assert a.evidence["devices_reporting"] >= 1

    d = Diagnosis(org_id=org.id, questionnaire="sme-digital-level-2024", status="draft", answers={}, evidenced={})
    db.add(d)
    db.flush()
    filled = dg.prefill(db, d)
    assert {"digitised_devices", "networked_devices", "data_collection_areas"} <= set(filled)
    assert d.answers["evidence"]["digitised_devices"] == 1 and d.answers["evidence"]["networked_devices"] == 1
    assert {"production", "equipment"} <= set(d.answers["data_collection_areas"])
    assert "digitised_devices" in d.evidenced
    db.rollback()
