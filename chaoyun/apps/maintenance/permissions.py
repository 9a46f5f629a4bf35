"""Permissions of the maintenance app.

- ``maintenance.read`` (enterprise admins and members): the pages and API. Admins see every order, plan, part and
  the reliability figures of their enterprise; members (operators, technicians) see the orders assigned to them or
  that they reported, the calendar of those orders, the parts list (to book what they used) and the reliability
  figures.
- ``maintenance.work`` (admins and members, write): report a breakdown (a corrective order), start an order
  assigned to you, book time, parts, cause and notes, finish it.
- ``maintenance.manage`` (admins, write): plans, spare parts and stock, assigning technicians, maintenance windows,
  cancelling, settings (which alarms open orders, the failure threshold), running the due check.

Government roles hold none of them: a factory's maintenance is its own business (the programme only sees that the
app is used, ``chaoyun.apps.usage`` app key ``maintenance``).
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
MAINT_READ = grant("maintenance.read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
MAINT_WORK = grant("maintenance.work", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=True)
MAINT_MANAGE = grant("maintenance.manage", (R.ENTERPRISE_ADMIN,), write=True)
