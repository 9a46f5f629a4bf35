"""Two invoices on one receipt and two payments of one invoice at the same moment, on PostgreSQL: together they
never exceed the received value / the invoice amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from chaoyun.settings import get_settings
from chaoyun.supplychain.terms import service
from chaoyun.supplychain.terms.models import Invoice
from chaoyun.supplychain.terms.service import InvoiceIn, PaymentIn
from tests.supplychain.capacity_terms_helpers import admin, enterprise, receipt
from tests.supplychain.test_capacity_race import as_actor, fire

pytestmark = pytest.mark.skipif(
    get_settings().is_sqlite, reason="concurrency test needs PostgreSQL (SQLite serialises all writers)"
)


@pytest.mark.postgres
def test_concurrent_invoices_never_exceed_the_receipt(db: Any) -> None:
    buyer, supplier = enterprise(db, "并发龙头"), enterprise(db, "并发供应商")
    b, s = admin(db, buyer), admin(db, supplier)
    r = receipt(db, buyer, supplier, Decimal("1000.00"))
    uid, mid = s.user.id, s.membership.id

    def invoice(n: int) -> Any:
        data = InvoiceIn(receipt_id=r.id, number=f"R{n}", amount=Decimal("600.00"))
        return lambda sess: service.issue_invoice(sess, as_actor(sess, uid, mid), data)

    n, errors = fire([invoice(i) for i in range(4)])
    assert n == 1 and len(errors) == 3, errors
    total = db.execute(select(func.sum(Invoice.amount_fen)).where(Invoice.receipt_id == r.id)).scalar_one()
    assert total == 60000
    assert service.invoiced(db, r.id) == Decimal("600.00")
    inv = db.execute(select(Invoice).where(Invoice.receipt_id == r.id)).scalar_one()
    bid, bmid = b.user.id, b.membership.id

    def pay() -> Any:
        return lambda sess: service.record_payment(sess, as_actor(sess, bid, bmid), inv.id, PaymentIn(amount="400"))  # type: ignore[arg-type]

    n, errors = fire([pay() for _ in range(3)])
    assert n == 1, errors
    db.expire_all()
    assert db.get(Invoice, inv.id).paid_fen == 40000  # type: ignore[union-attr]
