"""Who records and who reads tariffs and prices."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role as R

# A provider's admin records its own prices; the city's officers, experts and evaluators read them all.
PRICES_WRITE = grant("market.prices_write", (R.PROVIDER_ADMIN,), write=True)
PRICES_READ = grant(
    "market.prices_read",
    (R.PROVIDER_ADMIN, R.PROVIDER_MEMBER, R.CITY_OFFICER, R.DISTRICT_OFFICER, R.EXPERT, R.EVALUATOR),
    write=False,
)
