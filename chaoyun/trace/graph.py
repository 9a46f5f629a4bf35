"""The trace graph (质量溯源): material lot → production lot → shipment / delivery → customer.

Built from what the factory and the supply chain already record (production lots and the material lots they
consumed; supply-chain shipments of lots; the maker's own deliveries to customers outside the platform) and
materialised in ``trace_nodes`` / ``trace_edges`` so that one recursive query (``WITH RECURSIVE``, on SQLite and
PostgreSQL alike) answers a recall over any depth. The graph is kept current:

- a produced lot is linked when production records it (the ``lot.created`` hook, see ``install``);
- shipments are pulled from the supply chain whenever a trace reaches a lot (forward) or a material lot
  (backward), and ``rebuild`` links everything from the sources (``chaoyun trace rebuild``).

A link that would close a cycle (a lot that, through its materials, would contain itself) is refused.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from chaoyun.apps.quality import service as quality
from chaoyun.devices import service as devices
from chaoyun.devices.store import get_store
from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.production import service as production
from chaoyun.production.models import Lot
from chaoyun.supplychain.public import ShippedLot, shipments_of_lots, shipments_received_as
from chaoyun.timefmt import to_local
from chaoyun.trace import service as ids
from chaoyun.trace.models import Delivery, Edge, Grant, Identifier, Node

MAX_NODES = 20_000
MAX_REFRESH_ROUNDS = 12

FORWARD_SQL = text(
    "WITH RECURSIVE r(id) AS (SELECT CAST(:start AS INTEGER) UNION "
    "SELECT e.dst_id FROM trace_edges e JOIN r ON e.src_id = r.id) "
    "SELECT id FROM r LIMIT :lim"
)
BACKWARD_SQL = text(
    "WITH RECURSIVE r(id) AS (SELECT CAST(:start AS INTEGER) UNION "
    "SELECT e.src_id FROM trace_edges e JOIN r ON e.dst_id = r.id) "
    "SELECT id FROM r LIMIT :lim"
)
# The edges reached, in one query: each row is (edge source, edge target); the start comes with a NULL partner.
FORWARD_EDGES_SQL = text(
    "WITH RECURSIVE r(src, dst) AS (SELECT CAST(NULL AS INTEGER), CAST(:start AS INTEGER) UNION "
    "SELECT e.src_id, e.dst_id FROM trace_edges e JOIN r ON e.src_id = r.dst) "
    "SELECT src, dst FROM r LIMIT :lim"
)
BACKWARD_EDGES_SQL = text(
    "WITH RECURSIVE r(src, dst) AS (SELECT CAST(:start AS INTEGER), CAST(NULL AS INTEGER) UNION "
    "SELECT e.src_id, e.dst_id FROM trace_edges e JOIN r ON e.dst_id = r.src) "
    "SELECT src, dst FROM r LIMIT :lim"
)
REACHES_SQL = text(
    "WITH RECURSIVE r(id) AS (SELECT CAST(:start AS INTEGER) UNION "
    "SELECT e.dst_id FROM trace_edges e JOIN r ON e.src_id = r.id) "
    "SELECT 1 FROM r WHERE id = :target LIMIT 1"
)


# ---------------------------------------------------------------- nodes and links


def node(db: Session, kind: str, org_id: int, key: str, **fields: Any) -> Node:
    n = db.execute(
        select(Node).where(Node.kind == kind, Node.org_id == org_id, Node.key == key[:140])
    ).scalar_one_or_none()
    if n is None:
        n = Node(kind=kind, org_id=org_id, key=key[:140], **fields)
        db.add(n)
        db.flush()
    else:
        for k, v in fields.items():
            if v is not None and getattr(n, k) != v:
                setattr(n, k, v)
    return n


def find_node(db: Session, kind: str, org_id: int, key: str) -> Node | None:
    return db.execute(
        select(Node).where(Node.kind == kind, Node.org_id == org_id, Node.key == key.strip()[:140])
    ).scalar_one_or_none()


def _label(n: Node) -> str:
    """A node as people name it: the lot number, the shipment number, the delivery's reference."""
    if n.kind == "ship":
        return n.key.split("/", 1)[0]
    if n.kind == "dlv":
        return n.label
    return n.key


