"""JSON shapes of the workflows API (money as strings of Decimal, never float)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field


class VoucherOut(BaseModel):
    id: int
    round_id: int
    enterprise_org_id: int
    provider_org_id: int
    state: str
    contract_no: str
    contract_amount: Decimal
    eligible_amount: Decimal
    face_value: Decimal
    actual_paid: Decimal | None
    reimbursable: Decimal | None
    notice_ends_at: datetime | None
    allowed_actions: list[str]


class TransitionIn(BaseModel):
    action: str = Field(min_length=1, max_length=32)
    note: str = Field(default="", max_length=2000)


class SubsidyOut(BaseModel):
    id: int
    kind: str
    enterprise_org_id: int
    state: str
    title: str
    claimed_total: Decimal
    eligible_total: Decimal
    computed_amount: Decimal
    approved_amount: Decimal | None
    allowed_actions: list[str]
