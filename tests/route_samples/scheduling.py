"""Samples for the scheduling app's routes (tests/test_route_security.py): a solved plan with one operation and a
pin, and a repair proposal, made directly for the owner (no solve needed to prove who may see them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.scheduling.models import PlanOperation, PlanPin, RepairProposal, SchedulePlan
from chaoyun.db import utcnow
from chaoyun.identity.models import Organisation
from tests.route_samples.devices import _device

SAMPLE_NAME = "RS-排产样例"


def _plan(db: Session, owner: Organisation) -> SchedulePlan:
    plan = db.execute(
        select(SchedulePlan).where(SchedulePlan.org_id == owner.id, SchedulePlan.name == SAMPLE_NAME)
    ).scalar_one_or_none()
    if plan is None:
        device = _device(db, owner)
        now = utcnow().replace(microsecond=0)
        key = "RS-SCHED/10"
        option = {"machine": str(device.id), "duration": 3600, "setup": 0}
        plan = SchedulePlan(
            org_id=owner.id,
            name=SAMPLE_NAME,
            status="solved",
            solver_status="optimal",
            origin=now,
            horizon_s=86400,
            objective="makespan",
            work_order_ids=[],
            problem={
                "jobs": [
                    {
                        "key": "RS-SCHED",
                        "label": "样例",
                        "release": 0,
                        "due": 86400,
                        "weight": 5,
                        "operations": [{"key": key, "label": "注塑", "options": [option]}],
                    }
                ],
                "machines": [str(device.id)],
                "horizon": 86400,
                "off_shift": [],
                "blocked": {},
                "pins": [],
                "frozen": [],
                "objective": "makespan",
                "mix": 0.5,
                "ops": {
                    key: {
                        "key": key,
                        "job": "RS-SCHED",
                        "work_order_id": None,
                        "number": "RS-SCHED",
                        "wo_op_id": None,
                        "seq": 10,
                        "name": "注塑",
                        "item": "RS 样例",
                        "remaining": 100,
                        "due": (now + timedelta(days=1)).isoformat(),
                        "priority": 5,
                        "frozen": False,
                    }
                },
                "machine_names": {str(device.id): device.name},
            },
            makespan_s=3600,
            created_by="rs",
        )
        plan.operations.append(
            PlanOperation(
                op_key=key,
                job_key="RS-SCHED",
                device_id=device.id,
                start=now,
                end=now + timedelta(hours=1),
                duration_s=3600,
            )
        )
        plan.pins.append(PlanPin(op_key=key, device_id=device.id, created_by="rs"))
        db.add(plan)
        db.commit()
    return plan


def sched_plan_id(db: Session, owner: Organisation) -> str:
    return str(_plan(db, owner).id)


def sched_pin_id(db: Session, owner: Organisation) -> str:
    return str(_plan(db, owner).pins[0].id)


def proposal_id(db: Session, owner: Organisation) -> str:
    plan = _plan(db, owner)
    p = db.execute(select(RepairProposal).where(RepairProposal.base_plan_id == plan.id)).scalars().first()
    if p is None:
        now = utcnow()
        p = RepairProposal(
            org_id=owner.id,
            base_plan_id=plan.id,
            plan_id=plan.id,
            device_id=plan.operations[0].device_id,
            reason="样例故障",
            down_from=now,
            down_until=now + timedelta(hours=4),
            moved=[],
        )
        db.add(p)
        db.commit()
    return str(p.id)


PATH_PARAMS = {"sched_plan_id": sched_plan_id, "sched_pin_id": sched_pin_id, "proposal_id": proposal_id}


def _solve(o: Organisation) -> dict[str, Any]:
    return {"horizon_days": 2, "objective": "makespan", "time_limit_s": 1}


BODIES = {
    ("POST", "/api/v1/apps/scheduling/solve"): _solve,
    ("POST", "/api/v1/apps/scheduling/plans/{sched_plan_id}/resolve"): lambda o: {"time_limit_s": 1},
    ("POST", "/api/v1/apps/scheduling/plans/{sched_plan_id}/pins"): lambda o: {"op_key": "RS-SCHED/10"},
    ("POST", "/apps/scheduling/solve"): lambda o: {"horizon_days": "2", "objective": "makespan", "time_limit_s": "1"},
    ("POST", "/apps/scheduling/plans/{sched_plan_id}/pins"): lambda o: {"op_key": "RS-SCHED/10"},
}
