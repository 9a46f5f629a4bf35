"""Payment-term rules: agreed terms per counterpart, invoices against receipts, partial payments, due dates,
overdue alerts and the aging report; an anonymised overdue view for officers.

Terms: ``days`` after the receipt of the goods. Without agreed terms the statutory default applies: 60 days, the
longest a large enterprise may take to pay a small or medium one after delivery (《保障中小企业款项支付条例》,
2020, art. 8). An invoice's due date = the receipt's local date + the terms in force when it is issued.

Aging buckets count days past the due date as of a day (default today, Asia/Shanghai): not yet due, 0–30, 31–60,
61–90, over 90.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.supplychain.models import Receipt
from chaoyun.supplychain.public import ReceiptView, receipt_value, receipts_between
from chaoyun.supplychain.service import notify
from chaoyun.supplychain.terms.models import Invoice, Payment, ReceiptLedger, TermsAgreement
from chaoyun.supplychain.terms.money import parse_amount, to_fen, yuan
from chaoyun.supplychain.terms.permissions import TERMS_MANAGE

DEFAULT_DAYS = 60
MAX_DAYS = 365
BUCKETS = ("not_due", "d0_30", "d31_60", "d61_90", "d90_plus")
MIN_GROUP = 3  # officers' view: groups with fewer suppliers owed are withheld


def _manage(actor: Actor) -> None:
    if not actor.has(TERMS_MANAGE):
        raise Forbidden(N_("Your role may not manage invoices and payments."))


def _org_name(db: Session, org_id: int) -> str:
    o = db.get(Organisation, org_id)
    return o.name if o else ""


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


# ---------------------------------------------------------------- terms


def agreement(db: Session, payer_org_id: int, payee_org_id: int) -> TermsAgreement | None:
    return db.execute(
        select(TermsAgreement).where(
            TermsAgreement.payer_org_id == payer_org_id, TermsAgreement.payee_org_id == payee_org_id
        )
    ).scalar_one_or_none()


def terms_days(db: Session, payer_org_id: int, payee_org_id: int) -> tuple[int, bool]:
    """Days after receipt in force between the two, and whether they were agreed (else the statutory default)."""
    a = agreement(db, payer_org_id, payee_org_id)
    if a is not None and a.agreed_at is not None:
        return a.days, True
    return DEFAULT_DAYS, False


class TermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    counterpart_org_id: int = Field(ge=1, le=2**31 - 1)
    side: str = Field(pattern="^(payer|payee)$")  # the proposer's side
    days: int = Field(ge=0, le=MAX_DAYS)


def _counterpart(db: Session, actor: Actor, org_id: int) -> Organisation:
    o = db.get(Organisation, org_id)
    if o is None or o.kind != "enterprise" or o.id == actor.org_id:
        raise Invalid(N_("Choose another enterprise as counterpart."), field="counterpart_org_id")
    return o


def propose_terms(db: Session, actor: Actor, data: TermsIn) -> TermsAgreement:
    """Propose terms to a counterpart; the same days already proposed by the other side makes them agreed."""
    _manage(actor)
    other = _counterpart(db, actor, data.counterpart_org_id)
    payer, payee = (actor.org_id, other.id) if data.side == "payer" else (other.id, actor.org_id)
    a = agreement(db, payer, payee)
    if a is None:
        a = TermsAgreement(payer_org_id=payer, payee_org_id=payee, days=0, state="proposed")
        db.add(a)
    before = {"days": a.days, "state": a.state}
    if a.state == "proposed" and a.proposed_by_org_id == other.id and a.proposed_days == data.days:
        a.days, a.state, a.agreed_at = data.days, "agreed", datetime.now(UTC)
        a.proposed_days = a.proposed_by_org_id = None
    else:
        a.proposed_days, a.proposed_by_org_id, a.state = data.days, actor.org_id, "proposed"
    a.updated_at = datetime.now(UTC)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(N_("These terms were changed at the same time; please try again.")) from None
    record_by(db, actor, "update", "payment_terms", a.id, before=before, after={"days": data.days, "state": a.state})
    db.commit()
    return a


def get_agreement(db: Session, actor: Actor, agreement_id: int) -> TermsAgreement:
    a = db.get(TermsAgreement, agreement_id)
    if a is None or actor.org_id not in (a.payer_org_id, a.payee_org_id):
        raise NotFound(N_("No such payment terms."))
    return a


def accept_terms(db: Session, actor: Actor, agreement_id: int) -> TermsAgreement:
    _manage(actor)
    a = get_agreement(db, actor, agreement_id)
    if a.state != "proposed" or a.proposed_days is None:
        raise Conflict(N_("There is no proposal to accept."))
    if a.proposed_by_org_id == actor.org_id:
        raise Conflict(N_("The other enterprise has to accept your proposal."))
    a.days, a.state, a.agreed_at = a.proposed_days, "agreed", datetime.now(UTC)
    a.proposed_days = a.proposed_by_org_id = None
    record_by(db, actor, "approve", "payment_terms", a.id, after={"days": a.days})
    db.commit()
    return a


def agreements_of(db: Session, org_id: int) -> list[TermsAgreement]:
    stmt = select(TermsAgreement).where(
        (TermsAgreement.payer_org_id == org_id) | (TermsAgreement.payee_org_id == org_id)
    )
    return list(db.execute(stmt.order_by(TermsAgreement.id)).scalars())


# ---------------------------------------------------------------- invoices


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt_id: int = Field(ge=1, le=2**31 - 1)
    number: str = Field(min_length=1, max_length=40)
    amount: Decimal = Field(max_digits=16, decimal_places=6)
    issued_on: date | None = None


def _receipt(db: Session, actor: Actor, receipt_id: int) -> Receipt:
    r = db.get(Receipt, receipt_id)
    if r is None or actor.org_id not in (r.supplier_org_id, r.buyer_org_id):
        raise NotFound(N_("No such receipt."), field="receipt_id")
    return r


def invoiced(db: Session, receipt_id: int) -> Decimal:
    row = db.get(ReceiptLedger, receipt_id)
    return yuan(row.invoiced_fen if row else 0)


def issue_invoice(db: Session, actor: Actor, data: InvoiceIn, today: date | None = None) -> Invoice:
    """The supplier invoices (part of) a receipt. The invoiced total of a receipt never exceeds its accepted
    value, also when two invoices arrive at once (one conditional UPDATE on the receipt's ledger row)."""
    _manage(actor)
    today = today or timefmt.local_today()
    r = _receipt(db, actor, data.receipt_id)
    if r.supplier_org_id != actor.org_id:
        raise Forbidden(N_("Only the supplier who delivered can invoice a receipt."))
    amount = parse_amount(data.amount)
    number = data.number.strip()
    if not number:
        raise Invalid(N_("Enter the invoice number."), field="number")
    issued = data.issued_on or today
    received_on = timefmt.to_local(r.received_at).date()
    if issued > today:
        raise Invalid(N_("The invoice date cannot be in the future."), field="issued_on")
    if issued < received_on:
        raise Invalid(N_("The invoice date cannot be before the receipt."), field="issued_on")
    dup = db.execute(
        select(Invoice.id).where(
            Invoice.payee_org_id == actor.org_id, Invoice.number == number, Invoice.state != "cancelled"
        )
    ).first()
    if dup:
        raise Invalid(N_("You already issued an invoice with this number."), field="number")
    value = receipt_value(db, r.id)
    value_fen, fen = to_fen(value), to_fen(amount)
    if db.get(ReceiptLedger, r.id) is None:
        try:
            with db.begin_nested():
                db.execute(insert(ReceiptLedger).values(receipt_id=r.id, value_fen=value_fen, invoiced_fen=0))
        except IntegrityError:
            pass  # the other invoice created it first
    done = _rowcount(
        db.execute(
            update(ReceiptLedger)
            .where(ReceiptLedger.receipt_id == r.id, ReceiptLedger.invoiced_fen + fen <= value_fen)
            .values(invoiced_fen=ReceiptLedger.invoiced_fen + fen, value_fen=value_fen)
        )
    )
    if not done:
        already = db.execute(
            select(ReceiptLedger.invoiced_fen).where(ReceiptLedger.receipt_id == r.id)
        ).scalar_one_or_none()
        db.rollback()
        left = max(value_fen - int(already or 0), 0)
        raise Invalid(
            N_("The invoice is above the received value: %(value)s yuan received, %(left)s yuan not invoiced yet."),
            field="amount",
            value=f"{value:,.2f}",
            left=f"{yuan(left):,.2f}",
        )
    days, _agreed = terms_days(db, r.buyer_org_id, r.supplier_org_id)
    inv = Invoice(
        number=number,
        receipt_id=r.id,
        payer_org_id=r.buyer_org_id,
        payee_org_id=r.supplier_org_id,
        amount_fen=fen,
        paid_fen=0,
        issued_on=issued,
        received_on=received_on,
        terms_days=days,
        due_on=received_on + timedelta(days=days),
        created_by=actor.user.username,
    )
    db.add(inv)
    db.flush()
    record_by(db, actor, "create", "invoice", inv.id, after=invoice_out(inv))
    notify(
        db,
        inv.payer_org_id,
        "invoice_issued",
        N_("%(org)s issued invoice %(number)s of %(amount)s yuan, due %(due)s."),
        org=actor.org.name,
        number=number,
        amount=f"{amount:,.2f}",
        due=timefmt.format_date(inv.due_on),
    )
    db.commit()
    return inv


def get_invoice(db: Session, actor: Actor, invoice_id: int) -> Invoice:
    inv = db.get(Invoice, invoice_id)
    if inv is None or actor.org_id not in (inv.payer_org_id, inv.payee_org_id):
        raise NotFound(N_("No such invoice."))
    return inv


def cancel_invoice(db: Session, actor: Actor, invoice_id: int) -> Invoice:
    _manage(actor)
    inv = get_invoice(db, actor, invoice_id)
    if inv.payee_org_id != actor.org_id:
        raise Forbidden(N_("Only the enterprise that issued an invoice can cancel it."))
    done = _rowcount(
        db.execute(
            update(Invoice)
            .where(Invoice.id == inv.id, Invoice.state == "open", Invoice.paid_fen == 0)
            .values(state="cancelled")
        )
    )
    if not done:
        db.rollback()
        raise Conflict(N_("Only an open invoice with nothing paid can be cancelled."))
    db.execute(
        update(ReceiptLedger)
        .where(ReceiptLedger.receipt_id == inv.receipt_id)
        .values(invoiced_fen=ReceiptLedger.invoiced_fen - inv.amount_fen)
    )
    record_by(db, actor, "cancel", "invoice", inv.id)
    db.commit()
    db.refresh(inv)
    return inv


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(max_digits=16, decimal_places=6)
    paid_on: date | None = None
    reference: str = Field("", max_length=64)


def record_payment(db: Session, actor: Actor, invoice_id: int, data: PaymentIn, today: date | None = None) -> Payment:
    """A (partial) payment, recorded by the payer or by the payee; never above the open amount (a conditional
    UPDATE, so two payments at once cannot overpay)."""
    _manage(actor)
    today = today or timefmt.local_today()
    inv = get_invoice(db, actor, invoice_id)
    amount = parse_amount(data.amount)
    paid_on = data.paid_on or today
    if paid_on > today:
        raise Invalid(N_("The payment date cannot be in the future."), field="paid_on")
    if paid_on < inv.received_on:
        raise Invalid(N_("The payment date cannot be before the receipt."), field="paid_on")
    if inv.state != "open":
        raise Conflict(N_("This invoice is not open (paid or cancelled)."))
    fen = to_fen(amount)
    done = _rowcount(
        db.execute(
            update(Invoice)
            .where(Invoice.id == inv.id, Invoice.state == "open", Invoice.paid_fen + fen <= Invoice.amount_fen)
            .values(paid_fen=Invoice.paid_fen + fen)
        )
    )
    if not done:
        db.rollback()
        db.refresh(inv)
        raise Invalid(
            N_("The payment is above the open amount (%(open)s yuan)."),
            field="amount",
            open=f"{yuan(inv.amount_fen - inv.paid_fen):,.2f}",
        )
    db.refresh(inv)
    if inv.paid_fen >= inv.amount_fen:
        inv.state = "paid"
    inv.paid_on = max(inv.paid_on or paid_on, paid_on)
    p = Payment(
        invoice_id=inv.id,
        amount_fen=fen,
        paid_on=paid_on,
        reference=data.reference.strip(),
        recorded_by=actor.user.username,
        recorded_by_org_id=actor.org_id,
    )
    db.add(p)
    db.flush()
    record_by(db, actor, "pay", "invoice", inv.id, after={"amount": str(amount), "paid_on": paid_on.isoformat()})
    other = inv.payee_org_id if actor.org_id == inv.payer_org_id else inv.payer_org_id
    notify(
        db,
        other,
        "invoice_paid",
        N_("%(org)s recorded a payment of %(amount)s yuan on invoice %(number)s."),
        org=actor.org.name,
        amount=f"{amount:,.2f}",
        number=inv.number,
    )
    db.commit()
    return p


def payments_of(db: Session, invoice_id: int) -> list[Payment]:
    stmt = select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.paid_on, Payment.id)
    return list(db.execute(stmt).scalars())


