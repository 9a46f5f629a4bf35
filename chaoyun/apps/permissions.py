"""Permissions of the production apps.

Enterprises see their own OEE, quality and energy; operators (members) label stops, enter counts and
measurements; admins manage plans, calendars, tariffs and reports. Government roles see cluster aggregates
only (average OEE by industry and district), never one enterprise's detail.
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
APPS_READ = grant("apps.read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
APPS_OPERATE = grant("apps.operate", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=True)
APPS_MANAGE = grant("apps.manage", (R.ENTERPRISE_ADMIN,), write=True)
APPS_CLUSTER = grant("apps.cluster", (R.CITY_OFFICER, R.DISTRICT_OFFICER, R.EXPERT, R.EVALUATOR), write=False)
