"""devices connectors: gateways and write-back commands

Revision ID: devices_connectors_0001
Revises:
Create Date: 2026-11-26 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "devices_connectors_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("devices_connectors",)
depends_on: str | Sequence[str] | None = "devices_0001"


def upgrade() -> None:
    op.create_table(
        "device_gateways",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config_text", sa.Text(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_prefix", sa.String(length=16), nullable=False),
        sa.Column("mqtt_password_hash", sa.String(length=200), nullable=False),
        sa.Column("last_seen_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_device_gateways_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_gateways")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_device_gateways_token_hash")),
        sa.UniqueConstraint("uid", name=op.f("uq_device_gateways_uid")),
    )
    with op.batch_alter_table("device_gateways", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_gateways_org_id"), ["org_id"], unique=False)

    op.create_table(
        "device_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_commands_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_device_commands_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_commands")),
    )
    with op.batch_alter_table("device_commands", schema=None) as batch_op:
        batch_op.create_index("ix_device_commands_device_created", ["device_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_commands_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_commands_status"), ["status"], unique=False)


    op.create_table(
        "device_attributes",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("updated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_attributes_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_attributes")),
    )


def downgrade() -> None:
    op.drop_table("device_attributes")
    op.drop_table("device_commands")
    op.drop_table("device_gateways")
