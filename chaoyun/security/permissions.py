"""Permissions of the security context.

- ``security.read``: enterprise admins (their own enterprise), district officers (their district), city officers,
  experts and evaluators (the city): inspection results, findings, incidents, the heat map.
- ``security.selfcheck`` (write, enterprise admins): answer the self-check, attach evidence, report a finding
  rectified.
- ``security.inspect`` (write, district and city officers): the on-site check, findings, re-checks.
- ``security.manage`` (write, city officers): inspection campaigns (industries and enterprises), the province export.
- ``security.incident`` (write, enterprise admins, district and city officers): handle incidents (scope applies:
  an enterprise its own, a district officer their district).
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
SEC_READ = grant(
    "security.read", (R.ENTERPRISE_ADMIN, R.DISTRICT_OFFICER, R.CITY_OFFICER, R.EXPERT, R.EVALUATOR), write=False
)
SEC_SELFCHECK = grant("security.selfcheck", (R.ENTERPRISE_ADMIN,), write=True)
SEC_INSPECT = grant("security.inspect", (R.DISTRICT_OFFICER, R.CITY_OFFICER), write=True)
SEC_MANAGE = grant("security.manage", (R.CITY_OFFICER,), write=True)
SEC_INCIDENT = grant("security.incident", (R.ENTERPRISE_ADMIN, R.DISTRICT_OFFICER, R.CITY_OFFICER), write=True)
