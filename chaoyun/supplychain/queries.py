"""Lists and aggregates for the pages and the API, each scoped to one side.

The two busy pages read one index each: the supplier's inbox ``(supplier_org_id, state, due_date, id)`` and the
lead's overview ``(buyer_org_id, state, due_date, id)``; a page is 25–100 lines (offset paging, a count on the
same index), the order number and the counterpart's name joined for those lines only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from chaoyun import timefmt
from chaoyun.errors import NotFound
from chaoyun.i18n import N_
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import OrgKind, Role
from chaoyun.supplychain.models import Event, OrderLine, Partnership, PurchaseOrder, Receipt, ReceiptLot, Shipment
from chaoyun.web.lists import ListParams, Page, paginate_select

# Which lines a filter shows.
VIEWS: dict[str, tuple[str, ...]] = {
    "todo": ("open",),
    "active": ("open", "proposed", "confirmed"),
    "proposed": ("proposed",),
    "confirmed": ("confirmed",),
    "done": ("delivered", "declined", "cancelled"),
}
MIN_GROUP = 3


@dataclass
class LineRow:
    line: OrderLine
    order_number: str
    counterpart: str

    @property
    def pct(self) -> int:
        q = self.line.quantity or 1
        return max(0, min(100, round(100 * self.line.made_qty / q)))

    @property
    def accepted_pct(self) -> int:
        q = self.line.quantity or 1
        return max(0, min(100, round(100 * self.line.accepted_qty / q)))


LINE_SORTS: dict[str, Any] = {
    "due": OrderLine.due_date,
    "order": OrderLine.order_id,
    "item": OrderLine.item_code,
    "quantity": OrderLine.quantity,
    "state": OrderLine.state,
    "risk": OrderLine.risk,
}


def _lines(
    db: Session, side: str, org_id: int, p: ListParams, view: str, counterpart: int | None, risk: str | None
) -> Page[LineRow]:
    """One page of one side's lines. Without a search text the count and the page's ids come from the side's index
    alone (``(org, state, due_date, id)`` covers the filter and the default order); the 25–100 rows of the page
    are then read with their order number and the other side's name."""
    other = aliased(Organisation)
    mine = OrderLine.buyer_org_id if side == "buyer" else OrderLine.supplier_org_id
    theirs = OrderLine.supplier_org_id if side == "buyer" else OrderLine.buyer_org_id
    cond = [mine == org_id, OrderLine.state.in_(VIEWS.get(view, VIEWS["active"]))]
    if counterpart:
        cond.append(theirs == counterpart)
    if risk:
        cond.append(OrderLine.risk == risk)
    if p.q:
        stmt: Any = (
            select(OrderLine, PurchaseOrder.number, other.name)
            .join(PurchaseOrder, PurchaseOrder.id == OrderLine.order_id)
            .join(other, other.id == theirs)
            .where(*cond)
        )
        page = paginate_select(
            db,
            stmt,
            p,
            LINE_SORTS,
            search_columns=(OrderLine.item_code, OrderLine.item_name, PurchaseOrder.number),
            scalars=False,
            tiebreak=OrderLine.id,
        )
        page.items = [LineRow(ln, number, name) for ln, number, name in page.items]
        return page
    total = int(db.execute(select(func.count(OrderLine.id)).where(*cond)).scalar_one())
    pages = max(1, -(-total // p.size))
    if p.page > pages:
        p = ListParams(p.q, p.sort, p.desc, pages, p.size)
    col = LINE_SORTS[p.sort]
    order = (col.desc(), OrderLine.id.desc()) if p.desc else (col.asc(), OrderLine.id.asc())
    ids = list(
        db.execute(
            select(OrderLine.id).where(*cond).order_by(*order).offset((p.page - 1) * p.size).limit(p.size)
        ).scalars()
    )
    rows = {
        ln.id: (ln, number, name)
        for ln, number, name in db.execute(
            select(OrderLine, PurchaseOrder.number, other.name)
            .join(PurchaseOrder, PurchaseOrder.id == OrderLine.order_id)
            .join(other, other.id == theirs)
            .where(OrderLine.id.in_(ids))
        ).all()
    }
    return Page([LineRow(*rows[i]) for i in ids if i in rows], total, p)


def supplier_inbox(
    db: Session, actor: Actor, p: ListParams, view: str = "active", buyer: int | None = None, risk: str | None = None
) -> Page[LineRow]:
    """Lines addressed to the actor's enterprise (never anything between its customers and other suppliers)."""
    return _lines(db, "supplier", actor.org_id, p, view, buyer, risk)


def buyer_overview(
    db: Session, actor: Actor, p: ListParams, view: str = "active", supplier: int | None = None, risk: str | None = None
) -> Page[LineRow]:
    """Lines the actor's enterprise ordered, with progress read from its suppliers' work orders."""
    return _lines(db, "buyer", actor.org_id, p, view, supplier, risk)


def risk_counts(db: Session, side: str, org_id: int) -> dict[str, int]:
    """Open lines by risk (the overview's chart): one GROUP BY over the side's index."""
    mine = OrderLine.buyer_org_id if side == "buyer" else OrderLine.supplier_org_id
    rows = db.execute(
        select(OrderLine.state, OrderLine.risk, func.count())
        .where(mine == org_id, OrderLine.state.in_(VIEWS["active"]))
        .group_by(OrderLine.state, OrderLine.risk)
    ).all()
    out: dict[str, int] = defaultdict(int)
    for state, risk, n in rows:
        key = risk if state == "confirmed" else ("proposed" if state == "proposed" else "waiting")
        out[key or "not_started"] += int(n)
    return dict(out)


def order_counts(db: Session, actor: Actor) -> dict[str, int]:
    """How many lines wait for the actor's answer, proposals for its answer, shipments to receive."""
    org = actor.org_id
    todo = db.execute(
        select(func.count()).where(OrderLine.supplier_org_id == org, OrderLine.state == "open")
    ).scalar_one()
    proposals = db.execute(
        select(func.count()).where(OrderLine.buyer_org_id == org, OrderLine.state == "proposed")
    ).scalar_one()
    inbound = db.execute(
        select(func.count()).where(Shipment.buyer_org_id == org, Shipment.state == "sent")
    ).scalar_one()
    invitations = db.execute(
        select(func.count()).where(Partnership.supplier_org_id == org, Partnership.state == "invited")
    ).scalar_one()
    return {"todo": int(todo), "proposals": int(proposals), "inbound": int(inbound), "invitations": int(invitations)}


def counterparts(db: Session, actor: Actor, side: str) -> list[tuple[int, str]]:
    """Active partners: suppliers (side buyer) or customers (side supplier), by name."""
    mine = Partnership.buyer_org_id if side == "buyer" else Partnership.supplier_org_id
    theirs = Partnership.supplier_org_id if side == "buyer" else Partnership.buyer_org_id
    rows = db.execute(
        select(Organisation.id, Organisation.name)
        .join(Partnership, theirs == Organisation.id)
        .where(mine == actor.org_id, Partnership.state == "active")
        .order_by(Organisation.name)
    ).all()
    return [(int(i), str(n)) for i, n in rows]


def partnerships(db: Session, actor: Actor) -> list[tuple[Partnership, str, str]]:
    """Every partnership of the actor's enterprise: (row, my side, the other's name)."""
    other = aliased(Organisation)
    rows = db.execute(
        select(Partnership, other.name)
        .join(
            other,
            or_(
                and_(Partnership.buyer_org_id == actor.org_id, other.id == Partnership.supplier_org_id),
                and_(Partnership.supplier_org_id == actor.org_id, other.id == Partnership.buyer_org_id),
            ),
        )
        .order_by(Partnership.state, other.name)
    ).all()
    return [(p, "buyer" if p.buyer_org_id == actor.org_id else "supplier", name) for p, name in rows]


def candidates(db: Session, actor: Actor, q: str = "", limit: int = 50) -> list[Organisation]:
    """Enterprises the actor may invite (active, not itself), by name."""
    stmt = select(Organisation).where(
        Organisation.kind == OrgKind.ENTERPRISE, Organisation.status == "active", Organisation.id != actor.org_id
    )
    if q:
        stmt = stmt.where(Organisation.name.contains(q.strip()[:50]))
    return list(db.execute(stmt.order_by(Organisation.district, Organisation.name).limit(limit)).unique().scalars())


def orders(db: Session, actor: Actor, side: str, p: ListParams) -> Page[Any]:
    other = aliased(Organisation)
    mine = PurchaseOrder.buyer_org_id if side == "buyer" else PurchaseOrder.supplier_org_id
    theirs = PurchaseOrder.supplier_org_id if side == "buyer" else PurchaseOrder.buyer_org_id
    stmt: Any = select(PurchaseOrder, other.name).join(other, other.id == theirs).where(mine == actor.org_id)
    return paginate_select(
        db,
        stmt,
        p,
        {"id": PurchaseOrder.id, "number": PurchaseOrder.number},
        search_columns=(PurchaseOrder.number,),
        scalars=False,
        tiebreak=PurchaseOrder.id,
    )


def shipments_of(db: Session, actor: Actor, order_id: int) -> list[Shipment]:
    return list(
        db.execute(
            select(Shipment)
            .where(
                Shipment.order_id == order_id,
                or_(Shipment.buyer_org_id == actor.org_id, Shipment.supplier_org_id == actor.org_id),
            )
            .order_by(Shipment.id)
        ).scalars()
    )


def shipments_list(db: Session, actor: Actor, side: str, limit: int = 100) -> list[tuple[Shipment, str, str]]:
    """Shipments to (side buyer) or from (side supplier) the actor's enterprise, open ones first, newest first:
    (shipment, order number, the other side's name)."""
    other = aliased(Organisation)
    mine = Shipment.buyer_org_id if side == "buyer" else Shipment.supplier_org_id
    theirs = Shipment.supplier_org_id if side == "buyer" else Shipment.buyer_org_id
    rows = db.execute(
        select(Shipment, PurchaseOrder.number, other.name)
        .join(PurchaseOrder, PurchaseOrder.id == Shipment.order_id)
        .join(other, other.id == theirs)
        .where(mine == actor.org_id)
        .order_by((Shipment.state == "sent").desc(), Shipment.id.desc())
        .limit(limit)
    ).all()
    return [(s, str(n), str(name)) for s, n, name in rows]


def receipt_of(db: Session, shipment_id: int) -> Receipt | None:
    return db.execute(select(Receipt).where(Receipt.shipment_id == shipment_id)).scalar_one_or_none()


def receipt_lot(db: Session, actor: Actor, receipt_lot_id: int) -> ReceiptLot:
    rl = db.get(ReceiptLot, receipt_lot_id)
    if rl is None or actor.org_id not in (rl.receipt.buyer_org_id, rl.receipt.supplier_org_id):
        raise NotFound(N_("No such received lot, or it is not yours to see."))
    return rl


def events(db: Session, actor: Actor, limit: int = 50) -> list[Event]:
    return list(
        db.execute(select(Event).where(Event.org_id == actor.org_id).order_by(Event.id.desc()).limit(limit)).scalars()
    )


def unread(db: Session, actor: Actor) -> int:
    return int(
        db.execute(select(func.count()).where(Event.org_id == actor.org_id, Event.read_at.is_(None))).scalar_one()
    )


def mark_read(db: Session, actor: Actor) -> None:
    from sqlalchemy import update

    from chaoyun.db import utcnow

    db.execute(update(Event).where(Event.org_id == actor.org_id, Event.read_at.is_(None)).values(read_at=utcnow()))
    db.commit()


# ---------------------------------------------------------------- government: aggregates only


def live_exchange_orgs(
    db: Session, first: date, last: date, district: str | None = None, cluster: str | None = None
) -> set[int]:
    """Enterprises (buyers and suppliers) with at least one live order exchange in [first, last]: a line
    confirmed by the supplier in the period, or a confirmed line still being delivered during it."""
    start, end = timefmt.day_start(first), timefmt.day_end_exclusive(last)
    live = or_(
        and_(OrderLine.confirmed_at >= start, OrderLine.confirmed_at < end),
        and_(OrderLine.confirmed_at < end, OrderLine.state == "confirmed"),
        and_(OrderLine.confirmed_at < end, OrderLine.state == "delivered", OrderLine.updated_at >= start),
    )
    rows = db.execute(select(OrderLine.buyer_org_id, OrderLine.supplier_org_id).where(live).distinct()).all()
    ids = {int(b) for b, _s in rows} | {int(s) for _b, s in rows}
    if (district or cluster) and ids:
        q = select(Organisation.id).where(Organisation.id.in_(ids))
        if district:
            q = q.where(Organisation.district == district)
        if cluster:
            q = q.join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id).where(
                EnterpriseProfile.cluster == cluster
            )
        ids = set(db.execute(q).scalars())
    return ids


def district_summary(db: Session, actor: Actor) -> list[dict[str, Any]]:
    """Per district and cluster of the supplier: enterprises in exchanges, open lines, lines at risk, on-time
    share of delivered lines. Groups of fewer than three enterprises show counts of enterprises only."""
    sup = aliased(Organisation)
    stmt = (
        select(
            sup.district,
            EnterpriseProfile.cluster,
            OrderLine.buyer_org_id,
            OrderLine.supplier_org_id,
            OrderLine.state,
            OrderLine.risk,
            OrderLine.due_date,
            OrderLine.updated_at,
        )
        .join(sup, sup.id == OrderLine.supplier_org_id)
        .join(EnterpriseProfile, EnterpriseProfile.org_id == sup.id, isouter=True)
        .where(OrderLine.confirmed_at.is_not(None))
    )
    if actor.role == Role.DISTRICT_OFFICER:
        stmt = stmt.where(sup.district == actor.district)
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"orgs": set(), "open": 0, "risk": 0, "delivered": 0, "on_time": 0}
    )
    for district, cluster, buyer, supplier, state, risk, due, updated in db.execute(stmt).all():
        g = groups[(district or "", cluster or "")]
        g["orgs"].update((buyer, supplier))
        if state == "confirmed":
            g["open"] += 1
            if risk in ("at_risk", "late", "overdue"):
                g["risk"] += 1
        elif state == "delivered":
            g["delivered"] += 1
            if updated is not None and timefmt.to_local(updated).date() <= due:
                g["on_time"] += 1
    out = []
    for (district, cluster), g in sorted(groups.items()):
        n = len(g["orgs"])
        row: dict[str, Any] = {"district": district, "cluster": cluster, "enterprises": n}
        shown = n >= MIN_GROUP
        row["open"] = g["open"] if shown else None
        row["risk"] = g["risk"] if shown else None
        row["on_time_pct"] = round(100 * g["on_time"] / g["delivered"], 1) if shown and g["delivered"] else None
        out.append(row)
    return out
