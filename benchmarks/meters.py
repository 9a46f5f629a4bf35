"""The smart-meter fleet the ingest benchmarks share (ingest_mqtt, ingest_log, ingest_sink): one enterprise, an
``energy_meter`` device per uid and, optionally, the over-voltage threshold rule with hysteresis on every meter."""

from __future__ import annotations

import os


def seed_meters(uids: list[str], org_name: str, *, over_voltage_rule: bool) -> None:
    """Migrate the configured database and register the meters (a fresh database is assumed)."""
    from sqlalchemy import select

    from chaoyun import migrate
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices import service
    from chaoyun.devices.models import AlarmRule, Device, DeviceModel
    from chaoyun.identity.models import Organisation

    migrate.upgrade()
    with get_sessionmaker()() as db:
        service.ensure_catalog(db)
        org = Organisation(kind="enterprise", name=org_name, status="active", district="chenghai")
        db.add(org)
        db.flush()
        model = db.execute(select(DeviceModel).where(DeviceModel.key == "energy_meter")).scalar_one()
        for uid in uids:
            db.add(Device(org_id=org.id, model_id=model.id, uid=uid, name=uid, token_hash=os.urandom(32).hex()))
        if over_voltage_rule:
            db.add(AlarmRule(org_id=org.id, model_id=model.id, name="过压", kind="threshold", metric="voltage",
                             params={"value": 255, "op": ">", "hysteresis": 2, "duration_s": 0}))
        db.commit()
