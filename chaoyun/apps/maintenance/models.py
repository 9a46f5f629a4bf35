"""Tables of the maintenance app: per-enterprise settings, maintenance plans (calendar, runtime hours, cycle
counts), work orders (preventive, corrective, predictive) with the alarms that led to them and the parts they
used, and spare parts with stock and a reorder point.

A work order's maintenance window is an ``apps_planned_downtime`` row (``downtime_id``): the OEE app excludes it
from planned time and the scheduling app blocks the machine, neither knowing about maintenance.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow


def _default_severities() -> list[str]:
    return ["critical", "major"]


def _default_kinds() -> list[str]:
    return ["threshold", "rate", "state"]


class MaintSettings(Base):
    """One per enterprise; without one the defaults apply (``service.DEFAULT_*``)."""

    __tablename__ = "apps_maint_settings"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    # Alarms of these severities and rule kinds open a corrective order (an empty list: none do).
    alarm_severities: Mapped[list[str]] = mapped_column(JSON, default=_default_severities)
    alarm_kinds: Mapped[list[str]] = mapped_column(JSON, default=_default_kinds)
    # A breakdown stop (machine state "fault") at least this long counts as a failure (MTBF / MTTR).
    failure_min_stop_min: Mapped[float] = mapped_column(Float, default=10.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MaintPlan(Base):
    """Preventive maintenance of one machine, due every ``every`` days / weeks (calendar), running hours
    (runtime, from the profile's state signal) or cycles (cycles, from its cycle or good-count counter)."""

    __tablename__ = "apps_maint_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(16))  # calendar | runtime | cycles
    every: Mapped[float] = mapped_column(Float)  # days (calendar), hours (runtime), cycles (cycles)
    calendar_unit: Mapped[str] = mapped_column(String(8), default="days")  # days | weeks (calendar only)
    duration_min: Mapped[int] = mapped_column(Integer, default=60)  # planned length of the work
    detail: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The interval counts from the last order of this plan that was done (or skipped), else from start_at.
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Running hours or cycles accrued since the baseline, computed from telemetry up to meter_at (incremental).
    meter: Mapped[float] = mapped_column(Float, default=0.0)
    meter_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MaintOrder(Base):
    __tablename__ = "apps_maint_orders"
    __table_args__ = (
        # At most one open order per machine and source (a plan, an alarm rule, a prediction): open_key is the
        # source_ref while the order is open and NULL once done or cancelled (NULLs never collide).
        UniqueConstraint("device_id", "open_key", name="uq_apps_maint_orders_open_source"),
        Index("ix_apps_maint_orders_org_state", "org_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("apps_maint_plans.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # preventive | corrective | predictive
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | assigned | in_progress | done | cancelled
    source_ref: Mapped[str] = mapped_column(String(100), default="")
    open_key: Mapped[str | None] = mapped_column(String(100))
    due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    downtime_id: Mapped[int | None] = mapped_column(ForeignKey("apps_planned_downtime.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    minutes_spent: Mapped[int] = mapped_column(Integer, default=0)
    cause: Mapped[str | None] = mapped_column(String(24))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def number(self) -> str:
        return f"MO-{self.id:05d}"


class MaintOrderAlarm(Base):
    """An alarm that opened an order or was merged into the open order of its rule (each alarm once)."""

    __tablename__ = "apps_maint_order_alarms"

    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("apps_maint_orders.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SparePart(Base):
    __tablename__ = "apps_maint_parts"
    __table_args__ = (UniqueConstraint("org_id", "code", name="uq_apps_maint_parts_org_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(16), default="件")
    stock: Mapped[int] = mapped_column(Integer, default=0)
    reorder_point: Mapped[int] = mapped_column(Integer, default=0)
    location: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def below_reorder(self) -> bool:
        return self.stock <= self.reorder_point


class OrderPart(Base):
    """Parts taken from stock for an order."""

    __tablename__ = "apps_maint_order_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("apps_maint_orders.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("apps_maint_parts.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    used_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
