"""telemetry rollups: ``telemetry_1m``, ``telemetry_1h`` and ``telemetry_rollup_dirty`` (PostgreSQL; the SQLite
store creates them in its own file), and per-enterprise retention of the rollup tiers.

Revision ID: devices_0004
Revises: devices_0003
Create Date: 2026-12-03 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "devices_0004"
down_revision: str | Sequence[str] | None = "devices_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("telemetry_retention", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minute_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("hour_days", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        from chaoyun.devices.rollups import PG_ROLLUP_SCHEMA

        for ddl in PG_ROLLUP_SCHEMA:
            op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in ("telemetry_rollup_dirty", "telemetry_1h", "telemetry_1m"):
            op.execute(f"DROP TABLE IF EXISTS {t}")
    with op.batch_alter_table("telemetry_retention", schema=None) as batch_op:
        batch_op.drop_column("hour_days")
        batch_op.drop_column("minute_days")
