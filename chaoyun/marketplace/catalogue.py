"""Offerings catalogue: listing, Chinese full-text search, comparison, contracts, ratings, complaints, matching."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Integer, column, func, literal, or_, select, text
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import CLUSTER_ZH, Cluster
from chaoyun.marketplace.models import Admission, Complaint, Contract, Offering, Rating
from chaoyun.marketplace.reference import (
    CATEGORIES,
    COST_CATEGORIES,
    DEPLOYMENTS,
    IN_POOL,
    OFFERING_KINDS,
    PRICE_MODELS,
    SAAS_DOMAINS,
)
from chaoyun.marketplace.schemas import ContractIn, OfferingIn, RatingIn
from chaoyun.marketplace.service import (
    _ALIASES,
    programme_contract,
    public_offerings_query,
    voucher_eligibility,
    whitelist_state,
)

MAX_COMPARE = 4
_CAT_ZH = {code: zh for zh, code in _ALIASES.items()}


def _search_text(off: Offering, provider_name: str) -> str:
    labels = [_CAT_ZH.get(off.category, "")] + [_CAT_ZH.get(d, "") for d in off.saas_domains or []]
    labels += [CLUSTER_ZH[Cluster(c)] for c in off.industries or [] if c in Cluster._value2member_map_]
    return "\n".join([off.name, off.summary, off.description, provider_name, " ".join(x for x in labels if x)])


def _validate_offering(data: OfferingIn) -> None:
    checks: list[tuple[str, list[str], dict[str, str] | set[str]]] = [
        ("kind", [data.kind], OFFERING_KINDS),
        ("category", [data.category], CATEGORIES),
        ("saas_domains", data.saas_domains, SAAS_DOMAINS),
        ("deployment", data.deployment, DEPLOYMENTS),
        ("price_model", [data.price_model], PRICE_MODELS),
        ("cost_categories", data.cost_categories, COST_CATEGORIES),
        ("industries", data.industries, {c.value for c in Cluster}),
        ("status", [data.status], {"draft", "published", "withdrawn"}),
    ]
    for fname, values, allowed in checks:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise Invalid(N_("Unknown value for %(name)s: %(value)s."), field=fname, name=fname, value=", ".join(bad))


def _apply(off: Offering, data: OfferingIn, provider_name: str) -> None:
    off.name = data.name
    off.kind = data.kind
    off.category = data.category
    off.summary = data.summary
    off.description = data.description
    off.industries = list(data.industries)
    off.saas_domains = list(data.saas_domains)
    off.deployment = list(data.deployment)
    off.price_model = data.price_model
    off.price_text = data.price_text
    off.cost_categories = list(data.cost_categories)
    off.case_studies = [c.model_dump(mode="json") for c in data.case_studies]
    off.status = data.status
    off.search_text = _search_text(off, provider_name)


def offering_snapshot(off: Offering) -> dict[str, Any]:
    return {
        "name": off.name,
        "kind": off.kind,
        "category": off.category,
        "status": off.status,
        "industries": off.industries,
        "deployment": off.deployment,
        "price_model": off.price_model,
        "cost_categories": off.cost_categories,
    }


def _require_provider(actor: Actor) -> None:
    if actor.audience != "provider":
        raise Forbidden(N_("Only providers manage offerings."))


def create_offering(db: Session, actor: Actor, data: OfferingIn) -> Offering:
    _require_provider(actor)
    _validate_offering(data)
    off = Offering(org_id=actor.org_id)
    _apply(off, data, actor.org.name)
    db.add(off)
    db.flush()
    audit.record_by(db, actor, "create", "market_offering", off.id, None, offering_snapshot(off))
    db.commit()
    return off


def own_offering(db: Session, actor: Actor, offering_id: int) -> Offering:
    """A provider's own offering; anything else answers 404 (a provider edits only its own records)."""
    off = db.get(Offering, offering_id)
    if off is None or off.org_id != actor.org_id:
        raise NotFound(N_("No such offering, or it is not yours to change."))
    return off


def update_offering(db: Session, actor: Actor, offering_id: int, data: OfferingIn) -> Offering:
    _require_provider(actor)
    off = own_offering(db, actor, offering_id)
    _validate_offering(data)
    before = offering_snapshot(off)
    _apply(off, data, actor.org.name)
    audit.record_by(db, actor, "update", "market_offering", off.id, before, offering_snapshot(off))
    db.commit()
    return off


