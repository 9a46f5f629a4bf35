"""Tables of the trace context: identifiers (标识解析) and the materialised trace graph (质量溯源).

- ``trace_prefixes``: each enterprise's prefix under the city's national prefix (``88.754.10001``).
- ``trace_templates`` / ``trace_template_items``: metadata templates per object class, typed items (index from
  2001, as the enterprise-node SDKs number them), each public or not.
- ``trace_identifiers``: registered identifiers with their attribute values and an HMAC over the record.
- ``trace_grants``: an enterprise authorises another to read its non-public attributes.
- ``trace_nodes`` / ``trace_edges``: the trace graph materialised from production lots, their consumed material
  lots, supply-chain shipments and the enterprise's own deliveries; indexed both ways for recursive queries.
- ``trace_deliveries``: finished goods delivered to customers outside the platform (export buyers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chaoyun.db import Base, UTCDateTime, utcnow


class Prefix(Base):
    __tablename__ = "trace_prefixes"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), unique=True)
    prefix: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Template(Base):
    __tablename__ = "trace_templates"
    __table_args__ = (UniqueConstraint("org_id", "code", name="uq_trace_templates_org_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    object_class: Mapped[str] = mapped_column(String(16))  # model | batch | item | device | material
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[TemplateItem]] = relationship(
        back_populates="template", lazy="selectin", order_by="TemplateItem.idx", cascade="all, delete-orphan"
    )


class TemplateItem(Base):
    __tablename__ = "trace_template_items"
    __table_args__ = (
        UniqueConstraint("template_id", "idx", name="uq_trace_template_items_idx"),
        UniqueConstraint("template_id", "code", name="uq_trace_template_items_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("trace_templates.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(100))
    name_zh: Mapped[str] = mapped_column(String(100))
    dtype: Mapped[str] = mapped_column(String(8))  # text | number | date | enum | link
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)

    template: Mapped[Template] = relationship(back_populates="items")


class Identifier(Base):
    __tablename__ = "trace_identifiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    handle: Mapped[str] = mapped_column(String(200), unique=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("trace_templates.id", ondelete="RESTRICT"), index=True)
    # The production lot this identifier names (auto-registered lots), else None.
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("production_lots.id", ondelete="SET NULL"), index=True)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | withdrawn
    version: Mapped[int] = mapped_column(Integer, default=1)
    record_mac: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    template: Mapped[Template] = relationship(lazy="joined")


class Grant(Base):
    __tablename__ = "trace_grants"
    __table_args__ = (UniqueConstraint("org_id", "grantee_org_id", name="uq_trace_grants_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    grantee_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """Finished goods delivered to a customer outside the platform (an export buyer): recorded by the maker."""

    __tablename__ = "trace_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("production_lots.id", ondelete="CASCADE"), index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(64), default="")
    reference: Mapped[str] = mapped_column(String(64), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Node(Base):
    """A vertex of the trace graph: a production lot (``lot``), a material lot as its consumer recorded it
    (``mat``), a supply-chain shipment of one lot (``ship``) or an own delivery (``dlv``)."""

    __tablename__ = "trace_nodes"
    __table_args__ = (UniqueConstraint("kind", "org_id", "key", name="uq_trace_nodes_kind_org_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    org_id: Mapped[int] = mapped_column(Integer, index=True)
    key: Mapped[str] = mapped_column(String(140))
    ref_id: Mapped[int | None] = mapped_column(Integer)  # production lot id / shipment id / delivery id
    label: Mapped[str] = mapped_column(String(200), default="")
    customer_org_id: Mapped[int | None] = mapped_column(Integer)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Edge(Base):
    __tablename__ = "trace_edges"
    __table_args__ = (
        UniqueConstraint("src_id", "dst_id", name="uq_trace_edges_src_dst"),
        Index("ix_trace_edges_dst_src", "dst_id", "src_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    src_id: Mapped[int] = mapped_column(ForeignKey("trace_nodes.id", ondelete="CASCADE"))
    dst_id: Mapped[int] = mapped_column(ForeignKey("trace_nodes.id", ondelete="CASCADE"))
