"""The annual industrial-control security inspection (plan item 19, 省市区三级联动): the city opens a campaign over
key industries and picks enterprises; each enterprise self-checks with evidence; the district's inspectors check on
site; the checklist engine turns the on-site answers into findings (risk level, remediation owner, deadline);
overdue findings escalate district → city (``escalate_overdue``, run by the background task); a re-check closes
them. Risk score per enterprise, heat map per district and industry, export for the province (``exports.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Cluster, OrgKind, OrgStatus
from chaoyun.security import engine, files, scope
from chaoyun.security.incidents import service as incidents
from chaoyun.security.models import Campaign, Evidence, Finding, Inspection
from chaoyun.timefmt import to_local

ENTERPRISE_CHECKLIST = "enterprise_ics"
INSPECTION_STATES: dict[str, str] = {
    "selected": N_("Awaiting self-check"),
    "self_checked": N_("Self-checked"),
    "inspected": N_("Inspected on site"),
}
FINDING_STATES: dict[str, str] = {
    "open": N_("Not rectified"),
    "rectified": N_("Rectified, awaiting re-check"),
    "closed": N_("Closed after re-check"),
}
FINDING_SOURCES: dict[str, str] = {"self_check": N_("Self-check"), "onsite": N_("On-site check")}
# Days to remediate a finding, by risk level (the inspector may set another deadline).
REMEDIATION_DAYS: dict[str, int] = {"high": 30, "medium": 60, "low": 90}
# An open finding past its deadline goes to the district at once, to the city this many days later.
CITY_AFTER_DAYS = 14


def today_local() -> date:
    return to_local(utcnow()).date()


# ---------------------------------------------------------------- campaigns


def create_campaign(
    db: Session,
    actor: Actor,
    year: int,
    name: str,
    clusters: list[str],
    self_check_due: date,
    org_ids: list[int] | None = None,
    checklist: str = ENTERPRISE_CHECKLIST,
) -> Campaign:
    """Open a campaign over the key industries ``clusters``: the enterprises picked (``org_ids``), or every active
    enterprise of those industries."""
    name = name.strip()
    if not name:
        raise Invalid(N_("Give the campaign a name."), field="name")
    bad = [c for c in clusters if c not in {str(x) for x in Cluster}]
    if not clusters or bad:
        raise Invalid(N_("Choose at least one key industry."), field="clusters")
    engine.load(checklist)
    if self_check_due.year < year - 1 or self_check_due.year > year + 1:
        raise Invalid(N_("The self-check deadline must fall in the campaign's year."), field="self_check_due")
    c = Campaign(
        year=year,
        name=name[:200],
        checklist=checklist,
        clusters=sorted(set(clusters)),
        self_check_due=self_check_due,
        created_by=actor.user.id,
    )
    db.add(c)
    db.flush()
    added = _add(db, c, org_ids)
    audit.record_by(
        db,
        actor,
        "security_campaign.create",
        "security_campaign",
        c.id,
        None,
        {"name": c.name, "year": year, "clusters": c.clusters, "enterprises": added},
    )
    db.commit()
    return c


def _candidates(db: Session, clusters: list[str], org_ids: list[int] | None) -> list[tuple[Organisation, str]]:
    q = (
        select(Organisation, EnterpriseProfile.cluster)
        .join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
        .where(Organisation.kind == OrgKind.ENTERPRISE, Organisation.status == OrgStatus.ACTIVE)
    )
    if org_ids is not None:
        q = q.where(Organisation.id.in_(sorted(set(org_ids))))
    else:
        q = q.where(EnterpriseProfile.cluster.in_(clusters))
    return [(o, cl) for o, cl in db.execute(q.order_by(Organisation.id)).all()]


def _add(db: Session, c: Campaign, org_ids: list[int] | None) -> int:
    have = set(db.execute(select(Inspection.org_id).where(Inspection.campaign_id == c.id)).scalars())
    n = 0
    for org, cluster in _candidates(db, list(c.clusters), org_ids):
        if org.id in have:
            continue
        db.add(Inspection(campaign_id=c.id, org_id=org.id, district=org.district, cluster=cluster))
        n += 1
    db.flush()
    return n


def add_enterprises(db: Session, actor: Actor, campaign_id: int, org_ids: list[int]) -> int:
    c = get_campaign(db, actor, campaign_id)
    if c.status != "open":
        raise Conflict(N_("This campaign is closed."))
    if not org_ids:
        raise Invalid(N_("Choose at least one enterprise."), field="org_ids")
    n = _add(db, c, org_ids)
    audit.record_by(
        db,
        actor,
        "security_campaign.add_enterprises",
        "security_campaign",
        c.id,
        None,
        {"org_ids": org_ids, "added": n},
    )
    db.commit()
    return n


def get_campaign(db: Session, actor: Actor, campaign_id: int) -> Campaign:
    c = db.get(Campaign, campaign_id)
    if c is None:
        raise NotFound(N_("No such campaign."))
    if not actor.is_city_wide:
        # An enterprise sees a campaign through its own inspection in it, a district officer through its
        # district's enterprises in it.
        mine = db.execute(
            select(Inspection.id).where(
                Inspection.campaign_id == c.id, scope.where(actor, Inspection.org_id, Inspection.district)
            )
        ).first()
        if mine is None:
            raise NotFound(N_("No such campaign."))
    return c


def list_campaigns(db: Session, actor: Actor) -> list[Campaign]:
    q = select(Campaign)
    if not actor.is_city_wide:
        q = q.where(
            Campaign.id.in_(
                select(Inspection.campaign_id).where(scope.where(actor, Inspection.org_id, Inspection.district))
            )
        )
    return list(db.execute(q.order_by(Campaign.year.desc(), Campaign.id.desc())).scalars())


def checklist_of(c: Campaign) -> engine.Checklist:
    return engine.load(c.checklist)


# ---------------------------------------------------------------- inspections


def get_inspection(db: Session, actor: Actor, inspection_id: int) -> Inspection:
    i = db.get(Inspection, inspection_id)
    if i is None or not scope.can_see(actor, i.org_id, i.district):
        raise NotFound(N_("No such inspection, or it is not yours to see."))
    return i


def inspections(db: Session, actor: Actor, campaign_id: int | None = None) -> list[Inspection]:
    q = select(Inspection).where(scope.where(actor, Inspection.org_id, Inspection.district))
    if campaign_id is not None:
        q = q.where(Inspection.campaign_id == campaign_id)
    return list(db.execute(q.order_by(Inspection.campaign_id.desc(), Inspection.id)).scalars())


def org_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        k: v
        for k, v in db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(sorted(ids)))).all()
    }


def _answers_from_form(checklist: engine.Checklist, raw: Mapping[str, Any]) -> dict[str, str]:
    return engine.parse_answers(checklist, {k: v for k, v in raw.items() if k in checklist.by_code})


def save_self_check(
    db: Session, actor: Actor, inspection_id: int, answers: Mapping[str, Any], notes: Mapping[str, str], submit: bool
) -> Inspection:
    """The enterprise's own answers (kept as a draft until submitted). Submitting needs every item answered, and
    evidence for every high-risk item answered "met"."""
    i = get_inspection(db, actor, inspection_id)
    if actor.audience != "enterprise" or i.org_id != actor.org_id:
        raise NotFound(N_("No such inspection, or it is not yours to see."))
    return self_check_for(db, i, answers, notes, submit, Who.of(actor))


@dataclass(frozen=True)
class Who:
    """Who acts, for the audit log: a person through their membership, or an import / the demo on behalf of an
    enterprise (``on_behalf``)."""

    user_id: int | None
    username: str
    org_id: int | None

    @classmethod
    def of(cls, actor: Actor) -> Who:
        return cls(actor.user.id, actor.user.username, actor.org_id)

    @classmethod
    def on_behalf(cls, org_id: int, username: str = "demo") -> Who:
        return cls(None, username, org_id)


def _record(db: Session, who: Who, action: str, obj: str, obj_id: int, before: Any, after: Any) -> None:
    audit.record(
        db,
        actor_user_id=who.user_id,
        actor_username=who.username,
        actor_org_id=who.org_id,
        action=action,
        object_type=obj,
        object_id=obj_id,
        before=before,
        after=after,
    )


def self_check_for(
    db: Session, i: Inspection, answers: Mapping[str, Any], notes: Mapping[str, str], submit: bool, who: Who
) -> Inspection:
    """The self-check rules once the caller has established that ``who`` answers for the inspection's enterprise."""
    c = db.get(Campaign, i.campaign_id)
    assert c is not None
    if c.status != "open":
        raise Conflict(N_("This campaign is closed."))
    if i.status == "inspected":
        raise Conflict(N_("The on-site check is done; the self-check can no longer change."))
    checklist = checklist_of(c)
    parsed = _answers_from_form(checklist, answers)
    merged = {k: dict(v) for k, v in (i.self_answers or {}).items()}
    for code, a in parsed.items():
        merged[code] = {**merged.get(code, {}), "answer": a}
    for code, text in notes.items():
        if code in checklist.by_code and text.strip():
            merged.setdefault(code, {})["note"] = text.strip()[:1000]
    if submit:
        answered = {c_: v["answer"] for c_, v in merged.items() if v.get("answer")}
        missing = engine.score_answers(checklist, answered).unanswered
        if missing:
            raise Invalid(
                N_("Answer every item before submitting (missing: %(codes)s)."),
                field=f"answer_{missing[0]}",
                codes=", ".join(missing),
            )
        with_files = {e.item_code for e in evidence(db, i.id)}
        need = [
            it.code
            for it in checklist.items
            if it.risk == "high" and answered.get(it.code) == "yes" and it.code not in with_files
        ]
        if need:
            raise Invalid(
                N_("Attach evidence for each high-risk item answered as met (missing: %(codes)s)."),
                field=f"answer_{need[0]}",
                codes=", ".join(need),
            )
    before = {"status": i.status, "self_score": i.self_score}
    i.self_answers = merged
    answered = {c_: v["answer"] for c_, v in merged.items() if v.get("answer")}
    if submit:
        i.self_score = engine.score_answers(checklist, answered).score
        i.self_submitted_at = utcnow()
        i.status = "self_checked"
    _record(
        db,
        who,
        "security_inspection.self_check_submit" if submit else "security_inspection.self_check_save",
        "security_inspection",
        i.id,
        before,
        {"status": i.status, "self_score": i.self_score},
    )
    db.commit()
    return i


