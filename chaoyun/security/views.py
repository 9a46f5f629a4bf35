"""Pages of the security inspection programme: the enterprise's security page (its inspections, findings and
incidents), one inspection (self-check with evidence, on-site check, findings with rectification and re-check), the
government's oversight page (campaigns, escalated and high-risk findings, open incidents) and a campaign (risk per
enterprise, heat map per district and industry, export for the province). Thin over ``service``."""

from __future__ import annotations

import functools
from datetime import date
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import AppError, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Cluster, Role
from chaoyun.security import engine, exports, files, service
from chaoyun.security.incidents import service as incidents
from chaoyun.security.models import Inspection
from chaoyun.security.permissions import SEC_INCIDENT, SEC_INSPECT, SEC_MANAGE, SEC_READ, SEC_SELFCHECK
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import cluster_name, district_name, render

router = APIRouter(include_in_schema=False)

nav.register(
    nav.NavItem("enterprise", N_("Security checks"), "/security", SEC_READ, 29, group="devices"),
    nav.NavItem("government", N_("Security oversight"), "/gov/security", SEC_READ, 37, group="devices"),
)

FLASH = {
    "saved": N_("Saved as a draft."),
    "submitted": N_("Self-check submitted to the district."),
    "evidence": N_("Evidence attached."),
    "concluded": N_("On-site check concluded; findings issued."),
    "rectified": N_("Reported as rectified; the district will re-check."),
    "finding": N_("Finding updated."),
    "rechecked": N_("Re-check recorded."),
    "campaign": N_("Campaign opened."),
    "added": N_("Enterprises added to the campaign."),
}


def _todos(db: Session, actor: Actor) -> list[nav.Todo]:
    """What waits: an enterprise's self-checks, open high-risk findings and incidents; a district's on-site checks,
    re-checks and escalated findings; the city's findings escalated to it and high-severity incidents."""
    if not actor.has(SEC_READ):
        return []
    out: list[nav.Todo] = []
    if actor.audience == "enterprise":
        if actor.has(SEC_SELFCHECK):
            out.append(
                nav.Todo(
                    N_("Security self-checks to submit"), len(service.pending_selfchecks(db, actor)), "/security", 40
                )
            )
        out.append(
            nav.Todo(
                N_("Open high-risk security findings"),
                service.open_high_findings_count(db, actor),
                "/security#findings",
                41,
            )
        )
        out.append(
            nav.Todo(
                N_("Open high-severity security incidents"),
                incidents.open_count(db, actor, True),
                "/security/incidents",
                42,
            )
        )
    elif actor.audience == "government":
        if actor.role == Role.DISTRICT_OFFICER:
            out.append(
                nav.Todo(N_("Security on-site checks to do"), service.awaiting_onsite(db, actor), "/gov/security", 40)
            )
            out.append(
                nav.Todo(
                    N_("Security findings to re-check"),
                    service.rechecks_waiting(db, actor),
                    "/gov/security#rechecks",
                    41,
                )
            )
            out.append(
                nav.Todo(
                    N_("Overdue security findings escalated to the district"),
                    service.escalated_count(db, actor, "district"),
                    "/gov/security#escalated",
                    42,
                )
            )
        else:
            out.append(
                nav.Todo(
                    N_("Overdue security findings escalated to the city"),
                    service.escalated_count(db, actor, "city"),
                    "/gov/security#escalated",
                    42,
                )
            )
        out.append(
            nav.Todo(
                N_("Open high-severity security incidents"),
                incidents.open_count(db, actor, True),
                "/security/incidents",
                43,
            )
        )
    return out


nav.register_todo("security", _todos)


def _back(url: str, msg: str) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    base, _hash, frag = url.partition("#")
    return RedirectResponse(
        f"{base}{sep if '?' not in base else '&'}msg={msg}{'#' + frag if frag else ''}", status_code=303
    )


@functools.cache
def _item_titles() -> dict[str, str]:
    return {c: i.title for k in engine.checklist_keys() for c, i in engine.load(k).by_code.items()}


def _ctx(request: Request, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "flash": FLASH.get(request.query_params.get("msg", "")),
        "DOMAINS": engine.DOMAINS,
        "ANSWERS": engine.ANSWERS,
        "RISKS": engine.RISKS,
        "METHODS": engine.METHODS,
        "INSPECTION_STATES": service.INSPECTION_STATES,
        "FINDING_STATES": service.FINDING_STATES,
        "FINDING_SOURCES": service.FINDING_SOURCES,
        "ESCALATIONS": incidents.ESCALATIONS,
        "INCIDENT_STATES": incidents.STATES,
        "SEVERITIES": incidents.SEVERITIES,
        # Finding tables name the checklist item, not only its code.
        "ITEM_TITLES": _item_titles(),
        "can_selfcheck": actor.has(SEC_SELFCHECK),
        "can_inspect": actor.has(SEC_INSPECT),
        "can_manage": actor.has(SEC_MANAGE),
        "can_incident": actor.has(SEC_INCIDENT),
        "today": service.today_local(),
        "incident_title": incidents.display_title,
        **extra,
    }


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise Invalid(N_("Enter a date such as 2026-06-30."), field=field) from None


