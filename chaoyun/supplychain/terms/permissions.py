"""Permissions of payment terms: an enterprise's people see its invoices, payments and aging
(``supplychain.terms.read``); its admins issue invoices, record payments and agree terms
(``supplychain.terms.manage``); officers see overdue amounts per district and cluster, no enterprise named
(``supplychain.terms.oversight``)."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
TERMS_READ = grant("supplychain.terms.read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
TERMS_MANAGE = grant("supplychain.terms.manage", (R.ENTERPRISE_ADMIN,), write=True)
TERMS_OVERSIGHT = grant(
    "supplychain.terms.oversight", (R.CITY_OFFICER, R.DISTRICT_OFFICER, R.EVALUATOR, R.EXPERT), write=False
)
