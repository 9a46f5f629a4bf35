"""the rollup mark epoch (PostgreSQL): a sequence that ``rollups.refresh`` advances, so that writers may skip the
hour marks they already wrote in the current epoch (see chaoyun/devices/rollups.py)

Revision ID: devices_0006
Revises: devices_0005
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "devices_0006"
down_revision: str | Sequence[str] | None = "devices_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE IF NOT EXISTS telemetry_rollup_epoch")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS telemetry_rollup_epoch")
