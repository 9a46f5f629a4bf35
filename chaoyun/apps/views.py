"""Pages of the production apps in the enterprise workspace (OEE, quality, energy, reports) and the
government's cluster view; home panels for both."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from chaoyun.apps.energy import service as energy
from chaoyun.apps.energy import tariffs as tf
from chaoyun.apps.labels import PERIOD_NAMES, TEST_NAMES
from chaoyun.apps.oee import calendar as cal
from chaoyun.apps.oee import service as oee
from chaoyun.apps.permissions import APPS_CLUSTER, APPS_MANAGE, APPS_OPERATE, APPS_READ
from chaoyun.apps.quality import service as quality
from chaoyun.apps.quality import spc
from chaoyun.apps.reports import service as reports
from chaoyun.apps.usage import track_use
from chaoyun.db import get_db
from chaoyun.errors import AppError, Invalid
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import INT32_MAX, DbId
from chaoyun.web.render import render
from chaoyun.web.validation import field_errors

T = TypeVar("T")

# Every page of the apps records who used which app (the programme's evidence of real use).
router = APIRouter(include_in_schema=False, dependencies=[Depends(track_use)])

nav.register(
    nav.NavItem("enterprise", N_("OEE"), "/apps/oee", APPS_READ, 30, group="production"),
    nav.NavItem("enterprise", N_("Quality (SPC)"), "/apps/quality", APPS_READ, 31, group="production"),
    nav.NavItem("enterprise", N_("Energy"), "/apps/energy", APPS_READ, 32, group="production"),
    nav.NavItem("enterprise", N_("Reports"), "/apps/reports", APPS_READ, 33, group="production"),
    nav.NavItem("government", N_("Cluster OEE"), "/gov/apps", APPS_CLUSTER, 31, group="production"),
)

FLASH = {
    "labelled": N_("Stop reason saved."),
    "counts": N_("Counts saved."),
    "calendar": N_("Shift calendar saved."),
    "downtime": N_("Planned downtime saved."),
    "plan": N_("Inspection plan saved."),
    "measured": N_("Measurements saved."),
    "acked": N_("Alarm acknowledged."),
    "acked_many": N_("Selected alarms acknowledged."),
    "tariff": N_("Tariff saved."),
    "report": N_("Report generated."),
}


def _flash(request: Request) -> str | None:
    return FLASH.get(request.query_params.get("msg", ""))


def _days(request: Request, default: int) -> tuple[date, date, int]:
    try:
        days = int(request.query_params.get("days") or default)
    except ValueError:
        days = default
    end_raw = request.query_params.get("end")
    try:
        end = date.fromisoformat(end_raw) if end_raw else None
    except ValueError:
        end = None
    first, last = oee.period_bounds(days, end)
    return first, last, (last - first).days + 1


def _errors(request: Request, exc: Exception) -> AppError:
    if isinstance(exc, ValidationError):
        fe = field_errors(exc.errors())
        msg = "; ".join(
            f"{f['field']}: {f['message_en'] if request.state.locale == 'en' else f['message_zh']}" for f in fe
        )
        return AppError(N_("Some fields are invalid; nothing was saved. %(details)s"), details=msg)
    assert isinstance(exc, AppError)
    return exc


def _parse(request: Request, form: FormState, name: str, build: Callable[[], T]) -> T | None:
    """``form.check`` that also puts Pydantic's complaints (types, ranges, lengths) beside their fields."""
    try:
        return form.check(name, build)
    except ValidationError as exc:
        en = request.state.locale == "en"
        for fe in field_errors(exc.errors()):
            field = name if fe["field"] in ("", "body") else fe["field"].split(".")[0]
            form.errors.setdefault(field, fe["message_en"] if en else fe["message_zh"])
        return None


# ---------------------------------------------------------------- home panels


def _enterprise_panel(db: Session, actor: Actor) -> dict[str, Any]:
    today = datetime.now(cal.LOCAL).date()
    value = None
    try:
        value = oee.enterprise_oee(db, actor.org_id, today - timedelta(days=1), today - timedelta(days=1))
    except AppError:
        value = None
    return {
        "oee": None if value is None else round(100 * value, 1),
        "spc_alarms": quality.open_alarm_count(db, actor.org_id),
    }


