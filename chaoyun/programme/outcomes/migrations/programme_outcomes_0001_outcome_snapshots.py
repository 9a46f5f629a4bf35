"""programme outcome snapshots: monthly outcomes per enterprise

Revision ID: programme_outcomes_0001
Revises:
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "programme_outcomes_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("programme_outcomes",)
depends_on: str | Sequence[str] | None = "identity_0001"


def upgrade() -> None:
    op.create_table(
        "programme_outcome_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("computed_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_programme_outcome_snapshots_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_outcome_snapshots")),
        sa.UniqueConstraint("org_id", "month", "outcome", name="uq_programme_outcome_snapshots_key"),
    )
    op.create_index(
        "ix_programme_outcome_snapshots_outcome_org",
        "programme_outcome_snapshots",
        ["outcome", "org_id", "month", "value"],
        unique=False,
    )
    op.create_index("ix_programme_outcome_snapshots_month", "programme_outcome_snapshots", ["month"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_programme_outcome_snapshots_month", table_name="programme_outcome_snapshots")
    op.drop_index("ix_programme_outcome_snapshots_outcome_org", table_name="programme_outcome_snapshots")
    op.drop_table("programme_outcome_snapshots")
