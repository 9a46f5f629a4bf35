"""Demo of payment terms: the demo receipts (made by the supply-chain seed) invoiced by their suppliers, terms
agreed per pair, and payments by each buyer's simulated habit — some pay on the due date, some late, some half,
one not at all — so the aging report and the officers' view show overdue amounts computed by the real rules.
Idempotent: a receipt already invoiced is left alone.

Run by ``chaoyun demo`` after the supply-chain seed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.errors import AppError
from chaoyun.identity.models import Organisation
from chaoyun.supplychain.capacity.demo import admin_of, system_actor
from chaoyun.supplychain.models import Receipt
from chaoyun.supplychain.public import receipts_between
from chaoyun.supplychain.terms import service
from chaoyun.supplychain.terms.models import ReceiptLedger
from chaoyun.supplychain.terms.service import InvoiceIn, PaymentIn, TermsIn

# Per supplier pair, in order: agreed days after receipt (0: payment on delivery, 货到付款), and the buyer's habit
# with that supplier. The demo's receipts are from the last days, so the pairs paying on delivery are the ones that
# can already be overdue.
TERMS_DAYS = (30, 0, 60, 0, 15, 7)
HABITS = ("on_time", "silent", "early", "partial", "late", "on_time")
LATE_DAYS = 12


def _pay_day(habit: str, received: date, due: date) -> tuple[date | None, Decimal]:
    """When the buyer pays and which share (None: not at all)."""
    if habit == "on_time":
        return due, Decimal("1")
    if habit == "early":
        return received, Decimal("1")
    if habit == "late":
        return due + timedelta(days=LATE_DAYS), Decimal("1")
    if habit == "partial":
        return due, Decimal("0.5")
    return None, Decimal("0")


def seed(db: Session, now: datetime | None = None) -> dict[str, int]:
    made = {"terms": 0, "invoices": 0, "payments": 0, "overdue": 0}
    now = now or datetime.now(UTC)
    today = timefmt.to_local(now).date()
    pairs = sorted(
        {(b, s) for b, s in db.execute(select(Receipt.buyer_org_id, Receipt.supplier_org_id).distinct()).all()}
    )
    for i, (buyer_id, supplier_id) in enumerate(pairs):
        buyer, supplier = db.get(Organisation, buyer_id), db.get(Organisation, supplier_id)
        if buyer is None or supplier is None:
            continue
        payer = admin_of(db, buyer) or system_actor(buyer)
        payee = admin_of(db, supplier) or system_actor(supplier)
        days, habit = TERMS_DAYS[i % len(TERMS_DAYS)], HABITS[i % len(HABITS)]
        if service.agreement(db, buyer_id, supplier_id) is None:
            a = service.propose_terms(db, payee, TermsIn(counterpart_org_id=buyer_id, side="payee", days=days))
            service.accept_terms(db, payer, a.id)
            made["terms"] += 1
        for r in receipts_between(db, buyer_id, supplier_id):
            if r.value <= 0 or db.get(ReceiptLedger, r.id) is not None:
                continue
            received = timefmt.to_local(r.received_at).date()
            try:
                inv = service.issue_invoice(
                    db,
                    payee,
                    InvoiceIn(receipt_id=r.id, number=f"FP-{r.number}"[:40], amount=r.value, issued_on=received),
                    today,
                )
            except AppError:
                db.rollback()
                continue
            made["invoices"] += 1
            day, share = _pay_day(habit, received, inv.due_on)
            if day is not None and day <= today:
                amount = (r.value * share).quantize(Decimal("0.01"))
                service.record_payment(
                    db, payer, inv.id, PaymentIn(amount=amount, paid_on=max(day, received), reference="网银转账"), today
                )
                made["payments"] += 1
            db.refresh(inv)
            if inv.state == "open" and inv.due_on < today:
                made["overdue"] += 1
    service.notify_overdue(db, None, today)
    return made