def days_overdue(inv: Invoice, today: date) -> int:
    return (today - inv.due_on).days if inv.state == "open" and today > inv.due_on else 0


def invoice_out(inv: Invoice, today: date | None = None) -> dict[str, Any]:
    today = today or timefmt.local_today()
    return {
        "id": inv.id,
        "number": inv.number,
        "receipt_id": inv.receipt_id,
        "payer_org_id": inv.payer_org_id,
        "payee_org_id": inv.payee_org_id,
        "amount": str(yuan(inv.amount_fen)),
        "paid": str(yuan(inv.paid_fen)),
        "open": str(yuan(inv.amount_fen - inv.paid_fen if inv.state == "open" else 0)),
        "issued_on": inv.issued_on.isoformat(),
        "received_on": inv.received_on.isoformat(),
        "terms_days": inv.terms_days,
        "due_on": inv.due_on.isoformat(),
        "state": inv.state,
        "days_overdue": days_overdue(inv, today),
    }


def list_invoices(
    db: Session, actor: Actor, side: str, state: str | None = None, overdue: bool = False, limit: int = 500
) -> list[Invoice]:
    col = Invoice.payer_org_id if side == "payer" else Invoice.payee_org_id
    stmt = select(Invoice).where(col == actor.org_id)
    if state:
        stmt = stmt.where(Invoice.state == state)
    if overdue:
        stmt = stmt.where(Invoice.state == "open", Invoice.due_on < timefmt.local_today())
    return list(db.execute(stmt.order_by(Invoice.due_on, Invoice.id).limit(limit)).scalars())


