"""Test helpers: a lead enterprise and a supplier with machines and a product, partners; a confirmed line run on
the supplier's machines (counters fed through the real ingest path) into a production lot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.production import service as production
from chaoyun.production.models import Lot
from chaoyun.production.schemas import LotIn
from chaoyun.supplychain import service
from chaoyun.supplychain.models import OrderLine, PurchaseOrder
from chaoyun.supplychain.service import NewLine
from tests.apps.helpers import feed
from tests.production.helpers import Firm, firm, product

DUE = timefmt.local_today() + timedelta(days=20)


@dataclass
class Pair:
    lead: Firm
    supplier: Firm


def pair(db: Session, partners: bool = True) -> Pair:
    lead = firm(db, "龙头玩具厂")
    supplier = firm(db, "配套塑件厂")
    product(db, supplier, code="SHELL")
    if partners:
        p = service.invite(db, lead.admin, supplier.org.id)
        service.answer_invitation(db, supplier.admin, p.id, accept=True)
    return Pair(lead, supplier)


def line(code: str = "SHELL", qty: int = 100, price: str = "2.50", due: object = None) -> NewLine:
    return NewLine(code, f"{code} 外壳", qty, Decimal(price), due or DUE)  # type: ignore[arg-type]


def order(db: Session, p: Pair, *lines: NewLine) -> PurchaseOrder:
    return service.create_order(db, p.lead.admin, p.supplier.org.id, list(lines) or [line()])


def make(
    db: Session, p: Pair, ln: OrderLine, good: int, number: str = "", hours_ago: float = 6, finish: bool = True
) -> Lot | None:
    """Run the line's work order on the supplier's machines: moulding and packing count ``good`` pieces on the
    counters over a window ending now-ish, the runs finish from the counters, and a lot is recorded."""
    s = p.supplier
    wo = production.get_work_order(db, s.admin, ln.work_order_id or 0)
    if wo.state == "planned":
        production.transition(db, s.admin, wo.id, "released")
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    start = end - timedelta(hours=hours_ago)
    op10, op20 = wo.operations
    for op, dev in ((op10, s.im1), (op20, s.pack)):
        from chaoyun.production.counters import counter_keys

        base = 10_000 + sum(r.good or 0 for o in wo.operations for r in o.reports)
        keys = counter_keys(dev)
        pts = [
            (start - timedelta(minutes=1), {keys["good_count"]: base}),
            (start + (end - start) / 2, {keys["good_count"]: base + good // 2}),
            (end - timedelta(minutes=1), {keys["good_count"]: base + good}),
        ]
        feed(db, dev, pts, end)
        r = production.start_operation(db, s.member, op.id, dev.id, at=start)
        if finish or op is op10:
            production.finish_report(db, s.member, r.id, at=end)
    if not finish:
        return None
    return production.create_lot(
        db,
        s.member,
        LotIn(
            number=number or f"{wo.number}-L{len(production.list_lots(db, s.admin, work_order_id=wo.id)) + 1}",
            work_order_id=wo.id,
            device_id=s.pack.id,
            start=start,
            end=end,
            quantity=good,
        ),
    )
