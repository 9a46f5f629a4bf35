"""Service vouchers (服务券, plan item 8): rounds, claims against provider contracts, redemption, review,
public notice and batch reimbursement.

Life of a voucher (``VOUCHER`` below): the enterprise drafts a claim against a signed contract with a
provider and submits it in the claim window → the provider confirms the contract, which *issues* the
voucher and reserves its face value against the round budget and the provider's quota (先到先得) → the
enterprise redeems it in the redemption window with invoice, payment proof and acceptance report
(actual payment ≥ the pack's minimum share of the contract) → district review → city review → public
notice → approved → paid in a reimbursement batch.

Money rules come from the policy pack (``get_pack().vouchers``): eligible and excluded cost categories,
the minimum payment ratio, the date contracts must be signed from, default provider quotas, the applicant
rules. A round fixes what the pack leaves open (face ratio, cap per enterprise, budget, windows).

Budget, enterprise cap and quota can never be overspent, even by concurrent requests: a confirmation
first locks the round row (SELECT … FOR UPDATE), which serialises every confirmation of the round, so
the enterprise's held total it then reads is current; then it locks the provider's quota rows of the
year (after its organisation row) and checks the yearly quota; reservations are conditional UPDATEs
(``SET committed = committed + x WHERE committed + x <= budget``) backed by CHECK constraints. Every money
path takes its locks in the same order — round → provider (organisation, quota rows) → voucher — so they
cannot deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import OrgKind, Role
from chaoyun.marketplace import service as marketplace
from chaoyun.programme.pack import Pack, get_pack
from chaoyun.programme.workflow_models import (
    Voucher,
    VoucherBatch,
    VoucherItem,
    VoucherProviderQuota,
    VoucherRound,
    WorkflowFile,
)
from chaoyun.programme.workflows import files
from chaoyun.programme.workflows import workflow as wf
from chaoyun.programme.workflows.money import MAX_AMOUNT, ZERO, SpendingRow, grant_of
from chaoyun.timefmt import format_date, format_dt

VOUCHER = wf.Workflow(
    "voucher",
    N_("voucher"),
    [
        wf.t("submit", [wf.DRAFT], wf.SUBMITTED, wf.APPLICANT),
        wf.t("withdraw", [wf.DRAFT, wf.SUBMITTED, wf.ISSUED], wf.WITHDRAWN, wf.APPLICANT),
        wf.t("confirm_contract", [wf.SUBMITTED], wf.ISSUED, wf.PROVIDER),
        wf.t("decline_contract", [wf.SUBMITTED], wf.REJECTED, wf.PROVIDER),
        wf.t("redeem", [wf.ISSUED], wf.DISTRICT_REVIEW, wf.APPLICANT),
        wf.t("district_pass", [wf.DISTRICT_REVIEW], wf.CITY_REVIEW, wf.DISTRICT),
        wf.t("district_reject", [wf.DISTRICT_REVIEW], wf.REJECTED, wf.DISTRICT),
        wf.t("city_pass", [wf.CITY_REVIEW], wf.PUBLIC_NOTICE, wf.CITY),
        wf.t("city_reject", [wf.CITY_REVIEW, wf.PUBLIC_NOTICE], wf.REJECTED, wf.CITY),
        wf.t("conclude_notice", [wf.PUBLIC_NOTICE], wf.APPROVED, wf.CITY),
        wf.t("pay", [wf.APPROVED], wf.PAID, wf.CITY),
    ],
)
# States in which the voucher holds money of the round (face value, or the reimbursable amount once known).
HOLDING = {wf.ISSUED, wf.DISTRICT_REVIEW, wf.CITY_REVIEW, wf.PUBLIC_NOTICE, wf.APPROVED, wf.PAID}
REDEEM_DOCS = ("invoice", "payment_proof", "acceptance_report")
# Actions with their own route (they need more than a note).
SPECIAL_ACTIONS = {"redeem", "pay"}


# --- the resource pool (marketplace) decides which providers vouchers may pay ---------------------------------


def marketplace_available() -> bool:
    """The resource pool is part of the platform; kept for templates that say where eligibility comes from."""
    return True


def provider_eligibility(db: Session, provider: Organisation) -> tuple[bool, str | None]:
    """The resource pool decides (admitted, whitelisted, not suspended). Fails closed: a provider the pool
    does not clear is never eligible."""
    if provider.kind != OrgKind.PROVIDER.value:
        return False, N_("This organisation is not a service provider.")
    ok, reason = marketplace.voucher_eligibility(db, provider.id)
    return bool(ok), reason


def eligible_providers(db: Session) -> list[Organisation]:
    rows = db.execute(
        select(Organisation).where(Organisation.kind == OrgKind.PROVIDER.value).order_by(Organisation.name)
    ).unique()
    return [o for o in rows.scalars() if provider_eligibility(db, o)[0]]


def yearly_quota(db: Session, year: int, provider: Organisation) -> Decimal:
    """The provider's voucher quota for the whole ``year`` (every round of the year draws on it)."""
    q = marketplace.provider_quota(db, provider.id, year)
    if q is not None:
        return Decimal(q)
    defaults = get_pack().vouchers.provider_quota_defaults
    ptype = provider.provider.provider_type if provider.provider is not None else "other"
    return Decimal(defaults.get(ptype, defaults.get("other", ZERO)))


