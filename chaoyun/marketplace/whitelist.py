"""White-list security assessments (plan item 18): checklist scoring (on the security context's checklist engine,
``chaoyun.security.engine``, checklist ``provider_whitelist``), evidence, expiry, spot checks."""

from __future__ import annotations

import calendar
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.permissions import Actor
from chaoyun.marketplace import files
from chaoyun.marketplace.config import market_config
from chaoyun.marketplace.models import Admission, Assessment, Attachment, SpotCheck
from chaoyun.marketplace.pool import _adjust
from chaoyun.marketplace.reference import CHECKLIST_BY_CODE, IN_POOL, WHITELIST_CHECKLIST
from chaoyun.marketplace.service import base_quota
from chaoyun.security import engine as checklist_engine


def _checklist() -> checklist_engine.Checklist:
    """The whitelist checklist on the security context's engine (one engine for every assessment)."""
    return checklist_engine.load(WHITELIST_CHECKLIST)


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def get_assessment(db: Session, actor: Actor, assessment_id: int) -> Assessment:
    a = db.get(Assessment, assessment_id)
    if a is None or not (actor.is_city_wide or a.org_id == actor.org_id):
        raise NotFound(N_("No such assessment, or it is not yours to see."))
    return a


def open_assessment(db: Session, actor: Actor, org_id: int) -> Assessment:
    adm = db.execute(select(Admission).where(Admission.org_id == org_id)).scalar_one_or_none()
    if adm is None or adm.status not in IN_POOL:
        raise Conflict(N_("Only providers admitted to the pool are assessed for the whitelist."))
    if db.execute(select(Assessment.id).where(Assessment.org_id == org_id, Assessment.status == "open")).first():
        raise Conflict(N_("This provider already has an open assessment."))
    a = Assessment(
        org_id=org_id,
        status="open",
        assessor_user_id=actor.user.id,
        assessor_name=actor.user.display_name,
        threshold=market_config().pass_threshold,
        scores={},
        notes={},
    )
    db.add(a)
    db.flush()
    audit.record_by(db, actor, "assessment_open", "market_assessment", a.id, None, {"org_id": org_id})
    db.commit()
    return a


def score(
    db: Session, actor: Actor, assessment_id: int, scores: dict[str, str], notes: dict[str, str], conclude: bool
) -> Assessment:
    """Record the assessor's points per checklist item; concluding needs every item scored and
    decides pass (total >= threshold) or fail, and sets the expiry date."""
    a = get_assessment(db, actor, assessment_id)
    if a.status != "open":
        raise Conflict(N_("This assessment is concluded; open a new one to assess again."))
    parsed = checklist_engine.parse_points(_checklist(), scores)
    before = {"scores": dict(a.scores or {}), "status": a.status}
    merged = {**(a.scores or {}), **parsed}
    if conclude:
        missing = checklist_engine.unscored(_checklist(), merged)
        if missing:
            raise Invalid(
                N_("Score every checklist item before concluding (missing: %(codes)s)."),
                field="scores",
                codes=", ".join(missing),
            )
    a.scores = merged
    a.notes = {
        **(a.notes or {}),
        **{k: v.strip()[:1000] for k, v in notes.items() if k in CHECKLIST_BY_CODE and v.strip()},
    }
    a.assessor_user_id = actor.user.id
    a.assessor_name = actor.user.display_name
    a.total = checklist_engine.points_total(_checklist(), merged)
    if conclude:
        a.status = "passed" if a.total >= a.threshold else "failed"
        a.concluded_at = utcnow()
        a.expires_on = add_months(date.today(), market_config().whitelist_months) if a.status == "passed" else None
    audit.record_by(
        db,
        actor,
        "assessment_conclude" if conclude else "assessment_score",
        "market_assessment",
        a.id,
        before,
        {"scores": a.scores, "status": a.status, "total": a.total, "expires_on": str(a.expires_on or "")},
    )
    db.commit()
    return a


