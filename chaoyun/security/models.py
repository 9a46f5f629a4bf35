"""Tables of the security context: inspection campaigns, the enterprises in them (self-check and on-site check
answers, scores), evidence files, findings; incidents and what they gather (IDS alerts, device alarms, audit
entries, notes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow


def _empty() -> dict[str, Any]:
    return {}


def _no_list() -> list[str]:
    return []


class Campaign(Base):
    """An annual inspection campaign: the city picks key industries (clusters) and enterprises."""

    __tablename__ = "sec_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(200))
    checklist: Mapped[str] = mapped_column(String(64))  # key of a YAML checklist
    clusters: Mapped[list[str]] = mapped_column(JSON, default=_no_list)
    self_check_due: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Inspection(Base):
    """One enterprise in a campaign: its self-check, the district's on-site check, the computed scores."""

    __tablename__ = "sec_inspections"
    __table_args__ = (UniqueConstraint("campaign_id", "org_id", name="uq_sec_inspections_campaign_org"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("sec_campaigns.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    cluster: Mapped[str] = mapped_column(String(32), default="")
    # selected → self_checked → inspected
    status: Mapped[str] = mapped_column(String(16), default="selected")
    self_answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=_empty)
    self_score: Mapped[float | None] = mapped_column(Float)
    self_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    onsite_answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=_empty)
    onsite_score: Mapped[float | None] = mapped_column(Float)
    inspector_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    inspector_name: Mapped[str] = mapped_column(String(100), default="")
    inspected_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Evidence(Base):
    """A file an enterprise attaches to one checklist item of its self-check (kept on disk, hashed)."""

    __tablename__ = "sec_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("sec_inspections.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    item_code: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Finding(Base):
    """A gap found by a check: risk level, remediation owner and deadline; escalates when overdue; a re-check
    closes it."""

    __tablename__ = "sec_findings"
    __table_args__ = (
        UniqueConstraint("inspection_id", "item_code", name="uq_sec_findings_inspection_item"),
        Index("ix_sec_findings_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("sec_inspections.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    item_code: Mapped[str] = mapped_column(String(32))
    domain: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # self_check | onsite
    risk: Mapped[str] = mapped_column(String(8))  # high | medium | low
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(100), default="")  # the remediation owner (a person's name)
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | rectified | closed
    escalation: Mapped[str] = mapped_column(String(16), default="none")  # none | district | city
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectification: Mapped[str] = mapped_column(Text, default="")
    recheck_note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Incident(Base):
    """A security incident of one enterprise: what it gathers, who handles it, how far it is escalated."""

    __tablename__ = "sec_incidents"
    __table_args__ = (Index("ix_sec_incidents_org_state", "org_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(200))
    # open → investigating → contained → closed
    state: Mapped[str] = mapped_column(String(16), default="open")
    severity: Mapped[str] = mapped_column(String(8), default="medium")  # high | medium | low
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assignee_name: Mapped[str] = mapped_column(String(100), default="")
    escalation: Mapped[str] = mapped_column(String(16), default="none")  # none | district | city
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=_empty)  # closing report: cause, actions, lessons
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncidentItem(Base):
    """One thing an incident gathered: an IDS alert, a device alarm, an audit entry, or a handler's note."""

    __tablename__ = "sec_incident_items"
    __table_args__ = (UniqueConstraint("incident_id", "kind", "ref_id", name="uq_sec_incident_items_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("sec_incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # ids_alert | device_alarm | audit | note | state
    ref_id: Mapped[int | None] = mapped_column(Integer)  # the alert / alarm / audit id (none for notes, states)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=_empty)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
