"""Permissions of the maintenance app.

- ``maintenance.read`` (enterprise admins and members): the pages and API — orders, plans, calendar, parts and
  reliability of their own enterprise. Members (operators, technicians) read every order of the enterprise, so an
  operator sees whether a breakdown is already reported before reporting it again; their list opens on "mine"
  (assigned to them or reported by them) and they act only on orders assigned to them.
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
