"""Pages of the programme context: targets dashboard, public figures, cloud adoption, diagnosis, evaluation."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.apps import usage as app_usage
from chaoyun.db import get_db
from chaoyun.errors import AppError, Invalid, NotFound
from chaoyun.i18n import N_, gettext
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor, visible_orgs
from chaoyun.identity.reference import Cluster, District
from chaoyun.programme import cloud_adoption as adoption
from chaoyun.programme import dashboard as dash
from chaoyun.programme import diagnosis as diag
from chaoyun.programme import permissions as P
from chaoyun.programme import reports
from chaoyun.programme.effect import exports as effect_exports
from chaoyun.programme.effect import service as effect_service
from chaoyun.programme.models import CloudAdoption, Diagnosis
from chaoyun.programme.outcomes import service as outcomes_service
from chaoyun.programme.pack import get_pack
from chaoyun.web import excel, lists, nav
from chaoyun.web.deps import public, requires
from chaoyun.web.params import DbId
from chaoyun.web.render import render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
# Lists are scoped by the services and paged here; a city has a few thousand declarations at most.
LIST_LIMIT = 20_000

# The pack is validated when the pages are set up, so a broken file stops start-up with a clear message.
get_pack()

nav.register(
    nav.NavItem("government", N_("Programme targets"), "/programme/targets", P.TARGETS_READ, 30, group="programme"),
    nav.NavItem("government", N_("Cloud adoption"), "/programme/adoptions", P.ADOPTION_READ, 31, group="programme"),
    nav.NavItem("government", N_("Diagnoses"), "/programme/diagnoses", P.DIAGNOSIS_READ, 32, group="programme"),
    nav.NavItem("government", N_("Evaluation"), "/programme/evaluation", P.EVALUATION_EXPORT, 80, group="programme"),
    nav.NavItem("enterprise", N_("Cloud adoption"), "/programme/adoptions", P.ADOPTION_READ, 30, group="programme"),
    nav.NavItem("enterprise", N_("Diagnosis"), "/programme/diagnoses", P.DIAGNOSIS_READ, 31, group="programme"),
)


def _panel_data(db: Session, actor: Actor) -> dict[str, Any]:
    district = dash.scope_district(actor, None)
    rows = [r for r in dash.dashboard(db, district) if r.available]
    return {"rows": rows[:6], "labels": dash.STATUS_LABELS, "colours": dash.STATUS_COLOURS}


nav.register_panel(nav.HomePanel("government", "programme/_panel_targets.html", P.TARGETS_READ, _panel_data, 10))

FLASH = {
    "declared": N_("Declaration received; your district office will verify it."),
    "verified": N_("Declaration verified."),
    "rejected": N_("Declaration rejected."),
    "counted": N_("Counted toward the target."),
    "resubmitted": N_("Declaration submitted again."),
    "saved": N_("Saved."),
    "submitted": N_("Submitted for expert review."),
    "adjusted": N_("Adjustment recorded."),
    "completed": N_("Diagnosis completed."),
    "returned": N_("Returned to the enterprise."),
    "started": N_("Self-assessment started; answers the platform already knows are filled in."),
}


def _flash(request: Request) -> str | None:
    return FLASH.get(request.query_params.get("msg", ""))


# ---------------------------------------------------------------- targets


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _programme_todo(db: Session, actor: Actor) -> list[nav.Todo]:
    """Declarations waiting for an officer's check and self-assessments waiting for an expert."""
    out = []
    if actor.has(P.ADOPTION_VERIFY):
        n = db.execute(
            select(func.count())
            .select_from(CloudAdoption)
            .join(Organisation, Organisation.id == CloudAdoption.org_id)
            .where(visible_orgs(actor), CloudAdoption.status == adoption.DECLARED)
        ).scalar_one()
        out.append(nav.Todo(N_("Cloud adoptions to verify"), n, "/programme/adoptions?status=declared", 20))
    if actor.has(P.DIAGNOSIS_REVIEW):
        n = db.execute(
            select(func.count())
            .select_from(Diagnosis)
            .join(Organisation, Organisation.id == Diagnosis.org_id)
            .where(visible_orgs(actor), Diagnosis.status == diag.SUBMITTED)
        ).scalar_one()
        out.append(nav.Todo(N_("Diagnoses to score"), n, "/programme/diagnoses?status=submitted", 20))
    return out


