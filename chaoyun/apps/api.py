"""JSON API of the production apps (OEE, quality, energy, reports, government aggregates)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from chaoyun.apps.energy import service as energy
from chaoyun.apps.energy import tariffs as tf
from chaoyun.apps.oee import service as oee
from chaoyun.apps.permissions import APPS_CLUSTER, APPS_MANAGE, APPS_OPERATE, APPS_READ
from chaoyun.apps.quality import service as quality
from chaoyun.apps.reports import service as reports
from chaoyun.apps.usage import track_use
from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/apps", tags=["apps"], dependencies=[Depends(track_use)])


def _period(days: int | None, end: date | None) -> tuple[date, date]:
    return oee.period_bounds(days, end)


# ---------------------------------------------------------------- OEE


@router.get("/oee")
def oee_overview(
    days: int = Query(7, ge=1, le=92),
    end: date | None = None,
    db: Session = Depends(get_db),
    actor: Actor = requires(APPS_READ),
) -> dict[str, Any]:
    first, last = _period(days, end)
    return oee.overview(db, actor, first, last)


@router.post("/oee/stop-labels", status_code=201)
def oee_label(
    data: oee.LabelIn, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)
) -> dict[str, Any]:
    lab = oee.label_stop(db, actor, data)
    return {"id": lab.id, "reason": lab.reason}


@router.post("/oee/counts", status_code=201)
def oee_counts(
    data: oee.CountIn, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)
) -> dict[str, Any]:
    pc = oee.enter_counts(db, actor, data)
    return {"id": pc.id}


@router.put("/oee/calendar")
def oee_calendar(
    data: oee.CalendarIn, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> dict[str, Any]:
    oee.set_calendar(db, actor, data)
    calendar, small = oee.calendar_for(db, actor.org_id)
    return calendar.stored() | {"small_stop_s": small}


@router.post("/oee/downtime", status_code=201)
def oee_downtime(
    data: oee.DowntimeIn, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> dict[str, Any]:
    d = oee.add_downtime(db, actor, data)
    return {"id": d.id}


# ---------------------------------------------------------------- quality


def _plan_out(p: Any) -> dict[str, Any]:
    return {"id": p.id, **quality.snapshot(p), "unit": p.unit, "device_id": p.device_id, "metric": p.metric}


@router.get("/quality/plans")
def plans(db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> list[dict[str, Any]]:
    return [_plan_out(p) for p in quality.list_plans(db, actor)]


@router.post("/quality/plans", status_code=201)
def plan_create(
    data: quality.PlanIn, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> dict[str, Any]:
    return _plan_out(quality.create_plan(db, actor, data))


@router.get("/quality/plans/{plan_id}")
def plan_chart(
    plan_id: DbId,
    last: int | None = Query(None, ge=2, le=quality.MAX_CHART_POINTS),
    db: Session = Depends(get_db),
    actor: Actor = requires(APPS_READ),
) -> Response:
    p = quality.get_plan(db, actor, plan_id)
    ch = quality.chart(db, actor, plan_id, last)
    # orjson straight to bytes: a 10,000-subgroup chart is ~1 MB of numbers, and FastAPI's generic encoder
    # would walk every one of them in Python.
    return Response(
        orjson.dumps({"plan": _plan_out(p), "chart": ch.as_dict() if ch else None}), media_type="application/json"
    )


@router.patch("/quality/plans/{plan_id}")
def plan_update(
    plan_id: DbId, data: quality.PlanUpdate, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> dict[str, Any]:
    return _plan_out(quality.update_plan(db, actor, plan_id, data))


class MeasurementsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Each: {"values": [...], "ts": "..."} (variable charts) or {"defects": d, "sample_size": n} (attributes).
    subgroups: list[Any] = Field(min_length=1, max_length=quality.MAX_IMPORT_ROWS)


@router.post("/quality/plans/{plan_id}/measurements")
def measurements(
    plan_id: DbId,
    data: MeasurementsIn,
    response: Response,
    db: Session = Depends(get_db),
    actor: Actor = requires(APPS_OPERATE),
) -> dict[str, Any]:
    """Valid subgroups are stored even when others in the same request are bad (201 if all were, 207 if some
    were not, 422 if none was)."""
    rep = quality.add_measurements(db, actor, plan_id, data.subgroups, "api")
    response.status_code = 201 if not rep.rejected else (207 if rep.accepted else 422)
    return rep.as_dict()


@router.get("/quality/alarms")
def spc_alarms(db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> list[dict[str, Any]]:
    return [
        {
            "id": a.id,
            "plan_id": a.plan_id,
            "seq": a.seq,
            "test": a.test,
            "status": a.status,
            "value": a.value,
            "created_at": a.created_at.isoformat(),
        }
        for a in quality.list_alarms(db, actor, status=None)
    ]


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alarm_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        None, description="ids to acknowledge (or all=true: every open alarm)"
    )
    all: bool = False


@router.post("/quality/alarms/ack")
def spc_ack_many(data: AckIn, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)) -> dict[str, Any]:
    ids = None if data.all else (data.alarm_ids or [])
    return {"acknowledged": quality.acknowledge_many(db, actor, ids)}


@router.post("/quality/alarms/{spc_alarm_id}/ack")
def spc_ack(spc_alarm_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)) -> dict[str, Any]:
    a = quality.acknowledge(db, actor, spc_alarm_id)
    return {"id": a.id, "status": a.status}


# ---------------------------------------------------------------- energy


@router.get("/energy")
def energy_overview(
    days: int = Query(30, ge=1, le=92),
    end: date | None = None,
    db: Session = Depends(get_db),
    actor: Actor = requires(APPS_READ),
) -> dict[str, Any]:
    first, last = _period(days, end)
    return energy.report(db, actor.org_id, first, last).as_dict()


@router.get("/energy/tariffs")
def tariff_list(db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> dict[str, Any]:
    current = energy.tariff_for(db, actor.org_id)
    return {
        "current": current.key,
        "tariffs": [
            {
                "key": t.key,
                "name_zh": t.name_zh,
                "name_en": t.name_en,
                "prices": {k: str(v) for k, v in t.prices().items()},
            }
            for t in tf.tariffs().values()
        ],
    }


class TariffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tariff: str = Field(max_length=64)


@router.put("/energy/tariff")
def tariff_set(data: TariffIn, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)) -> dict[str, Any]:
    return {"tariff": energy.assign_tariff(db, actor, data.tariff).tariff_key}


# ---------------------------------------------------------------- reports


@router.get("/reports")
def report_list(db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "period_start": r.period_start.isoformat(),
            "period_end": r.period_end.isoformat(),
            "size": r.size,
            "url": f"/api/v1/apps/reports/{r.id}/pdf",
        }
        for r in reports.list_reports(db, actor)
    ]


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern="^(daily|weekly|monthly)$")
    day: date


@router.post("/reports", status_code=201)
def report_generate(
    data: ReportIn, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> dict[str, Any]:
    r = reports.generate(db, actor.org_id, data.kind, data.day, actor)
    return {"id": r.id, "kind": r.kind, "period_start": r.period_start.isoformat(), "size": r.size}


@router.get("/reports/{report_id}/pdf")
def report_pdf(report_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> Response:
    r = reports.get_report(db, actor, report_id)
    return Response(
        r.content, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{r.filename}"'}
    )


# ---------------------------------------------------------------- government


@router.get("/cluster-oee")
def cluster(
    days: int = Query(7, ge=1, le=31), db: Session = Depends(get_db), actor: Actor = requires(APPS_CLUSTER)
) -> list[dict[str, Any]]:
    first, last = _period(days, None)
    district = actor.district if actor.role == Role.DISTRICT_OFFICER else None
    if actor.role == Role.DISTRICT_OFFICER and not district:
        return []
    return oee.cluster_oee(db, district, first, last)
