"""Pages of the money-and-selection workflows (thin over the services)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.db import get_db, utcnow
from chaoyun.errors import AppError, Conflict, Invalid, NotFound
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
from chaoyun.programme.workflows import allocation, demonstration, files, scoring, subsidies, todo, vouchers
from chaoyun.programme.workflows import workflow as wf
from chaoyun.programme.workflows.labels import COST_CATEGORIES, DEMO_KINDS, SUBSIDY_KINDS
from chaoyun.programme.workflows.money import parse_amount, yuan
from chaoyun.programme.workflows.permissions import WF_ACT, WF_APPLY, WF_CITY_READ, WF_MANAGE, WF_READ, WF_SCORE
from chaoyun.timefmt import format_dt
from chaoyun.web import nav
from chaoyun.web.deps import public, requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import INT32_MAX, DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)
T = "programme/workflows/"
# Sane bounds for years typed into programme forms.
YEAR_MIN, YEAR_MAX = 2000, 2100
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
# The money workflows' waiting work (drafts, contracts to confirm, reviews, scores, payments) on every home.
nav.register_todo(
    "workflows", lambda db, actor: [nav.Todo(t.label_msgid, t.count, t.url, 40) for t in todo.todo_counts(db, actor)]
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
        n = int(raw.strip())
    except ValueError:
        raise Invalid(N_("“%(value)s” is not a whole number."), value=raw[:20], field=field) from None
    if abs(n) > INT32_MAX:
        raise Invalid(N_("“%(value)s” is not a whole number."), value=raw[:20], field=field)
    return n


def _msg(msgid: str, **params: Any) -> str:
    """A message in the user's language, for an error noted beside a field."""
    return AppError(msgid, **params).message()


def _amount(raw: str, field: str, positive: str) -> Decimal:
    """A yuan amount; ``positive`` is the message (naming the field) for zero, negative or absurd values."""
    try:
        return parse_amount(raw, field)
    except Invalid as exc:
        if exc.msgid == N_("Amounts must be positive yuan figures."):
            raise Invalid(positive, field=field) from None
        raise


def _year(raw: str, field: str) -> int:
    year = _int(raw, field)
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise Invalid(N_("The year must be between %(min)s and %(max)s."), min=YEAR_MIN, max=YEAR_MAX, field=field)
    return year


def _count(raw: str, field: str, low: int, high: int) -> int:
    n = _int(raw.strip(), field)
    if not low <= n <= high:
        raise Invalid(N_("Enter a whole number from %(min)s to %(max)s."), min=low, max=high, field=field)
    return n


def _past_date(raw: str, field: str) -> date:
    """A date that has already happened (a contract signed, a cost incurred, a certificate issued)."""
    d = _date(raw, field)
    if d > utcnow().date() + timedelta(days=1):
        raise Invalid(N_("This date is in the future."), field=field)
    return d


def _once(db: Session, form: FormState, save: Callable[[], str]) -> Response | None:
    """Save once per form token (``save`` returns the new page's URL): a repeat of the same form (a second
    click, Back and submit again) is sent to what the first one created instead of creating it twice.
    None when refused; the error is then noted in ``form``."""
    repeat = form.first_submission()
    if repeat:
        return RedirectResponse(repeat, status_code=303)
    if repeat == "":
        form.fail(Conflict(N_("This form is already being saved; reload the page in a moment.")))
        return None
    try:
        url = save()
    except AppError as exc:
        db.rollback()
        form.release()
        form.fail(exc)
        return None
    except Exception:
        form.release()
        raise
    form.submitted(url)
    form.clear_staged()
    return _back(url)


def _kept(exc: AppError, **values: str) -> FormState:
    """An action form refused: what was typed (note, reference) comes back with the message beside it."""
    form = FormState(values=dict(values))
    form.fail(exc)
    return form


def _staged_uploads(form: FormState, kinds: tuple[str, ...]) -> list[files.Upload]:
    return [files.Upload(k, f.filename, f.data) for k in kinds if (f := form.upload(k)) is not None]