nav.register_todo("programme", _programme_todo)


@router.get("/programme/targets")
def targets_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.TARGETS_READ)) -> Response:
    district = dash.scope_district(actor, request.query_params.get("district"))
    cluster = dash.clean_cluster(request.query_params.get("cluster"))
    pack = get_pack()
    return render(
        request,
        "programme/targets.html",
        {
            "pack": pack,
            "rows": dash.dashboard(db, district, cluster),
            "years": dash.years_shown(pack),
            "district": district,
            "cluster": cluster,
            "districts": list(District),
            "clusters": list(Cluster),
            "labels": dash.STATUS_LABELS,
            "colours": dash.STATUS_COLOURS,
            "locked_district": actor.role.value == "district_officer",
        },
    )


@router.get("/programme/targets.xlsx")
def targets_export(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.TARGETS_READ)
) -> Response:
    """The dashboard as Excel: same district (a district officer's own) and industry filters as the page."""
    district = dash.scope_district(actor, request.query_params.get("district"))
    cluster = dash.clean_cluster(request.query_params.get("cluster"))
    pack = get_pack()
    years = dash.years_shown(pack)
    en = request.state.locale == "en"
    heads = [gettext("Target"), gettext("Section"), gettext("Plan")]
    for y in years:
        heads += [f"{y} {gettext('actual')}", f"{y} {gettext('planned')}"]
    heads += [gettext("Status"), gettext("Lead / co-owners")]
    rows = []
    for r in dash.dashboard(db, district, cluster):
        row: list[Any] = [r.target.name_en if en else r.target.name_zh, r.target.section, r.plan_label]
        cells = {c.year: c for c in r.years}
        for y in years:
            c = cells.get(y)
            row += [c.actual if c and r.available else None, c.planned if c else None]
        lead = r.target.lead + ("；" + "、".join(r.target.co_owners) if r.target.co_owners else "")
        row += [gettext(dash.STATUS_LABELS[r.status]), lead]
        rows.append(row)
    # Aggregate figures only, like the page: not audited (evaluators' reads leave no trace either).
    data = excel.table_xlsx(gettext("Programme targets"), heads, rows)
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="programme-targets.xlsx"'},
    )


@router.get("/programme/targets/detail")
def target_detail(request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.TARGETS_READ)) -> Response:
    pack = get_pack()
    key = request.query_params.get("key", "")
    try:
        t = pack.target(key)
    except KeyError as exc:
        raise NotFound(N_("No such target.")) from exc
    years = dash.years_shown(pack)
    year = _int(request.query_params.get("year"), years[-1])
    if year not in years:
        year = years[-1]
    district = dash.scope_district(actor, request.query_params.get("district"))
    cluster = dash.clean_cluster(request.query_params.get("cluster"))
    prog = dash.progress(db, t, pack, district, cluster)
    by_district = dash.breakdown(db, t, year, "district", district, cluster) if prog.available else None
    by_cluster = dash.breakdown(db, t, year, "cluster", district, cluster) if prog.available else None
    drill = dash.drill(db, actor, t, year, district, cluster) if prog.available else None
    return render(
        request,
        "programme/target_detail.html",
        {
            "t": t,
            "pack": pack,
            "prog": prog,
            "year": year,
            "years": years,
            "district": district,
            "cluster": cluster,
            "by_district": by_district,
            "by_cluster": by_cluster,
            "drill": drill,
            "labels": dash.STATUS_LABELS,
            "colours": dash.STATUS_COLOURS,
        },
    )


