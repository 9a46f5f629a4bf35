"""Permissions of capacity sharing: an enterprise's people see offers and bookings
(``supplychain.capacity.read``); its admins publish offers, request and confirm bookings
(``supplychain.capacity.manage``)."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
CAPACITY_READ = grant("supplychain.capacity.read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
CAPACITY_MANAGE = grant("supplychain.capacity.manage", (R.ENTERPRISE_ADMIN,), write=True)
