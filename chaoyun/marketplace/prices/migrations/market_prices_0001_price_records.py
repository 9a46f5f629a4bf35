"""market price records: carriers' tariffs and cloud prices

Revision ID: market_prices_0001
Revises:
Create Date: 2026-12-03 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "market_prices_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("market_prices",)
depends_on: str | Sequence[str] | None = "identity_0001"


def upgrade() -> None:
    op.create_table(
        "market_price_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("item", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=24), nullable=False),
        sa.Column("list_price", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("programme_price", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("recorded_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_market_price_records_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_price_records")),
        sa.UniqueConstraint("org_id", "kind", "item", "effective_from", name="uq_market_price_records_item_date"),
    )
    op.create_index(op.f("ix_market_price_records_org_id"), "market_price_records", ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_market_price_records_org_id"), table_name="market_price_records")
    op.drop_table("market_price_records")
