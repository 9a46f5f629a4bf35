"""One row per enterprise, month and outcome: the value the platform's own rules computed for that month.

A month without data for an outcome has no row (never a zero). ``month`` is the first day of the month.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow


class OutcomeSnapshot(Base):
    __tablename__ = "programme_outcome_snapshots"
    __table_args__ = (
        UniqueConstraint("org_id", "month", "outcome", name="uq_programme_outcome_snapshots_key"),
        # Covering: the effect page reads (org, month, value) of one outcome for thousands of enterprises.
        Index("ix_programme_outcome_snapshots_outcome_org", "outcome", "org_id", "month", "value"),
        Index("ix_programme_outcome_snapshots_month", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(24))
    value: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
