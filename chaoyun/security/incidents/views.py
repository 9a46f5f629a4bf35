"""Pages of security incidents: the list (and a form to report a hidden danger), one incident (timeline of alerts,
alarms, audit entries and notes, the device data around the time, handling forms), the trace from one alert, and
the closing report as a PDF."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import AppError, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.security import engine, exports, service
from chaoyun.security.incidents import service as incidents
from chaoyun.security.permissions import SEC_INCIDENT, SEC_READ
from chaoyun.timefmt import format_dt
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)

FLASH = {
    "opened": N_("Incident opened."),
    "assigned": N_("Assigned."),
    "state": N_("State changed."),
    "escalated": N_("Escalated."),
    "note": N_("Note added."),
    "closed": N_("Incident closed; the report is ready."),
}


def _ctx(request: Request, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "flash": FLASH.get(request.query_params.get("msg", "")),
        "STATES": incidents.STATES,
        "NEXT_STATES": incidents.NEXT_STATES,
        "SEVERITIES": incidents.SEVERITIES,
        "ESCALATIONS": incidents.ESCALATIONS,
        "ITEM_KINDS": incidents.ITEM_KINDS,
        "can_handle": actor.has(SEC_INCIDENT),
        "incident_title": incidents.display_title,
        **extra,
    }


def _refused(db: Session, form: FormState, exc: AppError) -> None:
    db.rollback()
    if isinstance(exc, NotFound | Forbidden):
        raise exc
    form.fail(exc)


@router.get("/security/incidents")
def incidents_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)) -> Response:
    return _list(request, db, actor)


def _list(request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200) -> Response:
    state = request.query_params.get("state") or ""
    state = state if state in incidents.STATES else ""
    rows = incidents.list_incidents(db, actor, state=state or None)
    return render(
        request,
        "security/incidents.html",
        _ctx(
            request,
            actor,
            rows=rows,
            state=state,
            names=service.org_names(db, {r.org_id for r in rows}),
            form=form or FormState(),
            can_report=actor.has(SEC_INCIDENT) and actor.audience == "enterprise",
        ),
        status=status,
    )


@router.post("/security/incidents")
async def incident_open(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(SEC_INCIDENT)
) -> Response:
    form = await FormState.read(request, actor)
    if actor.audience != "enterprise":
        form.fail(Invalid(N_("Only an enterprise reports a hidden danger here; officers open its incident page.")))
        return _list(request, db, actor, form, form.status)
    again = form.first_submission()
    if again is not None:
        return RedirectResponse(again or "/security/incidents", status_code=303)
    try:
        inc = incidents.open_manual(db, actor, actor.org_id, form.get("title"), form.get("severity"), form.get("note"))
    except AppError as exc:
        form.release()
        _refused(db, form, exc)
        return _list(request, db, actor, form, form.status)
    url = f"/security/incidents/{inc.id}?msg=opened"
    form.submitted(url)
    return RedirectResponse(url, status_code=303)


def _page(
    request: Request, db: Session, actor: Actor, sec_incident_id: int, form: FormState | None = None, status: int = 200
) -> Response:
    tl = incidents.timeline(db, actor, sec_incident_id)
    inc = tl.incident
    series = [
        {
            "name": f"{tl.device_names.get(s.device_id, '')} · {s.name_en if _en() else s.name_zh}"
            + (f" ({s.unit})" if s.unit else ""),
            "data": [[format_dt(t, "%Y-%m-%d %H:%M:%S"), round(v, 3)] for t, v in s.points],
        }
        for s in tl.series
    ]
    marks = [format_dt(e.at, "%Y-%m-%d %H:%M:%S") for e in tl.entries if e.kind == "ids_alert"]
    return render(
        request,
        "security/incident.html",
        _ctx(
            request,
            actor,
            inc=inc,
            tl=tl,
            series=series,
            marks=marks,
            org_name=service.org_names(db, {inc.org_id}).get(inc.org_id, ""),
            people=incidents.assignable(db, inc) if actor.audience == "enterprise" else [],
            form=form or FormState(),
            RISKS=engine.RISKS,
        ),
        status=status,
    )


def _en() -> bool:
    from chaoyun.i18n import get_locale

    return get_locale() == "en"


@router.get("/security/incidents/{sec_incident_id}")
def incident_page(
    request: Request, sec_incident_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> Response:
    return _page(request, db, actor, sec_incident_id)


@router.post("/security/incidents/{sec_incident_id}/act")
async def incident_act(
    request: Request, sec_incident_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_INCIDENT)
) -> Response:
    """One form post per action (``action`` = assign | state | escalate | note | close)."""
    form = await FormState.read(request, actor)
    action = form.get("action")
    msg = ""
    try:
        if action == "assign":
            uid = form.check("user_id", lambda: _int(form.get("user_id"), "user_id"))
            if uid is None:
                raise Invalid(N_("Choose a person of the enterprise."), field="user_id")
            incidents.assign(db, actor, sec_incident_id, uid)
            msg = "assigned"
        elif action == "state":
            incidents.set_state(db, actor, sec_incident_id, form.get("state"), form.get("note"))
            msg = "state"
        elif action == "escalate":
            incidents.escalate(db, actor, sec_incident_id, form.get("reason"))
            msg = "escalated"
        elif action == "note":
            incidents.add_note(db, actor, sec_incident_id, form.get("text"))
            msg = "note"
        elif action == "close":
            incidents.close(db, actor, sec_incident_id, form.get("cause"), form.get("actions"), form.get("lessons"))
            msg = "closed"
        else:
            raise Invalid(N_("Choose an action."), field="action")
    except AppError as exc:
        _refused(db, form, exc)
        return _page(request, db, actor, sec_incident_id, form, form.status)
    return RedirectResponse(f"/security/incidents/{sec_incident_id}?msg={msg}", status_code=303)


def _int(text: str, field: str) -> int:
    try:
        v = int(text.strip())
    except ValueError:
        raise Invalid(N_("Choose a person of the enterprise."), field=field) from None
    if not 1 <= v <= 2**31 - 1:
        raise Invalid(N_("Choose a person of the enterprise."), field=field)
    return v


@router.get("/security/incidents/{sec_incident_id}/trace/{sec_alert_id}")
def trace_page(
    request: Request,
    sec_incident_id: DbId,
    sec_alert_id: DbId,
    db: Session = Depends(get_db),
    actor: Actor = requires(SEC_READ),
) -> Response:
    tr = incidents.trace(db, actor, sec_incident_id, sec_alert_id)
    return render(request, "security/trace.html", _ctx(request, actor, tr=tr, incident_id=sec_incident_id))


@router.get("/security/incidents/{sec_incident_id}/report.pdf")
def report_pdf(sec_incident_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)) -> Response:
    tl = incidents.timeline(db, actor, sec_incident_id)
    name = service.org_names(db, {tl.incident.org_id}).get(tl.incident.org_id, "")
    data = exports.incident_pdf(tl, name)
    fname = quote(f"安全事件报告-{sec_incident_id}.pdf")
    return Response(
        data, media_type="application/pdf", headers={"Content-Disposition": f"inline; filename*=UTF-8''{fname}"}
    )
