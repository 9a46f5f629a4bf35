"""Demo data of the production apps for `factory`'s toy firm: shift calendar, tariff, inspection plans with a
few hundred measurements — including a real process shift, so the Nelson tests fire — and Montgomery's
piston-ring data as a reference plan.

Deterministic (fixed seeds and fixed timestamps) and idempotent (a plan that exists is left alone).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.models import InspectionPlan, ShiftCalendar, TariffAssignment
from chaoyun.apps.oee.calendar import DEFAULT_SHIFTS, LOCAL
from chaoyun.apps.quality.service import add_subgroups
from chaoyun.identity.models import Membership, Organisation, User

BASE = datetime(2026, 1, 5, 8, 0, tzinfo=LOCAL)

# Montgomery, Introduction to Statistical Quality Control, Table 6.3 (piston-ring inside diameters, mm).
PISTON_RINGS = [
    [74.030, 74.002, 74.019, 73.992, 74.008],
    [73.995, 73.992, 74.001, 74.011, 74.004],
    [73.988, 74.024, 74.021, 74.005, 74.002],
    [74.002, 73.996, 73.993, 74.015, 74.009],
    [73.992, 74.007, 74.015, 73.989, 74.014],
    [74.009, 73.994, 73.997, 73.985, 73.993],
    [73.995, 74.006, 73.994, 74.000, 74.005],
    [73.985, 74.003, 73.993, 74.015, 73.988],
    [74.008, 73.995, 74.009, 74.005, 74.004],
    [73.998, 74.000, 73.990, 74.007, 73.995],
    [73.994, 73.998, 73.994, 73.995, 73.990],
    [74.004, 74.000, 74.007, 74.000, 73.996],
    [73.983, 74.002, 73.998, 73.997, 74.012],
    [74.006, 73.967, 73.994, 74.000, 73.984],
    [74.012, 74.014, 73.998, 73.999, 74.007],
    [74.000, 73.984, 74.005, 73.998, 73.996],
    [73.994, 74.012, 73.986, 74.005, 74.007],
    [74.006, 74.010, 74.018, 74.003, 74.000],
    [73.984, 74.002, 74.003, 74.005, 73.997],
    [74.000, 74.010, 74.013, 74.020, 74.003],
    [73.982, 74.001, 74.015, 74.005, 73.996],
    [74.004, 73.999, 73.990, 74.006, 74.009],
    [74.010, 73.989, 73.990, 74.009, 74.014],
    [74.015, 74.008, 73.993, 74.000, 74.010],
    [73.982, 73.984, 73.995, 74.017, 74.013],
]


def _org(db: Session, username: str) -> Organisation | None:
    return db.execute(
        select(Organisation)
        .join(Membership, Membership.org_id == Organisation.id)
        .join(User, User.id == Membership.user_id)
        .where(User.username == username)
    ).scalar_one_or_none()


def _wall_thickness() -> list[dict[str, Any]]:
    """Toy housing wall thickness (mm), subgroups of 5 every hour: 40 in control around 2.000 (σ 0.02), then
    the mould heats up and the mean moves up by 0.02 mm (1σ of single parts, 2.2σ of subgroup means)
    for 20 subgroups."""
    rnd = random.Random(2018)
    out = []
    for i in range(60):
        mean = 2.000 + (0.020 if i >= 40 else 0.0)
        out.append(
            {
                "values": [round(rnd.gauss(mean, 0.02), 4) for _ in range(5)],
                "ts": (BASE + timedelta(hours=i)).isoformat(),
            }
        )
    return out


def _key_height() -> list[dict[str, Any]]:
    """Key-cap height (mm), one part every 30 min: a tool-wear drift in the last 30 values."""
    rnd = random.Random(2019)
    out = []
    for i in range(100):
        drift = 0.004 * (i - 70) if i >= 70 else 0.0
        out.append(
            {"values": [round(rnd.gauss(5.0 + drift, 0.03), 4)], "ts": (BASE + timedelta(minutes=30 * i)).isoformat()}
        )
    return out


def _packaging_rejects() -> list[dict[str, Any]]:
    """Blister packs with seal defects in samples of 200, one sample per shift; one bad film reel."""
    rnd = random.Random(2020)
    out = []
    for i in range(30):
        p = 0.03 if i != 22 else 0.09
        d = sum(1 for _ in range(200) if rnd.random() < p)
        out.append({"defects": d, "sample_size": 200, "ts": (BASE + timedelta(hours=12 * i)).isoformat()})
    return out


PLANS: list[tuple[dict[str, Any], Any]] = [
    (
        {
            "name": "外壳壁厚",
            "characteristic": "壁厚",
            "unit": "mm",
            "chart_type": "xbar_r",
            "subgroup_size": 5,
            "lsl": 1.94,
            "usl": 2.06,
            "target": 2.0,
            "limits_mode": "fixed",
            "baseline_count": 25,
            "tests": [1, 2, 3, 4, 5, 6, 7, 8],
        },
        _wall_thickness,
    ),
    (
        {
            "name": "按键高度",
            "characteristic": "高度",
            "unit": "mm",
            "chart_type": "imr",
            "subgroup_size": 1,
            "lsl": 4.9,
            "usl": 5.1,
            "target": 5.0,
            "limits_mode": "fixed",
            "baseline_count": 50,
            "tests": [1, 2, 3, 5, 6],
        },
        _key_height,
    ),
    (
        {
            "name": "包装封口不良",
            "characteristic": "封口不良数",
            "unit": "",
            "chart_type": "p",
            "subgroup_size": 200,
            "tests": [1, 2],
        },
        _packaging_rejects,
    ),
    (
        {
            "name": "活塞环内径（教材数据）",
            "characteristic": "内径",
            "unit": "mm",
            "chart_type": "xbar_r",
            "subgroup_size": 5,
            "lsl": 73.95,
            "usl": 74.05,
            "target": 74.0,
            "tests": [1],
        },
        lambda: [{"values": r, "ts": (BASE + timedelta(hours=i)).isoformat()} for i, r in enumerate(PISTON_RINGS)],
    ),
]


def seed(db: Session) -> None:
    org = _org(db, "factory")
    if org is None:
        return
    if db.get(ShiftCalendar, org.id) is None:
        db.add(ShiftCalendar(org_id=org.id, shifts=DEFAULT_SHIFTS, small_stop_s=300.0))
    if db.get(TariffAssignment, org.id) is None:
        db.add(TariffAssignment(org_id=org.id, tariff_key="gd_industrial_1_10kv"))
    db.commit()
    for fields, data in PLANS:
        exists = db.execute(
            select(InspectionPlan.id).where(InspectionPlan.org_id == org.id, InspectionPlan.name == fields["name"])
        ).first()
        if exists:
            continue
        plan = InspectionPlan(org_id=org.id, **fields)
        db.add(plan)
        db.commit()
        add_subgroups(db, None, plan, data(), "demo")
