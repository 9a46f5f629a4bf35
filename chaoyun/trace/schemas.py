"""Input shapes of the trace API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chaoyun.web.params import INT32_MAX

Value = str | float | int | None


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32)
    name_en: str = Field("", max_length=100)
    name_zh: str = Field("", max_length=100)
    dtype: str = Field(pattern="^(text|number|date|enum|link)$")
    options: list[str] = Field(default_factory=list, max_length=50)
    required: bool = False
    public: bool = False


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    object_class: str = Field(pattern="^(model|batch|item|device|material)$")
    items: list[ItemIn] = Field(min_length=1, max_length=100)


class IdentifierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str = Field(min_length=1, max_length=32)
    suffix: str | None = Field(None, max_length=200)
    attrs: dict[str, Value] = Field(default_factory=dict, max_length=100)


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)


class AttrsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attrs: dict[str, Value] = Field(max_length=100)


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credit_code: str = Field(min_length=1, max_length=18)


class DeliveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lot_number: str = Field(min_length=1, max_length=64)
    customer_name: str = Field(min_length=1, max_length=200)
    country: str = Field("", max_length=64)
    reference: str = Field("", max_length=64)
    quantity: int = Field(ge=1, le=INT32_MAX)
    delivered_at: datetime


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_lot: str = Field(min_length=1, max_length=64)
    into_lot: str = Field(min_length=1, max_length=64)
