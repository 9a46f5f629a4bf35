"""Pydantic shapes of the devices context."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chaoyun.patch import PatchModel

Text100 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Uid = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9-]{2,39}$")]


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    workshop: Text100 = ""
    line: Text100 = ""
    serial: Text100 = ""
    uid: Uid | None = None


class DeviceUpdate(PatchModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    workshop: Text100 | None = None
    line: Text100 | None = None
    serial: Text100 | None = None
    enabled: bool | None = None


class MetricOut(BaseModel):
    key: str
    name_zh: str
    name_en: str
    unit: str
    type: str
    min: float | None
    max: float | None
    writable: bool
    role: str | None


class ModelOut(BaseModel):
    key: str
    name_zh: str
    name_en: str
    category: str
    ideal_cycle_s: float | None
    metrics: list[MetricOut]


class DeviceOut(BaseModel):
    id: int
    org_id: int
    uid: str
    name: str
    model: str
    workshop: str
    line: str
    serial: str
    enabled: bool
    status: str
    last_seen: datetime | None
    created_at: datetime


class CredentialsOut(BaseModel):
    """Shown once: the platform keeps only hashes."""

    device_id: int
    uid: str
    token: str
    mqtt_username: str
    mqtt_password: str


class DeviceCreated(BaseModel):
    device: DeviceOut
    credentials: CredentialsOut


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    kind: str = Field(pattern=r"^(threshold|rate|offline|state)$")
    metric: str | None = None
    severity: str = Field(default="major", pattern=r"^(critical|major|minor|warning)$")
    device_id: int | None = Field(None, ge=1, le=2**31 - 1)
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(ge=1, le=3650)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    url: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^https?://.{3,490}$")]