def _government_panel(db: Session, actor: Actor) -> dict[str, Any]:
    return {}


nav.register_panel(nav.HomePanel("enterprise", "apps/panel_enterprise.html", APPS_READ, _enterprise_panel, 15))
nav.register_panel(nav.HomePanel("government", "apps/panel_government.html", APPS_CLUSTER, _government_panel, 15))


# ---------------------------------------------------------------- OEE


def _translations(ov: dict[str, Any]) -> dict[str, str]:
    from chaoyun.i18n import gettext

    keys = {p["reason"] for p in ov["pareto"]}
    for g in ov["losses"]:
        keys.add(g["group"])
        keys.update(k for k, _v in g["items"])
    return {k: gettext(k) for k in keys}


@router.get("/apps/oee")
def oee_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> Response:
    return _oee_page(request, db, actor)


def _shift_rows(shifts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calendar form's rows as stored: breaks as the text typed, weekdays as a list (all for a new row)."""
    rows = [
        {
            "key": s.get("key", ""),
            "name": s.get("name", ""),
            "start": s.get("start", ""),
            "end": s.get("end", ""),
            "breaks": ", ".join(f"{b[0]}-{b[1]}" for b in s.get("breaks") or []),
            "days": list(s.get("days") or range(7)),
        }
        for s in shifts
    ]
    return _pad(rows)


def _pad(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Up to two empty rows to add shifts in (six at most)."""
    blank = {"key": "", "name": "", "start": "", "end": "", "breaks": "", "days": list(range(7))}
    return [*rows, *([blank] * max(0, min(2, MAX_SHIFT_ROWS - len(rows))))]


def _typed_shift_rows(raw: Any) -> list[dict[str, Any]]:
    """The calendar form's rows as they were sent (a refused form shows them again, checkboxes included)."""
    rows = []
    for i in range(MAX_SHIFT_ROWS):
        if f"key_{i}" not in raw:
            continue
        row: dict[str, Any] = {k: str(raw.get(f"{k}_{i}") or "") for k in ("key", "name", "start", "end", "breaks")}
        row["days"] = [int(d) for d in raw.getlist(f"days_{i}") if str(d).isdigit()]
        rows.append(row)
    return _pad(rows)


def _oee_page(
    request: Request,
    db: Session,
    actor: Actor,
    cal_form: FormState | None = None,
    dt_form: FormState | None = None,
    counts_form: FormState | None = None,
    cal_rows: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> Response:
    first, last, days = _days(request, 7)
    ov = oee.overview(db, actor, first, last)
    calendar, small = oee.calendar_for(db, actor.org_id)
    shifts = calendar.shifts
    # The calendar form's preview: planned hours of each day of a chosen week (default: this week).
    try:
        pick = date.fromisoformat(request.query_params.get("preview") or "")
    except ValueError:
        pick = datetime.now(cal.LOCAL).date()
    monday = pick - timedelta(days=pick.weekday())
    return render(
        request,
        "apps/oee.html",
        {
            "ov": ov,
            "tr": _translations(ov),
            "days": days,
            "end": last.isoformat(),
            "reasons": oee.STOP_REASONS,
            "shifts": shifts,
            "shift_rows": cal_rows if cal_rows is not None else _shift_rows(shifts),
            "weekday_names": WEEKDAY_NAMES,
            "holidays_text": "\n".join(d.isoformat() for d in sorted(calendar.holidays)),
            "workdays_text": "\n".join(d.isoformat() for d in sorted(calendar.workdays)),
            "preview": oee.planned_week(calendar, monday),
            "preview_monday": monday.isoformat(),
            "small_stop_s": small,
            "can_operate": actor.has(APPS_OPERATE),
            "can_manage": actor.has(APPS_MANAGE),
            "flash": None if status != 200 else _flash(request),
            "error": None,
            "cal_form": cal_form or FormState(),
            "dt_form": dt_form or FormState(),
            "counts_form": counts_form or FormState(),
        },
        status=status,
    )


@router.get("/apps/oee.xlsx")
def oee_export(request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> Response:
    first, last, _ = _days(request, 7)
    body = reports.oee_workbook(oee.overview(db, actor, first, last))
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="oee-{first}-{last}.xlsx"'},
    )


def _back(path: str, msg: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?msg={msg}", status_code=303)


def _error_page(request: Request, exc: AppError) -> Response:
    return render(request, "apps/error.html", {"error": exc}, status=exc.status if exc.status >= 400 else 422)


@router.post("/apps/oee/label")
def oee_label(
    request: Request,
    device_id: int = Form(0, ge=0, le=INT32_MAX),
    start: str = Form(""),
    end: str = Form(""),
    reason: str = Form(""),
    note: str = Form("", max_length=200),
    db: Session = Depends(get_db),
    actor: Actor = requires(APPS_OPERATE),
) -> Response:
    try:
        oee.label_stop(db, actor, oee.LabelIn(device_id=device_id, start=start, end=end, reason=reason, note=note))
    except (ValidationError, AppError) as exc:
        return _error_page(request, _errors(request, exc))
    return _back("/apps/oee", "labelled")


@router.post("/apps/oee/counts")
async def oee_counts(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)
) -> Response:
    form = await FormState.read(request, actor)
    fields = ("device_id", "day", "shift", "good", "rejects", "startup_rejects")
    data = _parse(request, form, "good", lambda: oee.CountIn(**{k: form.get(k) for k in fields}))
    if data is not None:
        try:
            oee.enter_counts(db, actor, data)
            return _back("/apps/oee", "counts")
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _oee_page(request, db, actor, counts_form=form, status=form.status)


WEEKDAY_NAMES = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MAX_SHIFT_ROWS = 6


def _dates(text: str) -> list[str]:
    return [p for p in text.replace(",", " ").replace("，", " ").replace("、", " ").split() if p]


def _calendar_form(form: Any) -> oee.CalendarIn:
    """The calendar form: up to six shift rows (key, name, start, end, breaks "12:00-13:00, …", weekdays),
    holidays and make-up working days as dates, the small-stop threshold."""
    shifts: list[dict[str, Any]] = []
    for i in range(MAX_SHIFT_ROWS):
        key = str(form.get(f"key_{i}") or "").strip()
        if not key:
            continue
        breaks = []
        for part in str(form.get(f"breaks_{i}") or "").replace("，", ",").split(","):
            if part.strip():
                a, sep, b = part.strip().partition("-")
                if not sep:
                    raise Invalid(N_("A break is a start and an end, e.g. 12:00-13:00."), field=f"breaks_{i}")
                breaks.append([a.strip(), b.strip()])
        shifts.append(
            {
                "key": key,
                "name": str(form.get(f"name_{i}") or key),
                "start": str(form.get(f"start_{i}") or ""),
                "end": str(form.get(f"end_{i}") or ""),
                "breaks": breaks,
                "days": [str(d) for d in form.getlist(f"days_{i}")],
            }
        )
    return oee.CalendarIn(
        shifts=shifts,
        small_stop_s=str(form.get("small_stop_s") or "300"),
        holidays=_dates(str(form.get("holidays") or "")),
        workdays=_dates(str(form.get("workdays") or "")),
    )


@router.post("/apps/oee/calendar")
async def oee_calendar(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    raw = await request.form()
    data = _parse(request, form, "shifts", lambda: _calendar_form(raw))
    if data is not None:
        try:
            oee.set_calendar(db, actor, data)
            return _back("/apps/oee", "calendar")
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _oee_page(request, db, actor, cal_form=form, cal_rows=_typed_shift_rows(raw), status=form.status)


@router.post("/apps/oee/downtime")
async def oee_downtime(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    data = _parse(
        request,
        form,
        "start",
        lambda: oee.DowntimeIn(start=form.get("start"), end=form.get("end"), reason=form.get("reason")),
    )
    if data is not None:
        try:
            oee.add_downtime(db, actor, data)
            return _back("/apps/oee", "downtime")
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _oee_page(request, db, actor, dt_form=form, status=form.status)


# ---------------------------------------------------------------- quality


@router.get("/apps/quality")
def quality_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> Response:
    return _quality_page(request, db, actor)


def _quality_page(
    request: Request, db: Session, actor: Actor, form: FormState | None = None, tests: list[int] | None = None
) -> Response:
    from sqlalchemy import select

    from chaoyun.devices.models import Device

    form = form or FormState()
    devices = list(db.execute(select(Device).where(Device.org_id == actor.org_id).order_by(Device.name)).scalars())
    return render(
        request,
        "apps/quality.html",
        {
            "plans": quality.list_plans(db, actor),
            "alarms": quality.list_alarms(db, actor),
            "devices": devices,
            "chart_types": spc.CHART_TYPES,
            "test_names": TEST_NAMES,
            "can_manage": actor.has(APPS_MANAGE),
            "can_operate": actor.has(APPS_OPERATE),
            "flash": _flash(request) if form.ok else None,
            "form": form,
            "checked_tests": [1] if tests is None else tests,
        },
        status=form.status,
    )


def _opt_float(v: str, field: str = "lsl") -> float | None:
    v = (v or "").strip()
    if not v:
        return None
    try:
        return float(v)
    except ValueError as exc:
        raise Invalid(N_("Limits and targets must be numbers."), field=field) from exc


def _opt_int(v: str, field: str) -> int | None:
    v = (v or "").strip()
    if not v:
        return None
    try:
        return int(v)
    except ValueError as exc:
        raise Invalid(N_("Subgroup size and baseline must be whole numbers."), field=field) from exc


def _tests(raw: Any) -> list[int]:
    return [int(t) for t in raw.getlist("tests") if isinstance(t, str) and t.isdigit()]


def _limits(form: FormState) -> dict[str, Any]:
    """LSL, USL, target, limit mode and baseline, each refusal beside its own field."""
    return {
        "lsl": form.check("lsl", lambda: _opt_float(form.get("lsl"), "lsl")),
        "usl": form.check("usl", lambda: _opt_float(form.get("usl"), "usl")),
        "target": form.check("target", lambda: _opt_float(form.get("target"), "target")),
        "limits_mode": form.get("limits_mode") or "recalc",
        "baseline_count": form.check("baseline_count", lambda: _opt_int(form.get("baseline_count"), "baseline_count")),
    }


@router.post("/apps/quality/plans")
async def plan_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    tests = _tests(await request.form())
    size = form.check("subgroup_size", lambda: _opt_int(form.get("subgroup_size"), "subgroup_size"))
    device = form.check("device_id", lambda: _opt_int(form.get("device_id"), "device_id"))
    limits = _limits(form)
    if form.ok:
        data = _parse(
            request,
            form,
            "name",
            lambda: quality.PlanIn(
                name=form.get("name"),
                characteristic=form.get("characteristic") or form.get("name"),
                unit=form.get("unit"),
                chart_type=form.get("chart_type"),
                subgroup_size=size or 1,
                tests=tests or [1],
                device_id=device,
                metric=form.get("metric") or None,
                **limits,
            ),
        )
        if data is not None:
            try:
                plan = quality.create_plan(db, actor, data)
                return RedirectResponse(f"/apps/quality/plans/{plan.id}?msg=plan", status_code=303)
            except AppError as exc:
                db.rollback()
                form.fail(exc)
    return _quality_page(request, db, actor, form, tests)


@router.get("/apps/quality/plans/{plan_id}")
def plan_page(
    plan_id: DbId, request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)
) -> Response:
    return _plan_page(request, db, actor, plan_id)


def _plan_page(
    request: Request,
    db: Session,
    actor: Actor,
    plan_id: int,
    settings: FormState | None = None,
    tests: list[int] | None = None,
    measure: FormState | None = None,
    imported: FormState | None = None,
) -> Response:
    settings = settings or FormState()
    measure = measure or FormState()
    imported = imported or FormState()
    refused = [f for f in (settings, measure, imported) if not f.ok]
    plan = quality.get_plan(db, actor, plan_id)
    try:
        last = int(request.query_params.get("last") or 200)
    except ValueError:
        last = 200
    ch = quality.chart(db, actor, plan_id, max(2, min(last, quality.MAX_CHART_POINTS)))
    return render(
        request,
        "apps/plan.html",
        {
            "plan": plan,
            "chart": ch.as_dict() if ch else None,
            "test_names": TEST_NAMES,
            "alarms": [a for a in quality.list_alarms(db, actor) if a.plan_id == plan.id][:50],
            "is_variable": plan.chart_type in spc.VARIABLE_CHARTS,
            "can_manage": actor.has(APPS_MANAGE),
            "can_operate": actor.has(APPS_OPERATE),
            "flash": None if refused else _flash(request),
            "last": last,
            "report": None,
            "settings": settings,
            "measure": measure,
            "imported": imported,
            "checked_tests": list(plan.tests) if tests is None else tests,
        },
        status=refused[0].status if refused else 200,
    )


@router.post("/apps/quality/plans/{plan_id}/measure")
async def plan_measure(
    plan_id: DbId, request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)
) -> Response:
    plan = quality.get_plan(db, actor, plan_id)
    form = await FormState.read(request, actor)
    note = form.get("note")
    if plan.chart_type in spc.VARIABLE_CHARTS:
        main = "values"
        values = form.get("values").replace(",", " ").replace("，", " ").split()
        entry: dict[str, Any] = {"values": values, "note": note}
    else:
        main = "defects"
        entry = {"defects": form.get("defects"), "sample_size": form.get("sample_size") or plan.subgroup_size}
        entry["note"] = note
    try:
        rep = quality.add_subgroups(db, actor, plan, [entry], "form")
    except AppError as exc:
        db.rollback()
        form.fail(exc)
    else:
        if not rep.rejected:
            return _back(f"/apps/quality/plans/{plan.id}", "measured")
        # One subgroup, so its one complaint belongs beside the values (or the defect count) typed.
        err = rep.rejected[0]
        form.errors[main] = err.message_en if request.state.locale == "en" else err.message_zh
    return _plan_page(request, db, actor, plan.id, measure=form)


@router.post("/apps/quality/plans/{plan_id}/import")
async def plan_import(
    plan_id: DbId, request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)
) -> Response:
    plan = quality.get_plan(db, actor, plan_id)
    # The file is staged on arrival: a refused import shows it as already uploaded, to send again as it is.
    form = await FormState.read(request, actor, files=("file",))
    up = form.upload("file")
    if up is None:
        form.errors["file"] = Invalid(N_("Choose a CSV or Excel file."), field="file").message()
        return _plan_page(request, db, actor, plan.id, imported=form)
    try:
        rep = quality.import_file(db, actor, plan.id, up.filename or "data.csv", up.data)
    except AppError as exc:
        db.rollback()
        form.fail(exc)
        return _plan_page(request, db, actor, plan.id, imported=form)
    form.clear_staged()
    return render(
        request, "apps/import_report.html", {"plan": plan, "report": rep}, status=200 if rep.accepted else 422
    )


@router.post("/apps/quality/plans/{plan_id}/settings")
async def plan_settings(
    plan_id: DbId, request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    tests = _tests(await request.form())
    limits = _limits(form)
    if form.ok:
        data = _parse(request, form, "tests", lambda: quality.PlanUpdate(tests=tests, **limits))
        if data is not None:
            try:
                quality.update_plan(db, actor, plan_id, data)
                return _back(f"/apps/quality/plans/{plan_id}", "plan")
            except AppError as exc:
                db.rollback()
                form.fail(exc)
    return _plan_page(request, db, actor, plan_id, form, tests)


@router.post("/apps/quality/plans/{plan_id}/telemetry")
def plan_telemetry(
    plan_id: DbId, request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)
) -> Response:
    plan = quality.get_plan(db, actor, plan_id)
    try:
        rep = quality.pull_telemetry(db, actor, plan)
    except AppError as exc:
        return _error_page(request, exc)
    return render(request, "apps/import_report.html", {"plan": plan, "report": rep})


@router.get("/apps/quality/plans/{plan_id}/export.xlsx")
def plan_export(plan_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> Response:
    plan = quality.get_plan(db, actor, plan_id)
    ch = quality.chart(db, actor, plan_id)
    if ch is None:
        raise Invalid(N_("At least two subgroups are needed for a chart."))
    return Response(
        reports.spc_workbook(plan, ch),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="spc-{plan.id}.xlsx"'},
    )


@router.post("/apps/quality/alarms/ack")
async def alarm_ack_many(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)
) -> Response:
    form = await request.form()
    try:
        ids = None if form.get("all") == "1" else [int(str(v)) for v in form.getlist("alarm_ids")]
        quality.acknowledge_many(db, actor, ids)
    except ValueError:
        return _error_page(request, Invalid(N_("Select at least one alarm."), field="alarm_ids"))
    except AppError as exc:
        return _error_page(request, exc)
    return _back("/apps/quality", "acked_many")


@router.post("/apps/quality/alarms/{spc_alarm_id}/ack")
def alarm_ack(spc_alarm_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(APPS_OPERATE)) -> Response:
    quality.acknowledge(db, actor, spc_alarm_id)
    return _back("/apps/quality", "acked")


# ---------------------------------------------------------------- energy


@router.get("/apps/energy")
def energy_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> Response:
    return _energy_page(request, db, actor)


def _energy_page(request: Request, db: Session, actor: Actor, form: FormState | None = None) -> Response:
    form = form or FormState()
    first, last, days = _days(request, 30)
    rep = energy.report(db, actor.org_id, first, last)
    return render(
        request,
        "apps/energy.html",
        {
            "r": rep.as_dict(),
            "tariff": rep.tariff,
            "tariffs": list(tf.tariffs().values()),
            "period_names": PERIOD_NAMES,
            "days": days,
            "end": last.isoformat(),
            "can_manage": actor.has(APPS_MANAGE),
            "flash": _flash(request) if form.ok else None,
            "form": form,
        },
        status=form.status,
    )


@router.post("/apps/energy/tariff")
async def energy_tariff(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    try:
        energy.assign_tariff(db, actor, form.get("tariff"))
        return _back("/apps/energy", "tariff")
    except AppError as exc:
        db.rollback()
        form.fail(exc)
    return _energy_page(request, db, actor, form)


# ---------------------------------------------------------------- reports


@router.get("/apps/reports")
def reports_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> Response:
    return _reports_page(request, db, actor)


def _reports_page(request: Request, db: Session, actor: Actor, form: FormState | None = None) -> Response:
    form = form or FormState()
    return render(
        request,
        "apps/reports.html",
        {
            "reports": reports.list_reports(db, actor),
            "can_manage": actor.has(APPS_MANAGE),
            "flash": _flash(request) if form.ok else None,
            "today": datetime.now(cal.LOCAL).date().isoformat(),
            "form": form,
        },
        status=form.status,
    )


def _report_day(day: str) -> date:
    try:
        return date.fromisoformat(day) if day else datetime.now(cal.LOCAL).date()
    except ValueError as exc:
        raise Invalid(N_("The day is not a date (2026-05-01)."), field="day") from exc


def _report_kind(kind: str) -> str:
    if kind not in reports.KINDS:
        raise Invalid(N_("Reports are daily, weekly or monthly."), field="kind")
    return kind


@router.post("/apps/reports")
async def reports_generate(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    kind = form.check("kind", lambda: _report_kind(form.get("kind", "daily")))
    d = form.check("day", lambda: _report_day(form.get("day").strip()))
    if kind is not None and d is not None:
        try:
            reports.generate(db, actor.org_id, kind, d, actor)
            return _back("/apps/reports", "report")
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _reports_page(request, db, actor, form)


@router.get("/apps/reports/{report_id}/pdf")
def report_download(report_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(APPS_READ)) -> Response:
    r = reports.get_report(db, actor, report_id)
    return Response(
        r.content, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{r.filename}"'}
    )


# ---------------------------------------------------------------- government


@router.get("/gov/apps")
def gov_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(APPS_CLUSTER)) -> Response:
    today = datetime.now(cal.LOCAL).date()
    first, last = today - timedelta(days=7), today - timedelta(days=1)
    district = actor.district if actor.role == Role.DISTRICT_OFFICER else None
    rows = [] if actor.role == Role.DISTRICT_OFFICER and not district else oee.cluster_oee(db, district, first, last)
    return render(
        request,
        "apps/gov.html",
        {"rows": rows, "first": first.isoformat(), "last": last.isoformat(), "min_group": oee.MIN_GROUP},
    )