# ---------------------------------------------------------------- the enterprise's page


@router.get("/security")
def overview(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)) -> Response:
    if actor.audience != "enterprise":
        return RedirectResponse("/gov/security", status_code=303)
    insp = service.inspections(db, actor)
    camps = {c.id: c for c in service.list_campaigns(db, actor)}
    return render(
        request,
        "security/overview.html",
        _ctx(
            request,
            actor,
            inspections=insp,
            campaigns=camps,
            findings=service.findings(db, actor, open_only=True),
            incidents=incidents.list_incidents(db, actor, open_only=True),
        ),
    )


# ---------------------------------------------------------------- one inspection


def _inspection_page(
    request: Request,
    db: Session,
    actor: Actor,
    sec_inspection_id: int,
    forms: dict[str, FormState] | None = None,
    status: int = 200,
) -> Response:
    i = service.get_inspection(db, actor, sec_inspection_id)
    c = service.get_campaign(db, actor, i.campaign_id) if actor.audience == "enterprise" else _campaign(db, i)
    checklist = service.checklist_of(c)
    ev: dict[str, list[Any]] = {}
    for e in service.evidence(db, i.id):
        ev.setdefault(e.item_code, []).append(e)
    answered = {k: v["answer"] for k, v in (i.onsite_answers or {}).items() if v.get("answer")}
    self_answered = {k: v["answer"] for k, v in (i.self_answers or {}).items() if v.get("answer")}
    forms = forms or {}
    return render(
        request,
        "security/inspection.html",
        _ctx(
            request,
            actor,
            i=i,
            c=c,
            checklist=checklist,
            groups=checklist.by_domain(),
            evidence=ev,
            org_name=service.org_names(db, {i.org_id}).get(i.org_id, ""),
            self_result=engine.score_answers(checklist, self_answered) if self_answered else None,
            onsite_result=engine.score_answers(checklist, answered) if answered else None,
            findings=service.findings(db, actor, inspection_id=i.id),
            own=actor.audience == "enterprise" and i.org_id == actor.org_id,
            self_form=forms.get("self") or FormState(),
            onsite_form=forms.get("onsite") or FormState(),
            evidence_form=forms.get("evidence") or FormState(),
            finding_forms=forms,
        ),
        status=status,
    )


def _campaign(db: Session, i: Inspection) -> Any:
    from chaoyun.security.models import Campaign

    c = db.get(Campaign, i.campaign_id)
    if c is None:
        raise NotFound(N_("No such campaign."))
    return c


@router.get("/security/inspections/{sec_inspection_id}")
def inspection_page(
    request: Request, sec_inspection_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> Response:
    return _inspection_page(request, db, actor, sec_inspection_id)


def _answers(form: FormState, prefix: str) -> tuple[dict[str, str], dict[str, str]]:
    answers = {k[len("answer_") :]: v for k, v in form.values.items() if k.startswith("answer_")}
    notes = {k[len("note_") :]: v for k, v in form.values.items() if k.startswith("note_")}
    return answers, notes


def _refused(db: Session, form: FormState, exc: AppError) -> None:
    db.rollback()
    if isinstance(exc, NotFound | Forbidden):
        raise exc
    form.fail(exc)


@router.post("/security/inspections/{sec_inspection_id}/self-check")
async def self_check(
    request: Request, sec_inspection_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_SELFCHECK)
) -> Response:
    form = await FormState.read(request, actor)
    answers, notes = _answers(form, "answer_")
    submit = form.get("action") == "submit"
    try:
        service.save_self_check(db, actor, sec_inspection_id, answers, notes, submit)
    except AppError as exc:
        _refused(db, form, exc)
        return _inspection_page(request, db, actor, sec_inspection_id, {"self": form}, form.status)
    return _back(f"/security/inspections/{sec_inspection_id}", "submitted" if submit else "saved")


