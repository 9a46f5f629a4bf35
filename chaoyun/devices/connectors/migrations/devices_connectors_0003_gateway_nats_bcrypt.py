"""devices connectors: a bcrypt hash of a gateway's MQTT password (``device_gateways.mqtt_password_bcrypt``),
for NATS. Nullable: existing gateways get it when their credentials are rotated.

Revision ID: devices_connectors_0003
Revises: devices_connectors_0002
Create Date: 2026-12-04 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "devices_connectors_0003"
down_revision: str | Sequence[str] | None = "devices_connectors_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device_gateways", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mqtt_password_bcrypt", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_gateways", schema=None) as batch_op:
        batch_op.drop_column("mqtt_password_bcrypt")
