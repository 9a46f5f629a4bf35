"""JSON API of condition monitoring: machines' latest health, one machine's health history (anomaly score,
deviating signals, RUL with its interval), the model registry, and starting monitoring / refitting a baseline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance.predict import service
from chaoyun.apps.maintenance.predict.models import DeviceHealth, HealthPoint, PredictModel
from chaoyun.apps.maintenance.predict.permissions import PREDICT_MANAGE, PREDICT_READ
from chaoyun.apps.usage import track_use
from chaoyun.db import get_db, utcnow
from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/apps/maintenance/predict", tags=["maintenance"], dependencies=[Depends(track_use)])


class MonitorIn(BaseModel):
    since: datetime | None = Field(None, description="Start of the healthy baseline window (default: now).")


class RetrainIn(BaseModel):
    start: datetime
    end: datetime


def health_out(h: DeviceHealth | None) -> dict[str, Any] | None:
    if h is None:
        return None
    return {
        "monitored_since": h.updated_at.isoformat() if h.anomaly_model_id is None and h.updated_at else None,
        "scored_until": h.scored_until.isoformat() if h.scored_until else None,
        "score": h.score,
        "anomalous": h.anomalous,
        "anomaly_since": h.anomaly_since.isoformat() if h.anomaly_since else None,
        "signals": h.signals or {},
        "alarm_id": h.alarm_id,
        "rul_h": h.rul_h,
        "rul_lo_h": h.rul_lo_h,
        "rul_hi_h": h.rul_hi_h,
        "order_id": h.order_id,
        "anomaly_model_id": h.anomaly_model_id,
        "rul_model_id": h.rul_model_id,
    }


def point_out(p: HealthPoint) -> dict[str, Any]:
    return {
        "ts": p.ts.isoformat(),
        "state": p.state,
        "score": p.score,
        "signals": p.signals or {},
        "rul_h": p.rul_h,
        "rul_lo_h": p.rul_lo_h,
        "rul_hi_h": p.rul_hi_h,
    }


def model_out(m: PredictModel) -> dict[str, Any]:
    return {
        "id": m.id,
        "device_id": m.device_id,
        "kind": m.kind,
        "version": m.version,
        "active": m.active,
        "algorithm": m.algorithm,
        "training": m.training,
        "params": m.params,
        "metrics": m.metrics,
        "created_by": m.created_by,
        "created_at": m.created_at.isoformat(),
    }


@router.get("/machines")
def machines(db: Session = Depends(get_db), actor: Actor = requires(PREDICT_READ)) -> list[dict[str, Any]]:
    """Every machine of the enterprise with its latest health (null when not monitored)."""
    return [{"device_id": d.id, "name": d.name, "health": health_out(h)} for d, h in service.latest_health(db, actor)]


@router.get("/machines/{health_device_id}")
def machine(
    health_device_id: DbId,
    hours: int = Query(168, ge=1, le=24 * 90),
    db: Session = Depends(get_db),
    actor: Actor = requires(PREDICT_READ),
) -> dict[str, Any]:
    """One machine's current health and its history over the last ``hours``."""
    d = service.get_machine(db, actor, health_device_id)
    end = utcnow()
    pts = service.history(db, d.id, end - timedelta(hours=hours), end)
    return {
        "device_id": d.id,
        "name": d.name,
        "health": health_out(service.health_of(db, d.id)),
        "points": [point_out(p) for p in pts],
    }


@router.post("/machines/{health_device_id}/monitor")
def monitor(
    health_device_id: DbId, body: MonitorIn, db: Session = Depends(get_db), actor: Actor = requires(PREDICT_MANAGE)
) -> dict[str, Any]:
    """Start monitoring a machine: its first 24 hours from ``since`` are the healthy baseline."""
    if body.since is not None and body.since.tzinfo is None:
        raise Invalid(N_("Give the time with its zone."), field="since")
    h = service.start_monitoring(db, actor, health_device_id, body.since)
    return {"device_id": h.device_id, "health": health_out(h)}


@router.post("/machines/{health_device_id}/retrain")
def retrain(
    health_device_id: DbId, body: RetrainIn, db: Session = Depends(get_db), actor: Actor = requires(PREDICT_MANAGE)
) -> dict[str, Any]:
    """Fit a new baseline version on a window the machine was healthy in."""
    if body.start.tzinfo is None or body.end.tzinfo is None:
        raise Invalid(N_("Give the time with its zone."), field="start")
    return model_out(service.retrain(db, actor, health_device_id, body.start, body.end))


@router.get("/models")
def models(db: Session = Depends(get_db), actor: Actor = requires(PREDICT_READ)) -> list[dict[str, Any]]:
    """The model registry: every version of every model of the enterprise's machines."""
    return [model_out(m) for m in service.list_models(db, actor)]
