"""devices tables: models and metrics, devices and credentials, rejection log, alarms, webhooks, retention;
on PostgreSQL also the day-partitioned telemetry table and the latest-values table (on SQLite the
telemetry store keeps its own file, see chaoyun/devices/store.py). Loads the built-in device models.

Revision ID: devices_0001
Revises:
Create Date: 2026-11-26 13:15:34.538152
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "devices_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("devices",)
depends_on: str | Sequence[str] | None = "identity_0001"


def upgrade() -> None:
    op.create_table(
        "device_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("ideal_cycle_s", sa.Float(), nullable=True),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_device_models_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_models")),
        sa.UniqueConstraint("key", name=op.f("uq_device_models_key")),
    )
    with op.batch_alter_table("device_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_models_org_id"), ["org_id"], unique=False)
    op.create_table(
        "device_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.Column("writable", sa.Boolean(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["device_models.id"],
            name=op.f("fk_device_metrics_model_id_device_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_metrics")),
        sa.UniqueConstraint("model_id", "key", name="uq_device_metrics_model_key"),
    )
    with op.batch_alter_table("device_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_metrics_model_id"), ["model_id"], unique=False)
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("workshop", sa.String(length=100), nullable=False),
        sa.Column("line", sa.String(length=100), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_prefix", sa.String(length=16), nullable=False),
        sa.Column("mqtt_password_hash", sa.String(length=200), nullable=False),
        sa.Column("cert_thumbprint", sa.String(length=64), nullable=True),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("credentials_rotated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["model_id"], ["device_models.id"], name=op.f("fk_devices_model_id_device_models")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_devices_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_devices_token_hash")),
        sa.UniqueConstraint("uid", name=op.f("uq_devices_uid")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_model_id"), ["model_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_devices_org_workshop", ["org_id", "workshop"], unique=False)
    op.create_table(
        "device_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("ts", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("entry", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("message_zh", sa.String(length=300), nullable=False),
        sa.Column("message_en", sa.String(length=300), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_rejections_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_rejections")),
    )
    with op.batch_alter_table("device_rejections", schema=None) as batch_op:
        batch_op.create_index("ix_device_rejections_device_ts", ["device_id", "ts"], unique=False)
    op.create_table(
        "telemetry_retention",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_telemetry_retention_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_telemetry_retention")),
    )
    op.create_table(
        "alarm_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_alarm_rules_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["device_models.id"], name=op.f("fk_alarm_rules_model_id_device_models"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_alarm_rules_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_rules")),
    )
    with op.batch_alter_table("alarm_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_rules_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarm_rules_model_id"), ["model_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarm_rules_org_id"), ["org_id"], unique=False)
    op.create_table(
        "alarm_states",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("pending_since", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_ts", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_alarm_states_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alarm_rules.id"], name=op.f("fk_alarm_states_rule_id_alarm_rules"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("rule_id", "device_id", name=op.f("pk_alarm_states")),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("started_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("cleared_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_alarms_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_alarms_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alarm_rules.id"], name=op.f("fk_alarms_rule_id_alarm_rules"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarms_device_id"), ["device_id"], unique=False)
        batch_op.create_index("ix_alarms_org_status", ["org_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarms_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarms_started_at"), ["started_at"], unique=False)
    op.create_table(
        "alarm_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_alarm_webhooks_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_webhooks")),
    )
    with op.batch_alter_table("alarm_webhooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_webhooks_org_id"), ["org_id"], unique=False)
    op.create_table(
        "alarm_webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_alarm_webhook_deliveries_alarm_id_alarms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["alarm_webhooks.id"],
            name=op.f("fk_alarm_webhook_deliveries_webhook_id_alarm_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_webhook_deliveries")),
    )
    with op.batch_alter_table("alarm_webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_alarm_webhook_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarm_webhook_deliveries_webhook_id"), ["webhook_id"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from chaoyun.devices.store import PG_SCHEMA

        for ddl in PG_SCHEMA:
            op.execute(ddl)
    # The built-in models (reference data) are loaded by the latest devices migration that changes their
    # tables (devices_0003), since loading goes through the current ORM models.


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS telemetry CASCADE")
        op.execute("DROP TABLE IF EXISTS telemetry_latest")
        op.execute("DROP TABLE IF EXISTS telemetry_hot")
    op.drop_table("alarm_webhook_deliveries")
    op.drop_table("alarm_webhooks")
    op.drop_table("alarms")
    op.drop_table("alarm_states")
    op.drop_table("alarm_rules")
    op.drop_table("telemetry_retention")
    op.drop_table("device_rejections")
    op.drop_table("devices")
    op.drop_table("device_metrics")
    op.drop_table("device_models")