@router.post("/security/inspections/{sec_inspection_id}/evidence")
async def evidence_upload(
    request: Request, sec_inspection_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_SELFCHECK)
) -> Response:
    form = await FormState.read(request, actor, files=("file",), max_bytes=files.MAX_BYTES)
    up = form.upload("file")
    try:
        if up is None:
            raise Invalid(N_("Choose a file to upload."), field="file")
        service.add_evidence(db, actor, sec_inspection_id, form.get("item"), files.Upload(up.filename, up.data))
        form.clear_staged()
    except AppError as exc:
        _refused(db, form, exc)
        return _inspection_page(request, db, actor, sec_inspection_id, {"evidence": form}, form.status)
    return _back(f"/security/inspections/{sec_inspection_id}#evidence", "evidence")


@router.get("/security/evidence/{sec_evidence_id}")
def evidence_download(
    sec_evidence_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> Response:
    ev, data = service.read_evidence(db, actor, sec_evidence_id)
    return Response(
        data,
        media_type=ev.content_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(ev.filename)}"},
    )


@router.post("/security/inspections/{sec_inspection_id}/onsite")
async def onsite(
    request: Request, sec_inspection_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_INSPECT)
) -> Response:
    form = await FormState.read(request, actor)
    answers, notes = _answers(form, "answer_")
    conclude = form.get("action") == "conclude"
    when = (
        form.check("inspected_on", lambda: _date(form.get("inspected_on"), "inspected_on"))
        if form.get("inspected_on")
        else None
    )
    if form.ok:
        try:
            service.record_onsite(db, actor, sec_inspection_id, answers, notes, conclude, when)
            return _back(f"/security/inspections/{sec_inspection_id}", "concluded" if conclude else "saved")
        except AppError as exc:
            _refused(db, form, exc)
    return _inspection_page(request, db, actor, sec_inspection_id, {"onsite": form}, form.status)


# ---------------------------------------------------------------- findings


def _finding_back(db: Session, actor: Actor, sec_finding_id: int, msg: str) -> RedirectResponse:
    f = service.get_finding(db, actor, sec_finding_id)
    return _back(f"/security/inspections/{f.inspection_id}#finding-{f.id}", msg)


@router.post("/security/findings/{sec_finding_id}/rectify")
async def finding_rectify(
    request: Request, sec_finding_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_SELFCHECK)
) -> Response:
    form = await FormState.read(request, actor)
    f = service.get_finding(db, actor, sec_finding_id)
    try:
        service.rectify(db, actor, sec_finding_id, form.get("text"))
    except AppError as exc:
        _refused(db, form, exc)
        return _inspection_page(request, db, actor, f.inspection_id, {f"f{sec_finding_id}": form}, form.status)
    return _finding_back(db, actor, sec_finding_id, "rectified")


@router.post("/security/findings/{sec_finding_id}/update")
async def finding_update(
    request: Request, sec_finding_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_INSPECT)
) -> Response:
    form = await FormState.read(request, actor)
    f = service.get_finding(db, actor, sec_finding_id)
    deadline = form.check("deadline", lambda: _date(form.get("deadline"), "deadline"))
    if form.ok and deadline is not None:
        try:
            service.update_finding(db, actor, sec_finding_id, form.get("owner"), deadline, form.get("description"))
            return _finding_back(db, actor, sec_finding_id, "finding")
        except AppError as exc:
            _refused(db, form, exc)
    return _inspection_page(request, db, actor, f.inspection_id, {f"f{sec_finding_id}": form}, form.status)


@router.post("/security/findings/{sec_finding_id}/recheck")
async def finding_recheck(
    request: Request, sec_finding_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_INSPECT)
) -> Response:
    form = await FormState.read(request, actor)
    f = service.get_finding(db, actor, sec_finding_id)
    passed = form.get("passed") == "1"
    new_deadline = (
        form.check("new_deadline", lambda: _date(form.get("new_deadline"), "new_deadline"))
        if form.get("new_deadline")
        else None
    )
    if form.ok:
        try:
            service.recheck(db, actor, sec_finding_id, passed, form.get("note"), new_deadline)
            return _finding_back(db, actor, sec_finding_id, "rechecked")
        except AppError as exc:
            _refused(db, form, exc)
    return _inspection_page(request, db, actor, f.inspection_id, {f"f{sec_finding_id}": form}, form.status)


# ---------------------------------------------------------------- government: oversight, campaigns


