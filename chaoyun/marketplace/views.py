"""Pages of the resource pool for the three audiences (public/enterprise, provider, government)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from chaoyun.db import get_db
from chaoyun.errors import AppError, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor, Permission
from chaoyun.identity.reference import CLUSTER_ZH, Cluster, District
from chaoyun.marketplace import catalogue, files, pool, service, whitelist
from chaoyun.marketplace import permissions as MP
from chaoyun.marketplace.config import market_config
from chaoyun.marketplace.models import Admission, Contract, Offering, ReviewOpinion
from chaoyun.marketplace.reference import (
    ADMISSION_LABELS,
    ASSESSMENT_LABELS,
    CATEGORIES,
    CHECKLIST,
    CONTRACT_LABELS,
    COST_CATEGORIES,
    DEPLOYMENTS,
    IN_POOL,
    OFFERING_KINDS,
    PLATFORM_SCOPES,
    PRICE_MODELS,
    PROVIDER_TYPES,
    RECOMMENDATION_LABELS,
    SAAS_DOMAINS,
    SECURITY_DOMAINS,
)
from chaoyun.marketplace.schemas import (
    ApplicationIn,
    CaseStudy,
    ContractIn,
    OfferingIn,
    ProviderFields,
    RatingIn,
    form_lists,
)
from chaoyun.web import nav
from chaoyun.web.deps import public, requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import INT32_MAX, YEAR_MAX, YEAR_MIN, DbId
from chaoyun.web.render import render
from chaoyun.web.validation import field_errors

router = APIRouter(include_in_schema=False)
P = Permission

nav.register(
    nav.NavItem("any", N_("Service catalogue"), "/market", P.AUTHENTICATED, 50, group="market"),
    nav.NavItem("enterprise", N_("Find services"), "/market/match", MP.MATCH, 51, group="market"),
    nav.NavItem("enterprise", N_("Service contracts"), "/market/contracts", MP.CONTRACTS, 52, group="market"),
    nav.NavItem("provider", N_("Resource pool"), "/provider/pool", P.AUTHENTICATED, 20, group="market"),
    nav.NavItem("provider", N_("My offerings"), "/provider/offerings", MP.PROVIDER_READ, 21, group="market"),
    nav.NavItem("provider", N_("Service contracts"), "/market/contracts", MP.CONTRACTS, 22, group="market"),
    nav.NavItem("government", N_("Resource pool"), "/gov/market", MP.GOV_READ, 40, group="market"),
    nav.NavItem("government", N_("Provincial recommendation"), "/gov/provincial", MP.GOV_READ, 41, group="market"),
    nav.NavItem("government", N_("Match providers to a call"), "/market/match", MP.MATCH, 42, group="market"),
)

FLASH = {
    "applied": N_("Application received. The city bureau will review it; you can sign in to follow it."),
    "saved": N_("Saved."),
    "admitted": N_("The provider is admitted to the resource pool."),
    "rejected": N_("The application is rejected."),
    "rated": N_("Thank you; your rating is saved."),
    "declared": N_("Contract declared; the provider is asked to confirm it."),
    "confirmed": N_("Contract answered."),
    "complained": N_("Complaint received; the city bureau will look into it."),
    "uploaded": N_("Evidence uploaded."),
    "concluded": N_("Assessment concluded."),
    "checked": N_("Spot check recorded."),
    "quota": N_("Quota adjusted; the new quota is shown below."),
}


def labels() -> dict[str, Any]:
    return {
        "CATEGORIES": CATEGORIES,
        "SAAS_DOMAINS": SAAS_DOMAINS,
        "PROVIDER_TYPES": PROVIDER_TYPES,
        "PLATFORM_SCOPES": PLATFORM_SCOPES,
        "OFFERING_KINDS": OFFERING_KINDS,
        "DEPLOYMENTS": DEPLOYMENTS,
        "PRICE_MODELS": PRICE_MODELS,
        "COST_CATEGORIES": COST_CATEGORIES,
        "ADMISSION_LABELS": ADMISSION_LABELS,
        "ASSESSMENT_LABELS": ASSESSMENT_LABELS,
        "CONTRACT_LABELS": CONTRACT_LABELS,
        "RECOMMENDATION_LABELS": RECOMMENDATION_LABELS,
        "WHITELIST_LABELS": service.WHITELIST_LABELS,
        "SECURITY_DOMAINS": SECURITY_DOMAINS,
        "CHECKLIST": CHECKLIST,
        "CLUSTERS": list(Cluster),
        "CLUSTER_ZH": CLUSTER_ZH,
        "DISTRICTS": list(District),
    }


def page(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
    flash = FLASH.get(request.query_params.get("msg", ""))
    return render(request, f"marketplace/{name}", {**labels(), "flash": flash, **ctx}, status=status)


def _errors(request: Request, exc: ValidationError) -> dict[str, str]:
    en = getattr(request.state, "locale", "zh_CN") == "en"
    return {fe["field"]: fe["message_en"] if en else fe["message_zh"] for fe in field_errors(exc.errors())}


async def _uploads(form: Any, name: str, kind: str) -> list[files.Upload]:
    """Files of a multipart field, read up to one byte past the limit so oversize is detected
    without holding arbitrarily large bodies."""
    limit = market_config().upload_max_bytes
    out = []
    for f in form.getlist(name):
        if isinstance(f, UploadFile) and f.filename:
            data = await f.read(limit + 1)
            out.append(files.Upload(f.filename, data, kind))
    return out


# ---------------------------------------------------------------- public catalogue


def _filter(request: Request) -> catalogue.SearchFilter:
    qp = request.query_params
    return catalogue.SearchFilter(
        q=qp.get("q", "")[:200],
        category=qp.get("category", ""),
        industry=qp.get("industry", ""),
        deployment=qp.get("deployment", ""),
        cost_category=qp.get("cost_category", ""),
        whitelisted=qp.get("whitelisted") == "1",
    )


@router.get("/market")
def catalogue_page(request: Request, db: Session = Depends(get_db), actor: Actor | None = public()) -> Response:
    f = _filter(request)
    rows = catalogue.search(db, f)
    ratings = catalogue.rating_summary(db, [o.id for o, _ in rows])
    white = {oid: service.whitelist_state(db, oid).status for oid in {o.org_id for o, _ in rows}}
    return page(request, "catalogue.html", {"rows": rows, "f": f, "ratings": ratings, "white": white})


@router.get("/market/offerings/{offering_id}")
def offering_page(
    request: Request, offering_id: DbId, db: Session = Depends(get_db), actor: Actor | None = public()
) -> Response:
    off, pname = catalogue.public_offering(db, offering_id)
    can_rate = (
        actor is not None
        and actor.audience == "enterprise"
        and catalogue.has_verified_contract(db, actor.org_id, off.org_id)
    )
    return page(
        request,
        "offering.html",
        {
            "off": off,
            "pname": pname,
            "ratings": catalogue.ratings_of(db, off.id),
            "summary": catalogue.rating_summary(db, [off.id]).get(off.id),
            "white": service.whitelist_state(db, off.org_id),
            "eligible": service.voucher_eligibility(db, off.org_id),
            "can_rate": can_rate,
            "is_enterprise": actor is not None and actor.audience == "enterprise",
        },
    )


@router.get("/market/compare")
def compare_page(request: Request, db: Session = Depends(get_db), actor: Actor | None = public()) -> Response:
    try:
        ids = [int(x) for x in request.query_params.getlist("ids") if x.strip()]
    except ValueError:
        ids = []
    error = None
    rows: list[tuple[Offering, str]] = []
    try:
        rows = catalogue.compare(db, ids)
    except AppError as exc:
        error = exc
    ratings = catalogue.rating_summary(db, [o.id for o, _ in rows])
    white = {o.org_id: service.whitelist_state(db, o.org_id).status for o, _ in rows}
    return page(
        request,
        "compare.html",
        {"rows": rows, "ratings": ratings, "white": white, "error": error},
        status=error.status if error else 200,
    )


@router.get("/market/providers/{provider_id}")
def provider_page(
    request: Request, provider_id: DbId, db: Session = Depends(get_db), actor: Actor | None = public()
) -> Response:
    org, adm = catalogue.provider_public(db, provider_id)
    rows = catalogue.search(db, catalogue.SearchFilter(provider_id=org.id))
    return page(
        request,
        "provider.html",
        {
            "org": org,
            "adm": adm,
            "rows": rows,
            "white": service.whitelist_state(db, org.id),
            "eligible": service.voucher_eligibility(db, org.id),
        },
    )


@router.get("/market/apply")
def apply_page(request: Request, actor: Actor | None = public()) -> Response:
    return page(request, "apply.html", {"values": {}, "errors": {}})


@router.post("/market/apply")
async def apply_submit(request: Request, db: Session = Depends(get_db), actor: Actor | None = public()) -> Response:
    form = await request.form()
    values = form_lists(form, ("categories", "saas_domains"))
    errors: dict[str, str] = {}
    error: AppError | None = None
    try:
        uploads = await _uploads(form, "attachments", "qualification") + await _uploads(
            form, "integration_file", "integration_report"
        )
        data = ApplicationIn.model_validate(values)
        pool.apply(db, data, uploads)
        return RedirectResponse("/market/apply?msg=applied", status_code=303)
    except ValidationError as exc:
        errors = _errors(request, exc)
        error = AppError(N_("Some fields are invalid; nothing was saved."))
    except AppError as exc:
        error = exc
        if exc.field:
            errors[exc.field] = exc.message()
    values.pop("password", None)
    return page(request, "apply.html", {"values": values, "errors": errors, "error": error}, status=422)


# ---------------------------------------------------------------- enterprise: match, contracts, ratings


@router.get("/market/match")
def match_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.MATCH)) -> Response:
    qp = request.query_params
    chosen = qp.getlist("areas")
    text_ = qp.get("need", "")[:500]
    industry = qp.get("industry") or catalogue.enterprise_cluster(db, actor)
    need = catalogue.parse_need(chosen, text_, industry)
    asked = bool(chosen or text_.strip())
    offers = catalogue.match_offerings(db, need) if asked else []
    providers = catalogue.match_providers(db, need) if asked and actor.audience == "government" else []
    return page(
        request,
        "match.html",
        {
            "need": need,
            "chosen": chosen,
            "text": text_,
            "industry": industry,
            "offers": offers,
            "providers": providers,
            "asked": asked,
            "weights": catalogue.WEIGHTS,
        },
    )


def _contracts_ctx(db: Session, actor: Actor) -> dict[str, Any]:
    provs = db.execute(
        select(Organisation.id, Organisation.name)
        .join(Admission, Admission.org_id == Organisation.id)
        .where(Admission.status.in_(IN_POOL))
        .order_by(Organisation.name)
    ).all()
    return {"rows": catalogue.contracts_for(db, actor), "providers": provs, "today": date.today().isoformat()}


@router.get("/market/contracts")
def contracts_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.CONTRACTS)) -> Response:
    return page(request, "contracts.html", _contracts_ctx(db, actor))


@router.post("/market/contracts")
async def contract_declare(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.ENTERPRISE_WRITE)
) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    if not values.get("offering_id"):
        values.pop("offering_id", None)
    try:
        catalogue.declare_contract(db, actor, ContractIn.model_validate(values))
    except ValidationError as exc:
        return page(
            request,
            "contracts.html",
            {
                **_contracts_ctx(db, actor),
                "error": Invalid(N_("Some fields are invalid; nothing was saved.")),
                "errors": _errors(request, exc),
            },
            status=422,
        )
    except AppError as exc:
        return page(request, "contracts.html", {**_contracts_ctx(db, actor), "error": exc}, status=exc.status)
    return RedirectResponse("/market/contracts?msg=declared", status_code=303)


@router.post("/market/contracts/{contract_id}/confirm")
def contract_confirm(
    contract_id: DbId,
    accept: str = Form("1"),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.PROVIDER_WRITE),
) -> Response:
    catalogue.confirm_contract(db, actor, contract_id, accept == "1")
    return RedirectResponse("/market/contracts?msg=confirmed", status_code=303)


@router.post("/market/offerings/{offering_id}/rate")
def offering_rate(
    request: Request,
    offering_id: DbId,
    score: str = Form(""),
    comment: str = Form("", max_length=1000),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ENTERPRISE_WRITE),
) -> Response:
    try:
        catalogue.rate(db, actor, offering_id, RatingIn.model_validate({"score": score, "comment": comment}))
    except ValidationError:
        raise Invalid(N_("Give a score from 1 to 5."), field="score") from None
    return RedirectResponse(f"/market/offerings/{offering_id}?msg=rated", status_code=303)


@router.post("/market/complaints")
def complaint_submit(
    provider_org_id: int = Form(..., ge=1, le=INT32_MAX),
    text: str = Form("", max_length=2000),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ENTERPRISE_WRITE),
) -> Response:
    catalogue.complain(db, actor, provider_org_id, text)
    return RedirectResponse("/market/contracts?msg=complained", status_code=303)


@router.get("/market/attachments/{attachment_id}")
def attachment_download(
    attachment_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MP.FILES)
) -> Response:
    att, data = files.read(db, actor, attachment_id)
    # Served as a download, never inline, so an uploaded file cannot run in this site's origin.
    return Response(
        data,
        media_type=att.content_type,
        headers={"Content-Disposition": f'attachment; filename="attachment-{att.id}{PurePath(att.filename).suffix}"'},
    )


# ---------------------------------------------------------------- provider workspace


def _provider_pool_ctx(db: Session, actor: Actor) -> dict[str, Any]:
    adm = service.admission_of(db, actor.org_id)
    year = date.today().year
    assessments = whitelist.assessments_of(db, actor.org_id)
    return {
        "adm": adm,
        "opinions": [],
        "white": service.whitelist_state(db, actor.org_id),
        "eligible": service.voucher_eligibility(db, actor.org_id),
        "assessments": assessments,
        "evidence": {a.id: whitelist.evidence(db, a.id) for a in assessments},
        "quota": pool.quota_view(db, actor.org_id, year),
        "quality": pool.quality(db, actor.org_id),
        "can_write": actor.has(MP.PROVIDER_WRITE) and actor.org.status == "active",
        "values": {},
        "errors": {},
    }


@router.get("/provider/pool")
def provider_pool(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.AUTHENTICATED)
) -> Response:
    # Plain sign-in suffices: an applicant's organisation is pending until admitted, yet it
    # must be able to follow its application here.
    if actor.audience != "provider":
        raise NotFound(N_("This page is for providers."))
    return page(request, "provider_pool.html", _provider_pool_ctx(db, actor))


@router.post("/provider/pool/apply")
async def provider_pool_apply(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.PROVIDER_WRITE)
) -> Response:
    """On bad input the same page comes back (422) with each error beside its field and the values kept."""
    form = await request.form()
    values = form_lists(form, ("categories", "saas_domains"))
    errors: dict[str, str] = {}
    error: AppError | None = None
    try:
        uploads = await _uploads(form, "attachments", "qualification")
        pool.apply_existing(db, actor, ProviderFields.model_validate(values), uploads)
        return RedirectResponse("/provider/pool?msg=saved", status_code=303)
    except ValidationError as exc:
        errors = _errors(request, exc)
        error = AppError(N_("Some fields are invalid; nothing was saved."))
    except NotFound:
        raise
    except AppError as exc:
        db.rollback()
        error = exc
        if exc.field:
            errors[exc.field] = exc.message()
    ctx = _provider_pool_ctx(db, actor) | {"values": values, "errors": errors, "error": error}
    return page(request, "provider_pool.html", ctx, status=422 if errors else error.status)


@router.get("/provider/offerings")
def provider_offerings(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.PROVIDER_READ)
) -> Response:
    rows = catalogue.own_offerings(db, actor)
    return page(
        request,
        "provider_offerings.html",
        {"rows": rows, "ratings": catalogue.rating_summary(db, [o.id for o in rows])},
    )


def _offering_values(off: Offering | None) -> dict[str, Any]:
    if off is None:
        return {"status": "published", "kind": "product", "price_model": "subscription", "case_studies": [{}]}
    return {
        "name": off.name,
        "kind": off.kind,
        "category": off.category,
        "summary": off.summary,
        "description": off.description,
        "industries": off.industries,
        "saas_domains": off.saas_domains,
        "deployment": off.deployment,
        "price_model": off.price_model,
        "price_text": off.price_text,
        "cost_categories": off.cost_categories,
        "status": off.status,
        "case_studies": (off.case_studies or []) + [{}],
    }


def _offering_in(form: Any) -> tuple[dict[str, Any], OfferingIn]:
    values = form_lists(form, ("industries", "saas_domains", "deployment", "cost_categories"))
    cases = []
    for i in range(5):
        c = {
            k: values.pop(f"case_{i}_{k}", "").strip()
            for k in ("customer", "summary", "metric", "before", "after", "unit")
        }
        if any(c.values()):
            cases.append(c)
    values["case_studies"] = cases
    parsed = OfferingIn.model_validate(
        {
            **values,
            "case_studies": [
                CaseStudy.model_validate({k: (v or None) if k in ("before", "after") else v for k, v in c.items()})
                for c in cases
            ],
        }
    )
    return values, parsed


async def _offering_save(request: Request, db: Session, actor: Actor, offering_id: int | None) -> Response:
    form = await request.form()
    values: dict[str, Any] = form_lists(form, ("industries", "saas_domains", "deployment", "cost_categories"))
    try:
        values, data = _offering_in(form)
        if offering_id is None:
            catalogue.create_offering(db, actor, data)
        else:
            catalogue.update_offering(db, actor, offering_id, data)
    except ValidationError as exc:
        return page(
            request,
            "offering_form.html",
            {
                "values": values | {"case_studies": [*values.get("case_studies", []), {}]},
                "errors": _errors(request, exc),
                "error": Invalid(N_("Some fields are invalid; nothing was saved.")),
                "offering_id": offering_id,
            },
            status=422,
        )
    except NotFound:
        raise
    except AppError as exc:
        return page(
            request,
            "offering_form.html",
            {
                "values": values | {"case_studies": [*values.get("case_studies", []), {}]},
                "errors": {exc.field or "": exc.message()},
                "error": exc,
                "offering_id": offering_id,
            },
            status=exc.status,
        )
    return RedirectResponse("/provider/offerings?msg=saved", status_code=303)


@router.get("/provider/offerings/new")
def offering_new(request: Request, actor: Actor = requires(MP.PROVIDER_WRITE)) -> Response:
    return page(request, "offering_form.html", {"values": _offering_values(None), "errors": {}, "offering_id": None})


@router.post("/provider/offerings/new")
async def offering_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.PROVIDER_WRITE)
) -> Response:
    return await _offering_save(request, db, actor, None)


@router.get("/provider/offerings/{offering_id}/edit")
def offering_edit(
    request: Request, offering_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MP.PROVIDER_WRITE)
) -> Response:
    off = catalogue.own_offering(db, actor, offering_id)
    return page(request, "offering_form.html", {"values": _offering_values(off), "errors": {}, "offering_id": off.id})


@router.post("/provider/offerings/{offering_id}/edit")
async def offering_update(
    request: Request, offering_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MP.PROVIDER_WRITE)
) -> Response:
    catalogue.own_offering(db, actor, offering_id)
    return await _offering_save(request, db, actor, offering_id)


@router.post("/provider/assessments/{assessment_id}/evidence")
async def evidence_upload(
    request: Request, assessment_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MP.PROVIDER_WRITE)
) -> Response:
    a = whitelist.get_assessment(db, actor, assessment_id)  # scope first: others' ids answer 404
    form = await request.form()
    ups = await _uploads(form, "file", "evidence")
    if not ups:
        raise Invalid(N_("Choose a file to upload."), field="file")
    item = form.get("item")
    whitelist.add_evidence(db, actor, a.id, item if isinstance(item, str) else "", ups[0])
    back = "/provider/pool" if actor.audience == "provider" else f"/gov/market/assessments/{a.id}"
    return RedirectResponse(f"{back}?msg=uploaded", status_code=303)


# ---------------------------------------------------------------- government




@router.get("/gov/market")
def gov_pool(request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.GOV_READ)) -> Response:
    status = request.query_params.get("status", "")
    rows = pool.provider_rows(db, actor, status if status in ADMISSION_LABELS else "")
    return page(
        request,
        "gov_pool.html",
        {
            "rows": rows,
            "counts": service.pool_counts(db),
            "targets": pool.pool_targets(),
            "status": status,
            "queue": [r for r in rows if r.admission and r.admission.status == "applied"],
        },
    )


@router.get("/gov/market/applications/{application_id}")
def gov_application(
    request: Request, application_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MP.GOV_READ)
) -> Response:
    return _application_page(request, db, actor, application_id)


def _application_page(
    request: Request,
    db: Session,
    actor: Actor,
    application_id: int,
    error: AppError | None = None,
    quota_form: FormState | None = None,
) -> Response:
    adm = pool.get_admission(db, actor, application_id)
    org = db.get(Organisation, adm.org_id)
    year = date.today().year
    from chaoyun.marketplace.models import Attachment, Evaluation

    q = pool.quality(db, adm.org_id)
    white = service.whitelist_state(db, adm.org_id)
    return page(
        request,
        "gov_application.html",
        {
            "adm": adm,
            "org": org,
            "opinions": list(
                db.execute(
                    select(ReviewOpinion).where(ReviewOpinion.admission_id == adm.id).order_by(ReviewOpinion.id)
                ).scalars()
            ),
            "attachments": list(
                db.execute(
                    select(Attachment).where(Attachment.object_type == "admission", Attachment.object_id == adm.id)
                ).scalars()
            ),
            "evaluations": list(
                db.execute(
                    select(Evaluation).where(Evaluation.admission_id == adm.id).order_by(Evaluation.year.desc())
                ).scalars()
            ),
            "quality": q,
            "suggested": pool.suggest_outcome(q, white.ok),
            "white": white,
            "assessments": whitelist.assessments_of(db, adm.org_id),
            "complaints": catalogue.complaints_of(db, adm.org_id),
            "quota": pool.quota_view(db, adm.org_id, year),
            "year": year,
            "can_review": actor.has(MP.REVIEW),
            "can_admit": actor.has(MP.ADMIT),
            "can_assess": actor.has(MP.ASSESS),
            "error": error,
            "quota_form": quota_form,
        },
        status=quota_form.status if quota_form else error.status if error else 200,
    )


def _back(application_id: int, msg: str = "saved") -> Response:
    return RedirectResponse(f"/gov/market/applications/{application_id}?msg={msg}", status_code=303)


def _guard(request: Request, db: Session, actor: Actor, application_id: int, fn: Any, msg: str = "saved") -> Response:
    try:
        fn()
    except NotFound:
        raise
    except AppError as exc:
        db.rollback()
        return _application_page(request, db, actor, application_id, exc)
    return _back(application_id, msg)


@router.post("/gov/market/applications/{application_id}/opinion")
def gov_opinion(
    request: Request,
    application_id: DbId,
    recommend: str = Form("1"),
    comment: str = Form("", max_length=2000),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.REVIEW),
) -> Response:
    return _guard(
        request,
        db,
        actor,
        application_id,
        lambda: pool.add_opinion(db, actor, application_id, recommend == "1", comment),
    )


@router.post("/gov/market/applications/{application_id}/decide")
def gov_decide(
    request: Request,
    application_id: DbId,
    admit: str = Form("1"),
    reason: str = Form("", max_length=2000),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ADMIT),
) -> Response:
    return _guard(
        request,
        db,
        actor,
        application_id,
        lambda: pool.decide(db, actor, application_id, admit == "1", reason),
        "admitted" if admit == "1" else "rejected",
    )


@router.post("/gov/market/applications/{application_id}/evaluate")
def gov_evaluate(
    request: Request,
    application_id: DbId,
    year: int = Form(..., ge=YEAR_MIN, le=YEAR_MAX),
    outcome: str = Form(""),
    reason: str = Form("", max_length=2000),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ADMIT),
) -> Response:
    return _guard(
        request, db, actor, application_id, lambda: pool.evaluate(db, actor, application_id, year, outcome, reason)
    )


@router.post("/gov/market/applications/{application_id}/leading")
def gov_leading(
    request: Request,
    application_id: DbId,
    leading: str = Form("1"),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ADMIT),
) -> Response:
    return _guard(
        request, db, actor, application_id, lambda: pool.set_leading(db, actor, application_id, leading == "1")
    )


@router.post("/gov/market/applications/{application_id}/quota")
async def gov_quota(
    request: Request,
    application_id: DbId,
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ADMIT),
) -> Response:
    """Add to (or take from) a provider's quota; a refusal comes back beside its field, values kept."""
    form = await FormState.read(request, actor)
    year = form.check("year", lambda: _quota_year(form.get("year")))
    amount = form.check("amount", lambda: _quota_amount(form.get("amount")))
    if form.ok and year is not None and amount is not None:
        try:
            pool.adjust_quota(db, actor, application_id, year, amount, form.get("reason")[:500])
            return _back(application_id, "quota")
        except NotFound:
            raise
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _application_page(request, db, actor, application_id, quota_form=form)


