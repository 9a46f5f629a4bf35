"""Pages of condition monitoring: machines with their latest health, one machine's health (anomaly score chart
with its threshold, deviating signals, RUL with interval and its trend, model versions), the model registry."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance.predict import anomaly, service
from chaoyun.apps.maintenance.predict.permissions import PREDICT_MANAGE, PREDICT_READ
from chaoyun.apps.usage import track_use
from chaoyun.db import get_db, utcnow
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(track_use)])

nav.register(
    nav.NavItem("enterprise", N_("Machine health"), "/apps/maintenance/health", PREDICT_READ, 37, group="production")
)


@router.get("/apps/maintenance/health")
def machines(request: Request, db: Session = Depends(get_db), actor: Actor = requires(PREDICT_READ)) -> Response:
    rows = service.latest_health(db, actor)
    names = {}
    for d, h in rows:
        if h is not None and h.signals:
            names[d.id] = anomaly.summary(h.signals, service.signal_names(db, d), anomaly.THRESHOLD)
    return render(
        request,
        "predict/machines.html",
        {
            "rows": rows,
            "summaries": names,
            "threshold": anomaly.THRESHOLD,
            "can_manage": actor.has(PREDICT_MANAGE),
            "flash": request.query_params.get("msg") == "monitoring",
        },
    )


@router.get("/apps/maintenance/health/{health_device_id}")
def machine(
    request: Request, health_device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PREDICT_READ)
) -> Response:
    d = service.get_machine(db, actor, health_device_id)
    h = service.health_of(db, d.id)
    end = utcnow()
    pts = service.history(db, d.id, end - timedelta(days=14), end)
    names = service.signal_names(db, d)
    am = service.active_model(db, d.id, "anomaly")
    rm = service.active_model(db, d.id, "health_rul")
    sig = sorted(((k, v) for k, v in ((h.signals if h else None) or {}).items()), key=lambda kv: -abs(kv[1]))
    chart = {
        "ts": [p.ts.isoformat() for p in pts],
        "score": [p.score for p in pts],
        "rul": [p.rul_h for p in pts],
        "lo": [p.rul_lo_h for p in pts],
        "hi": [p.rul_hi_h for p in pts],
        "hi_index": [service.health_index(p.signals or {}, set(names)) for p in pts],
    }
    return render(
        request,
        "predict/machine.html",
        {
            "device": d,
            "health": h,
            "signals": sig,
            "names": names,
            "chart": chart,
            "threshold": anomaly.THRESHOLD,
            "eol": float(rm.params.get("eol_sigma", service.EOL_SIGMA)) if rm else service.EOL_SIGMA,
            "anomaly_model": am,
            "rul_model": rm,
            "can_manage": actor.has(PREDICT_MANAGE),
            "summary": anomaly.summary(h.signals, names, anomaly.THRESHOLD) if h and h.signals else "",
        },
    )


@router.post("/apps/maintenance/health/{health_device_id}/monitor")
async def monitor(
    request: Request, health_device_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(PREDICT_MANAGE)
) -> Response:
    await FormState.read(request, actor)
    service.start_monitoring(db, actor, health_device_id)
    return RedirectResponse(f"/apps/maintenance/health/{health_device_id}", status_code=303)


@router.get("/apps/maintenance/models")
def models(request: Request, db: Session = Depends(get_db), actor: Actor = requires(PREDICT_READ)) -> Response:
    ms = service.list_models(db, actor)
    devices = {d.id: d for d, _h in service.latest_health(db, actor)}
    return render(request, "predict/models.html", {"models": ms, "devices": devices})
