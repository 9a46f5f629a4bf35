"""Samples for the capacity-sharing and payment-terms routes (tests/test_route_security.py).

Offers given to the walk are withdrawn ones: a published offer is meant to be seen and booked by every enterprise
(the search), so only a withdrawn offer is its owner's alone. Bookings, invoices and terms are made with a
counterpart enterprise of their own, so the enterprise walking the routes is never a party to another's records.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.supplychain.capacity.models import CapacityBooking, CapacityOffer
from chaoyun.supplychain.models import Receipt
from chaoyun.supplychain.terms.models import Invoice, TermsAgreement
from tests.route_samples.devices import _device
from tests.supplychain.capacity_terms_helpers import enterprise, receipt


def _session() -> Session:
    from chaoyun.db import get_sessionmaker

    return get_sessionmaker()()


def _offer(db: Session, owner: Organisation, state: str) -> CapacityOffer:
    o = (
        db.execute(select(CapacityOffer).where(CapacityOffer.org_id == owner.id, CapacityOffer.state == state))
        .scalars()
        .first()
    )
    if o is None:
        today = date.today()
        o = CapacityOffer(
            org_id=owner.id,
            machine_type=_device(db, owner).model.key,
            hours_per_week=20,
            price_fen=12000,
            valid_from=today,
            valid_until=today + timedelta(days=90),
            state=state,
        )
        db.add(o)
        db.commit()
    return o


def capacity_offer_id(db: Session, owner: Organisation) -> str:
    return str(_offer(db, owner, "withdrawn").id)


def capacity_booking_id(db: Session, owner: Organisation) -> str:
    b = (
        db.execute(
            select(CapacityBooking).where(
                CapacityBooking.owner_org_id == owner.id, CapacityBooking.state == "requested"
            )
        )
        .scalars()
        .first()
    )
    if b is None:
        offer = _offer(db, owner, "published")
        other = enterprise(db, "样例订产能")
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
        b = CapacityBooking(
            offer_id=offer.id,
            owner_org_id=owner.id,
            requester_org_id=other.id,
            start=start,
            end=start + timedelta(hours=2),
            hours=2,
            amount_fen=24000,
        )
        db.add(b)
        db.commit()
    return str(b.id)


def _receipt_of(db: Session, owner: Organisation) -> Receipt:
    r = (
        db.execute(select(Receipt).where(Receipt.supplier_org_id == owner.id, Receipt.note == "route-sample"))
        .scalars()
        .first()
    )
    if r is None:
        r = receipt(db, enterprise(db, "样例采购方"), owner, Decimal("100000.00"))
        r.note = "route-sample"
        db.commit()
    return r


def terms_invoice_id(db: Session, owner: Organisation) -> str:
    r = _receipt_of(db, owner)
    inv = db.execute(select(Invoice).where(Invoice.receipt_id == r.id, Invoice.state == "open")).scalars().first()
    if inv is None:
        received = r.received_at.date()
        inv = Invoice(
            number=f"RS-{r.id}",
            receipt_id=r.id,
            payer_org_id=r.buyer_org_id,
            payee_org_id=owner.id,
            amount_fen=1000000,
            paid_fen=0,
            issued_on=received,
            received_on=received,
            terms_days=60,
            due_on=received + timedelta(days=60),
        )
        db.add(inv)
        db.commit()
    return str(inv.id)


def terms_agreement_id(db: Session, owner: Organisation) -> str:
    a = (
        db.execute(
            select(TermsAgreement).where(TermsAgreement.payee_org_id == owner.id, TermsAgreement.state == "proposed")
        )
        .scalars()
        .first()
    )
    if a is None:
        other = enterprise(db, "样例账期方")
        a = TermsAgreement(
            payer_org_id=other.id,
            payee_org_id=owner.id,
            days=0,
            proposed_days=45,
            proposed_by_org_id=other.id,
            state="proposed",
        )
        db.add(a)
        db.commit()
    return str(a.id)


def _offer_body(owner: Organisation) -> dict[str, Any]:
    with _session() as db:
        key = _device(db, owner).model.key
    today = date.today()
    return {
        "machine_type": key,
        "capability": "路由测试",
        "hours_per_week": 10,
        "price_per_hour": "100.00",
        "valid_from": today.isoformat(),
        "valid_until": (today + timedelta(days=30)).isoformat(),
    }


def _booking_body(owner: Organisation) -> dict[str, Any]:
    start = (datetime.now(UTC) + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(), "item_name": "路由测试"}


def _invoice_body(owner: Organisation) -> dict[str, Any]:
    with _session() as db:
        rid = _receipt_of(db, owner).id
    return {"receipt_id": rid, "number": f"RT-{datetime.now(UTC).timestamp():.0f}", "amount": "1.00"}


def _terms_body(owner: Organisation) -> dict[str, Any]:
    with _session() as db:
        other = enterprise(db, "样例账期对方")
    return {"counterpart_org_id": other.id, "side": "payee", "days": 30}


CAP = "/api/v1/supplychain/capacity"
TERMS = "/api/v1/supplychain/terms"

PATH_PARAMS = {
    "capacity_offer_id": capacity_offer_id,
    "capacity_booking_id": capacity_booking_id,
    "terms_invoice_id": terms_invoice_id,
    "terms_agreement_id": terms_agreement_id,
}

BODIES = {
    ("POST", f"{CAP}/offers"): _offer_body,
    ("POST", f"{CAP}/offers/{{capacity_offer_id}}/bookings"): _booking_body,
    ("POST", f"{CAP}/bookings/{{capacity_booking_id}}/decline"): lambda o: {"answer": "路由测试"},
    ("POST", "/supplychain/capacity/offers"): _offer_body,
    ("POST", "/supplychain/capacity/offers/{capacity_offer_id}/book"): lambda o: {
        "start": (date.today() + timedelta(days=5)).isoformat() + "T08:00",
        "end": (date.today() + timedelta(days=5)).isoformat() + "T10:00",
    },
    ("POST", "/supplychain/capacity/bookings/{capacity_booking_id}/decline"): lambda o: {"answer": "路由测试"},
    ("POST", f"{TERMS}/invoices"): _invoice_body,
    ("POST", f"{TERMS}/invoices/{{terms_invoice_id}}/payments"): lambda o: {"amount": "1.00"},
    ("POST", f"{TERMS}/agreements"): _terms_body,
    ("POST", "/supplychain/terms/invoices"): _invoice_body,
    ("POST", "/supplychain/terms/invoices/{terms_invoice_id}/payments"): lambda o: {"amount": "1.00"},
    ("POST", "/supplychain/terms/agreements"): _terms_body,
}
