"""JSON API of the money workflows under /api/v1/programme (thin over the services)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor
from chaoyun.programme.workflow_models import SubsidyApplication, Voucher
from chaoyun.programme.workflows import subsidies, vouchers
from chaoyun.programme.workflows.permissions import WF_ACT, WF_READ
from chaoyun.programme.workflows.schemas import SubsidyOut, TransitionIn, VoucherOut
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/programme", tags=["programme workflows"])


def voucher_out(actor: Actor, v: Voucher) -> VoucherOut:
    return VoucherOut(
        id=v.id,
        round_id=v.round_id,
        enterprise_org_id=v.enterprise_org_id,
        provider_org_id=v.provider_org_id,
        state=v.state,
        contract_no=v.contract_no,
        contract_amount=v.contract_amount,
        eligible_amount=v.eligible_amount,
        face_value=v.face_value,
        actual_paid=v.actual_paid,
        reimbursable=v.reimbursable,
        notice_ends_at=v.notice_ends_at,
        allowed_actions=vouchers.VOUCHER.allowed_actions(v.state, vouchers.parties_of(actor, v)),
    )


def subsidy_out(actor: Actor, a: SubsidyApplication) -> SubsidyOut:
    return SubsidyOut(
        id=a.id,
        kind=a.kind,
        enterprise_org_id=a.enterprise_org_id,
        state=a.state,
        title=a.title,
        claimed_total=a.claimed_total,
        eligible_total=a.eligible_total,
        computed_amount=a.computed_amount,
        approved_amount=a.approved_amount,
        allowed_actions=subsidies.SUBSIDY.allowed_actions(a.state, subsidies.parties_of(actor, a)),
    )


@router.get("/vouchers")
def list_vouchers(db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> list[VoucherOut]:
    return [voucher_out(actor, v) for v in vouchers.list_vouchers(db, actor)]


@router.get("/vouchers/{voucher_id}")
def get_voucher(voucher_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> VoucherOut:
    return voucher_out(actor, vouchers.get_voucher(db, actor, voucher_id))


@router.post("/vouchers/{voucher_id}/transitions")
def voucher_transition(
    voucher_id: DbId, body: TransitionIn, db: Session = Depends(get_db), actor: Actor = requires(WF_ACT)
) -> VoucherOut:
    """Any voucher action except redemption (multipart, on the page) and payment (batch)."""
    return voucher_out(actor, vouchers.act(db, actor, voucher_id, body.action, body.note))


@router.get("/subsidies")
def list_subsidies(db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> list[SubsidyOut]:
    return [subsidy_out(actor, a) for a in subsidies.list_applications(db, actor)]


@router.get("/subsidies/{subsidy_id}")
def get_subsidy(subsidy_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(WF_READ)) -> SubsidyOut:
    return subsidy_out(actor, subsidies.get_application(db, actor, subsidy_id))


@router.post("/subsidies/{subsidy_id}/transitions")
def subsidy_transition(
    subsidy_id: DbId, body: TransitionIn, db: Session = Depends(get_db), actor: Actor = requires(WF_ACT)
) -> SubsidyOut:
    return subsidy_out(actor, subsidies.act(db, actor, subsidy_id, body.action, body.note))
