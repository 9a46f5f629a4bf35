"""The industry common-problem report (行业共性问题改进建议报告), computed on request from the records.

Population: every enterprise's latest *completed* diagnosis (up to the end of ``year`` when one is given),
in the actor's scope (a district officer: their district only) and the chosen industry (cluster) and district.

- Areas are the questionnaire's groups (设备系统, 数据采集 … the "维度" of the diagnosis report), scored as the
  share of their points; scenes are rated L0–L4. Each is ranked weakest first by the mean share, then by the
  share of enterprises below the threshold (an area under half its points, a scene under L2).
- Leaders and laggards: enterprises at or above the 75th percentile of the total score against those at or
  below the 25th; their mean share per area and the gap; the P75−P25 spread of each area.
- Typical cases: one laggard and one leader, described as "一家澄海区玩具企业" unless the enterprise has
  consented to be named (``CaseConsent``).
- Offerings that address each weakness: the questionnaire's ``offering_categories`` of the area or scene, through
  ``marketplace.offerings_for_categories`` — the same mapping as the diagnosis report's recommendations.
- Platform data: ``programme.outcomes.service.latest`` (digital level, adoption stars, OEE, quality rate, energy
  per unit, devices connected) summarised over the same enterprises.

The five-enterprise rule: a group (the whole population, an industry or district row, the leaders or the
laggards, the enterprises with a platform figure) under ``MIN_GROUP`` is marked not shown and carries no figure
at all, so every output that renders this report (page, PDF, Excel, API) suppresses it the same way.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Forbidden, Invalid
from chaoyun.i18n import N_, gettext
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import CLUSTER_EN, CLUSTER_ZH, DISTRICT_EN, DISTRICT_ZH, Cluster, District, Role
from chaoyun.marketplace import service as marketplace
from chaoyun.programme import diagnosis as diag
from chaoyun.programme.commonproblems import permissions as perms
from chaoyun.programme.commonproblems.models import CaseConsent
from chaoyun.programme.models import Diagnosis
from chaoyun.programme.outcomes import service as outcomes
from chaoyun.programme.outcomes.models import OutcomeSnapshot
from chaoyun.programme.pack import get_pack
from chaoyun.programme.questionnaire import Questionnaire, score

log = logging.getLogger(__name__)
MIN_GROUP = 5
SUPPRESSED_NOTE = N_("Fewer than 5 enterprises: not shown")  # 样本不足 5 家，不予显示
WEAK_AREA_SHARE = 0.5  # an enterprise is weak in an area scoring under half its points
WEAK_SCENE_LEVEL = 2  # ... and in a scene below L2
# Weaknesses listed with offerings: the weakest areas, then the weakest scenes (a scene's share is its level over
# L4, not comparable with an area's share of points, so the two lists are not merged by share).
TOP_AREAS, TOP_SCENES = 3, 2
OFFERINGS_PER_WEAKNESS = 3


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    cluster: str | None = None
    district: str | None = None
    year: int | None = None
    # True when the district was imposed by the actor's role (a district officer), not chosen.
    district_locked: bool = False


def year_range() -> tuple[int, int]:
    return get_pack().period.start, max(get_pack().period.end, date.today().year)


def clean_filters(actor: Actor | None, cluster: str | None, district: str | None, year: int | str | None) -> Filters:
    """Check the filters; unknown industry or district, or a year outside the programme, is refused (422)."""
    cluster = (cluster or "").strip() or None
    district = (district or "").strip() or None
    if cluster is not None and cluster not in {c.value for c in Cluster}:
        raise Invalid(N_("Unknown industry: %(value)s."), field="cluster", value=cluster[:40])
    if district is not None and district not in {d.value for d in District}:
        raise Invalid(N_("Unknown district: %(value)s."), field="district", value=district[:40])
    y: int | None = None
    if year not in (None, ""):
        lo, hi = year_range()
        try:
            y = int(str(year))
        except ValueError as exc:
            raise Invalid(N_("The year must be between %(lo)s and %(hi)s."), field="year", lo=lo, hi=hi) from exc
        if not lo <= y <= hi:
            raise Invalid(N_("The year must be between %(lo)s and %(hi)s."), field="year", lo=lo, hi=hi)
    locked = False
    if actor is not None and actor.role == Role.DISTRICT_OFFICER:
        # A district officer sees their own district, whatever the request asks.
        district, locked = actor.district or "-", True
    return Filters(cluster, district, y, locked)


# ---------------------------------------------------------------- report shapes


@dataclass
class Weakness:
    key: str
    kind: str  # area | scene
    zh: str
    en: str
    maximum: float  # points of the area, or 4 (L4) for a scene
    mean: float  # mean score (points or level)
    share: float  # mean / maximum
    below: float  # share of enterprises under the threshold
    p25: float  # of the share
    p75: float
    leaders: float | None = None  # mean share of the top quartile (None: quartile under five)
    laggards: float | None = None
    categories: list[str] = field(default_factory=list)
    offerings: list[Any] = field(default_factory=list)

    @property
    def spread(self) -> float:
        return self.p75 - self.p25

    @property
    def gap(self) -> float | None:
        if self.leaders is None or self.laggards is None:
            return None
        return self.leaders - self.laggards


@dataclass
class Case:
    role: str  # leader | laggard
    label_zh: str
    label_en: str
    named: bool
    score: float
    level: int
    weakest: list[tuple[str, float]]  # (area zh, share)
    outcomes: dict[str, float | None] = field(default_factory=dict)


@dataclass
class OutcomeStat:
    key: str
    n: int
    shown: bool
    mean: float | None = None
    p25: float | None = None
    median: float | None = None
    p75: float | None = None
    leaders: float | None = None
    laggards: float | None = None


@dataclass
class GroupRow:
    """One industry or district row of the overview."""

    code: str
    n: int
    shown: bool
    mean_score: float | None = None
    p25: float | None = None
    p75: float | None = None
    area_shares: dict[str, float] = field(default_factory=dict)
    weakest: list[str] = field(default_factory=list)  # area keys, weakest first


@dataclass
class Report:
    filters: Filters
    n: int
    shown: bool
    generated_at: Any
    areas: list[Weakness] = field(default_factory=list)
    scenes: list[Weakness] = field(default_factory=list)
    dimensions: list[tuple[str, str, float]] = field(default_factory=list)  # (zh, en, mean share)
    mean_score: float | None = None
    p25: float | None = None
    p75: float | None = None
    levels: dict[int, int] = field(default_factory=dict)
    leaders_n: int = 0
    laggards_n: int = 0
    quartiles_shown: bool = False
    cases: list[Case] = field(default_factory=list)
    outcomes: list[OutcomeStat] = field(default_factory=list)
    by_cluster: list[GroupRow] = field(default_factory=list)
    by_district: list[GroupRow] = field(default_factory=list)

    @property
    def weaknesses(self) -> list[Weakness]:
        """The weakest areas, then the weakest scenes, for the recommendations with offerings."""
        return self.areas[:TOP_AREAS] + self.scenes[:TOP_SCENES]


# ---------------------------------------------------------------- population


@dataclass
class Member:
    org_id: int
    name: str
    district: str | None
    cluster: str | None
    score: float
    level: int
    areas: dict[str, float]  # area key -> share of its points
    scenes: dict[str, int]


def questionnaire() -> Questionnaire:
    return diag.questionnaire()


# A completed diagnosis never changes (completed is final), so its scores are read from the JSON columns once per
# process: (database url, diagnosis id) -> (total, level, area shares, scene levels).
_Scored = tuple[float, int, dict[str, float], dict[str, int]]
_SCORED: dict[tuple[str, int], _Scored] = {}
SCORED_CACHE_MAX = 200_000


def _scored(db: Session, q: Questionnaire, url: str, ids: list[int]) -> dict[int, _Scored]:
    """Scores of these completed diagnoses: from the per-process memo, the rest read in chunks."""
    out = {i: hit for i in ids if (hit := _SCORED.get((url, i))) is not None}
    need = [i for i in ids if i not in out]
    points = {g.key: float(g.points) for g in q.groups()}
    for i in range(0, len(need), 900):
        part = need[i : i + 900]
        rows = db.execute(
            select(
                Diagnosis.id, Diagnosis.score, Diagnosis.level, Diagnosis.group_scores, Diagnosis.scene_levels
            ).where(Diagnosis.id.in_(part))
        ).all()
        for did, total, level, gs, sl in rows:
            if not gs or set(points) - set(gs):  # written before the scored columns existed: score the answers
                ans = db.execute(select(Diagnosis.answers).where(Diagnosis.id == did)).scalar() or {}
                res = score(q, ans)
                gs, sl, total, level = dict(res.groups), dict(res.scenes), res.total, res.level
            sl = sl or {}
            out[int(did)] = (
                float(total or 0),
                int(level or 0),
                {k: float(Decimal(str(gs.get(k, 0)))) / p for k, p in points.items()},
                {sc.key: max(0, min(4, int(sl.get(sc.key, 0) or 0))) for sc in q.scenes},
            )
    if len(_SCORED) > SCORED_CACHE_MAX:
        _SCORED.clear()
    _SCORED.update({(url, i): v for i, v in out.items()})
    return out


def population(db: Session, f: Filters) -> list[Member]:
    """Each enterprise's latest completed diagnosis in the filters' scope (one query without the JSON columns;
    the scores of each completed diagnosis are read once per process)."""
    q = questionnaire()
    stmt = (
        select(
            Diagnosis.id,
            Diagnosis.org_id,
            Organisation.name,
            Organisation.district,
            EnterpriseProfile.cluster,
        )
        .join(Organisation, Organisation.id == Diagnosis.org_id)
        .join(EnterpriseProfile, EnterpriseProfile.org_id == Diagnosis.org_id)
        .where(Diagnosis.status == diag.COMPLETED, Diagnosis.questionnaire == q.key)
        .order_by(Diagnosis.org_id, Diagnosis.year, Diagnosis.completed_at, Diagnosis.id)
    )
    if f.year is not None:
        stmt = stmt.where(Diagnosis.year <= f.year)
    if f.district:
        stmt = stmt.where(Organisation.district == f.district)
    if f.cluster:
        stmt = stmt.where(EnterpriseProfile.cluster == f.cluster)
    latest: dict[int, Any] = {}
    for row in db.execute(stmt).all():
        latest[int(row.org_id)] = row  # ordered: the last one per enterprise wins
    scored = _scored(db, q, str(db.get_bind().engine.url), [int(r.id) for r in latest.values()])
    out = []
    for org_id, r in latest.items():
        total, level, areas, scenes = scored[int(r.id)]
        out.append(Member(org_id, r.name, r.district, r.cluster, total, level, areas, scenes))
    return out


# ---------------------------------------------------------------- computation


def _pct(values: Iterable[float], p: float) -> float:
    arr = np.fromiter(values, dtype=float)
    return float(np.percentile(arr, p)) if arr.size else 0.0


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def _rank(ws: list[Weakness]) -> list[Weakness]:
    return sorted(ws, key=lambda w: (round(w.share, 9), -round(w.below, 9), w.key))


def rank_areas(q: Questionnaire, members: list[Member]) -> list[Weakness]:
    """Areas weakest first (mean share of points, then the share of enterprises under half their points)."""
    out = []
    for g in q.groups():
        shares = [m.areas[g.key] for m in members]
        out.append(
            Weakness(
                g.key,
                "area",
                g.zh,
                g.en,
                float(g.points),
                _mean(shares) * float(g.points),
                _mean(shares),
                _mean([1.0 if s < WEAK_AREA_SHARE else 0.0 for s in shares]),
                _pct(shares, 25),
                _pct(shares, 75),
                categories=list(g.offering_categories),
            )
        )
    return _rank(out)


def rank_scenes(q: Questionnaire, members: list[Member]) -> list[Weakness]:
    out = []
    for s in q.scenes:
        levels = [float(m.scenes[s.key]) for m in members]
        shares = [lv / 4 for lv in levels]
        out.append(
            Weakness(
                s.key,
                "scene",
                s.zh,
                s.en,
                4.0,
                _mean(levels),
                _mean(shares),
                _mean([1.0 if lv < WEAK_SCENE_LEVEL else 0.0 for lv in levels]),
                _pct(shares, 25),
                _pct(shares, 75),
                categories=list(s.offering_categories),
            )
        )
    return _rank(out)


def quartiles(members: list[Member]) -> tuple[list[Member], list[Member], float, float]:
    """Leaders (total ≥ P75) and laggards (total ≤ P25) by the total score."""
    scores = [m.score for m in members]
    p25, p75 = _pct(scores, 25), _pct(scores, 75)
    leaders = [m for m in members if m.score >= p75]
    laggards = [m for m in members if m.score <= p25]
    return leaders, laggards, p25, p75


def case_label(district: str | None, cluster: str | None) -> tuple[str, str]:
    """ "一家澄海区玩具企业" / "A toys enterprise in Chenghai"."""
    dz = DISTRICT_ZH.get(District(district), "") if district in {d.value for d in District} else ""
    de = DISTRICT_EN.get(District(district), "") if district in {d.value for d in District} else ""
    cz = CLUSTER_ZH.get(Cluster(cluster), "") if cluster in {c.value for c in Cluster} else ""
    ce = CLUSTER_EN.get(Cluster(cluster), "") if cluster in {c.value for c in Cluster} else ""
    zh = f"一家{dz}{cz}企业"
    en = f"A {ce.lower() or 'manufacturing'} enterprise" + (f" in {de}" if de else "")
    return zh, en


def consents(db: Session, org_ids: list[int]) -> set[int]:
    """Enterprises (of ``org_ids``) that agreed to be named as a typical case."""
    named: set[int] = set()
    for i in range(0, len(org_ids), 900):
        part = org_ids[i : i + 900]
        named |= {
            int(o)
            for o in db.execute(
                select(CaseConsent.org_id).where(CaseConsent.org_id.in_(part), CaseConsent.named.is_(True))
            ).scalars()
        }
    return named


def _case(
    q: Questionnaire, m: Member, role: str, named: set[int], platform: dict[int, dict[str, float | None]]
) -> Case:
    zh, en = (m.name, m.name) if m.org_id in named else case_label(m.district, m.cluster)
    by_key = {g.key: g for g in q.groups()}
    weakest = sorted(m.areas.items(), key=lambda kv: (kv[1], kv[0]))[:3]
    return Case(
        role,
        zh,
        en,
        m.org_id in named,
        round(m.score, 2),
        m.level,
        [(by_key[k].zh, v) for k, v in weakest],
        dict(platform.get(m.org_id, {})),
    )


def _typical(group: list[Member], ascending: bool) -> Member:
    """The median member of a quartile (by score, then id): typical of it, not its extreme."""
    ordered = sorted(group, key=lambda m: (m.score, m.org_id), reverse=not ascending)
    return ordered[(len(ordered) - 1) // 2]


def _group_row(q: Questionnaire, code: str, members: list[Member]) -> GroupRow:
    if len(members) < MIN_GROUP:
        return GroupRow(code, len(members), False)
    scores = [m.score for m in members]
    shares = {g.key: _mean([m.areas[g.key] for m in members]) for g in q.groups()}
    weakest = [k for k, _ in sorted(shares.items(), key=lambda kv: (round(kv[1], 9), kv[0]))[:3]]
    return GroupRow(code, len(members), True, _mean(scores), _pct(scores, 25), _pct(scores, 75), shares, weakest)


# Platform outcomes in the order shown: (msgid for pages, Chinese label for the PDF and Excel).
OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    k: (outcomes.LABELS[k], zh)
    for k, zh in zip(
        outcomes.OUTCOMES,
        (
            "数字化水平等级",
            "上云星级",
            "设备综合效率 OEE（%）",
            "产品合格率（%）",
            "单位产品能耗（kWh）",
            "联网设备数（台）",
        ),
        strict=True,
    )
}


def outcome_stats(
    platform: dict[int, dict[str, float | None]], members: list[Member], leaders: list[Member], laggards: list[Member]
) -> list[OutcomeStat]:
    out = []
    for key in OUTCOME_LABELS:
        vals = [float(v) for m in members if (v := platform.get(m.org_id, {}).get(key)) is not None]
        if len(vals) < MIN_GROUP:
            out.append(OutcomeStat(key, len(vals), False))
            continue
        lead = [float(v) for m in leaders if (v := platform.get(m.org_id, {}).get(key)) is not None]
        lag = [float(v) for m in laggards if (v := platform.get(m.org_id, {}).get(key)) is not None]
        out.append(
            OutcomeStat(
                key,
                len(vals),
                True,
                _mean(vals),
                _pct(vals, 25),
                _pct(vals, 50),
                _pct(vals, 75),
                _mean(lead) if len(lead) >= MIN_GROUP else None,
                _mean(lag) if len(lag) >= MIN_GROUP else None,
            )
        )
    return out


def platform_data(db: Session, org_ids: list[int]) -> dict[int, dict[str, float | None]]:
    """Each enterprise's latest monthly platform outcomes (``programme.outcomes``); none where never measured."""
    return outcomes.latest(db, org_ids) if org_ids else {}


