"""Test helpers of the maintenance app: an enterprise with an admin, a member (technician) and machines."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from chaoyun.devices.models import Device
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from tests.apps.helpers import new_device, new_org
from tests.production.helpers import actor


@dataclass
class Shop:
    org: Organisation
    admin: Actor
    tech: Actor
    other_member: Actor
    im1: Device
    im2: Device


def shop(db: Session, name: str = "维修测试厂") -> Shop:
    org = new_org(db, name)
    return Shop(
        org,
        actor(db, org),
        actor(db, org, "enterprise_member"),
        actor(db, org, "enterprise_member"),
        new_device(db, org.id, "injection_moulding", "1号注塑机"),
        new_device(db, org.id, "injection_moulding", "2号注塑机"),
    )