@router.get("/public/programme")
def public_page(request: Request, db: Session = Depends(get_db), actor: Actor | None = public()) -> Response:
    pack = get_pack()
    rows = dash.dashboard(db)
    cases = (
        db.execute(
            select(CloudAdoption, Organisation)
            .join(Organisation, Organisation.id == CloudAdoption.org_id)
            .where(CloudAdoption.status == adoption.COUNTED, CloudAdoption.stars.is_not(None))
            .order_by(CloudAdoption.stars.desc(), CloudAdoption.counted_at.desc(), CloudAdoption.id)
            .limit(6)
        )
        .all()
    )
    return render(
        request,
        "programme/public.html",
        {
            "pack": pack,
            "rows": rows,
            "cases": cases,
            "areas": {a.key: a for a in pack.cloud_adoption.business_areas},
            # Policy effect with intervals: only groups of at least five enterprises.
            "effects": effect_exports.public_lines(db),
            "effect_labels": (effect_service.INSTRUMENT_LABELS, outcomes_service.LABELS, outcomes_service.UNITS),
        },
    )


# ---------------------------------------------------------------- cloud adoption


ADOPTION_SORTS: dict[str, Any] = {
    "id": lambda r: r[0].id,
    "enterprise": lambda r: r[1].name,
    "district": lambda r: r[1].district or "",
    "provider": lambda r: r[0].provider_name,
    "status": lambda r: r[0].status,
    "stars": lambda r: r[0].stars,
    "counted": lambda r: r[0].counted_year,
}


def _adoption_list_ctx(db: Session, actor: Actor, status: str | None, request: Request) -> dict[str, Any]:
    lp = lists.params(request, ADOPTION_SORTS, "-id")
    rows = adoption.list_for(db, actor, status, limit=LIST_LIMIT)
    pg = lists.paginate_rows(
        rows, lp, ADOPTION_SORTS, lambda r: f"{r[0].id} {r[1].name} {r[0].provider_name} {r[0].contract_no or ''}"
    )
    return {
        "items": pg.items,
        "pg": pg,
        "status": status,
        "statuses": adoption.STATUS_LABELS,
        "areas": get_pack().cloud_adoption.business_areas,
        "can_declare": actor.has(P.ADOPTION_DECLARE),
    }


@router.get("/programme/adoptions")
def adoptions_page(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.ADOPTION_READ)
) -> Response:
    status = request.query_params.get("status") or None
    if status not in adoption.STATUS_LABELS:
        status = None
    return render(
        request,
        "programme/adoptions.html",
        {**_adoption_list_ctx(db, actor, status, request), "flash": _flash(request), "values": {}},
    )


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(N_("Enter a date as YYYY-MM-DD."), field=field) from exc


@router.post("/programme/adoptions")
async def adoption_declare(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.ADOPTION_DECLARE)
) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        amount_raw = values.get("contract_amount", "").strip()
        try:
            amount = Decimal(amount_raw) if amount_raw else None
        except InvalidOperation as exc:
            raise Invalid(N_("Enter a number."), field="contract_amount") from exc
        data = adoption.AdoptionIn(
            areas=[str(v) for v in form.getlist("areas")],
            provider_name=values.get("provider_name", "")[:200],
            live_since=_date(values.get("live_since", ""), "live_since"),
            contract_no=values.get("contract_no", "")[:64],
            contract_date=_date(values["contract_date"], "contract_date") if values.get("contract_date") else None,
            contract_amount=amount,
            note=values.get("note", "")[:2000],
        )
        a = adoption.declare(db, actor, data)
    except AppError as exc:
        return render(
            request,
            "programme/adoptions.html",
            {**_adoption_list_ctx(db, actor, None, request), "error": exc, "values": values},
            status=exc.status,
        )
    return RedirectResponse(f"/programme/adoptions/{a.id}?msg=declared", status_code=303)


