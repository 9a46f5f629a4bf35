"""Permissions of the intrusion detector.

- ``security.ids.read``: enterprise admins (their own enterprise), district officers (their district), city
  officers, experts and evaluators: alerts, scans and profiles.
- ``security.ids.write`` (enterprise admins, and their gateways' API tokens with the write scope): upload a profile
  or a capture to learn or scan, post alerts found by the gateway.
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
IDS_READ = grant(
    "security.ids.read", (R.ENTERPRISE_ADMIN, R.DISTRICT_OFFICER, R.CITY_OFFICER, R.EXPERT, R.EVALUATOR), write=False
)
IDS_WRITE = grant("security.ids.write", (R.ENTERPRISE_ADMIN,), write=True)
