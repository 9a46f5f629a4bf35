"""Marketplace settings, read from CHAOYUN_MARKET_* environment variables (documented in docs/resource-pool.md)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chaoyun.settings import env


def _env(name: str) -> str:
    return env(f"MARKET_{name}")


@dataclass(frozen=True)
class MarketConfig:
    quota_platform: Decimal  # starting voucher quota of a platform provider per year, yuan
    quota_service: Decimal  # starting quota of other providers, yuan
    pass_threshold: float  # whitelist checklist points (of 100) needed to pass
    whitelist_months: int  # how long a passed assessment stays valid
    upload_max_bytes: int
    spot_check_penalty: Decimal  # share of the base quota removed by a failed spot check
    complaint_penalty: Decimal  # share removed by an upheld complaint
    rating_bonus: Decimal  # share added at re-evaluation when the average rating is >= 4.5


def market_config() -> MarketConfig:
    # Read on each call (cheap) so tests and operators can change the environment without a restart of caches.
    return MarketConfig(
        quota_platform=Decimal(_env("QUOTA_PLATFORM")),
        quota_service=Decimal(_env("QUOTA_SERVICE")),
        pass_threshold=float(_env("PASS_THRESHOLD")),
        whitelist_months=int(_env("WHITELIST_MONTHS")),
        upload_max_bytes=int(_env("UPLOAD_MAX_BYTES")),
        spot_check_penalty=Decimal(_env("SPOT_CHECK_PENALTY")),
        complaint_penalty=Decimal(_env("COMPLAINT_PENALTY")),
        rating_bonus=Decimal(_env("RATING_BONUS")),
    )
