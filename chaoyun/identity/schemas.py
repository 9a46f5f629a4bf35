"""Pydantic shapes for the identity context's input and output."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128)]
_PHONE_CHARS = set("0123456789 -()")


def _phone(value: str) -> str:
    """A phone number as people write it (0754-8888 1234, +86 138 0013 8000), or empty: 7 to 20 digits."""
    if not value:
        return value
    digits = sum(c.isdigit() for c in value)
    if not set(value.removeprefix("+")) <= _PHONE_CHARS or not 7 <= digits <= 20:
        raise PydanticCustomError("phone_invalid", "not a phone number")
    return value


Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(_phone)]


class EnterpriseFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    district: str
    industry_code: str
    employees: int = Field(ge=0, le=1_000_000)
    annual_revenue: Decimal = Field(ge=0, le=Decimal("1e10"), max_digits=14, decimal_places=2)
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    contact_name: Short = ""
    contact_phone: Phone = ""


class EnterpriseUpdate(EnterpriseFields):
    is_doubling: bool | None = None
    is_lead: bool | None = None


class RegistrationIn(EnterpriseFields):
    credit_code: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=40)]
    username: Username
    display_name: Short = Field(min_length=1)
    password: Password


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: Short = Field(min_length=1)
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    role: str


class AcceptInviteIn(BaseModel):
    username: Username
    password: Password


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Short = Field(min_length=1)
    scopes: list[str] = Field(default_factory=lambda: ["read"])
    expires_days: int = Field(default=90, ge=1, le=365)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PasswordChangeIn(BaseModel):
    old_password: str = Field(max_length=128)
    new_password: Password


class EnterpriseOut(BaseModel):
    industry_code: str
    industry_name: str
    cluster: str
    employees: int
    annual_revenue: Decimal
    size_class: str
    is_doubling: bool
    is_lead: bool


class ProviderOut(BaseModel):
    provider_type: str
    service_categories: list[str]


class OrgOut(BaseModel):
    id: int
    kind: str
    name: str
    credit_code: str | None
    district: str | None
    status: str
    address: str
    contact_name: str
    contact_phone: str
    created_at: datetime
    enterprise: EnterpriseOut | None = None
    provider: ProviderOut | None = None


class OrgPage(BaseModel):
    total: int
    page: int
    per_page: int
    items: list[OrgOut]


class MembershipOut(BaseModel):
    id: int
    org_id: int
    org_name: str
    role: str
    district: str | None


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    email: str
    is_active: bool
    locale: str
    memberships: list[MembershipOut]


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once; store it now.")


class InviteCreated(BaseModel):
    invitation_id: int
    accept_url: str


class AuditOut(BaseModel):
    id: int
    ts: datetime
    actor_username: str
    actor_org_id: int | None
    action: str
    object_type: str
    object_id: str
    before: dict[str, object] | None
    after: dict[str, object] | None
    hash: str
