"""device profiles: versions, state mapping, connector templates and metric details of device models;
per-device connection parameters for the generated gateway configuration.

Revision ID: devices_0003
Revises: devices_0002
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "devices_0003"
down_revision: str | Sequence[str] | None = "devices_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, no batch copy-and-swap: on SQLite with foreign keys on, dropping the old
    # device_models table would cascade to every metric and device.
    op.add_column("device_models", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("device_models", sa.Column("state_config", sa.JSON(), nullable=True))
    op.add_column("device_models", sa.Column("connectors", sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
    op.add_column("device_models", sa.Column("source_key", sa.String(length=64), server_default="", nullable=False))
    op.add_column("device_models", sa.Column("updated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("device_metrics", sa.Column("precision", sa.Integer(), nullable=True))
    op.add_column("device_metrics", sa.Column("labels", sa.JSON(), nullable=True))
    op.add_column("device_metrics", sa.Column("deprecated", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("device_metrics", sa.Column("derived", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("devices", sa.Column("connection", sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
    _load_catalog(op.get_bind())


def _load_catalog(bind: sa.engine.Connection) -> None:
    """The built-in models are reference data every enterprise uses, so they come with the schema. Loading goes
    through the current ORM models: a later migration that adds columns to these tables takes this over."""
    from sqlalchemy.orm import Session

    from chaoyun.devices.catalog import sync_models

    with Session(bind=bind) as db:
        sync_models(db)
        db.flush()


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 has it), for the same reason as in upgrade.
    drops = {
        "devices": ("connection",),
        "device_metrics": ("derived", "deprecated", "labels", "precision"),
        "device_models": ("updated_at", "source_key", "connectors", "state_config", "version"),
    }
    for table, cols in drops.items():
        for col in cols:
            op.execute(f'ALTER TABLE {table} DROP COLUMN "{col}"')
