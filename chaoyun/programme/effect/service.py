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

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from scipy import sparse, stats  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.programme.models import Diagnosis
from chaoyun.programme.outcomes import service as outcomes
from chaoyun.programme.outcomes.models import OutcomeSnapshot
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


Columns = tuple[np.ndarray, list[date], np.ndarray, np.ndarray]


def _matrix(columns: Columns, row: dict[int, int], n: int) -> tuple[np.ndarray, list[date]]:
    """Enterprises × months (every month from the first to the last with data), NaN where there is none."""
    orgs, found, month_idx, values = columns
    if not found:
        return np.full((n, 0), np.nan), []
    months = outcomes.months_between(found[0], found[-1])
    shift = np.asarray([months.index(m) for m in found], dtype=np.int64)
    ids = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
    pos = np.fromiter(row.values(), dtype=np.int64, count=len(row))
    order = np.argsort(ids)
    ids, pos = ids[order], pos[order]
    at = np.clip(np.searchsorted(ids, orgs), 0, max(len(ids) - 1, 0))
    keep = (ids[at] == orgs) if len(ids) else np.zeros(len(orgs), dtype=bool)
    v = np.full((n, len(months)), np.nan)
    v[pos[at[keep]], shift[month_idx[keep]]] = values[keep]
    return v, months


@dataclass
class _Cached:
    at: float
    version: tuple[str, int]
    ids: np.ndarray
    matrix: np.ndarray
    months: list[date]


MATRIX_CACHE_S = 600.0
_matrix_lock = threading.Lock()
_matrices: dict[tuple[str, str, str | None], _Cached] = {}


def snapshot_version(db: Session) -> tuple[str, int]:
    """Changes whenever snapshots are computed again (every recomputation inserts new rows): the database and
    the newest snapshot id (the primary key: no scan)."""
    url = str(db.connection().engine.url)
    return url, int(db.execute(select(func.max(OutcomeSnapshot.id))).scalar() or 0)


def _outcome_matrix(
    db: Session, outcome: str, district: str | None, ids: list[int], row: dict[int, int]
) -> tuple[np.ndarray, list[date]]:
    """The scope's enterprises × months matrix of one outcome, kept per process while the snapshots do not change
    (newest snapshot id) and for at most MATRIX_CACHE_S seconds: reading 180,000 rows for 5,000 enterprises
    costs more than the whole estimate."""
    version = snapshot_version(db)
    id_arr = np.asarray(ids, dtype=np.int64)
    key = (version[0], outcome, district)
    now = time.monotonic()
    with _matrix_lock:
        hit = _matrices.get(key)
    if (
        hit is not None
        and hit.version == version
        and now - hit.at < MATRIX_CACHE_S
        and np.array_equal(hit.ids, id_arr)
    ):
        return hit.matrix, hit.months
    v, months = _matrix(outcomes.history_columns(db, outcome, ids if district else None), row, len(ids))
    with _matrix_lock:
        _matrices[key] = _Cached(now, version, id_arr, v, months)
    return v, months


def forget_matrices() -> None:
    """Forget the cached outcome matrices and results (tests, benchmarks)."""
    with _matrix_lock:
        _matrices.clear()
        _results.clear()


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
    control_rows: np.ndarray


@dataclass
class _Pairs:
    """Every (group, enterprise) pair of the estimate, as flat arrays: numpy does the sums per group."""

    t_group: np.ndarray
    t_row: np.ndarray
    c_group: np.ndarray
    c_row: np.ndarray
    month_col: np.ndarray  # per group
    n_groups: int


def _pairs(groups: list[_Group]) -> _Pairs:
    tg = np.concatenate([np.full(len(g.treated_rows), i, dtype=np.int64) for i, g in enumerate(groups)])
    tr = np.concatenate([np.asarray(g.treated_rows, dtype=np.int64) for g in groups])
    cg = np.concatenate([np.full(len(g.control_rows), i, dtype=np.int64) for i, g in enumerate(groups)])
    cr = np.concatenate([np.asarray(g.control_rows, dtype=np.int64) for g in groups])
    cols = np.asarray([g.month_col for g in groups], dtype=np.int64)
    return _Pairs(tg, tr, cg, cr, cols, len(groups))


# Poisson(1) by table look-up: a uniform 16-bit integer indexes the distribution's quantiles (exact to 1/65536 in
# probability, 40 times faster than numpy's Poisson sampler for the 5 million weights of a 5,000-enterprise page).
_POISSON1 = np.searchsorted(
    np.cumsum([math.exp(-1) / math.factorial(k) for k in range(20)]), (np.arange(65536) + 0.5) / 65536
).astype(np.float32)


def _weights(n_orgs: int, draws: int, seed: int) -> np.ndarray:
    """One Poisson(1) weight per enterprise (row) and draw: the enterprise-level bootstrap."""
    idx = np.random.default_rng(seed).integers(0, 65536, size=(n_orgs, draws), dtype=np.uint16)
    return _POISSON1[idx]


