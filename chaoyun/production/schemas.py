"""Input shapes of the production context (limits that need a clear message are checked in the service)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from chaoyun.patch import PatchModel

# Whole numbers are stored in 64-bit columns; larger ones failed in the database (a server error).
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ItemIn(_In):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field("pcs", max_length=16)
    family: str = Field("", max_length=64)
    kind: str = "product"  # product | material


class ItemUpdate(_In, PatchModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    unit: str | None = Field(None, max_length=16)
    family: str | None = Field(None, max_length=64)


class OpMachineIn(_In):
    device_id: Id
    cycle_s: float


class RoutingOpIn(_In):
    seq: Int64
    name: str = Field(min_length=1, max_length=100)
    setup_s: float = 0.0
    machines: list[OpMachineIn] = Field(default_factory=list)


class RoutingIn(_In):
    operations: list[RoutingOpIn]


class WorkOrderIn(_In):
    number: str = Field(min_length=1, max_length=64)
    item_id: Id
    quantity: Int64
    due_date: date
    priority: Int64 = 5
    note: str = Field("", max_length=200)


class TransitionIn(_In):
    to: str


class StartIn(_In):
    device_id: Id


class FinishIn(_In):
    # Used only when the machine has no counters (or its counters reported nothing in the run).
    good: Int64 | None = None
    reject: Int64 | None = None


class LotMaterialIn(_In):
    item_code: str = Field(min_length=1, max_length=64)
    material_lot: str = Field(min_length=1, max_length=64)
    quantity: float


class LotIn(_In):
    number: str = Field(min_length=1, max_length=64)
    work_order_id: Id
    device_id: Id | None = None
    start: datetime
    end: datetime
    quantity: Int64
    materials: list[LotMaterialIn] = Field(default_factory=list)