def _check_scores(form: FormState, rubric: list[dict[str, Any]]) -> None:
    """Every criterion checked, so each wrong score is shown beside its own field."""
    for c in rubric:
        key = str(c["key"])
        form.check(key, partial(scoring.parse_scores, [c], {key: form.get(key)}))


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
    request: Request, db: Session, actor: Actor, round_id: int | None, form: FormState | None = None
) -> Response:
    rnds = vouchers.open_rounds(db)
    providers = vouchers.eligible_providers(db)
    pack = get_pack()
    form = form or FormState()
    return render(
        request,
        T + "voucher_new.html",
        _ctx(
            rounds=rnds,
            round_id=round_id,
            providers=providers,
            error=form.summary,
            form=form,
            eligible=pack.vouchers.eligible_cost_categories,
            excluded=pack.vouchers.excluded_cost_categories,
            market=vouchers.marketplace_available(),
            min_ratio=pack.vouchers.min_payment_ratio,
        ),
        status=form.status,
    )


@router.get("/programme/vouchers/new")
def voucher_new(
    request: Request,
    round_id: int | None = Query(None, ge=1, le=INT32_MAX),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_APPLY),
) -> Response:
    return _claim_form(request, db, actor, round_id)


@router.post("/programme/vouchers/new")
async def voucher_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_APPLY)
) -> Response:
    form = await FormState.read(request, actor)
    items = []
    for i in range(6):
        cat, amt = form.get(f"cat{i}"), form.get(f"amt{i}").strip()
        if not cat and not amt:
            continue
        if not cat:
            form.errors[f"cat{i}"] = _msg(N_("Choose the cost category of this item."))
            continue
        amount = form.check(f"amt{i}", partial(_amount, amt, f"amt{i}", N_("Give the item's amount in yuan.")))
        if amount is not None:
            items.append(vouchers.ItemIn(cat, form.get(f"desc{i}"), amount))
    rid = form.check("round_id", lambda: _int(form.get("round_id"), "round_id"))
    pid = form.check("provider_org_id", lambda: _int(form.get("provider_org_id"), "provider_org_id"))
    if not form.get("contract_no").strip():
        form.errors["contract_no"] = _msg(N_("Give the contract number."))
    signed = form.check("contract_signed_on", lambda: _past_date(form.get("contract_signed_on"), "contract_signed_on"))
    amount = form.check(
        "contract_amount",
        lambda: _amount(form.get("contract_amount"), "contract_amount", N_("The contract amount must be positive.")),
    )
    est_raw = form.get("established_on").strip()
    est = form.check("established_on", lambda: _past_date(est_raw, "established_on")) if est_raw else None
    if form.ok and rid is not None and pid is not None and signed is not None and amount is not None:
        data = vouchers.ClaimIn(
            round_id=rid,
            provider_org_id=pid,
            contract_no=form.get("contract_no"),
            contract_signed_on=signed,
            contract_amount=amount,
            items=items,
            established_on=est,
        )
        done = _once(db, form, lambda: f"/programme/vouchers/{vouchers.create_claim(db, actor, data).id}")
        if done is not None:
            return done
    rid_raw = form.get("round_id")
    return _claim_form(request, db, actor, int(rid_raw) if rid_raw.isdigit() else None, form)


def _voucher_page(
    request: Request,
    db: Session,
    actor: Actor,
    v: Voucher,
    error: AppError | None = None,
    form: FormState | None = None,
) -> Response:
    rnd = db.get(VoucherRound, v.round_id)
    names = _org_names(db, {v.enterprise_org_id, v.provider_org_id})
    parties = vouchers.parties_of(actor, v)
    actions = [a for a in vouchers.VOUCHER.allowed_actions(v.state, parties) if a not in vouchers.SPECIAL_ACTIONS]
    form = form or FormState()
    error = error or form.summary
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
            form=form,
            flash=_flash(request),
            min_ratio=get_pack().vouchers.min_payment_ratio,
            now=utcnow(),
        ),
        status=(form.status if not form.ok else error.status) if error else 200,
    )


