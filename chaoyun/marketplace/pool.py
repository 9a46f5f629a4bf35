"""Admission to the resource pool, review, annual re-evaluation, provincial recommendation.

Provider registration creates identity rows (Organisation, ProviderProfile, User, Membership)
directly: identity has no provider-registration function, and the project agreed that this one
place in the marketplace may write those tables, using identity's validation, hashing and audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.credit_code import credit_code_error
from chaoyun.identity.crypto import hash_password
from chaoyun.identity.models import Membership, Organisation, ProviderProfile, User
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import DISTRICT_ZH, District, OrgKind, OrgStatus, Role
from chaoyun.marketplace import files
from chaoyun.marketplace.config import market_config
from chaoyun.marketplace.models import (
    Admission,
    Complaint,
    Evaluation,
    Offering,
    QuotaAdjustment,
    Rating,
    Recommendation,
    ReviewOpinion,
    SpotCheck,
)
from chaoyun.marketplace.reference import (
    CATEGORIES,
    IN_POOL,
    PLATFORM_SCOPES,
    PROVIDER_TYPES,
    RECOMMENDATION_LABELS,
    SAAS_DOMAINS,
    AdmissionStatus,
)
from chaoyun.marketplace.schemas import ApplicationIn, ProviderFields
from chaoyun.marketplace.service import base_quota, provider_quota, used_quota, whitelist_state

S = AdmissionStatus


def admission_snapshot(a: Admission) -> dict[str, Any]:
    return {
        "org_id": a.org_id,
        "provider_type": a.provider_type,
        "platform_scope": a.platform_scope,
        "registered_place": a.registered_place,
        "categories": a.categories,
        "saas_domains": a.saas_domains,
        "status": a.status,
        "reason": a.reason,
        "leading_platform": a.leading_platform,
    }


def _validate_fields(data: ProviderFields) -> None:
    if data.provider_type not in PROVIDER_TYPES:
        raise Invalid(
            N_("Choose a provider type: platform provider or solution/service provider."), field="provider_type"
        )
    if data.provider_type == "platform" and data.platform_scope not in PLATFORM_SCOPES:
        raise Invalid(
            N_("A platform provider states whether it is cross-industry or industry-specific."), field="platform_scope"
        )
    if data.district and data.district not in {d.value for d in District}:
        raise Invalid(N_("Choose one of Shantou's seven districts, or leave it empty."), field="district")
    if not data.categories:
        raise Invalid(N_("Choose at least one service category."), field="categories")
    bad = [c for c in data.categories if c not in CATEGORIES]
    if bad:
        raise Invalid(N_("Unknown service category: %(value)s."), field="categories", value=", ".join(bad))
    bad = [c for c in data.saas_domains if c not in SAAS_DOMAINS]
    if bad:
        raise Invalid(N_("Unknown SaaS domain: %(value)s."), field="saas_domains", value=", ".join(bad))


def apply(db: Session, data: ApplicationIn, uploads: list[files.Upload]) -> tuple[Admission, User]:
    """A new provider applies to the pool (public form): creates the provider organisation (pending),
    its first admin and the application, with attachments. Everything is checked before anything is
    written, so a bad file or a duplicate leaves nothing behind."""
    reason = credit_code_error(data.credit_code)
    if reason:
        raise Invalid(reason, field="credit_code")
    _validate_fields(data)
    for up in uploads:
        files.validate(up)
    if db.execute(select(Organisation.id).where(Organisation.credit_code == data.credit_code)).first():
        raise Conflict(N_("An organisation with this credit code is already registered."), field="credit_code")
    if db.execute(
        select(Organisation.id).where(Organisation.kind == "provider", Organisation.name == data.name)
    ).first():
        raise Conflict(N_("A provider with this name is already registered."), field="name")
    if db.execute(select(User.id).where(User.username == data.username)).first():
        raise Conflict(N_("This username is taken; choose another."), field="username")
    # The one sanctioned write to identity's tables (see the module docstring).
    org = Organisation(
        kind=OrgKind.PROVIDER.value,
        name=data.name,
        credit_code=data.credit_code,
        district=data.district or None,
        status=OrgStatus.PENDING.value,
        address=data.registered_place,
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
    )
    org.provider = ProviderProfile(provider_type=data.provider_type, service_categories=list(data.categories))
    user = User(username=data.username, display_name=data.display_name, password_hash=hash_password(data.password))
    db.add_all([org, user])
    db.flush()
    db.add(Membership(user_id=user.id, org_id=org.id, role=Role.PROVIDER_ADMIN.value))
    adm = Admission(
        org_id=org.id,
        provider_type=data.provider_type,
        platform_scope=data.platform_scope if data.provider_type == "platform" else "",
        registered_place=data.registered_place,
        categories=list(data.categories),
        saas_domains=list(data.saas_domains),
        qualifications=data.qualifications,
        references=data.references,
        integration_report=data.integration_report,
        status=S.APPLIED.value,
    )
    db.add(adm)
    db.flush()
    written: list[Path] = []
    try:
        names = []
        for up in uploads:
            att, path = files.store(db, org.id, "admission", adm.id, up, user.id)
            written.append(path)
            names.append(att.filename)
        audit.record(
            db,
            actor_user_id=user.id,
            actor_username=user.username,
            actor_org_id=org.id,
            action="pool_apply",
            object_type="market_admission",
            object_id=adm.id,
            after=admission_snapshot(adm) | {"name": org.name, "credit_code": org.credit_code, "files": names},
        )
        db.commit()
    except Exception:
        db.rollback()
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return adm, user


def apply_existing(db: Session, actor: Actor, data: ProviderFields, uploads: list[files.Upload]) -> Admission:
    """A provider organisation already on the platform (registered by the bureau) applies to the pool."""
    if actor.audience != "provider":
        raise Forbidden(N_("Only providers apply to the resource pool."))
    _validate_fields(data)
    for up in uploads:
        files.validate(up)
    existing = db.execute(select(Admission).where(Admission.org_id == actor.org_id)).scalar_one_or_none()
    if existing is not None and existing.status != S.REJECTED.value:
        raise Conflict(N_("Your organisation has already applied to the resource pool."))
    adm = existing or Admission(org_id=actor.org_id, provider_type=data.provider_type)
    before = admission_snapshot(adm) if existing else None
    adm.provider_type = data.provider_type
    adm.platform_scope = data.platform_scope if data.provider_type == "platform" else ""
    adm.registered_place = data.registered_place
    adm.categories = list(data.categories)
    adm.saas_domains = list(data.saas_domains)
    adm.qualifications = data.qualifications
    adm.references = data.references
    adm.integration_report = data.integration_report
    adm.status = S.APPLIED.value
    adm.reason = ""
    adm.applied_at = utcnow()
    adm.decided_at = None
    db.add(adm)
    db.flush()
    written: list[Path] = []
    try:
        for up in uploads:
            _att, path = files.store(db, actor.org_id, "admission", adm.id, up, actor.user.id)
            written.append(path)
        audit.record_by(db, actor, "pool_apply", "market_admission", adm.id, before, admission_snapshot(adm))
        db.commit()
    except Exception:
        db.rollback()
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return adm


def get_admission(db: Session, actor: Actor, admission_id: int) -> Admission:
    adm = db.get(Admission, admission_id)
    if adm is None or not (actor.is_city_wide or adm.org_id == actor.org_id):
        raise NotFound(N_("No such application, or it is not yours to see."))
    return adm


def add_opinion(db: Session, actor: Actor, admission_id: int, recommend: bool, comment: str) -> ReviewOpinion:
    adm = get_admission(db, actor, admission_id)
    if adm.status != S.APPLIED.value:
        raise Conflict(N_("This application has already been decided."))
    op = ReviewOpinion(
        admission_id=adm.id,
        reviewer_user_id=actor.user.id,
        reviewer_name=actor.user.display_name,
        recommend=recommend,
        comment=comment.strip()[:2000],
    )
    db.add(op)
    db.flush()
    audit.record_by(
        db, actor, "pool_opinion", "market_admission", adm.id, None, {"recommend": recommend, "comment": op.comment}
    )
    db.commit()
    return op


def decide(db: Session, actor: Actor, admission_id: int, admit: bool, reason: str = "") -> Admission:
    adm = get_admission(db, actor, admission_id)
    if adm.status != S.APPLIED.value:
        raise Conflict(N_("This application has already been decided."))
    if not admit and not reason.strip():
        raise Invalid(N_("Give a reason for the rejection."), field="reason")
    before = admission_snapshot(adm)
    adm.status = (S.ADMITTED if admit else S.REJECTED).value
    adm.reason = reason.strip()[:2000]
    adm.decided_at = utcnow()
    adm.decided_by = actor.user.id
    org = db.get(Organisation, adm.org_id)
    assert org is not None
    # The provider's account becomes usable with admission (identity's status, see module docstring).
    if org.status == OrgStatus.PENDING.value:
        org.status = (OrgStatus.ACTIVE if admit else OrgStatus.REJECTED).value
    audit.record_by(
        db, actor, "pool_admit" if admit else "pool_reject", "market_admission", adm.id, before, admission_snapshot(adm)
    )
    db.commit()
    return adm


def set_leading(db: Session, actor: Actor, admission_id: int, leading: bool) -> Admission:
    adm = get_admission(db, actor, admission_id)
    if leading and (adm.provider_type != "platform" or adm.status not in IN_POOL):
        raise Invalid(N_("Only platform providers in the pool can be designated leading platforms."))
    before = admission_snapshot(adm)
    adm.leading_platform = leading
    audit.record_by(db, actor, "pool_leading", "market_admission", adm.id, before, admission_snapshot(adm))
    db.commit()
    return adm


# ---------------------------------------------------------------- quality figures and re-evaluation


@dataclass(frozen=True)
class Quality:
    rating_avg: float | None
    ratings: int
    complaints_upheld: int
    complaints_open: int
    spot_checks: int
    failed_spot_checks: int


def quality(db: Session, org_id: int, year: int | None = None) -> Quality:
    def in_year(col: Any) -> Any:
        return func.extract("year", col) == year

    rq = select(func.avg(Rating.score), func.count()).where(Rating.provider_org_id == org_id)
    cq = select(Complaint.status, func.count()).where(Complaint.provider_org_id == org_id)
    sq = select(SpotCheck.passed, func.count()).where(SpotCheck.org_id == org_id)
    if year is not None:
        rq, cq, sq = (
            rq.where(in_year(Rating.created_at)),
            cq.where(in_year(Complaint.created_at)),
            sq.where(in_year(SpotCheck.created_at)),
        )
    avg, n = db.execute(rq).one()
    comp = dict(db.execute(cq.group_by(Complaint.status)).all())
    spots = dict(db.execute(sq.group_by(SpotCheck.passed)).all())
    return Quality(
        rating_avg=round(float(avg), 2) if avg is not None else None,
        ratings=int(n),
        complaints_upheld=int(comp.get("upheld", 0)),
        complaints_open=int(comp.get("open", 0)),
        spot_checks=int(sum(spots.values())),
        failed_spot_checks=int(spots.get(False, 0)),
    )


def suggest_outcome(q: Quality, whitelisted: bool) -> tuple[str, list[str]]:
    """The rule behind the suggested re-evaluation outcome, with the reasons (English msgids)."""
    reasons: list[str] = []
    if q.failed_spot_checks >= 2 or q.complaints_upheld >= 3 or (q.rating_avg is not None and q.rating_avg < 2.5):
        if q.failed_spot_checks >= 2:
            reasons.append(N_("two or more failed spot checks"))
        if q.complaints_upheld >= 3:
            reasons.append(N_("three or more upheld complaints"))
        if q.rating_avg is not None and q.rating_avg < 2.5:
            reasons.append(N_("average rating below 2.5"))
        return S.REMOVED.value, reasons
    if (
        q.failed_spot_checks == 1
        or q.complaints_upheld >= 1
        or not whitelisted
        or (q.rating_avg is not None and q.rating_avg < 3.5)
    ):
        if q.failed_spot_checks == 1:
            reasons.append(N_("a failed spot check"))
        if q.complaints_upheld >= 1:
            reasons.append(N_("upheld complaints"))
        if not whitelisted:
            reasons.append(N_("not whitelisted"))
        if q.rating_avg is not None and q.rating_avg < 3.5:
            reasons.append(N_("average rating below 3.5"))
        return S.ON_WATCH.value, reasons
    return S.ADMITTED.value, [N_("no spot-check failures or upheld complaints")]


def evaluate(
    db: Session, actor: Actor, admission_id: int, year: int, outcome: str = "", reason: str = ""
) -> Evaluation:
    adm = get_admission(db, actor, admission_id)
    if adm.status not in IN_POOL:
        raise Conflict(N_("Only providers in the pool are re-evaluated."))
    if db.execute(select(Evaluation.id).where(Evaluation.admission_id == adm.id, Evaluation.year == year)).first():
        raise Conflict(N_("This provider has already been re-evaluated for %(year)s."), year=year)
    q = quality(db, adm.org_id, year)
    suggested, _ = suggest_outcome(q, whitelist_state(db, adm.org_id).ok)
    outcome = outcome or suggested
    if outcome not in IN_POOL | {S.REMOVED.value}:
        raise Invalid(N_("The outcome is admitted, on watch or removed."), field="outcome")
    if outcome != suggested and not reason.strip():
        raise Invalid(N_("Give a reason when the outcome differs from the suggestion."), field="reason")
    if outcome == S.REMOVED.value and not reason.strip():
        raise Invalid(N_("Give a reason for removing the provider from the pool."), field="reason")
    ev = Evaluation(
        admission_id=adm.id,
        year=year,
        rating_avg=q.rating_avg,
        ratings=q.ratings,
        complaints=q.complaints_upheld,
        failed_spot_checks=q.failed_spot_checks,
        suggested=suggested,
        outcome=outcome,
        reason=reason.strip()[:2000],
        decided_by=actor.user.id,
    )
    db.add(ev)
    before = admission_snapshot(adm)
    adm.status = outcome
    if outcome == S.REMOVED.value:
        adm.leading_platform = False
    cfg = market_config()
    if outcome != S.REMOVED.value and q.rating_avg is not None and q.rating_avg >= 4.5 and q.ratings >= 3:
        # Good ratings raise next year's quota (the provincial policy adjusts quotas by user ratings).
        _adjust(
            db,
            actor,
            adm.org_id,
            year + 1,
            base_quota(adm.provider_type) * cfg.rating_bonus,
            "rating",
            N_("Average rating of 4.5 or more at re-evaluation"),
        )
    db.flush()
    audit.record_by(
        db,
        actor,
        "pool_evaluate",
        "market_admission",
        adm.id,
        before,
        admission_snapshot(adm) | {"year": year, "suggested": suggested, "quality": q.__dict__},
    )
    db.commit()
    return ev


# ---------------------------------------------------------------- quotas

QUOTA_ADJUST_FACTOR = 10


def _adjust(
    db: Session, actor: Actor | None, org_id: int, year: int, amount: Decimal, cause: str, reason: str
) -> QuotaAdjustment:
    """Add a quota adjustment and its audit entry in the caller's transaction."""
    adj = QuotaAdjustment(
        org_id=org_id,
        year=year,
        amount=Decimal(amount).quantize(Decimal("0.01")),
        cause=cause,
        reason=reason,
        user_id=actor.user.id if actor else None,
    )
    db.add(adj)
    db.flush()
    after = {"org_id": org_id, "year": year, "amount": str(adj.amount), "cause": cause, "reason": reason}
    if actor is not None:
        audit.record_by(db, actor, "quota_adjust", "market_quota", adj.id, None, after)
    return adj