def quota_for(db: Session, rnd: VoucherRound, provider: Organisation) -> Decimal:
    """The provider's quota in this round: its yearly quota (resource pool, else the pack's default for its
    type), lower when the round sets a lower cap per provider. The year's rounds together stay within the
    yearly quota (checked in ``_reserve``)."""
    quota = yearly_quota(db, rnd.year, provider)
    if rnd.default_provider_quota is not None:
        quota = min(quota, rnd.default_provider_quota)
    return quota


# --- rounds -------------------------------------------------------------------------------------------------


@dataclass
class RoundIn:
    year: int
    name: str
    budget: Decimal
    claim_opens: datetime
    claim_closes: datetime
    redeem_opens: datetime
    redeem_closes: datetime
    face_ratio: Decimal | None = None
    cap_per_enterprise: Decimal | None = None
    default_provider_quota: Decimal | None = None
    notice_days: int = 5


def _require_city(actor: Actor) -> None:
    if actor.role not in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER):
        raise Forbidden(N_("Only the city bureau manages voucher rounds."))


def create_round(db: Session, actor: Actor, data: RoundIn) -> VoucherRound:
    _require_city(actor)
    pack = get_pack()
    ratio = data.face_ratio if data.face_ratio is not None else pack.vouchers.subsidy_ratio
    cap = data.cap_per_enterprise if data.cap_per_enterprise is not None else pack.vouchers.cap_per_enterprise
    if ratio is None or not (ZERO < ratio <= 1):
        raise Invalid(
            N_("The policy pack sets no voucher ratio: give the round a ratio between 0 and 1."), field="face_ratio"
        )
    if cap is None or cap <= 0:
        raise Invalid(
            N_("The policy pack sets no voucher cap: give the round a cap per enterprise."), field="cap_per_enterprise"
        )
    if data.budget <= 0:
        raise Invalid(N_("The budget must be positive."), field="budget")
    if not (data.claim_opens < data.claim_closes and data.redeem_opens < data.redeem_closes):
        raise Invalid(N_("Each window must open before it closes."), field="claim_closes")
    if data.redeem_closes <= data.claim_opens:
        raise Invalid(N_("The redemption window must end after the claim window opens."), field="redeem_closes")
    if not 0 <= data.notice_days <= 60:
        raise Invalid(N_("The public notice lasts 0 to 60 days."), field="notice_days")
    if not 2000 <= data.year <= 2100:
        raise Invalid(N_("The year must be between %(min)s and %(max)s."), min=2000, max=2100, field="year")
    if data.claim_closes <= utcnow():
        raise Invalid(N_("The claim window would close in the past."), field="claim_closes")
    if data.budget > MAX_AMOUNT:
        raise Invalid(N_("The budget must be positive."), field="budget")
    name = data.name.strip()[:200] or f"{data.year}"
    if db.execute(select(VoucherRound.id).where(func.lower(VoucherRound.name) == name.lower())).first():
        raise Invalid(N_("A round with this name already exists; give the new round another name."), field="name")
    rnd = VoucherRound(
        year=data.year,
        name=name,
        budget=data.budget,
        committed=ZERO,
        paid_total=ZERO,
        face_ratio=ratio,
        cap_per_voucher=cap,
        default_provider_quota=data.default_provider_quota,
        claim_opens=data.claim_opens,
        claim_closes=data.claim_closes,
        redeem_opens=data.redeem_opens,
        redeem_closes=data.redeem_closes,
        notice_days=data.notice_days,
    )
    db.add(rnd)
    db.flush()
    audit.record_by(db, actor, "voucher_round.create", "voucher_round", rnd.id, after=_round_dict(rnd))
    db.commit()
    return rnd


