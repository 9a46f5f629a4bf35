"""What the programme's instruments achieved: matched difference-in-differences on the monthly outcomes.

Method (docs/policy-effect.md):

- **Participation** of an enterprise in an instrument, read from the workflow tables: a service voucher redeemed
  (date of redemption), an innovation subsidy or certification reward granted (approval), a shared-service seat
  allocated (allocation), a diagnosis completed (completion), a demonstration project selected (selection).
  The first participation counts; with a year, only enterprises whose first participation fell in that year.
- **Controls**: enterprises that never took part in the instrument, matched on industry (cluster), district and
  size band (``EnterpriseProfile``). When that cell holds fewer than ``MIN_CELL`` usable controls, the match is
  coarsened step by step (industry and district; industry and size; industry; all) and the page says how many
  enterprises were matched at each level.
- **Estimate**: for each participant, the change of its mean outcome from the ``WINDOW`` months before its
  participation month to the ``WINDOW`` months after (the participation month itself left out), minus the same
  change of its matched controls over the same calendar months; the average over participants (the effect on
  the enterprises that took part). At least ``MIN_MONTHS`` months with data on each side.
- **Interval**: 95 % percentile interval of an enterprise-level Poisson bootstrap (``BOOTSTRAP`` draws, fixed
  seed): every enterprise, participant or control, is re-drawn as a whole with all its months, so the serial
  correlation within an enterprise and one control serving several participants are both accounted for.
- **Parallel trends**: the same estimator on the pre-period alone (the last three months before participation
  against the three before them): a placebo difference whose interval should contain zero.
- Only groups of at least ``MIN_GROUP`` participants and ``MIN_GROUP`` controls are shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from scipy import stats  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.programme.models import Diagnosis
from chaoyun.programme.outcomes import service as outcomes
from chaoyun.programme.workflow_models import DemoApplication, SeatApplication, SubsidyApplication, Voucher

INSTRUMENTS: tuple[str, ...] = ("vouchers", "subsidies", "shared_services", "diagnosis", "demonstration")
INSTRUMENT_LABELS: dict[str, str] = {
    "vouchers": N_("Service vouchers"),
    "subsidies": N_("Innovation subsidies"),
    "shared_services": N_("Shared services"),
    "diagnosis": N_("Diagnosis"),
    "demonstration": N_("Demonstration projects"),
}
PARTICIPATION_LABELS: dict[str, str] = {
    "vouchers": N_("voucher redeemed"),
    "subsidies": N_("subsidy or reward granted"),
    "shared_services": N_("shared-service seat allocated"),
    "diagnosis": N_("diagnosis completed"),
    "demonstration": N_("demonstration project selected"),
}
WINDOW = 6
MIN_MONTHS = 2
MIN_CELL = 3
MIN_GROUP = 5
BOOTSTRAP = 1000
SEED = 20180
LEVELS: tuple[tuple[str, ...], ...] = (
    ("cluster", "district", "size_class"),
    ("cluster", "district"),
    ("cluster", "size_class"),
    ("cluster",),
    (),
)
LEVEL_LABELS: dict[int, str] = {
    0: N_("same industry, district and size band"),
    1: N_("same industry and district (size band dropped: too few controls)"),
    2: N_("same industry and size band (district dropped: too few controls)"),
    3: N_("same industry only (too few controls in finer cells)"),
    4: N_("all non-participants (too few controls in the industry)"),
}
REDEEMED = ("district_review", "city_review", "public_notice", "approved", "paid")
GRANTED = ("public_notice", "approved", "paid")
MONEY_STATES = ("approved", "paid")
CAVEATS: tuple[str, ...] = (
    N_(
        "Observational data, not a trial: enterprises chose to take part, and what made them take part may also"
        " have changed their results."
    ),
    N_(
        "Controls are enterprises of the same industry, district and size band that did not take part; differences"
        " they do not share with the participants (management, orders) are not removed."
    ),
    N_("Outcomes are computed from what the enterprises' machines and people recorded on the platform."),
)
METHOD_NOTE = N_(
    "Interval: enterprise-level bootstrap (every enterprise re-drawn with all its months, 1000 draws); groups of"
    " fewer than %(n)s enterprises are not shown."
)
PRETREND_WARNING = N_(
    "Before participation the two groups already moved differently: the estimate may carry that difference."
)
YEAR_RANGE = N_("Year must be between 2000 and 2100.")
PRETREND_OK = N_("Before participation the two groups moved together (the placebo interval contains zero).")


class UnknownChoice(Invalid):
    code = "unknown_choice"


def check_choice(instrument: str, outcome: str) -> None:
    if instrument not in INSTRUMENTS:
        raise UnknownChoice(
            N_("Unknown instrument “%(value)s”; choose one of: %(choices)s."),
            field="instrument",
            value=instrument,
            choices=", ".join(INSTRUMENTS),
        )
    if outcome not in outcomes.OUTCOMES:
        raise UnknownChoice(
            N_("Unknown outcome “%(value)s”; choose one of: %(choices)s."),
            field="outcome",
            value=outcome,
            choices=", ".join(outcomes.OUTCOMES),
        )


@dataclass(frozen=True)
class Participation:
    org_id: int
    day: date
    money: Decimal | None  # approved and paid money of the instrument for this enterprise; None: no money table


def _day(at: datetime | date | None) -> date | None:
    if at is None:
        return None
    if isinstance(at, datetime):
        from chaoyun.apps.oee.calendar import LOCAL

        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(LOCAL).date()
    return at


def participations(db: Session, instrument: str) -> dict[int, Participation]:
    """First participation of every enterprise that took part in the instrument, with its money."""
    rows: list[tuple[int, datetime | date | None, Decimal | None, str]] = []
    has_money = instrument in ("vouchers", "subsidies")
    if instrument == "vouchers":
        q = select(Voucher.enterprise_org_id, Voucher.redeemed_at, Voucher.reimbursable, Voucher.state).where(
            Voucher.state.in_(REDEEMED)
        )
        rows = [(int(o), at, m, s) for o, at, m, s in db.execute(q)]
    elif instrument == "subsidies":
        q2 = select(
            SubsidyApplication.enterprise_org_id,
            SubsidyApplication.approved_at,
            SubsidyApplication.approved_amount,
            SubsidyApplication.state,
        ).where(SubsidyApplication.state.in_(GRANTED))
        rows = [(int(o), at, m, s) for o, at, m, s in db.execute(q2)]
    elif instrument == "shared_services":
        q3 = select(SeatApplication.enterprise_org_id, SeatApplication.allocated_at).where(
            SeatApplication.allocated_at.is_not(None), SeatApplication.state.in_(("allocated", "released"))
        )
        rows = [(int(o), at, None, "") for o, at in db.execute(q3)]
    elif instrument == "diagnosis":
        q4 = select(Diagnosis.org_id, Diagnosis.completed_at).where(Diagnosis.status == "completed")
        rows = [(int(o), at, None, "") for o, at in db.execute(q4)]
    elif instrument == "demonstration":
        q5 = select(DemoApplication.org_id, DemoApplication.selected_at).where(DemoApplication.state == "approved")
        rows = [(int(o), at, None, "") for o, at in db.execute(q5)]
    first: dict[int, date] = {}
    money: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for org_id, at, amount, state in rows:
        d = _day(at)
        if d is None:
            continue
        if org_id not in first or d < first[org_id]:
            first[org_id] = d
        if has_money and amount is not None and state in MONEY_STATES:
            money[org_id] += Decimal(amount)
    return {o: Participation(o, d, money[o] if has_money else None) for o, d in first.items()}


@dataclass
class Estimate:
    value: float
    low: float
    high: float


@dataclass
class EffectResult:
    instrument: str
    outcome: str
    year: int | None
    district: str | None
    participants: int = 0  # took part (in the year and the scope)
    treated: int = 0  # behind the estimate (enough months on both sides, matched)
    controls: int = 0  # distinct controls behind the estimate
    estimate: Estimate | None = None
    pretrend: Estimate | None = None
    money_total: Decimal | None = None
    money_per_unit: Decimal | None = None
    money_note: str | None = None
    match_levels: dict[int, int] = field(default_factory=dict)
    withheld: str | None = None  # msgid: why no figure is shown
    event_months: list[int] = field(default_factory=list)
    treated_series: list[float | None] = field(default_factory=list)
    control_series: list[float | None] = field(default_factory=list)
    caveats: tuple[str, ...] = CAVEATS
    dropped_no_data: int = 0
    dropped_no_controls: int = 0

    @property
    def shown(self) -> bool:
        return self.withheld is None and self.estimate is not None

    @property
    def pretrend_ok(self) -> bool | None:
        if self.pretrend is None:
            return None
        return self.pretrend.low <= 0.0 <= self.pretrend.high

    def as_dict(self) -> dict[str, Any]:
        def est(e: Estimate | None) -> dict[str, float] | None:
            return None if e is None else {"value": e.value, "low": e.low, "high": e.high}

        return {
            "instrument": self.instrument,
            "outcome": self.outcome,
            "year": self.year,
            "district": self.district,
            "participants": self.participants,
            "treated": self.treated,
            "controls": self.controls,
            "estimate": est(self.estimate) if self.shown else None,
            "pretrend": est(self.pretrend) if self.shown else None,
            "money_total": str(self.money_total) if self.money_total is not None and self.shown else None,
            "money_per_unit": str(self.money_per_unit) if self.money_per_unit is not None and self.shown else None,
            "match_levels": {str(k): v for k, v in sorted(self.match_levels.items())},
            "withheld": self.withheld,
            "event_months": self.event_months,
            "treated_series": self.treated_series if self.shown else [],
            "control_series": self.control_series if self.shown else [],
            "method": "matched difference-in-differences; 95% enterprise-level Poisson bootstrap percentile interval",
        }


@dataclass
class Profiles:
    ids: list[int]
    keys: dict[int, dict[str, str]]


def _profiles(db: Session, district: str | None) -> Profiles:
    stmt = (
        select(EnterpriseProfile.org_id, EnterpriseProfile.cluster, EnterpriseProfile.size_class, Organisation.district)
        .join(Organisation, Organisation.id == EnterpriseProfile.org_id)
        .where(Organisation.kind == "enterprise")
    )
    if district:
        stmt = stmt.where(Organisation.district == district)
    keys: dict[int, dict[str, str]] = {}
    for org_id, cluster, size, dist in db.execute(stmt):
        keys[int(org_id)] = {"cluster": cluster or "", "size_class": size or "", "district": dist or ""}
    return Profiles(sorted(keys), keys)


def _matrix(hist: dict[int, dict[date, float]], ids: list[int]) -> tuple[np.ndarray, list[date]]:
    found = [m for per in hist.values() for m in per]
    if not found:
        return np.full((len(ids), 0), np.nan), []
    months = outcomes.months_between(min(found), max(found))
    col = {m: i for i, m in enumerate(months)}
    v = np.full((len(ids), len(months)), np.nan)
    for r, org_id in enumerate(ids):
        for m, x in hist.get(org_id, {}).items():
            v[r, col[m]] = x
    return v, months


def _window(v: np.ndarray, m0: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and count of months with data in columns m0+lo .. m0+hi (clipped to the data)."""
    a, b = max(0, m0 + lo), min(v.shape[1], m0 + hi + 1)
    if b <= a:
        return np.full(v.shape[0], np.nan), np.zeros(v.shape[0], dtype=int)
    block = v[:, a:b]
    n = np.sum(~np.isnan(block), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(block, axis=1) / np.maximum(n, 1), np.nan)
    return mean, n