def own_offerings(db: Session, actor: Actor) -> list[Offering]:
    return list(db.execute(select(Offering).where(Offering.org_id == actor.org_id).order_by(Offering.id)).scalars())


# ---------------------------------------------------------------- search


@dataclass
class SearchFilter:
    q: str = ""
    category: str = ""
    industry: str = ""
    deployment: str = ""
    cost_category: str = ""
    whitelisted: bool = False
    provider_id: int | None = None


_SPLIT = re.compile(r"[\s,，;；、。]+")


def _term_clause(db: Session, term: str) -> ColumnElement[bool]:
    """One search term. SQLite: the FTS5 trigram index (3+ characters; shorter terms scan with LIKE).
    PostgreSQL: ILIKE, which the pg_trgm GIN index serves for 3+ characters."""
    if db.get_bind().dialect.name == "sqlite" and len(term) >= 3:
        phrase = '"' + term.replace('"', '""') + '"'
        sub = (
            text("SELECT rowid FROM market_offerings_fts WHERE market_offerings_fts MATCH :p")
            .bindparams(p=phrase)
            .columns(column("rowid", Integer))
        )
        return Offering.id.in_(sub)
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    # Rendered into the statement (quoted by SQLAlchemy) rather than bound, so PostgreSQL plans each
    # search with the real pattern; a generic prepared plan cannot see that the trigram index is selective.
    return Offering.search_text.ilike(literal(f"%{escaped}%", literal_execute=True), escape="\\")


def search(db: Session, f: SearchFilter, limit: int = 100) -> list[tuple[Offering, str]]:
    """Published offerings of pool providers matching every search term and the filters."""
    q = public_offerings_query()
    for term in [t for t in _SPLIT.split(f.q.strip()) if t][:8]:
        q = q.where(_term_clause(db, term[:100]))
    if f.category:
        q = q.where(Offering.category == f.category)
    if f.provider_id:
        q = q.where(Offering.org_id == f.provider_id)
    q = q.order_by(Offering.id)
    if not (f.industry or f.deployment or f.cost_category or f.whitelisted):
        q = q.limit(limit)  # no list-valued filter follows, so the database can stop early
    rows = [(o, n) for o, n in db.execute(q).all()]
    # List-valued filters run here: the catalogue holds hundreds of rows, and JSON containment
    # differs between SQLite and PostgreSQL.
    if f.industry:
        rows = [r for r in rows if f.industry in (r[0].industries or [])]
    if f.deployment:
        rows = [r for r in rows if f.deployment in (r[0].deployment or [])]
    if f.cost_category:
        rows = [r for r in rows if f.cost_category in (r[0].cost_categories or [])]
    if f.whitelisted:
        ok = {oid: whitelist_state(db, oid).ok for oid in {r[0].org_id for r in rows}}
        rows = [r for r in rows if ok[r[0].org_id]]
    return rows[:limit]


def public_offering(db: Session, offering_id: int) -> tuple[Offering, str]:
    row = db.execute(public_offerings_query().where(Offering.id == offering_id)).first()
    if row is None:
        raise NotFound(N_("No such offering in the catalogue."))
    return row[0], row[1]


def compare(db: Session, ids: list[int]) -> list[tuple[Offering, str]]:
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_COMPARE:
        raise Invalid(N_("Compare at most four offerings at a time."), field="ids")
    return [public_offering(db, i) for i in ids]


def rating_summary(db: Session, offering_ids: list[int]) -> dict[int, tuple[float, int]]:
    if not offering_ids:
        return {}
    rows = db.execute(
        select(Rating.offering_id, func.avg(Rating.score), func.count())
        .where(Rating.offering_id.in_(offering_ids))
        .group_by(Rating.offering_id)
    ).all()
    return {oid: (round(float(avg), 1), int(n)) for oid, avg, n in rows}


def ratings_of(db: Session, offering_id: int) -> list[Rating]:
    return list(
        db.execute(select(Rating).where(Rating.offering_id == offering_id).order_by(Rating.id.desc())).scalars()
    )


# ---------------------------------------------------------------- contracts, ratings, complaints