def _round_dict(r: VoucherRound) -> dict[str, Any]:
    return {
        "year": r.year,
        "name": r.name,
        "budget": r.budget,
        "face_ratio": r.face_ratio,
        "cap_per_enterprise": r.cap_per_voucher,
        "claim": [r.claim_opens, r.claim_closes],
        "redeem": [r.redeem_opens, r.redeem_closes],
        "notice_days": r.notice_days,
    }


def in_window(opens: datetime, closes: datetime, now: datetime) -> bool:
    """Windows are half-open: ``opens <= now < closes``."""
    return opens <= now < closes


def rounds(db: Session) -> list[VoucherRound]:
    return list(db.execute(select(VoucherRound).order_by(VoucherRound.year.desc(), VoucherRound.id.desc())).scalars())


def open_rounds(db: Session, now: datetime | None = None) -> list[VoucherRound]:
    now = now or utcnow()
    return [r for r in rounds(db) if in_window(r.claim_opens, r.claim_closes, now)]


def get_round(db: Session, actor: Actor, round_id: int) -> VoucherRound:
    rnd = db.get(VoucherRound, round_id)
    if rnd is None:
        raise NotFound(N_("No such voucher round."))
    return rnd


# --- scope ------------------------------------------------------------------------------------------------


def parties_of(actor: Actor, v: Voucher) -> set[str]:
    parties = wf.government_parties(actor, v.district)
    if actor.org_id == v.enterprise_org_id and actor.role == Role.ENTERPRISE_ADMIN:
        parties.add(wf.APPLICANT)
    if actor.org_id == v.provider_org_id and actor.role == Role.PROVIDER_ADMIN:
        parties.add(wf.PROVIDER)
    return parties


def can_read(actor: Actor, v: Voucher) -> bool:
    # A draft is the enterprise's private work: the provider, officers and experts see it once submitted.
    if v.state == wf.DRAFT:
        return actor.org_id == v.enterprise_org_id
    if actor.is_city_wide:
        return True
    if actor.role == Role.DISTRICT_OFFICER:
        return actor.district is not None and v.district == actor.district
    return actor.org_id in (v.enterprise_org_id, v.provider_org_id)


def visible_filter(actor: Actor) -> Any:
    mine = Voucher.enterprise_org_id == actor.org_id
    not_draft = Voucher.state != wf.DRAFT
    if actor.is_city_wide:
        return or_(not_draft, mine)
    if actor.role == Role.DISTRICT_OFFICER:
        return and_(Voucher.district == actor.district, not_draft) if actor.district else False
    return or_(mine, and_(Voucher.provider_org_id == actor.org_id, not_draft))


def get_voucher(db: Session, actor: Actor, voucher_id: int, *, lock: bool = False) -> Voucher:
    v = db.get(Voucher, voucher_id, with_for_update=lock) if lock else db.get(Voucher, voucher_id)
    if v is None or not can_read(actor, v):
        raise NotFound(N_("No such voucher, or it is not yours to see."))
    return v


def list_vouchers(db: Session, actor: Actor, state: str | None = None, limit: int = 500) -> list[Voucher]:
    q = select(Voucher).where(visible_filter(actor))
    if state:
        q = q.where(Voucher.state == state)
    return list(db.execute(q.order_by(Voucher.id.desc()).limit(limit)).scalars())


# --- claims -----------------------------------------------------------------------------------------------


@dataclass
class ItemIn:
    category: str
    description: str
    amount: Decimal


@dataclass
class ClaimIn:
    round_id: int
    provider_org_id: int
    contract_no: str
    contract_signed_on: date
    contract_amount: Decimal
    items: list[ItemIn]
    established_on: date | None = None


@dataclass
class ItemCheck:
    category: str
    amount: Decimal
    eligible: bool
    reason: str  # English msgid, "" when eligible


