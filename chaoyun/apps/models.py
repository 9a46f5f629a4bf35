"""Tables of the production apps: shift calendars, planned downtime, stop reasons and operator counts (OEE);
inspection plans, subgroups and SPC alarms (quality); tariff assignment (energy); generated reports.

Telemetry itself stays in the devices context's store and is read through ``chaoyun.devices.store``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow


class ShiftCalendar(Base):
    """One per enterprise; without one the default two shifts apply (chaoyun.apps.oee.calendar)."""

    __tablename__ = "apps_shift_calendars"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    shifts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Idle stops shorter than this are "small stops" (a performance loss), longer ones availability losses.
    small_stop_s: Mapped[float] = mapped_column(Float, default=300.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PlannedDowntime(Base):
    """Time that is not planned production (maintenance, no orders, holidays): excluded from OEE."""

    __tablename__ = "apps_planned_downtime"
    __table_args__ = (Index("ix_apps_planned_downtime_org_start", "org_id", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    # None: the whole enterprise.
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StopLabel(Base):
    """An operator's reason for a stop (keyed by the stop's start on that machine)."""

    __tablename__ = "apps_stop_labels"
    __table_args__ = (UniqueConstraint("device_id", "start", name="uq_apps_stop_labels_device_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(200), default="")
    labelled_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProductionCount(Base):
    """Good and reject counts an operator entered for a machine and shift (overrides telemetry counts)."""

    __tablename__ = "apps_production_counts"
    __table_args__ = (UniqueConstraint("device_id", "day", "shift", name="uq_apps_production_counts_shift"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    shift: Mapped[str] = mapped_column(String(8))
    good: Mapped[int] = mapped_column(Integer, default=0)
    rejects: Mapped[int] = mapped_column(Integer, default=0)
    startup_rejects: Mapped[int] = mapped_column(Integer, default=0)
    entered_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InspectionPlan(Base):
    __tablename__ = "apps_inspection_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    characteristic: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(16), default="")
    chart_type: Mapped[str] = mapped_column(String(8))  # xbar_r | xbar_s | imr | p | np | c | u
    subgroup_size: Mapped[int] = mapped_column(Integer, default=5)
    lsl: Mapped[float | None] = mapped_column(Float)
    usl: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    # fixed: limits from the first baseline_count subgroups; recalc: from all subgroups.
    limits_mode: Mapped[str] = mapped_column(String(8), default="recalc")
    baseline_count: Mapped[int | None] = mapped_column(Integer)
    tests: Mapped[list[int]] = mapped_column(JSON, default=lambda: [1])
    # Optional telemetry source: one numeric metric of one device, grouped into subgroups of subgroup_size.
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    metric: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Subgroup(Base):
    """One plotted point: n measurements (variable charts) or a count of defects in a sample (attributes)."""

    __tablename__ = "apps_spc_subgroups"
    __table_args__ = (UniqueConstraint("plan_id", "seq", name="uq_apps_spc_subgroups_plan_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("apps_inspection_plans.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    values: Mapped[list[float]] = mapped_column(JSON, default=list)
    defects: Mapped[float | None] = mapped_column(Float)
    sample_size: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), default="form")  # form | import | api | telemetry | demo
    entered_by: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(200), default="")


class SpcAlarm(Base):
    """A point flagged by one of the tests for special causes; shown on the quality pages and home panel."""

    __tablename__ = "apps_spc_alarms"
    __table_args__ = (
        UniqueConstraint("plan_id", "seq", "test", name="uq_apps_spc_alarms_point_test"),
        Index("ix_apps_spc_alarms_org_status", "org_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("apps_inspection_plans.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    test: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | acknowledged
    value: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))


class TariffAssignment(Base):
    __tablename__ = "apps_tariff_assignments"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    tariff_key: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Report(Base):
    """A generated PDF (daily / weekly / monthly), kept for download."""

    __tablename__ = "apps_reports"
    __table_args__ = (UniqueConstraint("org_id", "kind", "period_start", name="uq_apps_reports_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # daily | weekly | monthly
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    filename: Mapped[str] = mapped_column(String(120))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AppUse(Base):
    """Who used which app on which day (the first use that day): the programme's evidence of real use."""

    __tablename__ = "apps_usage"
    __table_args__ = (UniqueConstraint("org_id", "user_id", "app", "day", name="uq_apps_usage_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    app: Mapped[str] = mapped_column(String(24))
    day: Mapped[date] = mapped_column(Date, index=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    via: Mapped[str] = mapped_column(String(8), default="page")  # page | api