def _quota_year(raw: str) -> int:
    try:
        y = int(raw)
    except ValueError:
        raise Invalid(N_("Enter a year."), field="year") from None
    if not YEAR_MIN <= y <= YEAR_MAX:
        raise Invalid(N_("Enter a year."), field="year")
    return y


def _quota_amount(raw: str) -> Decimal:
    text = raw.replace(",", "").replace("，", "").replace("−", "-").strip()
    if not text or len(text) > 20:
        raise Invalid(N_("Enter the change in yuan, e.g. 500000 or -500000."), field="amount")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise Invalid(N_("Enter the change in yuan, e.g. 500000 or -500000."), field="amount") from None


@router.post("/gov/market/applications/{application_id}/assessments")
def gov_open_assessment(
    request: Request, application_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MP.ASSESS)
) -> Response:
    adm = pool.get_admission(db, actor, application_id)
    try:
        a = whitelist.open_assessment(db, actor, adm.org_id)
    except AppError as exc:
        return _application_page(request, db, actor, application_id, exc)
    return RedirectResponse(f"/gov/market/assessments/{a.id}", status_code=303)


@router.post("/gov/market/complaints/{complaint_id}")
def gov_complaint(
    complaint_id: DbId,
    upheld: str = Form("1"),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ADMIT),
) -> Response:
    c = pool.resolve_complaint(db, actor, complaint_id, upheld == "1")
    adm = service.admission_of(db, c.provider_org_id)
    return RedirectResponse(f"/gov/market/applications/{adm.id}?msg=saved" if adm else "/gov/market", status_code=303)


