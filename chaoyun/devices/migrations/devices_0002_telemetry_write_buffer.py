"""telemetry write buffer (PostgreSQL): ``telemetry_hot``, a heap without an index that sparse batches are
appended to and that is moved into ``telemetry`` in sorted blocks (see chaoyun/devices/store.py). New
installations get it from devices_0001 already; this adds it to databases created before.

Revision ID: devices_0002
Revises: devices_0001
Create Date: 2026-11-26 22:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "devices_0002"
down_revision: str | Sequence[str] | None = "devices_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from chaoyun.devices.store import PG_HOT_TABLE

        op.execute(PG_HOT_TABLE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Buffered rows move into telemetry first, so a downgrade loses nothing.
        op.execute(
            "INSERT INTO telemetry SELECT DISTINCT ON (device_id, metric_id, ts) device_id, metric_id, ts, value, text "
            "FROM telemetry_hot ORDER BY device_id, metric_id, ts, seq ON CONFLICT DO NOTHING"
        )
        op.execute("DROP TABLE IF EXISTS telemetry_hot")