def build(
    db: Session, f: Filters, offerings: bool = True, platform: dict[int, dict[str, float | None]] | None = None
) -> Report:
    """The report for the filters (already cleaned and scoped by ``clean_filters``), computed from the records.
    ``platform``: every enterprise's latest outcomes when the caller holds them (else read for the members)."""
    q = questionnaire()
    everyone = population(db, Filters(None, f.district, f.year))
    members = [m for m in everyone if f.cluster is None or m.cluster == f.cluster]
    rep = Report(f, len(members), len(members) >= MIN_GROUP, utcnow())
    by_cluster: dict[str, list[Member]] = {}
    for m in everyone:
        by_cluster.setdefault(m.cluster or "", []).append(m)
    rep.by_cluster = [_group_row(q, c.value, by_cluster.get(c.value, [])) for c in Cluster]
    # District rows within the chosen industry; a chosen (or a district officer's) district is the only row.
    by_district: dict[str, list[Member]] = {}
    for m in members:
        by_district.setdefault(m.district or "", []).append(m)
    codes = [f.district] if f.district else [d.value for d in District]
    rep.by_district = [_group_row(q, c, by_district.get(c, [])) for c in codes if c and c != "-"]
    if not rep.shown:
        return rep
    scores = [m.score for m in members]
    rep.mean_score, rep.p25, rep.p75 = _mean(scores), _pct(scores, 25), _pct(scores, 75)
    rep.levels = {lv: sum(1 for m in members if m.level == lv) for lv in range(0, len(q.levels) + 1)}
    rep.dimensions = [
        (
            d.zh,
            d.en,
            _mean([sum(m.areas[g.key] * float(g.points) for g in d.groups) / float(d.points) for m in members]),
        )
        for d in q.dimensions
    ]
    rep.areas = rank_areas(q, members)
    rep.scenes = rank_scenes(q, members)
    leaders, laggards, _, _ = quartiles(members)
    rep.leaders_n, rep.laggards_n = len(leaders), len(laggards)
    rep.quartiles_shown = len(leaders) >= MIN_GROUP and len(laggards) >= MIN_GROUP
    if rep.quartiles_shown:
        for w in rep.areas:
            w.leaders = _mean([m.areas[w.key] for m in leaders])
            w.laggards = _mean([m.areas[w.key] for m in laggards])
        for w in rep.scenes:
            w.leaders = _mean([m.scenes[w.key] / 4 for m in leaders])
            w.laggards = _mean([m.scenes[w.key] / 4 for m in laggards])
    if platform is None:
        platform = platform_data(db, [m.org_id for m in members])
    rep.outcomes = outcome_stats(
        platform, members, leaders if rep.quartiles_shown else [], laggards if rep.quartiles_shown else []
    )
    named = consents(db, [m.org_id for m in (leaders + laggards)])
    rep.cases = [
        _case(q, _typical(laggards, ascending=True), "laggard", named, platform),
        _case(q, _typical(leaders, ascending=False), "leader", named, platform),
    ]
    if offerings:
        attach_offerings(db, rep)
    return rep