@dataclass
class Invoiceable:
    receipt: ReceiptView
    buyer_name: str
    invoiced: Decimal
    left: Decimal


def invoiceable_receipts(db: Session, actor: Actor, limit: int = 200) -> list[Invoiceable]:
    """The supplier's receipts with value not invoiced yet, newest first."""
    buyers = [
        b
        for (b,) in db.execute(
            select(Receipt.buyer_org_id).where(Receipt.supplier_org_id == actor.org_id).distinct()
        ).all()
    ]
    views: list[ReceiptView] = []
    for b in buyers:
        views += receipts_between(db, b, actor.org_id)
    ids = [v.id for v in views]
    ledger = (
        {
            r.receipt_id: r.invoiced_fen
            for r in db.execute(select(ReceiptLedger).where(ReceiptLedger.receipt_id.in_(ids))).scalars()
        }
        if ids
        else {}
    )
    names = {b: _org_name(db, b) for b in buyers}
    out = []
    for v in sorted(views, key=lambda v: (v.received_at, v.id), reverse=True):
        done = yuan(ledger.get(v.id, 0))
        if v.value - done > 0:
            out.append(Invoiceable(v, names[v.buyer_org_id], done, v.value - done))
    return out[:limit]


# ---------------------------------------------------------------- aging


@dataclass
class AgingRow:
    org_id: int
    name: str
    invoices: int
    buckets: dict[str, Decimal]
    open: Decimal
    overdue: Decimal


