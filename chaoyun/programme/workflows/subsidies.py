"""Innovation subsidy and 两化融合 certification reward (plan item 9).

- Innovation subsidy (一次性补贴): at most ``max_ratio`` (30 %) of the eligible information-system costs,
  capped at ``cap_per_enterprise`` (500,000 yuan) per enterprise over the whole programme. One-time by
  default: an enterprise that received it (or has an application in review) cannot get a second; with
  ``top_up_allowed: true`` in the pack a later application gets at most what is left of the cap (the cap
  applies to the *sum* of its subsidies in public notice, approved or paid). An application whose amount
  comes to 0 is refused. Items outside the eligible categories or
  incurred outside the programme period are excluded, each with its reason shown to the applicant.
- Certification reward: a fixed ``amount`` (200,000 yuan), once per enterprise, for a national 两化融合
  management-system certificate.

Numbers come from ``get_pack().subsidies``. The grant is rounded down to the fen (see ``money.py``).
The per-enterprise totals live in ``subsidy_ledger``; reserving them (when the city passes an application
into public notice) locks the ledger row and is a conditional UPDATE, so two concurrent approvals cannot
together exceed the cap or pay the reward twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.programme.pack import Pack, get_pack
from chaoyun.programme.workflow_models import SubsidyApplication, SubsidyItem, SubsidyLedger, WorkflowFile
from chaoyun.programme.workflows import files, scoring
from chaoyun.programme.workflows import workflow as wf
from chaoyun.programme.workflows.money import ZERO, SpendingRow, grant_of
from chaoyun.timefmt import format_dt

SUBSIDY = wf.Workflow(
    "subsidy",
    N_("application"),
    [
        wf.t("submit", [wf.DRAFT], wf.SUBMITTED, wf.APPLICANT),
        wf.t("withdraw", [wf.DRAFT, wf.SUBMITTED], wf.WITHDRAWN, wf.APPLICANT),
        wf.t("accept", [wf.SUBMITTED], wf.DISTRICT_REVIEW, wf.DISTRICT),
        wf.t("district_pass", [wf.DISTRICT_REVIEW], wf.CITY_REVIEW, wf.DISTRICT),
        wf.t("district_reject", [wf.SUBMITTED, wf.DISTRICT_REVIEW], wf.REJECTED, wf.DISTRICT),
        wf.t("city_pass", [wf.CITY_REVIEW], wf.PUBLIC_NOTICE, wf.CITY),
        wf.t("city_reject", [wf.CITY_REVIEW, wf.PUBLIC_NOTICE], wf.REJECTED, wf.CITY),
        wf.t("conclude_notice", [wf.PUBLIC_NOTICE], wf.APPROVED, wf.CITY),
        wf.t("pay", [wf.APPROVED], wf.PAID, wf.CITY),
    ],
)
INNOVATION = "innovation"
CERTIFICATION = "certification"
NOTICE_DAYS = 5
# States in which an application's amount counts against the enterprise's cap.
COUNTING = {wf.PUBLIC_NOTICE, wf.APPROVED, wf.PAID}


@dataclass
class CostIn:
    category: str
    description: str
    amount: Decimal
    incurred_on: date


@dataclass
class ApplicationIn:
    kind: str
    title: str
    items: list[CostIn]
    uploads: list[files.Upload]
    certificate_no: str = ""
    certificate_date: date | None = None


@dataclass
class Computation:
    claimed_total: Decimal
    eligible_total: Decimal
    ratio_amount: Decimal
    already: Decimal
    cap: Decimal
    amount: Decimal
    cap_note: str  # English msgid, "" when the cap does not bite
    items: list[tuple[CostIn, bool, str]]


def check_item(pack: Pack, item: CostIn) -> tuple[bool, str]:
    rules = pack.subsidies.innovation
    if item.category not in rules.eligible_cost_categories:
        return False, N_(
            "Not an information-system cost the subsidy covers (cloud, big data, IoT, network and industrial "
            "internet systems)."
        )
    if not rules.period_start <= item.incurred_on.year <= rules.period_end:
        return False, N_("Incurred outside the programme period.")
    return True, ""


def ledger_total(db: Session, org_id: int) -> Decimal:
    row = db.get(SubsidyLedger, org_id)
    return row.innovation_total if row is not None else ZERO


ONE_TIME = N_(
    "The innovation subsidy is one-time (一次性补贴): this enterprise has already received it or has an "
    "application for it in review, so a second application cannot be granted."
)
NOTHING_LEFT = N_("This enterprise has already reached the subsidy cap over the programme: nothing is left to grant.")
ZERO_AMOUNT = N_("The computed subsidy is 0 yuan: an application for nothing cannot be submitted.")


def _live_innovation(db: Session, org_id: int, exclude: int | None = None) -> bool:
    """Another innovation application of the enterprise that is submitted and not rejected or withdrawn."""
    q = select(SubsidyApplication.id).where(
        SubsidyApplication.enterprise_org_id == org_id,
        SubsidyApplication.kind == INNOVATION,
        SubsidyApplication.state.notin_([wf.DRAFT, wf.REJECTED, wf.WITHDRAWN]),
    )
    if exclude is not None:
        q = q.where(SubsidyApplication.id != exclude)
    return db.execute(q).first() is not None


def one_time_refusal(db: Session, org_id: int, exclude: int | None = None) -> str | None:
    """Why the enterprise cannot get another innovation subsidy (English msgid), or None."""
    if get_pack().subsidies.innovation.top_up_allowed:
        return None
    if ledger_total(db, org_id) > 0 or _live_innovation(db, org_id, exclude):
        return ONE_TIME
    return None


@dataclass
class Standing:
    """What an enterprise has already received, shown on the application page with the rules."""

    innovation_received: Decimal  # in public notice, approved or paid
    innovation_remaining: Decimal  # what is left of the cap
    innovation_in_review: bool  # a submitted application not yet decided
    certification_received: bool
    certification_in_progress: bool
    top_up_allowed: bool
    one_time_refusal: str | None


def standing(db: Session, org_id: int) -> Standing:
    rules = get_pack().subsidies.innovation
    row = db.get(SubsidyLedger, org_id)
    received = row.innovation_total if row is not None else ZERO
    return Standing(
        innovation_received=received,
        innovation_remaining=max(rules.cap_per_enterprise - received, ZERO),
        innovation_in_review=_live_innovation(db, org_id) and received == 0,
        certification_received=row is not None and row.certification_count > 0,
        certification_in_progress=_has_live_certification(db, org_id),
        top_up_allowed=rules.top_up_allowed,
        one_time_refusal=one_time_refusal(db, org_id),
    )


def compute(db: Session, org_id: int, items: list[CostIn], exclude_app: int | None = None) -> Computation:
    """What an innovation application would get now; the applicant sees this with every exclusion reason.

    One-time by default (``top_up_allowed: false``): an enterprise that already received the subsidy, or has
    another application in review, gets 0 with the reason. With top-ups allowed, at most what is left of
    the cap."""
    pack = get_pack()
    rules = pack.subsidies.innovation
    checked = [(it, *check_item(pack, it)) for it in items]
    claimed = sum((it.amount for it in items), ZERO)
    eligible = sum((it.amount for it, ok, _ in checked if ok), ZERO)
    ratio_amount = grant_of(eligible, rules.max_ratio)
    already = ledger_total(db, org_id)
    remaining = max(rules.cap_per_enterprise - already, ZERO)
    amount = min(ratio_amount, remaining)
    note = ""
    refusal = one_time_refusal(db, org_id, exclude_app)
    if refusal is not None:
        amount, note = ZERO, refusal
    elif remaining <= 0:
        note = NOTHING_LEFT
    elif amount < ratio_amount:
        note = (
            N_("Reduced to what is left of the per-enterprise cap over the programme.")
            if already > 0
            else N_("Capped at the per-enterprise maximum.")
        )
    return Computation(claimed, eligible, ratio_amount, already, rules.cap_per_enterprise, amount, note, checked)


def parties_of(actor: Actor, a: SubsidyApplication) -> set[str]:
    parties = wf.government_parties(actor, a.district)
    if actor.org_id == a.enterprise_org_id and actor.role == Role.ENTERPRISE_ADMIN:
        parties.add(wf.APPLICANT)
    return parties


def can_read(actor: Actor, a: SubsidyApplication) -> bool:
    # A draft is the enterprise's private work: officers and experts see it once submitted.
    if a.state == wf.DRAFT:
        return actor.org_id == a.enterprise_org_id
    if actor.is_city_wide:
        return True
    if actor.role == Role.DISTRICT_OFFICER:
        return actor.district is not None and a.district == actor.district
    return actor.org_id == a.enterprise_org_id


def get_application(db: Session, actor: Actor, app_id: int) -> SubsidyApplication:
    a = db.get(SubsidyApplication, app_id)
    if a is None or not can_read(actor, a):
        raise NotFound(N_("No such application, or it is not yours to see."))
    return a


def list_applications(db: Session, actor: Actor, limit: int = 500) -> list[SubsidyApplication]:
    q = select(SubsidyApplication)
    mine = SubsidyApplication.enterprise_org_id == actor.org_id
    not_draft = SubsidyApplication.state != wf.DRAFT
    if actor.is_city_wide:
        q = q.where(or_(not_draft, mine))
    elif actor.role == Role.DISTRICT_OFFICER:
        q = q.where(SubsidyApplication.district == actor.district, not_draft) if actor.district else q.where(false())
    else:
        q = q.where(mine)
    return list(db.execute(q.order_by(SubsidyApplication.id.desc()).limit(limit)).scalars())


def create_application(
    db: Session, actor: Actor, data: ApplicationIn, now: datetime | None = None
) -> SubsidyApplication:
    now = now or utcnow()
    if actor.role != Role.ENTERPRISE_ADMIN:
        raise Forbidden(N_("Only an enterprise administrator applies for the enterprise."))
    org = actor.org
    pack = get_pack()
    if not data.title.strip():
        raise Invalid(N_("Give the application a title."), field="title")
    a = SubsidyApplication(
        kind=data.kind,
        enterprise_org_id=org.id,
        district=org.district,
        cluster=org.enterprise.cluster if org.enterprise else None,
        year=now.year,
        title=data.title.strip()[:200],
        state=wf.DRAFT,
    )
    if data.kind == INNOVATION:
        if not data.items:
            raise Invalid(N_("List the information-system cost items."), field="items")
        if not any(u.kind == "cost_evidence" and u.data for u in data.uploads):
            raise Invalid(
                N_("The file for “%(kind)s” is missing or empty."),
                kind=files.KIND_LABELS["cost_evidence"],
                field="cost_evidence",
            )
        comp = compute(db, org.id, data.items)
        for it, ok, reason in comp.items:
            a.items.append(
                SubsidyItem(
                    category=it.category[:40],
                    description=it.description.strip()[:300],
                    amount=it.amount,
                    incurred_on=it.incurred_on,
                    eligible=ok,
                    excluded_reason=reason,
                )
            )
        if comp.eligible_total <= 0:
            raise Invalid(N_("No cost item of this application is eligible."), field="items")
        if comp.amount <= 0:
            raise Conflict(comp.cap_note or ZERO_AMOUNT)
        a.claimed_total = comp.claimed_total
        a.eligible_total = comp.eligible_total
        a.computed_amount = comp.amount
        a.cap_note = comp.cap_note
    elif data.kind == CERTIFICATION:
        if not data.certificate_no.strip() or data.certificate_date is None:
            raise Invalid(N_("Give the certificate number and date."), field="certificate_no")
        if not any(u.kind == "certificate" and u.data for u in data.uploads):
            raise Invalid(
                N_("The file for “%(kind)s” is missing or empty."),
                kind=files.KIND_LABELS["certificate"],
                field="certificate",
            )
        if _has_live_certification(db, org.id):
            raise Conflict(
                N_("The certification reward is paid once per enterprise; yours is already applied for or granted.")
            )
        a.certificate_no = data.certificate_no.strip()[:64]
        a.certificate_date = data.certificate_date
        a.computed_amount = pack.subsidies.certification_reward.amount
    else:
        raise Invalid(N_("Unknown application kind."), field="kind")
    for u in data.uploads:
        if u.data:
            files.validate(u)
    db.add(a)
    db.flush()
    for u in data.uploads:
        if u.data:
            files.store(db, actor, "subsidy", a.id, org.id, u)
    audit.record_by(
        db,
        actor,
        "subsidy.create",
        "subsidy",
        a.id,
        after={"kind": a.kind, "eligible_total": a.eligible_total, "computed": a.computed_amount},
    )
    db.commit()
    return a


def _has_live_certification(db: Session, org_id: int, exclude: int | None = None) -> bool:
    q = select(SubsidyApplication.id).where(
        SubsidyApplication.enterprise_org_id == org_id,
        SubsidyApplication.kind == CERTIFICATION,
        SubsidyApplication.state.notin_([wf.REJECTED, wf.WITHDRAWN]),
    )
    if exclude is not None:
        q = q.where(SubsidyApplication.id != exclude)
    return db.execute(q).first() is not None


def _ledger_row(db: Session, org_id: int) -> SubsidyLedger:
    if db.get(SubsidyLedger, org_id) is None:
        try:
            with db.begin_nested():
                db.add(SubsidyLedger(org_id=org_id, innovation_total=ZERO, certification_count=0))
        except IntegrityError:
            pass
    row = db.get(SubsidyLedger, org_id, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def _reserve(db: Session, a: SubsidyApplication) -> Decimal:
    """Count the application against the enterprise's cap (or its one reward); returns the amount granted."""
    pack = get_pack()
    row = _ledger_row(db, a.enterprise_org_id)
    if a.kind == CERTIFICATION:
        res = db.execute(
            update(SubsidyLedger)
            .where(SubsidyLedger.org_id == a.enterprise_org_id, SubsidyLedger.certification_count == 0)
            .values(certification_count=SubsidyLedger.certification_count + 1)
            .execution_options(synchronize_session=False)
        )
        if wf.rowcount(res) != 1:
            db.rollback()
            raise Conflict(N_("This enterprise has already received the certification reward."))
        return pack.subsidies.certification_reward.amount
    cap = pack.subsidies.innovation.cap_per_enterprise
    if not pack.subsidies.innovation.top_up_allowed and row.innovation_total > 0:
        # Checked under the ledger row lock: two applications racing to public notice get one subsidy.
        db.rollback()
        raise Conflict(ONE_TIME)
    ratio_amount = grant_of(a.eligible_total, pack.subsidies.innovation.max_ratio)
    amount = min(ratio_amount, cap - row.innovation_total)
    if amount <= 0:
        db.rollback()
        raise Conflict(N_("This enterprise has already reached the subsidy cap over the programme."))
    res = db.execute(
        update(SubsidyLedger)
        .where(SubsidyLedger.org_id == a.enterprise_org_id, SubsidyLedger.innovation_total + amount <= cap)
        .values(innovation_total=SubsidyLedger.innovation_total + amount)
        .execution_options(synchronize_session=False)
    )
    if wf.rowcount(res) != 1:
        db.rollback()
        raise Conflict(N_("This enterprise has already reached the subsidy cap over the programme."))
    return amount


