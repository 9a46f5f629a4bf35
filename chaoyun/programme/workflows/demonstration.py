"""Demonstration projects, bases, innovation centres and leading platforms (plan items 3, 10, 11, 14).

A call (``DemoCall``) of one kind opens a window for applications. Applications go draft → submitted →
district review (accepted by the district office) → city review, where experts score them on the call's
rubric (an expert never scores an organisation they are linked to, see ``scoring.py``). The city then
ranks the call: by average score (highest first), then earlier submission, then id; the best ``slots``
applications at or above the pass score go to public notice, the others are "not selected". After the
notice, the city concludes: selected applications are approved and count toward their target; their
milestones (quantified performance targets) are tracked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.programme.targets import RuleResult, register_rule
from chaoyun.programme.workflow_models import DemoApplication, DemoCall, DemoMilestone
from chaoyun.programme.workflows import scoring
from chaoyun.programme.workflows import workflow as wf
from chaoyun.programme.workflows.labels import DEMO_KINDS
from chaoyun.programme.workflows.money import parse_amount
from chaoyun.timefmt import format_dt

DEMO = wf.Workflow(
    "demonstration",
    N_("application"),
    [
        wf.t("submit", [wf.DRAFT], wf.SUBMITTED, wf.APPLICANT),
        wf.t("withdraw", [wf.DRAFT, wf.SUBMITTED], wf.WITHDRAWN, wf.APPLICANT),
        wf.t("accept", [wf.SUBMITTED], wf.DISTRICT_REVIEW, wf.DISTRICT),
        wf.t("district_pass", [wf.DISTRICT_REVIEW], wf.CITY_REVIEW, wf.DISTRICT),
        wf.t("district_reject", [wf.SUBMITTED, wf.DISTRICT_REVIEW], wf.REJECTED, wf.DISTRICT),
        wf.t("select", [wf.CITY_REVIEW], wf.PUBLIC_NOTICE, wf.CITY, wf.SYSTEM),
        wf.t("not_selected", [wf.CITY_REVIEW], wf.REJECTED, wf.CITY, wf.SYSTEM),
        wf.t("city_reject", [wf.PUBLIC_NOTICE], wf.REJECTED, wf.CITY),
        wf.t("conclude_notice", [wf.PUBLIC_NOTICE], wf.APPROVED, wf.CITY),
    ],
)
DEFAULT_RUBRIC: list[dict[str, Any]] = [
    {"key": "innovation", "zh": "创新性与先进性", "en": "Innovation", "max": 30},
    {"key": "demonstration", "zh": "示范带动作用", "en": "Demonstration and spill-over", "max": 30},
    {"key": "benefit", "zh": "经济社会效益", "en": "Benefit", "max": 20},
    {"key": "feasibility", "zh": "实施基础与可行性", "en": "Feasibility", "max": 20},
]
# Which kinds an organisation kind may apply to: providers run platforms and centres too.
PROVIDER_KINDS = {"leading_platform", "innovation_centre", "base"}


def _require_city(actor: Actor) -> None:
    if actor.role not in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER):
        raise Forbidden(N_("Only the city bureau manages calls for applications."))


# Targets are counts or percentages; anything beyond this is a typing mistake.
MAX_TARGET = Decimal("1000000000")


def create_call(
    db: Session,
    actor: Actor,
    kind: str,
    year: int,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    slots: int,
    pass_score: Decimal = Decimal("60"),
    notice_days: int = 5,
    rubric: list[dict[str, Any]] | None = None,
) -> DemoCall:
    _require_city(actor)
    if kind not in DEMO_KINDS:
        raise Invalid(N_("Unknown kind of call."), field="kind")
    if not title.strip():
        raise Invalid(N_("Give the call a title."), field="title")
    if opens_at >= closes_at:
        raise Invalid(N_("Each window must open before it closes."), field="closes_on")
    if closes_at <= utcnow():
        raise Invalid(N_("The call would close in the past."), field="closes_on")
    if not 2000 <= year <= 2100:
        raise Invalid(N_("The year must be between %(min)s and %(max)s."), min=2000, max=2100, field="year")
    if not Decimal(0) <= pass_score <= Decimal(100):
        raise Invalid(N_("Enter a whole number from %(min)s to %(max)s."), min=0, max=100, field="pass_score")
    if slots < 1:
        raise Invalid(N_("A call selects at least one application."), field="slots")
    c = DemoCall(
        kind=kind,
        year=year,
        title=title.strip()[:200],
        opens_at=opens_at,
        closes_at=closes_at,
        slots=slots,
        pass_score=pass_score,
        notice_days=notice_days,
        rubric=rubric or DEFAULT_RUBRIC,
        status="open",
    )
    db.add(c)
    db.flush()
    audit.record_by(
        db,
        actor,
        "demo_call.create",
        "demo_call",
        c.id,
        after={"kind": kind, "year": year, "slots": slots, "title": c.title},
    )
    db.commit()
    return c


def calls(db: Session) -> list[DemoCall]:
    return list(db.execute(select(DemoCall).order_by(DemoCall.id.desc())).scalars())


def get_call(db: Session, call_id: int) -> DemoCall:
    c = db.get(DemoCall, call_id)
    if c is None:
        raise NotFound(N_("No such call for applications."))
    return c


def parties_of(actor: Actor, a: DemoApplication) -> set[str]:
    parties = wf.government_parties(actor, a.district)
    if actor.org_id == a.org_id and actor.role in (Role.ENTERPRISE_ADMIN, Role.PROVIDER_ADMIN):
        parties.add(wf.APPLICANT)
    return parties


def can_read(actor: Actor, a: DemoApplication) -> bool:
    # A draft is the applicant's private work: officers and experts see it once submitted.
    if a.state == wf.DRAFT:
        return actor.org_id == a.org_id
    if actor.is_city_wide:
        return True
    if actor.role == Role.DISTRICT_OFFICER:
        return actor.district is not None and a.district == actor.district
    return actor.org_id == a.org_id


def get_application(db: Session, actor: Actor, app_id: int) -> DemoApplication:
    a = db.get(DemoApplication, app_id)
    if a is None or not can_read(actor, a):
        raise NotFound(N_("No such application, or it is not yours to see."))
    return a


def list_applications(db: Session, actor: Actor, call_id: int | None = None) -> list[DemoApplication]:
    q = select(DemoApplication)
    if call_id is not None:
        q = q.where(DemoApplication.call_id == call_id)
    mine = DemoApplication.org_id == actor.org_id
    not_draft = DemoApplication.state != wf.DRAFT
    if actor.is_city_wide:
        q = q.where(or_(not_draft, mine))
    elif actor.role == Role.DISTRICT_OFFICER:
        q = q.where(DemoApplication.district == actor.district, not_draft)
    else:
        q = q.where(mine)
    return list(
        db.execute(
            q.order_by(DemoApplication.rank.is_(None), DemoApplication.rank, DemoApplication.id.desc())
        ).scalars()
    )


@dataclass
class MilestoneIn:
    title: str
    metric: str
    target_value: Decimal
    due_on: date


def apply(
    db: Session,
    actor: Actor,
    call_id: int,
    title: str,
    summary: str,
    milestones: list[MilestoneIn],
    now: datetime | None = None,
) -> DemoApplication:
    now = now or utcnow()
    if actor.role not in (Role.ENTERPRISE_ADMIN, Role.PROVIDER_ADMIN):
        raise Forbidden(N_("Only an organisation administrator applies for the organisation."))
    c = get_call(db, call_id)
    if actor.role == Role.PROVIDER_ADMIN and c.kind not in PROVIDER_KINDS:
        raise Forbidden(N_("This kind of call is for enterprises."))
    if not c.opens_at <= now < c.closes_at:
        raise Conflict(N_("The call is not open for applications."))
    if not title.strip():
        raise Invalid(N_("Give the application a title."), field="title")
    if not milestones:
        raise Invalid(N_("Give at least one quantified performance target."), field="milestones")
    for m in milestones:
        if not m.target_value.is_finite() or m.target_value <= 0 or m.target_value > MAX_TARGET:
            raise Invalid(N_("The target value must be a positive number."), field="target_value")
        if m.due_on < now.date():
            raise Invalid(N_("The due date of a target cannot be in the past."), field="due_on")
        if m.due_on.year > now.year + 20:
            raise Invalid(N_("The due date of a target is too far in the future."), field="due_on")
    org = db.get(Organisation, actor.org_id)
    assert org is not None
    a = DemoApplication(
        call_id=c.id,
        org_id=org.id,
        district=org.district,
        cluster=org.enterprise.cluster if org.enterprise else None,
        title=title.strip()[:200],
        summary=summary.strip()[:5000],
        state=wf.DRAFT,
    )
    for m in milestones:
        a.milestones.append(
            DemoMilestone(
                title=m.title.strip()[:200] or m.metric,
                metric=m.metric.strip()[:100],
                target_value=m.target_value,
                due_on=m.due_on,
            )
        )
    db.add(a)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(N_("Your organisation has already applied to this call.")) from None
    audit.record_by(db, actor, "demonstration.create", "demonstration", a.id, after={"call": c.id, "title": a.title})
    db.commit()
    return a


def act(
    db: Session, actor: Actor, app_id: int, action: str, note: str = "", now: datetime | None = None
) -> DemoApplication:
    now = now or utcnow()
    a = get_application(db, actor, app_id)
    if action in ("select", "not_selected"):
        raise Invalid(N_("Selection is made by ranking the whole call."), field="action")
    parties = parties_of(actor, a)
    DEMO.check(a.state, action, parties)
    c = get_call(db, a.call_id)
    if action == "submit":
        if not c.opens_at <= now < c.closes_at:
            raise Conflict(N_("The call is not open for applications."))
        a.submitted_at = now
    elif action in ("district_reject", "city_reject"):
        if not note.strip():
            raise Invalid(N_("Give the reason for rejecting."), field="note")
        a.reject_reason = note.strip()
    elif action == "conclude_notice":
        if a.notice_ends_at is not None and now < a.notice_ends_at:
            raise Conflict(
                N_("The public notice runs until %(until)s; it cannot be concluded earlier."),
                until=format_dt(a.notice_ends_at),
            )
        a.selected_at = now
    DEMO.fire(db, actor, a, action, parties, note=note)
    db.commit()
    return a


def score(db: Session, actor: Actor, app_id: int, raw: dict[str, Any], comment: str) -> None:
    a = db.get(DemoApplication, app_id)
    if a is None:
        raise NotFound(N_("No such application, or it is not yours to see."))
    if a.state != wf.CITY_REVIEW:
        raise Conflict(N_("Experts score applications while they are in city review."))
    c = get_call(db, a.call_id)
    scoring.record_score(db, actor, "demonstration", a.id, a.org_id, c.rubric, raw, comment)


def expert_queue(db: Session, actor: Actor) -> list[DemoApplication]:
    linked = scoring.linked_org_ids(db, actor.user.id)
    rows = db.execute(
        select(DemoApplication).where(DemoApplication.state == wf.CITY_REVIEW).order_by(DemoApplication.id)
    ).scalars()
    return [a for a in rows if a.org_id not in linked]


def rank_key(a: DemoApplication) -> tuple[Decimal, datetime, int]:
    submitted = a.submitted_at or a.created_at
    return (-(a.score or Decimal("0")), submitted, a.id)


def rank_call(db: Session, actor: Actor, call_id: int, now: datetime | None = None) -> list[DemoApplication]:
    """Rank every application in city review, select the best ``slots`` at or above the pass score."""
    now = now or utcnow()
    _require_city(actor)
    c = db.get(DemoCall, call_id, with_for_update=True)
    if c is None:
        raise NotFound(N_("No such call for applications."))
    if now < c.closes_at:
        raise Conflict(N_("The call is still open; rank it after it closes."))
    apps = list(
        db.execute(
            select(DemoApplication).where(DemoApplication.call_id == c.id, DemoApplication.state == wf.CITY_REVIEW)
        ).scalars()
    )
    if not apps:
        raise Conflict(N_("No application of this call is in city review."))
    unscored = [a for a in apps if scoring.average(db, "demonstration", a.id) is None]
    if unscored:
        raise Conflict(N_("%(n)s applications have no expert score yet."), n=len(unscored))
    for a in apps:
        a.score = scoring.average(db, "demonstration", a.id)
    ordered = sorted(apps, key=rank_key)
    already = db.execute(
        select(func.count())
        .select_from(DemoApplication)
        .where(DemoApplication.call_id == c.id, DemoApplication.state.in_([wf.PUBLIC_NOTICE, wf.APPROVED]))
    ).scalar_one()
    free = max(c.slots - int(already), 0)
    for i, a in enumerate(ordered, start=1):
        a.rank = i
        chosen = free > 0 and (a.score or 0) >= c.pass_score
        if chosen:
            free -= 1
            a.notice_ends_at = now + timedelta(days=c.notice_days)
            DEMO.fire(db, actor, a, "select", {wf.CITY}, after={"rank": i, "score": a.score})
        else:
            a.reject_reason = "below pass score" if (a.score or 0) < c.pass_score else "no slot left"
            DEMO.fire(db, actor, a, "not_selected", {wf.CITY}, after={"rank": i, "score": a.score})
    c.status = "ranked"
    audit.record_by(
        db, actor, "demo_call.rank", "demo_call", c.id, after={"ranked": len(ordered), "order": [a.id for a in ordered]}
    )
    db.commit()
    return ordered


def update_milestone(db: Session, actor: Actor, milestone_id: int, actual: str) -> DemoMilestone:
    m = db.get(DemoMilestone, milestone_id)
    a = db.get(DemoApplication, m.application_id) if m is not None else None
    if m is None or a is None or not can_read(actor, a):
        raise NotFound(N_("No such milestone, or it is not yours to see."))
    parties = parties_of(actor, a)
    if not parties & {wf.APPLICANT, wf.CITY, wf.DISTRICT}:
        raise Forbidden(N_("Only the project owner or the programme offices report progress."))
    if a.state != wf.APPROVED:
        raise Conflict(N_("Progress is tracked once the application is selected and approved."))
    value = parse_amount(actual, "actual_value") if str(actual).strip() not in ("0", "0.00") else Decimal("0")
    before = m.actual_value
    m.actual_value = value
    m.updated_at = utcnow()
    audit.record_by(
        db, actor, "milestone.update", "demo_milestone", m.id, before={"actual": before}, after={"actual": value}
    )
    db.commit()
    return m


# --- target rules (registered with P1's registry; guarded so this module works without it) --------------

RULE_KINDS = {
    "demonstration.innovation_projects": "innovation_project",
    "demonstration.benchmark_projects": "benchmark_project",
    "demonstration.bases": "base",
    "demonstration.innovation_centres": "innovation_centre",
    "demonstration.leading_platforms": "leading_platform",
}


def selected_count(
    db: Session, kind: str, year: int, district: str | None, cluster: str | None
) -> tuple[int, list[int]]:
    q = (
        select(DemoApplication.org_id)
        .join(DemoCall, DemoCall.id == DemoApplication.call_id)
        .where(DemoCall.kind == kind, DemoCall.year <= year, DemoApplication.state == wf.APPROVED)
    )
    if district:
        q = q.where(DemoApplication.district == district)
    if cluster:
        q = q.join(EnterpriseProfile, EnterpriseProfile.org_id == DemoApplication.org_id).where(
            EnterpriseProfile.cluster == cluster
        )
    ids = list(db.execute(q).scalars())
    return len(ids), sorted(set(ids))


def _register_rules() -> None:
    def make(kind: str) -> Any:
        def rule(db: Session, year: int, district: str | None, cluster: str | None) -> Any:
            n, ids = selected_count(db, kind, year, district, cluster)
            return RuleResult(value=float(n), enterprise_ids=ids)

        return rule

    for key, kind in RULE_KINDS.items():
        register_rule(key, make(kind))


_register_rules()
