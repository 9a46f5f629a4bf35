"""Input shapes of the supply-chain API (limits that need a clear message are checked in the services)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LineIn(_In):
    item_code: str = Field(max_length=64)
    item_name: str = Field(max_length=200)
    quantity: Int32
    unit_price: Decimal = Field(ge=Decimal("-1e12"), le=Decimal("1e12"))
    due_date: date


class OrderIn(_In):
    supplier_org_id: Id
    reference: str = Field("", max_length=64)
    lines: list[LineIn] = Field(max_length=500)


class InviteIn(_In):
    supplier_org_id: Id
    note: str = Field("", max_length=200)


class ConfirmIn(_In):
    item_id: Id | None = None


class ProposeIn(_In):
    quantity: Int32 | None = None
    due_date: date | None = None
    note: str = Field("", max_length=200)


class NoteIn(_In):
    note: str = Field("", max_length=200)


class ShipLotIn(_In):
    line_id: Id
    lot_number: str = Field(max_length=64)
    quantity: Int32


class ShipmentIn(_In):
    lots: list[ShipLotIn] = Field(max_length=500)
    expected_at: date | None = None
    note: str = Field("", max_length=200)


class LotResultIn(_In):
    shipment_lot_id: Id
    result: str = Field(max_length=8)  # pass | fail
    note: str = Field("", max_length=200)


class ReceiveIn(_In):
    results: list[LotResultIn] = Field(max_length=500)
    note: str = Field("", max_length=200)


class ReturnIn(_In):
    quantity: Int32
    reason: str = Field(max_length=200)