@router.get("/programme/vouchers/{voucher_id}")
def voucher_detail(
    request: Request, voucher_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)
) -> Response:
    return _voucher_page(request, db, actor, vouchers.get_voucher(db, actor, voucher_id))


@router.post("/programme/vouchers/{voucher_id}/act")
def voucher_act(
    request: Request,
    voucher_id: DbId,
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
        return _voucher_page(
            request, db, actor, vouchers.get_voucher(db, actor, voucher_id), form=_kept(exc, note=note)
        )
    return _back(f"/programme/vouchers/{voucher_id}", "done")


@router.post("/programme/vouchers/{voucher_id}/redeem")
async def voucher_redeem(
    request: Request, voucher_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_APPLY)
) -> Response:
    v = vouchers.get_voucher(db, actor, voucher_id)
    try:  # a second click (already redeemed) is told so, not asked for the files again
        vouchers.VOUCHER.check(v.state, "redeem", vouchers.parties_of(actor, v))
    except AppError as exc:
        return _voucher_page(request, db, actor, v, error=exc)
    form = await FormState.read(request, actor, files=vouchers.REDEEM_DOCS, max_bytes=files.max_bytes())
    paid = form.check(
        "actual_paid",
        lambda: _amount(form.get("actual_paid"), "actual_paid", N_("The amount actually paid must be positive.")),
    )
    if not form.get("invoice_no").strip():
        form.errors["invoice_no"] = _msg(N_("Give the invoice number."))
    ups = _staged_uploads(form, vouchers.REDEEM_DOCS)
    if form.ok and paid is not None:
        try:
            vouchers.redeem(db, actor, voucher_id, vouchers.RedemptionIn(paid, form.get("invoice_no"), ups))
            form.clear_staged()
            return _back(f"/programme/vouchers/{voucher_id}", "done")
        except AppError as exc:
            if isinstance(exc, NotFound):
                raise
            db.rollback()
            form.fail(exc)
    return _voucher_page(request, db, actor, vouchers.get_voucher(db, actor, voucher_id), form=form)


def _file_visible(db: Session, actor: Actor, row: WorkflowFile) -> bool:
    if row.subject_type == "voucher":
        v = db.get(Voucher, row.subject_id)
        return v is not None and vouchers.can_read(actor, v)
    if row.subject_type == "subsidy":
        a = db.get(SubsidyApplication, row.subject_id)
        return a is not None and subsidies.can_read(actor, a)
    return False


@router.get("/programme/files/{wf_file_id}")
def file_download(wf_file_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> Response:
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
    return _rounds_page(request, db, actor)


def _rounds_page(request: Request, db: Session, actor: Actor, form: FormState | None = None) -> Response:
    pack = get_pack()
    form = form or FormState()
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
            form=form,
            error=form.summary,
        ),
        status=form.status,
    )


@router.post("/gov/programme/voucher-rounds")
async def round_create(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)) -> Response:
    form = await FormState.read(request, actor)

    def ratio() -> Decimal | None:
        raw = form.get("face_ratio").strip()
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or not Decimal(0) < value <= 1:
            raise Invalid(N_("The voucher ratio is a number between 0 and 1."), field="face_ratio")
        return value

    def optional(name: str, msgid: str) -> Decimal | None:
        raw = form.get(name)
        return _amount(raw, name, msgid) if raw.strip() else None

    year = form.check("year", lambda: _year(form.get("year"), "year"))
    budget = form.check("budget", lambda: _amount(form.get("budget"), "budget", N_("The budget must be positive.")))
    face = form.check("face_ratio", ratio)
    cap = form.check(
        "cap_per_enterprise",
        lambda: optional("cap_per_enterprise", N_("The cap per enterprise must be a positive amount in yuan.")),
    )
    quota = form.check(
        "default_provider_quota",
        lambda: optional("default_provider_quota", N_("The provider quota must be a positive amount in yuan.")),
    )
    days = form.check("notice_days", lambda: _int(form.get("notice_days", "5") or "5", "notice_days"))
    windows = {
        k: form.check(k, partial(_date, form.get(k), k))
        for k in ("claim_opens", "claim_closes", "redeem_opens", "redeem_closes")
    }
    if form.ok and year is not None and budget is not None and days is not None:
        d = {k: v for k, v in windows.items() if v is not None}
        data = vouchers.RoundIn(
            year=year,
            name=form.get("name"),
            budget=budget,
            claim_opens=_opens(d["claim_opens"]),
            claim_closes=_closes(d["claim_closes"]),
            redeem_opens=_opens(d["redeem_opens"]),
            redeem_closes=_closes(d["redeem_closes"]),
            face_ratio=face,
            cap_per_enterprise=cap,
            default_provider_quota=quota,
            notice_days=days,
        )
        try:
            rnd = vouchers.create_round(db, actor, data)
            return _back(f"/gov/programme/voucher-rounds/{rnd.id}")
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _rounds_page(request, db, actor, form)