def check_items(pack: Pack, items: list[ItemIn]) -> list[ItemCheck]:
    out = []
    rules = pack.vouchers
    for it in items:
        if it.category in rules.excluded_cost_categories:
            reason = N_(
                "Excluded by the policy: vouchers never pay for automation or intelligent equipment "
                "or non-cloud software."
            )
            out.append(ItemCheck(it.category, it.amount, False, reason))
        elif not rules.is_eligible_cost(it.category):
            out.append(ItemCheck(it.category, it.amount, False, N_("Not an eligible voucher cost category.")))
        else:
            out.append(ItemCheck(it.category, it.amount, True, ""))
    return out


def applicant_problems(pack: Pack, org: Organisation, established_on: date | None, today: date) -> list[str]:
    """The pack's applicant rules, evaluated against the enterprise record; English msgids of failures."""
    problems: list[str] = []
    if org.kind != OrgKind.ENTERPRISE.value or org.enterprise is None:
        return [N_("Only registered industrial enterprises can claim vouchers.")]
    if org.status != "active":
        problems.append(N_("Your organisation's registration has not been approved yet."))
    for key, value in pack.vouchers.applicant.items():
        if key == "min_prior_year_revenue":
            # Profiles keep revenue in 10,000 yuan (万元); the pack states yuan.
            revenue_yuan = org.enterprise.annual_revenue * 10000
            if revenue_yuan < Decimal(str(value)):
                problems.append(N_("Prior-year main revenue is below the minimum the voucher rules require."))
        elif key == "min_age_years":
            if established_on is None:
                problems.append(N_("Give the date the enterprise was established."))
            else:
                years = int(value)
                try:
                    anniversary = established_on.replace(year=established_on.year + years)
                except ValueError:  # 29 February
                    anniversary = established_on.replace(year=established_on.year + years, day=28)
                if anniversary > today:
                    problems.append(N_("The enterprise must have been established for at least the required years."))
        else:
            raise Invalid(
                N_("The policy pack names an applicant rule this platform does not know: %(rule)s."), rule=key
            )
    return problems


def create_claim(db: Session, actor: Actor, data: ClaimIn, now: datetime | None = None) -> Voucher:
    """A draft claim of the actor's enterprise; nothing is reserved until the provider confirms."""
    now = now or utcnow()
    if actor.role != Role.ENTERPRISE_ADMIN:
        raise Forbidden(N_("Only an enterprise administrator can claim vouchers for the enterprise."))
    rnd = db.get(VoucherRound, data.round_id)
    if rnd is None:
        raise NotFound(N_("No such voucher round."), field="round_id")
    provider = db.get(Organisation, data.provider_org_id)
    if provider is None:
        raise Invalid(N_("Choose a service provider."), field="provider_org_id")
    ok, reason = provider_eligibility(db, provider)
    if not ok:
        raise Invalid(reason or N_("This provider cannot take vouchers."), field="provider_org_id")
    if not data.contract_no.strip():
        raise Invalid(N_("Give the contract number."), field="contract_no")
    if data.contract_amount <= 0:
        raise Invalid(N_("The contract amount must be positive."), field="contract_amount")
    if not data.items:
        raise Invalid(N_("List the contract's cost items."), field="items")
    total = sum((i.amount for i in data.items), ZERO)
    if total != data.contract_amount:
        raise Invalid(
            N_("The cost items add up to %(total)s yuan, not to the contract amount of %(amount)s yuan."),
            total=total,
            amount=data.contract_amount,
            field="items",
        )
    org = actor.org
    v = Voucher(
        round_id=rnd.id,
        enterprise_org_id=org.id,
        provider_org_id=provider.id,
        district=org.district,
        cluster=org.enterprise.cluster if org.enterprise else None,
        state=wf.DRAFT,
        contract_no=data.contract_no.strip()[:64],
        contract_signed_on=data.contract_signed_on,
        established_on=data.established_on,
        contract_amount=data.contract_amount,
    )
    pack = get_pack()
    checks = check_items(pack, data.items)
    for it, chk in zip(data.items, checks, strict=True):
        v.items.append(
            VoucherItem(
                category=it.category[:40],
                description=it.description.strip()[:300],
                amount=it.amount,
                eligible=chk.eligible,
                excluded_reason=chk.reason,
            )
        )
    _price(v, rnd)
    db.add(v)
    db.flush()
    audit.record_by(
        db,
        actor,
        "voucher.create",
        "voucher",
        v.id,
        after={
            "round": rnd.id,
            "provider": provider.id,
            "contract_no": v.contract_no,
            "contract_amount": v.contract_amount,
            "face_value": v.face_value,
        },
    )
    db.commit()
    return v