def _changes(v: np.ndarray, m0: int) -> tuple[np.ndarray, np.ndarray]:
    """Per enterprise, for participation month column m0: the DiD change (after − before) and the placebo
    change within the pre-period (last three months − the three before); NaN where data are too thin."""
    pre, n_pre = _window(v, m0, -WINDOW, -1)
    post, n_post = _window(v, m0, 1, WINDOW)
    change = np.where((n_pre >= MIN_MONTHS) & (n_post >= MIN_MONTHS), post - pre, np.nan)
    half = WINDOW // 2
    early, n_e = _window(v, m0, -WINDOW, -half - 1)
    late, n_l = _window(v, m0, -half, -1)
    placebo = np.where((n_e >= 1) & (n_l >= 1) & (n_e + n_l >= 3), late - early, np.nan)
    return change, placebo


@dataclass
class _Group:
    """Participants sharing one participation month and one control pool."""

    month_col: int
    level: int
    treated_rows: list[int]
    control_rows: list[int]


def _bootstrap(
    groups: list[_Group], values: dict[int, np.ndarray], n_orgs: int, draws: int, seed: int
) -> tuple[float, float, float] | None:
    """ATT = mean over participants of (own change − mean change of its controls), with a percentile interval
    from an enterprise-level Poisson bootstrap. ``values[month_col]`` holds every enterprise's change for that
    participation month (NaN: unusable)."""
    rng = np.random.default_rng(seed)
    weights = rng.poisson(1.0, size=(draws, n_orgs)).astype(np.float32)
    num = np.zeros(draws)
    den = np.zeros(draws)
    point_num = 0.0
    point_den = 0
    for g in groups:
        x = values[g.month_col]
        t_rows = [r for r in g.treated_rows if not np.isnan(x[r])]
        c_rows = [r for r in g.control_rows if not np.isnan(x[r])]
        if not t_rows or not c_rows:
            continue
        xc = x[c_rows]
        xt = x[t_rows]
        point_num += float(np.sum(xt - xc.mean()))
        point_den += len(t_rows)
        wc = weights[:, c_rows]
        sw = wc.sum(axis=1)
        cmean = np.where(sw > 0, (wc @ xc) / np.maximum(sw, 1e-9), np.nan)
        wt = weights[:, t_rows]
        ok = ~np.isnan(cmean)
        num += np.where(ok, wt @ xt - wt.sum(axis=1) * np.nan_to_num(cmean), 0.0)
        den += np.where(ok, wt.sum(axis=1), 0.0)
    if point_den == 0:
        return None
    good = den > 0
    reps = num[good] / den[good]
    point = point_num / point_den
    if len(reps) < 10:
        return point, float("nan"), float("nan")
    lo, hi = np.percentile(reps, [2.5, 97.5])
    return point, float(lo), float(hi)


