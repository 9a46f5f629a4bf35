"""Pages of the money-and-selection workflows (thin over the services)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.db import get_db, utcnow
from chaoyun.errors import AppError, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Cluster, Role
from chaoyun.programme.pack import get_pack
from chaoyun.programme.workflow_models import (
    DemoApplication,
    DemoMilestone,
    SeatApplication,
    SubsidyApplication,
    Voucher,
    VoucherRound,
    WorkflowFile,
)
from chaoyun.programme.workflows import allocation, demonstration, files, scoring, subsidies, vouchers
from chaoyun.programme.workflows import workflow as wf
from chaoyun.programme.workflows.labels import COST_CATEGORIES, DEMO_KINDS, SUBSIDY_KINDS
from chaoyun.programme.workflows.money import parse_amount, yuan
from chaoyun.programme.workflows.permissions import WF_ACT, WF_APPLY, WF_CITY_READ, WF_MANAGE, WF_READ, WF_SCORE
from chaoyun.timefmt import format_dt
from chaoyun.web import nav
from chaoyun.web.deps import public, requires
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)
T = "programme/workflows/"
nav.register(
    nav.NavItem("enterprise", N_("Vouchers"), "/programme/vouchers", WF_READ, 40, group="programme"),
    nav.NavItem("enterprise", N_("Subsidies"), "/programme/subsidies", WF_READ, 41, group="programme"),
    nav.NavItem("enterprise", N_("Shared services"), "/programme/shared-services", WF_READ, 42, group="programme"),
    nav.NavItem("enterprise", N_("Demonstration"), "/programme/demonstration", WF_READ, 43, group="programme"),
    nav.NavItem("provider", N_("Vouchers"), "/programme/vouchers", WF_READ, 40, group="programme"),
    nav.NavItem("provider", N_("Demonstration"), "/programme/demonstration", WF_READ, 43, group="programme"),
    nav.NavItem("government", N_("Vouchers"), "/programme/vouchers", WF_READ, 40, group="programme"),
    nav.NavItem("government", N_("Subsidies"), "/programme/subsidies", WF_READ, 41, group="programme"),
    nav.NavItem("government", N_("Shared services"), "/programme/shared-services", WF_READ, 42, group="programme"),
    nav.NavItem("government", N_("Demonstration"), "/programme/demonstration", WF_READ, 43, group="programme"),
)


def _ctx(**kw: Any) -> dict[str, Any]:
    base = {
        "yuan": yuan,
        "state_label": lambda s: wf.STATE_LABELS.get(s, s),
        "action_label": lambda a: wf.ACTION_LABELS.get(a, a),
        "category_label": lambda c: COST_CATEGORIES.get(c, c),
        "kind_label": lambda k: files.KIND_LABELS.get(k, k),
        "demo_kind_label": lambda k: DEMO_KINDS.get(k, k),
        "subsidy_kind_label": lambda k: SUBSIDY_KINDS.get(k, k),
        "local": lambda d: format_dt(d, empty="—"),
        # windows are entered as dates, the close inclusive: shown as entered, not as the next midnight
        "day": lambda d: timefmt.format_date(d, empty="—"),
        "end_day": lambda d: timefmt.format_date(timefmt.inclusive_end(d)) if d else "—",
    }
    base.update(kw)
    return base


def _org_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids)))
    return {int(i): str(n) for i, n in rows}


def _date(raw: str, field: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise Invalid(N_("“%(value)s” is not a date (YYYY-MM-DD)."), value=raw[:20], field=field) from None


def _opens(d: date) -> datetime:
    return timefmt.day_start(d)


def _closes(d: date) -> datetime:
    # A window closing on a date includes that whole day (Shantou time).
    return timefmt.day_end_exclusive(d)


def _int(raw: str, field: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise Invalid(N_("“%(value)s” is not a whole number."), value=raw[:20], field=field) from None


async def _uploads(items: list[tuple[str, UploadFile | None]]) -> list[files.Upload]:
    out = []
    limit = files.max_bytes()
    for kind, f in items:
        if f is None or not f.filename:
            continue
        data = await f.read(limit + 1)
        out.append(files.Upload(kind=kind, filename=f.filename, data=data))
    return out


def _back(url: str, msg: str = "saved") -> RedirectResponse:
    return RedirectResponse(f"{url}?msg={msg}", status_code=303)


FLASH = {"saved": N_("Saved."), "done": N_("Done.")}


def _flash(request: Request) -> str | None:
    return FLASH.get(request.query_params.get("msg", ""))


# --- vouchers --------------------------------------------------------------------------------------------


@router.get("/programme/vouchers")
def voucher_list(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> Response:
    rows = vouchers.list_vouchers(db, actor)
    names = _org_names(db, {v.enterprise_org_id for v in rows} | {v.provider_org_id for v in rows})
    return render(
        request,
        T + "vouchers.html",
        _ctx(
            rows=rows,
            names=names,
            open_rounds=vouchers.open_rounds(db),
            flash=_flash(request),
            can_apply=actor.role == Role.ENTERPRISE_ADMIN,
            is_city=actor.is_city_wide,
        ),
    )


def _claim_form(
    request: Request,
    db: Session,
    actor: Actor,
    round_id: int | None,
    error: AppError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    rnds = vouchers.open_rounds(db)
    providers = vouchers.eligible_providers(db)
    pack = get_pack()
    return render(
        request,
        T + "voucher_new.html",
        _ctx(
            rounds=rnds,
            round_id=round_id,
            providers=providers,
            error=error,
            form=form or {},
            eligible=pack.vouchers.eligible_cost_categories,
            excluded=pack.vouchers.excluded_cost_categories,
            market=vouchers.marketplace_available(),
            min_ratio=pack.vouchers.min_payment_ratio,
        ),
        status=error.status if error else 200,
    )


@router.get("/programme/vouchers/new")
def voucher_new(
    request: Request,
    round_id: int | None = Query(None),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_APPLY),
) -> Response:
    return _claim_form(request, db, actor, round_id)


@router.post("/programme/vouchers/new")
async def voucher_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_APPLY)
) -> Response:
    form = dict((await request.form()).items())
    f = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        items = []
        for i in range(6):
            cat, amt = f.get(f"cat{i}", ""), f.get(f"amt{i}", "").strip()
            if not cat or not amt:
                continue
            items.append(vouchers.ItemIn(cat, f.get(f"desc{i}", ""), parse_amount(amt, f"amt{i}")))
        est = f.get("established_on", "").strip()
        data = vouchers.ClaimIn(
            round_id=_int(f.get("round_id", ""), "round_id"),
            provider_org_id=_int(f.get("provider_org_id", ""), "provider_org_id"),
            contract_no=f.get("contract_no", ""),
            contract_signed_on=_date(f.get("contract_signed_on", ""), "contract_signed_on"),
            contract_amount=parse_amount(f.get("contract_amount", ""), "contract_amount"),
            items=items,
            established_on=_date(est, "established_on") if est else None,
        )
        v = vouchers.create_claim(db, actor, data)
    except AppError as exc:
        db.rollback()
        rid = f.get("round_id", "")
        return _claim_form(request, db, actor, int(rid) if rid.isdigit() else None, exc, f)
    return _back(f"/programme/vouchers/{v.id}")


def _voucher_page(request: Request, db: Session, actor: Actor, v: Voucher, error: AppError | None = None) -> Response:
    rnd = db.get(VoucherRound, v.round_id)
    names = _org_names(db, {v.enterprise_org_id, v.provider_org_id})
    parties = vouchers.parties_of(actor, v)
    actions = [a for a in vouchers.VOUCHER.allowed_actions(v.state, parties) if a not in vouchers.SPECIAL_ACTIONS]
    return render(
        request,
        T + "voucher.html",
        _ctx(
            v=v,
            rnd=rnd,
            names=names,
            actions=actions,
            can_redeem="redeem" in vouchers.VOUCHER.allowed_actions(v.state, parties),
            history=wf.history(db, "voucher", v.id),
            docs=vouchers.voucher_files(db, v),
            error=error,
            flash=_flash(request),
            min_ratio=get_pack().vouchers.min_payment_ratio,
            now=utcnow(),
        ),
        status=error.status if error else 200,
    )


@router.get("/programme/vouchers/{voucher_id}")
def voucher_detail(
    request: Request, voucher_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)
) -> Response:
    return _voucher_page(request, db, actor, vouchers.get_voucher(db, actor, voucher_id))


@router.post("/programme/vouchers/{voucher_id}/act")
def voucher_act(
    request: Request,
    voucher_id: int,
    action: str = Form(..., max_length=32),
    note: str = Form("", max_length=2000),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_ACT),
) -> Response:
    vouchers.get_voucher(db, actor, voucher_id)
    try:
        vouchers.act(db, actor, voucher_id, action, note)
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        db.rollback()
        return _voucher_page(request, db, actor, vouchers.get_voucher(db, actor, voucher_id), exc)
    return _back(f"/programme/vouchers/{voucher_id}", "done")


@router.post("/programme/vouchers/{voucher_id}/redeem")
async def voucher_redeem(
    request: Request,
    voucher_id: int,
    actual_paid: str = Form("", max_length=20),
    invoice_no: str = Form("", max_length=64),
    invoice: UploadFile | None = File(None),
    payment_proof: UploadFile | None = File(None),
    acceptance_report: UploadFile | None = File(None),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_APPLY),
) -> Response:
    vouchers.get_voucher(db, actor, voucher_id)
    try:
        ups = await _uploads(
            [("invoice", invoice), ("payment_proof", payment_proof), ("acceptance_report", acceptance_report)]
        )
        data = vouchers.RedemptionIn(parse_amount(actual_paid, "actual_paid"), invoice_no, ups)
        vouchers.redeem(db, actor, voucher_id, data)
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        db.rollback()
        return _voucher_page(request, db, actor, vouchers.get_voucher(db, actor, voucher_id), exc)
    return _back(f"/programme/vouchers/{voucher_id}", "done")


def _file_visible(db: Session, actor: Actor, row: WorkflowFile) -> bool:
    if row.subject_type == "voucher":
        v = db.get(Voucher, row.subject_id)
        return v is not None and vouchers.can_read(actor, v)
    if row.subject_type == "subsidy":
        a = db.get(SubsidyApplication, row.subject_id)
        return a is not None and subsidies.can_read(actor, a)
    return False


@router.get("/programme/files/{wf_file_id}")
def file_download(wf_file_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> Response:
    row = db.get(WorkflowFile, wf_file_id)
    if row is None or not _file_visible(db, actor, row):
        raise NotFound(N_("No such file, or it is not yours to see."))
    try:
        data = files.read(row)
    except FileNotFoundError:
        raise NotFound(N_("No such file, or it is not yours to see.")) from None
    return Response(
        data, media_type=row.content_type, headers={"Content-Disposition": f'attachment; filename="file-{row.id}"'}
    )


@router.get("/gov/programme/voucher-rounds")
def rounds_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_CITY_READ)) -> Response:
    pack = get_pack()
    return render(
        request,
        T + "rounds.html",
        _ctx(
            rows=vouchers.rounds(db),
            flash=_flash(request),
            pack_ratio=pack.vouchers.subsidy_ratio,
            pack_cap=pack.vouchers.cap_per_enterprise,
            can_manage=actor.has(WF_MANAGE),
            this_year=utcnow().year,
        ),
    )


@router.post("/gov/programme/voucher-rounds")
def round_create(
    request: Request,
    year: str = Form(...),
    name: str = Form("", max_length=200),
    budget: str = Form(...),
    face_ratio: str = Form(""),
    cap_per_enterprise: str = Form(""),
    default_provider_quota: str = Form(""),
    claim_opens: str = Form(...),
    claim_closes: str = Form(...),
    redeem_opens: str = Form(...),
    redeem_closes: str = Form(...),
    notice_days: str = Form("5"),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_MANAGE),
) -> Response:
    def ratio(raw: str) -> Decimal | None:
        if not raw.strip():
            return None
        try:
            return Decimal(raw.strip())
        except InvalidOperation:
            raise Invalid(
                N_("“%(value)s” is not a ratio between 0 and 1."), value=raw[:20], field="face_ratio"
            ) from None

    data = vouchers.RoundIn(
        year=_int(year, "year"),
        name=name,
        budget=parse_amount(budget, "budget"),
        claim_opens=_opens(_date(claim_opens, "claim_opens")),
        claim_closes=_closes(_date(claim_closes, "claim_closes")),
        redeem_opens=_opens(_date(redeem_opens, "redeem_opens")),
        redeem_closes=_closes(_date(redeem_closes, "redeem_closes")),
        face_ratio=ratio(face_ratio),
        cap_per_enterprise=parse_amount(cap_per_enterprise, "cap_per_enterprise")
        if cap_per_enterprise.strip()
        else None,
        default_provider_quota=parse_amount(default_provider_quota, "default_provider_quota")
        if default_provider_quota.strip()
        else None,
        notice_days=_int(notice_days, "notice_days"),
    )
    rnd = vouchers.create_round(db, actor, data)
    return _back(f"/gov/programme/voucher-rounds/{rnd.id}")


@router.get("/gov/programme/voucher-rounds/{voucher_round_id}")
def round_detail(
    request: Request, voucher_round_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_CITY_READ)
) -> Response:
    rnd = vouchers.get_round(db, actor, voucher_round_id)
    rows = list(db.execute(select(Voucher).where(Voucher.round_id == rnd.id).order_by(Voucher.id)).scalars())
    names = _org_names(db, {v.enterprise_org_id for v in rows} | {v.provider_org_id for v in rows})
    return render(
        request,
        T + "round.html",
        _ctx(
            rnd=rnd,
            rows=rows,
            names=names,
            quotas=vouchers.quotas(db, rnd.id),
            batches=vouchers.batches(db, rnd.id),
            summary=vouchers.round_summary(db, rnd.id),
            flash=_flash(request),
            can_manage=actor.has(WF_MANAGE),
        ),
    )


@router.post("/gov/programme/voucher-rounds/{voucher_round_id}/conclude")
def round_conclude(
    voucher_round_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)
) -> Response:
    vouchers.get_round(db, actor, voucher_round_id)
    vouchers.conclude_due_notices(db, actor, voucher_round_id)
    return _back(f"/gov/programme/voucher-rounds/{voucher_round_id}", "done")


@router.post("/gov/programme/voucher-rounds/{voucher_round_id}/pay")
def round_pay(
    voucher_round_id: int,
    reference: str = Form("", max_length=100),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_MANAGE),
) -> Response:
    vouchers.get_round(db, actor, voucher_round_id)
    vouchers.pay_batch(db, actor, voucher_round_id, reference)
    return _back(f"/gov/programme/voucher-rounds/{voucher_round_id}", "done")


# --- subsidies -------------------------------------------------------------------------------------------


@router.get("/programme/subsidies")
def subsidy_list(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> Response:
    rows = subsidies.list_applications(db, actor)
    names = _org_names(db, {a.enterprise_org_id for a in rows})
    queue = subsidies.expert_queue(db, actor) if actor.role == Role.EXPERT else []
    pack = get_pack()
    return render(
        request,
        T + "subsidies.html",
        _ctx(
            rows=rows,
            names=names,
            queue=queue,
            flash=_flash(request),
            can_apply=actor.role == Role.ENTERPRISE_ADMIN,
            rules=pack.subsidies,
        ),
    )


def _subsidy_form(
    request: Request, kind: str, error: AppError | None = None, form: dict[str, Any] | None = None
) -> Response:
    pack = get_pack()
    return render(
        request,
        T + "subsidy_new.html",
        _ctx(
            kind=kind if kind in SUBSIDY_KINDS else "innovation",
            rules=pack.subsidies,
            error=error,
            form=form or {},
            categories=[
                *pack.subsidies.innovation.eligible_cost_categories,
                "production_equipment",
                "buildings",
                "other",
            ],
        ),
        status=error.status if error else 200,
    )


@router.get("/programme/subsidies/new")
def subsidy_new(
    request: Request, kind: str = Query("innovation", max_length=16), actor: Actor = requires(WF_APPLY)
) -> Response:
    return _subsidy_form(request, kind)


@router.post("/programme/subsidies/new")
async def subsidy_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_APPLY)
) -> Response:
    form = await request.form()
    f = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    kind = f.get("kind", "innovation")
    try:
        items = []
        for i in range(6):
            cat, amt = f.get(f"cat{i}", ""), f.get(f"amt{i}", "").strip()
            if not cat or not amt:
                continue
            items.append(
                subsidies.CostIn(
                    cat, f.get(f"desc{i}", ""), parse_amount(amt, f"amt{i}"), _date(f.get(f"date{i}", ""), f"date{i}")
                )
            )
        raw_files = [(k, form.get(k)) for k in ("cost_evidence", "certificate")]
        ups = await _uploads([(k, v) for k, v in raw_files if not isinstance(v, str)])  # type: ignore[misc]
        cert_date = f.get("certificate_date", "").strip()
        data = subsidies.ApplicationIn(
            kind=kind,
            title=f.get("title", ""),
            items=items,
            uploads=ups,
            certificate_no=f.get("certificate_no", ""),
            certificate_date=_date(cert_date, "certificate_date") if cert_date else None,
        )
        a = subsidies.create_application(db, actor, data)
    except AppError as exc:
        db.rollback()
        return _subsidy_form(request, kind, exc, f)
    return _back(f"/programme/subsidies/{a.id}")


def _subsidy_page(
    request: Request, db: Session, actor: Actor, a: SubsidyApplication, error: AppError | None = None
) -> Response:
    parties = subsidies.parties_of(actor, a)
    conflict = scoring.conflict_reason(db, actor.user.id, a.enterprise_org_id) if actor.role == Role.EXPERT else None
    return render(
        request,
        T + "subsidy.html",
        _ctx(
            a=a,
            name=_org_names(db, {a.enterprise_org_id}).get(a.enterprise_org_id, ""),
            actions=subsidies.SUBSIDY.allowed_actions(a.state, parties),
            history=wf.history(db, "subsidy", a.id),
            docs=subsidies.application_files(db, a),
            scores=scoring.scores_of(db, "subsidy", a.id),
            avg=scoring.average(db, "subsidy", a.id),
            rubric=scoring.SUBSIDY_RUBRIC,
            rules=get_pack().subsidies,
            can_score=actor.role == Role.EXPERT
            and a.state == wf.CITY_REVIEW
            and a.kind == "innovation"
            and conflict is None,
            conflict=conflict,
            error=error,
            flash=_flash(request),
        ),
        status=error.status if error else 200,
    )


@router.get("/programme/subsidies/{subsidy_id}")
def subsidy_detail(
    request: Request, subsidy_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)
) -> Response:
    return _subsidy_page(request, db, actor, subsidies.get_application(db, actor, subsidy_id))


@router.post("/programme/subsidies/{subsidy_id}/act")
def subsidy_act(
    request: Request,
    subsidy_id: int,
    action: str = Form(..., max_length=32),
    note: str = Form("", max_length=2000),
    reference: str = Form("", max_length=100),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_ACT),
) -> Response:
    subsidies.get_application(db, actor, subsidy_id)
    try:
        subsidies.act(db, actor, subsidy_id, action, note, reference)
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        db.rollback()
        return _subsidy_page(request, db, actor, subsidies.get_application(db, actor, subsidy_id), exc)
    return _back(f"/programme/subsidies/{subsidy_id}", "done")


@router.post("/programme/subsidies/{subsidy_id}/score")
async def subsidy_score(
    request: Request, subsidy_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_SCORE)
) -> Response:
    subsidies.get_application(db, actor, subsidy_id)
    form = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    subsidies.score(db, actor, subsidy_id, form, form.get("comment", ""))
    return _back(f"/programme/subsidies/{subsidy_id}", "done")


# --- shared services ---------------------------------------------------------------------------------------


@router.get("/programme/shared-services")
def services_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> Response:
    mine = allocation.applications(db, actor)
    svc = {s.id: s for s in allocation.services(db)}
    return render(
        request,
        T + "services.html",
        _ctx(
            services=list(svc.values()),
            svc=svc,
            mine=mine,
            explain=allocation.explanation_for,
            flash=_flash(request),
            can_apply=actor.role == Role.ENTERPRISE_ADMIN,
            can_manage=actor.has(WF_MANAGE),
            can_city=actor.has(WF_CITY_READ),
            clusters=list(Cluster),
            areas=get_pack().cloud_adoption.business_areas,
            names=_org_names(db, {a.enterprise_org_id for a in mine}),
            this_year=utcnow().year,
        ),
    )


@router.post("/programme/shared-services/apply")
def service_apply(
    service_id: str = Form(...), db: Session = Depends(get_db), actor: Actor = requires(WF_APPLY)
) -> Response:
    allocation.apply(db, actor, _int(service_id, "service_id"))
    return _back("/programme/shared-services", "done")


@router.post("/programme/seats/{seat_app_id}/release")
def seat_release(
    seat_app_id: int,
    action: str = Form("release", max_length=16),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_ACT),
) -> Response:
    allocation.release(db, actor, seat_app_id, action)
    return _back("/programme/shared-services", "done")


@router.post("/gov/programme/shared-services")
async def service_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)
) -> Response:
    f = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    quotas = {c.value: _int(f.get(f"seats_{c.value}", "0") or "0", f"seats_{c.value}") for c in Cluster}
    s = allocation.create_service(
        db, actor, f.get("name", ""), f.get("area", ""), _int(f.get("year", str(utcnow().year)), "year"), quotas, None
    )
    return _back(f"/gov/programme/shared-services/{s.id}")


@router.get("/gov/programme/shared-services/{shared_service_id}")
def service_detail(
    request: Request, shared_service_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_CITY_READ)
) -> Response:
    s = allocation.get_service(db, shared_service_id)
    board = allocation.board(db, s)
    ids = {a.enterprise_org_id for c in board for a in c.allocated + c.waiting}
    return render(
        request,
        T + "service.html",
        _ctx(
            s=s,
            board=board,
            names=_org_names(db, ids),
            explain=allocation.explanation_for,
            flash=_flash(request),
            can_manage=actor.has(WF_MANAGE),
        ),
    )


@router.post("/gov/programme/shared-services/{shared_service_id}/allocate")
def service_allocate(
    shared_service_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)
) -> Response:
    allocation.run_allocation(db, actor, shared_service_id)
    return _back(f"/gov/programme/shared-services/{shared_service_id}", "done")


# --- demonstration ---------------------------------------------------------------------------------------


@router.get("/programme/demonstration")
def demo_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> Response:
    rows = demonstration.list_applications(db, actor)
    now = utcnow()
    calls = demonstration.calls(db)
    return render(
        request,
        T + "demonstration.html",
        _ctx(
            rows=rows,
            calls=calls,
            open_calls=[c for c in calls if c.opens_at <= now < c.closes_at],
            names=_org_names(db, {a.org_id for a in rows}),
            flash=_flash(request),
            queue=demonstration.expert_queue(db, actor) if actor.role == Role.EXPERT else [],
            can_apply=actor.role in (Role.ENTERPRISE_ADMIN, Role.PROVIDER_ADMIN),
            can_manage=actor.has(WF_MANAGE),
            can_city=actor.has(WF_CITY_READ),
            kinds=DEMO_KINDS,
            this_year=now.year,
        ),
    )


@router.post("/programme/demonstration/apply")
def demo_apply(
    call_id: str = Form(...),
    title: str = Form("", max_length=200),
    summary: str = Form("", max_length=5000),
    metric: str = Form("", max_length=100),
    target_value: str = Form("", max_length=20),
    due_on: str = Form("", max_length=10),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_APPLY),
) -> Response:
    ms = (
        [demonstration.MilestoneIn(metric, metric, parse_amount(target_value, "target_value"), _date(due_on, "due_on"))]
        if metric.strip()
        else []
    )
    a = demonstration.apply(db, actor, _int(call_id, "call_id"), title, summary, ms)
    return _back(f"/programme/demonstration/{a.id}")


def _demo_page(
    request: Request, db: Session, actor: Actor, a: DemoApplication, error: AppError | None = None
) -> Response:
    c = demonstration.get_call(db, a.call_id)
    parties = demonstration.parties_of(actor, a)
    conflict = scoring.conflict_reason(db, actor.user.id, a.org_id) if actor.role == Role.EXPERT else None
    return render(
        request,
        T + "demo_app.html",
        _ctx(
            a=a,
            c=c,
            name=_org_names(db, {a.org_id}).get(a.org_id, ""),
            actions=[
                x for x in demonstration.DEMO.allowed_actions(a.state, parties) if x not in ("select", "not_selected")
            ],
            history=wf.history(db, "demonstration", a.id),
            scores=scoring.scores_of(db, "demonstration", a.id),
            avg=scoring.average(db, "demonstration", a.id),
            conflict=conflict,
            can_score=actor.role == Role.EXPERT and a.state == wf.CITY_REVIEW and conflict is None,
            can_track=a.state == wf.APPROVED and bool(parties & {wf.APPLICANT, wf.CITY, wf.DISTRICT}),
            error=error,
            flash=_flash(request),
        ),
        status=error.status if error else 200,
    )


@router.get("/programme/demonstration/{demo_app_id}")
def demo_detail(
    request: Request, demo_app_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)
) -> Response:
    return _demo_page(request, db, actor, demonstration.get_application(db, actor, demo_app_id))


@router.post("/programme/demonstration/{demo_app_id}/act")
def demo_act(
    request: Request,
    demo_app_id: int,
    action: str = Form(..., max_length=32),
    note: str = Form("", max_length=2000),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_ACT),
) -> Response:
    demonstration.get_application(db, actor, demo_app_id)
    try:
        demonstration.act(db, actor, demo_app_id, action, note)
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        db.rollback()
        return _demo_page(request, db, actor, demonstration.get_application(db, actor, demo_app_id), exc)
    return _back(f"/programme/demonstration/{demo_app_id}", "done")


@router.post("/programme/demonstration/{demo_app_id}/score")
async def demo_score(
    request: Request, demo_app_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_SCORE)
) -> Response:
    demonstration.get_application(db, actor, demo_app_id)
    form = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    demonstration.score(db, actor, demo_app_id, form, form.get("comment", ""))
    return _back(f"/programme/demonstration/{demo_app_id}", "done")


@router.post("/programme/milestones/{milestone_id}")
def milestone_update(
    milestone_id: int,
    actual_value: str = Form(..., max_length=20),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_ACT),
) -> Response:
    m = demonstration.update_milestone(db, actor, milestone_id, actual_value)
    return _back(f"/programme/demonstration/{m.application_id}", "saved")


@router.post("/programme/expert-links")
def expert_link(
    org_id: str = Form(...),
    relation: str = Form("", max_length=200),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_SCORE),
) -> Response:
    scoring.declare_link(db, actor, _int(org_id, "org_id"), relation)
    return _back("/programme/demonstration", "saved")


@router.post("/gov/programme/demonstration-calls")
def call_create(
    kind: str = Form(...),
    year: str = Form(...),
    title: str = Form("", max_length=200),
    opens_on: str = Form(...),
    closes_on: str = Form(...),
    slots: str = Form(...),
    pass_score: str = Form("60"),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_MANAGE),
) -> Response:
    try:
        ps = Decimal(pass_score)
    except InvalidOperation:
        raise Invalid(N_("“%(value)s” is not a whole number."), value=pass_score[:20], field="pass_score") from None
    c = demonstration.create_call(
        db,
        actor,
        kind,
        _int(year, "year"),
        title,
        _opens(_date(opens_on, "opens_on")),
        _closes(_date(closes_on, "closes_on")),
        _int(slots, "slots"),
        ps,
    )
    return _back(f"/gov/programme/demonstration-calls/{c.id}")


@router.get("/gov/programme/demonstration-calls/{demo_call_id}")
def call_detail(
    request: Request, demo_call_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_CITY_READ)
) -> Response:
    c = demonstration.get_call(db, demo_call_id)
    rows = demonstration.list_applications(db, actor, c.id)
    return render(
        request,
        T + "call.html",
        _ctx(
            c=c,
            rows=rows,
            names=_org_names(db, {a.org_id for a in rows}),
            flash=_flash(request),
            can_manage=actor.has(WF_MANAGE),
        ),
    )


@router.post("/gov/programme/demonstration-calls/{demo_call_id}/rank")
def call_rank(demo_call_id: int, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)) -> Response:
    demonstration.rank_call(db, actor, demo_call_id)
    return _back(f"/gov/programme/demonstration-calls/{demo_call_id}", "done")


# --- public notice (公示) -----------------------------------------------------------------------------------


@router.get("/programme/notices")
def notices(request: Request, db: Session = Depends(get_db), actor: Actor | None = public()) -> Response:
    vs = list(db.execute(select(Voucher).where(Voucher.state == wf.PUBLIC_NOTICE).order_by(Voucher.id)).scalars())
    subs = list(
        db.execute(
            select(SubsidyApplication)
            .where(SubsidyApplication.state == wf.PUBLIC_NOTICE)
            .order_by(SubsidyApplication.id)
        ).scalars()
    )
    demos = list(
        db.execute(
            select(DemoApplication).where(DemoApplication.state == wf.PUBLIC_NOTICE).order_by(DemoApplication.id)
        ).scalars()
    )
    ids = (
        {v.enterprise_org_id for v in vs}
        | {v.provider_org_id for v in vs}
        | {a.enterprise_org_id for a in subs}
        | {a.org_id for a in demos}
    )
    return render(
        request, T + "notices.html", _ctx(vouchers=vs, subsidies=subs, demos=demos, names=_org_names(db, ids))
    )


__all__ = ["DemoMilestone", "SeatApplication", "router"]
