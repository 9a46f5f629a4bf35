"""Pydantic shapes for the marketplace's input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chaoyun.identity.schemas import Name, Password, Phone, Short, Username

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class ProviderFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider_type: str
    platform_scope: str = ""
    registered_place: Line = Field(min_length=2)
    district: str = ""
    categories: list[str] = Field(default_factory=list)
    saas_domains: list[str] = Field(default_factory=list)
    qualifications: Text = ""
    references: Text = ""
    integration_report: Text = ""
    contact_name: Short = ""
    contact_phone: Phone = ""


class ApplicationIn(ProviderFields):
    """A new provider's public application: the organisation, its first admin and its pool record."""

    credit_code: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=40)]
    name: Name
    username: Username
    display_name: Short = Field(min_length=1)
    password: Password


class CaseStudy(BaseModel):
    customer: Line = Field(min_length=1)
    summary: Text = ""
    metric: Line = Field(min_length=1)
    before: Decimal | None = None
    after: Decimal | None = None
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""


class OfferingIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name
    kind: str = "product"
    category: str
    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    description: Text = ""
    industries: list[str] = Field(default_factory=list)
    saas_domains: list[str] = Field(default_factory=list)
    deployment: list[str] = Field(default_factory=list)
    price_model: str = "subscription"
    price_text: Line = ""
    cost_categories: list[str] = Field(default_factory=list)
    case_studies: list[CaseStudy] = Field(default_factory=list)
    status: str = "published"


class ContractIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider_org_id: int
    offering_id: int | None = None
    title: Line = Field(min_length=2)
    amount: Decimal = Field(gt=0, le=Decimal("1e10"), max_digits=14, decimal_places=2)
    signed_on: date


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    score: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


def form_lists(form: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """A form's scalar fields plus the multi-valued ones (checkbox groups) as lists."""
    out: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    for n in names:
        out[n] = [v for v in form.getlist(n) if isinstance(v, str) and v]
    return out