def add_evidence(db: Session, actor: Actor, assessment_id: int, item_code: str, upload: files.Upload) -> Attachment:
    a = get_assessment(db, actor, assessment_id)
    if a.status != "open":
        # A concluded (passed or failed) assessment's evidence is what the decision was made on.
        raise Conflict(N_("This assessment is concluded; open a new one to assess again."))
    if item_code not in CHECKLIST_BY_CODE:
        raise Invalid(N_("Unknown checklist item %(code)s."), field="item", code=item_code)
    att, path = files.store(
        db, a.org_id, "assessment", a.id, files.Upload(upload.filename, upload.data, item_code), actor.user.id
    )
    try:
        db.flush()
        audit.record_by(
            db,
            actor,
            "evidence_upload",
            "market_assessment",
            a.id,
            None,
            {"item": item_code, "file": att.filename, "sha256": att.sha256},
        )
        db.commit()
    except Exception:
        db.rollback()
        Path(path).unlink(missing_ok=True)
        raise
    return att


def evidence(db: Session, assessment_id: int) -> list[Attachment]:
    return list(
        db.execute(
            select(Attachment)
            .where(Attachment.object_type == "assessment", Attachment.object_id == assessment_id)
            .order_by(Attachment.id)
        ).scalars()
    )


def spot_check(
    db: Session, actor: Actor, assessment_id: int, passed: bool, findings: str, checked_on: date | None = None
) -> SpotCheck:
    """An unannounced check of a whitelisted provider. A failure suspends the whitelisting at once
    (new voucher claims are refused from this commit on) and cuts the year's quota."""
    a = get_assessment(db, actor, assessment_id)
    if a.status != "passed":
        raise Conflict(N_("Spot checks apply to passed assessments."))
    if not passed and not findings.strip():
        raise Invalid(N_("Describe the findings of a failed spot check."), field="findings")
    sc = SpotCheck(
        assessment_id=a.id,
        org_id=a.org_id,
        checked_on=checked_on or date.today(),
        passed=passed,
        findings=findings.strip()[:2000],
        checker_user_id=actor.user.id,
    )
    db.add(sc)
    db.flush()
    before = {"suspended": a.suspended}
    if not passed:
        a.suspended = True
        a.suspended_reason = sc.findings
        a.suspended_at = utcnow()
        adm = db.execute(select(Admission).where(Admission.org_id == a.org_id)).scalar_one_or_none()
        if adm is not None:
            cut = -base_quota(adm.provider_type) * market_config().spot_check_penalty
            _adjust(db, actor, a.org_id, sc.checked_on.year, cut, "spot_check", N_("Failed spot check"))
    audit.record_by(
        db,
        actor,
        "spot_check",
        "market_assessment",
        a.id,
        before,
        {"passed": passed, "findings": sc.findings, "suspended": a.suspended, "spot_check": sc.id},
    )
    db.commit()
    return sc


def reinstate(db: Session, actor: Actor, assessment_id: int, reason: str) -> Assessment:
    a = get_assessment(db, actor, assessment_id)
    if not a.suspended:
        raise Conflict(N_("This whitelisting is not suspended."))
    if not reason.strip():
        raise Invalid(N_("Give the reason for lifting the suspension."), field="reason")
    before = {"suspended": True, "suspended_reason": a.suspended_reason}
    a.suspended = False
    audit.record_by(
        db,
        actor,
        "whitelist_reinstate",
        "market_assessment",
        a.id,
        before,
        {"suspended": False, "reason": reason.strip()[:1000]},
    )
    db.commit()
    return a


def spot_checks(db: Session, assessment_id: int) -> list[SpotCheck]:
    return list(
        db.execute(select(SpotCheck).where(SpotCheck.assessment_id == assessment_id).order_by(SpotCheck.id)).scalars()
    )


def assessments_of(db: Session, org_id: int) -> list[Assessment]:
    return list(
        db.execute(select(Assessment).where(Assessment.org_id == org_id).order_by(Assessment.id.desc())).scalars()
    )