def _oversight_page(
    request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200
) -> Response:
    if actor.has(SEC_INSPECT):
        service.escalate_overdue(db)  # the page is an escalation check too (the background job runs hourly)
    camps = service.list_campaigns(db, actor)
    fs = service.findings(db, actor, open_only=True, limit=2000)
    escalated = [f for f in fs if f.escalation != "none" and f.status == "open"]
    high = [f for f in fs if f.risk == "high" and f.status == "open"]
    rechecks = [f for f in fs if f.status == "rectified"]
    incs = incidents.list_incidents(db, actor, open_only=True, limit=200)
    names = service.org_names(db, {f.org_id for f in fs} | {x.org_id for x in incs})
    return render(
        request,
        "security/oversight.html",
        _ctx(
            request,
            actor,
            campaigns=camps,
            escalated=escalated,
            high=high,
            rechecks=rechecks,
            incidents=incs,
            names=names,
            form=form or FormState(),
            CLUSTERS=[c.value for c in Cluster],
            awaiting=service.awaiting_onsite(db, actor),
        ),
        status=status,
    )


@router.get("/gov/security")
def oversight(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)) -> Response:
    if actor.audience != "government":
        return RedirectResponse("/security", status_code=303)
    return _oversight_page(request, db, actor)


@router.post("/gov/security/campaigns")
async def campaign_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(SEC_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    raw = await request.form()
    clusters = [str(v) for v in raw.getlist("clusters")]
    form.values["clusters"] = ",".join(clusters)
    if not clusters:
        form.errors["clusters"] = Invalid(N_("Choose at least one key industry."), field="clusters").message()
    due = form.check("self_check_due", lambda: _date(form.get("self_check_due"), "self_check_due"))
    year = form.check("year", lambda: _year(form.get("year")))
    if form.ok and due is not None and year is not None:
        again = form.first_submission()
        if again is not None:
            return RedirectResponse(again or "/gov/security", status_code=303)
        try:
            c = service.create_campaign(db, actor, year, form.get("name"), clusters, due)
            url = f"/gov/security/campaigns/{c.id}?msg=campaign"
            form.submitted(url)
            return RedirectResponse(url, status_code=303)
        except AppError as exc:
            form.release()
            _refused(db, form, exc)
    return _oversight_page(request, db, actor, form, form.status)


def _year(text: str) -> int:
    try:
        y = int(text.strip())
    except ValueError:
        raise Invalid(N_("Enter a year such as 2026."), field="year") from None
    if not 2018 <= y <= 2100:
        raise Invalid(N_("Enter a year such as 2026."), field="year")
    return y


def _campaign_page(
    request: Request, db: Session, actor: Actor, sec_campaign_id: int, form: FormState | None = None, status: int = 200
) -> Response:
    c = service.get_campaign(db, actor, sec_campaign_id)
    rows = service.risk_rows(db, actor, c.id)
    heat = service.heatmap(rows)
    insp = {i.org_id: i.id for i in service.inspections(db, actor, c.id)}
    return render(
        request,
        "security/campaign.html",
        _ctx(
            request,
            actor,
            c=c,
            rows=rows,
            heat=heat,
            heat_x=[(d, district_name(d)) for d in sorted({h.district for h in heat})],
            heat_y=[(cl, cluster_name(cl)) for cl in sorted({h.cluster for h in heat})],
            insp=insp,
            form=form or FormState(),
        ),
        status=status,
    )


@router.get("/gov/security/campaigns/{sec_campaign_id}")
def campaign_page(
    request: Request, sec_campaign_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> Response:
    return _campaign_page(request, db, actor, sec_campaign_id)


@router.post("/gov/security/campaigns/{sec_campaign_id}/enterprises")
async def campaign_add(
    request: Request, sec_campaign_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    ids: list[int] = []
    for part in form.get("org_ids").replace("，", ",").split(","):
        if part.strip():
            v = form.check("org_ids", partial(_org_id, part))
            if v is not None:
                ids.append(v)
    if form.ok:
        try:
            service.add_enterprises(db, actor, sec_campaign_id, ids)
            return _back(f"/gov/security/campaigns/{sec_campaign_id}", "added")
        except AppError as exc:
            _refused(db, form, exc)
    return _campaign_page(request, db, actor, sec_campaign_id, form, form.status)


def _org_id(text: str) -> int:
    try:
        v = int(text.strip())
    except ValueError:
        raise Invalid(N_("Enter enterprise numbers separated by commas."), field="org_ids") from None
    if not 1 <= v <= 2**31 - 1:
        raise Invalid(N_("Enter enterprise numbers separated by commas."), field="org_ids")
    return v


@router.get("/gov/security/campaigns/{sec_campaign_id}/export.xlsx")
def campaign_export(
    sec_campaign_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SEC_READ)
) -> Response:
    c = service.get_campaign(db, actor, sec_campaign_id)
    data = exports.campaign_xlsx(db, actor, c, service.risk_rows(db, actor, c.id))
    name = f"security-inspection-{c.year}-{c.id}.xlsx"
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