def attach_offerings(db: Session, rep: Report) -> None:
    """Resource-pool offerings for each listed weakness (the questionnaire's categories, as the diagnosis report's
    recommendations); one marketplace call per distinct set of categories."""
    found: dict[tuple[str, ...], list[Any]] = {}
    for w in rep.weaknesses:
        k = tuple(sorted(w.categories))
        if k not in found:
            found[k] = list(marketplace.offerings_for_categories(db, list(k), OFFERINGS_PER_WEAKNESS))
        w.offerings = found[k]


# ---------------------------------------------------------------- cache
#
# Computed on request, kept per process while the data it was computed from is unchanged: the version is the
# number and latest completion time of completed diagnoses, the consents, and the newest outcome snapshot row
# (snapshots are replaced by new rows, so a refresh raises it). A new diagnosis or consent shows on the next
# request; new outcome snapshots a moment later (read in the background, see _platform_all). Offerings are
# attached on every request (they change without the version seeing it); a cached report older than
# CACHE_TTL_S is computed again (profile changes: an enterprise's name, district or industry).

CACHE_TTL_S = 600.0
REPORT_CACHE_SIZE = 128
_LOCK = threading.Lock()
_REPORTS: OrderedDict[Any, tuple[float, Report]] = OrderedDict()
# database url -> (snapshot version, monotonic time read, every enterprise's latest outcomes)
_PLATFORM: dict[str, tuple[Any, float, dict[int, dict[str, float | None]]]] = {}
_REFRESHING: dict[str, threading.Thread] = {}