def _bootstrap(pairs: _Pairs, values: np.ndarray, weights: np.ndarray) -> tuple[float, float, float] | None:
    """ATT = mean over participants of (own change − mean change of its controls), with a percentile interval
    from an enterprise-level Poisson bootstrap: each enterprise gets one Poisson(1) weight per draw, used
    wherever it appears (a control serving several groups keeps its weight). ``values[row, column]`` is the
    enterprise's change for the participation month of that column (NaN: unusable)."""
    xt = values[pairs.t_row, pairs.month_col[pairs.t_group]]
    xc = values[pairs.c_row, pairs.month_col[pairs.c_group]]
    tk, ck = ~np.isnan(xt), ~np.isnan(xc)
    tg, tr, xt = pairs.t_group[tk], pairs.t_row[tk], xt[tk]
    cg, cr, xc = pairs.c_group[ck], pairs.c_row[ck], xc[ck]
    if len(xt) == 0 or len(xc) == 0:
        return None
    g_n = pairs.n_groups
    used, inv = np.unique(np.concatenate([tr, cr]), return_inverse=True)
    ti, ci = inv[: len(tr)], inv[len(tr) :]
    # Point estimate.
    c_sum = np.bincount(cg, weights=xc, minlength=g_n)
    c_cnt = np.bincount(cg, minlength=g_n).astype(float)
    has_c = c_cnt > 0
    c_mean = np.divide(c_sum, c_cnt, out=np.zeros(g_n), where=has_c)
    keep = has_c[tg]
    if not keep.any():
        return None
    point = float(np.mean(xt[keep] - c_mean[tg[keep]]))
    # Bootstrap: sparse (group × enterprise) matrices times the weights (enterprise × draw).
    w = weights[used]
    shape = (g_n, len(used))
    t_x = sparse.csr_matrix((xt.astype(np.float32), (tg, ti)), shape=shape) @ w
    t_n = sparse.csr_matrix((np.ones(len(tg), dtype=np.float32), (tg, ti)), shape=shape) @ w
    c_x = sparse.csr_matrix((xc.astype(np.float32), (cg, ci)), shape=shape) @ w
    c_n = sparse.csr_matrix((np.ones(len(cg), dtype=np.float32), (cg, ci)), shape=shape) @ w
    ok = c_n > 0
    cm = np.divide(c_x, c_n, out=np.zeros_like(c_x), where=ok)
    num = np.where(ok, t_x - t_n * cm, 0.0).sum(axis=0, dtype=np.float64)
    den = np.where(ok, t_n, 0.0).sum(axis=0, dtype=np.float64)
    good = den > 0
    reps = num[good] / den[good]
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
    columns: Columns | None = None,
    draws: int = BOOTSTRAP,
    cache: bool = True,
) -> EffectResult:
    """The effect of one instrument on one outcome (city-wide, or one district's enterprises only).

    Kept per process (``cache``) until the outcome snapshots, the participations or the enterprises' profiles
    change, and for at most RESULT_CACHE_S seconds: reloading the page costs no new bootstrap."""
    check_choice(instrument, outcome)
    prof = _profiles(db, district)
    parts = {o: p for o, p in participations(db, instrument).items() if o in prof.keys}
    if not cache or columns is not None:
        return _estimate(db, instrument, outcome, year, district, columns, draws, prof, parts)
    key = hash(
        (
            snapshot_version(db),
            instrument,
            outcome,
            year,
            district,
            draws,
            tuple((o, *(prof.keys[o][f] for f in ("cluster", "size_class", "district"))) for o in prof.ids),
            tuple(sorted((o, p.day, p.money) for o, p in parts.items())),
        )
    )
    now = time.monotonic()
    with _matrix_lock:
        hit = _results.get(key)
    if hit is not None and now - hit[0] < RESULT_CACHE_S:
        return hit[1]
    res = _estimate(db, instrument, outcome, year, district, columns, draws, prof, parts)
    with _matrix_lock:
        if len(_results) > 256:
            _results.clear()
        _results[key] = (now, res)
    return res


RESULT_CACHE_S = 600.0
_results: dict[int, tuple[float, EffectResult]] = {}