def _price(v: Voucher, rnd: VoucherRound) -> None:
    v.eligible_amount = sum((i.amount for i in v.items if i.eligible), ZERO)
    v.face_value = min(grant_of(v.eligible_amount, rnd.face_ratio), rnd.cap_per_voucher)


def _enterprise_held(db: Session, v: Voucher) -> Decimal:
    held = db.execute(
        select(func.coalesce(func.sum(func.coalesce(Voucher.reimbursable, Voucher.face_value)), 0)).where(
            Voucher.round_id == v.round_id,
            Voucher.enterprise_org_id == v.enterprise_org_id,
            Voucher.state.in_(HOLDING),
            Voucher.id != v.id,
        )
    ).scalar_one()
    return Decimal(held)


def _lock_round(db: Session, round_id: int) -> None:
    """SELECT … FOR UPDATE on the round row (a no-op on SQLite, which serialises writers anyway)."""
    db.execute(select(VoucherRound.id).where(VoucherRound.id == round_id).with_for_update()).first()


def _reserve(db: Session, rnd: VoucherRound, provider: Organisation, amount: Decimal) -> None:
    """Take ``amount`` from the round budget and the provider's quota, atomically, or refuse.

    The provider's quota is yearly (the resource pool's): after the round row, the provider's organisation
    row and then its quota rows of the year (by id) are locked and their total use checked, so two rounds
    of one year cannot together spend more than the year's quota."""
    quota = quota_for(db, rnd, provider)
    exists = db.execute(
        select(VoucherProviderQuota.id).where(
            VoucherProviderQuota.round_id == rnd.id, VoucherProviderQuota.provider_org_id == provider.id
        )
    ).first()
    if exists is None:
        try:
            with db.begin_nested():
                db.add(VoucherProviderQuota(round_id=rnd.id, provider_org_id=provider.id, quota=quota, used=ZERO))
        except IntegrityError:
            pass  # a concurrent request created it first; use that row
    # The rows of other rounds may be new and not yet committed (invisible here), so the provider's
    # organisation row is the lock that serialises its yearly quota (FOR NO KEY UPDATE: rows that merely
    # reference the organisation are not held up).
    db.execute(select(Organisation.id).where(Organisation.id == provider.id).with_for_update(key_share=True)).first()
    year_rows = db.execute(
        select(VoucherProviderQuota.round_id, VoucherProviderQuota.used)
        .join(VoucherRound, VoucherRound.id == VoucherProviderQuota.round_id)
        .where(VoucherProviderQuota.provider_org_id == provider.id, VoucherRound.year == rnd.year)
        .order_by(VoucherProviderQuota.id)
        .with_for_update(of=VoucherProviderQuota)
    ).all()
    yearly = yearly_quota(db, rnd.year, provider)
    used_elsewhere = sum((Decimal(u) for rid, u in year_rows if rid != rnd.id), ZERO)
    used_here = sum((Decimal(u) for rid, u in year_rows if rid == rnd.id), ZERO)
    if used_elsewhere + used_here + amount > yearly:
        db.rollback()
        raise Conflict(N_("The provider's voucher quota for this year is used up."))
    budget = db.execute(
        update(VoucherRound)
        .where(VoucherRound.id == rnd.id, VoucherRound.committed + amount <= VoucherRound.budget)
        .values(committed=VoucherRound.committed + amount)
        .execution_options(synchronize_session=False)
    )
    if wf.rowcount(budget) != 1:
        db.rollback()
        raise Conflict(N_("The round's budget is used up: this voucher cannot be issued."))
    q = db.execute(
        update(VoucherProviderQuota)
        .where(
            VoucherProviderQuota.round_id == rnd.id,
            VoucherProviderQuota.provider_org_id == provider.id,
            VoucherProviderQuota.used + amount <= VoucherProviderQuota.quota,
        )
        .values(used=VoucherProviderQuota.used + amount)
        .execution_options(synchronize_session=False)
    )
    if wf.rowcount(q) != 1:
        db.rollback()
        raise Conflict(N_("The provider's voucher quota for this round is used up."))


def _release(db: Session, v: Voucher, amount: Decimal) -> None:
    if amount <= 0:
        return
    db.execute(
        update(VoucherRound)
        .where(VoucherRound.id == v.round_id)
        .values(committed=VoucherRound.committed - amount)
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(VoucherProviderQuota)
        .where(VoucherProviderQuota.round_id == v.round_id, VoucherProviderQuota.provider_org_id == v.provider_org_id)
        .values(used=VoucherProviderQuota.used - amount)
        .execution_options(synchronize_session=False)
    )


