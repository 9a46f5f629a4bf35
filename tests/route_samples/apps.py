"""Samples for the production apps' routes (tests/test_route_security.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.models import InspectionPlan, Report, SpcAlarm
from chaoyun.identity.models import Organisation
from tests.route_samples.devices import device_id


def _plan(db: Session, owner: Organisation) -> InspectionPlan:
    p = (
        db.execute(select(InspectionPlan).where(InspectionPlan.org_id == owner.id).order_by(InspectionPlan.id))
        .scalars()
        .first()
    )
    if p is None:
        p = InspectionPlan(
            org_id=owner.id,
            name=f"样例检验{owner.id}",
            characteristic="直径",
            chart_type="xbar_r",
            subgroup_size=3,
            tests=[1],
        )
        db.add(p)
        db.commit()
    return p


def plan_id(db: Session, owner: Organisation) -> str:
    return str(_plan(db, owner).id)


def spc_alarm_id(db: Session, owner: Organisation) -> str:
    p = _plan(db, owner)
    seq = (
        int(
            db.execute(select(SpcAlarm.seq).where(SpcAlarm.plan_id == p.id).order_by(SpcAlarm.seq.desc()))
            .scalars()
            .first()
            or 0
        )
        + 1
    )
    a = SpcAlarm(org_id=owner.id, plan_id=p.id, seq=seq, test=1, value=1.0)
    db.add(a)
    db.commit()
    return str(a.id)


def report_id(db: Session, owner: Organisation) -> str:
    r = db.execute(select(Report).where(Report.org_id == owner.id)).scalars().first()
    if r is None:
        r = Report(
            org_id=owner.id,
            kind="daily",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 1, 1),
            filename="sample.pdf",
            content=b"%PDF-1.4 sample",
            size=15,
        )
        db.add(r)
        db.commit()
    return str(r.id)


PATH_PARAMS = {"plan_id": plan_id, "spc_alarm_id": spc_alarm_id, "report_id": report_id}

_SHIFTS = [{"key": "A", "name": "白班", "start": "08:00", "end": "20:00", "breaks": []}]


def _label(o: Organisation) -> dict[str, Any]:
    return {"device_id": 0, "start": "2026-01-05T08:00:00+08:00", "end": "2026-01-05T08:30:00+08:00", "reason": "other"}


BODIES = {
    ("POST", "/api/v1/apps/quality/plans"): lambda o: {
        "name": "外径",
        "characteristic": "外径",
        "chart_type": "xbar_r",
        "subgroup_size": 3,
    },
    ("PATCH", "/api/v1/apps/quality/plans/{plan_id}"): lambda o: {"tests": [1, 2]},
    ("POST", "/api/v1/apps/quality/plans/{plan_id}/measurements"): lambda o: {
        "subgroups": [{"values": [1.0, 1.1, 0.9]}]
    },
    ("PUT", "/api/v1/apps/oee/calendar"): lambda o: {"shifts": _SHIFTS},
    ("POST", "/api/v1/apps/oee/downtime"): lambda o: {
        "start": "2026-01-05T08:00:00+08:00",
        "end": "2026-01-05T10:00:00+08:00",
    },
    ("PUT", "/api/v1/apps/energy/tariff"): lambda o: {"tariff": "gd_industrial_1_10kv"},
    ("POST", "/api/v1/apps/reports"): lambda o: {"kind": "daily", "day": "2026-01-05"},
    ("POST", "/apps/quality/plans"): lambda o: {"name": "外径", "chart_type": "xbar_r", "subgroup_size": "3"},
    ("POST", "/apps/quality/plans/{plan_id}/measure"): lambda o: {"values": "1.0 1.1 0.9"},
    ("POST", "/apps/quality/plans/{plan_id}/settings"): lambda o: {"tests": "1", "limits_mode": "recalc"},
    ("POST", "/apps/oee/calendar"): lambda o: {"key_0": "A", "start_0": "08:00", "end_0": "20:00"},
    ("POST", "/apps/oee/downtime"): lambda o: {"start": "2026-01-05T08:00", "end": "2026-01-05T10:00"},
    ("POST", "/apps/energy/tariff"): lambda o: {"tariff": "gd_industrial_1_10kv"},
    ("POST", "/apps/reports"): lambda o: {"kind": "daily", "day": "2026-01-05"},
    ("POST", "/apps/quality/alarms/ack"): lambda o: {"all": "1"},
    ("POST", "/api/v1/apps/quality/alarms/ack"): lambda o: {"all": True},
}

__all__ = ["device_id"]
