"""Samples for condition monitoring and prediction routes (tests/test_route_security.py)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from tests.route_samples.devices import _device


def health_device_id(db: Session, owner: Organisation) -> str:
    return str(_device(db, owner).id)


API = "/api/v1/apps/maintenance/predict/machines/{health_device_id}"

PATH_PARAMS = {"health_device_id": health_device_id}

BODIES = {
    ("POST", f"{API}/monitor"): lambda o: {},
    ("POST", f"{API}/retrain"): lambda o: {"start": "2026-11-01T00:00:00+08:00", "end": "2026-11-02T00:00:00+08:00"},
    ("POST", "/apps/maintenance/health/{health_device_id}/monitor"): lambda o: {},
}
