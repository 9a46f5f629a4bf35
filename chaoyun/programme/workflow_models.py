"""Tables of the programme's money-and-selection workflows (vouchers, subsidies, shared-service
allocation, demonstration selection) and the generic transition log they all share.

Money is ``Numeric(14, 2)`` (yuan, two decimals) and ``Decimal`` in Python, never float. Budget and quota
rows carry CHECK constraints so that even a bug in the service layer cannot overspend them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chaoyun.db import Base, UTCDateTime, utcnow

MONEY = Numeric(14, 2)
ZERO = Decimal("0.00")


class WorkflowTransition(Base):
    """Every state change of every workflow object (the audit log also gets an entry)."""

    __tablename__ = "wf_transitions"
    __table_args__ = (Index("ix_wf_transitions_subject", "workflow", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkflowFile(Base):
    """An uploaded document (invoice, payment proof, acceptance report, certificate...), stored under var/."""

    __tablename__ = "wf_files"
    __table_args__ = (Index("ix_wf_files_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[int] = mapped_column(Integer)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_as: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExpertScore(Base):
    """One expert's rubric score of one application (subsidy or demonstration)."""

    __tablename__ = "wf_expert_scores"
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id", "expert_user_id", name="uq_wf_expert_scores_once"),
        CheckConstraint("total >= 0", name="total_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[int] = mapped_column(Integer, index=True)
    expert_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExpertLink(Base):
    """A link an expert declared with an organisation (employer, shareholding, relative...): no scoring it."""

    __tablename__ = "wf_expert_links"
    __table_args__ = (UniqueConstraint("expert_user_id", "org_id", name="uq_wf_expert_links_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    expert_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- service vouchers (item 8) -------------------------------------------------------------------------


class VoucherRound(Base):
    __tablename__ = "voucher_rounds"
    __table_args__ = (
        CheckConstraint("committed >= 0", name="committed_nonneg"),
        CheckConstraint("committed <= budget", name="within_budget"),
        CheckConstraint("face_ratio > 0 AND face_ratio <= 1", name="ratio_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(200))
    budget: Mapped[Decimal] = mapped_column(MONEY)
    # Reserved by issued vouchers plus approved and paid amounts; never above the budget.
    committed: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    paid_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    face_ratio: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    cap_per_voucher: Mapped[Decimal] = mapped_column(MONEY)
    default_provider_quota: Mapped[Decimal | None] = mapped_column(MONEY)
    claim_opens: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_closes: Mapped[datetime] = mapped_column(UTCDateTime)
    redeem_opens: Mapped[datetime] = mapped_column(UTCDateTime)
    redeem_closes: Mapped[datetime] = mapped_column(UTCDateTime)
    notice_days: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VoucherProviderQuota(Base):
    __tablename__ = "voucher_provider_quotas"
    __table_args__ = (
        UniqueConstraint("round_id", "provider_org_id", name="uq_voucher_provider_quotas_pair"),
        CheckConstraint("used >= 0", name="used_nonneg"),
        CheckConstraint("used <= quota", name="within_quota"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("voucher_rounds.id", ondelete="CASCADE"))
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    quota: Mapped[Decimal] = mapped_column(MONEY)
    used: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)


class VoucherBatch(Base):
    """One reimbursement batch (批量拨付): every approved voucher of a round at that moment."""

    __tablename__ = "voucher_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("voucher_rounds.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(100))
    total: Mapped[Decimal] = mapped_column(MONEY)
    count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Voucher(Base):
    __tablename__ = "vouchers"
    __table_args__ = (
        UniqueConstraint("provider_org_id", "invoice_no", name="uq_vouchers_invoice"),
        CheckConstraint("contract_amount > 0", name="contract_positive"),
        CheckConstraint("face_value >= 0", name="face_nonneg"),
        CheckConstraint("reimbursable IS NULL OR reimbursable <= face_value", name="reimb_within_face"),
        Index("ix_vouchers_round_state", "round_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("voucher_rounds.id", ondelete="RESTRICT"))
    enterprise_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    # Snapshots at claim time: the reviewing district and the industry for reports.
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    cluster: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(24), default="draft", index=True)
    contract_no: Mapped[str] = mapped_column(String(64))
    contract_signed_on: Mapped[date] = mapped_column(Date)
    established_on: Mapped[date | None] = mapped_column(Date)
    contract_amount: Mapped[Decimal] = mapped_column(MONEY)
    eligible_amount: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    face_value: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    contract_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    actual_paid: Mapped[Decimal | None] = mapped_column(MONEY)
    invoice_no: Mapped[str | None] = mapped_column(String(64))
    reimbursable: Mapped[Decimal | None] = mapped_column(MONEY)
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("voucher_batches.id", ondelete="SET NULL"))
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[VoucherItem]] = relationship(
        back_populates="voucher", cascade="all, delete-orphan", order_by="VoucherItem.id", lazy="selectin"
    )


class VoucherItem(Base):
    __tablename__ = "voucher_items"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(300), default="")
    amount: Mapped[Decimal] = mapped_column(MONEY)
    eligible: Mapped[bool] = mapped_column(Boolean, default=True)
    excluded_reason: Mapped[str] = mapped_column(String(300), default="")

    voucher: Mapped[Voucher] = relationship(back_populates="items")


# --- innovation subsidy and certification reward (item 9) ------------------------------------------------


class SubsidyLedger(Base):
    """Per-enterprise running totals over the whole programme; the cap is enforced by conditional UPDATE."""

    __tablename__ = "subsidy_ledger"
    __table_args__ = (
        CheckConstraint("innovation_total >= 0", name="innovation_nonneg"),
        CheckConstraint("certification_count <= 1", name="one_certification"),
    )

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    innovation_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    certification_count: Mapped[int] = mapped_column(Integer, default=0)


class SubsidyApplication(Base):
    __tablename__ = "subsidy_applications"
    __table_args__ = (CheckConstraint("computed_amount >= 0", name="amount_nonneg"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # innovation | certification
    enterprise_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    cluster: Mapped[str | None] = mapped_column(String(32))
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(24), default="draft", index=True)
    certificate_no: Mapped[str | None] = mapped_column(String(64))
    certificate_date: Mapped[date | None] = mapped_column(Date)
    claimed_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    eligible_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    computed_amount: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    # What the cap left when computed (explained to the applicant).
    cap_note: Mapped[str] = mapped_column(String(300), default="")
    approved_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disbursement_ref: Mapped[str] = mapped_column(String(100), default="")
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[SubsidyItem]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="SubsidyItem.id", lazy="selectin"
    )


class SubsidyItem(Base):
    __tablename__ = "subsidy_items"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("subsidy_applications.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(300), default="")
    amount: Mapped[Decimal] = mapped_column(MONEY)
    incurred_on: Mapped[date] = mapped_column(Date)
    eligible: Mapped[bool] = mapped_column(Boolean, default=True)
    excluded_reason: Mapped[str] = mapped_column(String(300), default="")

    application: Mapped[SubsidyApplication] = relationship(back_populates="items")


# --- shared-service allocation (item 7) ------------------------------------------------------------------


class SharedService(Base):
    __tablename__ = "shared_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    provider_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | allocating | closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    quotas: Mapped[list[SharedServiceQuota]] = relationship(
        cascade="all, delete-orphan", order_by="SharedServiceQuota.cluster", lazy="selectin"
    )


class SharedServiceQuota(Base):
    __tablename__ = "shared_service_quotas"
    __table_args__ = (
        UniqueConstraint("service_id", "cluster", name="uq_shared_service_quotas_pair"),
        CheckConstraint("seats >= 0", name="seats_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("shared_services.id", ondelete="CASCADE"))
    cluster: Mapped[str] = mapped_column(String(32))
    seats: Mapped[int] = mapped_column(Integer)


class SeatApplication(Base):
    __tablename__ = "seat_applications"
    __table_args__ = (
        Index("ix_seat_applications_queue", "service_id", "cluster", "state"),
        UniqueConstraint("service_id", "enterprise_org_id", "active_key", name="uq_seat_applications_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("shared_services.id", ondelete="CASCADE"))
    enterprise_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    cluster: Mapped[str] = mapped_column(String(32))
    is_doubling: Mapped[bool] = mapped_column(Boolean, default=False)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting | allocated | released | withdrawn
    # 1 while the application is live, its own id once closed: one live application per enterprise and service.
    active_key: Mapped[int] = mapped_column(Integer, default=1)
    explanation: Mapped[str] = mapped_column(Text, default="")
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- demonstration projects, bases, centres, platforms (items 3, 10, 11, 14) -----------------------------


class DemoCall(Base):
    __tablename__ = "demo_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    slots: Mapped[int] = mapped_column(Integer)
    pass_score: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("60"))
    # [{"key": "...", "zh": "...", "en": "...", "max": 30}, ...]
    rubric: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    notice_days: Mapped[int] = mapped_column(Integer, default=5)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | ranked | closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DemoApplication(Base):
    __tablename__ = "demo_applications"
    __table_args__ = (UniqueConstraint("call_id", "org_id", name="uq_demo_applications_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("demo_calls.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    cluster: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(24), default="draft", index=True)
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    rank: Mapped[int | None] = mapped_column(Integer)
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    selected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    milestones: Mapped[list[DemoMilestone]] = relationship(
        cascade="all, delete-orphan", order_by="DemoMilestone.due_on", lazy="selectin"
    )


class DemoMilestone(Base):
    """A quantified performance target of a project (e.g. "enterprises driven onto the platform ≥ 30")."""

    __tablename__ = "demo_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("demo_applications.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(100))
    target_value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    actual_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    due_on: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
