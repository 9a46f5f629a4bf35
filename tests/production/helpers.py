"""Test helpers: an enterprise of its own with an admin and an operator, machines from the built-in catalog,
a product with a routing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from chaoyun.devices.models import Device
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.production import service
from chaoyun.production.models import Item
from chaoyun.production.schemas import ItemIn, OpMachineIn, RoutingOpIn
from tests.apps.helpers import new_device, new_org


def actor(db: Session, org: Organisation, role: str = "enterprise_admin") -> Actor:
    u = User(username=f"p_{secrets.token_hex(5)}", display_name="测试")
    db.add(u)
    db.flush()
    m = Membership(user_id=u.id, org_id=org.id, role=role)
    db.add(m)
    db.commit()
    db.refresh(m)
    return Actor(u, m)


@dataclass
class Firm:
    org: Organisation
    admin: Actor
    member: Actor
    im1: Device
    im2: Device
    pack: Device


def firm(db: Session, name: str = "生产测试厂") -> Firm:
    org = new_org(db, name)
    return Firm(
        org,
        actor(db, org),
        actor(db, org, "enterprise_member"),
        new_device(db, org.id, "injection_moulding", "1号注塑机"),
        new_device(db, org.id, "injection_moulding", "2号注塑机"),
        new_device(db, org.id, "packaging", "1号包装机"),
    )


def product(
    db: Session, f: Firm, code: str = "BLK", family: str = "积木", cycle1: float = 24.0, cycle2: float = 30.0
) -> Item:
    item = service.create_item(db, f.admin, ItemIn(code=code, name=f"{code}产品", unit="套", family=family))
    return service.set_routing(
        db,
        f.admin,
        item.id,
        [
            RoutingOpIn(
                seq=10,
                name="注塑",
                setup_s=1800,
                machines=[
                    OpMachineIn(device_id=f.im1.id, cycle_s=cycle1),
                    OpMachineIn(device_id=f.im2.id, cycle_s=cycle2),
                ],
            ),
            RoutingOpIn(seq=20, name="包装", setup_s=600, machines=[OpMachineIn(device_id=f.pack.id, cycle_s=10.0)]),
        ],
    )