def data_version(db: Session) -> tuple[Any, ...]:
    n, last = db.execute(
        select(func.count(), func.max(Diagnosis.completed_at)).where(Diagnosis.status == diag.COMPLETED)
    ).one()
    cn, clast = db.execute(select(func.count(), func.max(CaseConsent.decided_at))).one()
    snap = db.execute(select(func.max(OutcomeSnapshot.id))).scalar()
    return (int(n), str(last), int(cn), str(clast), snap)


def forget(platform: bool = True, scores: bool = True) -> None:
    """Drop cached reports; also the memo of scores and the platform outcomes unless told not to."""
    settle()
    with _LOCK:
        _REPORTS.clear()
        if scores:
            _SCORED.clear()
        if platform:
            _PLATFORM.clear()


def settle(timeout: float = 60.0) -> None:
    """Wait for background re-reads of the platform outcomes (tests, benchmark)."""
    for t in list(_REFRESHING.values()):
        t.join(timeout)


def _read_platform(engine: Any, url: str, version: Any) -> None:
    try:
        with Session(engine) as s:
            data = outcomes.latest(s)
        with _LOCK:
            _PLATFORM[url] = (version, time.monotonic(), data)
    except Exception:  # the next request tries again; the report keeps the outcomes it had
        log.exception("re-reading the platform outcomes for the common-problem report failed")
    finally:
        with _LOCK:
            _REFRESHING.pop(url, None)


