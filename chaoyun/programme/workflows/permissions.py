"""Permissions of the money-and-selection workflows (route level; object scope is checked in the services)."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
_EVERYONE = (
    R.CITY_OFFICER,
    R.DISTRICT_OFFICER,
    R.EXPERT,
    R.EVALUATOR,
    R.ENTERPRISE_ADMIN,
    R.ENTERPRISE_MEMBER,
    R.PROVIDER_ADMIN,
    R.PROVIDER_MEMBER,
)

# Read the workflows in scope: own organisation's records, own district's, or everything for city-wide roles.
WF_READ = grant("programme.wf.read", _EVERYONE, write=False)
# City-wide configuration pages (rounds, services, calls) that are not tied to one organisation.
WF_CITY_READ = grant("programme.wf.city_read", (R.CITY_OFFICER, R.EXPERT, R.EVALUATOR), write=False)
# Apply: claim vouchers, apply for subsidies, seats and demonstration; only organisation admins sign for it.
WF_APPLY = grant("programme.wf.apply", (R.ENTERPRISE_ADMIN, R.PROVIDER_ADMIN), write=True)
# Take a workflow action (confirm a contract, review, approve...); the state machine checks the party.
WF_ACT = grant(
    "programme.wf.act", (R.ENTERPRISE_ADMIN, R.PROVIDER_ADMIN, R.DISTRICT_OFFICER, R.CITY_OFFICER), write=True
)
# Configure rounds, services and calls; run batches and allocation.
WF_MANAGE = grant("programme.wf.manage", (R.CITY_OFFICER,), write=True)
# Expert scoring and declaring conflicts of interest.
WF_SCORE = grant("programme.wf.score", (R.EXPERT,), write=True)