def _unreserve(db: Session, a: SubsidyApplication) -> None:
    if a.state not in COUNTING or a.approved_amount is None:
        return
    if a.kind == CERTIFICATION:
        db.execute(
            update(SubsidyLedger)
            .where(SubsidyLedger.org_id == a.enterprise_org_id)
            .values(certification_count=SubsidyLedger.certification_count - 1)
            .execution_options(synchronize_session=False)
        )
    else:
        db.execute(
            update(SubsidyLedger)
            .where(SubsidyLedger.org_id == a.enterprise_org_id)
            .values(innovation_total=SubsidyLedger.innovation_total - a.approved_amount)
            .execution_options(synchronize_session=False)
        )


def act(
    db: Session,
    actor: Actor,
    app_id: int,
    action: str,
    note: str = "",
    reference: str = "",
    now: datetime | None = None,
) -> SubsidyApplication:
    now = now or utcnow()
    a = get_application(db, actor, app_id)
    parties = parties_of(actor, a)
    SUBSIDY.check(a.state, action, parties)
    extra: dict[str, Any] = {}
    if action == "submit":
        if a.kind == CERTIFICATION and _has_live_certification(db, a.enterprise_org_id, exclude=a.id):
            raise Conflict(
                N_("The certification reward is paid once per enterprise; yours is already applied for or granted.")
            )
        if a.kind == INNOVATION and a.eligible_total <= 0:
            raise Invalid(N_("No cost item of this application is eligible."), field="items")
        if a.kind == INNOVATION:
            # The standing may have changed since the draft was made (another application passed meanwhile).
            refusal = one_time_refusal(db, a.enterprise_org_id, exclude=a.id)
            if refusal is not None:
                raise Conflict(refusal)
            cap = get_pack().subsidies.innovation.cap_per_enterprise
            left = max(cap - ledger_total(db, a.enterprise_org_id), ZERO)
            a.computed_amount = min(grant_of(a.eligible_total, get_pack().subsidies.innovation.max_ratio), left)
            if a.computed_amount <= 0:
                raise Conflict(NOTHING_LEFT if left <= 0 else ZERO_AMOUNT)
        a.submitted_at = now
    elif action in ("district_reject", "city_reject"):
        if not note.strip():
            raise Invalid(N_("Give the reason for rejecting."), field="note")
        _unreserve(db, a)
        a.reject_reason = note.strip()
    elif action == "city_pass":
        if a.kind == INNOVATION and scoring.average(db, "subsidy", a.id) is None:
            raise Conflict(N_("At least one expert must score the application before the city passes it."))
        amount = _reserve(db, a)
        a.approved_amount = amount
        a.notice_ends_at = now + timedelta(days=NOTICE_DAYS)
        extra = {"approved_amount": amount, "notice_ends_at": a.notice_ends_at}
    elif action == "conclude_notice":
        if a.notice_ends_at is not None and now < a.notice_ends_at:
            raise Conflict(
                N_("The public notice runs until %(until)s; it cannot be concluded earlier."),
                until=format_dt(a.notice_ends_at),
            )
        a.approved_at = now
    elif action == "pay":
        if not reference.strip():
            raise Invalid(N_("Give the disbursement reference (payment voucher number)."), field="reference")
        a.disbursement_ref = reference.strip()[:100]
        a.paid_at = now
        extra = {"paid": a.approved_amount, "reference": a.disbursement_ref}
    SUBSIDY.fire(db, actor, a, action, parties, note=note, after=extra)
    db.commit()
    return a


