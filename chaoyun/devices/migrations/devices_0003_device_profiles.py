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
    with op.batch_alter_table("device_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("state_config", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("connectors", sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
        batch_op.add_column(sa.Column("source_key", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(sa.Column("updated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("device_metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("precision", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("labels", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("deprecated", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("derived", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection", sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
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
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("connection")
    with op.batch_alter_table("device_metrics", schema=None) as batch_op:
        for col in ("derived", "deprecated", "labels", "precision"):
            batch_op.drop_column(col)
    with op.batch_alter_table("device_models", schema=None) as batch_op:
        for col in ("updated_at", "source_key", "connectors", "state_config", "version"):
            batch_op.drop_column(col)
