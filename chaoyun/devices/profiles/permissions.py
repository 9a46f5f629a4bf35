"""Permissions of device profiles: enterprises read and manage their own (plus the read-only city catalogue);
district and city officers read them; the platform admin keeps the catalogue (holds every permission)."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

PROFILES_READ = grant(
    "devices.profiles.read",
    {Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_MEMBER, Role.DISTRICT_OFFICER, Role.CITY_OFFICER},
    write=False,
)
PROFILES_MANAGE = grant("devices.profiles.manage", {Role.ENTERPRISE_ADMIN}, write=True)
