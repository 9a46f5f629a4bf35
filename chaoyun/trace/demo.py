"""Demo of traceability: a faulty plastic lot traced from the supplier to the toy maker's batches and on to the
export buyers, in one click (`factory` login → 追溯与召回 → the received lot's 召回 button).

Built on what the other demos recorded, through the rules: the supply-chain demo's plastic-parts suppliers ship
wheel lots (PT-WHEEL) to the `factory` toy maker, which receives them. Here the toy maker records three batches of
remote-control cars through production's own ``create_lot`` (so the trace hook links them and registers their
identifiers): two use the first wheel lot it received — the faulty one of the story — one a later wheel lot (or,
when the supply-chain demo shipped only one, a lot from the maker's own stock). The batches go to export buyers
outside the platform (recorded as deliveries), and the toy maker authorises the supplier to see its batches, so
the supplier's recall reaches the buyers too. Every other production lot of the demo (the production demo's and the
suppliers') is linked and gets its identifier. Nothing is drawn at random; a second run the same day changes
nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.devices.models import Device
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.production import service as production
from chaoyun.production.schemas import ItemIn, LotIn, LotMaterialIn, OpMachineIn, RoutingOpIn, WorkOrderIn
from chaoyun.supplychain.public import ShippedLot, shipments_of_lots
from chaoyun.trace import graph, service

PRODUCT = ("RC-CAR", "遥控赛车", "台")
BUYERS = [
    ("Hamburg Spielwaren GmbH", "DE", "EXP-HH-01"),
    ("Osaka Toy Trading Co.", "JP", "EXP-OS-01"),
    ("Toys Direct Ltd", "GB", "EXP-UK-01"),
    ("Lyon Jouets SARL", "FR", "EXP-LY-01"),
]


def _admin(db: Session, username: str) -> Actor | None:
    row = db.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id).where(User.username == username)
    ).first()
    return Actor(row[0], row[1]) if row else None


def _received(db: Session, org_id: int) -> list[ShippedLot]:
    """Lots the supply chain shipped to this enterprise (found from the suppliers' production lots)."""
    out: list[ShippedLot] = []
    last = 0
    while True:
        lots = production.lots_after(db, last, 1000)
        if not lots:
            break
        out += [s for s in shipments_of_lots(db, [lt.id for lt in lots]) if s.customer_org_id == org_id]
        last = lots[-1].id
    return sorted(out, key=lambda s: (s.shipped_at, s.shipment_id))


def _machine(db: Session, org_id: int) -> Device | None:
    devices = list(db.execute(select(Device).where(Device.org_id == org_id).order_by(Device.id)).scalars())
    moulding = [d for d in devices if d.model.key == "injection_moulding"]
    found = moulding or devices
    return found[0] if found else None


def backfill(db: Session) -> int:
    """Link every production lot and give each its batch identifier (lots recorded before the hook ran)."""
    n = graph.rebuild(db)
    last = 0
    while True:
        lots = production.lots_after(db, last, 500)
        if not lots:
            break
        for lt in lots:
            org = db.get(Organisation, lt.org_id)
            if org is not None and org.kind == "enterprise":
                graph.register_lot(db, None, lt)
        last = lots[-1].id
        db.commit()
    return n


def seed(db: Session) -> str:
    graph.install()
    actor = _admin(db, "factory")
    if actor is None or actor.role != Role.ENTERPRISE_ADMIN:
        return "no factory login"
    org_id = actor.org_id
    service.ensure_prefix(db, actor, org_id)
    db.commit()
    machine = _machine(db, org_id)
    if machine is None:
        return "factory has no machine"
    wheels = [s for s in _received(db, org_id) if s.item_code.startswith("PT-")]
    faulty = wheels[0] if wheels else None
    material = faulty.item_code if faulty else "PT-WHEEL"
    if production.item_by_code(db, org_id, material) is None:
        production.create_item(
            db, actor, ItemIn(code=material, name="遥控车车轮（注塑件）", unit="个", kind="material")
        )
    if production.item_by_code(db, org_id, PRODUCT[0]) is None:
        production.create_item(db, actor, ItemIn(code=PRODUCT[0], name=PRODUCT[1], unit=PRODUCT[2]))
        item = production.item_by_code(db, org_id, PRODUCT[0])
        assert item is not None
        production.set_routing(
            db,
            actor,
            item.id,
            [RoutingOpIn(seq=10, name="总装", setup_s=600, machines=[OpMachineIn(device_id=machine.id, cycle_s=20.0)])],
        )
    item = production.item_by_code(db, org_id, PRODUCT[0])
    assert item is not None
    day = timefmt.local_today() - timedelta(days=1)
    wo_number = f"TR-{day:%y%m%d}"
    faulty_lot = faulty.lot_number if faulty else f"WHEEL{day:%y%m%d}-STOCK1"
    other_lot = wheels[1].lot_number if len(wheels) > 1 else f"WHEEL{day:%y%m%d}-STOCK2"
    if production.work_order_by_number(db, org_id, wo_number) is None:
        wo = production.create_work_order(
            db, actor, WorkOrderIn(number=wo_number, item_id=item.id, quantity=1500, due_date=day + timedelta(days=7))
        )
        production.transition(db, actor, wo.id, "released")
        production.transition(db, actor, wo.id, "running")
        base = datetime.combine(day, time(8, 0), tzinfo=timefmt.zone()).astimezone(UTC)
        plan = [(1, [faulty_lot]), (2, [faulty_lot, other_lot]), (3, [other_lot])]
        for n, wheel_lots in plan:
            production.create_lot(
                db,
                actor,
                LotIn(
                    number=f"{wo_number}-{n}",
                    work_order_id=wo.id,
                    device_id=machine.id,
                    start=base + timedelta(hours=3 * (n - 1)),
                    end=base + timedelta(hours=3 * n),
                    quantity=500,
                    materials=[
                        LotMaterialIn(item_code=material, material_lot=w, quantity=2000.0 / len(wheel_lots))
                        for w in wheel_lots
                    ],
                ),
            )
        deliveries = [(1, 0), (2, 1), (2, 2), (3, 3)]
        for n, b in deliveries:
            name, country, ref = BUYERS[b]
            graph.record_delivery(
                db,
                actor,
                f"{wo_number}-{n}",
                name,
                250 if n == 2 else 480,
                base + timedelta(hours=3 * n + 1),  # shipped an hour after the lot ends, never in the future
                country,
                ref,
            )
    if faulty is not None:
        supplier = db.get(Organisation, faulty.supplier_org_id)
        if supplier is not None and supplier.credit_code:
            service.add_grant(db, actor, supplier.credit_code)
    linked = backfill(db)
    source = "supply-chain shipment" if faulty else "own stock (no supply-chain shipment found)"
    return f"faulty wheel lot {faulty_lot} ({source}) in {wo_number}-1/-2; {linked} lots linked"
