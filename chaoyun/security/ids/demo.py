"""Demo: the first toy maker's PLC network. Its gateway reaches three machines over Modbus (their connection
settings get the PLCs' addresses), the detector learns a baseline from an hour of the simulated plant's normal
traffic, then scans a later simulated capture in which a laptop, a compromised PLC and a diagnostics command
appear. The alerts, device alarms and incident are what the real detector and services make of that traffic."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.models import Device
from chaoyun.devices.profiles import service as profiles
from chaoyun.identity.models import Membership, User
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.security.ids import engine, pcap, service, synth
from chaoyun.security.ids.models import IdsProfile

DEMO_USER = "factory"
PROFILE_NAME = "注塑车间 Modbus 基线"
SCENARIOS = ("unknown_host", "new_function_code", "slave_as_master", "write_unlearned_register")


def _actor(db: Session) -> Actor | None:
    user = db.execute(select(User).where(User.username == DEMO_USER)).scalar_one_or_none()
    if user is None:
        return None
    m = (
        db.execute(
            select(Membership).where(Membership.user_id == user.id, Membership.role == Role.ENTERPRISE_ADMIN.value)
        )
        .scalars()
        .first()
    )
    return Actor(user, m) if m is not None else None


def seed(db: Session, now: datetime | None = None) -> dict[str, int]:
    actor = _actor(db)
    if actor is None:
        return {"profiles": 0, "alerts": 0}
    exists = select(IdsProfile.id).where(IdsProfile.org_id == actor.org_id, IdsProfile.name == PROFILE_NAME)
    if db.execute(exists).first() is not None:
        return {"profiles": 0, "alerts": 0}
    now = now or datetime.now(UTC)
    devices = list(db.execute(select(Device).where(Device.org_id == actor.org_id).order_by(Device.id)).scalars())
    for d, ip in zip(devices, synth.PLCS, strict=False):
        if not (d.connection or {}).get("host"):
            profiles.set_connection(
                db, actor, d.id, {**(d.connection or {}), "protocol": "modbus", "host": ip, "port": 502, "unit": 1}
            )
    learn_start = (now - timedelta(hours=3)).timestamp()
    prof = engine.learn(synth.plant(3600, learn_start), source="车间交换机镜像口 (正常运行 1 小时).pcap")
    p = service._add_profile(db, actor, actor.org_id, PROFILE_NAME, prof)
    data = synth.mixed(600, (now - timedelta(minutes=40)).timestamp(), SCENARIOS, spacing=120)
    with tempfile.TemporaryDirectory(prefix="chaoyun-ids-demo-") as tmp:
        path = Path(tmp) / "capture.pcap"
        pcap.write_pcap(str(path), [(t, f) for t, f, _ in data])
        scan = service.scan_capture(db, actor, p.id, "车间交换机镜像口 (异常时段).pcap", path.read_bytes())
    return {"profiles": 1, "alerts": scan.alerts}
