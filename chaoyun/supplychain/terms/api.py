"""JSON API of payment terms (``/api/v1/supplychain/terms``): invoices, payments, terms, aging, the officers'
overdue view. Amounts are strings of yuan with two decimals (exact ``Decimal``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.supplychain.terms import exports, service
from chaoyun.supplychain.terms.money import yuan
from chaoyun.supplychain.terms.permissions import TERMS_MANAGE, TERMS_OVERSIGHT, TERMS_READ
from chaoyun.supplychain.terms.service import InvoiceIn, PaymentIn, TermsIn
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/supplychain/terms", tags=["supplychain terms"])
Side = Query("payee", pattern="^(payer|payee)$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/invoices")
def invoices(
    side: str = Side,
    state: str | None = Query(None, pattern="^(open|paid|cancelled)$"),
    overdue: bool = False,
    db: Session = Depends(get_db),
    actor: Actor = requires(TERMS_READ),
) -> list[dict[str, Any]]:
    return [service.invoice_out(i) for i in service.list_invoices(db, actor, side, state, overdue)]


@router.post("/invoices", status_code=201)
def issue(data: InvoiceIn, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)) -> dict[str, Any]:
    return service.invoice_out(service.issue_invoice(db, actor, data))


@router.get("/invoices/{terms_invoice_id}")
def invoice(
    terms_invoice_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TERMS_READ)
) -> dict[str, Any]:
    inv = service.get_invoice(db, actor, terms_invoice_id)
    out = service.invoice_out(inv)
    out["payments"] = [
        {
            "id": p.id,
            "amount": str(yuan(p.amount_fen)),
            "paid_on": p.paid_on.isoformat(),
            "reference": p.reference,
            "recorded_by_org_id": p.recorded_by_org_id,
        }
        for p in service.payments_of(db, inv.id)
    ]
    return out


@router.post("/invoices/{terms_invoice_id}/payments", status_code=201)
def pay(
    terms_invoice_id: DbId, data: PaymentIn, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)
) -> dict[str, Any]:
    service.record_payment(db, actor, terms_invoice_id, data)
    return service.invoice_out(service.get_invoice(db, actor, terms_invoice_id))


@router.post("/invoices/{terms_invoice_id}/cancel")
def cancel(
    terms_invoice_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)
) -> dict[str, Any]:
    return service.invoice_out(service.cancel_invoice(db, actor, terms_invoice_id))


@router.get("/receipts")
def receipts(db: Session = Depends(get_db), actor: Actor = requires(TERMS_READ)) -> list[dict[str, Any]]:
    """The supplier's receipts with value not yet invoiced."""
    return [
        {
            "receipt_id": r.receipt.id,
            "number": r.receipt.number,
            "buyer_org_id": r.receipt.buyer_org_id,
            "buyer_name": r.buyer_name,
            "received_at": r.receipt.received_at.isoformat(),
            "value": str(r.receipt.value),
            "invoiced": str(r.invoiced),
            "left": str(r.left),
        }
        for r in service.invoiceable_receipts(db, actor)
    ]


@router.get("/agreements")
def agreements(db: Session = Depends(get_db), actor: Actor = requires(TERMS_READ)) -> list[dict[str, Any]]:
    return [service.agreement_out(a) for a in service.agreements_of(db, actor.org_id)]


@router.post("/agreements", status_code=201)
def propose(data: TermsIn, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)) -> dict[str, Any]:
    return service.agreement_out(service.propose_terms(db, actor, data))


@router.post("/agreements/{terms_agreement_id}/accept")
def accept(
    terms_agreement_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(TERMS_MANAGE)
) -> dict[str, Any]:
    return service.agreement_out(service.accept_terms(db, actor, terms_agreement_id))


@router.get("/aging")
def aging(side: str = Side, db: Session = Depends(get_db), actor: Actor = requires(TERMS_READ)) -> dict[str, Any]:
    return service.aging_out(service.aging(db, actor.org_id, side))


@router.get(
    "/aging.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "the aging report as an Excel workbook"}},
)
def aging_xlsx(side: str = Side, db: Session = Depends(get_db), actor: Actor = requires(TERMS_READ)) -> Response:
    data = exports.aging_xlsx(service.aging(db, actor.org_id, side))
    disposition = f'attachment; filename="aging-{side}.xlsx"'
    return Response(data, media_type=XLSX, headers={"Content-Disposition": disposition})


@router.get("/overdue/areas")
def overdue_areas(db: Session = Depends(get_db), actor: Actor = requires(TERMS_OVERSIGHT)) -> list[dict[str, Any]]:
    """Overdue amounts owed to suppliers per district and cluster; no enterprise named, small groups withheld."""
    return [
        {
            "district": r.district,
            "cluster": r.cluster,
            "withheld": r.withheld,
            "suppliers_owed": None if r.withheld else r.suppliers_owed,
            "payers_late": None if r.withheld else r.payers_late,
            "invoices": None if r.withheld else r.invoices,
            **{b: None if r.withheld else str(v) for b, v in r.buckets.items()},
            "overdue": None if r.withheld else str(r.overdue),
        }
        for r in service.overdue_by_area(db, actor)
    ]
