"""Expert scoring with a rubric, and conflict-of-interest exclusion.

An expert is *linked* to an organisation when (a) the expert's user account has any membership in that
organisation, or (b) the expert declared a link (``wf_expert_links``: employer, shareholding, relative,
recent consultancy...). A linked expert never scores that organisation's applications: the score is
refused and the application does not appear in the expert's queue.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.models import Membership, Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.programme.workflow_models import ExpertLink, ExpertScore

SUBSIDY_RUBRIC: list[dict[str, Any]] = [
    {"key": "technology", "zh": "技术先进性", "en": "Technology", "max": 40},
    {"key": "benefit", "zh": "经济和管理效益", "en": "Economic and management benefit", "max": 30},
    {"key": "costs", "zh": "费用真实性与合理性", "en": "Costs genuine and reasonable", "max": 30},
]


def linked_org_ids(db: Session, expert_user_id: int) -> set[int]:
    members = set(db.execute(select(Membership.org_id).where(Membership.user_id == expert_user_id)).scalars())
    declared = set(db.execute(select(ExpertLink.org_id).where(ExpertLink.expert_user_id == expert_user_id)).scalars())
    return members | declared


def conflict_reason(db: Session, expert_user_id: int, org_id: int) -> str | None:
    if db.execute(
        select(Membership.id).where(Membership.user_id == expert_user_id, Membership.org_id == org_id)
    ).first():
        return N_("You are a member of this organisation: conflict of interest, you may not score it.")
    if db.execute(
        select(ExpertLink.id).where(ExpertLink.expert_user_id == expert_user_id, ExpertLink.org_id == org_id)
    ).first():
        return N_("You declared a link with this organisation: conflict of interest, you may not score it.")
    return None


def declare_link(db: Session, actor: Actor, org_id: int, relation: str) -> ExpertLink:
    if actor.role != Role.EXPERT:
        raise Forbidden(N_("Only experts declare links."))
    if db.get(Organisation, org_id) is None:
        raise NotFound(N_("No such organisation, or it is not yours to see."), field="org_id")
    if not relation.strip():
        raise Invalid(N_("Describe the link (employer, shareholding, relative, consultancy...)."), field="relation")
    link = ExpertLink(expert_user_id=actor.user.id, org_id=org_id, relation=relation.strip()[:200])
    db.add(link)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(N_("You already declared a link with this organisation.")) from None
    audit.record_by(
        db, actor, "expert_link.declare", "expert_link", link.id, after={"org": org_id, "relation": link.relation}
    )
    db.commit()
    return link


def parse_scores(rubric: list[dict[str, Any]], raw: dict[str, Any]) -> tuple[dict[str, str], Decimal]:
    scores: dict[str, str] = {}
    total = Decimal("0")
    for c in rubric:
        key = str(c["key"])
        value = raw.get(key)
        try:
            d = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise Invalid(N_("Give a score for every criterion."), field=key) from None
        if not d.is_finite() or d < 0 or d > Decimal(str(c["max"])):
            raise Invalid(N_("A score is between 0 and the criterion's maximum (%(max)s)."), max=c["max"], field=key)
        scores[key] = str(d)
        total += d
    return scores, total


def record_score(
    db: Session,
    actor: Actor,
    subject_type: str,
    subject_id: int,
    org_id: int,
    rubric: list[dict[str, Any]],
    raw: dict[str, Any],
    comment: str,
) -> ExpertScore:
    """Caller has checked the subject is at the scoring stage; commits."""
    if actor.role != Role.EXPERT:
        raise Forbidden(N_("Only experts score applications."))
    reason = conflict_reason(db, actor.user.id, org_id)
    if reason:
        raise Forbidden(reason)
    scores, total = parse_scores(rubric, raw)
    row = ExpertScore(
        subject_type=subject_type,
        subject_id=subject_id,
        expert_user_id=actor.user.id,
        scores=scores,
        total=total,
        comment=comment.strip()[:2000],
    )
    db.add(row)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(N_("You have already scored this application.")) from None
    audit.record_by(
        db, actor, f"{subject_type}.score"[:40], subject_type, subject_id, after={"scores": scores, "total": total}
    )
    db.commit()
    return row


def scores_of(db: Session, subject_type: str, subject_id: int) -> list[ExpertScore]:
    return list(
        db.execute(
            select(ExpertScore)
            .where(ExpertScore.subject_type == subject_type, ExpertScore.subject_id == subject_id)
            .order_by(ExpertScore.id)
        ).scalars()
    )


def average(db: Session, subject_type: str, subject_id: int) -> Decimal | None:
    avg, n = db.execute(
        select(func.avg(ExpertScore.total), func.count()).where(
            ExpertScore.subject_type == subject_type, ExpertScore.subject_id == subject_id
        )
    ).one()
    if not n:
        return None
    return Decimal(str(avg)).quantize(Decimal("0.01"))
