"""Demo of orders between enterprises: the two Chenghai toy makers (`factory`'s and `factory2`'s firms) pull orders
from five suppliers — two plastic-parts moulders, two mould makers, one printing-and-packaging firm — whose
simulated machines report the progress.

Everything goes through the rules: the toy makers invite, the suppliers' admins accept; orders are placed, the
suppliers confirm lines (each a work order of the supplier's production) or propose a change; the supplier's
machines are simulated over the run windows (the simulator's virtual machine through the real ingest path, as in
``chaoyun.production.demo``), runs finish with their counters' counts, lots are recorded, shipped and received with
an incoming inspection whose result is a rule over the run's own counts (a lot passes when the machine counted at
most 2 % rejects in its run). Progress and forecasts are then computed from the work orders by ``progress.refresh``.
Nothing is drawn at random. Re-seeding the same day changes nothing (pairs with a demo order are skipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.devices.demo import demo_orgs
from chaoyun.devices.models import Device
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.production import service as production
from chaoyun.production.demo import simulate
from chaoyun.production.schemas import ItemIn, LotIn, OpMachineIn, RoutingOpIn
from chaoyun.supplychain import logistics, progress, service
from chaoyun.supplychain.logistics import LotOut
from chaoyun.supplychain.models import PurchaseOrder
from chaoyun.supplychain.service import NewLine

# Supplier clusters in the order they are picked, with the machine model their parts are made on.
WANTED = [
    ("chemicals_plastics", "injection_moulding"),
    ("chemicals_plastics", "injection_moulding"),
    ("light_equipment", "cnc"),
    ("light_equipment", "cnc"),
    ("printing_packaging", "packaging"),
]
# What each kind of supplier makes for the toy makers: code, name, unit, price (yuan), cycle seconds.
PARTS: dict[str, list[tuple[str, str, str, str, float]]] = {
    "injection_moulding": [
        ("PT-WHEEL", "遥控车车轮（注塑件）", "个", "0.3500", 30.0),
        ("PT-BRICK", "积木颗粒（注塑件）", "粒", "0.0800", 30.0),
    ],
    "cnc": [
        ("MD-INSERT", "积木模具镶件", "件", "180.0000", 90.0),
        ("MD-PIN", "模具顶针组件", "件", "45.0000", 90.0),
    ],
    "packaging": [
        ("PK-BOX", "积木彩盒（印刷）", "个", "1.2000", 1.5),
        ("PK-MANUAL", "拼装说明书（印刷）", "份", "0.3000", 1.5),
    ],
}
MAX_REJECT_SHARE = 0.02  # incoming inspection: a lot fails above this share of rejects in its run


@dataclass
class Supplier:
    org: Organisation
    actor: Actor
    model: str
    machines: list[Device]


def _actor(db: Session, org: Organisation) -> Actor:
    row = db.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org.id, Membership.role == Role.ENTERPRISE_ADMIN.value)
        .order_by(Membership.id)
    ).first()
    if row:
        return Actor(row[0], row[1])
    # Demo firms without accounts act as the system for that firm (audited as "demo"), as the production demo does.
    m = Membership(org_id=org.id, role=Role.ENTERPRISE_ADMIN.value)
    m.org = org
    return Actor(User(username="demo", display_name="demo"), m)


def _user_org(db: Session, username: str) -> Organisation | None:
    return db.execute(
        select(Organisation)
        .join(Membership, Membership.org_id == Organisation.id)
        .join(User, User.id == Membership.user_id)
        .where(User.username == username)
    ).scalar_one_or_none()


def leads(db: Session) -> list[Organisation]:
    return [o for o in (_user_org(db, "factory"), _user_org(db, "factory2")) if o is not None]


def suppliers(db: Session) -> list[Supplier]:
    """Five demo firms with machines: the `supplier` login's firm first, then by cluster as WANTED says."""
    taken = {o.id for o in leads(db)}
    firms = [o for o in demo_orgs(db) if o.id not in taken]
    own = _user_org(db, "supplier")
    if own is not None and own in firms:
        firms.remove(own)
        firms.insert(0, own)
    out: list[Supplier] = []
    for cluster, model in WANTED:
        for org in firms:
            if org.id in taken or (org.enterprise.cluster if org.enterprise else "") != cluster:
                continue
            machines = list(db.execute(select(Device).where(Device.org_id == org.id).order_by(Device.id)).scalars())
            machines = [d for d in machines if d.model.key == model]
            if len(machines) < 2:
                continue
            taken.add(org.id)
            out.append(Supplier(org, _actor(db, org), model, machines))
            break
    return out