def _assessment_page(
    request: Request, db: Session, actor: Actor, assessment_id: int, error: AppError | None = None
) -> Response:
    a = whitelist.get_assessment(db, actor, assessment_id)
    org = db.get(Organisation, a.org_id)
    return page(
        request,
        "gov_assessment.html",
        {
            "a": a,
            "org": org,
            "adm": service.admission_of(db, a.org_id),
            "evidence": whitelist.evidence(db, a.id),
            "checks": whitelist.spot_checks(db, a.id),
            "white": service.whitelist_state(db, a.org_id),
            "can_assess": actor.has(MP.ASSESS),
            "can_admit": actor.has(MP.ADMIT),
            "error": error,
        },
        status=error.status if error else 200,
    )


@router.get("/gov/market/assessments/{assessment_id}")
def gov_assessment(
    request: Request, assessment_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MP.GOV_READ)
) -> Response:
    return _assessment_page(request, db, actor, assessment_id)


def _aguard(request: Request, db: Session, actor: Actor, assessment_id: int, fn: Any, msg: str) -> Response:
    try:
        fn()
    except NotFound:
        raise
    except AppError as exc:
        db.rollback()
        return _assessment_page(request, db, actor, assessment_id, exc)
    return RedirectResponse(f"/gov/market/assessments/{assessment_id}?msg={msg}", status_code=303)


