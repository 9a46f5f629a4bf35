"""Tables of the devices context: device models (templates) and their metrics, devices and their
credentials, rejected-message log, alarm rules and alarms, webhooks, telemetry retention.

Telemetry itself is not here: it lives behind ``chaoyun.devices.store`` (a separate SQLite file, or
time-partitioned tables in PostgreSQL created by the ``devices_0001`` migration), because its write
path never goes through the ORM.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chaoyun.db import Base, UTCDateTime, register_unmanaged, utcnow

# telemetry, telemetry_latest and the day partitions telemetry_dYYYYMMDD (PostgreSQL) are the store's own.
register_unmanaged("telemetry")


class DeviceModel(Base):
    """A template: what a kind of machine reports (ThingsBoard's "device profile")."""

    __tablename__ = "device_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32), default="machine")
    # Seconds per cycle at rated speed (injection shot, garment, part...): the OEE app's performance base.
    ideal_cycle_s: Mapped[float | None] = mapped_column(Float)
    # Built-in models ship with the platform (devices/catalog.py); org_id is set for an enterprise's own.
    builtin: Mapped[bool] = mapped_column(Boolean, default=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Profile parts (devices/profiles.py): bumped on every edit, so caches and readers see the current one.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # How the machine state is derived: {"metric": key, "map": {value: state}} or
    # {"metric": key, "running_above": x, "idle_above": y}; None = a string metric of role "state" as sent.
    state_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Connector templates: {"modbus": {"registers": [...]}, "opcua": {"nodes": [...]}, "mqtt": {"values": {...}}}
    connectors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The catalogue entry an enterprise profile was copied from ("" = written from scratch).
    source_key: Mapped[str] = mapped_column(String(64), default="", server_default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    metrics: Mapped[list[MetricDef]] = relationship(
        back_populates="model", lazy="selectin", order_by="MetricDef.id", cascade="all, delete-orphan"
    )


class MetricDef(Base):
    __tablename__ = "device_metrics"
    __table_args__ = (UniqueConstraint("model_id", "key", name="uq_device_metrics_model_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("device_models.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(16), default="")
    type: Mapped[str] = mapped_column(String(8), default="numeric")  # numeric | bool | string | enum
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    # A setpoint the platform may write back (through a gateway); see devices/connectors/commands.
    writable: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the apps look for: state | cycle_counter | good_count | reject_count | power | energy | temperature ...
    role: Mapped[str | None] = mapped_column(String(32))
    # Decimals shown (None: as received); enum labels {"1": {"zh": .., "en": ..}}.
    precision: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Deprecated metrics keep their data and are still accepted, but new configurations leave them out.
    deprecated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Computed by ingest from the profile's state mapping (the "state" metric of a mapped profile).
    derived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    model: Mapped[DeviceModel] = relationship(back_populates="metrics")


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_org_workshop", "org_id", "workshop"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("device_models.id"), index=True)
    # Public identifier: MQTT username and topic segment ([a-z0-9-]).
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    workshop: Mapped[str] = mapped_column(String(100), default="")
    line: Mapped[str] = mapped_column(String(100), default="")
    serial: Mapped[str] = mapped_column(String(100), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Access token: sha256 of the raw token (high entropy, so a fast hash is enough); the raw value is shown once.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16), default="")
    # MQTT password in Mosquitto's own PBKDF2-SHA512 format ("$7$iterations$salt$hash"), so the broker's
    # password file can be generated from it without ever knowing the password.
    mqtt_password_hash: Mapped[str] = mapped_column(String(200), default="")
    # The same password as bcrypt ("$2a$11$..."), the only hash NATS checks; None for devices whose password was
    # last set before devices_0005 (rotating the credentials writes it).
    mqtt_password_bcrypt: Mapped[str | None] = mapped_column(String(60))
    # SHA-256 thumbprint of an X.509 client certificate, where the broker terminates TLS.
    cert_thumbprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    credentials_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where its gateway reaches it: {"gateway": uid, "protocol": modbus|opcua, "host", "port", "unit", "url",
    # "interval_s"}; with the profile's connector template this generates the gateway configuration.
    connection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    model: Mapped[DeviceModel] = relationship(lazy="joined")


class RejectedMessage(Base):
    """Per-device log of what ingest refused and why (points and whole messages)."""

    __tablename__ = "device_rejections"
    __table_args__ = (Index("ix_device_rejections_device_ts", "device_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16))  # http | mqtt | opcua | modbus | gateway | simulator
    entry: Mapped[int] = mapped_column(Integer, default=0)
    metric: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    message_zh: Mapped[str] = mapped_column(String(300))
    message_en: Mapped[str] = mapped_column(String(300))
    sample: Mapped[str] = mapped_column(Text, default="")


class TelemetryRetention(Base):
    """An enterprise's own retention; others get CHAOYUN_TELEMETRY_RETENTION_DAYS."""

    __tablename__ = "telemetry_retention"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    # Rollup tiers (chaoyun/devices/rollups.py): None = the platform's setting; 0 = forever.
    minute_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hour_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AlarmRule(Base):
    """threshold (with duration and hysteresis) | rate (change per minute) | offline (no data for N s) |
    state (machine in given states during a shift). Applies to a device model (all its devices of the
    owning organisation) or to one device."""

    __tablename__ = "alarm_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("device_models.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), default="major")  # critical | major | minor | warning
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AlarmState(Base):
    """Evaluation state of one rule on one device, so each ingest evaluates incrementally."""

    __tablename__ = "alarm_states"

    rule_id: Mapped[int] = mapped_column(ForeignKey("alarm_rules.id", ondelete="CASCADE"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_value: Mapped[float | None] = mapped_column(Float)
    alarm_id: Mapped[int | None] = mapped_column(Integer)


class Alarm(Base):
    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_org_status", "org_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alarm_rules.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | acknowledged | cleared
    message: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    value: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Username, or "system" when the condition went away by itself.
    cleared_by: Mapped[str | None] = mapped_column(String(64))

    device: Mapped[Device] = relationship(lazy="joined")


class Webhook(Base):
    __tablename__ = "alarm_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    # HMAC-SHA256 key for the X-Chaoyun-Signature header (shown on the page to its owners only).
    secret: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "alarm_webhook_deliveries"
    __table_args__ = (Index("ix_alarm_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("alarm_webhooks.id", ondelete="CASCADE"), index=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