def _items(db: Session, s: Supplier) -> None:
    for code, name, unit, _price, cycle in PARTS[s.model]:
        if production.item_by_code(db, s.org.id, code) is not None:
            continue
        item = production.create_item(db, s.actor, ItemIn(code=code, name=name, unit=unit, family=code[:2]))
        ops = [OpMachineIn(device_id=d.id, cycle_s=cycle) for d in s.machines[:3]]
        step = {"injection_moulding": "注塑", "cnc": "数控加工", "packaging": "印刷包装"}[s.model]
        production.set_routing(db, s.actor, item.id, [RoutingOpIn(seq=10, name=step, setup_s=1800, machines=ops)])


def _partners(db: Session, lead: Actor, s: Supplier) -> None:
    p = service.partnership(db, lead.org_id, s.org.id)
    if p is not None and p.state == "active":
        return
    if p is None or p.state not in ("invited",):
        p = service.invite(db, lead, s.org.id, "潮云供应链协同：订单、进度与收货在平台上往来")
    service.answer_invitation(db, s.actor, p.id, accept=True)


def _run(db: Session, s: Supplier, wo_id: int, device: Device, start: datetime, end: datetime | None) -> None:
    """The machine works the order's operation from start to end (None: still running now)."""
    now = datetime.now(UTC).replace(microsecond=0)
    simulate(db, device, start, end or now)
    wo = production.get_work_order(db, s.actor, wo_id)
    if wo.state == "planned":
        production.transition(db, s.actor, wo.id, "released", at=start - timedelta(minutes=30))
    report = production.start_operation(db, s.actor, wo.operations[0].id, device.id, at=start)
    if end is not None:
        production.finish_report(db, s.actor, report.id, at=end)


def _ship_and_receive(db: Session, lead: Actor, s: Supplier, po: PurchaseOrder, line_id: int) -> str | None:
    ln = next(x for x in po.lines if x.id == line_id)
    wo = production.get_work_order(db, s.actor, ln.work_order_id or 0)
    report = wo.operations[0].reports[-1]
    if report.finished_at is None or not report.good:
        return None
    lot = production.create_lot(
        db,
        s.actor,
        LotIn(
            number=f"{wo.number}-L1",
            work_order_id=wo.id,
            device_id=report.device_id,
            start=report.started_at,
            end=report.finished_at,
            quantity=report.good,
        ),
    )
    qty = min(lot.quantity, logistics.open_to_ship(ln))
    shipment = logistics.create_shipment(
        db, s.actor, po.id, [LotOut(ln.id, lot.number, qty)], timefmt.local_today(), "送货车 粤D·潮云01"
    )
    made = (report.good or 0) + (report.reject or 0)
    ok = made > 0 and (report.reject or 0) / made <= MAX_REJECT_SHARE
    result = "pass" if ok else "fail"
    note = "" if ok else f"不良率 {100 * (report.reject or 0) / made:.1f}% 超过 {100 * MAX_REJECT_SHARE:.0f}%"
    logistics.receive(db, lead, shipment.id, {shipment.lots[0].id: result}, {shipment.lots[0].id: note})
    return result


