"""Who reads the common-problem report and who decides to be named in it."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role as R

# The government side reads it (a district officer only their district); evaluators read only.
REPORT_READ = grant(
    "programme.commonproblems.read", (R.CITY_OFFICER, R.DISTRICT_OFFICER, R.EXPERT, R.EVALUATOR), write=False
)
# An enterprise sees whether it may be named as a typical case; its administrator decides.
CONSENT_READ = grant("programme.commonproblems.consent_read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
CONSENT_WRITE = grant("programme.commonproblems.consent", (R.ENTERPRISE_ADMIN,), write=True)