def _platform_all(db: Session, url: str, version: Any, now: float) -> tuple[Any, dict[int, dict[str, float | None]]]:
    """Every enterprise's latest outcomes and the snapshot version they were read at. Read once per snapshot
    version; when a refresh wrote new snapshots (or the copy is older than CACHE_TTL_S), the copy held is
    used while a background thread reads the new one (the first read in a process waits for it)."""
    with _LOCK:
        hit = _PLATFORM.get(url)
        stale = hit is not None and (hit[0] != version or now - hit[1] >= CACHE_TTL_S)
        if stale and url not in _REFRESHING:
            t = threading.Thread(target=_read_platform, args=(db.get_bind().engine, url, version), daemon=True)
            _REFRESHING[url] = t
            t.start()
    if hit is not None:
        return hit[0], hit[2]
    data = outcomes.latest(db)
    with _LOCK:
        _PLATFORM[url] = (version, now, data)
    return version, data


def cached(db: Session, f: Filters) -> Report:
    """``build`` through the per-process cache; offerings attached fresh."""
    url = str(db.get_bind().engine.url)
    version = data_version(db)
    now = time.monotonic()
    used, platform = _platform_all(db, url, version[-1], now)
    key = (url, f, version[:-1], used)  # the outcomes actually used, which may lag the newest for a moment
    with _LOCK:
        hit = _REPORTS.get(key)
    if hit and now - hit[0] < CACHE_TTL_S:
        rep = copy.deepcopy(hit[1])
    else:
        rep = build(db, f, offerings=False, platform=platform)
        with _LOCK:
            _REPORTS[key] = (now, copy.deepcopy(rep))
            while len(_REPORTS) > REPORT_CACHE_SIZE:
                _REPORTS.popitem(last=False)
    attach_offerings(db, rep)
    return rep