def _adoption_ctx(db: Session, actor: Actor, adoption_id: int) -> dict[str, Any]:
    a, corroborated, ev = adoption.preview(db, actor, adoption_id)
    org = db.get(Organisation, a.org_id)
    history = reports_history(db, "cloud_adoption", a.id)
    pack = get_pack()
    return {
        "a": a,
        "org": org,
        "corroborated": corroborated,
        "ev": ev,
        "areas": {x.key: x for x in pack.cloud_adoption.business_areas},
        "stars": {s.stars: s for s in pack.cloud_adoption.star_rating},
        "conditions": adoption.star_conditions(
            pack.cloud_adoption, sum(1 for v in corroborated.values() if v), ev
        ),
        "app_names": app_usage.APPS,
        "spc_running": app_usage.spc_running(db, a.org_id),
        "statuses": adoption.STATUS_LABELS,
        "history": history,
        "can_verify": actor.has(P.ADOPTION_VERIFY) and a.status == adoption.DECLARED,
        "can_count": actor.has(P.ADOPTION_COUNT) and a.status == adoption.VERIFIED,
        "can_resubmit": actor.has(P.ADOPTION_DECLARE) and a.status == adoption.REJECTED and a.org_id == actor.org_id,
    }


def reports_history(db: Session, object_type: str, object_id: int) -> list[Any]:
    from chaoyun.identity.models import AuditEntry

    return list(
        db.execute(
            select(AuditEntry)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id))
            .order_by(AuditEntry.id)
        )
        .scalars()
        .all()
    )


@router.get("/programme/adoptions/{adoption_id}")
def adoption_page(
    request: Request, adoption_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ADOPTION_READ)
) -> Response:
    return render(
        request, "programme/adoption.html", {**_adoption_ctx(db, actor, adoption_id), "flash": _flash(request)}
    )


def _adoption_action(request: Request, db: Session, actor: Actor, adoption_id: int, fn: Any, msg: str) -> Response:
    try:
        fn()
    except AppError as exc:
        if exc.status == 404:
            raise
        db.rollback()
        return render(
            request,
            "programme/adoption.html",
            {**_adoption_ctx(db, actor, adoption_id), "error": exc},
            status=exc.status,
        )
    return RedirectResponse(f"/programme/adoptions/{adoption_id}?msg={msg}", status_code=303)


@router.post("/programme/adoptions/{adoption_id}/verify")
async def adoption_verify(
    request: Request, adoption_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ADOPTION_VERIFY)
) -> Response:
    form = await request.form()
    checked = [str(v) for v in form.getlist("officer_checked")]
    reason = str(form.get("reason") or "")
    return _adoption_action(
        request, db, actor, adoption_id, lambda: adoption.verify(db, actor, adoption_id, checked, reason), "verified"
    )


@router.post("/programme/adoptions/{adoption_id}/reject")
def adoption_reject(
    request: Request,
    adoption_id: DbId,
    reason: str = Form("", max_length=2000),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.ADOPTION_VERIFY),
) -> Response:
    return _adoption_action(
        request, db, actor, adoption_id, lambda: adoption.reject(db, actor, adoption_id, reason), "rejected"
    )


@router.post("/programme/adoptions/{adoption_id}/resubmit")
def adoption_resubmit(
    request: Request, adoption_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ADOPTION_DECLARE)
) -> Response:
    return _adoption_action(
        request, db, actor, adoption_id, lambda: adoption.resubmit(db, actor, adoption_id), "resubmitted"
    )


@router.post("/programme/adoptions/{adoption_id}/count")
def adoption_count(
    request: Request,
    adoption_id: DbId,
    year: str = Form(""),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.ADOPTION_COUNT),
) -> Response:
    y = _int(year, 0) or None
    return _adoption_action(
        request, db, actor, adoption_id, lambda: adoption.count(db, actor, adoption_id, y), "counted"
    )


# ---------------------------------------------------------------- diagnosis


DIAGNOSIS_SORTS: dict[str, Any] = {
    "id": lambda r: r[0].id,
    "enterprise": lambda r: r[1].name,
    "district": lambda r: r[1].district or "",
    "status": lambda r: r[0].status,
    "score": lambda r: r[0].score,
    "level": lambda r: r[0].level,
    "year": lambda r: r[0].year,
}