def link(db: Session, src: Node, dst: Node) -> bool:
    """Add the edge src → dst (False when it exists); refuse one that would close a cycle."""
    if db.execute(select(Edge.id).where(Edge.src_id == src.id, Edge.dst_id == dst.id)).first() is not None:
        return False
    if src.id == dst.id or db.execute(REACHES_SQL, {"start": dst.id, "target": src.id}).first() is not None:
        raise Conflict(
            N_(
                "Linking %(src)s to %(dst)s would make a cycle: %(dst)s already goes into %(src)s. "
                "A lot cannot contain itself; check the lot numbers."
            ),
            src=_label(src),
            dst=_label(dst),
        )
    db.add(Edge(src_id=src.id, dst_id=dst.id))
    db.flush()
    return True


def _lot_node(db: Session, lot: Lot) -> Node:
    wo = lot.work_order
    return node(
        db, "lot", lot.org_id, lot.number, ref_id=lot.id, label=wo.item.code, quantity=float(lot.quantity), at=lot.end
    )


def _shipment(db: Session, s: ShippedLot) -> tuple[Node, Node, Node]:
    """(supplier lot, shipment, customer's material lot) nodes of one shipped lot."""
    src = node(db, "lot", s.supplier_org_id, s.lot_number, ref_id=s.lot_id, label=s.item_code)
    ship = node(
        db,
        "ship",
        s.supplier_org_id,
        f"{s.shipment_number}/{s.lot_number}",
        ref_id=s.shipment_id,
        label=s.item_code,
        customer_org_id=s.customer_org_id,
        customer_name=s.customer_name[:200],
        quantity=float(s.quantity),
        at=s.shipped_at,
    )
    mat = node(db, "mat", s.customer_org_id, s.lot_number, label=s.item_code)
    return src, ship, mat


def _link_shipments(db: Session, shipped: list[ShippedLot]) -> int:
    added = 0
    for s in shipped:
        src, ship, mat = _shipment(db, s)
        added += link(db, src, ship) + link(db, ship, mat)
    return added


def sync_lot(db: Session, lot: Lot) -> Node:
    """Link one production lot: the material lots it consumed (and, through the supply chain, the supplier lots
    they were shipped as), an own lot of the same number as a material (semi-finished goods), and any shipment
    that already carries it."""
    ln = _lot_node(db, lot)
    numbers = []
    for m in lot.materials:
        mat = node(db, "mat", lot.org_id, m.material_lot, label=m.item.code)
        link(db, mat, ln)
        numbers.append(m.material_lot)
        own = find_node(db, "lot", lot.org_id, m.material_lot)
        if own is not None:
            link(db, own, mat)
    consumed = find_node(db, "mat", lot.org_id, lot.number)
    if consumed is not None:
        link(db, ln, consumed)
    if numbers:
        _link_shipments(db, shipments_received_as(db, lot.org_id, numbers))
    _link_shipments(db, shipments_of_lots(db, [lot.id]))
    return ln


def rebuild(db: Session, org_id: int | None = None, page: int = 500) -> int:
    """Link every production lot (and the shipments of it) from the sources; idempotent. Returns lots seen."""
    last, seen = 0, 0
    while True:
        lots = production.lots_after(db, last, page, org_id)
        if not lots:
            db.commit()
            return seen
        for lot in lots:
            sync_lot(db, lot)
            seen += 1
        last = lots[-1].id
        db.commit()


# ---------------------------------------------------------------- the lot hook