def held(v: Voucher) -> Decimal:
    if v.state not in HOLDING:
        return ZERO
    return v.reimbursable if v.reimbursable is not None else v.face_value


def act(
    db: Session, actor: Actor, voucher_id: int, action: str, note: str = "", now: datetime | None = None
) -> Voucher:
    """Every voucher action except redemption and payment (which carry documents / go in batches)."""
    now = now or utcnow()
    v = get_voucher(db, actor, voucher_id)
    if action in SPECIAL_ACTIONS:
        raise Invalid(N_("Use the redemption form or the reimbursement batch for this action."), field="action")
    parties = parties_of(actor, v)
    VOUCHER.check(v.state, action, parties)
    rnd = db.get(VoucherRound, v.round_id)
    assert rnd is not None
    before_held = held(v)
    extra: dict[str, Any] = {}
    if action == "submit":
        _check_claim(db, v, rnd, now)
        v.submitted_at = now
    elif action == "confirm_contract":
        if not in_window(rnd.claim_opens, rnd.claim_closes, now):
            raise Conflict(N_("The claim window of this round is closed."))
        provider = db.get(Organisation, v.provider_org_id)
        assert provider is not None
        ok, reason = provider_eligibility(db, provider)
        if not ok:
            raise Conflict(reason or N_("This provider cannot take vouchers."))
        # Lock order, the same in every money path: round → provider quota rows → voucher. The round lock
        # serialises every confirmation of the round, so the enterprise's held total read next is current
        # (two providers confirming two contracts of one enterprise at once cannot both fit under the cap).
        _lock_round(db, rnd.id)
        cap_left = rnd.cap_per_voucher - _enterprise_held(db, v)
        face = min(v.face_value, cap_left)
        if face <= 0:
            db.rollback()
            raise Conflict(N_("The enterprise has reached its voucher cap in this round."))
        v.face_value = face
        _reserve(db, rnd, provider, face)
        v.contract_verified = True
        v.issued_at = now
        extra = {"face_value": face, "reserved": face}
    elif action in ("withdraw", "decline_contract", "district_reject", "city_reject"):
        if action in ("district_reject", "city_reject", "decline_contract") and not note.strip():
            raise Invalid(N_("Give the reason for rejecting."), field="note")
        _release(db, v, before_held)
        v.reject_reason = note.strip()
        extra = {"released": before_held}
    elif action == "city_pass":
        v.notice_ends_at = now + timedelta(days=rnd.notice_days)
        extra = {"notice_ends_at": v.notice_ends_at}
    elif action == "conclude_notice":
        if v.notice_ends_at is not None and now < v.notice_ends_at:
            raise Conflict(
                N_("The public notice runs until %(until)s; it cannot be concluded earlier."),
                until=format_dt(v.notice_ends_at),
            )
        v.approved_at = now
    VOUCHER.fire(db, actor, v, action, parties, note=note, after=extra)
    db.commit()
    return v


def _check_claim(db: Session, v: Voucher, rnd: VoucherRound, now: datetime) -> None:
    pack = get_pack()
    if not in_window(rnd.claim_opens, rnd.claim_closes, now):
        raise Conflict(N_("The claim window of this round is not open."))
    after = pack.vouchers.contract_signed_after
    if after is not None and v.contract_signed_on < after:
        raise Invalid(
            N_("The contract must be signed on or after %(date)s."), date=format_date(after), field="contract_signed_on"
        )
    org = db.get(Organisation, v.enterprise_org_id)
    assert org is not None
    problems = applicant_problems(pack, org, v.established_on, now.date())
    if problems:
        raise Invalid(problems[0])
    if v.face_value <= 0:
        raise Invalid(N_("No item of this contract is an eligible voucher cost."), field="items")
    dup = db.execute(
        select(Voucher.id).where(
            Voucher.provider_org_id == v.provider_org_id,
            Voucher.contract_no == v.contract_no,
            Voucher.id != v.id,
            Voucher.state.notin_([wf.DRAFT, wf.WITHDRAWN, wf.REJECTED]),
        )
    ).first()
    if dup is not None:
        raise Conflict(N_("This contract already backs another voucher; a contract can be claimed once."))