def _diagnosis_page(db: Session, actor: Actor, status: str | None, request: Request) -> lists.Page[Any]:
    lp = lists.params(request, DIAGNOSIS_SORTS, "-id")
    rows = diag.list_for(db, actor, status, limit=LIST_LIMIT)
    return lists.paginate_rows(rows, lp, DIAGNOSIS_SORTS, lambda r: f"{r[0].id} {r[1].name}")


@router.get("/programme/diagnoses")
def diagnoses_page(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.DIAGNOSIS_READ)
) -> Response:
    status = request.query_params.get("status") or None
    if status not in diag.STATUS_LABELS:
        status = None
    pg = _diagnosis_page(db, actor, status, request)
    return render(
        request,
        "programme/diagnoses.html",
        {
            "items": pg.items,
            "pg": pg,
            "status": status,
            "statuses": diag.STATUS_LABELS,
            "can_start": actor.has(P.DIAGNOSIS_ANSWER),
            "flash": _flash(request),
            "q": diag.questionnaire(),
        },
    )


@router.post("/programme/diagnoses")
def diagnosis_start(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.DIAGNOSIS_ANSWER)
) -> Response:
    try:
        d = diag.start(db, actor)
    except AppError as exc:
        return render(
            request,
            "programme/diagnoses.html",
            {
                "items": (pg := _diagnosis_page(db, actor, None, request)).items,
                "pg": pg,
                "status": None,
                "statuses": diag.STATUS_LABELS,
                "can_start": True,
                "error": exc,
                "q": diag.questionnaire(),
            },
            status=exc.status,
        )
    return RedirectResponse(f"/programme/diagnoses/{d.id}?msg=started", status_code=303)


def _diagnosis_ctx(db: Session, actor: Actor, diagnosis_id: int) -> dict[str, Any]:
    d = diag.get(db, actor, diagnosis_id)
    q = diag.questionnaire()
    return {
        "d": d,
        "org": db.get(Organisation, d.org_id),
        "q": q,
        "result": diag.current_score(d),
        "adjustments": diag.adjustments(db, d.id),
        "statuses": diag.STATUS_LABELS,
        "can_answer": actor.has(P.DIAGNOSIS_ANSWER) and d.status == diag.DRAFT and d.org_id == actor.org_id,
        "can_submit": actor.has(P.DIAGNOSIS_ANSWER) and d.status == diag.DRAFT and d.org_id == actor.org_id,
        "can_review": actor.has(P.DIAGNOSIS_REVIEW) and d.status == diag.SUBMITTED,
        "recommendations": reports.recommendations(db, q, d.answers or {}),
        "history": reports_history(db, "diagnosis", d.id),
    }


@router.get("/programme/diagnoses/{diagnosis_id}")
def diagnosis_page(
    request: Request, diagnosis_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.DIAGNOSIS_READ)
) -> Response:
    return render(
        request, "programme/diagnosis.html", {**_diagnosis_ctx(db, actor, diagnosis_id), "flash": _flash(request)}
    )


def _diag_action(request: Request, db: Session, actor: Actor, diagnosis_id: int, fn: Any, msg: str) -> Response:
    try:
        fn()
    except AppError as exc:
        if exc.status == 404:
            raise
        db.rollback()
        return render(
            request,
            "programme/diagnosis.html",
            {**_diagnosis_ctx(db, actor, diagnosis_id), "error": exc},
            status=exc.status,
        )
    return RedirectResponse(f"/programme/diagnoses/{diagnosis_id}?msg={msg}", status_code=303)


def form_answers(form: Any) -> dict[str, Any]:
    """Form fields ``item:<key>`` (repeated for multi-choice), ``evidence:<field>``, ``scene:<key>``."""
    raw: dict[str, Any] = {"evidence": {}, "scenes": {}}
    q = diag.questionnaire()
    for it in q.items():
        if it.type == "rate":
            continue
        vals = [str(v) for v in form.getlist(f"item:{it.key}")]
        if it.type == "single":
            raw[it.key] = vals[0] if vals else None
        else:
            raw[it.key] = vals
    for f in q.evidence_fields:
        raw["evidence"][f.key] = form.get(f"evidence:{f.key}")
    for s in q.scenes:
        raw["scenes"][s.key] = form.get(f"scene:{s.key}")
    return raw