def _lot_attrs(db: Session, actor: Actor | None, lot: Lot) -> dict[str, Any]:
    wo = lot.work_order
    machine = ""
    if lot.device_id is not None and actor is not None:
        machine = devices.get_device(db, actor, lot.device_id).name
    return {
        "product_code": wo.item.code,
        "product_name": wo.item.name,
        "lot_number": lot.number,
        "produced_on": to_local(lot.end).date().isoformat(),
        "inspection": "pending",
        "quantity": lot.quantity,
        "work_order": wo.number,
        "machine": machine,
        "materials": ", ".join(f"{m.item.code}:{m.material_lot}" for m in lot.materials)[:500],
    }


def register_lot(db: Session, actor: Actor | None, lot: Lot) -> None:
    """The lot's identifier (batch template, random suffix) unless it has one; not committed."""
    if ids.identifier_of_lot(db, lot.id) is not None:
        return
    org = db.get(Organisation, lot.org_id)
    if org is None or org.kind != "enterprise":
        return  # only enterprises hold identifier prefixes; the lot is still linked
    ids.ensure_prefix(db, actor, lot.org_id)
    t = ids.template_of_class(db, lot.org_id, "batch")
    if t is None:
        return
    p = ids.prefix_of(db, lot.org_id)
    assert p is not None
    handle = f"{p.prefix}/{ids.new_suffix()}"
    attrs = ids.check_attrs(t, {k: v for k, v in _lot_attrs(db, actor, lot).items() if k in {i.code for i in t.items}})
    row = ids._new_row(lot.org_id, handle, t, attrs, actor.user.username if actor else "system", lot.id)
    ident = Identifier(**row)
    db.add(ident)
    db.flush()
    record_by(db, actor, "create", "trace_identifier", ident.id, after={"handle": handle, "lot": lot.number})


def on_lot_created(db: Session, actor: Actor | None, lot: Lot) -> None:
    sync_lot(db, lot)
    register_lot(db, actor, lot)


_installed = False


def install() -> None:
    """Follow production's lots (once per process; the web app does it when the routes load)."""
    global _installed
    if not _installed:
        from chaoyun.production import events

        events.subscribe("lot.created", on_lot_created)
        _installed = True


# ---------------------------------------------------------------- deliveries and manual links


def own_lot(db: Session, actor: Actor, number: str, field_name: str = "lot") -> Lot:
    lot = production.lot_by_number(db, actor.org_id, (number or "").strip())
    if lot is None:
        raise Invalid(
            N_("Your enterprise has no lot numbered %(number)s."), field=field_name, number=(number or "")[:64]
        )
    return lot


def record_delivery(
    db: Session,
    actor: Actor,
    lot_number: str,
    customer_name: str,
    quantity: int,
    delivered_at: datetime,
    country: str = "",
    reference: str = "",
) -> Delivery:
    """Finished goods of one lot delivered to a customer outside the platform (an export buyer)."""
    lot = own_lot(db, actor, lot_number, "lot_number")
    if not (customer_name or "").strip():
        raise Invalid(N_("This field is required."), field="customer_name")
    if not 0 < quantity <= 100_000_000:
        raise Invalid(N_("The quantity must be a positive whole number."), field="quantity")
    if delivered_at.tzinfo is None:
        raise Invalid(N_("Invalid value."), field="delivered_at")
    d = Delivery(
        org_id=actor.org_id,
        lot_id=lot.id,
        customer_name=customer_name.strip()[:200],
        country=(country or "").strip()[:64],
        reference=(reference or "").strip()[:64],
        quantity=quantity,
        delivered_at=delivered_at,
        created_by=actor.user.username,
    )
    db.add(d)
    db.flush()
    ln = _lot_node(db, lot)
    dn = node(
        db,
        "dlv",
        actor.org_id,
        f"D{d.id}/{lot.number}",
        ref_id=d.id,
        label=d.reference or f"D{d.id}",
        customer_name=d.customer_name,
        quantity=float(quantity),
        at=delivered_at,
    )
    link(db, ln, dn)
    record_by(
        db,
        actor,
        "create",
        "trace_delivery",
        d.id,
        after={"lot": lot.number, "customer": d.customer_name, "quantity": quantity},
    )
    db.commit()
    return d


