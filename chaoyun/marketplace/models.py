"""Tables owned by the marketplace context (resource pool, catalogue, whitelist, quotas).

Provider organisations themselves live in identity (``organisations`` + ``provider_profiles``);
everything about their place in the pool lives here, keyed by ``org_id``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, register_unmanaged, utcnow

# The search index is made with raw SQL in the migration (FTS5 table and its shadow tables on SQLite,
# a pg_trgm GIN index on PostgreSQL); autogenerate must leave it alone.
register_unmanaged("market_offerings_fts", "ix_market_offerings_search_trgm")

_ORG_FK = "organisations.id"


class Admission(Base):
    """A provider's application to, and standing in, the city resource pool (one row per provider)."""

    __tablename__ = "market_admissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), unique=True)
    provider_type: Mapped[str] = mapped_column(String(16))  # platform | service
    platform_scope: Mapped[str] = mapped_column(String(24), default="")  # cross_industry | industry_specific
    registered_place: Mapped[str] = mapped_column(String(200), default="")
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    saas_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    qualifications: Mapped[str] = mapped_column(Text, default="")
    references: Mapped[str] = mapped_column(Text, default="")
    integration_report: Mapped[str] = mapped_column(Text, default="")  # 两化融合 assessment summary
    status: Mapped[str] = mapped_column(String(16), default="applied", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    leading_platform: Mapped[bool] = mapped_column(Boolean, default=False)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(Integer)


class ReviewOpinion(Base):
    """An expert's or officer's opinion on an application, before the city decides."""

    __tablename__ = "market_review_opinions"

    id: Mapped[int] = mapped_column(primary_key=True)
    admission_id: Mapped[int] = mapped_column(ForeignKey("market_admissions.id", ondelete="CASCADE"), index=True)
    reviewer_user_id: Mapped[int] = mapped_column(Integer)
    reviewer_name: Mapped[str] = mapped_column(String(100), default="")
    recommend: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Evaluation(Base):
    """Annual re-evaluation (dynamic adjustment) of an admitted provider."""

    __tablename__ = "market_evaluations"
    __table_args__ = (UniqueConstraint("admission_id", "year", name="uq_market_evaluations_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    admission_id: Mapped[int] = mapped_column(ForeignKey("market_admissions.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    rating_avg: Mapped[float | None] = mapped_column(Float)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    complaints: Mapped[int] = mapped_column(Integer, default=0)
    failed_spot_checks: Mapped[int] = mapped_column(Integer, default=0)
    suggested: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Recommendation(Base):
    """A provider recommended by the city to the provincial resource pool in a year."""

    __tablename__ = "market_recommendations"
    __table_args__ = (UniqueConstraint("org_id", "year", name="uq_market_recommendations_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16), default="selected")  # selected|submitted|accepted|declined
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Attachment(Base):
    """A file a provider or assessor uploaded; bytes live under CHAOYUN_VAR_DIR/marketplace/."""

    __tablename__ = "market_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    object_type: Mapped[str] = mapped_column(String(24))  # admission | assessment
    object_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40), default="other")
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(100))
    uploaded_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Offering(Base):
    """A product, solution or industrial app in the catalogue."""

    __tablename__ = "market_offerings"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="product")  # product | solution | app
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(24), index=True)
    summary: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    industries: Mapped[list[str]] = mapped_column(JSON, default=list)
    saas_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    deployment: Mapped[list[str]] = mapped_column(JSON, default=list)
    price_model: Mapped[str] = mapped_column(String(16), default="subscription")
    price_text: Mapped[str] = mapped_column(String(200), default="")
    cost_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    case_studies: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="published", index=True)
    # Name, summary, description and provider name in one column: the full-text index covers it
    # (FTS5 trigram table on SQLite, pg_trgm GIN index on PostgreSQL).
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Contract(Base):
    """A contract an enterprise declares with a provider; the provider's confirmation verifies it."""

    __tablename__ = "market_contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("market_offerings.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    signed_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="declared")  # declared | verified | disputed
    declared_by: Mapped[int | None] = mapped_column(Integer)
    confirmed_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Rating(Base):
    __tablename__ = "market_ratings"
    __table_args__ = (UniqueConstraint("offering_id", "enterprise_org_id", name="uq_market_ratings_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("market_offerings.id", ondelete="CASCADE"), index=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    enterprise_org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Complaint(Base):
    __tablename__ = "market_complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    enterprise_org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | upheld | dismissed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Assessment(Base):
    """A security assessment of a provider against the whitelist checklist."""

    __tablename__ = "market_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | passed | failed
    assessor_user_id: Mapped[int | None] = mapped_column(Integer)
    assessor_name: Mapped[str] = mapped_column(String(100), default="")
    scores: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    notes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    total: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float, default=70.0)
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_on: Mapped[date | None] = mapped_column(Date)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended_reason: Mapped[str] = mapped_column(Text, default="")
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpotCheck(Base):
    """An unannounced spot check of a whitelisted provider; a failure suspends the whitelisting."""

    __tablename__ = "market_spot_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("market_assessments.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    checked_on: Mapped[date] = mapped_column(Date)
    passed: Mapped[bool] = mapped_column(Boolean)
    findings: Mapped[str] = mapped_column(Text, default="")
    checker_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuotaAdjustment(Base):
    """A change to a provider's voucher quota for a year, with its cause."""

    __tablename__ = "market_quota_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    cause: Mapped[str] = mapped_column(String(16))  # rating | complaint | spot_check | manual
    reason: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
