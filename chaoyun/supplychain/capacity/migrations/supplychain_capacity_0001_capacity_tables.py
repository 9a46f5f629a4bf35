"""capacity sharing: offers, bookings, booked machine hours

Revision ID: supplychain_capacity_0001
Revises:
Create Date: 2026-12-03 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "supplychain_capacity_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("supplychain_capacity",)
depends_on: str | Sequence[str] | None = ["identity_0001", "devices_0001"]


def upgrade() -> None:
    op.create_table(
        "supplychain_capacity_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("machine_type", sa.String(length=64), nullable=False),
        sa.Column("capability", sa.String(length=300), nullable=False),
        sa.Column("hours_per_week", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("idle_hours_per_week", sa.Integer(), nullable=False),
        sa.Column("loading_pct", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_supplychain_capacity_offers_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplychain_capacity_offers")),
    )
    op.create_index(
        op.f("ix_supplychain_capacity_offers_org_id"), "supplychain_capacity_offers", ["org_id"], unique=False
    )
    op.create_index(
        "ix_supplychain_capacity_offers_search",
        "supplychain_capacity_offers",
        ["state", "machine_type", "valid_until"],
        unique=False,
    )
    op.create_table(
        "supplychain_capacity_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), nullable=False),
        sa.Column("requester_org_id", sa.Integer(), nullable=False),
        sa.Column("start", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("item_name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("downtime_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=200), nullable=False),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_supplychain_capacity_bookings_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["supplychain_capacity_offers.id"],
            name=op.f("fk_supplychain_capacity_bookings_offer_id_supplychain_capacity_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisations.id"],
            name=op.f("fk_supplychain_capacity_bookings_owner_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_org_id"],
            ["organisations.id"],
            name=op.f("fk_supplychain_capacity_bookings_requester_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplychain_capacity_bookings")),
    )
    for col in ("offer_id", "owner_org_id", "requester_org_id"):
        op.create_index(
            op.f(f"ix_supplychain_capacity_bookings_{col}"), "supplychain_capacity_bookings", [col], unique=False
        )
    op.create_table(
        "supplychain_capacity_slots",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("hour", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["supplychain_capacity_bookings.id"],
            name=op.f("fk_supplychain_capacity_slots_booking_id_supplychain_capacity_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_supplychain_capacity_slots_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "hour", name=op.f("pk_supplychain_capacity_slots")),
    )
    op.create_index(
        op.f("ix_supplychain_capacity_slots_booking_id"), "supplychain_capacity_slots", ["booking_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("supplychain_capacity_slots")
    op.drop_table("supplychain_capacity_bookings")
    op.drop_table("supplychain_capacity_offers")
