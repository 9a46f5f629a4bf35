"""devices connectors: X.509 client certificates of devices (serial, thumbprint, expiry, revocation)

Revision ID: devices_connectors_0002
Revises: devices_connectors_0001
Create Date: 2026-11-28 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "devices_connectors_0002"
down_revision: str | Sequence[str] | None = "devices_connectors_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("device_uid", sa.String(length=40), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("not_after", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("issued_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("revoke_reason", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_certificates_device_id_devices"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_device_certificates_org_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_certificates")),
        sa.UniqueConstraint("serial", name=op.f("uq_device_certificates_serial")),
        sa.UniqueConstraint("thumbprint", name=op.f("uq_device_certificates_thumbprint")),
    )
    with op.batch_alter_table("device_certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_certificates_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_certificates_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_certificates_org_id"))
        batch_op.drop_index(batch_op.f("ix_device_certificates_device_id"))
    op.drop_table("device_certificates")