def _rate_per_hour(s: Supplier) -> float:
    return 3600.0 / (s.machines[0].model.ideal_cycle_s or PARTS[s.model][0][4])


def seed_pair(db: Session, li: int, lead_org: Organisation, si: int, s: Supplier, today: date) -> int:
    lead = _actor(db, lead_org)
    ref = f"DEMO-{lead_org.id}-{s.org.id}"
    if db.execute(select(PurchaseOrder.id).where(PurchaseOrder.reference == f"{ref}-1")).first():
        return 0
    _partners(db, lead, s)
    (code_a, name_a, _u, price_a, _c), (code_b, name_b, _u2, price_b, _c2) = PARTS[s.model]
    rate = _rate_per_hour(s)

    def rounded(x: float) -> int:
        step = 10 if x < 5000 else 100
        return max(step, round(x / step) * step)

    # Line 1: a shift's worth, made yesterday, shipped and received. Line 2: in production now; for the second toy
    # maker a quantity the machine cannot make by tomorrow (flagged late). Order 2: waiting for the supplier.
    due_1 = today + timedelta(days=1 + si % 2)
    qty_2, due_2 = (
        (rounded(rate * 14), today + timedelta(days=3)) if li == 0 else (rounded(rate * 40), today + timedelta(days=1))
    )
    po1 = service.create_order(
        db,
        lead,
        s.org.id,
        [
            NewLine(code_a, name_a, rounded(rate * 3.5), Decimal(price_a), due_1),
            NewLine(code_b, name_b, qty_2, Decimal(price_b), due_2),
        ],
        reference=f"{ref}-1",
        source="demo",
    )
    po2 = service.create_order(
        db,
        lead,
        s.org.id,
        [NewLine(code_a, name_a, rounded(rate * 20), Decimal(price_a), today + timedelta(days=10 + si))],
        reference=f"{ref}-2",
        source="demo",
    )
    l1, l2 = po1.lines
    service.confirm_line(db, s.actor, l1.id)
    service.confirm_line(db, s.actor, l2.id)
    # Yesterday's shift on the first machine (the two toy makers' lines one after the other), this morning's run on
    # the second machine for the first toy maker and on the third (or first) for the second.
    base = datetime.combine(today - timedelta(days=1), time(0), timefmt.zone())
    m_a = s.machines[0]
    m_b = s.machines[1 + li] if len(s.machines) > 1 + li else s.machines[0]
    start_a = base + timedelta(hours=8 + 4.5 * li)
    _run(db, s, l1.work_order_id or 0, m_a, start_a, start_a + timedelta(hours=4))
    # The run still going started at this morning's shift, or (before 11:00) in yesterday's evening shift.
    now = datetime.now(UTC).replace(microsecond=0)
    local_now = timefmt.to_local(now)
    day_start = (
        datetime.combine(today, time(8), timefmt.zone())
        if local_now.hour >= 11
        else datetime.combine(today - timedelta(days=1), time(17), timefmt.zone())
    )
    start_b = day_start + timedelta(hours=li)
    _run(db, s, l2.work_order_id or 0, m_b, start_b, None)
    _ship_and_receive(db, lead, s, po1, l1.id)
    # The second order: the moulders propose a later date for the second toy maker; the others wait to answer.
    if li == 1 and s.model == "injection_moulding":
        service.propose_change(
            db, s.actor, po2.lines[0].id, None, po2.lines[0].due_date + timedelta(days=3), "模具保养，顺延三天"
        )
    return 2


def seed(db: Session, today: date | None = None) -> int:
    """Orders between the two toy makers and five suppliers; returns how many orders were created."""
    day = today or timefmt.local_today()
    firms = suppliers(db)
    created = 0
    for s in firms:
        _items(db, s)
    for li, lead_org in enumerate(leads(db)):
        for si, s in enumerate(firms):
            created += seed_pair(db, li, lead_org, si, s, day)
    progress.refresh(db)
    return created
