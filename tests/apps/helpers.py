"""Test helpers: an enterprise of its own per test module, devices from the built-in catalog, telemetry fed
through the devices context's real ingest path."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.oee.calendar import LOCAL
from chaoyun.devices import service as devices
from chaoyun.devices.credentials import token_hash
from chaoyun.devices.ingest import ingest
from chaoyun.devices.models import Device, DeviceModel
from chaoyun.identity.models import Organisation


def new_org(db: Session, name: str) -> Organisation:
    org = Organisation(kind="enterprise", name=f"{name}{secrets.token_hex(3)}", district="chenghai", status="active")
    db.add(org)
    db.commit()
    return org


def new_device(
    db: Session, org_id: int, model_key: str, name: str, workshop: str = "一车间", line: str = "A线"
) -> Device:
    devices.ensure_catalog(db)
    model = db.execute(select(DeviceModel).where(DeviceModel.key == model_key)).scalar_one()
    d = Device(
        org_id=org_id,
        model_id=model.id,
        uid=f"t-{secrets.token_hex(6)}",
        name=name,
        workshop=workshop,
        line=line,
        token_hash=token_hash(secrets.token_hex(16)),
    )
    db.add(d)
    db.commit()
    # The store caches (device id, metric key) → metric id per process; a device id SQLite hands out again
    # after a delete would resolve to the old device's metric (seen 2026-12-03; reported to the devices
    # context). Forget it so each new device resolves afresh.
    from chaoyun.devices.store import forget_metric_cache

    forget_metric_cache()
    return d


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LOCAL)


def feed(db: Session, device: Device, points: list[tuple[datetime, dict[str, Any]]], received: datetime) -> None:
    payload = [{"ts": ts.isoformat(), "values": values} for ts, values in points]
    res = ingest(db, device, payload, "simulator", received_at=received + timedelta(minutes=1))
    assert not res.rejected, res.rejected