def list_deliveries(db: Session, actor: Actor, limit: int = 500) -> list[tuple[Delivery, Lot]]:
    rows = db.execute(
        select(Delivery, Lot)
        .join(Lot, Lot.id == Delivery.lot_id)
        .where(Delivery.org_id == actor.org_id)
        .order_by(Delivery.delivered_at.desc())
        .limit(limit)
    ).all()
    return [(d, lot) for d, lot in rows]


def link_lots(db: Session, actor: Actor, from_number: str, into_number: str) -> None:
    """A link the production records do not hold (rework, regrind fed back): lot ``from`` went into lot ``into``
    of the same enterprise. Refused when it would close a cycle."""
    a = own_lot(db, actor, from_number, "from_lot")
    b = own_lot(db, actor, into_number, "into_lot")
    try:
        added = link(db, _lot_node(db, a), _lot_node(db, b))
    except Conflict as exc:
        db.rollback()
        exc.field = "into_lot"
        raise
    if added:
        record_by(db, actor, "create", "trace_lot_link", b.id, after={"from": a.number, "into": b.number})
    db.commit()


# ---------------------------------------------------------------- tracing


@dataclass
class Graph:
    start: Node
    direction: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    depth: dict[int, int] = field(default_factory=dict)
    hidden: int = 0
    org_names: dict[int, str] = field(default_factory=dict)
    truncated: bool = False

    def of_kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]

    def customers(self) -> list[str]:
        names = {n.customer_name for n in self.nodes if n.kind in ("ship", "dlv") and n.customer_name}
        return sorted(names)


def reach(db: Session, start_id: int, forward: bool = True, limit: int = MAX_NODES) -> list[int]:
    """Node ids reachable from ``start_id`` (itself included): one recursive query on the materialised edges."""
    sql = FORWARD_SQL if forward else BACKWARD_SQL
    return [r[0] for r in db.execute(sql, {"start": start_id, "lim": limit + 1})]


def _refresh(db: Session, node_ids: list[int], forward: bool) -> int:
    """Pull the supply chain's shipments for the lots (forward) or material lots (backward) reached."""
    nodes = _load(db, node_ids)
    if forward:
        lot_ids = [n.ref_id for n in nodes if n.kind == "lot" and n.ref_id is not None]
        return _link_shipments(db, shipments_of_lots(db, lot_ids)) if lot_ids else 0
    by_org: dict[int, list[str]] = defaultdict(list)
    for n in nodes:
        if n.kind == "mat":
            by_org[n.org_id].append(n.key)
    return sum(_link_shipments(db, shipments_received_as(db, org, keys)) for org, keys in by_org.items())


def _load(db: Session, node_ids: list[int]) -> list[Node]:
    out: list[Node] = []
    for i in range(0, len(node_ids), 900):
        out += db.execute(select(Node).where(Node.id.in_(node_ids[i : i + 900]))).scalars()
    return out


def _visible_orgs(db: Session, actor: Actor) -> set[int]:
    granted = db.execute(select(Grant.org_id).where(Grant.grantee_org_id == actor.org_id)).scalars()
    return {actor.org_id, *granted}


