"""Tables of the programme context (targets, cloud adoption, diagnosis).

The money workflows (vouchers, subsidies, allocation, demonstration) keep their tables in
``workflow_models.py``, imported at the bottom so model discovery (by file name) finds them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow


class CloudAdoption(Base):
    """One declaration by an enterprise that business areas moved to the cloud (上云上平台).

    declared → verified → counted (or declared → rejected → declared again). ``areas`` holds, per business
    area key, how it is evidenced: "devices" / "apps" (corroborated by platform records), "officer" (checked
    by the district officer) or null (declared only).
    """

    __tablename__ = "programme_cloud_adoptions"
    __table_args__ = (Index("ix_programme_cloud_adoptions_status_year", "status", "counted_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="declared", index=True)
    areas: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provider_name: Mapped[str] = mapped_column(String(200))
    provider_org_id: Mapped[int | None] = mapped_column(Integer)
    contract_no: Mapped[str] = mapped_column(String(64), default="")
    contract_date: Mapped[date | None] = mapped_column(Date)
    contract_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    live_since: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stars: Mapped[int | None] = mapped_column(Integer)
    counted_year: Mapped[int | None] = mapped_column(Integer)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    declared_by: Mapped[int | None] = mapped_column(Integer)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_by: Mapped[int | None] = mapped_column(Integer)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Diagnosis(Base):
    """A 把脉问诊 diagnosis: self-assessment, platform pre-fill, expert review, computed level.

    draft → submitted → completed. ``answers`` follows ``chaoyun.programme.questionnaire``; ``evidenced``
    maps answer keys the platform filled from its records to a description of the source.
    """

    __tablename__ = "programme_diagnoses"
    __table_args__ = (Index("ix_programme_diagnoses_status_year", "status", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    questionnaire: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evidenced: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    level: Mapped[int | None] = mapped_column(Integer)
    scene_levels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    group_scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expert_user_id: Mapped[int | None] = mapped_column(Integer)
    expert_summary: Mapped[str] = mapped_column(Text, default="")
    # The year it counts in (the year the expert completed it).
    year: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DiagnosisAdjustment(Base):
    """An expert's change to one answer on site, always with its reason."""

    __tablename__ = "programme_diagnosis_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    diagnosis_id: Mapped[int] = mapped_column(ForeignKey("programme_diagnoses.id", ondelete="CASCADE"), index=True)
    item_key: Mapped[str] = mapped_column(String(64))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    expert_user_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The money workflows' tables (vouchers, subsidies, allocation, demonstration) live in their own module.
from chaoyun.programme import workflow_models as workflow_models  # noqa: E402