def report(
    db: Session, actor: Actor, cluster: str | None = None, district: str | None = None, year: int | str | None = None
) -> Report:
    if not actor.has(perms.REPORT_READ):
        raise Forbidden(N_("Your role does not allow this."))
    return cached(db, clean_filters(actor, cluster, district, year))


# ---------------------------------------------------------------- consent


def consent_of(db: Session, org_id: int) -> bool:
    c = db.get(CaseConsent, org_id)
    return bool(c and c.named)


def set_consent(db: Session, actor: Actor, named: bool) -> bool:
    """The enterprise's administrator decides whether the report may name it as a typical case."""
    if not actor.has(perms.CONSENT_WRITE) or actor.org.kind != "enterprise":
        raise Forbidden(N_("Only an enterprise's administrator decides this."))
    c = db.get(CaseConsent, actor.org_id)
    before = bool(c and c.named)
    if c is None:
        c = CaseConsent(org_id=actor.org_id, named=named, decided_by=actor.user.id, decided_at=utcnow())
        db.add(c)
    else:
        c.named, c.decided_by, c.decided_at = named, actor.user.id, utcnow()
    db.flush()
    # Recorded as an update of the organisation (an existing audit label), naming what changed.
    record_by(
        db,
        actor,
        "update",
        "organisation",
        str(actor.org_id),
        {"typical_case_named": before},
        {"typical_case_named": named},
    )
    db.commit()
    return named


# ---------------------------------------------------------------- labels


def filters_label(f: Filters) -> str:
    """The population in words, Chinese (for the PDF and the Excel title)."""
    parts = []
    parts.append(DISTRICT_ZH[District(f.district)] if f.district in {d.value for d in District} else "全市")
    parts.append(CLUSTER_ZH[Cluster(f.cluster)] if f.cluster else "全部行业")
    parts.append(f"截至{f.year}年" if f.year else "最新诊断")
    return "　".join(parts)


def note() -> str:
    return gettext(SUPPRESSED_NOTE)
