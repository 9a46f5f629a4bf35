"""Permissions of the production context.

Enterprise admins manage items, routings and work orders; members (operators) report operations and record
lots; government roles read cluster aggregates only (counts and rates), never one enterprise's items.
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
PRODUCTION_READ = grant("production.read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
PRODUCTION_REPORT = grant("production.report", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=True)
PRODUCTION_MANAGE = grant("production.manage", (R.ENTERPRISE_ADMIN,), write=True)
PRODUCTION_CLUSTER = grant(
    "production.cluster", (R.CITY_OFFICER, R.DISTRICT_OFFICER, R.EXPERT, R.EVALUATOR), write=False
)