def score(db: Session, actor: Actor, app_id: int, raw: dict[str, Any], comment: str) -> None:
    a = db.get(SubsidyApplication, app_id)
    if a is None:
        raise NotFound(N_("No such application, or it is not yours to see."))
    if a.kind != INNOVATION or a.state != wf.CITY_REVIEW:
        raise Conflict(N_("Experts score innovation applications while they are in city review."))
    scoring.record_score(db, actor, "subsidy", a.id, a.enterprise_org_id, scoring.SUBSIDY_RUBRIC, raw, comment)


def application_files(db: Session, a: SubsidyApplication) -> list[WorkflowFile]:
    return list(
        db.execute(
            select(WorkflowFile)
            .where(WorkflowFile.subject_type == "subsidy", WorkflowFile.subject_id == a.id)
            .order_by(WorkflowFile.id)
        ).scalars()
    )


def expert_queue(db: Session, actor: Actor) -> list[SubsidyApplication]:
    linked = scoring.linked_org_ids(db, actor.user.id)
    q = select(SubsidyApplication).where(
        SubsidyApplication.state == wf.CITY_REVIEW, SubsidyApplication.kind == INNOVATION
    )
    return [a for a in db.execute(q.order_by(SubsidyApplication.id)).scalars() if a.enterprise_org_id not in linked]


def spending(db: Session, year: int | None = None) -> list[SubsidyApplication]:
    q = select(SubsidyApplication).where(
        or_(SubsidyApplication.state == wf.APPROVED, SubsidyApplication.state == wf.PAID)
    )
    if year is not None:
        q = q.where(SubsidyApplication.year == year)
    return list(db.execute(q).scalars())


def spending_rows(db: Session) -> list[SpendingRow]:
    """Approved and paid subsidies and rewards by year, district and industry (for evaluation exports)."""
    rows = db.execute(
        select(
            SubsidyApplication.year,
            SubsidyApplication.district,
            SubsidyApplication.cluster,
            func.count(),
            func.coalesce(func.sum(SubsidyApplication.approved_amount), 0),
        )
        .where(SubsidyApplication.state.in_([wf.APPROVED, wf.PAID]))
        .group_by(SubsidyApplication.year, SubsidyApplication.district, SubsidyApplication.cluster)
        .order_by(SubsidyApplication.year, SubsidyApplication.district, SubsidyApplication.cluster)
    ).all()
    return [SpendingRow(int(y), d, c, int(n), Decimal(a or 0).quantize(Decimal("0.01"))) for y, d, c, n, a in rows]
