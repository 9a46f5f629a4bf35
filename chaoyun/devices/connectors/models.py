"""Tables of the connectivity part of the devices context: edge gateways and write-back commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow


class Gateway(Base):
    """An edge gateway in a factory: reads OPC UA / Modbus devices and forwards to the platform.

    Its configuration (the same document as its local ``gateway.yaml``) is edited on the platform and pushed
    to it: retained on ``chaoyun/v1/gateways/<uid>/config`` and served at ``GET /api/v1/gateway/config``.
    """

    __tablename__ = "device_gateways"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config_text: Mapped[str] = mapped_column(Text, default="")  # YAML as the admin wrote it
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # parsed and validated
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    applied_version: Mapped[int | None] = mapped_column(Integer)
    # sha256 of the raw token (HTTP forwarding and config fetch); raw value shown once.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16), default="")
    # Mosquitto PBKDF2-SHA512 ("$7$...") of the MQTT password; username is "gw-<uid>".
    mqtt_password_hash: Mapped[str] = mapped_column(String(200), default="")
    # bcrypt of the same password, for NATS; None if last set before devices_connectors_0003.
    mqtt_password_bcrypt: Mapped[str | None] = mapped_column(String(60))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def mqtt_username(self) -> str:
        return f"gw-{self.uid}"

    def device_uids(self) -> list[str]:
        return [str(d.get("uid")) for d in (self.config or {}).get("devices", []) if d.get("uid")]


class Command(Base):
    """A write-back: set a writable metric (setpoint register or node) of a device.

    pending → sent (published to the device's commands topic) → succeeded | failed (reported by the gateway),
    or expired when no result came back in time.
    """

    __tablename__ = "device_commands"
    __table_args__ = (Index("ix_device_commands_device_created", "device_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeviceAttributes(Base):
    """The latest attributes a device reported on ``.../attributes`` (firmware, serial, IP...)."""

    __tablename__ = "device_attributes"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceCertificate(Base):
    """An X.509 client certificate issued to a device by the installation's device CA (CN = the device uid).

    Only the serial, thumbprint and expiry are kept (the key and certificate are shown once). Rows outlive their
    device (``device_id`` set to NULL when it is deleted), so the CRL keeps listing a deleted device's certificate:
    a later device registered under the same uid must not inherit it.
    """

    __tablename__ = "device_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), index=True)
    device_uid: Mapped[str] = mapped_column(String(40))  # the certificate's CN
    serial: Mapped[str] = mapped_column(String(40), unique=True)  # lower-case hex
    thumbprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER certificate, hex
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str] = mapped_column(String(32), default="")  # revoked | superseded | device_deleted

    @property
    def status(self) -> str:
        if self.revoked_at is not None or self.device_id is None:
            return "revoked"
        return "expired" if self.not_after <= utcnow() else "valid"
