"""Helpers for the devices tests: a fresh enterprise device with known credentials."""

from __future__ import annotations

import itertools
import os
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.credentials import mosquitto_hash, token_hash
from chaoyun.devices.models import Device, DeviceModel
from chaoyun.identity.models import Membership, Organisation, User

_n = itertools.count(1)
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def org_of(db: Session, username: str) -> Organisation:
    return db.execute(
        select(Organisation)
        .join(Membership, Membership.org_id == Organisation.id)
        .join(User, User.id == Membership.user_id)
        .where(User.username == username)
    ).scalar_one()


def make_device(db: Session, org: Organisation, model: str = "injection_moulding", **kw: Any) -> tuple[Device, str]:
    token = f"cyd_test_{secrets.token_hex(16)}"
    m = db.execute(select(DeviceModel).where(DeviceModel.key == model)).scalar_one()
    d = Device(
        org_id=org.id,
        model_id=m.id,
        uid=f"t-{WORKER}-{secrets.token_hex(4)}",
        name=kw.pop("name", f"测试设备{next(_n)}-{secrets.token_hex(2)}"),
        workshop=kw.pop("workshop", "一车间"),
        token_hash=token_hash(token),
        mqtt_password_hash=mosquitto_hash("mqtt-secret"),
        **kw,
    )
    db.add(d)
    db.commit()
    return d, token
