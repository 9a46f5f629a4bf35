"""Permissions of the marketplace context (declared through identity's one mechanism)."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
_GOV_READERS = (R.CITY_OFFICER, R.EXPERT, R.EVALUATOR)
_PROVIDERS = (R.PROVIDER_ADMIN, R.PROVIDER_MEMBER)
_ENTERPRISES = (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER)

# The pool is run by the city bureau (plan item 13: 市经信局); district offices are not part of it.
GOV_READ = grant("market.gov_read", _GOV_READERS, write=False)
REVIEW = grant("market.review", (R.CITY_OFFICER, R.EXPERT), write=True)
ADMIT = grant("market.admit", (R.CITY_OFFICER,), write=True)
ASSESS = grant("market.assess", (R.CITY_OFFICER, R.EXPERT), write=True)
PROVIDER_READ = grant("market.provider_read", _PROVIDERS, write=False)
PROVIDER_WRITE = grant("market.provider_write", _PROVIDERS, write=True)
ENTERPRISE_WRITE = grant("market.enterprise_write", _ENTERPRISES, write=True)
# Contracts pages: both parties, and the bureau.
CONTRACTS = grant("market.contracts", (*_ENTERPRISES, *_PROVIDERS, *_GOV_READERS), write=False)
MATCH = grant("market.match", (*_ENTERPRISES, *_GOV_READERS), write=False)
# Application documents and assessment evidence: the provider itself and the bureau.
FILES = grant("market.files", (*_PROVIDERS, *_GOV_READERS), write=False)
