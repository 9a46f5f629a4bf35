"""apps usage: who used which app on which day

Revision ID: apps_0003
Revises: apps_0001
Create Date: 2026-12-03 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "apps_0003"
down_revision: str | Sequence[str] | None = "apps_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "apps_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("app", sa.String(length=24), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("first_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_apps_usage_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_apps_usage_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps_usage")),
        sa.UniqueConstraint("org_id", "user_id", "app", "day", name="uq_apps_usage_day"),
    )
    op.create_index(op.f("ix_apps_usage_org_id"), "apps_usage", ["org_id"], unique=False)
    op.create_index(op.f("ix_apps_usage_day"), "apps_usage", ["day"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_apps_usage_day"), table_name="apps_usage")
    op.drop_index(op.f("ix_apps_usage_org_id"), table_name="apps_usage")
    op.drop_table("apps_usage")
