"""Target rules fed by other contexts (resource pool) and rules whose data source is not on the platform.

Demonstration projects, bases and centres are registered by the demonstration workflow module; cloud
adoption and diagnosis rules live next to their records (``cloud_adoption.py``, ``diagnosis.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.i18n import N_
from chaoyun.marketplace import service as marketplace
from chaoyun.marketplace.prices import service as prices
from chaoyun.programme.pack import get_pack
from chaoyun.programme.targets import Rule, RuleResult, memo, register_rule, unavailable

NOT_BY_AREA = N_("The resource pool is city-wide: this figure is not broken down by district or industry.")


def _pool_rule(field: str, cumulative_by_year: bool = False) -> object:
    def fn(db: Session, year: int, district: str | None, cluster: str | None) -> RuleResult:
        pool_counts = marketplace.pool_counts
        if district or cluster:
            return unavailable(NOT_BY_AREA)

        def counts_of(y: int) -> Any:
            return memo(("pool_counts", y), lambda: pool_counts(db, y))

        if cumulative_by_year:
            # Recommendations are reported per year; the target is the total over the period so far.
            start = get_pack().period.start
            total = sum(int(getattr(counts_of(y), field)) for y in range(start, year + 1))
            return RuleResult(value=total)
        counts = counts_of(year)
        if field == "pool_total":
            value = int(counts.admitted_service_providers) + int(counts.admitted_platforms)
        else:
            value = int(getattr(counts, field))
        return RuleResult(value=value)

    return fn


register_rule("marketplace.leading_platforms", _pool_rule("leading_platforms"))  # type: ignore[arg-type]
register_rule("marketplace.city_pool_providers", _pool_rule("pool_total"))  # type: ignore[arg-type]
register_rule(
    "marketplace.recommended_to_province",
    _pool_rule("recommended_to_province", cumulative_by_year=True),  # type: ignore[arg-type]
)


def _supply_collaboration(db: Session, year: int, district: str | None, cluster: str | None) -> RuleResult:
    # The supply-chain context (orders between enterprises) does not exist yet: truly no data source.
    return unavailable(
        N_("Data source not available yet: order collaboration (supply chain) is not on the platform so far.")
    )


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