def estimate(
    db: Session,
    instrument: str,
    outcome: str,
    year: int | None = None,
    district: str | None = None,
    history: dict[int, dict[date, float]] | None = None,
    draws: int = BOOTSTRAP,
) -> EffectResult:
    """The effect of one instrument on one outcome (city-wide, or one district's enterprises only)."""
    check_choice(instrument, outcome)
    res = EffectResult(instrument, outcome, year, district)
    prof = _profiles(db, district)
    parts = {o: p for o, p in participations(db, instrument).items() if o in prof.keys}
    takers = {o: p for o, p in parts.items() if year is None or p.day.year == year}
    res.participants = len(takers)
    ids = prof.ids
    row = {o: i for i, o in enumerate(ids)}
    hist = history if history is not None else outcomes.history(db, outcome, ids)
    v, months = _matrix(hist, ids)
    res.event_months = list(range(-WINDOW, WINDOW + 1))
    if len(takers) < MIN_GROUP:
        res.withheld = N_("Fewer than %(n)s enterprises took part: no figure is shown, so no one can be identified.")
        return res
    if not months:
        res.withheld = N_("No monthly outcomes are recorded yet for these enterprises.")
        return res
    col = {m: i for i, m in enumerate(months)}
    never = [o for o in ids if o not in parts]
    # Pools of controls per matching key, per level.
    pools: list[dict[tuple[str, ...], list[int]]] = []
    for fields in LEVELS:
        pool: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for o in never:
            pool[tuple(prof.keys[o][f] for f in fields)].append(row[o])
        pools.append(pool)
    changes: dict[int, np.ndarray] = {}
    placebos: dict[int, np.ndarray] = {}
    groups: dict[tuple[int, int, tuple[str, ...]], _Group] = {}
    for o, p in sorted(takers.items()):
        m = outcomes.month_start(p.day)
        if m not in col:
            # Participation outside the months with data (before or after): nothing to compare.
            res.dropped_no_data += 1
            continue
        c = col[m]
        if c not in changes:
            changes[c], placebos[c] = _changes(v, c)
        if np.isnan(changes[c][row[o]]):
            res.dropped_no_data += 1
            continue
        for level, fields in enumerate(LEVELS):
            key = tuple(prof.keys[o][f] for f in fields)
            usable = [r for r in pools[level].get(key, []) if not np.isnan(changes[c][r])]
            if len(usable) >= MIN_CELL:
                g = groups.setdefault((c, level, key), _Group(c, level, [], usable))
                g.treated_rows.append(row[o])
                res.match_levels[level] = res.match_levels.get(level, 0) + 1
                break
        else:
            res.dropped_no_controls += 1
    group_list = list(groups.values())
    treated_rows = {r for g in group_list for r in g.treated_rows}
    control_rows = {r for g in group_list for r in g.control_rows}
    res.treated, res.controls = len(treated_rows), len(control_rows)
    if res.treated < MIN_GROUP or res.controls < MIN_GROUP:
        res.withheld = N_(
            "Fewer than %(n)s participants or controls have enough months of data before and after: no figure"
            " is shown."
        )
        return res
    seed = SEED + INSTRUMENTS.index(instrument) * 100 + outcomes.OUTCOMES.index(outcome)
    main = _bootstrap(group_list, changes, len(ids), draws, seed)
    pre_groups = [
        _Group(g.month_col, g.level, g.treated_rows, _usable(g.control_rows, placebos[g.month_col]))
        for g in group_list
    ]
    pre = _bootstrap(pre_groups, placebos, len(ids), draws, seed + 1)
    if main is not None:
        res.estimate = Estimate(*main)
    if pre is not None:
        res.pretrend = Estimate(*pre)
    _series(res, v, group_list)
    _money(res, takers, ids, treated_rows)
    return res


