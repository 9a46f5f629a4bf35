"""Machine health through HTTP: the list, a machine's health page (charts' data, deviating signals, RUL, model
version), the registry page and the JSON API as the demo firm's admin and operator; starting monitoring is an
admin's; officers and other enterprises see nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance.predict import service
from chaoyun.db import utcnow
from chaoyun.devices.models import Device
from chaoyun.identity.models import Membership, User
from tests.apps.helpers import feed, new_device, new_org
from tests.apps.maintenance.test_predict_service import _series


def _factory_org(db: Session) -> int:
    q = select(Membership).join(User, Membership.user_id == User.id).where(User.username == "factory")
    m = db.execute(q).scalar_one()
    return m.org_id


def _monitored(db: Session, org_id: int, name: str) -> Device:
    d = new_device(db, org_id, "injection_moulding", name)
    now = utcnow().replace(second=0, microsecond=0)
    start = now - timedelta(hours=48)
    pts = _series(start, 48, drift_from_h=30, seed=3, rate=0.3)
    for k in range(0, len(pts), 500):
        feed(db, d, pts[k : k + 500], pts[min(k + 499, len(pts) - 1)][0])
    service.enable(db, d, start)
    db.commit()
    service.score_device(db, d, now)
    db.commit()
    return d


def test_health_pages_and_api(db: Session, login: Any) -> None:
    org_id = _factory_org(db)
    d = _monitored(db, org_id, "健康页注塑机")
    idle = new_device(db, org_id, "injection_moulding", "健康页未监测机")
    admin = login("factory")
    r = admin.get("/apps/maintenance/health")
    assert r.status_code == 200 and 'id="health-list"' in r.text and "健康页注塑机" in r.text and "异常" in r.text
    r = admin.get(f"/apps/maintenance/health/{d.id}")
    assert r.status_code == 200 and 'id="chart-score"' in r.text and 'id="chart-rul"' in r.text
    assert "σ" in r.text and "v1" in r.text and "油温" in r.text
    r = admin.get("/apps/maintenance/models")
    assert r.status_code == 200 and "robust_z" in r.text and "linear_trend" in r.text
    j = admin.get(f"/api/v1/apps/maintenance/predict/machines/{d.id}?hours=72").json()
    assert j["health"]["anomalous"] is True and j["health"]["rul_h"] is not None and len(j["points"]) > 100
    assert any(m["device_id"] == d.id for m in admin.get("/api/v1/apps/maintenance/predict/models").json())
    # Start monitoring: the admin may, the operator may not.
    op = login("operator")
    assert op.get(f"/apps/maintenance/health/{d.id}").status_code == 200
    assert op.post(f"/api/v1/apps/maintenance/predict/machines/{idle.id}/monitor", json={}).status_code == 403
    r = admin.post(f"/api/v1/apps/maintenance/predict/machines/{idle.id}/monitor", json={})
    assert r.status_code == 200 and r.json()["health"]["anomalous"] is False
    r = admin.post(f"/apps/maintenance/health/{idle.id}/monitor", {})
    assert r.status_code == 303
    # Officers: nothing; another enterprise's machine: 404.
    city = login("city")
    assert city.get("/apps/maintenance/health").status_code == 403
    assert city.get(f"/api/v1/apps/maintenance/predict/machines/{d.id}").status_code == 403
    other = new_org(db, "别家预测厂")
    od = new_device(db, other.id, "injection_moulding", "别家机")
    assert admin.get(f"/apps/maintenance/health/{od.id}").status_code == 404
    assert admin.get(f"/api/v1/apps/maintenance/predict/machines/{od.id}").status_code == 404