@dataclass
class Aging:
    side: str
    today: date
    rows: list[AgingRow]
    totals: dict[str, Decimal] = field(default_factory=dict)
    open: Decimal = Decimal("0.00")
    overdue: Decimal = Decimal("0.00")


def _bucket_columns(today: date) -> list[Any]:
    open_fen = Invoice.amount_fen - Invoice.paid_fen
    d30, d60, d90 = (today - timedelta(days=n) for n in (30, 60, 90))
    conds = [
        Invoice.due_on >= today + timedelta(days=1),
        (Invoice.due_on <= today) & (Invoice.due_on >= d30),
        (Invoice.due_on < d30) & (Invoice.due_on >= d60),
        (Invoice.due_on < d60) & (Invoice.due_on >= d90),
        Invoice.due_on < d90,
    ]
    return [func.coalesce(func.sum(case((c, open_fen), else_=0)), 0) for c in conds]


def aging(db: Session, org_id: int, side: str, today: date | None = None) -> Aging:
    """Open amounts per counterpart in the buckets not yet due, 0–30, 31–60, 61–90 and over 90 days past due.
    ``side``: "payee" (what others owe the enterprise) or "payer" (what it owes)."""
    today = today or timefmt.local_today()
    me, other = (
        (Invoice.payer_org_id, Invoice.payee_org_id)
        if side == "payer"
        else (Invoice.payee_org_id, Invoice.payer_org_id)
    )
    stmt = (
        select(other, Organisation.name, func.count(), *_bucket_columns(today))
        .join(Organisation, Organisation.id == other)
        .where(me == org_id, Invoice.state == "open")
        .group_by(other, Organisation.name)
    )
    rows = []
    totals = {b: Decimal("0.00") for b in BUCKETS}
    for oid, name, n, *fens in db.execute(stmt).all():
        buckets = {b: yuan(f) for b, f in zip(BUCKETS, fens, strict=True)}
        for b in BUCKETS:
            totals[b] += buckets[b]
        open_ = sum(buckets.values(), Decimal("0.00"))
        rows.append(AgingRow(oid, name, int(n), buckets, open_, open_ - buckets["not_due"]))
    rows.sort(key=lambda r: (-r.overdue, -r.open, r.name))
    open_all = sum(totals.values(), Decimal("0.00"))
    return Aging(side, today, rows, totals, open_all, open_all - totals["not_due"])


