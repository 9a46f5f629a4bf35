"""The demo's planted effect: a year of simulated machine activity before the demo week, in which the
enterprises that redeemed a service voucher stop their machines less (+3 OEE points), then every month's
outcomes computed by the platform's rules, so /programme/effect shows a measured effect on first login.

Called from ``chaoyun demo`` (``chaoyun.cli._demo_history``). Idempotent: skipped once the simulated rounds
exist.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.programme.effect import exports
from chaoyun.programme.outcomes import service as outcomes
from chaoyun.programme.workflow_models import VoucherRound
from chaoyun.simulator import planted

DEMO_PLAN = planted.Plan(months=12, effect_points=3.0, treated_share=0.5, seed=2018)


def seed_planted(db: Session, org_ids: list[int], history_days: float) -> dict[str, int]:
    """Plant the effect for ``org_ids`` (the simulated factories) in the year before the demo's machine history
    (which starts ``history_days`` ago), then snapshot those months' outcomes."""
    done = db.execute(select(VoucherRound.id).where(VoucherRound.name.like(f"{planted.ROUND_PREFIX}%"))).first()
    if done is not None:
        return {"enterprises": 0, "treated": 0, "points": 0, "rows": 0}
    start = (datetime.now(UTC) - timedelta(days=history_days)).astimezone(planted.LOCAL).date()
    end = datetime.combine(start, time(0), planted.LOCAL)
    result = planted.plant_history(db, org_ids, DEMO_PLAN, end=end)
    orgs = sorted(result.machines)
    rows = sum(outcomes.snapshot_month(db, m, orgs) for m in result.months())
    exports.forget()
    return {"enterprises": len(orgs), "treated": len(result.treated), "points": result.points, "rows": rows}
