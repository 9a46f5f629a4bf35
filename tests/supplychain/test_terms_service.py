"""Payment terms: invoices against receipts, terms, partial payments, overdue, aging, officers' view; bad input
refused with both languages and nothing half-saved."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.errors import Conflict, Invalid
from chaoyun.identity.models import Membership, User
from chaoyun.identity.permissions import Actor
from chaoyun.supplychain.models import Event
from chaoyun.supplychain.terms import service
from chaoyun.supplychain.terms.models import Invoice, Payment
from chaoyun.supplychain.terms.service import InvoiceIn, PaymentIn, TermsIn
from tests.supplychain.capacity_terms_helpers import admin, enterprise, receipt


def _count(db: Session, model: type) -> int:
    return int(db.execute(select(func.count()).select_from(model)).scalar_one())


def test_invoice_due_date_partial_payments_and_aging(db: Session) -> None:
    buyer, supplier = enterprise(db, "龙头玩具"), enterprise(db, "小模具厂")
    b, s = admin(db, buyer), admin(db, supplier)
    today = date.today()
    r = receipt(db, buyer, supplier, Decimal("10000.00"), datetime.now(UTC) - timedelta(days=100))
    received = service.timefmt.to_local(r.received_at).date()
    # No agreed terms: the statutory 60 days after receipt.
    inv = service.issue_invoice(db, s, InvoiceIn(receipt_id=r.id, number="FP001", amount=Decimal("6000.00")))
    assert inv.terms_days == 60 and inv.due_on == received + timedelta(days=60)
    # Terms proposed by the buyer, accepted by the supplier: 30 days for the next invoice.
    a = service.propose_terms(db, b, TermsIn(counterpart_org_id=supplier.id, side="payer", days=30))
    assert a.state == "proposed" and service.terms_days(db, buyer.id, supplier.id) == (60, False)
    with pytest.raises(Conflict):
        service.accept_terms(db, b, a.id)
    service.accept_terms(db, s, a.id)
    assert service.terms_days(db, buyer.id, supplier.id) == (30, True)
    inv2 = service.issue_invoice(db, s, InvoiceIn(receipt_id=r.id, number="FP002", amount=Decimal("4000.00")))
    assert inv2.due_on == received + timedelta(days=30)
    # Partial payment by the buyer, then the rest.
    service.record_payment(db, b, inv.id, PaymentIn(amount=Decimal("2500.50")))
    db.refresh(inv)
    assert inv.state == "open" and inv.paid_fen == 250050
    ag = service.aging(db, supplier.id, "payee", today)
    assert len(ag.rows) == 1 and ag.rows[0].org_id == buyer.id
    row = ag.rows[0]
    # inv: due ~40 days ago → 31–60 bucket, 3499.50 open; inv2: due ~70 days ago → 61–90, 4000.
    assert row.buckets["d31_60"] == Decimal("3499.50")
    assert row.buckets["d61_90"] == Decimal("4000.00")
    assert row.open == Decimal("7499.50") and row.overdue == Decimal("7499.50")
    payer_view = service.aging(db, buyer.id, "payer", today)
    assert payer_view.rows[0].org_id == supplier.id and payer_view.open == Decimal("7499.50")
    assert service.overdue_counts(db, buyer.id) == (2, 0)
    assert service.overdue_counts(db, supplier.id) == (0, 2)
    # Both sides are told once that each invoice is overdue (their supply-chain feed).
    assert service.notify_overdue(db, buyer.id, today) == 2
    assert service.notify_overdue(db, buyer.id, today) == 0
    told = db.execute(select(Event.org_id).where(Event.kind == "invoice_overdue")).scalars().all()
    assert sorted(told) == sorted([buyer.id, buyer.id, supplier.id, supplier.id])
    issued = db.execute(select(Event).where(Event.kind == "invoice_issued", Event.org_id == buyer.id)).scalars().all()
    assert len(issued) == 2
    service.record_payment(db, s, inv.id, PaymentIn(amount=Decimal("3499.50"), reference="银行回单 77"))
    db.refresh(inv)
    assert inv.state == "paid" and inv.paid_fen == inv.amount_fen
    assert service.aging(db, supplier.id, "payee", today).open == Decimal("4000.00")


def test_bad_input_refused_in_both_languages_nothing_saved(db: Session) -> None:
    buyer, supplier = enterprise(db, "龙头"), enterprise(db, "供应商")
    b, s = admin(db, buyer), admin(db, supplier)
    r = receipt(db, buyer, supplier, Decimal("500.00"))
    invoices, payments = _count(db, Invoice), _count(db, Payment)
    with pytest.raises(Invalid) as exc:
        service.issue_invoice(db, s, InvoiceIn(receipt_id=r.id, number="X1", amount=Decimal("500.01")))
    m = exc.value.messages()
    assert exc.value.field == "amount" and "500.00" in m["zh"] and "above the received value" in m["en"]
    assert "收货价值" in m["zh"]
    for bad in (Decimal("-1"), Decimal("0"), Decimal("1.001")):
        with pytest.raises(Invalid) as exc:
            service.issue_invoice(db, s, InvoiceIn(receipt_id=r.id, number="X2", amount=bad))
        assert exc.value.field == "amount"
    assert _count(db, Invoice) == invoices
    # Only the supplier invoices its receipt; the buyer cannot.
    with pytest.raises(Exception):  # noqa: B017
        service.issue_invoice(db, b, InvoiceIn(receipt_id=r.id, number="X3", amount=Decimal("1")))
    inv = service.issue_invoice(db, s, InvoiceIn(receipt_id=r.id, number="X4", amount=Decimal("300")))
    with pytest.raises(Invalid):
        service.issue_invoice(db, s, InvoiceIn(receipt_id=r.id, number="X5", amount=Decimal("200.01")))
    with pytest.raises(Invalid) as exc:
        service.record_payment(db, b, inv.id, PaymentIn(amount=Decimal("300.01")))
    assert exc.value.field == "amount" and "300.00" in exc.value.messages()["zh"]
    with pytest.raises(Invalid):
        service.record_payment(db, b, inv.id, PaymentIn(amount=Decimal("-5")))
    with pytest.raises(Invalid) as exc:
        service.record_payment(db, b, inv.id, PaymentIn(amount=Decimal("5"), paid_on=date.today() + timedelta(days=2)))
    assert exc.value.field == "paid_on"
    assert _count(db, Payment) == payments
    db.refresh(inv)
    assert inv.paid_fen == 0
    # Cancelling gives the value back to the receipt.
    service.cancel_invoice(db, s, inv.id)
    assert service.invoiced(db, r.id) == Decimal("0.00")
    service.issue_invoice(db, s, InvoiceIn(receipt_id=r.id, number="X6", amount=Decimal("500")))


def test_officers_see_overdue_per_area_without_names(db: Session) -> None:
    payer = enterprise(db, "龙头", district="chenghai")
    suppliers = [enterprise(db, f"小厂{i}", district="chenghai", cluster="toys") for i in range(3)]
    lone = enterprise(db, "孤厂", district="chaonan", cluster="textiles_apparel")
    old = datetime.now(UTC) - timedelta(days=120)
    for s in [*suppliers, lone]:
        r = receipt(db, payer, s, Decimal("1000.00"), old)
        service.issue_invoice(db, admin(db, s), InvoiceIn(receipt_id=r.id, number="O1", amount=Decimal("1000")))
    city = _officer(db, "city_officer", None)
    rows = {(r.district, r.cluster): r for r in service.overdue_by_area(db, city)}
    toys = rows[("chenghai", "toys")]
    assert not toys.withheld and toys.suppliers_owed >= 3 and toys.overdue >= Decimal("3000.00")
    assert toys.buckets["d31_60"] + toys.buckets["d61_90"] >= Decimal("3000.00")  # due 60 days after receipt
    lone_row = rows[("chaonan", "textiles_apparel")]
    assert lone_row.withheld and lone_row.overdue == Decimal("0.00")
    district = _officer(db, "district_officer", "chaonan")
    assert {r.district for r in service.overdue_by_area(db, district)} <= {"chaonan"}


def _officer(db: Session, role: str, district: str | None) -> Actor:
    m = (
        db.execute(
            select(Membership).where(Membership.role == role, Membership.district == district).order_by(Membership.id)
        )
        .scalars()
        .first()
    )
    assert m is not None
    u = db.get(User, m.user_id)
    assert u is not None
    return Actor(user=u, membership=m)
