"""Samples for the devices context's routes (tests/test_route_security.py)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.credentials import token_hash
from chaoyun.devices.models import Alarm, AlarmRule, Device, DeviceModel, Webhook
from chaoyun.identity.models import Organisation


def _device(db: Session, owner: Organisation) -> Device:
    d = db.execute(select(Device).where(Device.org_id == owner.id).order_by(Device.id)).scalars().first()
    if d is None:
        model = db.execute(select(DeviceModel).where(DeviceModel.key == "injection_moulding")).scalar_one()
        d = Device(
            org_id=owner.id,
            model_id=model.id,
            uid=f"rs-{secrets.token_hex(5)}",
            name=f"样例注塑机{owner.id}",
            workshop="一车间",
            token_hash=token_hash(secrets.token_hex(16)),
        )
        db.add(d)
        db.commit()
    return d


def device_id(db: Session, owner: Organisation) -> str:
    return str(_device(db, owner).id)


def alarm_id(db: Session, owner: Organisation) -> str:
    d = _device(db, owner)
    a = Alarm(
        org_id=owner.id,
        device_id=d.id,
        kind="threshold",
        severity="major",
        metric="barrel_temp",
        message="sample",
        status="active",
    )
    db.add(a)
    db.commit()
    return str(a.id)


def rule_id(db: Session, owner: Organisation) -> str:
    d = _device(db, owner)
    r = AlarmRule(org_id=owner.id, device_id=d.id, name="sample", kind="offline", params={"seconds": 600})
    db.add(r)
    db.commit()
    return str(r.id)


def webhook_id(db: Session, owner: Organisation) -> str:
    w = Webhook(org_id=owner.id, name="sample", url="http://127.0.0.1:9/none", secret=secrets.token_hex(8))
    db.add(w)
    db.commit()
    return str(w.id)


PATH_PARAMS = {"device_id": device_id, "alarm_id": alarm_id, "rule_id": rule_id, "webhook_id": webhook_id}


def _device_body(owner: Organisation) -> dict[str, Any]:
    return {"name": f"新设备{secrets.token_hex(3)}", "model": "cnc", "workshop": "一车间"}


BODIES = {
    ("POST", "/api/v1/devices"): _device_body,
    ("POST", "/devices/new"): _device_body,
    ("PATCH", "/api/v1/devices/{device_id}"): lambda o: {"workshop": "二车间"},
    ("PUT", "/api/v1/telemetry-retention"): lambda o: {"days": 90},
    ("POST", "/api/v1/alarm-rules"): lambda o: {
        "name": "r",
        "kind": "offline",
        "model": "injection_moulding",
        "params": {"seconds": 300},
    },
    ("POST", "/alarms/rules"): lambda o: {"name": "r", "kind": "offline", "target": "model:cnc", "seconds": "300"},
    ("POST", "/alarms/webhooks"): lambda o: {"name": "w", "url": "http://127.0.0.1:9/x"},
    ("POST", "/alarms/retention"): lambda o: {"days": "90"},
    ("POST", "/api/v1/telemetry"): lambda o: {"barrel_temp": 200},
}