@router.post("/gov/market/assessments/{assessment_id}/score")
async def gov_score(
    request: Request, assessment_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(MP.ASSESS)
) -> Response:
    form = await request.form()
    scores = {k[6:]: v for k, v in form.items() if k.startswith("score_") and isinstance(v, str)}
    notes = {k[5:]: v for k, v in form.items() if k.startswith("note_") and isinstance(v, str)}
    conclude = form.get("conclude") == "1"
    return _aguard(
        request,
        db,
        actor,
        assessment_id,
        lambda: whitelist.score(db, actor, assessment_id, scores, notes, conclude),
        "concluded" if conclude else "saved",
    )


@router.post("/gov/market/assessments/{assessment_id}/spot-check")
def gov_spot_check(
    request: Request,
    assessment_id: DbId,
    passed: str = Form("1"),
    findings: str = Form("", max_length=2000),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ASSESS),
) -> Response:
    return _aguard(
        request,
        db,
        actor,
        assessment_id,
        lambda: whitelist.spot_check(db, actor, assessment_id, passed == "1", findings),
        "checked",
    )


@router.post("/gov/market/assessments/{assessment_id}/reinstate")
def gov_reinstate(
    request: Request,
    assessment_id: DbId,
    reason: str = Form("", max_length=1000),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ADMIT),
) -> Response:
    return _aguard(
        request, db, actor, assessment_id, lambda: whitelist.reinstate(db, actor, assessment_id, reason), "saved"
    )