def aging_out(a: Aging) -> dict[str, Any]:
    return {
        "side": a.side,
        "as_of": a.today.isoformat(),
        "buckets": list(BUCKETS),
        "rows": [
            {
                "org_id": r.org_id,
                "name": r.name,
                "invoices": r.invoices,
                **{b: str(v) for b, v in r.buckets.items()},
                "open": str(r.open),
                "overdue": str(r.overdue),
            }
            for r in a.rows
        ],
        "totals": {b: str(v) for b, v in a.totals.items()},
        "open": str(a.open),
        "overdue": str(a.overdue),
    }


def overdue_counts(db: Session, org_id: int, today: date | None = None) -> tuple[int, int]:
    """Overdue open invoices the enterprise has to pay, and those others owe it."""
    today = today or timefmt.local_today()
    out = []
    for col in (Invoice.payer_org_id, Invoice.payee_org_id):
        out.append(
            int(
                db.execute(
                    select(func.count())
                    .select_from(Invoice)
                    .where(col == org_id, Invoice.state == "open", Invoice.due_on < today)
                ).scalar_one()
            )
        )
    return out[0], out[1]


def notify_overdue(db: Session, org_id: int | None = None, today: date | None = None) -> int:
    """Tell payer and payee, once, of each open invoice that has passed its due date (of one enterprise, or all).
    Called by the terms pages, the home page's to-do list and the demo; commits."""
    today = today or timefmt.local_today()
    stmt = select(Invoice).where(Invoice.state == "open", Invoice.due_on < today, Invoice.overdue_notified_at.is_(None))
    if org_id is not None:
        stmt = stmt.where((Invoice.payer_org_id == org_id) | (Invoice.payee_org_id == org_id))
    rows = list(db.execute(stmt.limit(500)).scalars())
    if not rows:
        return 0
    names = dict(
        db.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_({i.payer_org_id for i in rows} | {i.payee_org_id for i in rows})
            )
        ).all()
    )
    now = datetime.now(UTC)
    for inv in rows:
        open_ = f"{yuan(inv.amount_fen - inv.paid_fen):,.2f}"
        due = timefmt.format_date(inv.due_on)
        notify(
            db,
            inv.payer_org_id,
            "invoice_overdue",
            N_("Invoice %(number)s of %(org)s is overdue since %(due)s: %(open)s yuan open."),
            number=inv.number,
            org=names.get(inv.payee_org_id, ""),
            due=due,
            open=open_,
        )
        notify(
            db,
            inv.payee_org_id,
            "invoice_overdue",
            N_("%(org)s has not paid invoice %(number)s, due %(due)s: %(open)s yuan open."),
            number=inv.number,
            org=names.get(inv.payer_org_id, ""),
            due=due,
            open=open_,
        )
        inv.overdue_notified_at = now
    db.commit()
    return len(rows)


