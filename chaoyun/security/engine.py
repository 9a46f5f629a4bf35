"""The checklist engine: checklists as data (``checklists/*.yaml``), one engine for the enterprises' inspection
(answers: met / partly met / not met / not applicable) and the providers' whitelist assessment (points up to each
item's weight). Every item names its source clauses; see docs/security.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from chaoyun.errors import Invalid, NotFound
from chaoyun.i18n import N_

HERE = Path(__file__).resolve().parent / "checklists"

DOMAINS: dict[str, str] = {
    "device": N_("Device security"),
    "control": N_("Control security"),
    "network": N_("Network security"),
    "platform": N_("Platform security"),
    "data": N_("Data security"),
}
ANSWERS: dict[str, str] = {
    "yes": N_("Met"),
    "partial": N_("Partly met"),
    "no": N_("Not met"),
    "na": N_("Not applicable"),
}
# Share of an item's weight an answer earns.
ANSWER_CREDIT: dict[str, float] = {"yes": 1.0, "partial": 0.5, "no": 0.0}
RISKS: dict[str, str] = {"high": N_("High risk"), "medium": N_("Medium risk"), "low": N_("Low risk")}
RISK_ORDER = ("high", "medium", "low")
# How much an open finding of each level weighs in an enterprise's risk score.
RISK_FACTOR: dict[str, float] = {"high": 1.0, "medium": 0.6, "low": 0.3}
METHODS: dict[str, str] = {
    "document": N_("Document review"),
    "interview": N_("Interview"),
    "onsite_check": N_("On-site check"),
    "onsite_test": N_("On-site test"),
}
TITLE_ONLY = "title only"


@dataclass(frozen=True)
class Source:
    std: str
    title: str
    clause: str | None = None  # None where our reference gives no clause number: shown as "title only"

    def __str__(self) -> str:
        if self.clause:
            return f"{self.std} {self.clause} {self.title}"
        return f"{self.std} {self.title} ({TITLE_ONLY})"


@dataclass(frozen=True)
class Item:
    code: str
    domain: str
    title: str  # English msgid (translated in the security catalog)
    weight: int  # maximum points
    risk: str  # level of the finding when not met
    sources: tuple[Source, ...]
    methods: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        """The source clauses in one line (what the whitelist page shows)."""
        return "; ".join(str(s) for s in self.sources)


@dataclass(frozen=True)
class Checklist:
    key: str
    title: str
    scoring: str  # points | answers
    items: tuple[Item, ...]
    by_code: dict[str, Item] = field(hash=False, compare=False, repr=False)

    @property
    def total_weight(self) -> int:
        return sum(i.weight for i in self.items)

    def by_domain(self) -> dict[str, list[Item]]:
        out: dict[str, list[Item]] = {d: [] for d in DOMAINS}
        for i in self.items:
            out[i.domain].append(i)
        return {d: items for d, items in out.items() if items}


def _parse(data: dict[str, Any]) -> Checklist:
    items = []
    seen: set[str] = set()
    for raw in data["items"]:
        code = str(raw["code"])
        if code in seen:
            raise ValueError(f"checklist {data['key']}: duplicate item {code}")
        seen.add(code)
        if raw["domain"] not in DOMAINS:
            raise ValueError(f"checklist {data['key']}: item {code} has unknown domain {raw['domain']}")
        if raw.get("risk", "medium") not in RISKS:
            raise ValueError(f"checklist {data['key']}: item {code} has unknown risk {raw['risk']}")
        sources = tuple(
            Source(std=str(s["std"]), title=str(s["title"]), clause=str(s["clause"]) if s.get("clause") else None)
            for s in raw.get("sources") or []
        )
        if not sources:
            raise ValueError(f"checklist {data['key']}: item {code} names no source clause")
        methods = tuple(raw.get("methods") or ())
        if any(m not in METHODS for m in methods):
            raise ValueError(f"checklist {data['key']}: item {code} has an unknown method")
        items.append(
            Item(
                code=code,
                domain=str(raw["domain"]),
                title=str(raw["title"]),
                weight=int(raw["weight"]),
                risk=str(raw.get("risk", "medium")),
                sources=sources,
                methods=methods,
            )
        )
    if data.get("scoring") not in ("points", "answers"):
        raise ValueError(f"checklist {data['key']}: scoring must be points or answers")
    return Checklist(
        key=str(data["key"]),
        title=str(data["title"]),
        scoring=str(data["scoring"]),
        items=tuple(items),
        by_code={i.code: i for i in items},
    )


@cache
def load(key: str) -> Checklist:
    path = HERE / f"{key}.yaml"
    if not key.replace("_", "").isalnum() or not path.exists():
        raise NotFound(N_("No such checklist."))
    checklist = _parse(yaml.safe_load(path.read_text(encoding="utf-8")))
    if checklist.key != key:
        raise ValueError(f"{path.name}: key {checklist.key} does not match the file name")
    return checklist


def checklist_keys() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


# ---------------------------------------------------------------- points (the whitelist's scoring)


def parse_points(checklist: Checklist, raw: Mapping[str, Any]) -> dict[str, int]:
    """Points per item from a form or JSON (blank: not scored yet); each between 0 and the item's weight."""
    parsed: dict[str, int] = {}
    for code, value in raw.items():
        item = checklist.by_code.get(code)
        if item is None:
            raise Invalid(N_("Unknown checklist item %(code)s."), field="scores", code=code)
        if str(value).strip() == "":
            continue
        try:
            v = int(str(value).strip())
        except ValueError:
            raise Invalid(N_("Points for %(code)s must be a whole number."), field=f"score_{code}", code=code) from None
        if not 0 <= v <= item.weight:
            raise Invalid(
                N_("Points for %(code)s must be between 0 and %(max)s."),
                field=f"score_{code}",
                code=code,
                max=item.weight,
            )
        parsed[code] = v
    return parsed