def add_evidence(db: Session, actor: Actor, inspection_id: int, item_code: str, upload: files.Upload) -> Evidence:
    i = get_inspection(db, actor, inspection_id)
    if actor.audience != "enterprise" or i.org_id != actor.org_id:
        raise NotFound(N_("No such inspection, or it is not yours to see."))
    return evidence_for(db, i, item_code, upload, Who.of(actor))


def evidence_for(db: Session, i: Inspection, item_code: str, upload: files.Upload, who: Who) -> Evidence:
    c = db.get(Campaign, i.campaign_id)
    assert c is not None
    if item_code not in checklist_of(c).by_code:
        raise Invalid(N_("Unknown checklist item %(code)s."), field="item", code=item_code)
    if i.status == "inspected":
        raise Conflict(N_("The on-site check is done; the self-check can no longer change."))
    ctype, sha, stored, path = files.write(upload)
    try:
        ev = Evidence(
            inspection_id=i.id,
            org_id=i.org_id,
            item_code=item_code,
            filename=Path(upload.filename).name[:200],
            content_type=ctype,
            size=len(upload.data),
            sha256=sha,
            path=stored,
            uploaded_by=who.user_id,
        )
        db.add(ev)
        db.flush()
        _record(
            db,
            who,
            "security_inspection.evidence_upload",
            "security_inspection",
            i.id,
            None,
            {"item": item_code, "file": ev.filename, "sha256": sha},
        )
        db.commit()
    except Exception:
        db.rollback()
        path.unlink(missing_ok=True)
        raise
    return ev


