"""Proof that the policy-effect figures measure and do not invent: the simulator plants a known effect in
machine *activity* (after its voucher an enterprise's machines stop for fewer minutes a day, sized to +3 OEE
points), the outcomes are computed from that activity by the platform's own rules (``snapshot_month``: the OEE
app over the stored telemetry), and the difference-in-differences must find the planted effect inside its
interval. ``test_effect_null.py`` plants nothing and the interval must contain zero.

40 enterprises (the test database's), one machine each, 12 months of coarse daily activity, about 220,000
points; a common month-to-month swing shared by every enterprise (what a naive before/after would mistake
for an effect) and daily noise."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.oee import service as oee_service
from chaoyun.devices import service as devices_service
from chaoyun.devices.schemas import DeviceIn
from chaoyun.identity.models import Organisation
from chaoyun.programme.effect import service as effect
from chaoyun.programme.outcomes import service as outcomes
from chaoyun.simulator import planted
from tests.programme.helpers import actor

PLANTED_POINTS = 3.0


def seed_history(db: Session, effect_points: float, seed: int = 2018) -> planted.Planted:
    """One injection moulding machine per enterprise (the devices service), 12 months of simulated activity,
    vouchers for about half of the enterprises, then every month's outcomes by the real rules."""
    admin = actor(db, "admin")
    orgs = list(
        db.execute(select(Organisation.id).where(Organisation.kind == "enterprise").order_by(Organisation.id)).scalars()
    )
    for org_id in orgs:
        if planted.production_machine(db, org_id) is None:
            devices_service.create_device(db, admin, DeviceIn(name="历史1号注塑机", model="injection_moulding"), org_id)
    plan = planted.Plan(months=12, effect_points=effect_points, seed=seed)
    result = planted.plant_history(db, orgs, plan)
    for month in result.months():
        outcomes.snapshot_month(db, month, orgs)
    return result


def test_planted_effect_is_recovered_within_its_interval(db: Session) -> None:
    result = seed_history(db, PLANTED_POINTS)
    assert len(result.machines) >= 35 and len(result.treated) >= 10

    # The outcome rows are what the OEE app computes from the stored activity (no number was written directly).
    org_id, day = sorted(result.treated.items())[0]
    month = outcomes.add_months(outcomes.month_start(day), 2)
    last = outcomes.next_month(month) - timedelta(days=1)
    period = oee_service.compute_period(db, org_id, month, last)
    assert abs(outcomes.history(db, "oee", [org_id])[org_id][month] - 100 * period.summary().oee) < 1e-3

    r = effect.estimate(db, "vouchers", "oee")
    assert r.shown, r.withheld
    assert r.treated >= 10 and r.controls >= 10
    e = r.estimate
    assert e is not None
    assert e.low <= PLANTED_POINTS <= e.high, (e.value, e.low, e.high)
    assert e.low > 0, "the planted effect must be told apart from nothing"
    # Before the vouchers the two groups moved together (the parallel-trends check passes).
    assert r.pretrend_ok, r.pretrend
    # Money per unit of improvement: the vouchers' approved and paid amounts over (points x enterprises).
    assert r.money_total is not None and r.money_per_unit is not None
    assert r.money_per_unit == (r.money_total / (Decimal(repr(e.value)) * r.treated)).quantize(
        Decimal("0.01")
    )
    # Chart series: participants above their controls after participation, not before.
    pairs = zip(r.treated_series, r.control_series, r.event_months, strict=True)
    after = [t - c for t, c, m in pairs if m >= 1 and t is not None and c is not None]
    assert after and min(after) > 0


def test_an_outcome_the_effect_did_not_touch_shows_no_effect(db: Session) -> None:
    """Quality was not planted (the machines' reject share is the enterprise's constant): its interval holds 0."""
    r = effect.estimate(db, "vouchers", "quality_rate")
    assert r.shown and r.estimate is not None
    assert r.estimate.low <= 0.0 <= r.estimate.high
    assert r.money_per_unit is None and r.money_note is not None


def test_a_district_officer_sees_only_the_district_and_small_groups_are_withheld(db: Session) -> None:
    city = effect.estimate(db, "vouchers", "oee")
    some = effect.estimate(db, "vouchers", "oee", district="nanao")
    assert some.participants < city.participants
    if some.participants < effect.MIN_GROUP:
        assert not some.shown and some.withheld is not None
        assert some.as_dict()["estimate"] is None and some.as_dict()["treated_series"] == []
