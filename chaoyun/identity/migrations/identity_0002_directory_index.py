"""Directory index: organisations by (kind, status, id).

Revision ID: identity_0002
Revises: identity_0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "identity_0002"
down_revision: str | Sequence[str] | None = "identity_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_organisations_kind_status_id", "organisations", ["kind", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_organisations_kind_status_id", table_name="organisations")