# ---------------------------------------------------------------- officers: anonymised overdue view


@dataclass
class AreaRow:
    district: str | None
    cluster: str | None
    suppliers_owed: int  # payees with overdue amounts
    payers_late: int
    invoices: int
    buckets: dict[str, Decimal]
    overdue: Decimal
    withheld: bool


def overdue_by_area(db: Session, actor: Actor, today: date | None = None) -> list[AreaRow]:
    """Overdue amounts owed to suppliers per district and cluster (of the supplier), no enterprise named; a
    group with fewer than three suppliers owed shows only that it exists. District officers see their district."""
    today = today or timefmt.local_today()
    cols = _bucket_columns(today)[1:]
    stmt = (
        select(
            Organisation.district,
            EnterpriseProfile.cluster,
            func.count(func.distinct(Invoice.payee_org_id)),
            func.count(func.distinct(Invoice.payer_org_id)),
            func.count(),
            *cols,
        )
        .join(Organisation, Organisation.id == Invoice.payee_org_id)
        .outerjoin(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
        .where(Invoice.state == "open", Invoice.due_on < today)
        .group_by(Organisation.district, EnterpriseProfile.cluster)
    )
    if not actor.is_city_wide:
        if actor.role != Role.DISTRICT_OFFICER or not actor.district:
            return []
        stmt = stmt.where(Organisation.district == actor.district)
    out = []
    for district, cluster, payees, payers, n, *fens in db.execute(stmt).all():
        buckets = {b: yuan(f) for b, f in zip(BUCKETS[1:], fens, strict=True)}
        withheld = int(payees) < MIN_GROUP
        total = sum(buckets.values(), Decimal("0.00"))
        if withheld:
            buckets = {b: Decimal("0.00") for b in buckets}
            total = Decimal("0.00")
        out.append(
            AreaRow(
                district,
                cluster,
                int(payees),
                0 if withheld else int(payers),
                0 if withheld else int(n),
                buckets,
                total,
                withheld,
            )
        )
    out.sort(key=lambda r: (r.district or "", r.cluster or ""))
    return out


def agreement_out(a: TermsAgreement) -> dict[str, Any]:
    return {
        "id": a.id,
        "payer_org_id": a.payer_org_id,
        "payee_org_id": a.payee_org_id,
        "days": a.days if a.agreed_at else None,
        "proposed_days": a.proposed_days,
        "proposed_by_org_id": a.proposed_by_org_id,
        "state": a.state,
    }