@dataclass
class RedemptionIn:
    actual_paid: Decimal
    invoice_no: str
    uploads: list[files.Upload]


def reimbursable_for(v: Voucher, rnd: VoucherRound, actual_paid: Decimal) -> Decimal:
    """Ratio of the eligible share of what was actually paid, never above the face value."""
    paid_basis = min(actual_paid, v.contract_amount)
    eligible_paid = paid_basis * v.eligible_amount / v.contract_amount
    return min(v.face_value, grant_of(eligible_paid, rnd.face_ratio))


def redeem(db: Session, actor: Actor, voucher_id: int, data: RedemptionIn, now: datetime | None = None) -> Voucher:
    now = now or utcnow()
    v = get_voucher(db, actor, voucher_id)
    parties = parties_of(actor, v)
    VOUCHER.check(v.state, "redeem", parties)
    rnd = db.get(VoucherRound, v.round_id)
    assert rnd is not None
    if not in_window(rnd.redeem_opens, rnd.redeem_closes, now):
        raise Conflict(N_("The redemption window of this round is not open."))
    ratio = get_pack().vouchers.min_payment_ratio
    minimum = v.contract_amount * ratio
    if data.actual_paid < minimum:
        raise Invalid(
            N_("Actual payment of %(paid)s yuan is below %(pct)s%% of the contract amount (%(min)s yuan)."),
            paid=data.actual_paid,
            pct=format(ratio * 100, "f").rstrip("0").rstrip("."),
            min=minimum.quantize(Decimal("0.01")),
            field="actual_paid",
        )
    if not data.invoice_no.strip():
        raise Invalid(N_("Give the invoice number."), field="invoice_no")
    kinds = {u.kind for u in data.uploads if u.data}
    for kind in REDEEM_DOCS:
        if kind not in kinds:
            raise Invalid(N_("The file for “%(kind)s” is missing or empty."), kind=files.KIND_LABELS[kind], field=kind)
    for u in data.uploads:
        files.validate(u)
    used = db.execute(
        select(Voucher.id).where(
            Voucher.provider_org_id == v.provider_org_id,
            Voucher.invoice_no == data.invoice_no.strip(),
            Voucher.id != v.id,
        )
    ).first()
    if used is not None:
        raise Conflict(N_("This invoice already redeemed another voucher."), field="invoice_no")
    before_held = held(v)
    amount = reimbursable_for(v, rnd, data.actual_paid)
    v.actual_paid = data.actual_paid
    v.invoice_no = data.invoice_no.strip()[:64]
    v.reimbursable = amount
    v.redeemed_at = now
    _release(db, v, before_held - amount)
    VOUCHER.fire(db, actor, v, "redeem", parties, after={"actual_paid": data.actual_paid, "reimbursable": amount})
    for u in data.uploads:
        files.store(db, actor, "voucher", v.id, v.enterprise_org_id, u)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise Conflict(N_("This invoice already redeemed another voucher."), field="invoice_no") from None
    return v


# --- notice and batch reimbursement ----------------------------------------------------------------------


def conclude_due_notices(db: Session, actor: Actor, round_id: int, now: datetime | None = None) -> int:
    now = now or utcnow()
    _require_city(actor)
    ids = list(
        db.execute(
            select(Voucher.id).where(
                Voucher.round_id == round_id,
                Voucher.state == wf.PUBLIC_NOTICE,
                Voucher.notice_ends_at <= now,
            )
        ).scalars()
    )
    for vid in ids:
        act(db, actor, vid, "conclude_notice", now=now)
    return len(ids)


