"""Request bodies of the scheduling app (the pages parse the same fields from their forms)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chaoyun.web.params import DbId

MAX_TIME_LIMIT_S = 300
MAX_HORIZON_DAYS = 60
MAX_ORDERS = 2000


class SolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # None or empty: every released and running work order.
    work_order_ids: list[DbId] | None = Field(None, max_length=MAX_ORDERS)
    horizon_days: float = Field(7, ge=0.5, le=MAX_HORIZON_DAYS)
    objective: Literal["makespan", "tardiness", "mix"] = "makespan"
    mix: float = Field(0.5, ge=0, le=1)
    time_limit_s: float = Field(10, ge=1, le=MAX_TIME_LIMIT_S)
    name: str = Field("", max_length=100)


class ResolveIn(BaseModel):
    """Re-solve a plan around its pins (same orders and objective unless given)."""

    model_config = ConfigDict(extra="forbid")

    time_limit_s: float | None = Field(None, ge=1, le=MAX_TIME_LIMIT_S)
    objective: Literal["makespan", "tardiness", "mix"] | None = None
    mix: float | None = Field(None, ge=0, le=1)


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op_key: str = Field(min_length=1, max_length=80)
    device_id: DbId | None = None
    start: datetime | None = None
