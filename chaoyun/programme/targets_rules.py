"""Target rules fed by other contexts (resource pool) and rules whose data source is not on the platform.

Demonstration projects, bases and centres are registered by the demonstration workflow module; cloud
adoption and diagnosis rules live next to their records (``cloud_adoption.py``, ``diagnosis.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.i18n import N_
from chaoyun.marketplace import pool
from chaoyun.marketplace.prices import service as prices
from chaoyun.programme.targets import Rule, RuleResult, memo, register_rule, unavailable
from chaoyun.supplychain import queries as sc_queries

NOT_BY_AREA = N_("The resource pool is city-wide: this figure is not broken down by district or industry.")


def _pool_rule(field: str) -> Rule:
    """A pool KPI as ``chaoyun.marketplace.pool.pool_kpis`` defines it: the same number as the pool panel,
    /gov/market and the public page show."""

    def fn(db: Session, year: int, district: str | None, cluster: str | None) -> RuleResult:
        if district or cluster:
            return unavailable(NOT_BY_AREA)
        kpis: Any = memo(("pool_kpis", year), lambda: pool.pool_kpis(db, year))
        return RuleResult(value=int(getattr(kpis, field)))

    return fn


register_rule("marketplace.leading_platforms", _pool_rule("leading_platforms"))
register_rule("marketplace.city_pool_providers", _pool_rule("service_providers"))
register_rule("marketplace.recommended_to_province", _pool_rule("recommended_to_province"))


def _supply_collaboration(db: Session, year: int, district: str | None, cluster: str | None) -> RuleResult:
    """Enterprises (buyers and suppliers) with at least one live order exchange on the platform in the year: a
    purchase-order line its supplier confirmed that year, or a confirmed line still being delivered during it
    (``chaoyun.supplychain.queries.live_exchange_orgs``)."""
    ids = sc_queries.live_exchange_orgs(db, date(year, 1, 1), date(year, 12, 31), district, cluster)
    return RuleResult(value=len(ids), enterprise_ids=sorted(ids))


register_rule("supplychain.platform_collaboration", _supply_collaboration)


def _price_rule(index: Callable[[Session, int], prices.PriceIndex], none_msgid: str) -> Rule:
    def fn(db: Session, year: int, district: str | None, cluster: str | None) -> RuleResult:
        if district or cluster:
            return unavailable(NOT_CITY_WIDE_PRICES)
        result = index(db, year)
        if result.value is None:
            return unavailable(none_msgid)
        compared = [i for i in result.items if i.change_pct is not None]
        return RuleResult(value=result.value, detail={"items": float(len(compared))})

    return fn


NOT_CITY_WIDE_PRICES = N_("Tariffs and prices are city-wide: this figure is not broken down by district or industry.")
register_rule(
    "network.tariff_reduction",
    _price_rule(
        prices.tariff_reduction,
        N_("No carrier has recorded a dedicated-line or data-traffic tariff with its 2017 baseline yet."),
    ),
)
register_rule(
    "cloud.public_discount",
    _price_rule(prices.cloud_discount, N_("No cloud provider has recorded its list and programme prices yet.")),
)
