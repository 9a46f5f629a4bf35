"""A factory's real use of the apps reaches the programme: connect a machine, run OEE, SPC and energy over
it, and the cloud-adoption declaration reaches ★★★★★ with every piece of evidence listed — all through the
pages and APIs a factory manager and a district officer use."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps import usage
from chaoyun.apps.models import AppUse
from chaoyun.identity import service as identity
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.programme import diagnosis as dg
from chaoyun.programme import evidence
from chaoyun.programme.models import CloudAdoption, Diagnosis
from tests.factories import credit_code
from tests.programme.helpers import actor

PASSWORD = "Star-factory-2026!"


def _new_factory(db: Session) -> tuple[Organisation, str]:
    """A new active Chenghai toy maker with its own admin (invited by the platform admin, as in real life)."""
    org = Organisation(
        kind="enterprise",
        credit_code=credit_code(),
        name=f"汕头市澄海区星级测试玩具厂{secrets.token_hex(2)}",
        status="active",
        district="chenghai",
    )
    org.enterprise = EnterpriseProfile(
        industry_code="C2452", cluster="toys", employees=40, annual_revenue=Decimal("1200"), size_class="small"
    )
    db.add(org)
    db.commit()
    _, raw = identity.invite(db, actor(db, "admin"), org.id, "王厂长", "wang@example.com", "enterprise_admin")
    username = f"star{secrets.token_hex(3)}"
    identity.accept_invitation(db, raw, username, PASSWORD)
    return org, username


def _send(client: Any, token: str, points: list[dict[str, Any]]) -> None:
    r = client.post("/api/v1/telemetry", json=points, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] > 0 and not r.json()["rejected"], r.text


def test_real_use_of_oee_spc_and_energy_reaches_five_stars(db: Session, login: Any) -> None:
    org, username = _new_factory(db)
    manager = login(username, PASSWORD)

    # Connect a machine and let it report its state, counters and energy meter for the last hour.
    r = manager.post("/api/v1/devices", json={"name": "注塑机 1 号", "model": "injection_moulding"})
    assert r.status_code == 201, r.text
    device_id = r.json()["device"]["id"]
    token = r.json()["credentials"]["token"]
    now = datetime.now(UTC)
    points = []
    for i in range(60):
        ts = now - timedelta(minutes=60 - i)
        points.append(
            {
                "ts": int(ts.timestamp() * 1000),
                "values": {
                    "state": "running",
                    "cycle_count": 100 + i * 2,
                    "good_count": 98 + i * 2,
                    "reject_count": 2,
                    "power": 42.5,
                    "energy": 1000 + i * 0.7,
                    "barrel_temp": 215,
                },
            }
        )
    _send(manager.client, token, points)

    # Monitoring: an alarm rule watches the machine.
    r = manager.post(
        "/api/v1/alarm-rules",
        json={"name": "设备离线", "kind": "offline", "device_id": device_id, "params": {"seconds": 300}},
    )
    assert r.status_code == 201, r.text

    # SPC: an inspection plan fed with measured subgroups.
    r = manager.post(
        "/api/v1/apps/quality/plans",
        json={"name": "外壳壁厚", "characteristic": "壁厚", "unit": "mm", "chart_type": "xbar_r", "subgroup_size": 3},
    )
    assert r.status_code == 201, r.text
    plan_id = r.json()["id"]
    subgroups = [{"values": [2.0 + 0.01 * k, 2.01, 1.99]} for k in range(8)]
    r = manager.post(f"/api/v1/apps/quality/plans/{plan_id}/measurements", json={"subgroups": subgroups})
    assert r.status_code == 201, r.text

    # The manager opens OEE and energy for the machine.
    assert manager.get("/apps/oee").status_code == 200
    assert manager.get("/apps/energy").status_code == 200

    used = {u.app for u in db.execute(select(AppUse).where(AppUse.org_id == org.id)).scalars()}
    assert {"oee", "energy", "spc"} <= used

    # The factory declares its cloud adoption; the district officer verifies it on the page.
    r = manager.post(
        "/programme/adoptions",
        data={"areas": ["equipment", "production_control"], "provider_name": "潮汕智造云", "live_since": "2026-01-05"},
    )
    assert r.status_code == 303, r.text
    adoption_id = int(r.headers["location"].split("/")[-1].split("?")[0])
    officer = login("chenghai")
    page = officer.get(f"/programme/adoptions/{adoption_id}")
    assert page.status_code == 200
    for app in ("oee", "spc", "energy"):
        assert f'data-model-app="{app}"' in page.text, app
    r = officer.post(f"/programme/adoptions/{adoption_id}/verify", data={})
    assert r.status_code == 303, r.text

    db.expire_all()
    a = db.get(CloudAdoption, adoption_id)
    assert a is not None and a.status == "verified" and a.stars == 5
    assert {"oee", "spc", "energy"} <= set(a.evidence["data_model_apps"])
    assert a.areas == {"equipment": "devices", "production_control": "devices"}
    page = officer.get(f"/programme/adoptions/{adoption_id}")
    assert "★★★★★" in page.text and 'data-met="0"' not in page.text

    # The diagnosis pre-fills the SPC, energy and production scenes as evidenced.
    d = Diagnosis(org_id=org.id, questionnaire="sme-digital-level-2024", status="draft", answers={}, evidenced={})
    db.add(d)
    db.flush()
    dg.prefill(db, d)
    assert {"scene:quality", "scene:energy", "scene:equipment"} <= set(d.evidenced)
    assert {"energy", "quality", "production", "equipment"} <= set(d.answers["data_collection_areas"])
    db.rollback()


def test_use_without_data_is_not_a_data_model_app(db: Session, login: Any) -> None:
    """Opening OEE with no machine reporting is use, not evidence of a data-and-model app; an anonymous or
    refused request records nothing."""
    org, username = _new_factory(db)
    manager = login(username, PASSWORD)
    assert manager.get("/apps/oee").status_code == 200
    assert login(None).get("/apps/energy").status_code in (303, 401)
    ev = evidence.for_org(db, org.id)
    assert ev.apps_used == {"oee"} and ev.data_model_apps == set()
    assert usage.spc_running(db, org.id) is False
    assert evidence.scene_signals(db, org.id, ev)["trace.traceability"] is False  # no lots traced


def test_usage_is_recorded_once_per_person_app_and_day(db: Session) -> None:
    org, username = _new_factory(db)
    user = identity.authenticate(db, username, PASSWORD)
    assert usage.record_use(db, org.id, user.id, "spc") is True
    usage._written.clear()  # another process: the database still keeps one row
    assert usage.record_use(db, org.id, user.id, "spc") is False
    rows = db.execute(select(AppUse).where(AppUse.org_id == org.id)).scalars().all()
    assert len(rows) == 1 and rows[0].day == usage.local_today()
    by_org = usage.usage_by_enterprise(db, datetime.now(UTC) - timedelta(days=1))
    assert by_org[org.id].apps_used == {"spc"} and by_org[org.id].users == {user.id}
    assert date.today() - rows[0].day <= timedelta(days=1)


def test_results_items_are_prefilled_from_measured_trends(db: Session) -> None:
    """Energy per good unit fell and the good share rose over the last 30 days against the 30 before: the
    diagnosis' 绿色低碳 and 产品质量 items are answered from those measurements and marked evidenced."""
    from chaoyun.devices.ingest import ingest
    from tests.apps.helpers import new_device, new_org

    org = new_org(db, "趋势测试厂")
    device = new_device(db, org.id, "injection_moulding", "注塑机 T1")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    energy = good = rejects = cycles = 0.0
    payload = []
    for h in range(60 * 24, 0, -1):
        recent = h <= 30 * 24 - 24  # inside the later window (ends yesterday)
        energy += 40 if recent else 50
        good += 100
        rejects += 2 if recent else 5
        cycles += 102 if recent else 105
        ts = now - timedelta(hours=h)
        payload.append(
            {
                "ts": ts.isoformat(),
                "values": {
                    "state": "running",
                    "energy": energy,
                    "good_count": good,
                    "reject_count": rejects,
                    "cycle_count": cycles,
                },
            }
        )
    for i in range(0, len(payload), 500):
        chunk = payload[i : i + 500]
        res = ingest(db, device, chunk, "test", received_at=datetime.fromisoformat(chunk[-1]["ts"]))
        assert not res.rejected, res.rejected[:3]
    trends = evidence.results_trends(db, org.id, today=now.date())
    assert trends.energy_trend == "down", trends
    assert trends.pass_rate_trend == "up", trends
    d = Diagnosis(org_id=org.id, questionnaire="sme-digital-level-2024", status="draft", answers={}, evidenced={})
    db.add(d)
    db.flush()
    filled = dg.prefill(db, d)
    assert {"energy_trend", "pass_rate_trend"} <= set(filled)
    assert d.answers["energy_trend"] == "down" and d.answers["pass_rate_trend"] == "up"
    assert "energy_trend" in d.evidenced
    db.rollback()
    assert evidence._trend(100.0, 101.0) == "same" and evidence._trend(None, 1.0) is None
