"""devices: a bcrypt hash of the MQTT password next to the PBKDF2 one (``devices.mqtt_password_bcrypt``), the
only hash NATS checks. Nullable: existing devices get it when their credentials are rotated.

Revision ID: devices_0005
Revises: devices_0004
Create Date: 2026-12-04 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "devices_0005"
down_revision: str | Sequence[str] | None = "devices_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mqtt_password_bcrypt", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("mqtt_password_bcrypt")
