"""Permissions of the devices context.

Enterprises see and manage their own equipment. Government roles see aggregates only (devices online by
district and industry); per-device data stays with the enterprise (platform admins hold everything).
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

DEVICES_READ = grant("devices.read", {Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_MEMBER}, write=False)
DEVICES_MANAGE = grant("devices.manage", {Role.ENTERPRISE_ADMIN}, write=True)
ALARMS_ACK = grant("devices.alarms.ack", {Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_MEMBER}, write=True)
DEVICES_CLUSTER = grant(
    "devices.cluster",
    {Role.CITY_OFFICER, Role.DISTRICT_OFFICER, Role.EXPERT, Role.EVALUATOR},
    write=False,
)