@router.get("/gov/programme/voucher-rounds/{voucher_round_id}")
def round_detail(
    request: Request, voucher_round_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_CITY_READ)
) -> Response:
    rnd = vouchers.get_round(db, actor, voucher_round_id)
    # Drafts are the enterprises' private work: the round page lists submitted claims only.
    q = select(Voucher).where(Voucher.round_id == rnd.id, Voucher.state != wf.DRAFT).order_by(Voucher.id)
    rows = list(db.execute(q).scalars())
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
    voucher_round_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)
) -> Response:
    vouchers.get_round(db, actor, voucher_round_id)
    vouchers.conclude_due_notices(db, actor, voucher_round_id)
    return _back(f"/gov/programme/voucher-rounds/{voucher_round_id}", "done")


@router.post("/gov/programme/voucher-rounds/{voucher_round_id}/pay")
def round_pay(
    voucher_round_id: DbId,
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


def _subsidy_form(request: Request, db: Session, actor: Actor, kind: str, form: FormState | None = None) -> Response:
    pack = get_pack()
    form = form or FormState()
    return render(
        request,
        T + "subsidy_new.html",
        _ctx(
            kind=kind if kind in SUBSIDY_KINDS else "innovation",
            rules=pack.subsidies,
            standing=subsidies.standing(db, actor.org_id),
            error=form.summary,
            form=form,
            categories=[
                *pack.subsidies.innovation.eligible_cost_categories,
                "production_equipment",
                "buildings",
                "other",
            ],
        ),
        status=form.status,
    )


@router.get("/programme/subsidies/new")
def subsidy_new(
    request: Request,
    kind: str = Query("innovation", max_length=16),
    db: Session = Depends(get_db),
    actor: Actor = requires(WF_APPLY),
) -> Response:
    return _subsidy_form(request, db, actor, kind)


@router.post("/programme/subsidies/new")
async def subsidy_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_APPLY)
) -> Response:
    form = await FormState.read(request, actor, files=("cost_evidence", "certificate"), max_bytes=files.max_bytes())
    kind = form.get("kind", "innovation")
    items = []
    for i in range(6):
        cat, amt, on = form.get(f"cat{i}"), form.get(f"amt{i}").strip(), form.get(f"date{i}").strip()
        if not cat and not amt and not on:
            continue
        if not cat:
            form.errors[f"cat{i}"] = _msg(N_("Choose the cost category of this item."))
        amount = form.check(f"amt{i}", partial(_amount, amt, f"amt{i}", N_("Give the item's amount in yuan.")))
        when = form.check(f"date{i}", partial(_past_date, on, f"date{i}"))
        if cat and amount is not None and when is not None:
            items.append(subsidies.CostIn(cat, form.get(f"desc{i}"), amount, when))
    if not form.get("title").strip():
        form.errors["title"] = _msg(N_("Give the application a title."))
    cert_raw = form.get("certificate_date").strip()
    cert_date = form.check("certificate_date", lambda: _past_date(cert_raw, "certificate_date")) if cert_raw else None
    if form.ok:
        data = subsidies.ApplicationIn(
            kind=kind,
            title=form.get("title"),
            items=items,
            uploads=_staged_uploads(form, ("cost_evidence", "certificate")),
            certificate_no=form.get("certificate_no"),
            certificate_date=cert_date,
        )
        done = _once(db, form, lambda: f"/programme/subsidies/{subsidies.create_application(db, actor, data).id}")
        if done is not None:
            return done
    return _subsidy_form(request, db, actor, kind, form)