def _require_enterprise(actor: Actor) -> None:
    if actor.audience != "enterprise":
        raise Forbidden(N_("Only enterprises can do this."))


def declare_contract(db: Session, actor: Actor, data: ContractIn) -> Contract:
    _require_enterprise(actor)
    prov = db.get(Organisation, data.provider_org_id)
    if prov is None or prov.kind != "provider":
        raise Invalid(N_("Choose a provider from the resource pool."), field="provider_org_id")
    if data.offering_id is not None:
        off = db.get(Offering, data.offering_id)
        if off is None or off.org_id != prov.id:
            raise Invalid(N_("The offering does not belong to this provider."), field="offering_id")
    c = Contract(
        enterprise_org_id=actor.org_id,
        provider_org_id=prov.id,
        offering_id=data.offering_id,
        title=data.title,
        amount=data.amount,
        signed_on=data.signed_on,
        status="declared",
        declared_by=actor.user.id,
    )
    db.add(c)
    db.flush()
    audit.record_by(
        db,
        actor,
        "contract_declare",
        "market_contract",
        c.id,
        None,
        {
            "provider_org_id": prov.id,
            "offering_id": c.offering_id,
            "amount": str(c.amount),
            "signed_on": str(c.signed_on),
        },
    )
    db.commit()
    return c


def get_contract(db: Session, actor: Actor, contract_id: int) -> Contract:
    c = db.get(Contract, contract_id)
    if c is None or not (actor.is_city_wide or actor.org_id in (c.enterprise_org_id, c.provider_org_id)):
        raise NotFound(N_("No such contract, or it is not yours to see."))
    return c


def confirm_contract(db: Session, actor: Actor, contract_id: int, accept: bool) -> Contract:
    """The provider confirms (verifies) or disputes a contract an enterprise declared with it."""
    c = get_contract(db, actor, contract_id)
    if c.provider_org_id != actor.org_id:
        raise NotFound(N_("No such contract, or it is not yours to see."))
    if c.status != "declared":
        raise Conflict(N_("This contract has already been answered."))
    c.status = "verified" if accept else "disputed"
    c.confirmed_by = actor.user.id
    c.confirmed_at = utcnow()
    audit.record_by(
        db, actor, "contract_confirm", "market_contract", c.id, {"status": "declared"}, {"status": c.status}
    )
    db.commit()
    return c


def contracts_for(db: Session, actor: Actor) -> list[tuple[Contract, str, str]]:
    """Contracts the actor is party to (the bureau sees all), with enterprise and provider names."""
    ent = Organisation.__table__.alias("ent")
    prov = Organisation.__table__.alias("prov")
    q = (
        select(Contract, ent.c.name, prov.c.name)
        .join(ent, ent.c.id == Contract.enterprise_org_id)
        .join(prov, prov.c.id == Contract.provider_org_id)
    )
    if not actor.is_city_wide:
        q = q.where(or_(Contract.enterprise_org_id == actor.org_id, Contract.provider_org_id == actor.org_id))
    return [(c, e, p) for c, e, p in db.execute(q.order_by(Contract.id.desc()).limit(500)).all()]


def has_verified_contract(db: Session, enterprise_org_id: int, provider_org_id: int) -> bool:
    own = db.execute(
        select(Contract.id).where(
            Contract.enterprise_org_id == enterprise_org_id,
            Contract.provider_org_id == provider_org_id,
            Contract.status == "verified",
        )
    ).first()
    return own is not None or programme_contract(db, provider_org_id, enterprise_org_id)


def rate(db: Session, actor: Actor, offering_id: int, data: RatingIn) -> Rating:
    """An enterprise rates an offering; only with a verified contract with its provider (our own
    contract record confirmed by the provider, or a verified voucher contract in the programme)."""
    _require_enterprise(actor)
    off, _ = public_offering(db, offering_id)
    if not has_verified_contract(db, actor.org_id, off.org_id):
        raise Forbidden(N_("Only enterprises with a verified contract with this provider can rate its offerings."))
    r = db.execute(
        select(Rating).where(Rating.offering_id == off.id, Rating.enterprise_org_id == actor.org_id)
    ).scalar_one_or_none()
    before = {"score": r.score, "comment": r.comment} if r else None
    if r is None:
        r = Rating(offering_id=off.id, provider_org_id=off.org_id, enterprise_org_id=actor.org_id, score=data.score)
        db.add(r)
    r.score = data.score
    r.comment = data.comment
    db.flush()
    audit.record_by(
        db,
        actor,
        "rate",
        "market_rating",
        r.id,
        before,
        {"offering_id": off.id, "score": r.score, "comment": r.comment},
    )
    db.commit()
    return r


