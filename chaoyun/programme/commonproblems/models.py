"""An enterprise's decision to be named when the common-problem report picks it as a typical case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow


class CaseConsent(Base):
    """One row per enterprise that has decided; no row means "not named" (anonymised)."""

    __tablename__ = "programme_case_consents"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    named: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
