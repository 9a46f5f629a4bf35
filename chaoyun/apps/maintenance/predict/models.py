"""Tables of condition monitoring and prediction: the model registry, each machine's health history (anomaly
score, deviating signals, RUL with its interval) and its current health.

Model artifacts are stored in the database (``artifact``, text): an anomaly model is its baseline statistics as
JSON (a few kB); a LightGBM RUL model is the booster's own text format plus the feature pipeline as JSON. Keeping
them in the database means a backup of the database is a backup of the models, and every web or worker process
sees the same version without a shared file system.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow

MODEL_KINDS = ("anomaly", "health_rul", "fleet_rul")


class PredictModel(Base):
    """One version of a model: what it was trained on, with which parameters, how well it did."""

    __tablename__ = "apps_predict_models"
    __table_args__ = (Index("ix_apps_predict_models_device_kind", "device_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # anomaly | health_rul | fleet_rul
    version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    algorithm: Mapped[str] = mapped_column(String(40), default="")
    training: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # window, rows, states, signals
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    artifact: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HealthPoint(Base):
    """A machine's health at one scoring window: anomaly score, per-signal deviations, health index and RUL."""

    __tablename__ = "apps_predict_points"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)  # end of the window
    state: Mapped[str] = mapped_column(String(16), default="")
    score: Mapped[float | None] = mapped_column(Float)
    signals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # metric -> z
    rul_h: Mapped[float | None] = mapped_column(Float)
    rul_lo_h: Mapped[float | None] = mapped_column(Float)
    rul_hi_h: Mapped[float | None] = mapped_column(Float)


class DeviceHealth(Base):
    """Current health of one machine and the scoring job's cursor."""

    __tablename__ = "apps_predict_health"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    scored_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float | None] = mapped_column(Float)
    anomalous: Mapped[bool] = mapped_column(Boolean, default=False)
    anomaly_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    alarm_id: Mapped[int | None] = mapped_column(Integer)
    rul_h: Mapped[float | None] = mapped_column(Float)
    rul_lo_h: Mapped[float | None] = mapped_column(Float)
    rul_hi_h: Mapped[float | None] = mapped_column(Float)
    order_id: Mapped[int | None] = mapped_column(Integer)
    anomaly_model_id: Mapped[int | None] = mapped_column(Integer)
    rul_model_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
