"""Tables of the intrusion detector: the allow-list profiles an enterprise keeps, the captures it had scanned,
and the alerts (from a scan on the platform or posted by its gateway)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow


class IdsProfile(Base):
    __tablename__ = "sec_ids_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200), default="")  # the capture it was learned from
    # The profile document (engine.PROFILE_FORMAT) and counts shown in lists.
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdsScan(Base):
    __tablename__ = "sec_ids_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("sec_ids_profiles.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(200), default="")  # file name, or "gateway:<name>"
    frames: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdsAlert(Base):
    __tablename__ = "sec_ids_alerts"
    __table_args__ = (Index("ix_sec_ids_alerts_org_at", "org_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), index=True)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("sec_ids_scans.id", ondelete="SET NULL"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # first frame
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(300))
    src: Mapped[str] = mapped_column(String(64), default="")
    dst: Mapped[str] = mapped_column(String(64), default="")
    frames: Mapped[list[int]] = mapped_column(JSON, default=list)  # frame numbers (first 2,000)
    frame_count: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(200), default="")
    alarm_id: Mapped[int | None] = mapped_column(Integer)  # the device alarm raised for it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
