"""Pages of payment terms: receivables and payables with the aging report (table, chart, Excel), overdue
invoices, issuing invoices against receipts, terms per counterpart, an invoice with its payments; officers'
anonymised overdue view per district and cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.db import get_db
from chaoyun.errors import AppError, Forbidden, NotFound
from chaoyun.i18n import N_, get_locale
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.supplychain.terms import labels, service
from chaoyun.supplychain.terms.money import parse_amount, yuan
from chaoyun.supplychain.terms.permissions import TERMS_MANAGE, TERMS_OVERSIGHT, TERMS_READ
from chaoyun.supplychain.terms.service import BUCKETS, InvoiceIn, PaymentIn, TermsIn
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import render
from chaoyun.web.validation import field_errors

router = APIRouter(include_in_schema=False)
BASE = "/supplychain/terms"
GOV = "/gov/supplychain/terms"
PAGE_ROWS = 200  # open invoices listed on the page, earliest due first (the API lists up to 500)

nav.register(
    nav.NavItem("enterprise", N_("Payment terms"), BASE, TERMS_READ, 62, group="production"),
    nav.NavItem("government", N_("Overdue payments to suppliers"), GOV, TERMS_OVERSIGHT, 70, group="programme"),
)


def _todos(db: Session, actor: Actor) -> list[nav.Todo]:
    if actor.audience != "enterprise" or not actor.has(TERMS_READ):
        return []
    service.notify_overdue(db, actor.org_id)
    to_pay, owed = service.overdue_counts(db, actor.org_id)
    return [
        nav.Todo(N_("Overdue invoices to pay"), to_pay, f"{BASE}?side=payer#overdue", 30),
        nav.Todo(N_("Invoices overdue to us"), owed, f"{BASE}?side=payee#overdue", 31),
    ]


nav.register_todo("supplychain_terms", _todos)

FLASH = {
    "issued": N_("Invoice issued."),
    "paid": N_("Payment recorded."),
    "cancelled": N_("Invoice cancelled."),
    "proposed": N_("Terms proposed: the other enterprise accepts them to put them in force."),
    "agreed": N_("Terms agreed: they apply to the next invoices."),
}


def _parse(form: FormState, model: type[BaseModel], values: dict[str, Any]) -> Any:
    clean = {k: v for k, v in values.items() if v not in ("", None)}
    try:
        return model(**clean)
    except ValidationError as exc:
        zh = get_locale() != "en"
        for fe in field_errors(exc.errors()):
            name = fe["field"].split(".")[0] if fe["field"] not in ("", "body") else next(iter(values), "")
            form.errors.setdefault(name, fe["message_zh"] if zh else fe["message_en"])
        return None


def _refused(db: Session, form: FormState, exc: AppError) -> None:
    db.rollback()
    form.release()
    if isinstance(exc, NotFound | Forbidden):
        raise exc
    form.fail(exc)


def _once(form: FormState, save: Callable[[], str], fallback: str) -> Response:
    repeat = form.first_submission()
    if repeat is not None:
        return RedirectResponse(repeat or fallback, status_code=303)
    url = save()
    form.submitted(url)
    return RedirectResponse(url, status_code=303)


def _side(request: Request) -> str:
    s = request.query_params.get("side", "payee")
    return s if s in ("payer", "payee") else "payee"


def _counterparts(db: Session, actor: Actor) -> list[Organisation]:
    """Enterprises the actor trades with (receipts either way) or has terms with."""
    from chaoyun.supplychain.models import Receipt

    ids: set[int] = set()
    for mine, other in (
        (Receipt.buyer_org_id, Receipt.supplier_org_id),
        (Receipt.supplier_org_id, Receipt.buyer_org_id),
    ):
        ids |= {o for (o,) in db.execute(select(other).where(mine == actor.org_id).distinct()).all()}
    for a in service.agreements_of(db, actor.org_id):
        ids |= {a.payer_org_id, a.payee_org_id}
    ids.discard(actor.org_id)
    if not ids:
        return []
    return list(db.execute(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)).scalars())


def _home(request: Request, db: Session, actor: Actor, form: FormState | None = None, status: int = 200) -> Response:
    side = _side(request)
    today = timefmt.local_today()
    service.notify_overdue(db, actor.org_id, today)
    ag = service.aging(db, actor.org_id, side, today)
    invoices = service.list_invoices(db, actor, side, "open", limit=PAGE_ROWS)
    partners = _counterparts(db, actor)
    agreements = service.agreements_of(db, actor.org_id)
    names = {o.id: o.name for o in partners}
    chart = {
        "buckets": [b for b in BUCKETS],
        "rows": [{"name": r.name, "values": [float(r.buckets[b]) for b in BUCKETS]} for r in ag.rows[:12]],
        "totals": [float(ag.totals[b]) for b in BUCKETS],
    }
    return render(
        request,
        "sc_terms/home.html",
        {
            "flash": FLASH.get(request.query_params.get("msg", "")),
            "side": side,
            "aging": ag,
            "buckets": BUCKETS,
            "labels": labels,
            "invoices": invoices,
            "overdue": [i for i in invoices if i.due_on < today],
            "receipts": service.invoiceable_receipts(db, actor) if side == "payee" else [],
            "partners": partners,
            "agreements": agreements,
            "names": names,
            "chart": chart,
            "today": today,
            "yuan": yuan,
            "default_days": service.DEFAULT_DAYS,
            "page_rows": PAGE_ROWS,
            "can_manage": actor.has(TERMS_MANAGE),
            "org_id": actor.org_id,
            "form": form or FormState(),
        },
        status=status,
    )


@router.get(BASE)
def home(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TERMS_READ)) -> Response:
    return _home(request, db, actor)


@router.post(f"{BASE}/invoices")
async def issue(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)) -> Response:
    form = await FormState.read(request, actor)
    values = {k: form.get(k).strip() for k in ("receipt_id", "number", "amount", "issued_on")}
    amount = form.check("amount", lambda: parse_amount(values["amount"]) if values["amount"] else None)
    data = _parse(form, InvoiceIn, {**values, "amount": amount}) if form.ok else None
    if data is not None and form.ok:
        try:
            return _once(
                form,
                lambda: f"{BASE}/invoices/{service.issue_invoice(db, actor, data).id}?msg=issued",
                f"{BASE}?side=payee",
            )
        except AppError as exc:
            _refused(db, form, exc)
    return _home(request, db, actor, form, form.status)


@router.post(f"{BASE}/agreements")
async def propose(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)) -> Response:
    form = await FormState.read(request, actor)
    data = _parse(form, TermsIn, {k: form.get(k).strip() for k in ("counterpart_org_id", "side", "days")})
    if data is not None and form.ok:
        try:
            a = service.propose_terms(db, actor, data)
            msg = "agreed" if a.state == "agreed" else "proposed"
            return RedirectResponse(f"{BASE}?side={data.side}&msg={msg}#terms", status_code=303)
        except AppError as exc:
            _refused(db, form, exc)
    return _home(request, db, actor, form, form.status)


@router.post(f"{BASE}/agreements/{{terms_agreement_id}}/accept")
async def accept(
    request: Request, terms_agreement_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    try:
        a = service.accept_terms(db, actor, terms_agreement_id)
        side = "payer" if a.payer_org_id == actor.org_id else "payee"
        return RedirectResponse(f"{BASE}?side={side}&msg=agreed#terms", status_code=303)
    except AppError as exc:
        _refused(db, form, exc)
    return _home(request, db, actor, form, form.status)


def _invoice(
    request: Request, db: Session, actor: Actor, invoice_id: int, form: FormState | None = None, status: int = 200
) -> Response:
    inv = service.get_invoice(db, actor, invoice_id)
    today = timefmt.local_today()
    other = inv.payee_org_id if inv.payer_org_id == actor.org_id else inv.payer_org_id
    o = db.get(Organisation, other)
    return render(
        request,
        "sc_terms/invoice.html",
        {
            "flash": FLASH.get(request.query_params.get("msg", "")),
            "inv": inv,
            "counterpart": o.name if o else "",
            "we_pay": inv.payer_org_id == actor.org_id,
            "payments": service.payments_of(db, inv.id),
            "days_overdue": service.days_overdue(inv, today),
            "labels": labels,
            "yuan": yuan,
            "can_manage": actor.has(TERMS_MANAGE),
            "form": form or FormState(),
            "today": today.isoformat(),
        },
        status=status,
    )


@router.get(f"{BASE}/invoices/{{terms_invoice_id}}")
def invoice(
    request: Request, terms_invoice_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TERMS_READ)
) -> Response:
    return _invoice(request, db, actor, terms_invoice_id)


@router.post(f"{BASE}/invoices/{{terms_invoice_id}}/payments")
async def pay(
    request: Request, terms_invoice_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    values = {k: form.get(k).strip() for k in ("amount", "paid_on", "reference")}
    amount = form.check("amount", lambda: parse_amount(values["amount"]) if values["amount"] else None)
    data = _parse(form, PaymentIn, {**values, "amount": amount}) if form.ok else None
    if data is not None and form.ok:
        url = f"{BASE}/invoices/{terms_invoice_id}"
        try:
            return _once(
                form, lambda: (service.record_payment(db, actor, terms_invoice_id, data), f"{url}?msg=paid")[1], url
            )
        except AppError as exc:
            _refused(db, form, exc)
    return _invoice(request, db, actor, terms_invoice_id, form, form.status)


@router.post(f"{BASE}/invoices/{{terms_invoice_id}}/cancel")
async def cancel(
    request: Request, terms_invoice_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)
) -> Response:
    form = await FormState.read(request, actor)
    try:
        service.cancel_invoice(db, actor, terms_invoice_id)
        return RedirectResponse(f"{BASE}/invoices/{terms_invoice_id}?msg=cancelled", status_code=303)
    except AppError as exc:
        _refused(db, form, exc)
    return _invoice(request, db, actor, terms_invoice_id, form, form.status)


@router.get(GOV)
def officers(request: Request, db: Session = Depends(get_db), actor: Actor = requires(TERMS_OVERSIGHT)) -> Response:
    rows = service.overdue_by_area(db, actor)
    shown = [r for r in rows if not r.withheld]
    chart = {
        "areas": [
            {"district": r.district, "cluster": r.cluster, "values": [float(r.buckets[b]) for b in BUCKETS[1:]]}
            for r in shown
        ],
    }
    return render(
        request,
        "sc_terms/officers.html",
        {
            "rows": rows,
            "buckets": BUCKETS[1:],
            "labels": labels,
            "chart": chart,
            "min_group": service.MIN_GROUP,
            "today": timefmt.local_today(),
        },
    )