def complain(db: Session, actor: Actor, provider_org_id: int, text_: str) -> Complaint:
    _require_enterprise(actor)
    prov = db.get(Organisation, provider_org_id)
    if prov is None or prov.kind != "provider":
        raise Invalid(N_("Choose a provider from the resource pool."), field="provider_org_id")
    if len(text_.strip()) < 5:
        raise Invalid(N_("Describe the complaint (at least 5 characters)."), field="text")
    c = Complaint(provider_org_id=prov.id, enterprise_org_id=actor.org_id, text=text_.strip()[:2000])
    db.add(c)
    db.flush()
    audit.record_by(db, actor, "complain", "market_complaint", c.id, None, {"provider_org_id": prov.id, "text": c.text})
    db.commit()
    return c


def complaints_of(db: Session, provider_org_id: int) -> list[Complaint]:
    return list(
        db.execute(
            select(Complaint).where(Complaint.provider_org_id == provider_org_id).order_by(Complaint.id.desc())
        ).scalars()
    )


# ---------------------------------------------------------------- matching

# Words a need is commonly phrased in, looked up in the need and in each offering's text.
KEYWORDS = (
    "排产",
    "排程",
    "能耗",
    "节能",
    "电表",
    "质量",
    "检测",
    "视觉",
    "缺陷",
    "设备",
    "预测性维护",
    "维护",
    "故障",
    "注塑",
    "纺织",
    "针织",
    "玩具",
    "服装",
    "包装",
    "MES",
    "ERP",
    "WMS",
    "SCADA",
    "OEE",
    "仓储",
    "库存",
    "订单",
    "溯源",
    "追溯",
    "标识",
    "安全",
    "防火墙",
    "等保",
    "5G",
    "专线",
    "边缘",
    "网关",
    "数据",
    "报表",
    "上云",
    "云",
    "培训",
    "融资",
    "贷款",
    "专利",
    "商标",
    "电商",
    "营销",
    "客户",
    "CRM",
    "协同",
    "办公",
    "供应链",
    "采购",
    "研发",
    "设计",
    "工艺",
    "AI",
    "人工智能",
    "区块链",
    "物联网",
)
# Everyday words that also name a SaaS domain, so "能耗太高" counts as the energy domain.
KEYWORD_DOMAINS = {
    "排产": "production_control",
    "排程": "production_control",
    "报工": "production_control",
    "能耗": "energy",
    "节能": "energy",
    "电费": "energy",
    "质检": "process_improvement",
    "工艺": "process_improvement",
    "营销": "marketing",
    "电商": "marketing",
    "客户": "customer_mgmt",
    "供应链": "supply_chain",
    "采购": "supply_chain",
    "办公": "office",
    "研发": "rd_design",
    "设计": "rd_design",
}
WEIGHTS = {"category": 3.0, "domain": 2.0, "industry": 2.0, "keyword": 1.0, "whitelisted": 1.0, "rating": 0.5}


@dataclass
class MatchTerm:
    kind: str  # category | domain | industry | keyword | whitelisted | rating
    value: str  # a code, Chinese word or figure
    weight: float


@dataclass
class Match:
    offering: Offering | None
    provider_id: int
    provider_name: str
    terms: list[MatchTerm] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(t.weight for t in self.terms), 2)


@dataclass
class Need:
    categories: set[str]
    domains: set[str]
    keywords: set[str]
    industry: str


def parse_need(categories: list[str], text_: str, industry: str = "") -> Need:
    """Turn chosen areas (codes or Chinese labels, e.g. a diagnosis' weak areas) and free text into
    the categories, SaaS domains and keywords the scoring looks for."""
    cats: set[str] = set()
    doms: set[str] = set()
    for c in categories:
        code = c if (c in CATEGORIES or c in SAAS_DOMAINS) else _ALIASES.get(c.strip())
        if code in CATEGORIES:
            cats.add(code)
        elif code in SAAS_DOMAINS:
            doms.add(code)
    words: set[str] = set()
    for zh, code in _ALIASES.items():
        if zh in text_:
            (cats if code in CATEGORIES else doms).add(code)
    for word, dom in KEYWORD_DOMAINS.items():
        if word in text_:
            doms.add(dom)
    up = text_.upper()
    for k in KEYWORDS:
        if k.upper() in up:
            words.add(k)
    return Need(cats, doms, words, industry)


