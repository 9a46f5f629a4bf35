"""The other half of the proof: the same simulated history with no planted effect (the vouchers change nothing
in the machines' activity). The interval must contain zero, the page shows no cost per unit of improvement."""

from __future__ import annotations

from sqlalchemy.orm import Session

from chaoyun.programme.effect import service as effect
from tests.programme.test_effect_planted import seed_history


def test_with_no_planted_effect_the_interval_contains_zero(db: Session) -> None:
    result = seed_history(db, 0.0)
    assert len(result.treated) >= 10
    r = effect.estimate(db, "vouchers", "oee")
    assert r.shown, r.withheld
    e = r.estimate
    assert e is not None
    assert e.low <= 0.0 <= e.high, (e.value, e.low, e.high)
    # The interval is narrow enough that a 3-point effect would have been seen.
    assert e.high < 3.0 and e.low > -3.0
    assert r.pretrend_ok
    assert r.money_per_unit is None and r.money_note is not None
