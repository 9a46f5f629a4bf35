"""The policy pack: a city's plan as data (YAML), validated with pydantic when it is loaded.

Public API (other modules, including the money workflows, read the plan only through these):

- ``get_pack() -> Pack``: the active pack, loaded once and cached. The file is
  ``CHAOYUN_POLICY_PACK`` (a path) or, by default, ``chaoyun/programme/packs/shantou-2018.yaml``.
- ``load_pack(path) -> Pack``: load and validate one file; raises ``PackError`` whose message names the
  file and every bad field (``PackError.problems``), so an operator can fix a broken pack quickly.
- ``reset_pack()``: forget the cached pack (tests, or after editing the file).

Shapes most callers need:

- ``pack.period.start`` / ``pack.period.end`` / ``pack.period.years``
- ``pack.targets`` (list of ``Target``) and ``pack.target(key)``
- ``pack.vouchers``: ``min_payment_ratio`` (Decimal 0.90), ``eligible_cost_categories``,
  ``excluded_cost_categories``, ``subsidy_ratio`` / ``cap_per_enterprise`` (None when not set),
  ``contract_signed_after`` (date), ``provider_quota_defaults`` (Decimal by provider kind),
  ``is_eligible_cost(category)``
- ``pack.subsidies.innovation``: ``max_ratio`` (Decimal 0.30), ``cap_per_enterprise`` (Decimal 500000),
  ``eligible_cost_categories``, ``period_start`` / ``period_end``, ``top_up_allowed`` (False: one-time)
- ``pack.subsidies.certification_reward.amount`` (Decimal 200000)
- ``pack.allocation.principles`` / ``pilot_industries``
- ``pack.cloud_adoption.business_areas`` / ``star_rating``
- ``pack.diagnosis.questionnaire`` (the questionnaire file's key)

Money is Decimal everywhere (write amounts as quoted strings in YAML so no float ever touches them).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chaoyun.settings import env, project_path

PACK_DIR = Path(__file__).resolve().parent / "packs"
DEFAULT_PACK = PACK_DIR / "shantou-2018.yaml"
ENV_VAR = "CHAOYUN_POLICY_PACK"

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Ratio = Annotated[Decimal, Field(ge=0, le=1)]


class PackError(Exception):
    """A policy pack file that cannot be used; ``problems`` lists each bad field."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"policy pack {path} is invalid:\n  - " + "\n  - ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    start: int = Field(ge=2000, le=2100)
    end: int = Field(ge=2000, le=2100)

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError("period end is before its start")
        return self

    @property
    def years(self) -> list[int]:
        return list(range(self.start, self.end + 1))


Comparison = Literal["at_least", "more_than", "about", "range"]