def evidence(db: Session, inspection_id: int) -> list[Evidence]:
    return list(
        db.execute(select(Evidence).where(Evidence.inspection_id == inspection_id).order_by(Evidence.id)).scalars()
    )


def read_evidence(db: Session, actor: Actor, evidence_id: int) -> tuple[Evidence, bytes]:
    ev = db.get(Evidence, evidence_id)
    if ev is None:
        raise NotFound(N_("No such file, or it is not yours to see."))
    get_inspection(db, actor, ev.inspection_id)
    data = files.read(ev.path)
    if data is None:
        raise NotFound(N_("No such file, or it is not yours to see."))
    return ev, data


def record_onsite(
    db: Session,
    actor: Actor,
    inspection_id: int,
    answers: Mapping[str, Any],
    notes: Mapping[str, str],
    conclude: bool,
    inspected_on: date | None = None,
) -> Inspection:
    """The district inspector's answers on site (a draft until concluded). Concluding needs every item answered;
    the engine turns each unmet or partly met item into a finding with its risk level, the enterprise's contact
    as remediation owner and a deadline by risk level."""
    i = get_inspection(db, actor, inspection_id)
    c = db.get(Campaign, i.campaign_id)
    assert c is not None
    if c.status != "open":
        raise Conflict(N_("This campaign is closed."))
    if i.status == "inspected":
        raise Conflict(N_("The on-site check of this enterprise is concluded."))
    checklist = checklist_of(c)
    parsed = _answers_from_form(checklist, answers)
    merged = {k: dict(v) for k, v in (i.onsite_answers or {}).items()}
    for code, a in parsed.items():
        merged[code] = {**merged.get(code, {}), "answer": a}
    for code, text in notes.items():
        if code in checklist.by_code and text.strip():
            merged.setdefault(code, {})["note"] = text.strip()[:1000]
    answered = {c_: v["answer"] for c_, v in merged.items() if v.get("answer")}
    result = engine.score_answers(checklist, answered)
    if conclude and result.unanswered:
        raise Invalid(
            N_("Answer every item before concluding (missing: %(codes)s)."),
            field=f"answer_{result.unanswered[0]}",
            codes=", ".join(result.unanswered),
        )
    before = {"status": i.status, "onsite_score": i.onsite_score}
    i.onsite_answers = merged
    i.inspector_user_id = actor.user.id
    i.inspector_name = actor.user.display_name
    made = 0
    if conclude:
        i.onsite_score = result.score
        i.inspected_on = inspected_on or today_local()
        i.status = "inspected"
        org = db.get(Organisation, i.org_id)
        owner = (org.contact_name if org else "") or ""
        for gap in result.gaps:
            note = merged.get(gap.item.code, {}).get("note", "")
            db.add(
                Finding(
                    inspection_id=i.id,
                    org_id=i.org_id,
                    district=i.district,
                    item_code=gap.item.code,
                    domain=gap.item.domain,
                    source="onsite",
                    risk=gap.risk,
                    description=note,
                    owner=owner[:100],
                    deadline=i.inspected_on + timedelta(days=REMEDIATION_DAYS[gap.risk]),
                )
            )
            made += 1
    audit.record_by(
        db,
        actor,
        "security_inspection.onsite_conclude" if conclude else "security_inspection.onsite_save",
        "security_inspection",
        i.id,
        before,
        {"status": i.status, "onsite_score": i.onsite_score, "findings": made},
    )
    db.commit()
    return i