def pay_batch(db: Session, actor: Actor, round_id: int, reference: str, now: datetime | None = None) -> VoucherBatch:
    """Reimburse every approved voucher of the round in one batch (one disbursement record)."""
    now = now or utcnow()
    _require_city(actor)
    rnd = db.get(VoucherRound, round_id, with_for_update=True)
    if rnd is None:
        raise NotFound(N_("No such voucher round."))
    if not reference.strip():
        raise Invalid(N_("Give the payment reference of the batch."), field="reference")
    vs = list(
        db.execute(
            select(Voucher).where(Voucher.round_id == round_id, Voucher.state == wf.APPROVED).order_by(Voucher.id)
        ).scalars()
    )
    if not vs:
        raise Conflict(N_("No approved voucher awaits reimbursement in this round."))
    batch = VoucherBatch(
        round_id=round_id, reference=reference.strip()[:100], total=ZERO, count=0, created_by=actor.user.id
    )
    db.add(batch)
    db.flush()
    total = ZERO
    for v in vs:
        amount = v.reimbursable or ZERO
        v.paid_at = now
        v.batch_id = batch.id
        VOUCHER.fire(db, actor, v, "pay", {wf.CITY}, note=batch.reference, after={"paid": amount, "batch": batch.id})
        total += amount
    batch.total = total
    batch.count = len(vs)
    db.execute(
        update(VoucherRound)
        .where(VoucherRound.id == round_id)
        .values(paid_total=VoucherRound.paid_total + total)
        .execution_options(synchronize_session=False)
    )
    audit.record_by(
        db,
        actor,
        "voucher_batch.pay",
        "voucher_batch",
        batch.id,
        after={"round": round_id, "count": len(vs), "total": total, "reference": batch.reference},
    )
    db.commit()
    return batch


def batches(db: Session, round_id: int) -> list[VoucherBatch]:
    return list(
        db.execute(select(VoucherBatch).where(VoucherBatch.round_id == round_id).order_by(VoucherBatch.id)).scalars()
    )


def quotas(db: Session, round_id: int) -> list[tuple[VoucherProviderQuota, str]]:
    rows = db.execute(
        select(VoucherProviderQuota, Organisation.name)
        .join(Organisation, Organisation.id == VoucherProviderQuota.provider_org_id)
        .where(VoucherProviderQuota.round_id == round_id)
        .order_by(Organisation.name)
    ).all()
    return [(q, name) for q, name in rows]


def voucher_files(db: Session, v: Voucher) -> list[WorkflowFile]:
    return list(
        db.execute(
            select(WorkflowFile)
            .where(WorkflowFile.subject_type == "voucher", WorkflowFile.subject_id == v.id)
            .order_by(WorkflowFile.id)
        ).scalars()
    )


def round_summary(db: Session, round_id: int) -> dict[str, Any]:
    rows = db.execute(
        select(
            Voucher.state,
            func.count(),
            func.coalesce(func.sum(func.coalesce(Voucher.reimbursable, Voucher.face_value)), 0),
        )
        .where(Voucher.round_id == round_id, Voucher.state != wf.DRAFT)
        .group_by(Voucher.state)
    ).all()
    return {state: (int(n), Decimal(total)) for state, n, total in rows}


# --- programme → marketplace (docs/interfaces.md) ---------------------------------------------------------


def redeemed_by_provider(db: Session, provider_org_id: int, year: int) -> Decimal:
    """Reimbursed plus approved redemptions of the provider's vouchers in rounds of ``year``."""
    total = db.execute(
        select(func.coalesce(func.sum(Voucher.reimbursable), 0))
        .join(VoucherRound, VoucherRound.id == Voucher.round_id)
        .where(
            Voucher.provider_org_id == provider_org_id,
            VoucherRound.year == year,
            Voucher.state.in_([wf.APPROVED, wf.PAID]),
        )
    ).scalar_one()
    return Decimal(total or 0).quantize(Decimal("0.01"))


def provider_has_contract(db: Session, provider_org_id: int, enterprise_org_id: int) -> bool:
    """A voucher contract between the two that the provider has confirmed (verified) exists."""
    row = db.execute(
        select(Voucher.id)
        .where(
            and_(
                Voucher.provider_org_id == provider_org_id,
                Voucher.enterprise_org_id == enterprise_org_id,
                Voucher.contract_verified.is_(True),
            )
        )
        .limit(1)
    ).first()
    return row is not None


def spending_rows(db: Session) -> list[SpendingRow]:
    """Approved and paid voucher money by round year, district and industry (for evaluation exports)."""
    rows = db.execute(
        select(
            VoucherRound.year,
            Voucher.district,
            Voucher.cluster,
            func.count(),
            func.coalesce(func.sum(Voucher.reimbursable), 0),
        )
        .join(VoucherRound, VoucherRound.id == Voucher.round_id)
        .where(Voucher.state.in_([wf.APPROVED, wf.PAID]))
        .group_by(VoucherRound.year, Voucher.district, Voucher.cluster)
        .order_by(VoucherRound.year, Voucher.district, Voucher.cluster)
    ).all()
    return [SpendingRow(int(y), d, c, int(n), Decimal(a or 0).quantize(Decimal("0.01"))) for y, d, c, n, a in rows]
