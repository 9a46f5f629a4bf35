"""Pages: the common-problem report for officers (PDF and Excel downloads), and an enterprise's consent to be
named as a typical case (a small card loaded into its diagnosis page)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import AppError
from chaoyun.i18n import N_, gettext
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Cluster, District, Role
from chaoyun.programme.commonproblems import pdf, service
from chaoyun.programme.commonproblems.permissions import CONSENT_READ, CONSENT_WRITE, REPORT_READ
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)

nav.register(
    nav.NavItem(
        "government", N_("Common-problem report"), "/programme/common-problems", REPORT_READ, 33, group="programme"
    )
)


def _filters(actor: Actor, cluster: str | None, district: str | None, year: str | None) -> service.Filters:
    return service.clean_filters(actor, cluster, district, year)


@router.get("/programme/common-problems")
def report_page(
    request: Request,
    cluster: str | None = Query(default=None, max_length=40),
    district: str | None = Query(default=None, max_length=40),
    year: str | None = Query(default=None, max_length=40),
    db: Session = Depends(get_db),
    actor: Actor = requires(REPORT_READ),
) -> Response:
    error: AppError | None = None
    try:
        f = _filters(actor, cluster, district, year)
    except AppError as exc:
        error = exc
        f = service.clean_filters(actor, None, None, None)
    rep = service.cached(db, f)
    lo, hi = service.year_range()
    ctx: dict[str, Any] = {
        "rep": rep,
        "f": f,
        "error": error,
        "values": {"cluster": cluster or "", "district": district or "", "year": year or ""},
        "districts": list(District),
        "clusters": list(Cluster),
        "years": list(range(hi, lo - 1, -1)),
        "min_group": service.MIN_GROUP,
        "weak_area_share": service.WEAK_AREA_SHARE,
        "weak_scene_level": service.WEAK_SCENE_LEVEL,
        # Translated here: a msgid such as "OEE (%)" cannot go through the template's %-formatting gettext.
        "outcome_names": {k: gettext(msgid) for k, (msgid, _) in service.OUTCOME_LABELS.items()},
        "q": service.questionnaire(),
        "area_names": {g.key: g for g in service.questionnaire().groups()},
        "locked_district": actor.role == Role.DISTRICT_OFFICER,
        "export_query": _export_query(f),
    }
    return render(request, "programme/commonproblems/report.html", ctx, status=422 if error else 200)


def _export_query(f: service.Filters) -> str:
    parts = [f"{k}={v}" for k, v in (("cluster", f.cluster), ("district", f.district), ("year", f.year)) if v]
    return ("?" + "&".join(parts)) if parts else ""


def _download(content: bytes, media: str, name: str) -> Response:
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/programme/common-problems/report.pdf")
def report_pdf(
    cluster: str | None = Query(default=None, max_length=40),
    district: str | None = Query(default=None, max_length=40),
    year: str | None = Query(default=None, max_length=40),
    db: Session = Depends(get_db),
    actor: Actor = requires(REPORT_READ),
) -> Response:
    rep = service.report(db, actor, cluster, district, year)
    return _download(pdf.report_pdf(rep), "application/pdf", "common-problem-report.pdf")


@router.get("/programme/common-problems/report.xlsx")
def report_xlsx(
    cluster: str | None = Query(default=None, max_length=40),
    district: str | None = Query(default=None, max_length=40),
    year: str | None = Query(default=None, max_length=40),
    db: Session = Depends(get_db),
    actor: Actor = requires(REPORT_READ),
) -> Response:
    rep = service.report(db, actor, cluster, district, year)
    return _download(
        pdf.report_xlsx(rep),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "common-problem-report.xlsx",
    )


# ---------------------------------------------------------------- consent (enterprise)


@router.get("/programme/common-problems/consent")
def consent_card(request: Request, db: Session = Depends(get_db), actor: Actor = requires(CONSENT_READ)) -> Response:
    return render(
        request,
        "programme/commonproblems/_consent.html",
        {
            "named": service.consent_of(db, actor.org_id),
            "can_decide": actor.has(CONSENT_WRITE),
            "saved": request.query_params.get("msg") == "saved",
        },
    )


@router.post("/programme/common-problems/consent")
async def consent_save(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(CONSENT_WRITE)
) -> Response:
    form = await request.form()
    named = str(form.get("named", "")) in ("1", "on", "true", "yes")
    service.set_consent(db, actor, named)
    back = str(form.get("next", "") or "").split("?")[0].split("#")[0]
    # Only back to the enterprise's own diagnosis pages: never an outside address.
    if not back.startswith("/programme/diagnoses") or "//" in back or "\\" in back:
        back = "/programme/diagnoses"
    return RedirectResponse(f"{back}?msg=saved", status_code=303)
