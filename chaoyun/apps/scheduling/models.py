"""Tables of the scheduling app (智能排产): plans with their scheduled operations, the solve job behind each plan
(progress, cancel flag), the planner's pins, and repair proposals made when a machine of the published plan
breaks down.

A plan's times are stored in UTC; ``origin`` is the moment its problem's time 0 stands for (the solver works in
integer seconds from it). At most one plan per enterprise is published (a partial unique index), and at most one
solve per enterprise is queued or running (another).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chaoyun.db import Base, UTCDateTime, utcnow

PLAN_STATUSES = ("solving", "solved", "cancelled", "invalid", "failed")
JOB_STATES = ("queued", "running", "done", "cancelled", "failed")
PROPOSAL_STATES = ("proposed", "accepted", "rejected", "stale")


class SchedulePlan(Base):
    """One schedule of an enterprise's released work orders (solved, being solved, or refused)."""

    __tablename__ = "apps_sched_plans"
    __table_args__ = (
        Index("ix_apps_sched_plans_org_created", "org_id", "created_at"),
        # Exactly one published plan per enterprise.
        Index(
            "uq_apps_sched_plans_published",
            "org_id",
            unique=True,
            sqlite_where=text("published = 1"),
            postgresql_where=text("published"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100), default="")
    # solving | solved | cancelled (stopped; the best schedule found is kept) | invalid (bad input) | failed
    status: Mapped[str] = mapped_column(String(16), default="solving")
    solver_status: Mapped[str] = mapped_column(String(24), default="")
    source: Mapped[str] = mapped_column(String(16), default="planner")  # planner | resolve | repair
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("apps_sched_plans.id", ondelete="SET NULL"))
    origin: Mapped[datetime] = mapped_column(UTCDateTime)
    horizon_s: Mapped[int] = mapped_column(Integer)
    objective: Mapped[str] = mapped_column(String(16), default="makespan")
    mix: Mapped[float] = mapped_column(Float, default=0.5)
    time_limit_s: Mapped[float] = mapped_column(Float, default=10.0)
    work_order_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The problem as the solver saw it (jobs, options, calendars, pins): compare, repair and the Gantt read it.
    problem: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    makespan_s: Mapped[int | None] = mapped_column(Integer)
    objective_value: Mapped[float | None] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float)
    tardiness_s: Mapped[int | None] = mapped_column(Integer)
    late_orders: Mapped[int | None] = mapped_column(Integer)
    seconds: Mapped[float | None] = mapped_column(Float)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    operations: Mapped[list[PlanOperation]] = relationship(
        back_populates="plan",
        lazy="selectin",
        order_by="PlanOperation.start",
        cascade="all, delete-orphan",
    )
    pins: Mapped[list[PlanPin]] = relationship(
        back_populates="plan", lazy="selectin", order_by="PlanPin.id", cascade="all, delete-orphan"
    )

    @property
    def end_at(self) -> datetime | None:
        """When the last operation of the plan ends."""
        return self.origin + timedelta(seconds=self.makespan_s) if self.makespan_s else None


class PlanOperation(Base):
    """One scheduled operation of a plan: which machine, when (set-up first, then processing)."""

    __tablename__ = "apps_sched_operations"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("apps_sched_plans.id", ondelete="CASCADE"), index=True)
    op_key: Mapped[str] = mapped_column(String(80))  # "<work order id>/<seq>"
    job_key: Mapped[str] = mapped_column(String(40))  # work order id as text
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("production_work_orders.id", ondelete="SET NULL"), index=True
    )
    wo_op_id: Mapped[int | None] = mapped_column(ForeignKey("production_work_order_ops.id", ondelete="SET NULL"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    setup_s: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)  # started before the plan: kept as it runs

    plan: Mapped[SchedulePlan] = relationship(back_populates="operations")


class PlanPin(Base):
    """A planner's pin on a plan's operation: its machine and/or its start are fixed in the next solve."""

    __tablename__ = "apps_sched_pins"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("apps_sched_plans.id", ondelete="CASCADE"), index=True)
    op_key: Mapped[str] = mapped_column(String(80))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[SchedulePlan] = relationship(back_populates="pins")


class SolveJob(Base):
    """The background solve of a plan: its state, live progress and cancel flag, shared by every web worker."""

    __tablename__ = "apps_sched_jobs"
    __table_args__ = (
        # One queued or running solve per enterprise.
        Index(
            "uq_apps_sched_jobs_running",
            "org_id",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("apps_sched_plans.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | cancelled | failed
    run_job_id: Mapped[int | None] = mapped_column(Integer)  # the job runner's job (``jobs.id``) that solves it
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    best_objective: Mapped[float | None] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float)
    makespan_s: Mapped[int | None] = mapped_column(Integer)
    solutions: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RepairProposal(Base):
    """A repaired schedule proposed when a machine of the published plan went down; the planner decides."""

    __tablename__ = "apps_sched_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    base_plan_id: Mapped[int] = mapped_column(ForeignKey("apps_sched_plans.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("apps_sched_plans.id", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    alarm_id: Mapped[int | None] = mapped_column(Integer)  # the devices context's alarm (no key: it may be pruned)
    reason: Mapped[str] = mapped_column(String(300), default="")
    down_from: Mapped[datetime] = mapped_column(UTCDateTime)
    down_until: Mapped[datetime] = mapped_column(UTCDateTime)
    moved: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed | accepted | rejected | stale
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(64), default="")

    base_plan: Mapped[SchedulePlan] = relationship(foreign_keys=[base_plan_id], lazy="joined")
    plan: Mapped[SchedulePlan] = relationship(foreign_keys=[plan_id], lazy="joined")