def _subsidy_page(
    request: Request,
    db: Session,
    actor: Actor,
    a: SubsidyApplication,
    error: AppError | None = None,
    form: FormState | None = None,
) -> Response:
    parties = subsidies.parties_of(actor, a)
    conflict = scoring.conflict_reason(db, actor.user.id, a.enterprise_org_id) if actor.role == Role.EXPERT else None
    scores = scoring.scores_of(db, "subsidy", a.id)
    mine = next((s for s in scores if s.expert_user_id == actor.user.id), None)
    form = form or FormState()
    error = error or form.summary
    return render(
        request,
        T + "subsidy.html",
        _ctx(
            a=a,
            name=_org_names(db, {a.enterprise_org_id}).get(a.enterprise_org_id, ""),
            actions=subsidies.SUBSIDY.allowed_actions(a.state, parties),
            history=wf.history(db, "subsidy", a.id),
            docs=subsidies.application_files(db, a),
            scores=scores,
            my_score=mine,
            avg=scoring.average(db, "subsidy", a.id),
            rubric=scoring.SUBSIDY_RUBRIC,
            rules=get_pack().subsidies,
            standing=subsidies.standing(db, a.enterprise_org_id) if wf.APPLICANT in parties else None,
            can_score=actor.role == Role.EXPERT
            and a.state == wf.CITY_REVIEW
            and a.kind == "innovation"
            and conflict is None
            and mine is None,
            conflict=conflict,
            error=error,
            form=form,
            flash=_flash(request),
        ),
        status=(form.status if not form.ok else error.status) if error else 200,
    )


@router.get("/programme/subsidies/{subsidy_id}")
def subsidy_detail(
    request: Request, subsidy_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)
) -> Response:
    return _subsidy_page(request, db, actor, subsidies.get_application(db, actor, subsidy_id))


@router.post("/programme/subsidies/{subsidy_id}/act")
def subsidy_act(
    request: Request,
    subsidy_id: DbId,
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
        a = subsidies.get_application(db, actor, subsidy_id)
        return _subsidy_page(request, db, actor, a, form=_kept(exc, note=note, reference=reference))
    return _back(f"/programme/subsidies/{subsidy_id}", "done")


@router.post("/programme/subsidies/{subsidy_id}/score")
async def subsidy_score(
    request: Request, subsidy_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_SCORE)
) -> Response:
    subsidies.get_application(db, actor, subsidy_id)
    form = await FormState.read(request, actor)
    _check_scores(form, scoring.SUBSIDY_RUBRIC)
    if form.ok:
        try:
            subsidies.score(db, actor, subsidy_id, form.values, form.get("comment"))
            return _back(f"/programme/subsidies/{subsidy_id}", "done")
        except AppError as exc:
            if isinstance(exc, NotFound):
                raise
            db.rollback()
            form.fail(exc)
    return _subsidy_page(request, db, actor, subsidies.get_application(db, actor, subsidy_id), form=form)


# --- shared services ---------------------------------------------------------------------------------------


@router.get("/programme/shared-services")
def services_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> Response:
    return _services_page(request, db, actor)


def _services_page(request: Request, db: Session, actor: Actor, form: FormState | None = None) -> Response:
    mine = allocation.applications(db, actor)
    svc = {s.id: s for s in allocation.services(db)}
    form = form or FormState()
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
            form=form,
            error=form.summary,
        ),
        status=form.status,
    )


@router.post("/programme/shared-services/apply")
async def service_apply(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_APPLY)) -> Response:
    form = await FormState.read(request, actor)
    sid = form.check("service_id", lambda: _int(form.get("service_id"), "service_id"))
    if sid is not None:
        try:
            allocation.apply(db, actor, sid)
            return _back("/programme/shared-services", "done")
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _services_page(request, db, actor, form)