# ---------------------------------------------------------------- findings


def get_finding(db: Session, actor: Actor, finding_id: int) -> Finding:
    f = db.get(Finding, finding_id)
    if f is None or not scope.can_see(actor, f.org_id, f.district):
        raise NotFound(N_("No such finding, or it is not yours to see."))
    return f


def findings(
    db: Session,
    actor: Actor,
    status: str | None = None,
    inspection_id: int | None = None,
    open_only: bool = False,
    escalation: str | None = None,
    limit: int = 1000,
) -> list[Finding]:
    q = select(Finding).where(scope.where(actor, Finding.org_id, Finding.district))
    if status:
        q = q.where(Finding.status == status)
    elif open_only:
        q = q.where(Finding.status != "closed")
    if inspection_id is not None:
        q = q.where(Finding.inspection_id == inspection_id)
    if escalation:
        q = q.where(Finding.escalation == escalation)
    return list(db.execute(q.order_by(Finding.deadline, Finding.id).limit(limit)).scalars())


def findings_of_campaign(db: Session, actor: Actor, campaign_id: int) -> list[Finding]:
    """Every finding of the campaign's inspections in the actor's scope (one query)."""
    q = (
        select(Finding)
        .join(Inspection, Inspection.id == Finding.inspection_id)
        .where(Inspection.campaign_id == campaign_id, scope.where(actor, Finding.org_id, Finding.district))
        .order_by(Finding.org_id, Finding.id)
    )
    return list(db.execute(q).scalars())


