"""Permissions of the supply-chain context.

Enterprise people read and work their orders (place, answer, ship, receive); only the enterprise admin invites
suppliers, accepts an invitation or ends a partnership. Government roles read district / city aggregates only.
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
SUPPLYCHAIN_READ = grant("supplychain.read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
SUPPLYCHAIN_WRITE = grant("supplychain.write", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=True)
SUPPLYCHAIN_PARTNERS = grant("supplychain.partners", (R.ENTERPRISE_ADMIN,), write=True)
SUPPLYCHAIN_CLUSTER = grant(
    "supplychain.cluster", (R.CITY_OFFICER, R.DISTRICT_OFFICER, R.EXPERT, R.EVALUATOR, R.PLATFORM_ADMIN), write=False
)
