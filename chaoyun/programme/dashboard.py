"""Targets dashboard: every pack target's progress per year against plan, computed by its rule."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.i18n import N_
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor, visible_orgs
from chaoyun.identity.reference import Cluster, District, Role
from chaoyun.programme.pack import Pack, Target, get_pack
from chaoyun.programme.targets import RuleResult, evaluate, evaluate_years, shared_lookups

# Status of a figure against plan, shown as colours: green / amber / red / grey.
MET, ON_TRACK, AT_RISK, BEHIND, UNAVAILABLE, NO_PLAN = "met", "on_track", "at_risk", "behind", "unavailable", "no_plan"
CITY_WIDE = "city_wide"  # a district's figure where the plan sets only a city-wide target
STATUS_LABELS = {
    MET: N_("target met"),
    ON_TRACK: N_("on plan"),
    AT_RISK: N_("slightly behind plan"),
    BEHIND: N_("behind plan"),
    UNAVAILABLE: N_("data source not available yet"),
    NO_PLAN: N_("no interim figure in the plan"),
    CITY_WIDE: N_("city-wide target (no district figure in the plan)"),
}
STATUS_COLOURS = {
    MET: "success",
    ON_TRACK: "success",
    AT_RISK: "warning",
    BEHIND: "danger",
    UNAVAILABLE: "secondary",
    NO_PLAN: "info",
    CITY_WIDE: "light",
}
# Below this share of the planned figure a year is "behind" rather than "slightly behind".
AT_RISK_SHARE = 0.8


@dataclass
class YearCell:
    year: int
    planned: int | None
    actual: float | None
    status: str


@dataclass
class TargetProgress:
    target: Target
    available: bool
    note_msgid: str | None
    years: list[YearCell]
    latest: float | None
    status: str
    has_drilldown: bool
    detail: dict[str, float] = field(default_factory=dict)
    # The figure compared with: the city's threshold, a district's own figure, or None (a district page
    # of a city-wide target: no comparison).
    goal: int | None = None
    district: str | None = None

    @property
    def percent(self) -> float | None:
        if self.latest is None or not self.goal:
            return None
        return min(100.0, 100.0 * self.latest / self.goal)

    @property
    def plan_label(self) -> str:
        """What the figure is compared with, as shown in the "Plan" column."""
        if self.district is None:
            return self.target.plan_label
        if self.goal is None:
            return ""
        return f"≥ {self.goal}"

    @property
    def city_wide_only(self) -> bool:
        return self.district is not None and self.goal is None


def status_of(actual: float, planned: int | None, final: bool, t: Target, goal: int | None = None) -> str:
    if final and actual >= (t.threshold if goal is None else goal):
        return MET
    if planned is None:
        return NO_PLAN
    if actual >= planned:
        return ON_TRACK
    if actual >= planned * AT_RISK_SHARE:
        return AT_RISK
    return BEHIND


def years_shown(pack: Pack) -> list[int]:
    years = pack.period.years
    today = date.today().year
    return [*years, today] if today > pack.period.end else years


def progress(db: Session, t: Target, pack: Pack, district: str | None, cluster: str | None) -> TargetProgress:
    """Each year's value against plan. On a district's page a target is compared with that district's own
    figure when the pack splits it (``by_district``); otherwise the district's value is shown with "city-wide
    target" and no comparison (a district never measured against the city's number)."""
    cells: list[YearCell] = []
    last: RuleResult | None = None
    shown = years_shown(pack)
    goal: int | None = t.threshold
    if district:
        goal = t.district_threshold(district)
    results = evaluate_years(db, t.rule, shown, district, cluster)
    for y in shown:
        r = results[y]
        if not r.available:
            return TargetProgress(t, False, r.note_msgid, [], None, UNAVAILABLE, False, goal=goal, district=district)
        final = y >= pack.period.end
        if district and goal is None:
            cells.append(YearCell(y, None, r.value, CITY_WIDE))
        elif district:
            planned = goal if final else None
            cells.append(YearCell(y, planned, r.value, status_of(r.value, planned, final, t, goal)))
        else:
            planned = t.planned_by(min(y, pack.period.end), pack.period)
            cells.append(YearCell(y, planned, r.value, status_of(r.value, planned, final, t)))
        last = r
    assert last is not None
    end_cell = next(c for c in cells if c.year == pack.period.end)
    return TargetProgress(
        t,
        True,
        last.note_msgid,
        cells,
        last.value,
        end_cell.status if cells[-1].year == pack.period.end else cells[-1].status,
        last.enterprise_ids is not None,
        last.detail,
        goal=goal,
        district=district,
    )


def scope_district(actor: Actor | None, district: str | None) -> str | None:
    """District officers always see their own district; others may filter."""
    if actor is not None and actor.role == Role.DISTRICT_OFFICER:
        return actor.district or "-"
    if district and district in {d.value for d in District}:
        return district
    return None


def clean_cluster(cluster: str | None) -> str | None:
    return cluster if cluster and cluster in {c.value for c in Cluster} else None


def dashboard(db: Session, district: str | None = None, cluster: str | None = None) -> list[TargetProgress]:
    pack = get_pack()
    with shared_lookups():
        return [progress(db, t, pack, district, cluster) for t in pack.targets]


def org_map(db: Session, ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """org id → (district, cluster), for grouping a rule's enterprises without calling it again."""
    out: dict[int, tuple[str | None, str | None]] = {}
    chunk = 900  # stay under SQLite's bound-parameter limit
    for i in range(0, len(ids), chunk):
        part = ids[i : i + chunk]
        rows = db.execute(
            select(Organisation.id, Organisation.district, EnterpriseProfile.cluster)
            .join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id, isouter=True)
            .where(Organisation.id.in_(part))
        ).all()
        out.update({int(o): (d, c) for o, d, c in rows})
    return out


def breakdown(
    db: Session, t: Target, year: int, by: str, district: str | None = None, cluster: str | None = None
) -> list[tuple[str, float]] | None:
    """Value per district or per cluster for ``year``; None when the rule cannot be broken down."""
    r = evaluate(db, t.rule, year, district, cluster)
    if not r.available:
        return None
    codes = [d.value for d in District] if by == "district" else [c.value for c in Cluster]
    if r.enterprise_ids is not None:
        m = org_map(db, r.enterprise_ids)
        idx = 0 if by == "district" else 1
        counts = Counter(m[i][idx] for i in r.enterprise_ids if i in m)
        return [(c, float(counts.get(c, 0))) for c in codes]
    out = []
    for c in codes:
        rr = evaluate(db, t.rule, year, c if by == "district" else district, c if by == "cluster" else cluster)
        if not rr.available:
            return None
        out.append((c, rr.value))
    return out


def drill(
    db: Session, actor: Actor, t: Target, year: int, district: str | None, cluster: str | None, limit: int = 500
) -> tuple[list[Organisation], int] | None:
    """The enterprises behind a number (in the actor's scope); None when the rule gives no list."""
    r = evaluate(db, t.rule, year, district, cluster)
    if not r.available or r.enterprise_ids is None:
        return None
    ids = r.enterprise_ids
    orgs: list[Organisation] = []
    for i in range(0, len(ids), 900):
        orgs += list(
            db.execute(select(Organisation).where(Organisation.id.in_(ids[i : i + 900]), visible_orgs(actor)))
            .unique()
            .scalars()
            .all()
        )
    orgs.sort(key=lambda o: (o.district or "", o.name, o.id))
    return orgs[:limit], len(orgs)