def update_finding(
    db: Session, actor: Actor, finding_id: int, owner: str, deadline: date, description: str | None = None
) -> Finding:
    """The inspector sets the remediation owner and deadline (and may reword the finding)."""
    f = get_finding(db, actor, finding_id)
    if f.status == "closed":
        raise Conflict(N_("This finding is closed."))
    if not owner.strip():
        raise Invalid(N_("Name the remediation owner."), field="owner")
    before = {"owner": f.owner, "deadline": str(f.deadline)}
    f.owner = owner.strip()[:100]
    if deadline != f.deadline:
        f.deadline = deadline
        if deadline >= today_local():
            f.escalation, f.escalated_at = "none", None
    if description is not None:
        f.description = description.strip()[:4000]
    audit.record_by(
        db,
        actor,
        "security_finding.update",
        "security_finding",
        f.id,
        before,
        {"owner": f.owner, "deadline": str(f.deadline)},
    )
    db.commit()
    return f


def rectify(db: Session, actor: Actor, finding_id: int, text: str) -> Finding:
    """The enterprise reports what it did; the finding waits for the re-check."""
    f = get_finding(db, actor, finding_id)
    if actor.audience != "enterprise":
        raise NotFound(N_("No such finding, or it is not yours to see."))
    return rectify_for(db, f, text, Who.of(actor))


def rectify_for(db: Session, f: Finding, text: str, who: Who) -> Finding:
    if f.status != "open":
        raise Conflict(N_("Only an open finding can be reported rectified."))
    if not text.strip():
        raise Invalid(N_("Describe what was done."), field="text")
    f.rectification = text.strip()[:4000]
    f.status = "rectified"
    _record(
        db,
        who,
        "security_finding.rectify",
        "security_finding",
        f.id,
        {"status": "open"},
        {"status": "rectified", "text": f.rectification[:500]},
    )
    db.commit()
    return f


def recheck(
    db: Session, actor: Actor, finding_id: int, passed: bool, note: str, new_deadline: date | None = None
) -> Finding:
    """The inspector's re-check: passed closes the finding; failed reopens it (with a new deadline if given)."""
    f = get_finding(db, actor, finding_id)
    if f.status == "closed":
        raise Conflict(N_("This finding is closed."))
    if not passed and not note.strip():
        raise Invalid(N_("Say what is still missing."), field="note")
    before = {"status": f.status}
    f.recheck_note = note.strip()[:4000]
    if passed:
        f.status = "closed"
        f.closed_at = utcnow()
    else:
        f.status = "open"
        if new_deadline is not None:
            f.deadline = new_deadline
    audit.record_by(
        db,
        actor,
        "security_finding.recheck",
        "security_finding",
        f.id,
        before,
        {"status": f.status, "passed": passed, "note": f.recheck_note[:500]},
    )
    db.commit()
    return f


def escalate_overdue(db: Session, today: date | None = None) -> tuple[int, int]:
    """Open findings past their deadline go to the district; those still open CITY_AFTER_DAYS later to the city.
    Returns (to district, to city). Idempotent; audit entries by "system"."""
    today = today or today_local()
    to_d = to_c = 0
    rows = (
        db.execute(
            select(Finding).where(Finding.status == "open", Finding.deadline < today, Finding.escalation != "city")
        )
        .scalars()
        .all()
    )
    for f in rows:
        late = (today - f.deadline).days
        target = "city" if late > CITY_AFTER_DAYS else "district"
        if target == f.escalation:
            continue
        before = f.escalation
        f.escalation = target
        f.escalated_at = utcnow()
        if target == "city":
            to_c += 1
        else:
            to_d += 1
        audit.record(
            db,
            actor_user_id=None,
            actor_username="system",
            actor_org_id=f.org_id,
            action="security_finding.escalate",
            object_type="security_finding",
            object_id=f.id,
            before={"escalation": before},
            after={"escalation": target, "days_late": late},
        )
    db.commit()
    return to_d, to_c


def overdue(f: Finding, today: date | None = None) -> bool:
    return f.status == "open" and f.deadline < (today or today_local())


# ---------------------------------------------------------------- risk, heat map


@dataclass
class RiskRow:
    org_id: int
    name: str
    district: str | None
    cluster: str
    status: str
    self_score: float | None
    onsite_score: float | None
    open_findings: int
    open_high: int
    overdue: int
    open_incidents: int
    risk_score: float | None  # None until the on-site check (or self-check) gives answers


