"""The SME digital-level questionnaire as data, and the scoring rules that read it.

The questionnaire file (``packs/questionnaires/<key>.yaml``) holds every item, option, point value, band,
level boundary and scene rule; this module only applies them. Answers are a dict::

    {"network": ["workshop_control_network", ...],          # multi / areas: chosen option keys
     "systems_coverage": "two_or_more",                      # single: one option key
     "evidence": {"device_count": 40, "digitised_devices": 20, "networked_devices": 12},
     "scenes": {"quality": 3, "equipment": 2, ...}}          # scene key -> level 0..4
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chaoyun.programme.pack import PACK_DIR, PackError

QUESTIONNAIRE_DIR = PACK_DIR / "questionnaires"


class _Q(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Q):
    key: str
    zh: str
    en: str
    points: Decimal = Field(ge=0)


class Band(_Q):
    upper: Decimal
    points: Decimal = Field(ge=0)


class Item(_Q):
    key: str
    zh: str
    en: str
    type: Literal["multi", "single", "rate", "areas"]
    points: Decimal = Field(gt=0)
    options: list[Option] = Field(default_factory=list)
    numerator: str | None = None
    denominator: str | None = None
    bands: list[Band] = Field(default_factory=list)
    evidence: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Item:
        if self.type == "rate":
            if not (self.numerator and self.denominator and self.bands):
                raise ValueError(f"rate item {self.key} needs numerator, denominator and bands")
        elif not self.options:
            raise ValueError(f"item {self.key} needs options")
        if self.type == "single" and max(o.points for o in self.options) != self.points:
            raise ValueError(f"item {self.key}: its best option must be worth the item's points")
        if self.type in ("multi", "areas") and sum(o.points for o in self.options) != self.points:
            raise ValueError(f"item {self.key}: options add up to {sum(o.points for o in self.options)}")
        return self

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)


class Group(_Q):
    key: str
    zh: str
    en: str
    points: Decimal
    offering_categories: list[str] = Field(default_factory=list)
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _sum(self) -> Group:
        if sum(i.points for i in self.items) != self.points:
            raise ValueError(f"group {self.key}: items add up to {sum(i.points for i in self.items)}")
        return self


class Dimension(_Q):
    key: str
    zh: str
    en: str
    points: Decimal
    groups: list[Group] = Field(min_length=1)


class SceneRule(_Q):
    count: int = Field(ge=0)
    min_scene_level: int = Field(ge=1, le=4)
    constrained: int = Field(ge=0)


class Level(_Q):
    level: int = Field(ge=1, le=9)
    zh: str
    min_score: Decimal
    scenes: SceneRule


class EvidenceField(_Q):
    key: str
    zh: str
    en: str


class SceneGroup(_Q):
    key: str
    zh: str
    en: str


class Scene(_Q):
    key: str
    group: str
    zh: str
    en: str
    constrained: bool
    offering_categories: list[str] = Field(default_factory=list)
    l3_evidence: list[str] = Field(default_factory=list)


class Questionnaire(_Q):
    key: str
    title_zh: str
    title_en: str
    document: str = ""
    levels: list[Level] = Field(min_length=1)
    dimensions: list[Dimension] = Field(min_length=1)
    evidence_fields: list[EvidenceField] = Field(default_factory=list)
    scene_groups: list[SceneGroup] = Field(default_factory=list)
    scenes: list[Scene] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Questionnaire:
        keys = [i.key for i in self.items()]
        if len(keys) != len(set(keys)):
            raise ValueError("item keys must be unique")
        if sum(d.points for d in self.dimensions) != Decimal(100):
            raise ValueError("dimensions must add up to 100 points")
        mins = [lv.min_score for lv in self.levels]
        if mins != sorted(mins):
            raise ValueError("levels must be listed by ascending min_score")
        groups = {g.key for g in self.scene_groups}
        bad = [s.key for s in self.scenes if s.group not in groups]
        if bad:
            raise ValueError(f"scenes in unknown groups: {bad}")
        return self

    def items(self) -> list[Item]:
        return [i for d in self.dimensions for g in d.groups for i in g.items]

    def groups(self) -> list[Group]:
        return [g for d in self.dimensions for g in d.groups]

    def item(self, key: str) -> Item | None:
        return next((i for i in self.items() if i.key == key), None)

    def scene(self, key: str) -> Scene | None:
        return next((s for s in self.scenes if s.key == key), None)


@lru_cache(maxsize=8)
def get_questionnaire(key: str) -> Questionnaire:
    path = QUESTIONNAIRE_DIR / f"{key}.yaml"
    return load_questionnaire(path)


def load_questionnaire(path: Path) -> Questionnaire:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PackError(path, ["questionnaire file not found"]) from exc
    except yaml.YAMLError as exc:
        raise PackError(path, [f"not valid YAML: {exc}"]) from exc
    try:
        return Questionnaire.model_validate(data)
    except ValidationError as exc:
        raise PackError(path, [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]) from exc


# ---------------------------------------------------------------- scoring


@dataclass
class Score:
    total: Decimal
    level: int
    score_level: int  # the level the score alone would give
    items: dict[str, Decimal]
    groups: dict[str, Decimal]
    dimensions: dict[str, Decimal]
    scenes: dict[str, int]
    rates: dict[str, Decimal | None] = field(default_factory=dict)
    scene_shortfall: str | None = None


def _rate(answers: dict[str, Any], item: Item) -> Decimal | None:
    ev = answers.get("evidence") or {}
    try:
        num = Decimal(str(ev.get(item.numerator))) if ev.get(item.numerator) is not None else None
        den = Decimal(str(ev.get(item.denominator))) if ev.get(item.denominator) is not None else None
    except ArithmeticError:
        return None
    if num is None or den is None or den <= 0:
        return None
    return min(num / den * 100, Decimal(100))


def band_points(item: Item, rate: Decimal | None) -> Decimal:
    if rate is None:
        return Decimal(0)
    for band in item.bands:
        if rate <= band.upper:
            return band.points
    return item.bands[-1].points


def item_score(item: Item, answers: dict[str, Any]) -> tuple[Decimal, Decimal | None]:
    if item.type == "rate":
        rate = _rate(answers, item)
        return band_points(item, rate), rate
    value = answers.get(item.key)
    if item.type == "single":
        opt = item.option(value) if isinstance(value, str) else None
        return (opt.points if opt else Decimal(0)), None
    chosen = value if isinstance(value, list) else []
    pts = sum((o.points for o in item.options if o.key in set(chosen)), Decimal(0))
    return min(pts, item.points), None


def scene_levels(q: Questionnaire, answers: dict[str, Any]) -> dict[str, int]:
    raw = answers.get("scenes") or {}
    out = {}
    for s in q.scenes:
        try:
            lv = int(raw.get(s.key, 0))
        except (TypeError, ValueError):
            lv = 0
        out[s.key] = max(0, min(4, lv))
    return out


def scenes_meet(q: Questionnaire, levels: dict[str, int], rule: SceneRule) -> bool:
    at = [s for s in q.scenes if levels.get(s.key, 0) >= rule.min_scene_level]
    return len(at) >= rule.count and sum(1 for s in at if s.constrained) >= rule.constrained


def score(q: Questionnaire, answers: dict[str, Any]) -> Score:
    items: dict[str, Decimal] = {}
    rates: dict[str, Decimal | None] = {}
    groups: dict[str, Decimal] = {}
    dims: dict[str, Decimal] = {}
    for d in q.dimensions:
        dsum = Decimal(0)
        for g in d.groups:
            gsum = Decimal(0)
            for it in g.items:
                pts, rate = item_score(it, answers)
                items[it.key] = pts
                if it.type == "rate":
                    rates[it.key] = rate
                gsum += pts
            groups[g.key] = gsum
            dsum += gsum
        dims[d.key] = dsum
    total = sum(dims.values(), Decimal(0))
    scenes = scene_levels(q, answers)
    score_level = 0
    level = 0
    shortfall = None
    for lv in q.levels:
        if total < lv.min_score:
            break
        score_level = lv.level
        if scenes_meet(q, scenes, lv.scenes):
            level = lv.level
        elif shortfall is None:
            shortfall = lv.zh
    return Score(total, level, score_level, items, groups, dims, scenes, rates, shortfall)


def weakest_groups(q: Questionnaire, result: Score, n: int = 3) -> list[tuple[Group, Decimal]]:
    """Groups with the lowest share of their points, for recommendations."""
    ranked = sorted(q.groups(), key=lambda g: (result.groups[g.key] / g.points, g.key))
    return [(g, result.groups[g.key] / g.points) for g in ranked[:n]]
