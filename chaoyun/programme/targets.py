"""Targets: progress of every pack target, computed from platform records by registered rules.

A rule is ``fn(db, year, district, cluster) -> RuleResult``: the cumulative value reached by the end of
``year`` (optionally within one district and/or one industry cluster) and, where the value is a count
of enterprises or organisations, their ids for drill-down. Any context registers its rules with
``register_rule(key, fn)``; a target whose rule is not registered, or whose rule answers
``available=False``, is shown as "data source not available yet" — never as a number.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from chaoyun.i18n import N_

log = logging.getLogger(__name__)


@dataclass
class RuleResult:
    value: float
    enterprise_ids: list[int] | None = None
    available: bool = True
    note_msgid: str | None = None
    # Optional extra figures a rule may give (e.g. counts per year); shown in drill-down.
    detail: dict[str, float] = field(default_factory=dict)


Rule = Callable[[Session, int, str | None, str | None], RuleResult]
# Optional fast path: all years in one go, ``fn(db, years, district, cluster) -> {year: RuleResult}``.
SeriesRule = Callable[[Session, list[int], str | None, str | None], dict[int, RuleResult]]

_RULES: dict[str, Rule] = {}
_SERIES: dict[str, SeriesRule] = {}


_MEMO: ContextVar[dict[object, object] | None] = ContextVar("programme_rule_memo", default=None)


@contextmanager
def shared_lookups() -> Iterator[None]:
    """Within this block, ``memo`` lets rules share lookups (e.g. the pool counts of a year) instead of
    repeating the same query for each target and year of one dashboard."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def memo(key: object, compute: Callable[[], object]) -> object:
    store = _MEMO.get()
    if store is None:
        return compute()
    if key not in store:
        store[key] = compute()
    return store[key]


def register_rule(key: str, fn: Rule) -> Rule:
    """Register (or replace) the rule computing targets whose pack entry names ``key``."""
    _RULES[key] = fn
    return fn


def register_series(key: str, fn: SeriesRule) -> SeriesRule:
    """Register a function computing a rule for several years at once (must agree with the per-year rule)."""
    _SERIES[key] = fn
    return fn


def rule(key: str) -> Callable[[Rule], Rule]:
    """Decorator form of ``register_rule``."""

    def deco(fn: Rule) -> Rule:
        return register_rule(key, fn)

    return deco


def unavailable(note_msgid: str) -> RuleResult:
    return RuleResult(value=0, enterprise_ids=None, available=False, note_msgid=note_msgid)


NOT_REGISTERED = N_("Data source not available yet: no part of the platform computes this target so far.")

# Modules of this package (and its sub-packages) that register rules when imported (discovery by name,
# like the routers; an import error is not tolerated).
_RULE_MODULE_PREFIXES = ("targets_rules", "cloud_adoption", "diagnosis", "demonstration", "vouchers", "subsidies")


def load_rule_modules() -> None:
    here = Path(__file__).resolve().parent
    for path in sorted(here.glob("**/*.py")):
        rel = path.relative_to(here)
        if "migrations" in rel.parts or "tests" in rel.parts:
            continue
        if not path.stem.startswith(_RULE_MODULE_PREFIXES):
            continue
        name = "chaoyun.programme." + ".".join(rel.with_suffix("").parts)
        importlib.import_module(name)  # a broken rule module fails here, not as "not available"


def get_rule(key: str) -> Rule | None:
    if key not in _RULES:
        load_rule_modules()
    return _RULES.get(key)


def registered_rules() -> dict[str, Rule]:
    load_rule_modules()
    return dict(_RULES)


def evaluate(db: Session, key: str, year: int, district: str | None = None, cluster: str | None = None) -> RuleResult:
    fn = get_rule(key)
    if fn is None:
        return unavailable(NOT_REGISTERED)
    return fn(db, year, district, cluster)


def evaluate_years(
    db: Session, key: str, years: list[int], district: str | None = None, cluster: str | None = None
) -> dict[int, RuleResult]:
    """The rule for each year: one call of its series function when it has one, else one call per year."""
    if get_rule(key) is None:
        return {y: unavailable(NOT_REGISTERED) for y in years}
    series = _SERIES.get(key)
    if series is not None:
        return series(db, years, district, cluster)
    out: dict[int, RuleResult] = {}
    for y in years:
        out[y] = evaluate(db, key, y, district, cluster)
        if not out[y].available:
            return {yy: out[y] for yy in years}
    return out