def risk_rows(db: Session, actor: Actor, campaign_id: int) -> list[RiskRow]:
    """Each enterprise of the campaign in scope with its risk score (``engine.risk_score``): the open findings of
    the on-site check, or before it the gaps of the submitted self-check, plus open high-severity incidents."""
    c = get_campaign(db, actor, campaign_id)
    checklist = checklist_of(c)
    rows = inspections(db, actor, c.id)
    names = org_names(db, {r.org_id for r in rows})
    fs = (
        db.execute(select(Finding).where(Finding.inspection_id.in_([r.id for r in rows]), Finding.status != "closed"))
        .scalars()
        .all()
        if rows
        else []
    )
    by_insp: dict[int, list[Finding]] = {}
    for f in fs:
        by_insp.setdefault(f.inspection_id, []).append(f)
    incidents_high = incidents.open_high_by_org(db)
    today = today_local()
    out = []
    for r in rows:
        open_f = by_insp.get(r.id, [])
        n_inc = incidents_high.get(r.org_id, 0)
        score: float | None
        if r.status == "inspected":
            score = engine.risk_score(checklist, {f.item_code: f.risk for f in open_f}, n_inc)
        elif r.status == "self_checked":
            answered = {k: v["answer"] for k, v in (r.self_answers or {}).items() if v.get("answer")}
            gaps = engine.score_answers(checklist, answered).gaps
            score = engine.risk_score(checklist, {g.item.code: g.risk for g in gaps}, n_inc)
        else:
            score = None
        out.append(
            RiskRow(
                org_id=r.org_id,
                name=names.get(r.org_id, ""),
                district=r.district,
                cluster=r.cluster,
                status=r.status,
                self_score=r.self_score,
                onsite_score=r.onsite_score,
                open_findings=len(open_f),
                open_high=sum(1 for f in open_f if f.risk == "high"),
                overdue=sum(1 for f in open_f if overdue(f, today)),
                open_incidents=n_inc,
                risk_score=score,
            )
        )
    out.sort(key=lambda x: (-(x.risk_score if x.risk_score is not None else -1), x.org_id))
    return out


@dataclass
class HeatCell:
    district: str
    cluster: str
    enterprises: int
    assessed: int
    mean_risk: float | None


def heatmap(rows: list[RiskRow]) -> list[HeatCell]:
    """Mean risk score per district and industry over the assessed enterprises."""
    cells: dict[tuple[str, str], list[RiskRow]] = {}
    for r in rows:
        cells.setdefault((r.district or "", r.cluster), []).append(r)
    out = []
    for (d, cl), rs in sorted(cells.items()):
        scored = [r.risk_score for r in rs if r.risk_score is not None]
        out.append(HeatCell(d, cl, len(rs), len(scored), round(sum(scored) / len(scored), 1) if scored else None))
    return out


# ---------------------------------------------------------------- what flows into to-dos and oversight


def open_high_findings_count(db: Session, actor: Actor) -> int:
    return int(
        db.execute(
            select(func.count(Finding.id)).where(
                scope.where(actor, Finding.org_id, Finding.district), Finding.status == "open", Finding.risk == "high"
            )
        ).scalar_one()
    )


def escalated_count(db: Session, actor: Actor, level: str) -> int:
    return int(
        db.execute(
            select(func.count(Finding.id)).where(
                scope.where(actor, Finding.org_id, Finding.district),
                Finding.status == "open",
                Finding.escalation == level,
            )
        ).scalar_one()
    )


def pending_selfchecks(db: Session, actor: Actor) -> list[Inspection]:
    return list(
        db.execute(
            select(Inspection)
            .join(Campaign, Campaign.id == Inspection.campaign_id)
            .where(Inspection.org_id == actor.org_id, Inspection.status == "selected", Campaign.status == "open")
        ).scalars()
    )


def awaiting_onsite(db: Session, actor: Actor) -> int:
    return int(
        db.execute(
            select(func.count(Inspection.id))
            .join(Campaign, Campaign.id == Inspection.campaign_id)
            .where(
                scope.where(actor, Inspection.org_id, Inspection.district),
                Inspection.status == "self_checked",
                Campaign.status == "open",
            )
        ).scalar_one()
    )


def rechecks_waiting(db: Session, actor: Actor) -> int:
    return int(
        db.execute(
            select(func.count(Finding.id)).where(
                scope.where(actor, Finding.org_id, Finding.district), Finding.status == "rectified"
            )
        ).scalar_one()
    )