def _year(request: Request) -> int:
    try:
        year = int(request.query_params.get("year", "") or date.today().year)
    except ValueError:
        return date.today().year
    # A year outside the calendar's range (e.g. 20 digits) overflowed the database query.
    return year if YEAR_MIN <= year <= YEAR_MAX else date.today().year


@router.get("/gov/provincial")
def gov_provincial(request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.GOV_READ)) -> Response:
    return _provincial_page(request, db, actor, _year(request))


def _provincial_page(request: Request, db: Session, actor: Actor, year: int, error: AppError | None = None) -> Response:
    recs = pool.recommendations(db, year)
    chosen = {o.id for _, o, _ in recs}
    candidates = [
        r
        for r in pool.provider_rows(db, actor)
        if r.admission and r.admission.status in IN_POOL and r.org.id not in chosen
    ]
    return page(
        request,
        "gov_provincial.html",
        {
            "recs": recs,
            "candidates": candidates,
            "year": year,
            "counts": service.pool_counts(db, year),
            "can_admit": actor.has(MP.ADMIT),
            "columns": pool.PROVINCIAL_COLUMNS,
            "error": error,
        },
        status=error.status if error else 200,
    )


@router.post("/gov/provincial")
async def gov_provincial_select(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.ADMIT)
) -> Response:
    form = await request.form()
    try:
        year = int(str(form.get("year") or date.today().year))
        ids = [int(v) for v in form.getlist("org_ids") if isinstance(v, str) and v.isdigit()]
        pool.recommend(db, actor, ids, year)
    except ValueError:
        return _provincial_page(request, db, actor, date.today().year, Invalid(N_("Enter a number.")))
    except AppError as exc:
        db.rollback()
        return _provincial_page(request, db, actor, year, exc)
    return RedirectResponse(f"/gov/provincial?year={year}&msg=saved", status_code=303)