@router.post("/programme/diagnoses/{diagnosis_id}/answers")
async def diagnosis_answers(
    request: Request, diagnosis_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.DIAGNOSIS_ANSWER)
) -> Response:
    form = await request.form()
    raw = form_answers(form)
    return _diag_action(
        request, db, actor, diagnosis_id, lambda: diag.save_answers(db, actor, diagnosis_id, raw), "saved"
    )


@router.post("/programme/diagnoses/{diagnosis_id}/submit")
def diagnosis_submit(
    request: Request, diagnosis_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.DIAGNOSIS_ANSWER)
) -> Response:
    return _diag_action(request, db, actor, diagnosis_id, lambda: diag.submit(db, actor, diagnosis_id), "submitted")


@router.post("/programme/diagnoses/{diagnosis_id}/adjust")
async def diagnosis_adjust(
    request: Request, diagnosis_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.DIAGNOSIS_REVIEW)
) -> Response:
    form = await request.form()
    key = str(form.get("item_key") or "")
    values = [str(v) for v in form.getlist("value")]
    q = diag.questionnaire()
    it = q.item(key)
    value: Any = values if (it is not None and it.type in ("multi", "areas")) else (values[0] if values else None)
    reason = str(form.get("reason") or "")
    return _diag_action(
        request, db, actor, diagnosis_id, lambda: diag.adjust(db, actor, diagnosis_id, key, value, reason), "adjusted"
    )


@router.post("/programme/diagnoses/{diagnosis_id}/complete")
def diagnosis_complete(
    request: Request,
    diagnosis_id: DbId,
    summary: str = Form("", max_length=4000),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.DIAGNOSIS_REVIEW),
) -> Response:
    return _diag_action(
        request, db, actor, diagnosis_id, lambda: diag.complete(db, actor, diagnosis_id, summary), "completed"
    )


@router.post("/programme/diagnoses/{diagnosis_id}/return")
def diagnosis_return(
    request: Request,
    diagnosis_id: DbId,
    reason: str = Form("", max_length=4000),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.DIAGNOSIS_REVIEW),
) -> Response:
    return _diag_action(
        request, db, actor, diagnosis_id, lambda: diag.return_to_enterprise(db, actor, diagnosis_id, reason), "returned"
    )


@router.get("/programme/diagnoses/{diagnosis_id}/report.pdf")
def diagnosis_pdf(
    diagnosis_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.DIAGNOSIS_READ)
) -> Response:
    d = diag.get(db, actor, diagnosis_id)
    org = db.get(Organisation, d.org_id)
    assert org is not None
    pdf = reports.diagnosis_pdf(db, d, org, diag.questionnaire())
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="diagnosis-{d.id}.pdf"'},
    )


# ---------------------------------------------------------------- evaluation


@router.get("/programme/evaluation")
def evaluation_page(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.EVALUATION_EXPORT)
) -> Response:
    sp = reports.spending(db)
    counts = {
        "adoptions": db.execute(select(func.count()).select_from(CloudAdoption)).scalar_one(),
        "diagnoses": db.execute(select(func.count()).select_from(Diagnosis)).scalar_one(),
    }
    return render(request, "programme/evaluation.html", {"pack": get_pack(), "spending": sp, "counts": counts})


@router.get("/programme/evaluation/report.xlsx")
def evaluation_xlsx(db: Session = Depends(get_db), actor: Actor = requires(P.EVALUATION_EXPORT)) -> Response:
    return Response(
        reports.evaluation_xlsx(db),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="programme-evaluation.xlsx"'},
    )


@router.get("/programme/evaluation/report.pdf")
def evaluation_pdf(db: Session = Depends(get_db), actor: Actor = requires(P.EVALUATION_EXPORT)) -> Response:
    return Response(
        reports.evaluation_pdf(db),
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="programme-evaluation.pdf"'},
    )
