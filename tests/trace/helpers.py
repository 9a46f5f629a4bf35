"""Test helpers: an enterprise with machines, a product, materials, running work orders and lots recorded through
production's own service (so the trace hook runs as in real use)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from chaoyun.production import service as production
from chaoyun.production.models import Item, Lot, WorkOrder
from chaoyun.production.schemas import ItemIn, LotIn, LotMaterialIn, WorkOrderIn
from chaoyun.trace import graph
from tests.production.helpers import Firm, firm, product

FUTURE = datetime.now(UTC).date() + timedelta(days=30)


def toy_firm(db: Session, name: str = "溯源玩具厂") -> Firm:
    graph.install()
    f = firm(db, name)
    product(db, f, code="CAR")
    product(db, f, code="BODY", family="车身")
    for code in ("ABS", "PAINT", "BODY"):
        if production.item_by_code(db, f.org.id, code + "-M") is None:
            production.create_item(db, f.admin, ItemIn(code=code + "-M", name=f"{code}料", unit="kg", kind="material"))
    return f


def material(db: Session, f: Firm, code: str) -> Item:
    it = production.item_by_code(db, f.org.id, code)
    if it is None:
        it = production.create_item(db, f.admin, ItemIn(code=code, name=code, unit="kg", kind="material"))
    return it


def running_wo(db: Session, f: Firm, item_code: str = "CAR") -> WorkOrder:
    item = production.item_by_code(db, f.org.id, item_code)
    assert item is not None
    wo = production.create_work_order(
        db,
        f.admin,
        WorkOrderIn(number=f"WO-{secrets.token_hex(3)}", item_id=item.id, quantity=1000, due_date=FUTURE),
    )
    production.transition(db, f.admin, wo.id, "released")
    production.transition(db, f.admin, wo.id, "running")
    return wo


def lot(
    db: Session,
    f: Firm,
    number: str,
    materials: list[tuple[str, str]] = (),  # type: ignore[assignment]
    item_code: str = "CAR",
    hours_ago: float = 5,
) -> Lot:
    wo = running_wo(db, f, item_code)
    for code, _ in materials:
        material(db, f, code)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago)
    return production.create_lot(
        db,
        f.admin,
        LotIn(
            number=number,
            work_order_id=wo.id,
            device_id=f.im1.id,
            start=end - timedelta(hours=2),
            end=end,
            quantity=500,
            materials=[LotMaterialIn(item_code=c, material_lot=m, quantity=10.0) for c, m in materials],
        ),
    )


def firm_of(db: Session, org_id: int) -> Firm:
    """A Firm over an existing organisation (a demo login's), with machines and products of its own."""
    from chaoyun.identity.models import Organisation
    from tests.apps.helpers import new_device
    from tests.production.helpers import actor

    org = db.get(Organisation, org_id)
    assert org is not None
    f = Firm(
        org,
        actor(db, org),
        actor(db, org, "enterprise_member"),
        new_device(db, org.id, "injection_moulding", "溯源注塑机"),
        new_device(db, org.id, "injection_moulding", "溯源注塑机2"),
        new_device(db, org.id, "packaging", "溯源包装机"),
    )
    graph.install()
    for code in ("CAR", "BODY"):
        if production.item_by_code(db, org.id, code) is None:
            product(db, f, code=code)
    return f