@router.post("/gov/provincial/{recommendation_id}")
def gov_provincial_status(
    request: Request,
    recommendation_id: DbId,
    status: str = Form(...),
    note: str = Form("", max_length=1000),
    db: Session = Depends(get_db),
    actor: Actor = requires(MP.ADMIT),
) -> Response:
    try:
        rec = pool.set_recommendation(db, actor, recommendation_id, status, note)
    except NotFound:
        raise
    except AppError as exc:
        return _provincial_page(request, db, actor, _year(request), exc)
    return RedirectResponse(f"/gov/provincial?year={rec.year}&msg=saved", status_code=303)


@router.get("/gov/provincial/export")
def gov_provincial_export(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(MP.GOV_READ)
) -> Response:
    year = _year(request)
    data = pool.export_provincial(db, year)
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="shantou-provincial-pool-{year}.xlsx"'},
    )


# ---------------------------------------------------------------- home panels


def _gov_panel(db: Session, actor: Actor) -> dict[str, Any]:
    pending = len([1 for _ in db.execute(select(Admission.id).where(Admission.status == "applied")).all()])
    return {"counts": service.pool_counts(db), "targets": pool.pool_targets(), "pending": pending}


def _enterprise_panel(db: Session, actor: Actor) -> dict[str, Any]:
    cluster = catalogue.enterprise_cluster(db, actor)
    rows = catalogue.search(db, catalogue.SearchFilter(industry=cluster), limit=3) if cluster else []
    return {"rows": rows, "cluster": cluster}