def match_offerings(db: Session, need: Need, limit: int = 20) -> list[Match]:
    """Rank catalogue offerings for a need; every point comes from a listed term with its weight."""
    rows = db.execute(public_offerings_query().order_by(Offering.id)).all()
    ratings = rating_summary(db, [o.id for o, _ in rows])
    white: dict[int, bool] = {}
    out: list[Match] = []
    for off, pname in rows:
        m = Match(off, off.org_id, pname)
        if off.category in need.categories:
            m.terms.append(MatchTerm("category", off.category, WEIGHTS["category"]))
        for d in sorted(need.domains & set(off.saas_domains or [])):
            m.terms.append(MatchTerm("domain", d, WEIGHTS["domain"]))
        hay = off.search_text.upper()
        for k in sorted(need.keywords):
            if k.upper() in hay:
                m.terms.append(MatchTerm("keyword", k, WEIGHTS["keyword"]))
        if not m.terms:
            continue  # relevance first: trust and ratings only order relevant offerings
        if need.industry and need.industry in (off.industries or []):
            m.terms.append(MatchTerm("industry", need.industry, WEIGHTS["industry"]))
        if off.org_id not in white:
            white[off.org_id] = whitelist_state(db, off.org_id).ok
        if white[off.org_id]:
            m.terms.append(MatchTerm("whitelisted", "", WEIGHTS["whitelisted"]))
        if off.id in ratings:
            avg, _n = ratings[off.id]
            m.terms.append(MatchTerm("rating", f"{avg:.1f}", round((avg - 3) * WEIGHTS["rating"], 2)))
        out.append(m)
    out.sort(key=lambda m: (-m.score, m.offering.id if m.offering else 0))
    return out[:limit]


def match_providers(db: Session, need: Need, limit: int = 20) -> list[Match]:
    """Providers eligible for vouchers now (admitted, whitelisted, not suspended), ranked for a
    demonstration call's needs by their declared categories and domains and their offerings' text."""
    adms = db.execute(
        select(Admission, Organisation.name)
        .join(Organisation, Organisation.id == Admission.org_id)
        .where(Admission.status.in_(IN_POOL))
        .order_by(Admission.org_id)
    ).all()
    texts: dict[int, str] = {}
    for oid, st in db.execute(
        select(Offering.org_id, Offering.search_text).where(Offering.status == "published")
    ).all():
        texts[oid] = texts.get(oid, "") + "\n" + st.upper()
    out = []
    for adm, pname in adms:
        m = Match(None, adm.org_id, pname)
        for c in sorted(need.categories & set(adm.categories or [])):
            m.terms.append(MatchTerm("category", c, WEIGHTS["category"]))
        for d in sorted(need.domains & set(adm.saas_domains or [])):
            m.terms.append(MatchTerm("domain", d, WEIGHTS["domain"]))
        for k in sorted(need.keywords):
            if k.upper() in texts.get(adm.org_id, ""):
                m.terms.append(MatchTerm("keyword", k, WEIGHTS["keyword"]))
        if not m.terms or not voucher_eligibility(db, adm.org_id)[0]:
            continue
        out.append(m)
    out.sort(key=lambda m: (-m.score, m.provider_id))
    return out[:limit]


def enterprise_cluster(db: Session, actor: Actor) -> str:
    if actor.audience != "enterprise":
        return ""
    prof = db.get(EnterpriseProfile, actor.org_id)
    return prof.cluster if prof else ""


def provider_public(db: Session, provider_id: int) -> tuple[Organisation, Admission]:
    """A provider's public page: only providers in the pool, and only public fields are shown."""
    org = db.get(Organisation, provider_id)
    adm = db.execute(select(Admission).where(Admission.org_id == provider_id)).scalar_one_or_none()
    if org is None or org.kind != "provider" or adm is None or adm.status not in IN_POOL:
        raise NotFound(N_("No such provider in the resource pool."))
    return org, adm
