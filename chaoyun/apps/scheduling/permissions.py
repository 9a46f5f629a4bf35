"""Permissions of the scheduling app.

An enterprise's people see its plans and each machine's "next up" list (``scheduling.read``); its admins plan:
solve, pin, publish, cancel, accept or reject repairs (``scheduling.plan``). Government roles hold neither: a
factory's schedule (orders, customers' due dates, machine loads) is its own business. The programme sees only
that the app is used (``chaoyun.apps.usage``, app key ``scheduling``), as for the other apps.
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
SCHED_READ = grant("scheduling.read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
SCHED_PLAN = grant("scheduling.plan", (R.ENTERPRISE_ADMIN,), write=True)