def _usable(rows: list[int], values: np.ndarray) -> list[int]:
    return [r for r in rows if not np.isnan(values[r])]


def _series(res: EffectResult, v: np.ndarray, groups: list[_Group]) -> None:
    """Mean outcome of the participants and of their matched controls, by month relative to participation."""
    tsum = np.zeros(len(res.event_months))
    tn = np.zeros(len(res.event_months))
    csum = np.zeros(len(res.event_months))
    cn = np.zeros(len(res.event_months))
    for g in groups:
        for k, rel in enumerate(res.event_months):
            c = g.month_col + rel
            if not 0 <= c < v.shape[1]:
                continue
            ct = v[g.control_rows, c]
            ct = ct[~np.isnan(ct)]
            tt = v[g.treated_rows, c]
            tt = tt[~np.isnan(tt)]
            if len(tt) and len(ct):
                tsum[k] += float(tt.sum())
                tn[k] += len(tt)
                # Each participant is compared with its own controls' mean that month.
                csum[k] += float(ct.mean()) * len(tt)
                cn[k] += len(tt)
    res.treated_series = [round(float(s / n), 3) if n >= MIN_GROUP else None for s, n in zip(tsum, tn, strict=True)]
    res.control_series = [round(float(s / n), 3) if n >= MIN_GROUP else None for s, n in zip(csum, cn, strict=True)]


