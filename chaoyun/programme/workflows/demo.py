"""Demo data of the money workflows: an open voucher round, a shared cloud service with seats per industry
and an open call for benchmark demonstration projects, so every page has something to act on.

Deterministic and idempotent (looked up by name). Called from the programme context's demo seeding.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.identity import audit
from chaoyun.programme.workflow_models import DemoCall, SharedService, SharedServiceQuota, VoucherRound
from chaoyun.programme.workflows.demonstration import DEFAULT_RUBRIC

ROUND_NAME = "汕头市工业企业“上云用云”服务券（演示批次）"
SERVICE_NAME = "云端MES生产管控共享服务（政府购买）"
CALL_NAME = "汕头市工业互联网应用标杆示范项目征集（演示）"


def seed(db: Session) -> dict[str, int]:
    now = utcnow().replace(microsecond=0)
    created = {"voucher_rounds": 0, "shared_services": 0, "demo_calls": 0}
    if db.execute(select(VoucherRound.id).where(VoucherRound.name == ROUND_NAME)).first() is None:
        db.add(
            VoucherRound(
                year=now.year,
                name=ROUND_NAME,
                budget=Decimal("5000000.00"),
                committed=Decimal("0.00"),
                paid_total=Decimal("0.00"),
                # The provincial ratio and cap are not in the pack; the demo round sets illustrative ones.
                face_ratio=Decimal("0.5000"),
                cap_per_voucher=Decimal("100000.00"),
                claim_opens=now - timedelta(days=7),
                claim_closes=now + timedelta(days=60),
                redeem_opens=now - timedelta(days=7),
                redeem_closes=now + timedelta(days=120),
                notice_days=5,
            )
        )
        created["voucher_rounds"] += 1
    if db.execute(select(SharedService.id).where(SharedService.name == SERVICE_NAME)).first() is None:
        s = SharedService(name=SERVICE_NAME, area="production_control", year=now.year, status="open")
        for cluster, seats in (("toys", 5), ("textiles_apparel", 3), ("light_equipment", 2)):
            s.quotas.append(SharedServiceQuota(cluster=cluster, seats=seats))
        db.add(s)
        created["shared_services"] += 1
    if db.execute(select(DemoCall.id).where(DemoCall.title == CALL_NAME)).first() is None:
        db.add(
            DemoCall(
                kind="benchmark_project",
                year=now.year,
                title=CALL_NAME,
                opens_at=now - timedelta(days=7),
                closes_at=now + timedelta(days=30),
                slots=20,
                pass_score=Decimal("60"),
                rubric=DEFAULT_RUBRIC,
                notice_days=5,
                status="open",
            )
        )
        created["demo_calls"] += 1
    if any(created.values()):
        db.flush()
        audit.record(
            db,
            actor_user_id=None,
            actor_username="system",
            actor_org_id=None,
            action="seed",
            object_type="programme_workflows",
            after=created,
        )
    db.commit()
    return created