def trace(db: Session, actor: Actor, start: Node, forward: bool = True, refresh: bool = True) -> Graph:
    """Everything downstream (forward / recall) or upstream (backward) of ``start``. Nodes of other enterprises
    are shown only when they authorised the actor's enterprise (a shipment also to its customer); the others are
    counted, not shown."""
    if refresh:
        found = reach(db, start.id, forward)
        rounds = 0
        while rounds < MAX_REFRESH_ROUNDS and _refresh(db, found, forward):
            found = reach(db, start.id, forward)
            rounds += 1
        db.commit()
    # Three queries whatever the depth: the edges reached (recursive), the nodes with their enterprise's name,
    # the enterprises that authorised the actor's.
    sql = FORWARD_EDGES_SQL if forward else BACKWARD_EDGES_SQL
    pairs = db.execute(sql, {"start": start.id, "lim": 4 * MAX_NODES}).all()
    edges = [(s, d) for s, d in pairs if s is not None and d is not None]
    ids = {start.id} | {s for s, _ in edges} | {d for _, d in edges}
    g = Graph(start=start, direction="forward" if forward else "backward")
    if len(ids) > MAX_NODES:
        g.truncated = True
    found = sorted(ids)[:MAX_NODES]
    mine = _visible_orgs(db, actor)
    nodes: list[Node] = []
    for i in range(0, len(found), 900):
        for n, org_name in db.execute(
            select(Node, Organisation.name)
            .outerjoin(Organisation, Organisation.id == Node.org_id)
            .where(Node.id.in_(found[i : i + 900]))
        ).all():
            nodes.append(n)
            g.org_names[n.org_id] = org_name or ""
    shown = [n for n in nodes if n.org_id in mine or (n.kind == "ship" and n.customer_org_id == actor.org_id)]
    g.hidden = len(nodes) - len(shown)
    g.nodes = sorted(shown, key=lambda n: (n.at or datetime.min.replace(tzinfo=UTC), n.id))
    ids_shown = {n.id for n in shown}
    g.edges = sorted({(s, d) for s, d in edges if s in ids_shown and d in ids_shown})
    # Depth by breadth-first search from the start over the shown edges (the layout's columns).
    nxt: dict[int, list[int]] = defaultdict(list)
    for s, d in g.edges:
        if forward:
            nxt[s].append(d)
        else:
            nxt[d].append(s)
    g.depth = {start.id: 0}
    q = deque([start.id])
    while q:
        cur = q.popleft()
        for m in nxt[cur]:
            if m not in g.depth:
                g.depth[m] = g.depth[cur] + 1
                q.append(m)
    missing = {n.customer_org_id for n in shown if n.customer_org_id and n.customer_org_id not in g.org_names}
    if missing:
        g.org_names.update(
            db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(missing))).all()
        )
    return g


def material_lots(db: Session, actor: Actor, limit: int = 30) -> list[tuple[Node, str]]:
    """The enterprise's material lots, newest first, with the supplier that shipped each (or "")."""
    mats = list(
        db.execute(
            select(Node).where(Node.kind == "mat", Node.org_id == actor.org_id).order_by(Node.id.desc()).limit(limit)
        ).scalars()
    )
    suppliers: dict[int, str] = {}
    if mats:
        rows = db.execute(
            select(Edge.dst_id, Organisation.name)
            .join(Node, Node.id == Edge.src_id)
            .join(Organisation, Organisation.id == Node.org_id)
            .where(Edge.dst_id.in_([m.id for m in mats]), Node.kind == "ship")
        ).all()
        suppliers = {d: name for d, name in rows}
    return [(m, suppliers.get(m.id, "")) for m in mats]


def start_node(db: Session, actor: Actor, number: str) -> Node:
    """The actor's material lot of this number, else the actor's production lot of this number."""
    number = (number or "").strip()
    if not number or len(number) > 64:
        raise Invalid(N_("Enter a lot number."), field="lot")
    n = find_node(db, "mat", actor.org_id, number) or find_node(db, "lot", actor.org_id, number)
    if n is None:
        lot = production.lot_by_number(db, actor.org_id, number)
        if lot is not None:
            n = sync_lot(db, lot)
            db.commit()
    if n is None:
        raise NotFound(N_("No lot or material lot numbered %(number)s in your records."), number=number)
    return n


def recall(db: Session, actor: Actor, number: str) -> Graph:
    return trace(db, actor, start_node(db, actor, number), forward=True)


def backward(db: Session, actor: Actor, number: str) -> Graph:
    return trace(db, actor, start_node(db, actor, number), forward=False)