def _money(res: EffectResult, takers: dict[int, Participation], ids: list[int], rows: set[int]) -> None:
    in_estimate = [ids[r] for r in rows]
    amounts = [takers[o].money for o in in_estimate if o in takers]
    if not amounts or any(a is None for a in amounts):
        res.money_note = N_("This instrument has no money records (services bought centrally or no payment).")
        return
    total = sum((a for a in amounts if a is not None), Decimal("0.00"))
    res.money_total = total
    e = res.estimate
    if e is None:
        return
    gain = e.value if outcomes.HIGHER_IS_BETTER[res.outcome] else -e.value
    excludes_zero = (e.low > 0 or e.high < 0) and not (np.isnan(e.low) or np.isnan(e.high))
    if gain <= 0 or not excludes_zero:
        res.money_note = N_("No improvement was measured, so there is no cost per unit of improvement.")
        return
    per = total / (Decimal(repr(gain)) * res.treated)
    res.money_per_unit = per.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def pretrend_p_value(result: EffectResult) -> float | None:
    """Two-sided p-value of the placebo difference (normal approximation from the bootstrap interval)."""
    e = result.pretrend
    if e is None or np.isnan(e.low) or np.isnan(e.high) or e.high <= e.low:
        return None
    se = (e.high - e.low) / (2 * 1.959964)
    return float(2 * stats.norm.sf(abs(e.value) / se)) if se > 0 else None


def years_with_participation(db: Session, instrument: str) -> list[int]:
    return sorted({p.day.year for p in participations(db, instrument).values()})


MAIN_OUTCOMES = ("oee", "quality_rate", "energy_per_unit")


def summary(db: Session, outcome_list: tuple[str, ...] = MAIN_OUTCOMES) -> list[EffectResult]:
    """Every instrument against the main outcomes, city-wide (the evaluation exports and the public page)."""
    out = []
    for outcome in outcome_list:
        hist = outcomes.history(db, outcome)
        for instrument in INSTRUMENTS:
            out.append(estimate(db, instrument, outcome, history=hist))
    return out
