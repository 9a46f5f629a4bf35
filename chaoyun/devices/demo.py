"""Demo equipment: devices of fitting models for the demo enterprises, plus alarm rules for `factory`'s firm.

Deterministic (each device derives from its enterprise's credit code and index) and idempotent (existing
uids are left alone). Demo devices' credentials derive from the server's secret key
(``credentials.demo_secret``), so ``chaoyun simulate`` can authenticate over HTTP or MQTT while the
platform stores only hashes.
"""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices import catalog
from chaoyun.devices.credentials import demo_secret, mosquitto_hash, nats_hash, token_hash
from chaoyun.devices.models import AlarmRule, Device, DeviceModel
from chaoyun.identity import audit
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.settings import get_settings

DEMO_PREFIX = "dm-"
# bcrypt cost of the demo devices' NATS hashes: their passwords are derived from the secret key anyway, and the
# platform's cost (11, ~0.13 s a hash) would add about a minute to seeding 60 enterprises' machines.
DEMO_BCRYPT_COST = 6
ENTERPRISES_WITH_DEVICES = 60

# What each cluster runs: (model key, min, max) per workshop kind.
FLEET: dict[str, list[tuple[str, str, int, int]]] = {
    "toys": [("注塑车间", "injection_moulding", 3, 10), ("包装车间", "packaging", 1, 2)],
    "textiles_apparel": [("织造车间", "circular_knitting", 3, 10), ("缝制车间", "sewing_line", 1, 4)],
    "light_equipment": [("机加工车间", "cnc", 3, 8), ("装配车间", "packaging", 0, 1)],
    "chemicals_plastics": [("注塑车间", "injection_moulding", 2, 8)],
    "printing_packaging": [("包装车间", "packaging", 2, 6)],
    "crafts": [("加工车间", "cnc", 1, 3)],
    "food": [("包装车间", "packaging", 2, 5)],
    "electronics": [("贴片车间", "cnc", 1, 3), ("包装车间", "packaging", 1, 2)],
}
NAMES = {
    "injection_moulding": "注塑机",
    "packaging": "包装机",
    "circular_knitting": "圆纬机",
    "sewing_line": "缝制线",
    "cnc": "数控机床",
    "air_compressor": "空压机",
    "energy_meter": "总电表",
}


def demo_orgs(db: Session) -> list[Organisation]:
    """The enterprises that get demo devices: `factory`'s and `factory2`'s firms and the first others."""
    firms: list[Organisation] = []
    for username in ("factory", "factory2"):
        org = db.execute(
            select(Organisation)
            .join(Membership, Membership.org_id == Organisation.id)
            .join(User, User.id == Membership.user_id)
            .where(User.username == username)
        ).scalar_one_or_none()
        if org is not None and org not in firms:
            firms.append(org)
    others = db.execute(
        select(Organisation)
        .where(Organisation.kind == "enterprise", Organisation.status == "active")
        .order_by(Organisation.id)
        .limit(ENTERPRISES_WITH_DEVICES)
    ).scalars()
    for org in others:
        if org not in firms:
            firms.append(org)
    return firms


def plan(org: Organisation, showcase: bool) -> list[tuple[str, str, str]]:
    """(workshop, line, model key) of each device of one enterprise."""
    rng = random.Random(f"chaoyun-devices-{org.credit_code}")
    cluster = org.enterprise.cluster if org.enterprise else "toys"
    out: list[tuple[str, str, str]] = []
    if showcase:
        fleet = [
            ("注塑一车间", "injection_moulding", 6, 6),
            ("注塑二车间", "injection_moulding", 4, 4),
            ("包装车间", "packaging", 2, 2),
        ]
    else:
        fleet = [(w, m, lo, hi) for w, m, lo, hi in FLEET.get(cluster, FLEET["toys"])]
    for workshop, model, lo, hi in fleet:
        n = rng.randint(lo, hi)
        for i in range(n):
            out.append((workshop, f"{'ABCD'[i // 6]}线", model))
    out.append(("动力站", "", "air_compressor"))
    out.append(("配电房", "", "energy_meter"))
    return out


def seed(db: Session) -> int:
    catalog.sync_models(db)
    models = {m.key: m for m in db.execute(select(DeviceModel)).scalars()}
    existing = set(db.execute(select(Device.uid).where(Device.uid.like(f"{DEMO_PREFIX}%"))).scalars())
    key = get_settings().secret_key
    created = 0
    firms = demo_orgs(db)
    for k, org in enumerate(firms):
        counters: dict[str, int] = {}
        for workshop, line, model_key in plan(org, showcase=k == 0):
            counters[model_key] = counters.get(model_key, 0) + 1
            n = counters[model_key]
            uid = f"{DEMO_PREFIX}{(org.credit_code or str(org.id))[-8:].lower()}-{model_key[:3]}{n:02d}"
            if uid in existing:
                continue
            token = demo_secret(key, uid, "token")
            device = Device(
                org_id=org.id,
                model_id=models[model_key].id,
                uid=uid,
                name=f"{n}号{NAMES[model_key]}" if model_key not in ("energy_meter",) else NAMES[model_key],
                workshop=workshop,
                line=line,
                serial=f"SN-{uid[3:].upper()}",
                token_hash=token_hash(token),
                token_prefix=token[:10],
                mqtt_password_hash=mosquitto_hash(demo_secret(key, uid, "mqtt")),
                mqtt_password_bcrypt=nats_hash(demo_secret(key, uid, "mqtt"), cost=DEMO_BCRYPT_COST),
            )
            db.add(device)
            existing.add(uid)
            created += 1
        db.flush()
    if firms:
        _rules(db, firms[0], models)
    if created:
        audit.record(
            db,
            actor_user_id=None,
            actor_username="system",
            actor_org_id=None,
            action="seed",
            object_type="device",
            after={"devices": created},
        )
    db.commit()
    return created


def _rules(db: Session, org: Organisation, models: dict[str, DeviceModel]) -> None:
    have = set(db.execute(select(AlarmRule.name).where(AlarmRule.org_id == org.id)).scalars())
    wanted = [
        (
            "料筒温度过高",
            "threshold",
            "injection_moulding",
            "barrel_temp",
            "major",
            {"op": ">", "value": 240.0, "duration_s": 30.0, "hysteresis": 5.0},
        ),
        (
            "液压油温过高",
            "threshold",
            "injection_moulding",
            "oil_temp",
            "minor",
            {"op": ">", "value": 50.0, "duration_s": 60.0, "hysteresis": 2.0},
        ),
        (
            "振动异常",
            "threshold",
            "injection_moulding",
            "vibration",
            "critical",
            {"op": ">", "value": 7.1, "duration_s": 20.0, "hysteresis": 0.5},
        ),
        ("设备离线", "offline", "injection_moulding", None, "major", {"seconds": 300.0}),
        (
            "班内故障停机",
            "state",
            "injection_moulding",
            "state",
            "major",
            {"states": ["fault"], "shift": {"start": "08:00", "end": "20:00"}, "duration_s": 60.0},
        ),
        ("气压骤降", "rate", "air_compressor", "outlet_pressure", "major", {"max_per_min": 2.0}),
    ]
    for name, kind, model_key, metric, severity, params in wanted:
        if name in have:
            continue
        db.add(
            AlarmRule(
                org_id=org.id,
                model_id=models[model_key].id,
                name=name,
                kind=kind,
                metric=metric,
                severity=severity,
                params=params,
            )
        )
    db.flush()
