"""Request bodies of the maintenance app (the pages parse the same fields from their forms)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chaoyun.web.params import DbId

Kind = Literal["preventive", "corrective", "predictive"]
Trigger = Literal["calendar", "runtime", "cycles"]
MAX_TEXT = 4000


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: DbId
    name: str = Field(min_length=1, max_length=100)
    trigger: Trigger
    # days or weeks (calendar), running hours (runtime), cycles (cycles)
    every: float = Field(gt=0, le=10_000_000)
    calendar_unit: Literal["days", "weeks"] = "days"
    duration_min: int = Field(60, ge=0, le=7 * 24 * 60)
    detail: str = Field("", max_length=MAX_TEXT)
    active: bool = True
    # The interval counts from here until the first order is done (default: now).
    start_at: datetime | None = None


class OrderIn(BaseModel):
    """A new order by hand: a breakdown reported by an operator, or any order an administrator opens."""

    model_config = ConfigDict(extra="forbid")

    device_id: DbId
    kind: Kind = "corrective"
    title: str = Field(min_length=1, max_length=200)
    detail: str = Field("", max_length=MAX_TEXT)
    due: datetime | None = None


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    technician_id: DbId


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime


class WorkIn(BaseModel):
    """Time and notes booked on an order while it is worked on."""

    model_config = ConfigDict(extra="forbid")

    minutes: int = Field(0, ge=0, le=100_000)
    note: str = Field("", max_length=MAX_TEXT)


class PartUseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    part_id: DbId
    quantity: int = Field(ge=1, le=1_000_000)


class FinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cause: str | None = Field(None, max_length=24)
    # Total minutes spent; None: what was booked, or the time from start to now when nothing was booked.
    minutes: int | None = Field(None, ge=0, le=100_000)
    note: str = Field("", max_length=MAX_TEXT)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500)


class PartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    unit: str = Field("件", min_length=1, max_length=16)
    stock: int = Field(0, ge=0, le=1_000_000_000)
    reorder_point: int = Field(0, ge=0, le=1_000_000_000)
    location: str = Field("", max_length=100)


class StockIn(BaseModel):
    """Goods received (positive) or a count correction (negative)."""

    model_config = ConfigDict(extra="forbid")

    change: int = Field(ge=-1_000_000_000, le=1_000_000_000)
    note: str = Field("", max_length=200)


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alarm_severities: list[Literal["critical", "major", "minor", "warning"]] = Field(default_factory=list, max_length=4)
    alarm_kinds: list[Literal["threshold", "rate", "state", "offline"]] = Field(default_factory=list, max_length=4)
    failure_min_stop_min: float = Field(10.0, ge=0, le=24 * 60)
