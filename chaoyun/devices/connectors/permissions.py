"""Permissions of devices/connectors: gateways (read, manage) and write-back commands.

Like the rest of the devices context, these are enterprise matters: government roles see no gateway.
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

GATEWAYS_READ = grant("devices.gateways.read", {Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_MEMBER}, write=False)
GATEWAYS_MANAGE = grant("devices.gateways.manage", {Role.ENTERPRISE_ADMIN}, write=True)
COMMANDS_READ = grant("devices.commands.read", {Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_MEMBER}, write=False)
COMMANDS_SEND = grant("devices.commands.send", {Role.ENTERPRISE_ADMIN}, write=True)