def recall_rows(g: Graph) -> list[dict[str, Any]]:
    """The recall list: every shipment and delivery reached, with the lot it carried and its customer."""
    rows = []
    by_id = {n.id: n for n in g.nodes}
    # A delivery's own label is its reference; the item is the one of the lot it carried (its source in the graph).
    source_item = {dst: by_id[src].label for src, dst in g.edges if src in by_id and by_id[src].kind == "lot"}
    for n in g.nodes:
        if n.kind in ("ship", "dlv"):
            customer = n.customer_name or g.org_names.get(n.customer_org_id or 0, "")
            rows.append(
                {
                    "kind": n.kind,
                    "reference": _label(n),
                    "lot": n.key.split("/", 1)[1] if "/" in n.key else "",
                    "item": source_item.get(n.id, n.label) if n.kind == "dlv" else n.label,
                    "customer": customer,
                    "quantity": n.quantity,
                    "at": n.at,
                    "depth": g.depth.get(n.id),
                }
            )
    return rows


def graph_json(g: Graph, kind_labels: dict[str, str]) -> dict[str, Any]:
    """ECharts graph series data: nodes placed in columns by depth, categories by kind."""
    cats = ["lot", "mat", "ship", "dlv"]
    per_depth: dict[int, int] = defaultdict(int)
    nodes = []
    for n in g.nodes:
        d = g.depth.get(n.id, 0)
        row = per_depth[d]
        per_depth[d] += 1
        name = _label(n)
        if n.kind in ("ship", "dlv"):
            name = f"{name} → {n.customer_name or g.org_names.get(n.customer_org_id or 0, '')}"
        nodes.append(
            {
                "id": str(n.id),
                "name": name,
                "category": cats.index(n.kind) if n.kind in cats else 0,
                "x": d * 220 if g.direction == "forward" else -d * 220,
                "y": row * 70,
                "value": g.org_names.get(n.org_id, ""),
                "symbolSize": 34 if n.id == g.start.id else 22,
            }
        )
    return {
        "nodes": nodes,
        "links": [{"source": str(s), "target": str(d)} for s, d in g.edges],
        "categories": [{"name": kind_labels[c]} for c in cats],
    }


# ---------------------------------------------------------------- a lot's window


def lot_window(db: Session, actor: Actor, lot_id: int) -> dict[str, Any]:
    """What happened while the lot was made: work order, machine, window, the machine's process data over the
    window (mean, min, max per metric) and the SPC plans on that machine (points and flagged points in the
    window, alarms raised in it)."""
    lot = production.get_lot(db, actor, lot_id)
    out: dict[str, Any] = {"lot": lot, "machine": None, "process": [], "spc": []}
    if lot.device_id is None:
        return out
    machine = devices.get_device(db, actor, lot.device_id)
    out["machine"] = machine
    store = get_store()
    for key in sorted(store.latest(machine.id))[:12]:
        vals = {}
        for agg in ("avg", "min", "max"):
            b = store.query(machine.id, key, lot.start, lot.end, buckets=1, agg=agg)
            vals[agg] = b[0].value if b else None
        if vals["avg"] is not None:
            out["process"].append({"metric": key, **vals})
    for plan in quality.list_plans(db, actor):
        if plan.device_id != machine.id:
            continue
        data = quality.chart(db, actor, plan.id)
        if data is None:
            continue
        inside, flagged = 0, 0
        flags = data.chart.primary.flags or []
        for k, t in enumerate(data.times):
            at = datetime.fromisoformat(t)
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            if lot.start <= at <= lot.end:
                inside += 1
                if k < len(flags) and flags[k]:
                    flagged += 1
        out["spc"].append(
            {"plan": plan, "points": inside, "flagged": flagged, "cpk": getattr(data.capability, "cpk", None)}
        )
    return out


def traceability_running(db: Session, org_id: int, days: int = 30) -> bool:
    """Evidence for the programme: in the last ``days`` the enterprise produced lots that the trace graph links to
    the material lots they consumed (what L3 traceability of raw material → finished goods means)."""
    since = datetime.now(UTC) - timedelta(days=days)
    row = db.execute(
        select(Node.id)
        .join(Edge, Edge.dst_id == Node.id)
        .where(Node.kind == "lot", Node.org_id == org_id, Node.at >= since)
        .limit(1)
    ).first()
    return row is not None