def _estimate(
    db: Session,
    instrument: str,
    outcome: str,
    year: int | None,
    district: str | None,
    columns: Columns | None,
    draws: int,
    prof: Profiles,
    parts: dict[int, Participation],
) -> EffectResult:
    res = EffectResult(instrument, outcome, year, district)
    takers = {o: p for o, p in parts.items() if year is None or p.day.year == year}
    res.participants = len(takers)
    ids = prof.ids
    row = {o: i for i, o in enumerate(ids)}
    if columns is None:
        v, months = _outcome_matrix(db, outcome, district, ids, row)
    else:
        v, months = _matrix(columns, row, len(ids))
    res.event_months = list(range(-WINDOW, WINDOW + 1))
    if len(takers) < MIN_GROUP:
        res.withheld = N_("Fewer than %(n)s enterprises took part: no figure is shown, so no one can be identified.")
        return res
    if not months:
        res.withheld = N_("No monthly outcomes are recorded yet for these enterprises.")
        return res
    col = {m: i for i, m in enumerate(months)}
    never = [o for o in ids if o not in parts]
    # Pools of controls per matching key, per level (rows of the matrix).
    pools: list[dict[tuple[str, ...], np.ndarray]] = []
    for fields in LEVELS:
        pool: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for o in never:
            pool[tuple(prof.keys[o][f] for f in fields)].append(row[o])
        pools.append({k: np.asarray(x, dtype=np.int64) for k, x in pool.items()})
    empty = np.zeros(0, dtype=np.int64)
    n_cols = len(months)
    changes = np.full((len(ids), n_cols), np.nan)  # change of every enterprise for a participation month
    placebos = np.full((len(ids), n_cols), np.nan)
    done: set[int] = set()
    usable_memo: dict[tuple[int, int, tuple[str, ...]], np.ndarray] = {}
    groups: dict[tuple[int, int, tuple[str, ...]], _Group] = {}
    for o, p in sorted(takers.items()):
        m = outcomes.month_start(p.day)
        if m not in col:
            # Participation outside the months with data (before or after): nothing to compare.
            res.dropped_no_data += 1
            continue
        c = col[m]
        if c not in done:
            changes[:, c], placebos[:, c] = _changes(v, c)
            done.add(c)
        if np.isnan(changes[row[o], c]):
            res.dropped_no_data += 1
            continue
        for level, fields in enumerate(LEVELS):
            key = tuple(prof.keys[o][f] for f in fields)
            memo_key = (c, level, key)
            usable = usable_memo.get(memo_key)
            if usable is None:
                candidates = pools[level].get(key, empty)
                usable = usable_memo[memo_key] = candidates[~np.isnan(changes[candidates, c])]
            if len(usable) >= MIN_CELL:
                g = groups.setdefault(memo_key, _Group(c, level, [], usable))
                g.treated_rows.append(row[o])
                res.match_levels[level] = res.match_levels.get(level, 0) + 1
                break
        else:
            res.dropped_no_controls += 1
    group_list = list(groups.values())
    treated_rows = {r for g in group_list for r in g.treated_rows}
    control_rows = {int(r) for g in group_list for r in g.control_rows}
    res.treated, res.controls = len(treated_rows), len(control_rows)
    if res.treated < MIN_GROUP or res.controls < MIN_GROUP:
        res.withheld = N_(
            "Fewer than %(n)s participants or controls have enough months of data before and after: no figure"
            " is shown."
        )
        return res
    seed = SEED + INSTRUMENTS.index(instrument) * 100 + outcomes.OUTCOMES.index(outcome)
    pairs = _pairs(group_list)
    weights = _weights(len(ids), draws, seed)
    main = _bootstrap(pairs, changes, weights)
    pre = _bootstrap(pairs, placebos, weights)
    if main is not None:
        res.estimate = Estimate(*main)
    if pre is not None:
        res.pretrend = Estimate(*pre)
    _series(res, v, pairs)
    _money(res, takers, ids, treated_rows)
    return res


def _series(res: EffectResult, v: np.ndarray, pairs: _Pairs) -> None:
    """Mean outcome of the participants and of their matched controls, by month relative to participation
    (each participant against its own controls' mean that month); months with fewer than MIN_GROUP
    participants behind them are left empty."""
    g_n = pairs.n_groups
    t_series: list[float | None] = []
    c_series: list[float | None] = []
    for rel in res.event_months:
        cols = pairs.month_col + rel
        inside = (cols >= 0) & (cols < v.shape[1])
        tc, cc = np.clip(cols[pairs.t_group], 0, v.shape[1] - 1), np.clip(cols[pairs.c_group], 0, v.shape[1] - 1)
        tv = np.where(inside[pairs.t_group], v[pairs.t_row, tc], np.nan)
        cv = np.where(inside[pairs.c_group], v[pairs.c_row, cc], np.nan)
        tk, ck = ~np.isnan(tv), ~np.isnan(cv)
        t_sum = np.bincount(pairs.t_group[tk], weights=tv[tk], minlength=g_n)
        t_cnt = np.bincount(pairs.t_group[tk], minlength=g_n).astype(float)
        c_sum = np.bincount(pairs.c_group[ck], weights=cv[ck], minlength=g_n)
        c_cnt = np.bincount(pairs.c_group[ck], minlength=g_n).astype(float)
        both = (t_cnt > 0) & (c_cnt > 0)
        n = float(t_cnt[both].sum())
        if n < MIN_GROUP:
            t_series.append(None)
            c_series.append(None)
            continue
        c_mean = np.divide(c_sum, c_cnt, out=np.zeros(g_n), where=c_cnt > 0)
        t_series.append(round(float(t_sum[both].sum() / n), 4))
        c_series.append(round(float((c_mean[both] * t_cnt[both]).sum() / n), 4))
    res.treated_series, res.control_series = t_series, c_series


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
        for instrument in INSTRUMENTS:
            # City-wide through the per-process caches: the background task's call warms the page's defaults.
            out.append(estimate(db, instrument, outcome))
    return out
