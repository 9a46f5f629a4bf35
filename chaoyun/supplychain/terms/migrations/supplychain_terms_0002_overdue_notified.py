"""payment terms: when each party was told an invoice is overdue

Revision ID: supplychain_terms_0002
Revises: supplychain_terms_0001
Create Date: 2026-12-03 19:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "supplychain_terms_0002"
down_revision: str | Sequence[str] | None = "supplychain_terms_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("supplychain_terms_invoices") as batch:
        batch.add_column(sa.Column("overdue_notified_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("supplychain_terms_invoices") as batch:
        batch.drop_column("overdue_notified_at")