@router.post("/programme/seats/{seat_app_id}/release")
async def seat_release(
    request: Request, seat_app_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_ACT)
) -> Response:
    form = await FormState.read(request, actor)
    try:
        allocation.release(db, actor, seat_app_id, form.get("action", "release")[:16])
        return _back("/programme/shared-services", "done")
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        db.rollback()
        form.fail(exc)
    return _services_page(request, db, actor, form)


@router.post("/gov/programme/shared-services")
async def service_create(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    quotas: dict[str, int] = {}
    for c in Cluster:
        key = f"seats_{c.value}"
        n = form.check(key, partial(_count, form.get(key, "0") or "0", key, 0, 100000))
        if n is not None:
            quotas[c.value] = n
    year = form.check("year", lambda: _year(form.get("year", str(utcnow().year)), "year"))
    if not form.get("name").strip():
        form.errors["name"] = _msg(N_("Give the service a name."))
    if form.ok and year is not None:
        name, area = form.get("name"), form.get("area")

        def save_service() -> str:
            svc = allocation.create_service(db, actor, name, area, year, quotas, None)
            return f"/gov/programme/shared-services/{svc.id}"

        done = _once(db, form, save_service)
        if done is not None:
            return done
    return _services_page(request, db, actor, form)


@router.get("/gov/programme/shared-services/{shared_service_id}")
def service_detail(
    request: Request, shared_service_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_CITY_READ)
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
    shared_service_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)
) -> Response:
    allocation.run_allocation(db, actor, shared_service_id)
    return _back(f"/gov/programme/shared-services/{shared_service_id}", "done")


# --- demonstration ---------------------------------------------------------------------------------------


@router.get("/programme/demonstration")
def demo_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> Response:
    return _demo_list(request, db, actor)


def _demo_list(request: Request, db: Session, actor: Actor, form: FormState | None = None) -> Response:
    rows = demonstration.list_applications(db, actor)
    now = utcnow()
    calls = demonstration.calls(db)
    form = form or FormState()
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
            form=form,
            error=form.summary,
        ),
        status=form.status,
    )


@router.post("/programme/demonstration/apply")
async def demo_apply(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_APPLY)) -> Response:
    form = await FormState.read(request, actor)
    call_id = form.check("call_id", lambda: _int(form.get("call_id"), "call_id"))
    if not form.get("title").strip():
        form.errors["title"] = _msg(N_("Give the application a title."))
    if not form.get("metric").strip():
        form.errors["metric"] = _msg(N_("Give at least one quantified performance target."))
    target = form.check(
        "target_value",
        lambda: _amount(form.get("target_value"), "target_value", N_("The target value must be a positive number.")),
    )
    due = form.check("due_on", lambda: _date(form.get("due_on"), "due_on"))
    if form.ok and call_id is not None and target is not None and due is not None:
        metric = form.get("metric")
        try:
            a = demonstration.apply(
                db,
                actor,
                call_id,
                form.get("title"),
                form.get("summary")[:5000],
                [demonstration.MilestoneIn(metric, metric, target, due)],
            )
            return _back(f"/programme/demonstration/{a.id}")
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _demo_list(request, db, actor, form)


def _demo_page(
    request: Request,
    db: Session,
    actor: Actor,
    a: DemoApplication,
    error: AppError | None = None,
    form: FormState | None = None,
) -> Response:
    c = demonstration.get_call(db, a.call_id)
    parties = demonstration.parties_of(actor, a)
    conflict = scoring.conflict_reason(db, actor.user.id, a.org_id) if actor.role == Role.EXPERT else None
    scores = scoring.scores_of(db, "demonstration", a.id)
    mine = next((s for s in scores if s.expert_user_id == actor.user.id), None)
    form = form or FormState()
    error = error or form.summary
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
            scores=scores,
            my_score=mine,
            avg=scoring.average(db, "demonstration", a.id),
            conflict=conflict,
            can_score=actor.role == Role.EXPERT and a.state == wf.CITY_REVIEW and conflict is None and mine is None,
            can_track=a.state == wf.APPROVED and bool(parties & {wf.APPLICANT, wf.CITY, wf.DISTRICT}),
            error=error,
            form=form,
            flash=_flash(request),
        ),
        status=(form.status if not form.ok else error.status) if error else 200,
    )


