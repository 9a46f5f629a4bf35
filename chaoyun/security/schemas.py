"""Request bodies of the security API (bounded: codes and texts have lengths, maps a number of entries)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chaoyun.web.params import INT32_MAX

Code = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Answer = Annotated[str, StringConstraints(max_length=16)]
Note = Annotated[str, StringConstraints(max_length=1000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CampaignIn(_In):
    year: int = Field(ge=2018, le=2100)
    name: str = Field(min_length=1, max_length=200)
    clusters: list[Annotated[str, StringConstraints(max_length=32)]] = Field(min_length=1, max_length=20)
    self_check_due: date
    org_ids: list[Annotated[int, Field(ge=1, le=INT32_MAX)]] | None = Field(None, max_length=5000)


class EnterprisesIn(_In):
    org_ids: list[Annotated[int, Field(ge=1, le=INT32_MAX)]] = Field(min_length=1, max_length=5000)


class SelfCheckIn(_In):
    answers: dict[Code, Answer] = Field(default_factory=dict, max_length=200)
    notes: dict[Code, Note] = Field(default_factory=dict, max_length=200)
    submit: bool = False


class OnsiteIn(_In):
    answers: dict[Code, Answer] = Field(default_factory=dict, max_length=200)
    notes: dict[Code, Note] = Field(default_factory=dict, max_length=200)
    conclude: bool = False
    inspected_on: date | None = None


class FindingIn(_In):
    owner: str = Field(min_length=1, max_length=100)
    deadline: date
    description: str | None = Field(None, max_length=4000)


class RectifyIn(_In):
    text: str = Field(min_length=1, max_length=4000)


class RecheckIn(_In):
    passed: bool
    note: str = Field("", max_length=4000)
    new_deadline: date | None = None


class IncidentIn(_In):
    org_id: int = Field(ge=1, le=INT32_MAX)
    title: str = Field(min_length=1, max_length=200)
    severity: str = Field(pattern="^(high|medium|low)$")
    note: str = Field("", max_length=2000)


class AssignIn(_In):
    user_id: int = Field(ge=1, le=INT32_MAX)


class StateIn(_In):
    state: str = Field(pattern="^(open|investigating|contained)$")
    note: str = Field("", max_length=2000)


class EscalateIn(_In):
    reason: str = Field(min_length=1, max_length=2000)


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=2000)


class CloseIn(_In):
    cause: str = Field(min_length=1, max_length=4000)
    actions: str = Field(min_length=1, max_length=4000)
    lessons: str = Field("", max_length=4000)
