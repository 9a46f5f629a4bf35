"""predictive maintenance: model registry, health points, device health

Revision ID: apps_predict_0001
Revises:
Create Date: 2026-12-03 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "apps_predict_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("apps_predict",)
depends_on: str | Sequence[str] | None = ["identity_0001", "devices_0001"]


def upgrade() -> None:
    op.create_table(
        "apps_predict_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("algorithm", sa.String(length=40), nullable=False),
        sa.Column("training", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artifact", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_apps_predict_models_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_apps_predict_models_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps_predict_models")),
    )
    with op.batch_alter_table("apps_predict_models", schema=None) as batch_op:
        batch_op.create_index("ix_apps_predict_models_device_kind", ["device_id", "kind", "version"], unique=False)
        batch_op.create_index(batch_op.f("ix_apps_predict_models_org_id"), ["org_id"], unique=False)

    op.create_table(
        "apps_predict_points",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("ts", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("rul_h", sa.Float(), nullable=True),
        sa.Column("rul_lo_h", sa.Float(), nullable=True),
        sa.Column("rul_hi_h", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_apps_predict_points_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", "ts", name=op.f("pk_apps_predict_points")),
    )

    op.create_table(
        "apps_predict_health",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("scored_until", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("anomalous", sa.Boolean(), nullable=False),
        sa.Column("anomaly_since", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("rul_h", sa.Float(), nullable=True),
        sa.Column("rul_lo_h", sa.Float(), nullable=True),
        sa.Column("rul_hi_h", sa.Float(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("anomaly_model_id", sa.Integer(), nullable=True),
        sa.Column("rul_model_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_apps_predict_health_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_apps_predict_health_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_apps_predict_health")),
    )
    with op.batch_alter_table("apps_predict_health", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_predict_health_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("apps_predict_health", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_predict_health_org_id"))
    op.drop_table("apps_predict_health")
    op.drop_table("apps_predict_points")
    with op.batch_alter_table("apps_predict_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_predict_models_org_id"))
        batch_op.drop_index("ix_apps_predict_models_device_kind")
    op.drop_table("apps_predict_models")