def _provider_panel(db: Session, actor: Actor) -> dict[str, Any]:
    adm = service.admission_of(db, actor.org_id)
    return {
        "adm": adm,
        "status_label": ADMISSION_LABELS[adm.status] if adm else "",
        "white": service.whitelist_state(db, actor.org_id),
        "quota": pool.quota_view(db, actor.org_id, date.today().year),
    }


def _market_todo(db: Session, actor: Actor) -> list[nav.Todo]:
    """Provider applications waiting for review (bureau, experts) and contracts a provider must confirm."""
    out = []
    if actor.audience == "government" and actor.has(MP.REVIEW):
        n = db.execute(select(func.count()).select_from(Admission).where(Admission.status == "applied")).scalar_one()
        out.append(nav.Todo(N_("Provider applications to review"), n, "/gov/market?status=applied", 30))
    if actor.audience == "provider" and actor.has(MP.CONTRACTS):
        n = db.execute(
            select(func.count())
            .select_from(Contract)
            .where(Contract.provider_org_id == actor.org_id, Contract.status == "declared")
        ).scalar_one()
        out.append(nav.Todo(N_("Contracts to confirm"), n, "/market/contracts", 30))
    return out


nav.register_todo("marketplace", _market_todo)
nav.register_panel(nav.HomePanel("government", "marketplace/panel_government.html", MP.GOV_READ, _gov_panel, 40))
nav.register_panel(nav.HomePanel("enterprise", "marketplace/panel_enterprise.html", MP.MATCH, _enterprise_panel, 40))
nav.register_panel(nav.HomePanel("provider", "marketplace/panel_provider.html", MP.PROVIDER_READ, _provider_panel, 10))