def adjust_quota(
    db: Session, actor: Actor, admission_id: int, year: int, amount: Decimal, reason: str
) -> QuotaAdjustment:
    adm = get_admission(db, actor, admission_id)
    if not amount.is_finite():
        raise Invalid(N_("Enter a number."), field="amount")
    if amount == 0:
        raise Invalid(N_("The adjustment cannot be zero."), field="amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise Invalid(N_("Give the adjustment in yuan with at most 2 decimals."), field="amount")
    # An adjustment adds to (or takes from) the year's quota; more than ten starting quotas is a typing error.
    limit = base_quota(adm.provider_type) * QUOTA_ADJUST_FACTOR
    if abs(amount) > limit:
        raise Invalid(
            N_("An adjustment is at most ±%(limit)s yuan (ten times the starting quota)."),
            field="amount",
            limit=f"{limit:,.0f}",
        )
    current = provider_quota(db, adm.org_id, year)
    if current + amount < 0:
        raise Invalid(
            N_("The quota would fall below 0: it is %(quota)s yuan now."), field="amount", quota=f"{current:,.2f}"
        )
    if not reason.strip():
        raise Invalid(N_("Give a reason for the quota adjustment."), field="reason")
    adj = _adjust(db, actor, adm.org_id, year, amount, "manual", reason.strip()[:500])
    db.commit()
    return adj


@dataclass(frozen=True)
class QuotaView:
    year: int
    base: Decimal
    quota: Decimal
    used: Decimal  # redeemed vouchers (the programme's money workflows)
    adjustments: list[QuotaAdjustment]

    @property
    def left(self) -> Decimal:
        return self.quota - self.used

    @property
    def used_pct(self) -> float | None:
        if not self.quota:
            return None
        return float(self.used / self.quota * 100)


def quota_view(db: Session, org_id: int, year: int) -> QuotaView:
    adm = db.execute(select(Admission).where(Admission.org_id == org_id)).scalar_one_or_none()
    base = base_quota(adm.provider_type) if adm else Decimal(0)
    adjustments = list(
        db.execute(
            select(QuotaAdjustment)
            .where(QuotaAdjustment.org_id == org_id, QuotaAdjustment.year == year)
            .order_by(QuotaAdjustment.id)
        ).scalars()
    )
    return QuotaView(year, base, provider_quota(db, org_id, year), used_quota(db, org_id, year), adjustments)


# ---------------------------------------------------------------- complaints


def resolve_complaint(db: Session, actor: Actor, complaint_id: int, upheld: bool) -> Complaint:
    c = db.get(Complaint, complaint_id)
    if c is None or not actor.is_city_wide:
        raise NotFound(N_("No such complaint."))
    if c.status != "open":
        raise Conflict(N_("This complaint has already been resolved."))
    c.status = "upheld" if upheld else "dismissed"
    if upheld:
        adm = db.execute(select(Admission).where(Admission.org_id == c.provider_org_id)).scalar_one_or_none()
        if adm is not None:
            cut = -base_quota(adm.provider_type) * market_config().complaint_penalty
            _adjust(db, actor, c.provider_org_id, date.today().year, cut, "complaint", N_("Upheld complaint"))
    audit.record_by(db, actor, "complaint_resolve", "market_complaint", c.id, {"status": "open"}, {"status": c.status})
    db.commit()
    return c


# ---------------------------------------------------------------- provincial recommendation


def recommend(db: Session, actor: Actor, org_ids: list[int], year: int) -> list[Recommendation]:
    if not org_ids:
        raise Invalid(N_("Select at least one provider to recommend."), field="org_ids")
    out = []
    for oid in org_ids:
        adm = db.execute(select(Admission).where(Admission.org_id == oid)).scalar_one_or_none()
        if adm is None or adm.status not in IN_POOL:
            raise Invalid(N_("Only providers in the city pool can be recommended to the province."), field="org_ids")
        if db.execute(
            select(Recommendation.id).where(Recommendation.org_id == oid, Recommendation.year == year)
        ).first():
            continue
        rec = Recommendation(org_id=oid, year=year, status="selected")
        db.add(rec)
        db.flush()
        audit.record_by(
            db, actor, "province_select", "market_recommendation", rec.id, None, {"org_id": oid, "year": year}
        )
        out.append(rec)
    db.commit()
    return out


def set_recommendation(db: Session, actor: Actor, rec_id: int, status: str, note: str = "") -> Recommendation:
    rec = db.get(Recommendation, rec_id)
    if rec is None:
        raise NotFound(N_("No such recommendation."))
    if status not in RECOMMENDATION_LABELS:
        raise Invalid(N_("Unknown recommendation status."), field="status")
    order = list(RECOMMENDATION_LABELS)
    # selected -> submitted -> accepted | declined: the outcome can only be recorded once submitted.
    if status in ("accepted", "declined") and rec.status not in ("submitted", "accepted", "declined"):
        raise Conflict(N_("Record the province's outcome only after the submission."))
    before = {"status": rec.status, "note": rec.note}
    rec.status = status
    rec.note = note.strip()[:1000] or rec.note
    audit.record_by(
        db,
        actor,
        "province_status",
        "market_recommendation",
        rec.id,
        before,
        {"status": status, "note": rec.note, "order": order.index(status)},
    )
    db.commit()
    return rec


def recommendations(db: Session, year: int) -> list[tuple[Recommendation, Organisation, Admission]]:
    rows = db.execute(
        select(Recommendation, Organisation, Admission)
        .join(Organisation, Organisation.id == Recommendation.org_id)
        .join(Admission, Admission.org_id == Recommendation.org_id)
        .where(Recommendation.year == year)
        .order_by(Recommendation.id)
    ).all()
    return [(r, o, a) for r, o, a in rows]


# Column layout of the provincial submission (documented in docs/resource-pool.md).
PROVINCIAL_COLUMNS: list[tuple[str, str]] = [
    ("序号", "No."),
    ("统一社会信用代码", "Credit code"),
    ("企业名称", "Name"),
    ("注册地", "Registered place"),
    ("所在区县", "District"),
    ("服务商类型", "Provider type"),
    ("平台类别", "Platform scope"),
    ("重点领域", "Service categories"),
    ("SaaS服务领域", "SaaS domains"),
    ("产品及服务目录", "Offerings"),
    ("服务券额度（元）", "Voucher quota (yuan)"),
    ("已使用额度（元）", "Used quota (yuan)"),
    ("用户评价（均分/条数）", "Rating (average/count)"),
    ("投诉（成立）", "Complaints upheld"),
    ("抽查结果", "Spot checks (failed/total)"),
    ("白名单状态", "Whitelist status"),
    ("安全评估结果（得分/到期）", "Security assessment (score/expiry)"),
    ("两化融合评估报告", "IT-industrialisation assessment report"),
    ("推荐状态", "Recommendation status"),
    ("联系人", "Contact"),
    ("联系电话", "Phone"),
]
_ZH = {
    "platform": "平台商",
    "service": "解决方案服务商",
    "cross_industry": "跨行业跨领域平台",
    "industry_specific": "行业应用平台",
    "none": "未评估",
    "open": "评估中",
    "whitelisted": "已列入白名单",
    "expired": "已过期",
    "suspended": "已暂停",
    "failed": "未通过",
    "selected": "已遴选",
    "submitted": "已报送",
    "accepted": "省已入库",
    "declined": "省未入库",
}
_CAT_ZH = {
    "iiot": "工业物联网",
    "edge": "边缘计算",
    "big_data": "大数据",
    "ai": "人工智能",
    "solutions": "系统解决方案",
    "blockchain": "区块链",
    "next_gen_network": "下一代网络",
    "security": "信息安全",
    "consulting": "技术咨询",
    "ip": "知识产权",
    "finance": "投融资",
    "training": "人才培训",
    "rd_design": "研发设计",
    "production_control": "生产管控",
    "marketing": "市场营销",
    "process_improvement": "工艺改进",
    "energy": "能耗优化",
    "customer_mgmt": "客户管理",
    "supply_chain": "供应链协同",
    "office": "协同办公",
}


def export_provincial(db: Session, year: int) -> bytes:
    """The provincial submission for ``year`` as an Excel workbook (one row per recommended provider)."""
    from chaoyun.web import excel

    rows: list[list[Any]] = []
    for i, (rec, org, adm) in enumerate(recommendations(db, year), start=1):
        q = quality(db, org.id)
        wl = whitelist_state(db, org.id)
        qv = quota_view(db, org.id, year)
        offerings = (
            db.execute(
                select(Offering.name)
                .where(Offering.org_id == org.id, Offering.status == "published")
                .order_by(Offering.id)
            )
            .scalars()
            .all()
        )
        a = wl.assessment
        rows.append(
            [
                i,
                org.credit_code,
                org.name,
                adm.registered_place,
                DISTRICT_ZH[District(org.district)] if org.district else "",
                _ZH.get(adm.provider_type, adm.provider_type),
                _ZH.get(adm.platform_scope, ""),
                "、".join(_CAT_ZH.get(c, c) for c in adm.categories),
                "、".join(_CAT_ZH.get(c, c) for c in adm.saas_domains),
                "；".join(offerings),
                float(qv.quota),
                float(qv.used) if qv.used is not None else "",
                f"{q.rating_avg}/{q.ratings}" if q.rating_avg is not None else f"-/{q.ratings}",
                q.complaints_upheld,
                f"{q.failed_spot_checks}/{q.spot_checks}",
                _ZH[wl.status],
                f"{a.total:g}/{a.expires_on.isoformat() if a.expires_on else ''}"
                if a is not None and a.total is not None
                else "",
                adm.integration_report[:500],
                _ZH.get(rec.status, rec.status),
                org.contact_name,
                org.contact_phone,
            ]
        )
    wb = excel.workbook()
    excel.write_table(
        excel.sheet(wb, f"推荐名单{year}"),
        [zh for zh, _ in PROVINCIAL_COLUMNS],
        rows,
        header_rows=[[en for _, en in PROVINCIAL_COLUMNS]],
    )
    return excel.to_bytes(wb)


# ---------------------------------------------------------------- listings


@dataclass(frozen=True)
class ProviderRow:
    org: Organisation
    admission: Admission | None
    whitelist: str
    quota: Decimal
    opinions: int


def provider_rows(db: Session, actor: Actor, status: str = "") -> list[ProviderRow]:
    if not actor.is_city_wide:
        raise Forbidden(N_("Your role does not allow this."))
    q = (
        select(Organisation, Admission)
        .join(Admission, Admission.org_id == Organisation.id, isouter=True)
        .where(Organisation.kind == "provider")
    )
    if status:
        q = q.where(Admission.status == status)
    counts = dict(
        db.execute(select(ReviewOpinion.admission_id, func.count()).group_by(ReviewOpinion.admission_id)).all()
    )
    year = date.today().year
    out = []
    for org, adm in db.execute(q.order_by(Organisation.id)).all():
        out.append(
            ProviderRow(
                org,
                adm,
                whitelist_state(db, org.id).status,
                provider_quota(db, org.id, year),
                counts.get(adm.id, 0) if adm else 0,
            )
        )
    return out


# ---------------------------------------------------------------- the pool's KPIs (one definition each)


@dataclass(frozen=True)
class PoolKpis:
    """The resource pool's programme figures. One definition each, used by the targets card, the pool panel,
    /gov/market, the provincial page, the public page and the API:

    - ``service_providers``: service providers (not platforms) in the pool (admitted or on watch) at the end
      of the year: the plan's "10家…服务商纳入汕头市工业互联网服务资源池" (platforms have their own target);
    - ``platforms`` / ``leading_platforms``: platforms in the pool, and those designated leading;
    - ``recommended_to_province``: recommendations to the Guangdong pool submitted or accepted, cumulative
      up to the year (the plan's "到2020年…推荐…超过20家" counts the whole period);
      ``recommended_in_year`` those of that year alone.
    """

    service_providers: int
    platforms: int
    leading_platforms: int
    recommended_to_province: int
    recommended_in_year: int


def pool_kpis(db: Session, year: int | None = None) -> PoolKpis:
    """The pool's figures at the end of ``year`` (now when None)."""
    q = select(Admission.provider_type, Admission.leading_platform).where(Admission.status.in_(IN_POOL))
    if year is not None:
        q = q.where((Admission.decided_at.is_(None)) | (func.extract("year", Admission.decided_at) <= year))
    rows = db.execute(q).all()
    counted = ("submitted", "accepted")
    recs = dict(
        db.execute(
            select(Recommendation.year, func.count())
            .where(Recommendation.status.in_(counted))
            .group_by(Recommendation.year)
        ).all()
    )
    return PoolKpis(
        service_providers=sum(1 for t, _ in rows if t != "platform"),
        platforms=sum(1 for t, _ in rows if t == "platform"),
        leading_platforms=sum(1 for t, lead in rows if t == "platform" and lead),
        recommended_to_province=sum(int(n) for y, n in recs.items() if year is None or int(y) <= year),
        recommended_in_year=int(recs.get(year if year is not None else date.today().year, 0)),
    )


def pool_targets() -> dict[str, Any]:
    """The pool's targets as the policy pack states them (the smallest value that meets each, and the
    plan's wording), so every page compares with the same figure."""
    from chaoyun.programme.pack import get_pack

    pack = get_pack()
    out: dict[str, Any] = {}
    for name, key in (
        ("service_providers", "city_pool_providers"),
        ("platforms", "leading_platforms"),
        ("province", "provincial_pool_recommended"),
    ):
        t = next((x for x in pack.targets if x.key == key), None)
        out[name] = t.threshold if t else None
        out[f"{name}_label"] = t.plan_label if t else ""
        out[f"{name}_figure"] = t.target if t else None  # the figure as the plan words it (more than 20)
    lp = next((x for x in pack.targets if x.key == "leading_platforms"), None)
    out["platforms_min"] = lp.minimum if lp and lp.minimum is not None else out["platforms"]
    out["platforms_max"] = lp.target if lp else None
    return out