@router.get("/programme/demonstration/{demo_app_id}")
def demo_detail(
    request: Request, demo_app_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)
) -> Response:
    return _demo_page(request, db, actor, demonstration.get_application(db, actor, demo_app_id))


@router.post("/programme/demonstration/{demo_app_id}/act")
def demo_act(
    request: Request,
    demo_app_id: DbId,
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
        a = demonstration.get_application(db, actor, demo_app_id)
        return _demo_page(request, db, actor, a, form=_kept(exc, note=note))
    return _back(f"/programme/demonstration/{demo_app_id}", "done")


@router.post("/programme/demonstration/{demo_app_id}/score")
async def demo_score(
    request: Request, demo_app_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_SCORE)
) -> Response:
    a = demonstration.get_application(db, actor, demo_app_id)
    form = await FormState.read(request, actor)
    _check_scores(form, demonstration.get_call(db, a.call_id).rubric)
    if form.ok:
        try:
            demonstration.score(db, actor, demo_app_id, form.values, form.get("comment"))
            return _back(f"/programme/demonstration/{demo_app_id}", "done")
        except AppError as exc:
            if isinstance(exc, NotFound):
                raise
            db.rollback()
            form.fail(exc)
    return _demo_page(request, db, actor, demonstration.get_application(db, actor, demo_app_id), form=form)


@router.post("/programme/milestones/{milestone_id}")
async def milestone_update(
    request: Request, milestone_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_ACT)
) -> Response:
    form = await FormState.read(request, actor)
    try:
        m = demonstration.update_milestone(db, actor, milestone_id, form.get("actual_value")[:20])
        return _back(f"/programme/demonstration/{m.application_id}", "saved")
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        db.rollback()
        form.fail(exc)
    ms = db.get(DemoMilestone, milestone_id)
    assert ms is not None
    return _demo_page(request, db, actor, demonstration.get_application(db, actor, ms.application_id), form=form)


@router.post("/programme/expert-links")
async def expert_link(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_SCORE)) -> Response:
    form = await FormState.read(request, actor)
    org_id = form.check("org_id", lambda: _int(form.get("org_id"), "org_id"))
    if org_id is not None:
        try:
            scoring.declare_link(db, actor, org_id, form.get("relation")[:200])
            return _back("/programme/demonstration", "saved")
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return _demo_list(request, db, actor, form)


@router.post("/gov/programme/demonstration-calls")
async def call_create(request: Request, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)) -> Response:
    form = await FormState.read(request, actor)
    year = form.check("year", lambda: _year(form.get("year"), "year"))
    opens = form.check("opens_on", lambda: _date(form.get("opens_on"), "opens_on"))
    closes = form.check("closes_on", lambda: _date(form.get("closes_on"), "closes_on"))
    slots = form.check("slots", lambda: _count(form.get("slots"), "slots", 1, 1000))
    pass_score = form.check("pass_score", lambda: _count(form.get("pass_score", "60") or "60", "pass_score", 0, 100))
    if not form.get("title").strip():
        form.errors["title"] = _msg(N_("Give the call a title."))
    if form.ok and year is not None and opens and closes and slots is not None and pass_score is not None:
        kind, title, o, c, ps = form.get("kind"), form.get("title"), _opens(opens), _closes(closes), Decimal(pass_score)

        def save_call() -> str:
            call = demonstration.create_call(db, actor, kind, year, title, o, c, slots, ps)
            return f"/gov/programme/demonstration-calls/{call.id}"

        done = _once(db, form, save_call)
        if done is not None:
            return done
    return _demo_list(request, db, actor, form)


@router.get("/gov/programme/demonstration-calls/{demo_call_id}")
def call_detail(
    request: Request, demo_call_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_CITY_READ)
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
def call_rank(demo_call_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_MANAGE)) -> Response:
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