class Target(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    section: str = ""
    unit: Literal["enterprise", "project", "platform", "provider", "base", "centre", "percent"]
    comparison: Comparison
    target: int = Field(gt=0)
    minimum: int | None = Field(default=None, gt=0)
    # Values to complete in each year ("分别完成"); their sum is the cumulative target.
    yearly: dict[int, int] = Field(default_factory=dict)
    # Optional split by district (district code → the figure each district must reach by the end of the
    # period). Without it the target is city-wide: district pages say so instead of comparing a district
    # with the city's figure.
    by_district: dict[str, int] = Field(default_factory=dict)
    lead: str = Field(min_length=1)
    co_owners: list[str] = Field(default_factory=list)
    agency_note: str = ""
    items: list[str] = Field(default_factory=list)
    rule: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if self.comparison == "range":
            if self.minimum is None:
                raise ValueError("a range target needs 'minimum' (the lower end) as well as 'target'")
            if self.minimum > self.target:
                raise ValueError("'minimum' is above 'target'")
        elif self.minimum is not None:
            raise ValueError("'minimum' only applies to range targets")
        if self.by_district:
            from chaoyun.identity.reference import District

            known = {d.value for d in District}
            unknown = sorted(set(self.by_district) - known)
            if unknown:
                raise ValueError(f"by_district names unknown districts {unknown}; known: {sorted(known)}")
            if any(v < 0 for v in self.by_district.values()):
                raise ValueError("by_district figures cannot be negative")
        if self.yearly:
            if any(v < 0 for v in self.yearly.values()):
                raise ValueError("yearly values cannot be negative")
            if sum(self.yearly.values()) != self.target:
                raise ValueError(f"yearly values add up to {sum(self.yearly.values())}, not to target {self.target}")
        return self

    @property
    def threshold(self) -> int:
        """The smallest value that meets the target (``more_than`` 20 needs 21; a 3-5 range needs 3)."""
        if self.comparison == "range":
            assert self.minimum is not None
            return self.minimum
        if self.comparison == "more_than":
            return self.target + 1
        return self.target

    @property
    def plan_label(self) -> str:
        """The figure as the plan words it: "3–5", "> 20", "≈ 20", "≥ 500" (with % for percentages)."""
        pct = " %" if self.unit == "percent" else ""
        if self.comparison == "range":
            return f"{self.minimum}–{self.target}{pct}"
        sign = {"more_than": "> ", "about": "≈ ", "at_least": "≥ "}[self.comparison]
        return f"{sign}{self.target}{pct}"

    def planned_by(self, year: int, period: Period) -> int | None:
        """Cumulative planned value by the end of ``year`` (None where the plan sets no interim figure)."""
        if self.yearly:
            return sum(v for y, v in self.yearly.items() if y <= year)
        return self.threshold if year >= period.end else None

    def met(self, value: float) -> bool:
        return value >= self.threshold

    def district_threshold(self, district: str) -> int | None:
        """The figure a district must reach by the end of the period; None when the plan does not split
        this target by district (it is city-wide)."""
        return self.by_district.get(district)


class VoucherRules(_Strict):
    items: list[str] = Field(default_factory=list)
    lead: str
    co_owners: list[str] = Field(default_factory=list)
    min_payment_ratio: Ratio
    subsidy_ratio: Ratio | None = None
    cap_per_enterprise: Money | None = None
    contract_signed_after: date | None = None
    eligible_cost_categories: list[str] = Field(min_length=1)
    excluded_cost_categories: list[str] = Field(default_factory=list)
    provider_quota_defaults: dict[str, Money] = Field(default_factory=dict)
    applicant: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _disjoint(self) -> VoucherRules:
        both = set(self.eligible_cost_categories) & set(self.excluded_cost_categories)
        if both:
            raise ValueError(f"cost categories both eligible and excluded: {sorted(both)}")
        return self

    def is_eligible_cost(self, category: str) -> bool:
        return category in self.eligible_cost_categories and category not in self.excluded_cost_categories


class InnovationSubsidy(_Strict):
    max_ratio: Ratio
    cap_per_enterprise: Money
    period_start: int
    period_end: int
    eligible_cost_categories: list[str] = Field(min_length=1)
    # 一次性补贴: one subsidy per enterprise over the programme. A city may allow later applications to
    # top up to the cap (each then gets at most what is left of it).
    top_up_allowed: bool = False


class CertificationReward(_Strict):
    amount: Money
    certificate_zh: str = ""


class SubsidyRules(_Strict):
    items: list[str] = Field(default_factory=list)
    lead: str
    co_owners: list[str] = Field(default_factory=list)
    innovation: InnovationSubsidy
    certification_reward: CertificationReward


class AllocationRules(_Strict):
    items: list[str] = Field(default_factory=list)
    lead: str
    co_owners: list[str] = Field(default_factory=list)
    principles: list[Literal["doubling_first", "first_come_first_served", "by_industry"]] = Field(min_length=1)
    pilot_industries: list[str] = Field(default_factory=list)


class BusinessArea(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    zh: str
    en: str


class StarLevel(_Strict):
    stars: int = Field(ge=1, le=5)
    zh: str
    en: str
    min_verified_areas: int = Field(default=1, ge=0)
    min_devices_reporting: int = Field(default=0, ge=0)
    requires_monitoring: bool = False
    min_apps_used: int = Field(default=0, ge=0)
    min_data_model_apps: int = Field(default=0, ge=0)


class CloudAdoptionRules(_Strict):
    business_areas: list[BusinessArea] = Field(min_length=1)
    star_rating: list[StarLevel] = Field(min_length=1)
    corroboration_window_days: int = Field(default=30, ge=1, le=366)

    @field_validator("star_rating")
    @classmethod
    def _ascending(cls, v: list[StarLevel]) -> list[StarLevel]:
        stars = [s.stars for s in v]
        if stars != sorted(set(stars)):
            raise ValueError("star levels must be listed once each, in ascending order")
        return v

    def area(self, key: str) -> BusinessArea | None:
        return next((a for a in self.business_areas if a.key == key), None)


class DiagnosisRules(_Strict):
    questionnaire: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    items: list[str] = Field(default_factory=list)
    # An enterprise counts as upgraded (digital-upgrade target) in the first year a completed diagnosis
    # puts it at least this many levels above its first completed diagnosis.
    upgrade_min_rise: int = Field(default=1, ge=1, le=4)


class Pack(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title_zh: str
    title_en: str
    document: str = ""
    issued: date | None = None
    city_zh: str = ""
    period: Period
    targets: list[Target] = Field(min_length=1)
    vouchers: VoucherRules
    subsidies: SubsidyRules
    allocation: AllocationRules
    cloud_adoption: CloudAdoptionRules
    diagnosis: DiagnosisRules

    @model_validator(mode="after")
    def _targets(self) -> Pack:
        keys = [t.key for t in self.targets]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"target keys used twice: {dup}")
        for t in self.targets:
            outside = [y for y in t.yearly if not self.period.start <= y <= self.period.end]
            if outside:
                raise ValueError(f"target {t.key}: yearly values for years outside the period: {outside}")
        return self

    def target(self, key: str) -> Target:
        for t in self.targets:
            if t.key == key:
                return t
        raise KeyError(key)


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        out.append(f"{where}: {err['msg']}")
    return out


def parse_pack(data: Any, source: str = "<data>") -> Pack:
    if not isinstance(data, dict):
        raise PackError(source, ["the file must hold a mapping (key: value pairs) at the top level"])
    try:
        return Pack.model_validate(data)
    except ValidationError as exc:
        raise PackError(source, _problems(exc)) from exc


def load_pack(path: Path | str) -> Pack:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PackError(p, ["file not found"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(p, [f"cannot read the file: {exc}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PackError(p, [f"not valid YAML: {exc}"]) from exc
    return parse_pack(data, str(p))


def pack_path() -> Path:
    return project_path(env("POLICY_PACK"))


@lru_cache(maxsize=1)
def get_pack() -> Pack:
    return load_pack(pack_path())


def reset_pack() -> None:
    get_pack.cache_clear()
