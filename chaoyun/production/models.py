"""Tables of the production context: the factory's own model.

Items (products and materials), routings (ordered operations, each with the machines that may run it and a
cycle time per machine), work orders and their operations, operation reports with their run segments (the
time a machine really worked on an operation, pauses excluded), and lots with the material lots they consumed.

Machines are the devices context's ``devices`` rows; telemetry is read through ``chaoyun.devices.store``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chaoyun.db import Base, UTCDateTime, utcnow


class Item(Base):
    """A product (what work orders make) or a material (what lots consume)."""

    __tablename__ = "production_items"
    __table_args__ = (UniqueConstraint("org_id", "code", name="uq_production_items_org_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    # Items of one family share moulds / set-ups: changing family on a machine costs the operation's set-up time.
    family: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16), default="product")  # product | material
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    operations: Mapped[list[RoutingOp]] = relationship(
        back_populates="item", lazy="selectin", order_by="RoutingOp.seq", cascade="all, delete-orphan"
    )


class RoutingOp(Base):
    """One step of an item's routing (10 注塑, 20 装配 ...)."""

    __tablename__ = "production_routing_ops"
    __table_args__ = (UniqueConstraint("item_id", "seq", name="uq_production_routing_ops_item_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("production_items.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    # Seconds to set a machine up for this operation when the previous item it ran was of another family.
    setup_s: Mapped[float] = mapped_column(Float, default=0.0)

    item: Mapped[Item] = relationship(back_populates="operations")
    machines: Mapped[list[OpMachine]] = relationship(
        back_populates="op", lazy="selectin", order_by="OpMachine.id", cascade="all, delete-orphan"
    )


class OpMachine(Base):
    """A machine eligible for an operation, with its ideal cycle time for this item (seconds per piece)."""

    __tablename__ = "production_op_machines"
    __table_args__ = (UniqueConstraint("op_id", "device_id", name="uq_production_op_machines_op_device"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    op_id: Mapped[int] = mapped_column(ForeignKey("production_routing_ops.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    cycle_s: Mapped[float] = mapped_column(Float)

    op: Mapped[RoutingOp] = relationship(back_populates="machines")


class WorkOrder(Base):
    __tablename__ = "production_work_orders"
    __table_args__ = (
        UniqueConstraint("org_id", "number", name="uq_production_work_orders_org_number"),
        Index("ix_production_work_orders_org_state", "org_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int] = mapped_column(ForeignKey("production_items.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    priority: Mapped[int] = mapped_column(Integer, default=5)  # 1 most urgent … 9
    state: Mapped[str] = mapped_column(String(16), default="planned")  # planned|released|running|done|cancelled
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    item: Mapped[Item] = relationship(lazy="joined")
    operations: Mapped[list[WorkOrderOp]] = relationship(
        back_populates="work_order", lazy="selectin", order_by="WorkOrderOp.seq", cascade="all, delete-orphan"
    )


class WorkOrderOp(Base):
    """An operation of a work order, copied from the routing when the order was created."""

    __tablename__ = "production_work_order_ops"
    __table_args__ = (UniqueConstraint("work_order_id", "seq", name="uq_production_work_order_ops_wo_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("production_work_orders.id", ondelete="CASCADE"))
    routing_op_id: Mapped[int | None] = mapped_column(
        ForeignKey("production_routing_ops.id", ondelete="SET NULL"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | running | paused | done
    good: Mapped[int] = mapped_column(Integer, default=0)
    reject: Mapped[int] = mapped_column(Integer, default=0)

    work_order: Mapped[WorkOrder] = relationship(back_populates="operations")
    routing_op: Mapped[RoutingOp | None] = relationship(lazy="selectin")
    reports: Mapped[list[OperationReport]] = relationship(
        back_populates="operation", lazy="selectin", order_by="OperationReport.id", cascade="all, delete-orphan"
    )


class OperationReport(Base):
    """An operation run on one machine: started, maybe paused and resumed, finished with good and rejects."""

    __tablename__ = "production_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    op_id: Mapped[int] = mapped_column(ForeignKey("production_work_order_ops.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running | paused | finished
    # The item's cycle time on this machine when the run started (the routing may change later).
    ideal_cycle_s: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    good: Mapped[int | None] = mapped_column(Integer)
    reject: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), default="")  # counters | operator
    started_by: Mapped[str] = mapped_column(String(64), default="")
    finished_by: Mapped[str] = mapped_column(String(64), default="")

    operation: Mapped[WorkOrderOp] = relationship(back_populates="reports")
    segments: Mapped[list[RunSegment]] = relationship(
        back_populates="report", lazy="selectin", order_by="RunSegment.start", cascade="all, delete-orphan"
    )


class RunSegment(Base):
    """Time a machine worked on a report's operation; a pause ends one, a resume opens the next."""

    __tablename__ = "production_run_segments"
    __table_args__ = (Index("ix_production_run_segments_device_start", "device_id", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("production_reports.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)

    report: Mapped[OperationReport] = relationship(back_populates="segments")


class Lot(Base):
    """What a work order produced on a machine in a time window (the unit traceability follows)."""

    __tablename__ = "production_lots"
    __table_args__ = (UniqueConstraint("org_id", "number", name="uq_production_lots_org_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(64))
    work_order_id: Mapped[int] = mapped_column(ForeignKey("production_work_orders.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    quantity: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    work_order: Mapped[WorkOrder] = relationship(lazy="joined")
    materials: Mapped[list[LotMaterial]] = relationship(
        back_populates="lot", lazy="selectin", order_by="LotMaterial.id", cascade="all, delete-orphan"
    )


class LotMaterial(Base):
    """A material lot consumed by a lot: which material, the supplier's / store's lot number, how much."""

    __tablename__ = "production_lot_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("production_lots.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("production_items.id", ondelete="RESTRICT"), index=True)
    material_lot: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)

    lot: Mapped[Lot] = relationship(back_populates="materials")
    item: Mapped[Item] = relationship(lazy="joined")
