"""The marketplace's published interface (see docs/interfaces.md) and the pool-wide rules behind it.

Other contexts call only the functions in the "interface" section. Subjects with more rules live in
``pool`` (admission, re-evaluation, provincial recommendation), ``catalogue`` (offerings, search,
contracts, ratings, matching) and ``whitelist`` (security assessments, spot checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.i18n import N_
from chaoyun.identity.models import Organisation
from chaoyun.marketplace.config import market_config
from chaoyun.marketplace.models import Admission, Assessment, Offering, QuotaAdjustment
from chaoyun.marketplace.reference import CATEGORIES, IN_POOL, SAAS_DOMAINS, AdmissionStatus
from chaoyun.programme.workflows import vouchers

# ---------------------------------------------------------------- whitelist state


@dataclass(frozen=True)
class WhitelistState:
    status: str  # none | open | whitelisted | expired | suspended | failed
    assessment: Assessment | None
    reason: str | None  # English msgid when not whitelisted

    @property
    def ok(self) -> bool:
        return self.status == "whitelisted"


WHITELIST_LABELS: dict[str, str] = {
    "none": N_("Not assessed"),
    "open": N_("Assessment in progress"),
    "whitelisted": N_("Whitelisted"),
    "expired": N_("Whitelisting expired"),
    "suspended": N_("Suspended"),
    "failed": N_("Assessment failed"),
}


def whitelist_state(db: Session, org_id: int, today: date | None = None) -> WhitelistState:
    """The provider's whitelist standing, from its latest concluded security assessment."""
    today = today or date.today()
    latest = (
        db.execute(
            select(Assessment)
            .where(Assessment.org_id == org_id, Assessment.status.in_(("passed", "failed")))
            .order_by(Assessment.concluded_at.desc(), Assessment.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    if latest is None:
        open_one = db.execute(
            select(Assessment).where(Assessment.org_id == org_id, Assessment.status == "open").limit(1)
        ).scalar_one_or_none()
        if open_one is not None:
            return WhitelistState("open", open_one, N_("The security assessment for the whitelist is still open."))
        return WhitelistState("none", None, N_("The provider has no security assessment, so it is not whitelisted."))
    if latest.status == "failed":
        return WhitelistState("failed", latest, N_("The provider failed its security assessment."))
    if latest.suspended:
        return WhitelistState(
            "suspended", latest, N_("The provider's whitelisting is suspended after a failed spot check.")
        )
    if latest.expires_on is not None and latest.expires_on < today:
        return WhitelistState("expired", latest, N_("The provider's whitelist assessment has expired."))
    return WhitelistState("whitelisted", latest, None)


def admission_of(db: Session, org_id: int) -> Admission | None:
    return db.execute(select(Admission).where(Admission.org_id == org_id)).scalar_one_or_none()


# ---------------------------------------------------------------- interface: marketplace -> programme


def voucher_eligibility(db: Session, provider_org_id: int) -> tuple[bool, str | None]:
    """May vouchers name this provider now? Admitted (or on watch), whitelisted, not suspended.

    The second item is the English msgid of the reason when not eligible; the programme shows it
    translated. Suspension takes effect immediately because nothing here is cached.
    """
    org = db.get(Organisation, provider_org_id)
    if org is None or org.kind != "provider":
        return False, N_("This organisation is not a provider.")
    adm = admission_of(db, provider_org_id)
    if adm is None:
        return False, N_("The provider has not applied to the resource pool.")
    if adm.status == AdmissionStatus.APPLIED.value:
        return False, N_("The provider's application to the resource pool awaits review.")
    if adm.status == AdmissionStatus.REJECTED.value:
        return False, N_("The provider's application to the resource pool was rejected.")
    if adm.status == AdmissionStatus.REMOVED.value:
        return False, N_("The provider has been removed from the resource pool.")
    state = whitelist_state(db, provider_org_id)
    if not state.ok:
        return False, state.reason
    return True, None


@dataclass(frozen=True)
class OfferingSummary:
    id: int
    provider_org_id: int
    provider_name: str
    name: str
    category: str
    url: str


# Chinese labels and a few common words that name the same thing, so diagnosis areas phrased
# either way (codes, Chinese labels) map onto catalogue categories and SaaS domains.
_ALIASES: dict[str, str] = {
    "工业物联网": "iiot",
    "物联网": "iiot",
    "边缘计算": "edge",
    "大数据": "big_data",
    "人工智能": "ai",
    "系统解决方案": "solutions",
    "区块链": "blockchain",
    "下一代网络": "next_gen_network",
    "信息安全": "security",
    "网络安全": "security",
    "数据安全": "security",
    "技术咨询": "consulting",
    "知识产权": "ip",
    "投融资": "finance",
    "人才培训": "training",
    "研发设计": "rd_design",
    "生产管控": "production_control",
    "计划排程": "production_control",
    "质量管理": "process_improvement",
    "设备管理": "production_control",
    "市场营销": "marketing",
    "工艺改进": "process_improvement",
    "能耗优化": "energy",
    "能耗管理": "energy",
    "客户管理": "customer_mgmt",
    "供应链协同": "supply_chain",
    "采购管理": "supply_chain",
    "仓储物流": "supply_chain",
    "协同办公": "office",
    "财务管理": "office",
    "人力资源": "office",
}


def normalise_category(term: str) -> str | None:
    """A category or SaaS-domain code for a code, English label or Chinese label; None if unknown."""
    t = term.strip()
    if t in CATEGORIES or t in SAAS_DOMAINS:
        return t
    if t in _ALIASES:
        return _ALIASES[t]
    low = t.lower()
    for code, label in (*CATEGORIES.items(), *SAAS_DOMAINS.items()):
        if label.lower() == low:
            return code
    return None


def public_offerings_query() -> Any:
    """Offerings anyone may see: published, from providers in the pool."""
    return (
        select(Offering, Organisation.name)
        .join(Organisation, Organisation.id == Offering.org_id)
        .join(Admission, Admission.org_id == Offering.org_id)
        .where(Offering.status == "published", Admission.status.in_(IN_POOL))
    )


def offerings_for_categories(db: Session, categories: list[str], limit: int = 5) -> list[OfferingSummary]:
    """Published offerings of pool providers in any of ``categories`` (plan categories or SaaS domains,
    as codes or Chinese labels), whitelisted providers first, then by average rating."""
    from chaoyun.marketplace.models import Rating

    codes = {c for c in (normalise_category(x) for x in categories) if c}
    if not codes:
        return []
    cats = [c for c in codes if c in CATEGORIES]
    domains = [c for c in codes if c in SAAS_DOMAINS]
    rows = db.execute(public_offerings_query().order_by(Offering.id)).all()
    picked: list[tuple[Offering, str]] = []
    for off, pname in rows:
        if off.category in cats or set(off.saas_domains or []) & set(domains):
            picked.append((off, pname))
    if not picked:
        return []
    avg: dict[int, Any] = dict(
        db.execute(
            select(Rating.offering_id, func.avg(Rating.score))
            .where(Rating.offering_id.in_([o.id for o, _ in picked]))
            .group_by(Rating.offering_id)
        ).all()
    )
    white = {oid: whitelist_state(db, oid).ok for oid in {o.org_id for o, _ in picked}}
    picked.sort(key=lambda r: (not white[r[0].org_id], -float(avg.get(r[0].id) or 0), r[0].id))
    return [
        OfferingSummary(o.id, o.org_id, pname, o.name, o.category, f"/market/offerings/{o.id}")
        for o, pname in picked[: max(limit, 0)]
    ]


@dataclass(frozen=True)
class PoolCounts:
    admitted_service_providers: int
    admitted_platforms: int
    leading_platforms: int
    recommended_to_province: int
    recommended_in_year: int


def pool_counts(db: Session, year: int | None = None) -> PoolCounts:
    """The pool's KPIs under the names this API has always used; defined once in ``pool.pool_kpis``."""
    from chaoyun.marketplace.pool import pool_kpis  # pool imports this module

    k = pool_kpis(db, year)
    return PoolCounts(
        admitted_service_providers=k.service_providers,
        admitted_platforms=k.platforms,
        leading_platforms=k.leading_platforms,
        recommended_to_province=k.recommended_to_province,
        recommended_in_year=k.recommended_in_year,
    )


def base_quota(provider_type: str) -> Decimal:
    cfg = market_config()
    return cfg.quota_platform if provider_type == "platform" else cfg.quota_service


def provider_quota(db: Session, provider_org_id: int, year: int) -> Decimal:
    """The provider's voucher quota for ``year``: the configured starting amount for its type plus
    that year's adjustments (ratings, complaints, spot checks, manual), never below zero.
    Providers outside the pool have no quota."""
    adm = admission_of(db, provider_org_id)
    if adm is None or adm.status not in IN_POOL:
        return Decimal("0.00")
    adjust = db.execute(
        select(func.coalesce(func.sum(QuotaAdjustment.amount), 0)).where(
            QuotaAdjustment.org_id == provider_org_id, QuotaAdjustment.year == year
        )
    ).scalar_one()
    return max(Decimal("0.00"), (base_quota(adm.provider_type) + Decimal(adjust)).quantize(Decimal("0.01")))


# ---------------------------------------------------------------- programme functions (the one two-way pair)


def used_quota(db: Session, provider_org_id: int, year: int) -> Decimal:
    """Voucher amounts redeemed with this provider in ``year`` (the programme's money workflows)."""
    return Decimal(vouchers.redeemed_by_provider(db, provider_org_id, year))


def programme_contract(db: Session, provider_org_id: int, enterprise_org_id: int) -> bool:
    return bool(vouchers.provider_has_contract(db, provider_org_id, enterprise_org_id))