def unscored(checklist: Checklist, scored: Mapping[str, Any]) -> list[str]:
    return [i.code for i in checklist.items if i.code not in scored]


def points_total(checklist: Checklist, points: Mapping[str, int]) -> float:
    return float(sum(v for c, v in points.items() if c in checklist.by_code))


# ---------------------------------------------------------------- answers (the enterprises' inspection)


@dataclass(frozen=True)
class Gap:
    item: Item
    answer: str  # no | partial
    risk: str


@dataclass(frozen=True)
class Result:
    score: float  # 0–100: share of the applicable weight met
    by_domain: dict[str, float]  # the same per domain (domains with nothing applicable left out)
    gaps: list[Gap]
    answered: int
    unanswered: list[str]


def parse_answers(checklist: Checklist, raw: Mapping[str, Any]) -> dict[str, str]:
    """Answers per item (blank: not answered); each one of yes / partial / no / na."""
    out: dict[str, str] = {}
    for code, value in raw.items():
        if code not in checklist.by_code:
            raise Invalid(N_("Unknown checklist item %(code)s."), field="answers", code=code)
        v = str(value or "").strip()
        if not v:
            continue
        if v not in ANSWERS:
            raise Invalid(N_("Choose an answer for %(code)s."), field=f"answer_{code}", code=code)
        out[code] = v
    return out


def gap_risk(item: Item, answer: str) -> str:
    """The item's risk when not met; one level lower when partly met."""
    if answer == "partial":
        return RISK_ORDER[min(RISK_ORDER.index(item.risk) + 1, len(RISK_ORDER) - 1)]
    return item.risk


def score_answers(checklist: Checklist, answers: Mapping[str, str]) -> Result:
    earned = possible = 0.0
    dom_earned: dict[str, float] = {}
    dom_possible: dict[str, float] = {}
    gaps: list[Gap] = []
    unanswered: list[str] = []
    for item in checklist.items:
        a = answers.get(item.code)
        if a is None:
            unanswered.append(item.code)
            continue
        if a == "na":
            continue
        credit = ANSWER_CREDIT[a] * item.weight
        earned += credit
        possible += item.weight
        dom_earned[item.domain] = dom_earned.get(item.domain, 0.0) + credit
        dom_possible[item.domain] = dom_possible.get(item.domain, 0.0) + item.weight
        if a in ("no", "partial"):
            gaps.append(Gap(item, a, gap_risk(item, a)))
    gaps.sort(key=lambda g: (RISK_ORDER.index(g.risk), -g.item.weight, g.item.code))
    return Result(
        score=round(100.0 * earned / possible, 1) if possible else 100.0,
        by_domain={d: round(100.0 * dom_earned[d] / p, 1) for d, p in dom_possible.items() if p},
        gaps=gaps,
        answered=len(checklist.items) - len(unanswered),
        unanswered=unanswered,
    )


def risk_score(checklist: Checklist, open_gaps: Mapping[str, str], open_incidents: int = 0) -> float:
    """An enterprise's risk score, 0 (no known risk) to 100: the weight of the items with an open finding, each
    times its risk factor (high 1, medium 0.6, low 0.3), as a share of the checklist's weight, plus 10 points per
    open high-severity incident (at most 100 in all)."""
    total = checklist.total_weight or 1
    s = sum(checklist.by_code[c].weight * RISK_FACTOR[r] for c, r in open_gaps.items() if c in checklist.by_code)
    return round(min(100.0, 100.0 * s / total + 10.0 * open_incidents), 1)
